# The main job (examples/pipeline/): its order-entry protocol, the protocol fuzzer's committed
# corpus replayed, and whole runs of the pipeline in every feed mode (threads pinned to cores 0
# and 1: alone, like the other cross-thread tests).
sluice_test(order_protocol_test examples/order_protocol_test.cpp)
sluice_test(order_protocol_fuzz_replay_test examples/order_protocol_fuzz_replay_test.cpp)
target_compile_definitions(order_protocol_fuzz_replay_test PRIVATE
  SLUICE_ORDER_CORPUS="${CMAKE_SOURCE_DIR}/fuzz/examples/order_protocol_corpus")
sluice_test(pipeline_test examples/pipeline_test.cpp)
target_link_libraries(pipeline_test PRIVATE sluice::market)
set_tests_properties(pipeline_test PROPERTIES RUN_SERIAL TRUE)
