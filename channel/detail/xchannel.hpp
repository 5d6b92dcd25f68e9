// The machinery shared by spsc::channel and mpsc::channel: a ring plus the XEnds (a wait queue
// per side, close flags, reference counts; xends.hpp), and the endpoints. Either endpoint may be
// used from a task on any runtime or from a plain thread; they may be on different threads.
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
#include "xends.hpp"
#include "xwait.hpp"

namespace sluice::detail {

// Spins before a plain thread parks in the kernel (cheap compared with a futex round trip).
inline constexpr int kThreadSpins = 2048;

template <class T, class Ring>
struct XState : Ring, XEnds {
  XState(RingSlot<T>* slots, uint64_t cap, RingMemory mem) noexcept : Ring(slots, cap, mem) {}

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

  // For a parked sender: room, or nobody will ever receive.
  bool send_ready() const noexcept { return receiver_gone() || this->size() < this->capacity(); }
  // For a parked receiver: a value at the head, every sender gone, or the Receiver itself gone
  // (its recv() then completes with Closed).
  bool recv_ready() const noexcept { return !this->empty() || senders_gone() || receiver_gone(); }

  Result<void, SendError<T>> try_send(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (receiver_gone()) [[unlikely]]
      return err(SendError<T>{SendErrc::Closed, std::move(v)});
    if (!this->try_push(std::move(v))) return err(SendError<T>{SendErrc::Full, std::move(v)});
    wake_receiver();
    return {};
  }
  Result<T, RecvError> try_recv() noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (std::optional<T> v = this->try_pop()) {
      wake_senders(false);
      return std::move(*v);
    }
    // The last sender's pushes happen-before its close; re-check once after seeing it so the
    // value sent just before the close is never lost.
    if (senders_gone()) {
      if (std::optional<T> v = this->try_pop()) {
        wake_senders(false);
        return std::move(*v);
      }
      return err(RecvError::Closed);
    }
    return err(RecvError::Empty);
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
  // Counts as a sender until it completes: destroying the Sender while this waits neither
  // frees the state nor closes the channel under a value that is still to be delivered.
  SenderRef<XState<T, Ring>, true> keep = SenderRef<XState<T, Ring>, true>::adopt_another(s);
  for (;;) {
    co_await XWaitAwaiter(&s->tx_wait, [s] { return s->send_ready(); });
    auto r = s->try_send(std::move(v));
    if (r || r.error().code == SendErrc::Closed) co_return r;
    v = std::move(r.error().value);
  }
}
// Any state with rx_wait, recv_ready() and try_recv() (XState, MpscState).
template <class State>
Task<Result<typename State::value_type, RecvError>> recv_slow(State* s) {
  StateRef<State> keep(s);  // the Receiver may be destroyed while this waits
  for (;;) {
    co_await XWaitAwaiter(&s->rx_wait, [s] { return s->recv_ready(); });
    if (s->receiver_gone()) [[unlikely]]
      co_return err(RecvError::Closed);  // the Receiver itself went
    auto r = s->try_recv();
    if (r || r.error() == RecvError::Closed) co_return r;
  }
}

// `co_await tx.send(v)`: the fast path is inline; only a full ring starts the slow coroutine.
// Target: a small value with try_send(T&&) -> R and slow(T) -> Task<R> (XStateTarget below
// for spsc, MpscRoute for mpsc); the operation keeps its own copy.
template <class T, class Target>
class [[nodiscard]] XSendOp {
  using R = Result<void, SendError<T>>;

 public:
  XSendOp(Target t, T&& v) noexcept(std::is_nothrow_move_constructible_v<T>)
      : t_(t), v_(std::move(v)) {}
  bool await_ready() {
    auto r = t_.try_send(std::move(v_));
    if (r || r.error().code == SendErrc::Closed) {
      done_.emplace(std::move(r));
      return true;
    }
    v_ = std::move(r.error().value);
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    slow_ = t_.slow(std::move(v_));
    std::move(slow_).operator co_await().await_suspend(h);
  }
  R await_resume() {
    if (done_) return std::move(*done_);
    return std::move(slow_).operator co_await().await_resume();
  }

 private:
  Target t_;
  T v_;
  std::optional<R> done_;
  Task<R> slow_;
};

template <class T, class Ring>
struct XStateTarget {
  XState<T, Ring>* s;
  Result<void, SendError<T>> try_send(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return s->try_send(std::move(v));
  }
  Task<Result<void, SendError<T>>> slow(T v) { return send_slow<T, Ring>(s, std::move(v)); }
};

// Sender endpoint. kCloneable: mpsc senders can be copied (each copy is another producer).
template <class T, class Ring, bool kCloneable>
class XSender : public SenderRef<XState<T, Ring>, kCloneable> {
  using Base = SenderRef<XState<T, Ring>, kCloneable>;
  using Base::s_;

 public:
  using value_type = T;
  using Base::Base;

  // Never blocks. Full or Closed hand the value back.
  Result<void, SendError<T>> try_send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return s_->try_send(std::move(v));
  }
  // Task: suspends while full. Closed (with the value) once the receiver is gone.
  XSendOp<T, XStateTarget<T, Ring>> send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return XSendOp<T, XStateTarget<T, Ring>>(XStateTarget<T, Ring>{s_}, std::move(v));
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

  std::size_t capacity() const noexcept { return s_->capacity(); }
};

// Receiver endpoint over any state with try_recv, recv_ready, rx_wait and capacity (XState
// for spsc, MpscState for mpsc).
template <class T, class State>
class XReceiver : public ReceiverRef<State> {
  using Base = ReceiverRef<State>;
  using Base::s_;
  using R = Result<T, RecvError>;

 public:
  using value_type = T;
  using Base::Base;

  // Never blocks: Empty while senders live, Closed once they are all gone and it is drained.
  R try_recv() noexcept(std::is_nothrow_move_constructible_v<T>) { return s_->try_recv(); }
  // Task: suspends while empty.
  auto recv() noexcept {
    auto* s = s_;
    return try_or_wait<R>([s] { return final_recv(s->try_recv()); }, [s] { return recv_slow(s); });
  }
  // Plain thread: spins, then sleeps in std::atomic::wait while empty.
  R recv_blocking() {
    return block_on_queue(
        s_->rx_wait, [this] { return final_recv(s_->try_recv()); },
        [this] { return s_->recv_ready(); });
  }

  std::size_t capacity() const noexcept { return s_->capacity(); }

 private:
  static std::optional<R> final_recv(R r) {
    if (r || r.error() == RecvError::Closed) return std::optional<R>(std::move(r));
    return std::nullopt;
  }
};

template <class T, class Ring, bool kCloneable>
struct XChannel {
  XSender<T, Ring, kCloneable> tx;
  XReceiver<T, XState<T, Ring>> rx;
};

template <class T, class Ring, bool kCloneable>
Result<XChannel<T, Ring, kCloneable>, ChannelError> make_xchannel(std::size_t capacity,
                                                                  RingMemory mem) {
  auto s = XState<T, Ring>::create(capacity, mem);
  if (!s) return err(s.error());
  return XChannel<T, Ring, kCloneable>{XSender<T, Ring, kCloneable>(*s),
                                       XReceiver<T, XState<T, Ring>>(*s)};
}

}  // namespace sluice::detail
