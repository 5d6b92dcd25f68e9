// local::channel<T>: bounded channel between tasks of one runtime. No atomics, no locks.
//
// Senders are cloneable, there is one receiver. The capacity is the backpressure: send()
// suspends while the ring is full, recv() while it is empty. Blocked senders are admitted in
// FIFO order: when the receiver frees a slot it moves the oldest blocked sender's value into
// the ring itself, so a later try_send can never overtake a sender that was already waiting.
//
// Close: when every Sender is gone the receiver drains what is queued, then sees Closed. When
// the Receiver is gone, queued values are destroyed and every send (blocked or new) returns
// Closed with its value handed back. Endpoints are move-only values that can themselves be
// sent through channels.
#pragma once

#include <bit>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#include "../runtime/detail/wait_list.hpp"
#include "../runtime/result.hpp"
#include "../runtime/runtime.hpp"
#include "error.hpp"

namespace sluice::local {

template <class T>
class Sender;
template <class T>
class Receiver;

namespace detail {

template <class T>
struct State;

// task and value are set when the waiter parks; status before anyone reads it (the ready
// path, or the side that admits or closes a parked sender). Left unset until then so an
// awaiter that completes at once does not pay for them.
template <class T>
struct SendWaiter : sluice::detail::WaitNode<SendWaiter<T>> {
  enum class St : uint8_t { Pending, Sent, Closed };
  sluice::detail::TaskHeader* task;
  St status;
  T* value;
};

// task: set when the waiter suspends (it then holds a reference on the state). woken: set by
// whoever unlinks the waiter to wake it (a value was queued, the last sender left, or the
// Receiver went); a waiter cancelled before it runs owes that wake to the next one.
struct RecvWaiter : sluice::detail::WaitNode<RecvWaiter> {
  sluice::detail::TaskHeader* task = nullptr;
  bool woken = false;
};

template <class T>
struct State {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "sluice: channel element types must be nothrow move constructible (a move that "
                "throws halfway through a send or receive would lose the value)");
  // Hot fields first: try_send touches tail/head/cap/rx_alive/recv_waiters, try_recv
  // touches head/tail/senders/send_waiters; all fit in the first cache line.
  uint64_t head = 0;  // next slot to read
  // Next slot to write, biased down by kRxSlowBias while rx_slow (see below). The bias is a
  // multiple of every capacity, so `tail & mask` is the right slot in both states and ++tail
  // needs no test; tail_real() gives the unbiased count.
  uint64_t tail = 0;
  uint64_t mask = 0;
  uint64_t cap = 0;
  uint32_t senders = 1;
  uint32_t refs = 2;  // one for all senders together, one for the receiver
  // Each side's whole fast-path test is one compare, and each fast path bumps one field of the
  // other side:
  // * try_send tests `tail < send_limit`. send_limit is head + cap, or kSlowLimit (below any
  //   biased tail) while tx_slow (receiver gone, or a receiver waiting to be woken) or rx_slow.
  //   pop_fast() bumps it with head, which keeps a slow limit slow.
  // * try_recv tests `head < tail`. While rx_slow (a blocked sender must be admitted on the
  //   next pop) tail carries the bias of -2^62, which makes that compare fail without a second
  //   limit for the sender to keep up to date.
  // Blocked senders exist only while the ring is full, so the fast path cannot overtake them.
  static constexpr uint64_t kRxSlowBias = uint64_t{1} << 62;
  static constexpr int64_t kSlowLimit = INT64_MIN;
  int64_t send_limit = 0;
  bool tx_slow = false;
  bool rx_slow = false;
  bool rx_alive = true;
  sluice::detail::WaitList<RecvWaiter> recv_waiters;
  sluice::detail::WaitList<SendWaiter<T>> send_waiters;
  // The thread whose tasks use the channel (bound by the first operation made inside a task);
  // read only by the SLUICE_CHECKED check. Always present so checked and unchecked code agree
  // on the layout.
  const void* owner = nullptr;

  // Checked builds: a local channel belongs to one runtime's thread. Used by tasks on two, it
  // would race (no atomics) or hang (a wake scheduled on the wrong runtime): stop instead.
  // Operations outside any task (filling a channel before its runtime's thread starts) are
  // not checked: handing a channel to another thread before use is fine.
  void check_owner() noexcept {
#if SLUICE_CHECKED
    if (sluice::detail::tl_ctx.current == nullptr) return;
    const void* me = &sluice::detail::tl_ctx;
    if (owner == nullptr)
      owner = me;
    else if (owner != me)
      sluice::detail::fatal("local::channel used from two threads",
                            "a local channel belongs to one runtime; use spsc/mpsc across threads");
#endif
  }

