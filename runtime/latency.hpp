// Latency measurement: cycle timestamps and a log-linear histogram (p50/p99/p99.9/max).
//
// Why log-linear: constant relative error (1/16 per power of two) over 1 cycle .. 2^63 with a
// fixed 1 KiB-ish table, and record() is a few instructions with no allocation, so it can sit
// on the hot path of the thing it measures.
#pragma once

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <thread>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace sluice {

// Timestamp counter (cycles on x86; steady_clock ns elsewhere).
inline uint64_t cycles_now() noexcept {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

// TSC ticks per nanosecond, measured against steady_clock over `window`.
inline double cycles_per_ns(std::chrono::milliseconds window = std::chrono::milliseconds(20)) {
  auto t0 = std::chrono::steady_clock::now();
  uint64_t c0 = cycles_now();
  std::this_thread::sleep_for(window);
  uint64_t c1 = cycles_now();
  auto t1 = std::chrono::steady_clock::now();
  double ns =
      static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  return ns > 0 ? static_cast<double>(c1 - c0) / ns : 1.0;
}

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 4;  // 16 linear sub-buckets per power of two
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;

  void record(uint64_t v) noexcept {
    ++counts_[index(v)];
    ++n_;
    if (v > max_) max_ = v;
    if (v < min_) min_ = v;
  }
  uint64_t count() const noexcept { return n_; }
  uint64_t max() const noexcept { return max_; }
  uint64_t min() const noexcept { return n_ ? min_ : 0; }

  // Upper bound of the bucket holding quantile q (0..1); exact for values < 16.
  uint64_t percentile(double q) const noexcept {
    if (n_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(n_ - 1)) + 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        uint64_t hi = upper(i);
        return hi < max_ ? hi : max_;
      }
    }
    return max_;
  }
  void merge(const LatencyHistogram& o) noexcept {
    for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    n_ += o.n_;
    if (o.max_ > max_) max_ = o.max_;
    if (o.min_ < min_) min_ = o.min_;
  }
  void reset() noexcept { *this = LatencyHistogram{}; }

  static unsigned index(uint64_t v) noexcept {
    if (v < kSub) return static_cast<unsigned>(v);
    unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
    unsigned shift = msb - kSubBits;
    return (shift + 1) * kSub + static_cast<unsigned>((v >> shift) & (kSub - 1));
  }
  static uint64_t upper(unsigned i) noexcept {
    if (i < kSub) return i;
    unsigned shift = i / kSub - 1;
    uint64_t base = (uint64_t{kSub} | (i % kSub)) << shift;
    return base + ((uint64_t{1} << shift) - 1);
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t n_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

}  // namespace sluice
