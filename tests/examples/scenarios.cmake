# The scenarios of examples/scenarios/ as tests. One binary, two ctest entries: the
# single-runtime streaming and throttle tests may run beside other tests; the controllers
# (which time a 1 kHz loop) and the *AcrossThreads suites (threads of their own) run alone.
sluice_test(scenarios_test examples/scenarios_test.cpp)
set_tests_properties(scenarios_test PROPERTIES
  ENVIRONMENT "GTEST_FILTER=-Controllers*:*AcrossThreads*")
add_test(NAME scenarios_serial_test
  COMMAND scenarios_test "--gtest_filter=Controllers*:*AcrossThreads*")
set_tests_properties(scenarios_serial_test PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE)
