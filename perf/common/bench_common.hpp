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

// The one-line floor as an object, so that Google Benchmark and sluice_rtt_rounds time the
// same loop: the constructor starts the helper on CPU 1, step() is one round trip from the
// calling thread, the destructor stops the helper.
class Floor1Line {
 public:
  Floor1Line() {
    // By value: captured by reference, the helper would reload the pointer from the benchmark
    // thread's stack, a line that thread writes (perf/RESULTS.md, 2026-11-21 part 7).
    helper_ = std::thread([line = line_.get()] {
      (void)pin_current_thread(1);
      uint64_t expect = 1;
      for (;;) {
        uint64_t x;
        // acquire/release: a real hand-off, as a queue's would be.
        while ((x = line->v.load(std::memory_order_acquire)) != expect && x != kFloorStop)
          cpu_relax();
        if (x == kFloorStop) return;
        line->v.store(expect + 1, std::memory_order_release);
        expect += 2;
      }
    });
  }
  void step() noexcept {
    FloorLine* line = line_.get();
    line->v.store(next_, std::memory_order_release);  // release/acquire: as the helper's
    while (line->v.load(std::memory_order_acquire) != next_ + 1) cpu_relax();
    next_ += 2;
  }
  ~Floor1Line() {
    line_->v.store(kFloorStop, std::memory_order_release);  // release: the helper's exit
    helper_.join();
  }
  Floor1Line(const Floor1Line&) = delete;
  Floor1Line& operator=(const Floor1Line&) = delete;

 private:
  std::unique_ptr<FloorLine> line_ = std::make_unique<FloorLine>();
  uint64_t next_ = 1;
  std::thread helper_;
};

// A round trip over two lines, one per direction: the benchmark thread writes line A and spins
// on line B, the helper spins on A and writes B, with plain stores and nothing else. A
// ping-pong through two queues, or a wake and an answer, crosses two lines the same way, so
// this says what the hardware charges for that shape. Which mode the two vCPUs are in matters:
// far apart, it is at or just below the one-line floor; close together, about 1.4x it, and the
// rings then do better than it (perf/RESULTS.md, 2026-11-21 part 7).
class Floor2Line {
 public:
  Floor2Line() {
    helper_ = std::thread([a = a_.get(), b = b_.get()] {  // by value: see Floor1Line
      (void)pin_current_thread(1);
      uint64_t seen = 0;
      for (;;) {
        uint64_t x;
        // acquire/release: a real hand-off, as a queue's would be.
        while ((x = a->v.load(std::memory_order_acquire)) == seen) cpu_relax();
        if (x == kFloorStop) return;
        seen = x;
        b->v.store(x, std::memory_order_release);
      }
    });
  }
  void step() noexcept {
    a_->v.store(++next_, std::memory_order_release);  // release/acquire: as the helper's
    while (b_->v.load(std::memory_order_acquire) != next_) cpu_relax();
  }
  ~Floor2Line() {
    a_->v.store(kFloorStop, std::memory_order_release);  // release: the helper's exit
    helper_.join();
  }
  Floor2Line(const Floor2Line&) = delete;
  Floor2Line& operator=(const Floor2Line&) = delete;

 private:
  std::unique_ptr<FloorLine> a_ = std::make_unique<FloorLine>();
  std::unique_ptr<FloorLine> b_ = std::make_unique<FloorLine>();
  uint64_t next_ = 0;
  std::thread helper_;
};

inline void spin_floor_rtt(benchmark::State& st) {
  if (!pin_or_skip(st, 0)) return;
  Floor1Line f;
  for (auto _ : st) f.step();
}
inline void spin_floor_2line_rtt(benchmark::State& st) {
  if (!pin_or_skip(st, 0)) return;
  Floor2Line f;
  for (auto _ : st) f.step();
}

}  // namespace sluice::bench
