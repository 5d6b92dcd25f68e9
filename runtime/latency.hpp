// Latency measurement: a log-linear histogram of TSC ticks (or any unit) with percentiles to
// p99.99 and max, mergeable across threads, and the legacy cycles_now()/cycles_per_ns().
//
// Why log-linear: constant relative error (1/32 per power of two: a reported percentile is at
// most 3.2% above the true one) over 0 .. 2^64 with a fixed 15 KiB table, and record() is a
// few instructions with no allocation or branch on the value's size, so it can sit on the hot
// path of what it measures. Why not per-thread atomics: each thread records into its own
// histogram with plain stores, and the owner merges them once the threads are joined (or after
// a handshake that orders their last record before the merge); merging is exact (bucket counts
// add), so a merged percentile equals the one a single histogram of all samples would give.
#pragma once

#include <sluice/runtime/tsc.hpp>

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>

namespace sluice {

// Timestamp counter (RDTSC, unordered; prefer tsc_now()/tsc_start() in new code).
inline uint64_t cycles_now() noexcept {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

// TSC ticks per nanosecond, measured against steady_clock over `window`.
inline double cycles_per_ns(std::chrono::milliseconds window = std::chrono::milliseconds(20)) {
  return TscClock::calibrate(window).ticks_per_ns();
}

// Percentiles of one histogram, converted by a scale (e.g. ns per tick). All zero when empty.
struct LatencySummary {
  uint64_t count = 0;
  double min = 0, mean = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0;
};

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 5;  // 32 linear sub-buckets per power of two
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;

  void record(uint64_t v) noexcept { record(v, 1); }
  void record(uint64_t v, uint64_t times) noexcept {
    counts_[index(v)] += times;
    n_ += times;
    sum_ += v * times;  // wraps after 2^64 ticks in all: ~190 years of 3 GHz cycles
    if (v > max_) max_ = v;
    if (v < min_) min_ = v;
  }
  uint64_t count() const noexcept { return n_; }
  uint64_t max() const noexcept { return max_; }
  uint64_t min() const noexcept { return n_ ? min_ : 0; }
  double mean() const noexcept {
    return n_ ? static_cast<double>(sum_) / static_cast<double>(n_) : 0.0;
  }

  // Upper bound of the bucket holding quantile q (0..1), capped at max(); exact below kSub.
  // The rank is the nearest-rank one: the smallest value with at least ceil(q*n) samples at or
  // below it, so p100 is max() and p0 is min()'s bucket.
  uint64_t percentile(double q) const noexcept {
    if (n_ == 0) return 0;
    if (!(q > 0)) return min();  // also a NaN
    if (q >= 1) return max_;
    // ceil(q * n), at least 1 (no <cmath>: the truncation is corrected upwards, past a
    // rounding error: 0.07 * 100 is 7.000000000000001 in doubles and its rank is 7).
    const double x = q * static_cast<double>(n_);
    uint64_t rank = static_cast<uint64_t>(x);
    if (static_cast<double>(rank) < x - 1e-9 * static_cast<double>(n_)) ++rank;
    if (rank == 0) rank = 1;
    if (rank > n_) rank = n_;
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

  // p50/p90/p99/p99.9/p99.99/max and min/mean, each multiplied by `scale` (ns per tick for a
  // TSC histogram: 1.0 / clock.ticks_per_ns()).
  LatencySummary summary(double scale = 1.0) const noexcept {
    LatencySummary s;
    s.count = n_;
    if (n_ == 0) return s;
    auto f = [scale](uint64_t v) { return static_cast<double>(v) * scale; };
    s.min = f(min());
    s.mean = mean() * scale;
    s.p50 = f(percentile(0.5));
    s.p90 = f(percentile(0.9));
    s.p99 = f(percentile(0.99));
    s.p999 = f(percentile(0.999));
    s.p9999 = f(percentile(0.9999));
    s.max = f(max_);
    return s;
  }
  LatencySummary summary(const TscClock& clock) const noexcept {
    return summary(1.0 / clock.ticks_per_ns());
  }

  // Exact: bucket counts add. Not thread-safe against a concurrent record() on either side.
  void merge(const LatencyHistogram& o) noexcept {
    for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    n_ += o.n_;
    sum_ += o.sum_;
    if (o.max_ > max_) max_ = o.max_;
    if (o.min_ < min_) min_ = o.min_;
  }
  void reset() noexcept { *this = LatencyHistogram{}; }

  // Percentile curve for plotting and CSV: rows "percentile,value" at q = 1 - 10^(-k/steps)
  // (steps per decade) up to the last decade the sample count resolves, then max. The x axis
  // of the usual latency plot is 1/(1-q) on a log scale; the rows give that shape evenly.
  // Returns false when the file could not be written.
  bool write_csv(std::FILE* out, double scale = 1.0, const char* unit = "ns",
                 unsigned steps_per_decade = 10) const noexcept {
    if (std::fprintf(out, "percentile,%s\n", unit) < 0) return false;
    if (n_ == 0) return std::fflush(out) == 0;
    const unsigned steps = steps_per_decade ? steps_per_decade : 1;
    // Decades resolved by n samples: 1 - q >= 1/n.
    unsigned decades = 0;
    for (uint64_t m = n_; m >= 10 && decades < 9; m /= 10) ++decades;
    double tail = 1.0;  // 1 - q
    const double ratio = 1.0 / exp10_fraction(steps);
    for (unsigned k = 0; k <= decades * steps; ++k, tail *= ratio) {
      const double q = 1.0 - tail;
      if (std::fprintf(out, "%.6f,%.1f\n", q * 100.0, static_cast<double>(percentile(q)) * scale) <
          0)
        return false;
    }
    if (std::fprintf(out, "100,%.1f\n", static_cast<double>(max_) * scale) < 0) return false;
    return std::fflush(out) == 0;
  }

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
  // 10^(1/steps), without <cmath> in a header that sits on hot paths' include lists.
  static double exp10_fraction(unsigned steps) noexcept {
    // Newton on x^steps = 10 from x = 1 + 2.3/steps (close above the root: converges down).
    double x = 1.0 + 2.31 / steps;
    for (int it = 0; it < 60; ++it) {
      double p = 1.0;
      for (unsigned j = 1; j < steps; ++j) p *= x;  // x^(steps-1)
      const double nx = x - (p * x - 10.0) / (static_cast<double>(steps) * p);
      if (nx == x) break;
      x = nx;
    }
    return x;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t n_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

}  // namespace sluice
