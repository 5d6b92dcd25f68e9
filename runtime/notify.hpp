// Notify: wake one task from any thread. One waiter at a time, one stored permit.
//
// This is the cross-thread wake primitive the spsc/mpsc channels build on. notify() from a
// plain thread or another runtime either leaves a permit (nobody waiting) or claims the
// waiting task and pushes it into its runtime's inbox, writing the runtime's eventfd only when
// that runtime announced it is parking.
//
// State: one word, written by notifiers and by a parking waiter's registration.
//   bits 24..63  notify sequence: every notify() adds one (kSeqStep)
//   bits  1..23  registration generation: bumped by each parked registration
//   bit   0      a task on a parking runtime is registered; its header is in waiter_
// The waiter side keeps seen_, the sequence up to which it has consumed notifies: a permit is
// stored exactly when the word's sequence differs from seen_. Notifies are not counted:
// several before a wait make one permit.
// * Why a sequence: consuming a permit is a write to seen_, on the waiter's own cache line,
//   not to the shared word. On a busy-polling runtime (Runtime::polls_waits) the waiter never
//   writes the word at all: it registers nothing, its runtime re-reads the word between task
//   batches, and the notifier's fetch_add is the only write. One line moves per wake, where a
//   "polled" state the waiter had to set and clear cost three transfers per round trip.
// * Parking runtimes: the waiter publishes its header in waiter_, then sets bit 0 with a CAS
//   that expects "no notify since seen_", so a notify can never slip between its check and its
//   registration (both sides are read-modify-writes of the word). A notifier that sees bit 0
//   reads waiter_ and claims it by clearing bit 0 with a CAS on the exact word it saw; the
//   generation makes that CAS fail if the registration it read was withdrawn and another one
//   made in between (ABA). A waiter destroyed while suspended (abort, timeout) clears bit 0
//   first if it can, and the notify stays a permit; if a notifier won, the task's memory is
//   kept (kRemoteArmed) until the inbox delivers the claim on the owner thread, so the
//   notifier never touches freed memory.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

#include "runtime.hpp"

namespace sluice {

class Notify {
 public:
  Notify() noexcept = default;
  Notify(const Notify&) = delete;
  Notify& operator=(const Notify&) = delete;

  // Any thread. Wakes the waiter, or leaves a permit for the next wait() if none is waiting.
  void notify() noexcept {
    // release: the notifier's writes happen-before the waiter's acquire load that sees this
    // sequence (a poll, try_acquire, or the claim below and the inbox hand-off). acquire:
    // if bit 0 is set, see the waiter_ store its registration CAS published.
    uint64_t w = word_.fetch_add(kSeqStep, std::memory_order_acq_rel) + kSeqStep;
    while (w & kParked) {
      // relaxed: ordered by the acquire of the read-modify-write that returned w.
      detail::TaskHeader* t = waiter_.load(std::memory_order_relaxed);
      // acquire on failure: the next w may carry a new registration (see above); on success
      // too, only because the failure order may not be stronger.
      if (word_.compare_exchange_weak(w, w & ~kParked, std::memory_order_acquire,
                                      std::memory_order_acquire)) {
        Runtime::wake_remote(t);
        return;
      }
    }
  }

  // Waiter side: consume a stored permit without waiting.
  bool try_acquire() noexcept {
    // acquire: pairs with notify()'s release; its writes are visible once we return true.
    uint64_t w = word_.load(std::memory_order_acquire) & kSeqMask;
    if (w == seen_) return false;
    seen_ = w;  // every notify up to w is consumed by this one permit
    return true;
  }

