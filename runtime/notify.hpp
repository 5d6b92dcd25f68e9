// Notify: wake one task from any thread. One waiter at a time, one stored permit.
//
// This is the cross-thread wake primitive the spsc/mpsc channels build on. notify() from a
// plain thread or another runtime either leaves a permit (nobody waiting) or claims the
// waiting task and pushes it into its runtime's inbox, writing the runtime's eventfd only when
// that runtime announced it is parking.
//
// State: one word, written by notifiers and by a parking waiter's registration.
//   bits 1..63  a counter: every notify() adds one step (kStep), and so does every parked
//               registration
//   bit  0      a task on a parking runtime is registered; its header is in waiter_
// The waiter side keeps seen_, the counter up to which it has consumed notifies: a permit is
// stored exactly when the word's counter differs from seen_. Notifies are not counted:
// several before a wait make one permit.
// * Why a counter: consuming a permit is a write to seen_, on the waiter's own cache line,
//   not to the shared word. On a busy-polling runtime (Runtime::polls_waits) the waiter never
//   writes the word at all: it registers nothing, its runtime re-reads the word between task
//   batches, and the notifier's fetch_add is the only write. One line moves per wake, where a
//   "polled" state the waiter had to set and clear cost three transfers per round trip.
// * Parking runtimes: the waiter publishes its header in waiter_ (and the counter value its
//   registration will make in reg_), then sets bit 0 and adds its own step with a CAS that
//   expects "no notify since seen_", so a notify can never slip between its check and its
//   registration (both sides are read-modify-writes of the word). A notifier that sees bit 0
//   reads waiter_ and claims it by clearing bit 0 with a CAS on the exact word it saw.
// * ABA. Every registration moves the counter, so a claim CAS that read one registration can
//   never succeed on a later one: that would need 2^63 steps while the notifier is preempted.
//   (Until 2026-11-29 a 23-bit generation did this; 2^23 withdrawn registrations while one
//   notifier sleeps is few enough to happen.) And a notifier that failed its CAS and finds a
//   registration made after its own step does not claim it: that registration could only be
//   made once the waiter had consumed every notify up to it, this one included, so waking it
//   would be a second wake for one notify.
// * A waiter destroyed while suspended (abort, timeout) clears bit 0 first if it can, and the
//   notify stays a permit. If a notifier won, the task's memory is kept (kRemoteArmed) until
//   the inbox delivers the claim on the owner thread, so the notifier never touches freed
//   memory; the notify it spent on the dead waiter also stays a permit, so the next wait sees
//   it (a wake is never lost with a cancelled waiter).
// * One waiter at a time: a second task suspending while one waits stops with a message (it
//   would silently replace the first, which then hangs its runtime's destructor).
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
    // step (a poll, try_acquire, or the claim below and the inbox hand-off). acquire: if bit 0
    // is set, see the waiter_ and reg_ stores its registration CAS published.
    const uint64_t mine = word_.fetch_add(kStep, std::memory_order_acq_rel) + kStep;
    uint64_t w = mine;
    while (w & kParked) {
      // relaxed: ordered by the acquire of the read-modify-write that returned w.
      detail::TaskHeader* t = waiter_.load(std::memory_order_relaxed);
      // A registration made after our step consumed our notify before it parked (see top).
      if (reg_.load(std::memory_order_relaxed) > (mine & kCountMask)) return;
      // acquire on failure: the next w may carry a new registration (see above); on success
      // too, only because the failure order may not be stronger.
      if (word_.compare_exchange_weak(w, w & ~kParked, std::memory_order_acquire,
                                      std::memory_order_acquire)) {
        Runtime::wake_remote(t);
        return;
      }
    }
  }

  // Waiter side: consume a stored permit without waiting. Not while a task waits on this
  // Notify (that would be a second consumer; checked builds stop).
  bool try_acquire() noexcept {
#if SLUICE_CHECKED
    check_no_waiter("Notify::try_acquire");
#endif
    return take_permit();
  }

  class [[nodiscard]] Awaiter : detail::PollNode {
   public:
    explicit Awaiter(Notify* notify) noexcept : n(notify) {}
    Awaiter(const Awaiter&) = delete;
    Awaiter& operator=(const Awaiter&) = delete;
    bool await_ready() noexcept {
#if SLUICE_CHECKED
      n->check_no_waiter("Notify::wait");
#endif
      return n->take_permit();
    }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      // relaxed: only the waiter side writes it; the exchange detects a second waiter, also one
      // on another thread (which is misuse either way).
      if (n->waiting_.exchange(true, std::memory_order_relaxed))
        detail::fatal(
            "Notify: a second task waits on a Notify while another one waits (one waiter at a "
            "time; use one Notify per waiter)");
      me = detail::tl_ctx.current;
      me->leaf = h;
      if (me->rt->polls_waits()) {
        // Nothing to write: the runtime polls word_ (permit_arrived) until the counter moves.
        polled = true;
        poll_task = me;
        poll_ready = &Awaiter::permit_arrived;
        me->rt->add_poll(this);
        return true;
      }
      Runtime::arm_remote(me);
      // acquire: if the counter already moved, we take that notify and must see its writes.
      uint64_t w = n->word_.load(std::memory_order_acquire);
      for (;;) {
        if ((w & kCountMask) != n->seen_) break;  // a notify arrived: take it, do not suspend
        const uint64_t reg = (w & kCountMask) + kStep;
        // relaxed: published by the release half of the CAS below.
        n->waiter_.store(me, std::memory_order_relaxed);
        n->reg_.store(reg, std::memory_order_relaxed);
        // acq_rel: release publishes waiter_, reg_ and the arming to the claiming notifier; on
        // failure (acquire) the next loop sees the writes of the notify that moved the
        // counter. No fence against notify() is needed: both sides are read-modify-writes.
        if (n->word_.compare_exchange_weak(w, reg | kParked, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
          n->seen_ = reg;  // our own step is not a notify
          reg_at = reg;
          return true;
        }
      }
      Runtime::disarm_remote(me);
      me = nullptr;
      n->seen_ = w & kCountMask;
      n->waiting_.store(false, std::memory_order_relaxed);  // relaxed: as the exchange above
      return false;
    }
    void await_resume() noexcept {
      if (me == nullptr) return;  // completed without suspending
      if (polled) {
        polled = false;
        (void)n->take_permit();  // the poll saw the counter move: consume it
      } else {
        // Woken by the claim of the first notify after our registration: consume that one.
        // Later notifies stay a permit, as they would had they come after the wake. max: if
        // something consumed permits between the claim and now (misuse: a try_acquire while
        // we wait), seen_ must still never pass the word's counter.
        if (n->seen_ < reg_at + kStep) n->seen_ = reg_at + kStep;
      }
      me = nullptr;
      n->waiting_.store(false, std::memory_order_relaxed);  // relaxed: waiter side only
    }
    ~Awaiter() {
      if (me == nullptr) return;
      n->waiting_.store(false, std::memory_order_relaxed);  // relaxed: waiter side only
      if (polled) {
        // Destroyed while polled (or fired but not yet resumed): stop polling. A notify that
        // already arrived stays a permit for the next wait (seen_ is untouched).
        me->rt->remove_poll(this);
        return;
      }
      // Destroyed while suspended: take the registration back unless a notifier claimed it.
      // relaxed load, acquire CAS: nothing is published by undoing our own registration;
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
      // the inbox delivers. seen_ stays at our registration, so the notify that claimed us is
      // a permit for the next wait: the wake passes on instead of dying with this waiter.
    }

   private:
    static bool permit_arrived(detail::PollNode* p) noexcept {
      Notify* n = static_cast<Awaiter*>(p)->n;
      // acquire: pairs with notify()'s release; its writes are visible once we resume.
      return (n->word_.load(std::memory_order_acquire) & kCountMask) != n->seen_;
    }
    Notify* n;
    detail::TaskHeader* me = nullptr;
    uint64_t reg_at = 0;  // the counter value our registration made (parked waits)
    bool polled = false;
  };
  // Completes once notify() has been called (after or before this wait started).
  [[nodiscard]] Awaiter wait() noexcept { return Awaiter{this}; }

 private:
  bool take_permit() noexcept {
    // acquire: pairs with notify()'s release; its writes are visible once we return true.
    const uint64_t w = word_.load(std::memory_order_acquire) & kCountMask;
    if (w == seen_) return false;
    seen_ = w;  // every notify up to w is consumed by this one permit
    return true;
  }
  void check_no_waiter(const char* what) const noexcept {
    // relaxed: the waiter side's own flag (a misuse check, not a hand-off).
    if (waiting_.load(std::memory_order_relaxed))
      detail::fatal(what, "a task already waits on this Notify (one consumer at a time)");
  }

  static constexpr uint64_t kParked = 1;  // bit 0: a parked waiter is registered
  static constexpr uint64_t kStep = 2;    // one notify, or one registration
  static constexpr uint64_t kCountMask = ~kParked;
  // alignas(64): word_ is written by notifiers and read by the waiter's poll; waiter_ and
  // reg_ ride on the same line because a claiming notifier reads them right after word_.
  alignas(64) std::atomic<uint64_t> word_{0};
  std::atomic<detail::TaskHeader*> waiter_{nullptr};
  std::atomic<uint64_t> reg_{0};  // the counter value the current registration made
  // alignas(64): the waiter side's own line. Consuming a permit writes only here, so it
  // never pulls the shared word away from a notifier.
  alignas(64) uint64_t seen_ = 0;
  std::atomic<bool> waiting_{false};  // a waiter is suspended (one at a time)
};

}  // namespace sluice
