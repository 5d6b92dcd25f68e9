// The machinery shared by spsc::channel and mpsc::channel: a ring plus two XWaitQueues (one per
// side), close flags and reference counts, and the endpoints. Either endpoint may be used from
// a task on any runtime or from a plain thread; they may be on different threads.
//
// Hot paths: try_send = rx_closed check + ring push + seq_cst fence + one relaxed load (is a
// receiver parked?); try_recv = ring pop + seq_cst fence + one relaxed load (is a sender
// parked?). The fences are the publishing side of the store-then-load handshake in xwait.hpp.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "../../runtime/result.hpp"
#include "../../runtime/task.hpp"
#include "../error.hpp"
#include "../ring_memory.hpp"
#include "ring_slot.hpp"
#include "xwait.hpp"

namespace sluice::detail {

// Spins before a plain thread parks in the kernel (cheap compared with a futex round trip).
inline constexpr int kThreadSpins = 2048;

template <class T, class Ring>
struct XState : Ring {
  XState(RingSlot<T>* slots, uint64_t cap, RingMemory mem) noexcept : Ring(slots, cap, mem) {}

  // alignas(kFalseShareBytes): each queue is written by one side's slow path and read by the
  // other side's hot path; keep them off the ring's lines and off each other's.
  alignas(kFalseShareBytes) XWaitQueue rx_wait;  // the receiver parks here (senders wake it)
  alignas(kFalseShareBytes) XWaitQueue tx_wait;  // senders park here when full
  // alignas(kFalseShareBytes): read-mostly flags, written once at close.
  alignas(kFalseShareBytes) std::atomic<bool> rx_closed{false};  // the receiver is gone
  std::atomic<bool> tx_closed{false};                            // every sender is gone
  std::atomic<uint32_t> senders{1};
  std::atomic<uint32_t> refs{2};  // one for all senders together, one for the receiver

  static Result<XState*, ChannelError> create(std::size_t capacity, RingMemory mem) {
    auto cap = ring_capacity(capacity);
    if (!cap) return err(cap.error());
    auto* slots = Ring::alloc_slots(*cap, mem);
    if (slots == nullptr) return err(ChannelError::OutOfMemory);
    auto* s = new (std::nothrow) XState(slots, *cap, mem);
    if (s == nullptr) {
      Ring::free_slots(slots, *cap, mem);
      return err(ChannelError::OutOfMemory);
    }
    return s;
  }
  void unref() noexcept {
    // acq_rel: the last owner sees every write of the other before destroying.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // After a push: wake the receiver if it is parked.
  void after_push() noexcept {
    // seq_cst: publishing half of the handshake with XWaitAwaiter / recv_blocking.
    full_fence();
    if (rx_wait.any()) [[unlikely]]
      rx_wait.wake_one();
  }
  // After a pop: wake a parked sender, if any.
  void after_pop() noexcept {
    // seq_cst: as in after_push, for blocked senders.
    full_fence();
    if (tx_wait.any()) [[unlikely]]
      tx_wait.wake_one();
  }
  // For a parked sender: room, or nobody will ever receive.
  bool send_ready() const noexcept {
    // acquire: a sender that sees the close also sees everything before it.
    return rx_closed.load(std::memory_order_acquire) || this->size() < this->capacity();
  }
  // For a parked receiver: a value at the head, or every sender gone.
  bool recv_ready() const noexcept {
    // acquire: pairs with the last sender's release store (its values are visible first).
    return !this->empty() || tx_closed.load(std::memory_order_acquire);
  }

  Result<void, SendError<T>> try_send(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    // acquire: see send_ready.
    if (rx_closed.load(std::memory_order_acquire)) [[unlikely]]
      return err(SendError<T>{SendErrc::Closed, std::move(v)});
    if (!this->try_push(std::move(v))) return err(SendError<T>{SendErrc::Full, std::move(v)});
    after_push();
    return {};
  }
  Result<T, RecvError> try_recv() noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (std::optional<T> v = this->try_pop()) {
      after_pop();
      return std::move(*v);
    }
    // acquire: the last sender's pushes happen-before its close; re-check once after seeing it
    // so the value sent just before the close is never lost.
    if (tx_closed.load(std::memory_order_acquire)) {
      if (std::optional<T> v = this->try_pop()) {
        after_pop();
        return std::move(*v);
      }
      return err(RecvError::Closed);
    }
    return err(RecvError::Empty);
  }

