// libFuzzer target: a stream of datagrams from a network that need not be trusted, through
// the MoldUDP64 parser, a receiver and the ITCH decoder (the input format and the rules
// checked are in moldudp64_fuzz.hpp). Built with clang (SLUICE_BUILD_FUZZ=ON).
#include <cstddef>
#include <cstdint>

#include "moldudp64_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::moldudp64(data, size);
}
