# The latency harness's own costs (stamps, record, merge, percentile) against steady_clock and
# a plain array of samples: perf/latency/harness_bench.cpp.
add_executable(sluice_latency_harness_bench ${CMAKE_CURRENT_LIST_DIR}/harness_bench.cpp)
target_link_libraries(sluice_latency_harness_bench PRIVATE sluice::sluice benchmark::benchmark)
