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
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t c0 = tsc_now();
    std::this_thread::sleep_for(window);
    const uint64_t c1 = tsc_now();
    const auto t1 = std::chrono::steady_clock::now();
    const double ns =
        static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    TscClock c;
    if (ns > 0 && c1 > c0) c.ticks_per_ns_ = static_cast<double>(c1 - c0) / ns;
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
    if (ticks_per_ns > 0) c.ticks_per_ns_ = ticks_per_ns;
    return c;
  }

  double ticks_per_ns() const noexcept { return ticks_per_ns_; }
  double ghz() const noexcept { return ticks_per_ns_; }
  double to_ns(uint64_t ticks) const noexcept { return static_cast<double>(ticks) / ticks_per_ns_; }
  uint64_t from_ns(double ns) const noexcept {
    return ns <= 0 ? 0 : static_cast<uint64_t>(ns * ticks_per_ns_);
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
