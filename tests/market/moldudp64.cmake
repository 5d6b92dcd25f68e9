# MoldUDP64 framing, receiver and writer; the fuzzer's committed corpus replayed through its body.
sluice_test(moldudp64_test market/moldudp64_test.cpp)
sluice_test(moldudp64_fuzz_replay_test market/moldudp64_fuzz_replay_test.cpp)
target_compile_definitions(moldudp64_fuzz_replay_test PRIVATE
  SLUICE_MOLD_CORPUS="${CMAKE_SOURCE_DIR}/fuzz/market/moldudp64_corpus")
