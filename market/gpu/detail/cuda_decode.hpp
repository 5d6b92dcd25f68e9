// The boundary between the C++20 GpuDecoder and the CUDA translation unit, which nvcc builds
// as C++17 (CMake 3.25 knows no CUDA 20): plain functions, error codes as ints (0 = success,
// kNoCuda = built without CUDA or no device, otherwise the cudaError_t value).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../../itch/record.hpp"

namespace sluice::market::gpu::detail {

inline constexpr int kNoCuda = -1;

struct CudaDecodeState;

bool compiled_with_cuda() noexcept;
// cudaGetDeviceCount: 0 and *n set on success.
int cuda_device_count(int* n) noexcept;
// Name and compute capability of device 0, or why there is none.
const char* cuda_describe() noexcept;
int cuda_create(CudaDecodeState** out, std::size_t max_bytes, uint32_t max_messages) noexcept;
void cuda_destroy(CudaDecodeState* s) noexcept;
// timings_ms: copy in, kernel, copy out.
int cuda_decode(CudaDecodeState* s, const uint8_t* data, uint64_t size, const uint32_t* offsets,
                uint32_t n, uint64_t base, itch::Record* out, uint32_t* errors,
                float timings_ms[3]) noexcept;
int cuda_kernel_only(CudaDecodeState* s, uint32_t reps, float* ms_per_run) noexcept;

}  // namespace sluice::market::gpu::detail