  void close_tx() noexcept {
    tx_closed.store(true, std::memory_order_release);  // release: our pushes come first
    full_fence();                                      // seq_cst: as in after_push
    rx_wait.wake_all();
  }
  void close_rx() noexcept {
    rx_closed.store(true, std::memory_order_release);  // release: pairs with send_ready
    full_fence();                                      // seq_cst: as in after_pop
    tx_wait.wake_all();
  }
};

// Plain-thread blocking: retry `attempt` (returns the final result, or nullopt to go on), spin
// a while, then park on q until `ready` may hold. Shared by send_blocking and recv_blocking.
template <class Attempt, class Ready>
auto block_on_queue(XWaitQueue& q, Attempt attempt, Ready ready) {
  for (int i = 0;; ++i) {
    if (auto r = attempt()) return std::move(*r);
    if (i < kThreadSpins) {
      __builtin_ia32_pause();
      continue;
    }
    const uint32_t e = q.add_thread();
    full_fence();  // seq_cst: registration before the re-check, see xwait.hpp
    if (!ready()) q.wait_thread(e);
    q.remove_thread();
  }
}

// Slow paths as coroutines: a woken side re-checks and may have to wait again (another sender
// took the slot, or the head slot belongs to a producer that has not published yet), which a
// single awaiter cannot express. Their frames come from the runtime's slab.
template <class T, class Ring>
Task<Result<void, SendError<T>>> send_slow(XState<T, Ring>* s, T v) {
  for (;;) {
    co_await XWaitAwaiter(&s->tx_wait, [s] { return s->send_ready(); });
    auto r = s->try_send(std::move(v));
    if (r || r.error().code == SendErrc::Closed) co_return r;
    v = std::move(r.error().value);
  }
}
template <class T, class Ring>
Task<Result<T, RecvError>> recv_slow(XState<T, Ring>* s) {
  for (;;) {
    co_await XWaitAwaiter(&s->rx_wait, [s] { return s->recv_ready(); });
    auto r = s->try_recv();
    if (r || r.error() == RecvError::Closed) co_return r;
  }
}

// `co_await tx.send(v)`: the fast path is inline; only a full ring starts the slow coroutine.
template <class T, class Ring>
class XSendOp {
  using R = Result<void, SendError<T>>;

 public:
  XSendOp(XState<T, Ring>* s, T&& v) noexcept(std::is_nothrow_move_constructible_v<T>)
      : s_(s), v_(std::move(v)) {}
  bool await_ready() {
    auto r = s_->try_send(std::move(v_));
    if (r || r.error().code == SendErrc::Closed) {
      done_.emplace(std::move(r));
      return true;
    }
    v_ = std::move(r.error().value);
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    slow_ = send_slow<T, Ring>(s_, std::move(v_));
    std::move(slow_).operator co_await().await_suspend(h);
  }
  R await_resume() {
    if (done_) return std::move(*done_);
    return std::move(slow_).operator co_await().await_resume();
  }

 private:
  XState<T, Ring>* s_;
  T v_;
  std::optional<R> done_;
  Task<R> slow_;
};

template <class T, class Ring>
class XRecvOp {
  using R = Result<T, RecvError>;

 public:
  explicit XRecvOp(XState<T, Ring>* s) noexcept : s_(s) {}
  bool await_ready() {
    auto r = s_->try_recv();
    if (r || r.error() == RecvError::Closed) {
      done_.emplace(std::move(r));
      return true;
    }
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    slow_ = recv_slow<T, Ring>(s_);
    std::move(slow_).operator co_await().await_suspend(h);
  }
  R await_resume() {
    if (done_) return std::move(*done_);
    return std::move(slow_).operator co_await().await_resume();
  }

 private:
  XState<T, Ring>* s_;
  std::optional<R> done_;
  Task<R> slow_;
};

// Sender endpoint. kCloneable: mpsc senders can be copied (each copy is another producer).
template <class T, class Ring, bool kCloneable>
class XSender {
  using State = XState<T, Ring>;