  // The ring's slots follow the state in the same allocation, at a constant offset: a slot's
  // address is then `this + offset + index`, with no buffer pointer to load on the fast path.
  static constexpr std::size_t kAlign = alignof(T) > 64 ? alignof(T) : 64;
  static constexpr std::size_t buf_offset() noexcept {
    return (sizeof(State) + alignof(T) - 1) & ~(alignof(T) - 1);
  }
  T* buf() noexcept {
    return std::launder(reinterpret_cast<T*>(reinterpret_cast<char*>(this) + buf_offset()));
  }

  uint64_t tail_real() const noexcept { return tail + uint64_t{rx_slow} * kRxSlowBias; }
  uint64_t size() const noexcept { return tail_real() - head; }
  // Both tests hold for the biased tail too: rx_slow implies a full ring, and a biased tail
  // is 2^62 away from head, so it reads as full and as not empty, which it is.
  bool full() const noexcept { return tail - head >= cap; }
  bool empty() const noexcept { return head == tail; }

  void refresh_send_limit() noexcept {
    send_limit = tx_slow || rx_slow ? kSlowLimit : static_cast<int64_t>(head + cap);
  }
  void set_tx_slow(bool slow) noexcept {
    tx_slow = slow;
    refresh_send_limit();
  }
  void set_rx_slow(bool slow) noexcept {
    if (slow)
      enter_rx_slow();
    else
      leave_rx_slow();
  }
  void enter_rx_slow() noexcept {
    if (rx_slow) return;
    rx_slow = true;
    tail -= kRxSlowBias;
    send_limit = kSlowLimit;
  }
  void leave_rx_slow() noexcept {
    if (!rx_slow) return;
    rx_slow = false;
    tail += kRxSlowBias;
    if (!tx_slow) send_limit = static_cast<int64_t>(head + cap);
  }
  void update_flags() noexcept {
    set_tx_slow(!rx_alive || !recv_waiters.empty());
    set_rx_slow(!send_waiters.empty());
  }
  bool send_fast() const noexcept { return static_cast<int64_t>(tail) < send_limit; }
  bool recv_fast() const noexcept {
    return static_cast<int64_t>(head) < static_cast<int64_t>(tail);
  }
  // The fast-path write: room, receiver alive and nobody to wake (tx_slow is known false).
  void push_fast(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    ::new (static_cast<void*>(buf() + (tail & mask))) T(std::move(v));
    ++tail;
  }
  void push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    ::new (static_cast<void*>(buf() + (tail & mask))) T(std::move(v));
    ++tail;
    if (tx_slow) [[unlikely]]
      wake_receiver();
  }
  // Only the receiver side's state changed: recompute just the senders' limit.
  void wake_receiver() noexcept {
    if (RecvWaiter* w = recv_waiters.pop_front()) {
      w->woken = true;
      w->task->rt->schedule(w->task);
    }
    set_tx_slow(!rx_alive || !recv_waiters.empty());
  }
  // The fast-path read: a value is queued and no blocked sender waits (rx_slow is false).
  T pop_fast() noexcept(std::is_nothrow_move_constructible_v<T>) {
    T* p = buf() + (head & mask);
    T v(std::move(*p));
    p->~T();
    ++head;
    ++send_limit;
    return v;
  }
  T pop() noexcept(std::is_nothrow_move_constructible_v<T>) {
    T v = pop_fast();
    if (rx_slow) [[unlikely]]
      admit_sender();
    return v;
  }
  void admit_sender() noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (SendWaiter<T>* w = send_waiters.pop_front()) {
      ::new (static_cast<void*>(buf() + (tail & mask))) T(std::move(*w->value));
      ++tail;
      w->status = SendWaiter<T>::St::Sent;
      w->task->rt->schedule(w->task);
    }
    // Only the send-waiter list and tail changed.
    if (send_waiters.empty()) leave_rx_slow();
  }

  // nullptr when the memory cannot be allocated (channel() reports OutOfMemory).
  static State* create(uint64_t cap) noexcept {
    std::size_t bytes = buf_offset() + cap * sizeof(T);
    // 64-byte (or T's, if larger) arena start: the state's hot line never straddles two cache
    // lines, and buf_offset() keeps the slots aligned for T.
    void* mem = ::operator new (bytes, std::align_val_t{kAlign}, std::nothrow);
    if (mem == nullptr) return nullptr;
    auto* s = ::new (mem) State;
    s->cap = cap;
    s->mask = cap - 1;
    s->send_limit = static_cast<int64_t>(cap);
    return s;
  }
  void unref() noexcept {
    if (--refs != 0) return;
    while (head != tail_real()) {
      buf()[head & mask].~T();
      ++head;
    }
    this->~State();
    ::operator delete (static_cast<void*>(this), std::align_val_t{kAlign});
  }
};

}  // namespace detail

