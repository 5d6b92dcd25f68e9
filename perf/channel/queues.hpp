// The queue adapters shared by sluice_ring_bench and sluice_rtt_rounds: push/pop that spin
// with the same pause instruction while full/empty, for our rings and for atomic_queue.
#pragma once

#include <sluice/sluice.hpp>

#include <cstdint>
#include <memory>

#include <atomic_queue/atomic_queue.h>

#include "../common/bench_common.hpp"

namespace sluice::bench {

inline constexpr std::size_t kCap = 65536;       // same capacity for every queue
inline constexpr uint64_t kStop = ~uint64_t{0};  // a round-trip helper exits on this value

struct SluiceSpsc {
  std::unique_ptr<SpscRing<uint64_t>> r = std::move(*SpscRing<uint64_t>::make(kCap));
  void push(uint64_t v) noexcept {
    while (!r->try_push(v)) cpu_relax();
  }
  uint64_t pop() noexcept {
    uint64_t v;
    while (!r->try_pop(v)) cpu_relax();
    return v;
  }
};
// The multi-producer ring behind mpsc::channel: a lane per producer handle (MpscLanes). One
// handle, made by the thread that pushes (on its first push), so a push is the lane's SPSC push.
struct SluiceMpsc {
  std::unique_ptr<MpscLanes<uint64_t>> r = std::move(*MpscLanes<uint64_t>::make(kCap, 4));
  MpscLanes<uint64_t>::Producer p;
  void push(uint64_t v) noexcept {
    if (!p) [[unlikely]]
      p = std::move(*r->producer());
    while (!p.try_push(v)) cpu_relax();
  }
  uint64_t pop() noexcept {
    uint64_t v;
    while (!r->try_pop(v)) cpu_relax();
    return v;
  }
};
// The shared-tail ring (MpscRing): one CAS per push, one FIFO order across producers. What
// mpsc::channel uses with max_lanes = 0, and for senders beyond its lanes.
struct SluiceMpscShared {
  std::unique_ptr<MpscRing<uint64_t>> r = std::move(*MpscRing<uint64_t>::make(kCap));
  void push(uint64_t v) noexcept {
    while (!r->try_push(v)) cpu_relax();
  }
  uint64_t pop() noexcept {
    uint64_t v;
    while (!r->try_pop(v)) cpu_relax();
    return v;
  }
};
// atomic_queue in its fastest ("optimist") form: push/pop that wait on the slot itself. NIL is
// 0, so every benchmark sends values >= 1.
template <bool kSpsc>
struct AtomicQ {
  using Q = atomic_queue::AtomicQueue<uint64_t, kCap, uint64_t{0}, true, true, false, kSpsc>;
  std::unique_ptr<Q> q = std::make_unique<Q>();
  void push(uint64_t v) noexcept { q->push(v); }
  uint64_t pop() noexcept { return q->pop(); }
};
}  // namespace sluice::bench
