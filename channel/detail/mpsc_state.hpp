// The state behind mpsc::channel: a lane (an SPSC ring) per sender, plus one shared
// multi-producer ring for senders that find no lane free.
//
// Why lanes: on a shared-tail ring every push must win a `lock cmpxchg`, which kept the
// channel at or below the multi-producer peers (perf/RESULTS.md). A sender that owns a lane
// pushes with plain stores, as an spsc sender does. The receiver visits the lanes round robin
// (MpscLanes), and the shared ring now and then.
//
// What that means for users (docs/channels.md):
// * Order is FIFO per sender object. Values of different senders interleave in no promised
//   order. A sender that shares the ring keeps its own order there too.
// * Capacity is per sender: every lane holds `capacity` values, and the shared ring holds
//   `capacity` values for all the senders on it together. send() waits for room in the
//   sender's own ring, and the receiver wakes exactly the sender whose ring it freed.
// * A lane is taken when a Sender is made (channel() or a copy): the copy may allocate the
//   lane's ring, once; lanes of dropped senders are reused. With max_lanes = 0 every sender
//   uses the shared ring: one FIFO order across senders, one capacity for all, a CAS per send.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <utility>

#include "../../runtime/result.hpp"
#include "../../runtime/task.hpp"
#include "../error.hpp"
#include "../mpsc_lanes.hpp"
#include "../mpsc_ring.hpp"
#include "../ring_memory.hpp"
#include "xchannel.hpp"
#include "xends.hpp"
#include "xwait.hpp"

namespace sluice::detail {

template <class T>
struct MpscState : XEnds {
  using value_type = T;
  using Lanes = MpscLanes<T, XWaitQueue>;  // each lane's wait queue sits beside it
  using Producer = typename Lanes::Producer;
  // The receiver tries the shared ring first once every this many pops, so senders on it are
  // not starved by lanes that never run dry.
  static constexpr uint32_t kSharedTurn = 64;

  MpscState(std::unique_ptr<Lanes> l, uint64_t cap, RingMemory mem) noexcept
      : lanes(std::move(l)), cap_(cap), mem_(mem) {}
  ~MpscState() {
    // relaxed: the last reference is gone; unref_state's acq_rel ordered every use before.
    delete shared_.load(std::memory_order_relaxed);
  }

  static Result<MpscState*, ChannelError> create(std::size_t capacity, std::size_t max_lanes,
                                                 RingMemory mem) {
    auto cap = ring_capacity(capacity);
    if (!cap) return err(cap.error());
    std::unique_ptr<Lanes> lanes;
    if (max_lanes != 0) {
      auto made = Lanes::make(*cap, max_lanes, mem);
      if (!made) return err(made.error());
      lanes = std::move(*made);
    }
    auto* s = new (std::nothrow) MpscState(std::move(lanes), *cap, mem);
    if (s == nullptr) return err(ChannelError::OutOfMemory);
    return s;
  }

  // Where a new sender's values go: a lane of its own, else the shared ring (built on first
  // need). Not a hot path: it may scan the lane table and allocate. Errors: OutOfMemory.
  struct Route {
    Producer lane;                  // empty: the sender uses the shared ring
    MpscRing<T>* shared = nullptr;  // set when lane is empty
  };
  Result<Route, ChannelError> route() {
    if (lanes) {
      // No lane (all taken, or its ring could not be allocated): the shared ring instead.
      auto p = lanes->producer();
      if (p) return Route{std::move(*p), nullptr};
    }
    // acquire: pairs with the release CAS below; the ring is fully built.
    MpscRing<T>* r = shared_.load(std::memory_order_acquire);
    if (r == nullptr) {
      auto made = MpscRing<T>::make(cap_, mem_);
      if (!made) return err(made.error());
      MpscRing<T>* mine = made->release();
      // acq_rel: release publishes our ring; acquire (on failure) sees the winner's.
      if (shared_.compare_exchange_strong(r, mine, std::memory_order_acq_rel,
                                          std::memory_order_acquire))
        r = mine;
      else
        delete mine;
    }
    return Route{Producer{}, r};
  }

  // ---- receiver ----

  // Calls f(T&) on one value; `freed` is the wait queue of the sender(s) whose ring got room.
  // The value is handed over in place (an optional<T> returned from an out-of-line pop made
  // the compiler shuffle it through the stack with mixed-width stores and loads: 30 ns for a
  // try pair that should take 5).
  template <class F>
  bool take(F&& f, XWaitQueue*& freed) noexcept {
    if (++turn_ == kSharedTurn) [[unlikely]] {
      if (take_shared_turn(f, freed)) return true;
    }
    if (lanes) [[likely]] {
      if (lanes->try_consume_one(f)) {
        freed = &lanes->lane_data(lanes->last_lane());
        return true;
      }
    }
    return take_shared(f, freed);
  }