 public:
  using value_type = T;
  XSender() noexcept = default;
  explicit XSender(State* s) noexcept : s_(s) {}
  XSender(XSender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  XSender& operator=(XSender&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  XSender(const XSender& o) noexcept requires kCloneable : s_(o.s_) {
    // relaxed: the copy is made from a live sender, which already holds the count above 0.
    if (s_) s_->senders.fetch_add(1, std::memory_order_relaxed);
  }
  XSender& operator=(const XSender& o) noexcept requires kCloneable {
    XSender tmp(o);
    std::swap(s_, tmp.s_);
    return *this;
  }
  ~XSender() { reset(); }

  // Never blocks. Full or Closed hand the value back.
  Result<void, SendError<T>> try_send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return s_->try_send(std::move(v));
  }
  // Task: suspends while full. Closed (with the value) once the receiver is gone.
  XSendOp<T, Ring> send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return XSendOp<T, Ring>(s_, std::move(v));
  }
  // Plain thread: spins, then sleeps in std::atomic::wait while full.
  Result<void, SendError<T>> send_blocking(T v) {
    using R = Result<void, SendError<T>>;
    return block_on_queue(
        s_->tx_wait,
        [&]() -> std::optional<R> {
          auto r = s_->try_send(std::move(v));
          if (r || r.error().code == SendErrc::Closed) return std::optional<R>(std::move(r));
          v = std::move(r.error().value);  // Full: keep the value for the next try
          return std::nullopt;
        },
        [this] { return s_->send_ready(); });
  }

  bool is_closed() const noexcept { return s_->rx_closed.load(std::memory_order_acquire); }
  std::size_t capacity() const noexcept { return s_->capacity(); }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  void reset() noexcept {
    State* s = std::exchange(s_, nullptr);
    if (s == nullptr) return;
    // acq_rel: the last sender's close happens after every other sender's pushes.
    if (s->senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      s->close_tx();
      s->unref();
    }
  }
  State* s_ = nullptr;
};

template <class T, class Ring>
class XReceiver {
  using State = XState<T, Ring>;

 public:
  XReceiver() noexcept = default;
  explicit XReceiver(State* s) noexcept : s_(s) {}
  XReceiver(XReceiver&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  XReceiver& operator=(XReceiver&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  XReceiver(const XReceiver&) = delete;
  XReceiver& operator=(const XReceiver&) = delete;
  ~XReceiver() { reset(); }

  // Never blocks: Empty while senders live, Closed once they are all gone and it is drained.
  Result<T, RecvError> try_recv() noexcept(std::is_nothrow_move_constructible_v<T>) {
    return s_->try_recv();
  }
  // Task: suspends while empty.
  XRecvOp<T, Ring> recv() noexcept { return XRecvOp<T, Ring>(s_); }
  // Plain thread: spins, then sleeps in std::atomic::wait while empty.
  Result<T, RecvError> recv_blocking() {
    using R = Result<T, RecvError>;
    return block_on_queue(
        s_->rx_wait,
        [this]() -> std::optional<R> {
          auto r = s_->try_recv();
          if (r || r.error() == RecvError::Closed) return std::optional<R>(std::move(r));
          return std::nullopt;
        },
        [this] { return s_->recv_ready(); });
  }

  bool is_closed() const noexcept { return s_->tx_closed.load(std::memory_order_acquire); }
  std::size_t capacity() const noexcept { return s_->capacity(); }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  void reset() noexcept {
    State* s = std::exchange(s_, nullptr);
    if (s == nullptr) return;
    s->close_rx();
    s->unref();
  }
  State* s_ = nullptr;
};

template <class T, class Ring, bool kCloneable>
struct XChannel {
  XSender<T, Ring, kCloneable> tx;
  XReceiver<T, Ring> rx;
};

template <class T, class Ring, bool kCloneable>
Result<XChannel<T, Ring, kCloneable>, ChannelError> make_xchannel(std::size_t capacity,
                                                                  RingMemory mem) {
  auto s = XState<T, Ring>::create(capacity, mem);
  if (!s) return err(s.error());
  return XChannel<T, Ring, kCloneable>{XSender<T, Ring, kCloneable>(*s), XReceiver<T, Ring>(*s)};
}

}  // namespace sluice::detail
