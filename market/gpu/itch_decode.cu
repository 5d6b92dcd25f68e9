// The ITCH decode kernel: one thread per message, each running itch::decode_message, the
// same routine the CPU runs (market/itch/decode.hpp under SLUICE_HD), so the records agree
// byte for byte. Built only when CUDA is enabled (nvcc, C++17).
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <new>

#include "../itch/decode.hpp"
#include "detail/cuda_decode.hpp"

namespace sluice::market::gpu::detail {
namespace {

__global__ void decode_kernel(const uint8_t* data, uint64_t size, const uint32_t* offsets,
                              uint32_t n, uint64_t base, itch::Record* out, uint32_t* errors) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  itch::Record r;
  const itch::DecodeError e = itch::decode_message(data, size, offsets[i], base, r);
  out[i] = r;  // one 64-byte record per thread: a warp writes 2 KiB contiguously
  if (e != itch::DecodeError::None) atomicAdd(errors, 1u);
}

constexpr int kThreads = 256;

}  // namespace

struct CudaDecodeState {
  std::size_t max_bytes = 0;
  uint32_t max_messages = 0;
  uint8_t* d_data = nullptr;
  uint32_t* d_offsets = nullptr;
  itch::Record* d_out = nullptr;
  uint32_t* d_errors = nullptr;
  uint8_t* h_stage = nullptr;     // pinned: bytes, then offsets (DMA needs page-locked memory)
  itch::Record* h_out = nullptr;  // pinned records
  uint32_t* h_errors = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t ev[4] = {};
  uint64_t last_size = 0;
  uint32_t last_n = 0;
  uint64_t last_base = 0;
};

bool compiled_with_cuda() noexcept { return true; }

int cuda_device_count(int* n) noexcept {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  // Without a driver this returns cudaErrorInsufficientDriver and leaves count alone.
  *n = e == cudaSuccess ? count : 0;
  return e == cudaSuccess ? (count > 0 ? 0 : kNoCuda) : static_cast<int>(e);
}

const char* cuda_describe() noexcept {
  static char text[400];  // p.name is at most 256
  int n = 0;
  const int e = cuda_device_count(&n);
  if (e != 0) {
    std::snprintf(text, sizeof text, "no CUDA device (%s)",
                  e == kNoCuda ? "none found" : cudaGetErrorString(static_cast<cudaError_t>(e)));
    return text;
  }
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) return "CUDA device (properties failed)";
  std::snprintf(text, sizeof text, "%.256s (sm_%d%d, %d SMs)", p.name, p.major, p.minor,
                p.multiProcessorCount);
  return text;
}

void cuda_destroy(CudaDecodeState* s) noexcept {
  if (s == nullptr) return;
  for (cudaEvent_t e : s->ev) {
    if (e != nullptr) cudaEventDestroy(e);
  }
  if (s->stream != nullptr) cudaStreamDestroy(s->stream);
  cudaFree(s->d_data);
  cudaFree(s->d_offsets);
  cudaFree(s->d_out);
  cudaFree(s->d_errors);
  cudaFreeHost(s->h_stage);
  cudaFreeHost(s->h_out);
  cudaFreeHost(s->h_errors);
  delete s;
}

int cuda_create(CudaDecodeState** out, std::size_t max_bytes, uint32_t max_messages) noexcept {
  *out = nullptr;
  int n = 0;
  if (const int e = cuda_device_count(&n); e != 0) return e;
  auto* s = new (std::nothrow) CudaDecodeState;
  if (s == nullptr) return static_cast<int>(cudaErrorMemoryAllocation);
  s->max_bytes = max_bytes;
  s->max_messages = max_messages;
  const std::size_t offs = std::size_t{max_messages} * sizeof(uint32_t);
  const std::size_t recs = std::size_t{max_messages} * sizeof(itch::Record);
  cudaError_t e = cudaSuccess;
  if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking);
  if (e == cudaSuccess) e = cudaMalloc(&s->d_data, max_bytes + 1);
  if (e == cudaSuccess) e = cudaMalloc(&s->d_offsets, offs + sizeof(uint32_t));
  if (e == cudaSuccess) e = cudaMalloc(&s->d_out, recs + sizeof(itch::Record));
  if (e == cudaSuccess) e = cudaMalloc(&s->d_errors, sizeof(uint32_t));
  if (e == cudaSuccess) e = cudaMallocHost(&s->h_stage, max_bytes + offs + 8);
  if (e == cudaSuccess) e = cudaMallocHost(&s->h_out, recs + sizeof(itch::Record));
  if (e == cudaSuccess) e = cudaMallocHost(&s->h_errors, sizeof(uint32_t));
  for (cudaEvent_t& ev : s->ev) {
    if (e == cudaSuccess) e = cudaEventCreate(&ev);
  }
  if (e != cudaSuccess) {
    cuda_destroy(s);
    return static_cast<int>(e);
  }
  *out = s;
  return 0;
}

