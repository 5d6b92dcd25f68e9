// TSC timestamps calibrated to nanoseconds, for latency measurement on the hot path.
//
// Why the TSC and not steady_clock: reading it is ~10 ns with no syscall or vDSO branch, and on
// every x86 CPU sluice targets it is invariant (constant rate across P-states and sleep) and
// synchronised across cores, so a stamp taken on the feed core can be subtracted from one taken
// on the hot core. `TscClock::invariant()` says whether the CPU claims that; on a VM the
// hypervisor may still scale it, which calibration against steady_clock absorbs.
//
// tsc_now() uses RDTSCP: it waits until every earlier instruction has executed, so a stamp
// that ends a measured span is not taken before the work it ends (RDTSC alone can be hoisted
// over it by out-of-order execution). tsc_start() is LFENCE;RDTSC, for the opening stamp where
// later work must not start before the read. Elsewhere (not x86-64) both fall back to
// steady_clock nanoseconds and the clock's rate is 1 tick per ns.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <thread>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

namespace sluice {

// The closing stamp of a span (RDTSCP). `cpu`, if given, gets the core it was read on (the
// IA32_TSC_AUX value Linux sets to the CPU number), so a sample that migrated can be spotted.
inline uint64_t tsc_now(unsigned* cpu = nullptr) noexcept {
#if defined(__x86_64__)
  unsigned aux = 0;
  const uint64_t t = __rdtscp(&aux);
  if (cpu != nullptr) *cpu = aux & 0xfffu;
  return t;
#else
  if (cpu != nullptr) *cpu = 0;
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

// The opening stamp of a span: LFENCE keeps later instructions from starting before the read.
inline uint64_t tsc_start() noexcept {
#if defined(__x86_64__)
  _mm_lfence();
  return __rdtsc();
#else
  return tsc_now();
#endif
}

// Ticks -> nanoseconds. Calibrated once against steady_clock (not on the hot path: it sleeps).
class TscClock {
 public:
  // Measures the tick rate over `window`. Longer windows give a more exact rate; 20 ms is
  // within 0.1% on the machines sluice was measured on.
  static TscClock calibrate(std::chrono::milliseconds window = std::chrono::milliseconds(20)) {
    const Stamp a = stamp();
    std::this_thread::sleep_for(window);
    const Stamp b = stamp();
    TscClock c;
    if (b.ns > a.ns && b.ticks > a.ticks)
      c.ticks_per_ns_ = static_cast<double>(b.ticks - a.ticks) / static_cast<double>(b.ns - a.ns);
    return c;
  }
  // One process-wide calibration, done on first use (thread-safe static initialisation).
  static const TscClock& global() {
    static const TscClock c = calibrate();
    return c;
  }
  // A clock of a known rate (tests, replaying recorded ticks).
  static TscClock with_rate(double ticks_per_ns) noexcept {
    TscClock c;
    // A rate no TSC has (NaN, infinite, denormal, absurd) keeps the default of 1 tick per ns.
    if (std::isfinite(ticks_per_ns) && ticks_per_ns >= 1e-3 && ticks_per_ns <= 1e3)
      c.ticks_per_ns_ = ticks_per_ns;
    return c;
  }

  // One (steady_clock, TSC) pair. The TSC is read between two clock reads and paired with
  // their midpoint; of five tries the tightest bracket wins, so a preemption between the reads
  // (milliseconds on a shared VM) does not skew the rate.
  struct Stamp {
    int64_t ns;
    uint64_t ticks;
  };
  static Stamp stamp() {
    Stamp best{0, 0};
    int64_t best_gap = INT64_MAX;
    for (int i = 0; i < 5; ++i) {
      const int64_t s0 = steady_ns();
      const uint64_t t = tsc_now();
      const int64_t s1 = steady_ns();
      if (s1 - s0 < best_gap) {
        best_gap = s1 - s0;
        best = Stamp{s0 + (s1 - s0) / 2, t};
      }
    }
    return best;
  }
  static int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  double ticks_per_ns() const noexcept { return ticks_per_ns_; }
  double ghz() const noexcept { return ticks_per_ns_; }
  double to_ns(uint64_t ticks) const noexcept { return static_cast<double>(ticks) / ticks_per_ns_; }
  // Rounds to the nearest tick, so from_ns(to_ns(t)) == t for any t below 2^50 at any rate
  // with_rate accepts or a TSC measures (truncating turned 999999.9999 back into 999999). Saturates
  // instead of overflowing: converting a double past 2^64 to an integer is undefined behaviour.
  uint64_t from_ns(double ns) const noexcept {
    const double t = std::round(ns * ticks_per_ns_);
    if (!(t >= 1.0)) return 0;  // also NaN
    if (t >= 18446744073709551616.0) return UINT64_MAX;
    return static_cast<uint64_t>(t);
  }

  // CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in every P- and C-state.
  static bool invariant() noexcept {
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0x80000000u, nullptr) < 0x80000007u) return false;
    __cpuid(0x80000007u, a, b, c, d);
    return (d & (1u << 8)) != 0;
#else
    return true;  // steady_clock fallback
#endif
  }

 private:
  double ticks_per_ns_ = 1.0;
};

}  // namespace sluice