template <class T>
class Sender {
  using State = detail::State<T>;

 public:
  using value_type = T;
  Sender() noexcept = default;
  explicit Sender(State* s) noexcept : s_(s) {}
  Sender(const Sender& o) noexcept : s_(o.s_) {
    if (s_) ++s_->senders;
  }
  Sender(Sender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Sender& operator=(Sender o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Sender() { reset(); }

  // Non-blocking. On Full or Closed the value comes back inside the error.
  Result<void, SendError<T>> try_send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    State* s = s_;
    s->check_owner();
    if (s->send_fast()) [[likely]] {
      s->push_fast(std::move(v));
      return {};
    }
    if (!s->rx_alive) return err(SendError<T>{SendErrc::Closed, std::move(v)});
    if (s->full()) return err(SendError<T>{SendErrc::Full, std::move(v)});
    s->push(std::move(v));  // a receiver is waiting: push wakes it
    return {};
  }

  class [[nodiscard]] SendAwaiter {
   public:
    SendAwaiter(State* s, T&& v) noexcept(std::is_nothrow_move_constructible_v<T>)
        : s_(s), value_(std::move(v)) {}
    SendAwaiter(SendAwaiter&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
        : s_(o.s_), value_(std::move(o.value_)) {}
    ~SendAwaiter() {
      if (w_.wl_linked) {
        s_->send_waiters.remove(&w_);
        s_->update_flags();
      }
    }
    bool await_ready() noexcept {
      s_->check_owner();
      if (s_->send_fast()) [[likely]] {  // room and no one to wake (see try_send)
        s_->push_fast(std::move(value_));
        w_.status = Waiter::St::Sent;
        return true;
      }
      if (!s_->rx_alive) {
        w_.status = Waiter::St::Closed;
        return true;
      }
      // Only when no one is queued ahead of us: blocked senders keep their FIFO turn.
      if (!s_->full() && s_->send_waiters.empty()) {
        s_->push(std::move(value_));
        w_.status = Waiter::St::Sent;
        return true;
      }
      return false;
    }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      w_.task = sluice::detail::tl_ctx.current;
      w_.task->leaf = h;
      w_.value = &value_;
      s_->send_waiters.push_back(&w_);
      s_->enter_rx_slow();
    }
    Result<void, SendError<T>> await_resume() noexcept(std::is_nothrow_move_constructible_v<T>) {
      if (w_.status == Waiter::St::Sent) return {};
      return err(SendError<T>{SendErrc::Closed, std::move(value_)});
    }

   private:
    using Waiter = detail::SendWaiter<T>;
    State* s_;
    T value_;
    Waiter w_;
  };

  // Suspends while the channel is full. Returns Closed with the value if the receiver is gone.
  [[nodiscard]] SendAwaiter send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return SendAwaiter(s_, std::move(v));
  }

  bool is_closed() const noexcept { return !s_->rx_alive; }
  std::size_t capacity() const noexcept { return static_cast<std::size_t>(s_->cap); }
  std::size_t size() const noexcept { return static_cast<std::size_t>(s_->size()); }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  void reset() noexcept {
    State* s = std::exchange(s_, nullptr);
    if (s == nullptr) return;
    if (--s->senders == 0) {
      // Last sender: wake every receiver so it can drain and then see Closed.
      while (detail::RecvWaiter* w = s->recv_waiters.pop_front()) {
        w->woken = true;
        w->task->rt->schedule(w->task);
      }
      s->update_flags();
      s->unref();
    }
  }
  State* s_ = nullptr;
};

template <class T>
class Receiver {
  using State = detail::State<T>;

