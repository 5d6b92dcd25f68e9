# sluice_latency: one latency benchmark per run, every sample in a LatencyHistogram, written as
# a percentile CSV and a JSON summary. scripts/latency checks the host, runs it pinned and plots
# the CSV (docs/DEPLOYMENT.md).
#
# This file is also the smoke tests' checker: run as `cmake -P` (CMAKE_SCRIPT_MODE_FILE set) it
# runs one short benchmark and checks that the CSV and JSON were written and hold every sample.
#   cmake -DBIN=... -DBENCH=line_rtt -DCORES=0,1 -DSAMPLES=2000 -DOUT=dir -P latency.cmake
if(CMAKE_SCRIPT_MODE_FILE)
  string(REPLACE "," ";" _cores "${CORES}")
  list(LENGTH _cores _ncores)
  cmake_host_system_information(RESULT _ncpu QUERY NUMBER_OF_LOGICAL_CORES)
  if(_ncpu LESS _ncores)
    message("latency smoke: skipped: ${BENCH} needs ${_ncores} CPUs, this host has ${_ncpu}")
  else()
    file(MAKE_DIRECTORY "${OUT}")
    set(_csv "${OUT}/${BENCH}.csv")
    set(_json "${OUT}/${BENCH}.json")
    file(REMOVE "${_csv}" "${_json}")
    execute_process(
      COMMAND "${BIN}" --bench ${BENCH} --cores ${CORES} --samples ${SAMPLES} --warmup 200
              --csv "${_csv}" --json "${_json}"
      RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "sluice_latency --bench ${BENCH} exited with ${_rc}")
    endif()
    if(NOT EXISTS "${_csv}" OR NOT EXISTS "${_json}")
      message(FATAL_ERROR "${BENCH}: ${_csv} or ${_json} was not written")
    endif()
    file(STRINGS "${_csv}" _rows)
    list(LENGTH _rows _nrows)
    list(GET _rows 0 _head)
    list(GET _rows -1 _last)
    # Header, q = 0 .. the last resolved decade (2000 samples: 3 decades, 10 rows each), max.
    if(NOT _head STREQUAL "percentile,ns" OR _nrows LESS 20 OR NOT _last MATCHES "^100,[0-9.]+$")
      message(FATAL_ERROR "${_csv}: not a percentile curve (${_nrows} rows, '${_head}' .. '${_last}')")
    endif()
    file(READ "${_json}" _j)
    string(JSON _count GET "${_j}" count)
    string(JSON _p50 GET "${_j}" p50)
    string(JSON _max GET "${_j}" max)
    if(NOT _count EQUAL SAMPLES OR _p50 LESS_EQUAL 0 OR _max LESS _p50)
      message(FATAL_ERROR "${_json}: count ${_count} (want ${SAMPLES}), p50 ${_p50}, max ${_max}")
    endif()
    message("latency smoke: ${BENCH}: ${_count} samples, p50 ${_p50} ns, max ${_max} ns")
  endif()
else()
  find_package(CLI11 REQUIRED)  # Debian libcli11-dev
  add_executable(sluice_latency ${CMAKE_CURRENT_LIST_DIR}/latency_bench.cpp)
  # atomic_queue is the peer measured in the same binary; benchmark only for bench_common.hpp's
  # header (shared with sluice_ring_bench: the same queue adapters and floor line).
  target_include_directories(sluice_latency SYSTEM PRIVATE ${ATOMIC_QUEUE_INCLUDE_DIR})
  target_link_libraries(sluice_latency PRIVATE sluice::sluice benchmark::benchmark CLI11::CLI11)

  if(SLUICE_BUILD_TESTS)
    # One short run per benchmark (2 000 samples); RUN_SERIAL: two of them busy-poll two cores.
    foreach(_spec line_rtt:0,1 spsc_rtt:0,1 atomic_queue_rtt:0,1 local_rtt:0 tsc_overhead:0)
      string(REPLACE ":" ";" _spec "${_spec}")
      list(GET _spec 0 _bench)
      list(GET _spec 1 _cores)
      add_test(NAME latency_smoke_${_bench}
               COMMAND ${CMAKE_COMMAND} -DBIN=$<TARGET_FILE:sluice_latency> -DBENCH=${_bench}
                       -DCORES=${_cores} -DSAMPLES=2000
                       -DOUT=${CMAKE_CURRENT_BINARY_DIR}/latency_smoke -P ${CMAKE_CURRENT_LIST_FILE})
      set_tests_properties(latency_smoke_${_bench} PROPERTIES RUN_SERIAL TRUE TIMEOUT 120
                           SKIP_REGULAR_EXPRESSION "latency smoke: skipped")
    endforeach()
  endif()
endif()
