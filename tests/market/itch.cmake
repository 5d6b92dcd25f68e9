# ITCH 5.0 decode, framing and files.
sluice_test(itch_decode_test market/itch_decode_test.cpp)
sluice_market_test(itch_file_test market/itch_file_test.cpp)
set_tests_properties(itch_file_test PROPERTIES RUN_SERIAL TRUE)
# CPU/GPU parity; exits 77 (skipped) without a CUDA device or in a build without CUDA.
sluice_test(gpu_decode_test market/gpu_decode_test.cpp)
target_link_libraries(gpu_decode_test PRIVATE sluice::market_gpu)
set_tests_properties(gpu_decode_test PROPERTIES SKIP_RETURN_CODE 77)
sluice_test(itch_fuzz_replay_test market/itch_fuzz_replay_test.cpp)
target_compile_definitions(itch_fuzz_replay_test PRIVATE
  SLUICE_ITCH_CORPUS="${CMAKE_SOURCE_DIR}/fuzz/market/itch_decode_corpus")
# The front end end to end: generated day -> decode -> books (and through a gzip file).
sluice_market_test(feed_to_book_test market/feed_to_book_test.cpp)
set_tests_properties(feed_to_book_test PROPERTIES RUN_SERIAL TRUE)
