// GpuDecoder over the CUDA back end (itch_decode.cu) or, without CUDA, no_cuda.cpp.
#include "gpu_decoder.hpp"

#include "detail/cuda_decode.hpp"

namespace sluice::market::gpu {

const char* to_string(GpuError e) noexcept {
  switch (e) {
    case GpuError::NoDevice:
      return "no CUDA device (or built without CUDA)";
    case GpuError::Cuda:
      return "CUDA call failed";
    case GpuError::InvalidArgument:
      return "batch larger than the decoder was created for";
  }
  return "?";
}

bool available() noexcept {
  int n = 0;
  return detail::cuda_device_count(&n) == 0 && n > 0;
}

const char* device_description() noexcept { return detail::cuda_describe(); }

struct GpuDecoder::Impl {
  detail::CudaDecodeState* state = nullptr;
  std::size_t max_bytes = 0;
  uint32_t max_messages = 0;
  GpuTimings timings;
  int cuda_error = 0;
  ~Impl() { detail::cuda_destroy(state); }
};

GpuDecoder::GpuDecoder(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
GpuDecoder::GpuDecoder(GpuDecoder&&) noexcept = default;
GpuDecoder& GpuDecoder::operator=(GpuDecoder&&) noexcept = default;
GpuDecoder::~GpuDecoder() = default;

Result<GpuDecoder, GpuError> GpuDecoder::create(std::size_t max_bytes, uint32_t max_messages) {
  if (max_bytes == 0 || max_messages == 0) return err(GpuError::InvalidArgument);
  auto impl = std::make_unique<Impl>();
  const int e = detail::cuda_create(&impl->state, max_bytes, max_messages);
  if (e == detail::kNoCuda) return err(GpuError::NoDevice);
  if (e != 0) return err(GpuError::Cuda);
  impl->max_bytes = max_bytes;
  impl->max_messages = max_messages;
  return GpuDecoder(std::move(impl));
}

Result<uint32_t, GpuError> GpuDecoder::decode(const uint8_t* data, uint64_t size,
                                              const uint32_t* offsets, uint32_t n, uint64_t base,
                                              itch::Record* out) {
  if (!impl_ || impl_->state == nullptr) return err(GpuError::NoDevice);
  if (size > impl_->max_bytes || n > impl_->max_messages) return err(GpuError::InvalidArgument);
  uint32_t errors = 0;
  float t[3] = {0, 0, 0};
  const int e = detail::cuda_decode(impl_->state, data, size, offsets, n, base, out, &errors, t);
  if (e != 0) {
    impl_->cuda_error = e;
    return err(GpuError::Cuda);
  }
  impl_->timings = {t[0], t[1], t[2]};
  return errors;
}

Result<float, GpuError> GpuDecoder::kernel_only(uint32_t reps) {
  if (!impl_ || impl_->state == nullptr) return err(GpuError::NoDevice);
  float ms = 0;
  const int e = detail::cuda_kernel_only(impl_->state, reps, &ms);
  if (e != 0) {
    impl_->cuda_error = e;
    return err(GpuError::Cuda);
  }
  return ms;
}

const GpuTimings& GpuDecoder::last_timings() const noexcept {
  static const GpuTimings kNone{};  // a moved-from decoder
  return impl_ ? impl_->timings : kNone;
}
int GpuDecoder::cuda_error() const noexcept { return impl_ ? impl_->cuda_error : 0; }

}  // namespace sluice::market::gpu
