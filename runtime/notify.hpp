// Notify: wake one task from any thread. One waiter at a time, one stored permit.
//
// This is the cross-thread wake primitive the spsc/mpsc channels build on. notify() from a
// plain thread or another runtime either stores a permit (nobody waiting) or claims the
// waiting task and pushes it into its runtime's inbox, writing the runtime's eventfd only when
// that runtime announced it is parking.
//
// State word: 0 = idle, 1 = permit stored, otherwise the waiting task's TaskHeader*.
// A waiter destroyed while suspended (abort, timeout) takes its pointer back with a CAS; if a
// notifier already claimed it, the task's memory is kept (kRemoteArmed) until the inbox
// delivers that claim on the owner thread, so the notifier never touches freed memory.
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
    uintptr_t s = state_.load(std::memory_order_acquire);  // acquire: see the waiter's header
    for (;;) {
      if (s == kPermit) return;
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
    uintptr_t s = kPermit;
    // acquire: pairs with notify()'s release.
    return state_.compare_exchange_strong(s, kIdle, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  struct Awaiter {
    Notify* n;
    detail::TaskHeader* me = nullptr;
    bool await_ready() noexcept { return n->try_acquire(); }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      me = detail::tl_ctx.current;
      me->leaf = h;
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
    void await_resume() noexcept { me = nullptr; }
    ~Awaiter() {
      if (me == nullptr) return;
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
  // alignas(64): touched by two threads; keep it off its neighbours' cache lines.
  alignas(64) std::atomic<uintptr_t> state_{kIdle};
};

}  // namespace sluice
