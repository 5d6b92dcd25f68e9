// libFuzzer target: a byte stream decoded as ITCH 5.0 frames three ways (the rules are in
// itch_decode_fuzz.hpp). Built with clang by scripts/fuzz (SLUICE_BUILD_FUZZ=ON).
#include <cstddef>
#include <cstdint>

#include "itch_decode_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::itch_decode(data, size);
}