  struct Awaiter : detail::PollNode {
    Notify* n;
    detail::TaskHeader* me = nullptr;
    bool polled = false;
    explicit Awaiter(Notify* notify) noexcept : n(notify) {}
    bool await_ready() noexcept { return n->try_acquire(); }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      me = detail::tl_ctx.current;
      me->leaf = h;
      if (me->rt->polls_waits()) {
        // Nothing to write: the runtime polls word_ (permit_arrived) until the sequence moves.
        polled = true;
        poll_task = me;
        poll_ready = &Awaiter::permit_arrived;
        me->rt->add_poll(this);
        return true;
      }
      Runtime::arm_remote(me);
      // relaxed: published by the release half of the CAS below.
      n->waiter_.store(me, std::memory_order_relaxed);
      // acquire: if the sequence already moved, we take that notify and must see its writes.
      uint64_t w = n->word_.load(std::memory_order_acquire);
      for (;;) {
        if ((w & kSeqMask) != n->seen_) break;  // a notify arrived: take it, do not suspend
        uint64_t reg = (w & kSeqMask) | ((w + kGenStep) & kGenMask) | kParked;
        // acq_rel: release publishes waiter_ and the arming to the claiming notifier; on
        // failure (acquire) the next loop sees the writes of the notify that moved the
        // sequence. No fence against notify() is needed: both sides are read-modify-writes.
        if (n->word_.compare_exchange_weak(w, reg, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
          return true;
      }
      Runtime::disarm_remote(me);
      me = nullptr;
      n->seen_ = w & kSeqMask;
      return false;
    }
    static bool permit_arrived(detail::PollNode* p) noexcept {
      Notify* n = static_cast<Awaiter*>(p)->n;
      // acquire: pairs with notify()'s release; its writes are visible once we resume.
      return (n->word_.load(std::memory_order_acquire) & kSeqMask) != n->seen_;
    }
    void await_resume() noexcept {
      if (polled) {
        polled = false;
        n->try_acquire();  // the poll saw the sequence move: consume it
      } else if (me != nullptr) {
        // Woken by the claim of the first notify after our registration at seen_: consume
        // that one. Later notifies stay a permit, as they would had they come after the wake.
        n->seen_ += kSeqStep;
      }
      me = nullptr;
    }
    ~Awaiter() {
      if (me == nullptr) return;
      if (polled) {
        // Destroyed while polled (or fired but not yet resumed): stop polling. A notify that
        // already arrived stays a permit for the next wait (seen_ is untouched).
        me->rt->remove_poll(this);
        return;
      }
      // Destroyed while suspended: take the registration back unless a notifier claimed it.
      // relaxed load, acq_rel CAS: nothing is published by undoing our own registration;
      // acquire orders a later wait after the notifies we saw.
      uint64_t w = n->word_.load(std::memory_order_relaxed);
      while (w & kParked) {
        if (n->word_.compare_exchange_weak(w, w & ~kParked, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
          Runtime::disarm_remote(me);  // any notify meanwhile stays a permit
          return;
        }
      }
      // A notifier claimed us: kRemoteArmed stays set and the frame's memory is freed when
      // the inbox delivers. The notify it consumed is ours.
      n->seen_ += kSeqStep;
    }
  };
  // Completes once notify() has been called (after or before this wait started).
  Awaiter wait() noexcept { return Awaiter{this}; }

 private:
  static constexpr uint64_t kParked = 1;  // bit 0: a parked waiter is registered
  static constexpr uint64_t kGenStep = 2;
  static constexpr uint64_t kGenMask = (uint64_t{1} << 24) - 2;  // bits 1..23
  static constexpr uint64_t kSeqStep = uint64_t{1} << 24;        // one notify
  static constexpr uint64_t kSeqMask = ~((uint64_t{1} << 24) - 1);
  // alignas(64): word_ is written by notifiers and read by the waiter's poll; waiter_ rides
  // on the same line because a claiming notifier reads it right after word_.
  alignas(64) std::atomic<uint64_t> word_{0};
  std::atomic<detail::TaskHeader*> waiter_{nullptr};
  // alignas(64): the waiter side's own line. Consuming a permit writes only here, so it
  // never pulls the shared word away from a notifier.
  alignas(64) uint64_t seen_ = 0;
};

}  // namespace sluice