  Result<T, RecvError> try_recv() noexcept(std::is_nothrow_move_constructible_v<T>) {
    // alignas(T): raw storage the value is moved into straight from its slot.
    alignas(T) unsigned char buf[sizeof(T)];
    auto into = [&buf](T& v) { ::new (static_cast<void*>(buf)) T(std::move(v)); };
    XWaitQueue* freed = nullptr;
    bool got = take(into, freed);
    // The last sender's pushes happen-before its close; look once more after seeing it so
    // the value sent just before the close is never lost.
    if (!got) {
      if (!senders_gone()) return err(RecvError::Empty);
      if (!take(into, freed)) return err(RecvError::Closed);
    }
    wake_sender(freed);
    T* v = std::launder(reinterpret_cast<T*>(buf));
    Result<T, RecvError> r(std::move(*v));
    v->~T();
    return r;
  }

  // Receiver thread only (the lanes' consumer view).
  bool empty() noexcept {
    if (lanes && !lanes->empty()) return false;
    // acquire: pairs with route()'s release CAS.
    MpscRing<T>* sh = shared_.load(std::memory_order_acquire);
    return sh == nullptr || sh->empty();
  }
  // A value, every sender gone, or the Receiver itself gone (its recv() completes Closed).
  bool recv_ready() noexcept { return !empty() || senders_gone() || receiver_gone(); }

  // After freeing room in one sender's ring: wake that sender if it is parked.
  static void wake_sender(XWaitQueue* q) noexcept {
    full_fence();  // seq_cst: the publishing half of the handshake (xwait.hpp)
    if (q->any()) [[unlikely]]
      q->wake_one();
  }

  // Receiver gone: every parked sender, on a lane or on the shared ring, must see Closed.
  void close_rx() noexcept {
    XEnds::close_rx();  // sets rx_closed, fences, wakes the shared ring's senders
    if (!lanes) return;
    const std::size_t n = lanes->lanes_in_use();
    for (std::size_t i = 0; i < n; ++i) lanes->lane_data(i).wake_all();
  }

  std::size_t capacity() const noexcept { return static_cast<std::size_t>(cap_); }

  std::unique_ptr<Lanes> lanes;  // null when max_lanes == 0

 private:
  // Every kSharedTurn pops the shared ring goes first (it may have appeared since we looked).
  template <class F>
  bool take_shared_turn(F& f, XWaitQueue*& freed) noexcept {
    turn_ = 0;
    // acquire: pairs with route()'s release CAS.
    if (shared_seen_ == nullptr) shared_seen_ = shared_.load(std::memory_order_acquire);
    if (shared_seen_ == nullptr || !shared_seen_->try_take(f)) return false;
    freed = &tx_wait;
    return true;
  }
  // The lanes had nothing: the shared ring, if there is one.
  template <class F>
  bool take_shared(F& f, XWaitQueue*& freed) noexcept {
    MpscRing<T>* sh = shared_seen_;
    if (sh == nullptr) {
      // acquire: pairs with route()'s release CAS.
      sh = shared_seen_ = shared_.load(std::memory_order_acquire);
      if (sh == nullptr) return false;
    }
    if (!sh->try_take(f)) return false;
    freed = &tx_wait;
    return true;
  }

  const uint64_t cap_;
  const RingMemory mem_;
  // alignas(kFalseShareBytes): set once by the first sender that needs it, then read-only.
  alignas(kFalseShareBytes) std::atomic<MpscRing<T>*> shared_{nullptr};
  // Receiver only. alignas(kFalseShareBytes): its own line.
  alignas(kFalseShareBytes) MpscRing<T>* shared_seen_ = nullptr;
  uint32_t turn_ = 0;
};

// A sender's ring (its lane, or the shared one) and the queue it parks on while that is full.
// Plain pointers: an operation in flight copies it, so the Sender may be moved meanwhile.
template <class T>
struct MpscRoute {
  MpscState<T>* s = nullptr;
  SpscRing<T>* lane = nullptr;    // null: the shared ring
  MpscRing<T>* shared = nullptr;  // set when lane is null
  XWaitQueue* wq = nullptr;

  bool push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (lane != nullptr) [[likely]]
      return lane->try_push(std::move(v));
    return shared->try_push(std::move(v));
  }
  // Producer side (the sender's own thread).
  bool full() const noexcept {
    if (lane != nullptr) return lane->full();
    return shared->size() >= shared->capacity();
  }
  Result<void, SendError<T>> try_send(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (s->receiver_gone()) [[unlikely]]
      return err(SendError<T>{SendErrc::Closed, std::move(v)});
    if (!push(std::move(v))) return err(SendError<T>{SendErrc::Full, std::move(v)});
    s->wake_receiver();
    return {};
  }
  // For a parked sender: room in its own ring, or nobody will ever receive.
  bool send_ready() const noexcept { return s->receiver_gone() || !full(); }
  Task<Result<void, SendError<T>>> slow(T v);  // waits on wq for room, then sends
};

