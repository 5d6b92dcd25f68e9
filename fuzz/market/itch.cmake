# The ITCH decoder fuzzer and its seed writer (scripts/fuzz --seeds).
add_executable(itch_decode_fuzz market/itch_decode_fuzz.cpp)
target_include_directories(itch_decode_fuzz PRIVATE ${CMAKE_BINARY_DIR}/include)
target_compile_options(itch_decode_fuzz PRIVATE ${SLUICE_FUZZ_FLAGS})
target_link_options(itch_decode_fuzz PRIVATE ${SLUICE_FUZZ_FLAGS})
add_executable(itch_make_corpus market/itch_make_corpus.cpp)
target_include_directories(itch_make_corpus PRIVATE ${CMAKE_BINARY_DIR}/include)
