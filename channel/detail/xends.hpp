// What every cross-thread channel kind (spsc, mpsc, spsc_bytes, mpsc_bytes) shares around its
// ring: one wait queue per side, the close flags, the sender count and the reference count;
// the endpoint handles that keep them; and the awaitable that tries inline before it waits.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <optional>
#include <utility>

#include "../../runtime/task.hpp"
#include "../ring_memory.hpp"
#include "xwait.hpp"

namespace sluice::detail {

struct XEnds {
  // alignas(kFalseShareBytes): each queue is written by one side's slow path and read by the
  // other side's hot path; keep them off the ring's lines and off each other's.
  alignas(kFalseShareBytes) XWaitQueue rx_wait;  // the receiver parks here (senders wake it)
  alignas(kFalseShareBytes) XWaitQueue tx_wait;  // senders park here when there is no room
  // alignas(kFalseShareBytes): read-mostly flags, written once at close.
  alignas(kFalseShareBytes) std::atomic<bool> rx_closed{false};  // the receiver is gone
  std::atomic<bool> tx_closed{false};                            // every sender is gone
  std::atomic<uint32_t> senders{1};
  std::atomic<uint32_t> refs{2};  // one for all senders together, one for the receiver

  // After publishing data: wake the receiver if it is parked.
  void wake_receiver() noexcept {
    // seq_cst: publishing half of the handshake with XWaitAwaiter / block_on_queue.
    full_fence();
    if (rx_wait.any()) [[unlikely]]
      rx_wait.wake_one();
  }
  // After freeing room: wake one parked sender (typed: one slot), or all of them (bytes: the
  // room may fit several senders, each needing its own size).
  void wake_senders(bool all) noexcept {
    full_fence();  // seq_cst: as in wake_receiver
    if (tx_wait.any()) [[unlikely]] {
      if (all)
        tx_wait.wake_all();
      else
        tx_wait.wake_one();
    }
  }
  // acquire: a sender that sees the close also sees everything before it.
  bool receiver_gone() const noexcept { return rx_closed.load(std::memory_order_acquire); }
  // acquire: pairs with the last sender's release store; its data is visible first.
  bool senders_gone() const noexcept { return tx_closed.load(std::memory_order_acquire); }

  void close_tx() noexcept {
    tx_closed.store(true, std::memory_order_release);  // release: our data comes first
    full_fence();                                      // seq_cst: as in wake_receiver
    rx_wait.wake_all();
  }
  void close_rx() noexcept {
    rx_closed.store(true, std::memory_order_release);  // release: pairs with receiver_gone
    full_fence();                                      // seq_cst: as in wake_senders
    tx_wait.wake_all();
    // The Receiver's own recv() may still be suspended in some task (it holds a reference on
    // the state, see StateRef): it completes with Closed.
    rx_wait.wake_all();
  }
};

// Drops one reference; the last one deletes the state (its concrete type).
template <class State>
void unref_state(State* s) noexcept {
  // acq_rel: the last owner sees every write of the other before destroying.
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
}

// An in-flight slow operation's hold on the state, so the endpoint it came from may be
// destroyed while it waits without the state (and the wait queue it is parked on) going too.
template <class State>
class StateRef {
 public:
  explicit StateRef(State* s) noexcept : s_(s) {
    // relaxed: the caller's endpoint already holds a reference, so the count is above 0.
    s_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  StateRef(const StateRef&) = delete;
  StateRef& operator=(const StateRef&) = delete;
  ~StateRef() { unref_state(s_); }

 private:
  State* s_;
};

// A sender's hold on the state. kCloneable: copies are more senders (mpsc kinds).
template <class State, bool kCloneable>
class SenderRef {
 public:
  SenderRef() noexcept = default;
  explicit SenderRef(State* s) noexcept : s_(s) {}
  SenderRef(SenderRef&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  SenderRef& operator=(SenderRef&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  SenderRef(const SenderRef& o) noexcept requires kCloneable : s_(o.s_) {
    // relaxed: copied from a live sender, which already holds the count above 0.
    if (s_) s_->senders.fetch_add(1, std::memory_order_relaxed);
  }
  SenderRef& operator=(const SenderRef& o) noexcept requires kCloneable {
    SenderRef tmp(o);
    std::swap(s_, tmp.s_);
    return *this;
  }
  ~SenderRef() { reset(); }

  // One more sender on a live state (the caller holds one): an in-flight operation that must
  // keep the channel open until it completes.
  static SenderRef adopt_another(State* s) noexcept {
    // relaxed: the caller's sender already holds the count above 0.
    s->senders.fetch_add(1, std::memory_order_relaxed);
    return SenderRef(s);
  }

  bool is_closed() const noexcept { return s_->receiver_gone(); }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 protected:
  void reset() noexcept {
    State* s = std::exchange(s_, nullptr);
    if (s == nullptr) return;
    // acq_rel: the last sender's close happens after every other sender's data.
    if (s->senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      s->close_tx();
      unref_state(s);
    }
  }
  State* s_ = nullptr;
};

// The receiver's hold on the state (move-only).
template <class State>
class ReceiverRef {
 public:
  ReceiverRef() noexcept = default;
  explicit ReceiverRef(State* s) noexcept : s_(s) {}
  ReceiverRef(ReceiverRef&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  ReceiverRef& operator=(ReceiverRef&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ReceiverRef(const ReceiverRef&) = delete;
  ReceiverRef& operator=(const ReceiverRef&) = delete;
  ~ReceiverRef() { reset(); }

  bool is_closed() const noexcept { return s_->senders_gone(); }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 protected:
  void reset() noexcept {
    State* s = std::exchange(s_, nullptr);
    if (s == nullptr) return;
    s->close_rx();
    unref_state(s);
  }
  State* s_ = nullptr;
};

// `co_await` form of an operation that first tries inline and, when that is not final (Full,
// Empty), runs a slow coroutine that parks and retries. attempt() returns the final result or
// nullopt; make_slow() returns the Task<R>. The slow frame comes from the runtime's slab.
template <class R, class Attempt, class MakeSlow>
class [[nodiscard]] TryOrWaitOp {
 public:
  TryOrWaitOp(Attempt attempt, MakeSlow make_slow) noexcept
      : attempt_(std::move(attempt)), make_slow_(std::move(make_slow)) {}
  bool await_ready() {
    done_ = attempt_();
    return done_.has_value();
  }
  void await_suspend(std::coroutine_handle<> h) {
    slow_ = make_slow_();
    std::move(slow_).operator co_await().await_suspend(h);
  }
  R await_resume() {
    if (done_) return std::move(*done_);
    return std::move(slow_).operator co_await().await_resume();
  }

 private:
  Attempt attempt_;
  MakeSlow make_slow_;
  std::optional<R> done_;
  Task<R> slow_;
};

template <class R, class Attempt, class MakeSlow>
TryOrWaitOp<R, Attempt, MakeSlow> try_or_wait(Attempt a, MakeSlow m) noexcept {
  return TryOrWaitOp<R, Attempt, MakeSlow>(std::move(a), std::move(m));
}

}  // namespace sluice::detail
