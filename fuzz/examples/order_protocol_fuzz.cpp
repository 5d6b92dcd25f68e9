// libFuzzer target: the pipeline's order-entry frames as a hostile TCP peer could send them
// (rules in order_protocol_fuzz.hpp). Built with clang (SLUICE_BUILD_FUZZ=ON).
#include <cstddef>
#include <cstdint>

#include "order_protocol_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::order_protocol(data, size);
}
