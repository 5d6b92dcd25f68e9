# The scenarios sluice was designed from (docs/scenarios.md): controllers at different rates
# wired by sending endpoints through channels, and a streaming network with backpressure and a
# throttle. The scenario code is header-only (examples/scenarios/), shared with
# tests/examples/scenarios_test.cpp.
add_executable(controllers controllers.cpp)
target_link_libraries(controllers PRIVATE sluice::sluice CLI11::CLI11)
add_executable(streaming streaming.cpp)
target_link_libraries(streaming PRIVATE sluice::sluice CLI11::CLI11)
if(SLUICE_BUILD_TESTS)
  # Short runs of the examples themselves; they exit non-zero when a check fails. Both start
  # threads of their own and the controllers time a 1 kHz loop: run them alone.
  add_test(NAME example_controllers COMMAND controllers --duration-ms 400)
  add_test(NAME example_streaming
    COMMAND streaming --producers 3 --messages 3000 --capacity 2 --throttle-producers 100)
  set_tests_properties(example_controllers example_streaming
    PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE)
endif()
