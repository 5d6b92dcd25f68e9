// Shared by the cross-thread benchmarks: pinning (benchmark thread on CPU 0, helper on CPU 1),
// the spin-wait instruction every queue uses while full/empty, and the hardware floor: one
// cache line bounced between the two pinned threads, measured in the same run as the rest.
#pragma once

#include <benchmark/benchmark.h>
#include <sluice/runtime/topology.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

namespace sluice::bench {

inline void cpu_relax() noexcept { __builtin_ia32_pause(); }

inline bool pin_or_skip(benchmark::State& st, unsigned cpu) {
  if (auto r = pin_current_thread(cpu); !r) {
    st.SkipWithError(to_string(r.error()));
    return false;
  }
  return true;
}

inline void spin_floor_rtt(benchmark::State& st) {
  constexpr uint64_t kStop = ~uint64_t{0};
  if (!pin_or_skip(st, 0)) return;
  // alignas(128): the line being bounced shares nothing with anything else.
  struct alignas(128) Line {
    std::atomic<uint64_t> v{0};
  };
  auto line = std::make_unique<Line>();
  std::thread helper([&] {
    (void)pin_current_thread(1);
    uint64_t expect = 1;
    for (;;) {
      uint64_t x;
      // acquire/release: a real hand-off, as a queue's would be.
      while ((x = line->v.load(std::memory_order_acquire)) != expect && x != kStop) cpu_relax();
      if (x == kStop) return;
      line->v.store(expect + 1, std::memory_order_release);
      expect += 2;
    }
  });
  uint64_t next = 1;
  for (auto _ : st) {
    line->v.store(next, std::memory_order_release);
    while (line->v.load(std::memory_order_acquire) != next + 1) cpu_relax();
    next += 2;
  }
  line->v.store(kStop, std::memory_order_release);
  helper.join();
}

}  // namespace sluice::bench
