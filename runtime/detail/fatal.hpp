// fatal: misuse that cannot be turned into an error value without giving up memory safety (a
// frame freed on the wrong thread, a run loop re-entered, value() of a Result holding an
// error). It prints "sluice: <what>[: <detail>]" to stderr, then aborts.
//
// Header-only, so the raw rings and logbuf (which link nothing of sluice) can use it too.
// Cold and out of line: the checks that call it cost a compare on the paths that make them.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace sluice::detail {

[[noreturn, gnu::cold, gnu::noinline]] inline void fatal(const char* what,
                                                         const char* detail = nullptr) noexcept {
  if (detail != nullptr)
    std::fprintf(stderr, "sluice: %s: %s\n", what, detail);
  else
    std::fprintf(stderr, "sluice: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

}  // namespace sluice::detail