int cuda_decode(CudaDecodeState* s, const uint8_t* data, uint64_t size, const uint32_t* offsets,
                uint32_t n, uint64_t base, itch::Record* out, uint32_t* errors,
                float timings_ms[3]) noexcept {
  *errors = 0;
  if (n == 0) return 0;
  // Stage through pinned memory: a pageable source would make the copy synchronous and slow.
  std::memcpy(s->h_stage, data, size);
  uint32_t* h_offs = reinterpret_cast<uint32_t*>(s->h_stage + ((size + 7) & ~uint64_t{7}));
  std::memcpy(h_offs, offsets, std::size_t{n} * sizeof(uint32_t));
  cudaError_t e = cudaEventRecord(s->ev[0], s->stream);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(s->d_data, s->h_stage, size, cudaMemcpyHostToDevice, s->stream);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(s->d_offsets, h_offs, std::size_t{n} * sizeof(uint32_t),
                        cudaMemcpyHostToDevice, s->stream);
  if (e == cudaSuccess) e = cudaMemsetAsync(s->d_errors, 0, sizeof(uint32_t), s->stream);
  if (e == cudaSuccess) e = cudaEventRecord(s->ev[1], s->stream);
  if (e == cudaSuccess) {
    const uint32_t blocks = (n + kThreads - 1) / kThreads;
    decode_kernel<<<blocks, kThreads, 0, s->stream>>>(s->d_data, size, s->d_offsets, n, base,
                                                      s->d_out, s->d_errors);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaEventRecord(s->ev[2], s->stream);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(s->h_out, s->d_out, std::size_t{n} * sizeof(itch::Record),
                        cudaMemcpyDeviceToHost, s->stream);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(s->h_errors, s->d_errors, sizeof(uint32_t), cudaMemcpyDeviceToHost,
                        s->stream);
  if (e == cudaSuccess) e = cudaEventRecord(s->ev[3], s->stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(s->stream);
  if (e != cudaSuccess) return static_cast<int>(e);
  cudaEventElapsedTime(&timings_ms[0], s->ev[0], s->ev[1]);
  cudaEventElapsedTime(&timings_ms[1], s->ev[1], s->ev[2]);
  cudaEventElapsedTime(&timings_ms[2], s->ev[2], s->ev[3]);
  std::memcpy(out, s->h_out, std::size_t{n} * sizeof(itch::Record));
  *errors = *s->h_errors;
  s->last_size = size;
  s->last_n = n;
  s->last_base = base;
  return 0;
}

int cuda_kernel_only(CudaDecodeState* s, uint32_t reps, float* ms_per_run) noexcept {
  *ms_per_run = 0;
  if (s->last_n == 0 || reps == 0) return 0;
  const uint32_t blocks = (s->last_n + kThreads - 1) / kThreads;
  cudaError_t e = cudaEventRecord(s->ev[0], s->stream);
  for (uint32_t i = 0; i < reps && e == cudaSuccess; ++i) {
    decode_kernel<<<blocks, kThreads, 0, s->stream>>>(
        s->d_data, s->last_size, s->d_offsets, s->last_n, s->last_base, s->d_out, s->d_errors);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaEventRecord(s->ev[1], s->stream);
  if (e == cudaSuccess) e = cudaEventSynchronize(s->ev[1]);
  if (e != cudaSuccess) return static_cast<int>(e);
  float ms = 0;
  cudaEventElapsedTime(&ms, s->ev[0], s->ev[1]);
  *ms_per_run = ms / static_cast<float>(reps);
  return 0;
}

}  // namespace sluice::market::gpu::detail
