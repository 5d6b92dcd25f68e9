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

// alignas(128): a floor's line shares nothing with anything else.
struct alignas(128) FloorLine {
  std::atomic<uint64_t> v{0};
};
inline constexpr uint64_t kFloorStop = ~uint64_t{0};

inline void spin_floor_rtt(benchmark::State& st) {
  constexpr uint64_t kStop = kFloorStop;
  if (!pin_or_skip(st, 0)) return;
  auto line_box = std::make_unique<FloorLine>();
  FloorLine* line = line_box.get();
  // By value: captured by reference, the helper would reload the pointer from this thread's
  // stack, a line this thread writes (see ring_bench's rtt).
  std::thread helper([line] {
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

// A round trip over two lines, one per direction: the benchmark thread writes line A and spins
// on line B, the helper spins on A and writes B, with plain stores and nothing else. A
// ping-pong through two queues, or a wake and an answer, crosses two lines the same way, so
// this says what the hardware charges for that shape. Which mode the two vCPUs are in matters:
// far apart, it is at or just below the one-line floor; close together, about 1.4x it, and the
// rings then do better than it (perf/RESULTS.md, seventh session).
inline void spin_floor_2line_rtt(benchmark::State& st) {
  constexpr uint64_t kStop = kFloorStop;
  if (!pin_or_skip(st, 0)) return;
  auto a_box = std::make_unique<FloorLine>();
  auto b_box = std::make_unique<FloorLine>();
  FloorLine* a = a_box.get();
  FloorLine* b = b_box.get();
  std::thread helper([a, b] {  // by value: see spin_floor_rtt
    (void)pin_current_thread(1);
    uint64_t seen = 0;
    for (;;) {
      uint64_t x;
      // acquire/release: a real hand-off, as a queue's would be.
      while ((x = a->v.load(std::memory_order_acquire)) == seen) cpu_relax();
      if (x == kStop) return;
      seen = x;
      b->v.store(x, std::memory_order_release);
    }
  });
  uint64_t next = 0;
  for (auto _ : st) {
    a->v.store(++next, std::memory_order_release);
    while (b->v.load(std::memory_order_acquire) != next) cpu_relax();
  }
  a->v.store(kStop, std::memory_order_release);
  helper.join();
}

}  // namespace sluice::bench
