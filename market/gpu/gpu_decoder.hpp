// GpuDecoder: the ITCH decode routine of market/itch/decode.hpp run as a CUDA kernel, one
// thread per message, behind a plain C++ interface (no CUDA header here) so that builds
// without CUDA compile everything else and get available() == false.
//
// The kernel and the CPU reference compile the same decode_message, so records are byte for
// byte identical (tests/market/gpu_decode_test.cpp compares them with memcmp where a device
// exists; elsewhere the test reports skipped).
//
// This is the synchronous building block: decode() copies bytes and offsets in, runs the
// kernel, copies records out and waits. It blocks for tens of microseconds, so it belongs on
// a bridge worker, never on the hot runtime's thread (running it from the bridge without
// blocking the runtime is built on top of it). Buffers are allocated once, at create():
// pinned host staging and device memory sized for the largest batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "../../runtime/result.hpp"
#include "../itch/record.hpp"

namespace sluice::market::gpu {

enum class GpuError : uint8_t {
  NoDevice,         // built without CUDA, no driver, or no device
  Cuda,             // a CUDA call failed (cuda_error() has the code)
  InvalidArgument,  // a batch larger than the decoder was created for
};

const char* to_string(GpuError e) noexcept;

// A CUDA device is usable (the runtime API initialises and reports at least one device).
bool available() noexcept;
// "compiled without CUDA", or the device name and compute capability.
const char* device_description() noexcept;

struct GpuTimings {
  float copy_in_ms = 0;   // host staging -> device (bytes + offsets)
  float kernel_ms = 0;    // the decode kernel alone
  float copy_out_ms = 0;  // device records -> host staging
};

class GpuDecoder {
 public:
  GpuDecoder(GpuDecoder&&) noexcept;
  GpuDecoder& operator=(GpuDecoder&&) noexcept;
  ~GpuDecoder();

  // Device and pinned buffers for batches of up to max_bytes of input and max_messages.
  [[nodiscard]] static Result<GpuDecoder, GpuError> create(std::size_t max_bytes,
                                                           uint32_t max_messages);

  // Decodes n messages (length prefixes at data[offsets[i]]) into out[0..n); returns the
  // number of error records. Blocks until the records are in `out`. Same contract as
  // itch::decode_batch, same bytes out.
  [[nodiscard]] Result<uint32_t, GpuError> decode(const uint8_t* data, uint64_t size,
                                                  const uint32_t* offsets, uint32_t n,
                                                  uint64_t base, itch::Record* out);
  // The kernel alone on the batch already on the device (the last decode()'s input), run
  // `reps` times; returns milliseconds per run. For benchmarks of the kernel's throughput.
  [[nodiscard]] Result<float, GpuError> kernel_only(uint32_t reps);

  // Phase timings of the last decode() (CUDA events).
  const GpuTimings& last_timings() const noexcept;
  int cuda_error() const noexcept;

 private:
  struct Impl;
  explicit GpuDecoder(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::market::gpu
