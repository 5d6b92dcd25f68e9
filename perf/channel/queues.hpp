// The queue adapters shared by sluice_ring_bench and sluice_rtt_rounds: push/pop that spin
// with the same pause instruction while full/empty, for our rings and for atomic_queue.
#pragma once

#include <sluice/sluice.hpp>

#include <cstdint>
#include <memory>
#include <thread>

#include <atomic_queue/atomic_queue.h>

#include "../common/bench_common.hpp"

namespace sluice::bench {

inline constexpr std::size_t kCap = 65536;       // same capacity for every queue
inline constexpr uint64_t kStop = ~uint64_t{0};  // a round-trip helper exits on this value

// One of our raw rings (SpscRing, MpscRing) made with kCap slots.
template <class Ring>
struct SluiceRing {
  std::unique_ptr<Ring> r = std::move(*Ring::make(kCap));
  void push(uint64_t v) noexcept {
    while (!r->try_push(v)) cpu_relax();
  }
  uint64_t pop() noexcept {
    uint64_t v;
    while (!r->try_pop(v)) cpu_relax();
    return v;
  }
};
using SluiceSpsc = SluiceRing<SpscRing<uint64_t>>;
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
using SluiceMpscShared = SluiceRing<MpscRing<uint64_t>>;
// atomic_queue in its fastest ("optimist") form: push/pop that wait on the slot itself. NIL is
// 0, so every benchmark sends values >= 1.
template <bool kSpsc>
struct AtomicQ {
  using Q = atomic_queue::AtomicQueue<uint64_t, kCap, uint64_t{0}, true, true, false, kSpsc>;
  std::unique_ptr<Q> q = std::make_unique<Q>();
  void push(uint64_t v) noexcept { q->push(v); }
  uint64_t pop() noexcept { return q->pop(); }
};

// Ping queue there, pong queue back: the constructor starts the helper on CPU 1 (it pops from
// ping and pushes to pong), step() is one round trip from the calling thread and says whether
// the right value came back, the destructor stops the helper. Shared by sluice_ring_bench's
// *_rtt and sluice_rtt_rounds so that both time the same loop.
template <class Q>
class QueueRtt {
 public:
  QueueRtt() {
    // By value: captured by reference, every pop would re-read the queue pointers from the
    // benchmark thread's stack, a line that thread writes (perf/RESULTS.md, 2026-11-21 part 7).
    helper_ = std::thread([ping = ping_.get(), pong = pong_.get()] {
      (void)pin_current_thread(1);
      for (;;) {
        uint64_t v = ping->pop();
        if (v == kStop) return;
        pong->push(v);
      }
    });
  }
  bool step() noexcept {
    ping_->push(++i_);
    return pong_->pop() == i_;
  }
  ~QueueRtt() {
    ping_->push(kStop);
    helper_.join();
  }
  QueueRtt(const QueueRtt&) = delete;
  QueueRtt& operator=(const QueueRtt&) = delete;

 private:
  std::unique_ptr<Q> ping_ = std::make_unique<Q>();
  std::unique_ptr<Q> pong_ = std::make_unique<Q>();
  uint64_t i_ = 0;  // values start at 1: atomic_queue's NIL is 0
  std::thread helper_;
};

// A plain thread wakes a task on a runtime (CPU 1, idle policy as given) through a Notify, and
// the task answers on a line of its own: the constructor starts the runtime thread, step() is
// one wake and answer, the destructor stops the task. Shared by BM_wake_*_rtt and
// sluice_rtt_rounds. Everything the two threads share is on the heap, on lines of its own, and
// the task gets pointers by value (see QueueRtt).
class WakeRtt {
 public:
  explicit WakeRtt(IdlePolicy policy) {
    rt_thread_ = std::thread([policy, n = to_task_.get(), a = answer_.get(), s = stop_.get()] {
      (void)pin_current_thread(1);
      RuntimeConfig cfg;
      cfg.idle = policy;
      Runtime rt(cfg);
      rt.block_on([](Notify* n, FloorLine* a, FloorLine* s) -> Task<> {
        uint64_t k = 0;
        for (;;) {
          co_await n->wait();
          // acquire: pairs with the release store of stop in the destructor.
          if (s->v.load(std::memory_order_acquire) != 0) co_return;
          a->v.store(++k, std::memory_order_release);  // release: the reply
        }
      }(n, a, s));
    });
  }
  void step() noexcept {
    to_task_->notify();
    ++k_;
    // acquire: pairs with the task's release store of the reply.
    while (answer_->v.load(std::memory_order_acquire) != k_) cpu_relax();
  }
  ~WakeRtt() {
    stop_->v.store(1, std::memory_order_release);  // release: seen by the task's acquire
    to_task_->notify();
    rt_thread_.join();
  }
  WakeRtt(const WakeRtt&) = delete;
  WakeRtt& operator=(const WakeRtt&) = delete;

 private:
  std::unique_ptr<Notify> to_task_ = std::make_unique<Notify>();
  std::unique_ptr<FloorLine> answer_ = std::make_unique<FloorLine>();  // written by the task
  std::unique_ptr<FloorLine> stop_ = std::make_unique<FloorLine>();    // read on every wake
  uint64_t k_ = 0;
  std::thread rt_thread_;
};

}  // namespace sluice::bench
