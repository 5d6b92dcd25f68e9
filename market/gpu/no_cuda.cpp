// The GPU decoder's back end in builds without CUDA: every entry point says "no CUDA", so
// gpu::available() is false, GPU tests report skipped, and callers use the CPU decoder.
#include "detail/cuda_decode.hpp"

namespace sluice::market::gpu::detail {

bool compiled_with_cuda() noexcept { return false; }
int cuda_device_count(int* n) noexcept {
  *n = 0;
  return kNoCuda;
}
const char* cuda_describe() noexcept { return "compiled without CUDA"; }
int cuda_create(CudaDecodeState** out, std::size_t, uint32_t) noexcept {
  *out = nullptr;
  return kNoCuda;
}
void cuda_destroy(CudaDecodeState*) noexcept {}
int cuda_decode(CudaDecodeState*, const uint8_t*, uint64_t, const uint32_t*, uint32_t, uint64_t,
                itch::Record*, uint32_t*, float*) noexcept {
  return kNoCuda;
}
int cuda_kernel_only(CudaDecodeState*, uint32_t, float*) noexcept { return kNoCuda; }

}  // namespace sluice::market::gpu::detail
