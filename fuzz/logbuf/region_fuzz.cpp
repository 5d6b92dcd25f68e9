// libFuzzer target: a logbuf region image from a peer that need not be trusted, attached as
// an SPSC and an MPSC buffer and driven by a script (the format and the rules checked are in
// region_fuzz.hpp). Built with clang by scripts/fuzz (SLUICE_BUILD_FUZZ=ON).
#include <cstddef>
#include <cstdint>

#include "region_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::logbuf_region(data, size);
}