 public:
  Receiver() noexcept = default;
  explicit Receiver(State* s) noexcept : s_(s) {}
  Receiver(Receiver&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Receiver& operator=(Receiver&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  ~Receiver() { reset(); }

  // Non-blocking: Empty while senders live, Closed once they are all gone and it is drained.
  Result<T, RecvError> try_recv() noexcept(std::is_nothrow_move_constructible_v<T>) {
    State* s = s_;
    s->check_owner();
    if (s->recv_fast()) [[likely]]
      return s->pop_fast();
    return try_recv_slow(s);
  }

  // Holds the state, not the Receiver: the Receiver may be destroyed while this waits (the
  // wait then completes with Closed). While suspended it holds a reference on the state.
  class [[nodiscard]] RecvAwaiter {
   public:
    explicit RecvAwaiter(State* s) noexcept : s_(s) {}
    RecvAwaiter(RecvAwaiter&& o) noexcept : s_(o.s_) {}
    ~RecvAwaiter() {
      if (w_.task != nullptr) [[unlikely]]
        leave();
    }
    bool await_ready() const noexcept {
      s_->check_owner();
      return !s_->empty() || s_->senders == 0;
    }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      w_.task = sluice::detail::tl_ctx.current;
      w_.task->leaf = h;
      ++s_->refs;  // released in leave(): the Receiver may go while we wait
      s_->recv_waiters.push_back(&w_);
      s_->set_tx_slow(true);
    }
    // Woken only when a value was queued, the last sender left, or the Receiver went; the
    // value stays in the ring until this runs, so a receiver aborted after its wake loses
    // nothing (and passes the wake on, see leave()).
    Result<T, RecvError> await_resume() noexcept(std::is_nothrow_move_constructible_v<T>) {
      State* s = s_;
      if (w_.woken) [[unlikely]] {
        w_.woken = false;  // resumed: the wake is used
        if (!s->rx_alive) return err(RecvError::Closed);
      }
      if (s->recv_fast()) [[likely]]
        return s->pop_fast();
      if (s->empty()) return err(s->senders == 0 ? RecvError::Closed : RecvError::Empty);
      return s->pop();
    }

   private:
    // Destroyed after suspending: unlink if still parked; if woken but never resumed
    // (cancelled in between), hand the wake to the next waiting receiver, or the value would
    // sit in the ring with a receiver parked; then drop the reference.
    void leave() noexcept {
      State* s = s_;
      if (w_.wl_linked) {
        s->recv_waiters.remove(&w_);
        s->update_flags();
      } else if (w_.woken && s->rx_alive && (!s->empty() || s->senders == 0)) {
        s->wake_receiver();
      }
      s->unref();
    }
    State* s_;
    detail::RecvWaiter w_;
  };

  // Suspends while empty. Returns Closed once every sender is gone and the ring is drained.
  [[nodiscard]] RecvAwaiter recv() noexcept { return RecvAwaiter(s_); }

  bool is_closed() const noexcept { return s_->senders == 0; }
  std::size_t capacity() const noexcept { return static_cast<std::size_t>(s_->cap); }
  std::size_t size() const noexcept { return static_cast<std::size_t>(s_->size()); }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  void reset() noexcept {
    State* s = std::exchange(s_, nullptr);
    if (s == nullptr) return;
    s->rx_alive = false;
    while (s->head != s->tail_real()) {
      s->buf()[s->head & s->mask].~T();
      ++s->head;
    }
    // Its own recv() suspended in a task (which holds a reference on the state): Closed.
    while (detail::RecvWaiter* w = s->recv_waiters.pop_front()) {
      w->woken = true;
      w->task->rt->schedule(w->task);
    }
    // Blocked senders get Closed and their value back.
    while (auto* w = s->send_waiters.pop_front()) {
      w->status = detail::SendWaiter<T>::St::Closed;
      w->task->rt->schedule(w->task);
    }
    s->update_flags();
    s->unref();
  }
  // Out of line so the fast path's registers do not have to carry what this one reads. Static
  // and given only the state: the endpoint objects do not escape into it, so a caller's loop
  // can keep their state pointers in registers.
  [[gnu::noinline]] static Result<T, RecvError> try_recv_slow(State* s) noexcept(
      std::is_nothrow_move_constructible_v<T>) {
    if (s->empty()) return err(s->senders == 0 ? RecvError::Closed : RecvError::Empty);
    return s->pop();
  }
  State* s_ = nullptr;
};

template <class T>
struct Channel {
  Sender<T> tx;
  Receiver<T> rx;
};

// Capacity rounds up to a power of two. 0 (or more than 2^31) is an error, not a crash.
template <class T>
Result<Channel<T>, ChannelError> channel(std::size_t capacity) {
  if (capacity == 0) return err(ChannelError::ZeroCapacity);
  if (capacity > (std::size_t{1} << 31)) return err(ChannelError::CapacityTooLarge);
  auto* s = detail::State<T>::create(std::bit_ceil(static_cast<uint64_t>(capacity)));
  if (s == nullptr) return err(ChannelError::OutOfMemory);
  return Channel<T>{Sender<T>(s), Receiver<T>(s)};
}

}  // namespace sluice::local
