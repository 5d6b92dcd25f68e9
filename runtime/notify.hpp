// Notify: wake one task from any thread. One waiter at a time, one stored permit.
//
// This is the cross-thread wake primitive the spsc/mpsc channels build on. notify() from a
// plain thread or another runtime either stores a permit (nobody waiting) or claims the
// waiting task and pushes it into its runtime's inbox, writing the runtime's eventfd only when
// that runtime announced it is parking.
//
// State word: 0 = idle, 1 = permit stored, 2 = a task on a busy-polling runtime is waiting
// (polled), otherwise the waiting task's TaskHeader*.
// * Parking runtimes: a waiter destroyed while suspended (abort, timeout) takes its pointer
//   back with a CAS; if a notifier already claimed it, the task's memory is kept
//   (kRemoteArmed) until the inbox delivers that claim on the owner thread, so the notifier
//   never touches freed memory.
// * Busy-polling runtimes (Runtime::polls_waits): the waiter stores "polled" and its runtime
//   re-reads the state word between task batches; notify() only turns it into a permit. The
//   notifier touches no task memory and no inbox: one cache line moves each way, instead of
//   the five or six of an inbox wake. A polled waiter destroyed after a notify leaves that
//   notify as a stored permit (nothing is lost).
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

  // Any thread. Wakes the waiter, or stores a permit for the next wait() if none is waiting.
  void notify() noexcept {
    // No load first: guess "polled" and let the CAS fetch the real value. A load would pull
    // the line in shared and the CAS would then need a second transfer to own it; on the busy
    // path that is one cross-core trip out of three. A wrong guess costs nothing extra: the
    // failed CAS returns the value (acquire: see a parked waiter's header) and owns the line.
    uintptr_t s = kPolled;
    for (;;) {
      if (s == kPermit) return;
      if (s == kPolled) {
        // release: the notifier's writes happen-before the poller's acquire load of the permit.
        // Still a CAS, not a store: the word may meanwhile hold a parked waiter's pointer.
        if (state_.compare_exchange_weak(s, kPermit, std::memory_order_release,
                                         std::memory_order_acquire))
          return;
        continue;
      }
      if (s == kIdle) {
        // release: the notifier's writes before notify() happen-before the waiter's resume.
        if (state_.compare_exchange_weak(s, kPermit, std::memory_order_release,
                                         std::memory_order_acquire))
          return;
        continue;
      }
      // acq_rel: claim the waiter (acquire its registration) and publish our writes.
      if (state_.compare_exchange_weak(s, kIdle, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        Runtime::wake_remote(reinterpret_cast<detail::TaskHeader*>(s));
        return;
      }
    }
  }

  // Owner: consume a stored permit without waiting.
  bool try_acquire() noexcept {
    // A plain load first: a failed CAS still takes the line exclusive, which would pull it
    // away from a notifier on every wait. relaxed: the CAS below is what acquires.
    if (state_.load(std::memory_order_relaxed) != kPermit) return false;
    uintptr_t s = kPermit;
    // acquire: pairs with notify()'s release.
    return state_.compare_exchange_strong(s, kIdle, std::memory_order_acquire,
                                          std::memory_order_relaxed);
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
      if (me->rt->polls_waits()) return suspend_polled();
      Runtime::arm_remote(me);
      uintptr_t expected = kIdle;
      // seq_cst: registration vs. notify's load is a store-then-load handshake.
      if (n->state_.compare_exchange_strong(expected, reinterpret_cast<uintptr_t>(me),
                                            std::memory_order_seq_cst, std::memory_order_acquire))
        return true;
      // A permit arrived meanwhile (only one waiter may wait, so it is not another task).
      Runtime::disarm_remote(me);
      me = nullptr;
      n->try_acquire();
      return false;
    }
    bool suspend_polled() noexcept {
      uintptr_t expected = kIdle;
      // acquire: on failure a permit arrived, which we consume below and whose writes we must
      // see. On success nothing is needed: a busy runtime never sleeps, so this registration
      // needs no store-then-load fence, and the poll's acquire load orders the notifier's
      // writes (acquire on success too only because the failure order may not be stronger).
      if (!n->state_.compare_exchange_strong(expected, kPolled, std::memory_order_acquire,
                                             std::memory_order_acquire)) {
        n->try_acquire();  // the permit (only one waiter may wait, so it is not a pointer)
        me = nullptr;
        return false;
      }
      polled = true;
      poll_task = me;
      poll_ready = &Awaiter::permit_arrived;
      me->rt->add_poll(this);
      return true;
    }
    static bool permit_arrived(detail::PollNode* p) noexcept {
      // acquire: pairs with notify()'s release CAS; its writes are visible once we resume.
      return static_cast<Awaiter*>(p)->n->state_.load(std::memory_order_acquire) == kPermit;
    }
    void await_resume() noexcept {
      if (polled) {
        // Woken by the poll, so the word holds the permit, and notifiers leave a permit alone:
        // nobody else writes it now. relaxed: the poll's acquire load already synchronised.
        n->state_.store(kIdle, std::memory_order_relaxed);
        polled = false;
      }
      me = nullptr;
    }
    ~Awaiter() {
      if (me == nullptr) return;
      if (polled) {
        // Destroyed while polled (or fired but not yet resumed): stop polling. If a notify
        // already turned the word into a permit, the permit stays for the next wait.
        me->rt->remove_poll(this);
        uintptr_t expected = kPolled;
        // relaxed: only undoes our own registration; nothing is published.
        n->state_.compare_exchange_strong(expected, kIdle, std::memory_order_relaxed,
                                          std::memory_order_relaxed);
        return;
      }
      // Destroyed while suspended. Take the registration back if nobody claimed it.
      uintptr_t expected = reinterpret_cast<uintptr_t>(me);
      // acquire: on failure, a notifier claimed us; its inbox push is on its way.
      if (n->state_.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
        Runtime::disarm_remote(me);
      // else: kRemoteArmed stays set; the frame's memory is freed when the inbox delivers.
    }
  };
  // Completes once notify() has been called (after or before this wait started).
  Awaiter wait() noexcept { return Awaiter{this}; }

 private:
  static constexpr uintptr_t kIdle = 0;
  static constexpr uintptr_t kPermit = 1;
  static constexpr uintptr_t kPolled = 2;  // TaskHeaders are 16-aligned: never a pointer
  // alignas(64): touched by two threads; keep it off its neighbours' cache lines.
  alignas(64) std::atomic<uintptr_t> state_{kIdle};
};

}  // namespace sluice