// The Sender must outlive this wait (docs/channels.md): its lane is retired when it goes, and
// another sender could then take the lane over while this one still pushes into it. The
// reference only keeps the state's memory valid.
template <class T>
Task<Result<void, SendError<T>>> mpsc_send_slow(MpscRoute<T> r, T v) {
  StateRef<MpscState<T>> keep(r.s);
  for (;;) {
    co_await XWaitAwaiter(r.wq, [&r] { return r.send_ready(); });
    auto res = r.try_send(std::move(v));
    if (res || res.error().code == SendErrc::Closed) co_return res;
    v = std::move(res.error().value);
  }
}
template <class T>
Task<Result<void, SendError<T>>> MpscRoute<T>::slow(T v) {
  return mpsc_send_slow<T>(*this, std::move(v));
}

// mpsc Sender: copyable; each copy is another producer with a route of its own.
template <class T>
class MpscSender {
  using State = MpscState<T>;
  using R = Result<void, SendError<T>>;

 public:
  using value_type = T;
  MpscSender() noexcept = default;
  MpscSender(State* s, typename State::Route route) noexcept : p_(std::move(route.lane)) {
    r_.s = s;
    if (p_) {
      r_.lane = p_.ring();
      r_.wq = &p_.lane_data();
    } else {
      r_.shared = route.shared;
      r_.wq = &s->tx_wait;
    }
  }
  MpscSender(MpscSender&& o) noexcept
      : r_(std::exchange(o.r_, MpscRoute<T>{})), p_(std::move(o.p_)) {}
  MpscSender& operator=(MpscSender&& o) noexcept {
    if (this != &o) {
      reset();
      r_ = std::exchange(o.r_, MpscRoute<T>{});
      p_ = std::move(o.p_);
    }
    return *this;
  }
  // A copy is a new producer: it takes a free lane (allocating its ring the first time that
  // lane is used), or the shared ring when every lane is taken. Throws std::bad_alloc only if
  // neither can be allocated; try_clone() reports that as an error value instead.
  MpscSender(const MpscSender& o) : MpscSender(clone_or_throw(o)) {}
  MpscSender& operator=(const MpscSender& o) {
    if (this != &o) *this = MpscSender(o);
    return *this;
  }
  ~MpscSender() { reset(); }

  Result<MpscSender, ChannelError> try_clone() const {
    if (r_.s == nullptr) return MpscSender();
    auto route = r_.s->route();
    if (!route) return err(route.error());
    // relaxed: copied from a live sender, which already holds the count above 0.
    r_.s->senders.fetch_add(1, std::memory_order_relaxed);
    return MpscSender(r_.s, std::move(*route));
  }

  // Never blocks. Full (this sender's ring) or Closed hand the value back.
  R try_send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return r_.try_send(std::move(v));
  }

  // Task: suspends while this sender's ring is full. Closed (with the value) once the
  // receiver is gone. The Sender must outlive the operation (it may move meanwhile: the
  // operation keeps a copy of the route).
  XSendOp<T, MpscRoute<T>> send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return XSendOp<T, MpscRoute<T>>(r_, std::move(v));
  }

  // Plain thread: spins, then sleeps in std::atomic::wait while this sender's ring is full.
  R send_blocking(T v) {
    return block_on_queue(
        *r_.wq,
        [&]() -> std::optional<R> {
          auto res = r_.try_send(std::move(v));
          if (res || res.error().code == SendErrc::Closed) return std::optional<R>(std::move(res));
          v = std::move(res.error().value);  // Full: keep the value for the next try
          return std::nullopt;
        },
        [this] { return r_.send_ready(); });
  }

  bool is_closed() const noexcept { return r_.s->receiver_gone(); }
  // Values this sender may have queued at once (its own ring's capacity).
  std::size_t capacity() const noexcept { return r_.s->capacity(); }
  // True when this sender has a lane of its own (false: it shares the multi-producer ring).
  bool has_lane() const noexcept { return r_.lane != nullptr; }
  explicit operator bool() const noexcept { return r_.s != nullptr; }

 private:
  static MpscSender clone_or_throw(const MpscSender& o) {
    auto c = o.try_clone();
    if (!c) throw std::bad_alloc();
    return std::move(*c);
  }
  void reset() noexcept {
    State* s = std::exchange(r_.s, nullptr);
    if (s == nullptr) return;
    // The lane is retired first: its pushes happen-before both a later owner's and, through
    // the count below, the close.
    p_ = typename State::Producer{};
    r_ = MpscRoute<T>{};
    // acq_rel: the last sender's close happens after every other sender's data.
    if (s->senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      s->close_tx();
      unref_state(s);
    }
  }
  MpscRoute<T> r_;
  typename State::Producer p_;  // owns the lane (retired when this sender goes)
};

}  // namespace sluice::detail
