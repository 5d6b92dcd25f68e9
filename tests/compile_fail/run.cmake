# Compile-fail test for [[nodiscard]] (issue 13, section 6): compiles nodiscard_cases.cpp once
# per case with -fsyntax-only -Wall -Wextra -Werror. CASE=0 (correct use) must compile; every
# other case (an awaitable or a Result discarded) must fail, and its diagnostics must mention
# nodiscard, so that an unrelated error (a typo, a missing include) cannot pass as a success.
#
# The issue asked for a CMake try_compile. This is the same check made by ctest instead of at
# configure time: it runs in every build tree that runs the tests, and one case that wrongly
# compiles fails a test rather than stopping the configure of the whole project.
#
#   cmake -DCXX=<c++ compiler> -DINCLUDE_DIR=<dir holding sluice/> -DSRC=<nodiscard_cases.cpp>
#         [-DCASES="3;7"] [-DEXPECT=<regex of the expected diagnostic>]
#         [-DWORK_DIR=<scratch dir for a precompiled header>] -P run.cmake
#
# EXPECT replaces the nodiscard pattern for other compile-fail files (nothrow_move_cases.cpp).
#
# INCLUDE_DIR is ${CMAKE_BINARY_DIR}/include for an in-tree build (sluice/ there links to the
# source root). CASES limits the run to some cases (for a quick look); by default every case
# found in SRC (its `#if CASE == N` / `#elif CASE == N  // label` lines) runs.
cmake_minimum_required(VERSION 3.25)

foreach(v CXX INCLUDE_DIR SRC)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run.cmake: -D${v}=... is required")
  endif()
endforeach()

file(STRINGS ${SRC} case_lines REGEX "^#(el)?if CASE == [0-9]+")
set(all_cases)
foreach(line IN LISTS case_lines)
  string(REGEX MATCH "CASE == ([0-9]+)" _ "${line}")
  set(n ${CMAKE_MATCH_1})
  list(APPEND all_cases ${n})
  if(line MATCHES "//[ ]*(.*)$")
    set(label_${n} "${CMAKE_MATCH_1}")
  else()
    set(label_${n} "")
  endif()
endforeach()
if(NOT 0 IN_LIST all_cases)
  message(FATAL_ERROR "run.cmake: ${SRC} has no CASE == 0 (the control)")
endif()
if(NOT DEFINED CASES OR CASES STREQUAL "")
  set(CASES ${all_cases})
endif()

# The diagnostic itself, not the file name (which contains "nodiscard"): g++ says "declared
# with attribute 'nodiscard'", clang "declared with 'nodiscard' attribute" (the quotes may be
# typographic, hence [^ ]*). Any error line that is not such a diagnostic fails the case.
set(nodiscard_re "attribute [^ ]*nodiscard|nodiscard[^ ]* attribute")
# Other compile-fail files name the diagnostic they expect (e.g. a static_assert's text).
if(DEFINED EXPECT)
  set(nodiscard_re "${EXPECT}")
endif()

# Sets ${var} to the first line of `text` that reports an error other than a nodiscard one
# (empty when there is none). With -Werror the nodiscard warning is itself an "error:" line.
function(first_other_error text var)
  # One list element per line: neutralise ';' and the brackets (a ';' inside [...] does not
  # split a CMake list).
  string(REPLACE ";" "," text "${text}")
  string(REPLACE "[" "(" text "${text}")
  string(REPLACE "]" ")" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  foreach(line IN LISTS lines)
    if(line MATCHES "error:|fatal error" AND NOT line MATCHES "${nodiscard_re}"
       AND NOT line MATCHES "all warnings being treated as errors")
      set(${var} "${line}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${var} "" PARENT_SCOPE)
endfunction()

set(flags -std=c++20 -fsyntax-only -Wall -Wextra -Werror -I${INCLUDE_DIR})
# With WORK_DIR, <sluice/sluice.hpp> is precompiled once and every case includes it first
# (37 cases took 71 s in a Release ctest run, mostly re-parsing the same headers). The cases
# define only CASE, which no header reads, so the PCH stays valid for all of them; if the
# compiler cannot use it, it reads the header text instead and the result is the same.
if(DEFINED WORK_DIR)
  file(MAKE_DIRECTORY ${WORK_DIR})
  file(WRITE ${WORK_DIR}/prelude.hpp "#include <sluice/sluice.hpp>\n")
  execute_process(COMMAND ${CXX} -std=c++20 -Wall -Wextra -Werror -I${INCLUDE_DIR}
                          -x c++-header ${WORK_DIR}/prelude.hpp -o ${WORK_DIR}/prelude.hpp.gch
                  RESULT_VARIABLE pch_rc OUTPUT_VARIABLE pch_out ERROR_VARIABLE pch_out)
  if(pch_rc EQUAL 0)
    list(APPEND flags -include ${WORK_DIR}/prelude.hpp)
  else()
    message(STATUS "run.cmake: no precompiled header (${pch_out}); compiling each case whole")
  endif()
endif()
set(bad)
set(passed 0)
foreach(n IN LISTS CASES)
  execute_process(COMMAND ${CXX} ${flags} -DCASE=${n} ${SRC}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(n EQUAL 0)
    if(NOT rc EQUAL 0)
      message("FAIL case 0 (${label_0}): the control does not compile:\n${out}")
      list(APPEND bad 0)
    else()
      math(EXPR passed "${passed} + 1")
    endif()
  elseif(rc EQUAL 0)
    message("FAIL case ${n} (${label_${n}}): compiles; the discarded value needs [[nodiscard]]")
    list(APPEND bad ${n})
  else()
    first_other_error("${out}" other)
    if(NOT out MATCHES "${nodiscard_re}" OR NOT other STREQUAL "")
      message("FAIL case ${n} (${label_${n}}): fails, but not (only) for nodiscard:\n${out}")
      list(APPEND bad ${n})
    else()
      math(EXPR passed "${passed} + 1")
    endif()
  endif()
endforeach()

list(LENGTH CASES total)
get_filename_component(src_name ${SRC} NAME)
if(bad)
  list(JOIN bad ", " bad_text)
  message(FATAL_ERROR "${src_name} compile-fail: ${passed}/${total} cases as expected; wrong: "
                      "${bad_text}")
endif()
message(STATUS "${src_name} compile-fail: ${passed}/${total} cases as expected")
