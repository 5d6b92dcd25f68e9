// The machinery shared by spsc_bytes and mpsc_bytes: a logbuf byte ring plus the same wait
// queues, close flags and reference counts as the typed cross-thread channels (xchannel.hpp),
// and endpoints whose claims wake the other side.
//
// A write claim wakes a parked receiver when it is committed or aborted (an aborted claim can
// unblock records committed after it). A read claim wakes parked senders when it is released,
// and so does a read that passes padding: both free space. Every wake check is the publishing
// half of the store-then-load handshake in xwait.hpp (seq_cst fence, then one relaxed load).
//
// Lifetimes: a WriteClaim borrows its Sender and a ReadClaim its Receiver; commit or drop a
// claim before the endpoint it came from goes. That is what lets "every sender gone" mean
// "nothing more will be committed", so the receiver can drain and then report Closed.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "../../logbuf/detail/logbuf_core.hpp"
#include "../../runtime/result.hpp"
#include "../../runtime/task.hpp"
#include "../error.hpp"
#include "../ring_memory.hpp"
#include "xchannel.hpp"
#include "xwait.hpp"

namespace sluice::detail {

template <bool Multi>
struct XBytesState {
  using Buf = logbuf::detail::Logbuf<Multi>;

  explicit XBytesState(std::unique_ptr<Buf> b) noexcept : buf(std::move(b)) {}

  std::unique_ptr<Buf> buf;
  // alignas(kFalseShareBytes): as in XState, each queue and the flags on their own lines.
  alignas(kFalseShareBytes) XWaitQueue rx_wait;  // the receiver parks here
  alignas(kFalseShareBytes) XWaitQueue tx_wait;  // senders park here while there is no room
  alignas(kFalseShareBytes) std::atomic<bool> rx_closed{false};
  std::atomic<bool> tx_closed{false};
  std::atomic<uint32_t> senders{1};
  std::atomic<uint32_t> refs{2};

  static Result<XBytesState*, ChannelError> create(std::size_t capacity, RingMemory mem) {
    if (capacity == 0) return err(ChannelError::ZeroCapacity);
    if (capacity > logbuf::kMaxCapacity) return err(ChannelError::CapacityTooLarge);
    auto b = Buf::make(capacity, mem);
    if (!b) return err(ChannelError::OutOfMemory);
    auto* s = new (std::nothrow) XBytesState(std::move(*b));
    if (s == nullptr) return err(ChannelError::OutOfMemory);
    return s;
  }
  void unref() noexcept {
    // acq_rel: the last owner sees every write of the other before destroying.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  void after_commit() noexcept {
    full_fence();  // seq_cst: publishing half of the handshake (see xwait.hpp)
    if (rx_wait.any()) [[unlikely]]
      rx_wait.wake_one();
  }
  // Every parked sender: the space freed may fit several of them, each needing its own size.
  void after_release() noexcept {
    full_fence();  // seq_cst: as in after_commit
    if (tx_wait.any()) [[unlikely]]
      tx_wait.wake_all();
  }
  bool claim_ready(std::size_t n) const noexcept {
    // acquire: a sender that sees the close also sees everything before it.
    return rx_closed.load(std::memory_order_acquire) || buf->fits(n);
  }
  // Wakes for padding too (an aborted claim): passing it frees space a writer may wait for.
  bool recv_ready() const noexcept {
    // acquire: pairs with the last sender's release store of tx_closed.
    return buf->pending() || tx_closed.load(std::memory_order_acquire);
  }
  void close_tx() noexcept {
    tx_closed.store(true, std::memory_order_release);  // release: our commits come first
    full_fence();                                      // seq_cst: as in after_commit
    rx_wait.wake_all();
  }
  void close_rx() noexcept {
    rx_closed.store(true, std::memory_order_release);  // release: pairs with claim_ready
    full_fence();                                      // seq_cst: as in after_release
    tx_wait.wake_all();
  }
};

// A claim of n writable bytes; commit() publishes and wakes the receiver, dropping it aborts.
template <bool Multi>
class [[nodiscard]] XWriteClaim {
  using Raw = typename logbuf::detail::Logbuf<Multi>::WriteClaim;

 public:
  XWriteClaim(Raw&& raw, XBytesState<Multi>* s) noexcept : raw_(std::move(raw)), s_(s) {}
  XWriteClaim(XWriteClaim&& o) noexcept : raw_(std::move(o.raw_)), s_(o.s_) {}
  XWriteClaim& operator=(XWriteClaim&& o) noexcept {
    if (this != &o) {
      abort();
      raw_ = std::move(o.raw_);
      s_ = o.s_;
    }
    return *this;
  }
  ~XWriteClaim() { abort(); }

  std::byte* data() const noexcept { return raw_.data(); }
  std::size_t size() const noexcept { return raw_.size(); }
  std::span<std::byte> span() const noexcept { return raw_.span(); }
  uint16_t kind() const noexcept { return raw_.kind(); }
  void set_kind(uint16_t k) noexcept { raw_.set_kind(k); }
  bool valid() const noexcept { return raw_.valid(); }

  void commit() noexcept {
    if (!raw_.valid()) return;
    raw_.commit();
    s_->after_commit();
  }
  void abort() noexcept {
    if (!raw_.valid()) return;
    raw_.abort();
    s_->after_commit();  // records committed behind it may now be readable
  }

 private:
  Raw raw_;
  XBytesState<Multi>* s_;
};

// A record to read in place; release() (or destruction) frees its space and wakes senders.
template <bool Multi>
class [[nodiscard]] XReadClaim {
  using Raw = typename logbuf::detail::Logbuf<Multi>::ReadClaim;

 public:
  XReadClaim(Raw&& raw, XBytesState<Multi>* s) noexcept : raw_(std::move(raw)), s_(s) {}
  XReadClaim(XReadClaim&& o) noexcept : raw_(std::move(o.raw_)), s_(o.s_) {}
  XReadClaim& operator=(XReadClaim&& o) noexcept {
    if (this != &o) {
      release();
      raw_ = std::move(o.raw_);
      s_ = o.s_;
    }
    return *this;
  }
  ~XReadClaim() { release(); }

  const std::byte* data() const noexcept { return raw_.data(); }
  std::size_t size() const noexcept { return raw_.size(); }
  std::span<const std::byte> span() const noexcept { return raw_.span(); }
  uint16_t kind() const noexcept { return raw_.kind(); }
  bool valid() const noexcept { return raw_.valid(); }

  void release() noexcept {
    if (!raw_.valid()) return;
    raw_.release();
    s_->after_release();
  }

 private:
  Raw raw_;
  XBytesState<Multi>* s_;
};

template <bool Multi>
Result<XWriteClaim<Multi>, ClaimError> bytes_try_claim(XBytesState<Multi>* s, std::size_t n,
                                                       uint16_t kind) noexcept {
  // acquire: see claim_ready.
  if (s->rx_closed.load(std::memory_order_acquire)) [[unlikely]]
    return err(ClaimError::Closed);
  auto r = s->buf->try_claim(n, kind);
  if (r) [[likely]]
    return XWriteClaim<Multi>(std::move(*r), s);
  switch (r.error()) {
    case logbuf::ClaimError::ZeroLength:
      return err(ClaimError::ZeroLength);
    case logbuf::ClaimError::TooLarge:
      return err(ClaimError::TooLarge);
    case logbuf::ClaimError::Full:
      break;
  }
  return err(ClaimError::Full);
}

template <bool Multi>
Result<XReadClaim<Multi>, RecvError> bytes_try_recv(XBytesState<Multi>* s) noexcept {
  auto& b = *s->buf;
  bool closed = false;
  for (;;) {
    const uint64_t freed = b.released_position();
    auto r = b.try_read();
    if (b.released_position() != freed) s->after_release();  // it passed padding
    if (r) return XReadClaim<Multi>(std::move(*r), s);
    if (closed) return err(RecvError::Closed);
    // acquire: the last sender's commits happen-before its close; read once more after
    // seeing it so the record committed just before the close is never lost.
    closed = s->tx_closed.load(std::memory_order_acquire);
    if (!closed) return err(RecvError::Empty);
  }
}

template <bool Multi>
Task<Result<XWriteClaim<Multi>, ClaimError>> claim_slow(XBytesState<Multi>* s, std::size_t n,
                                                        uint16_t kind) {
  for (;;) {
    co_await XWaitAwaiter(&s->tx_wait, [s, n] { return s->claim_ready(n); });
    auto r = bytes_try_claim(s, n, kind);
    if (r || r.error() != ClaimError::Full) co_return r;
  }
}
template <bool Multi>
Task<Result<XReadClaim<Multi>, RecvError>> bytes_recv_slow(XBytesState<Multi>* s) {
  for (;;) {
    co_await XWaitAwaiter(&s->rx_wait, [s] { return s->recv_ready(); });
    auto r = bytes_try_recv(s);
    if (r || r.error() == RecvError::Closed) co_return r;
  }
}

// `co_await tx.claim(n)`: inline when there is room; the slow coroutine only when full.
template <bool Multi>
class XClaimOp {
  using R = Result<XWriteClaim<Multi>, ClaimError>;

 public:
  XClaimOp(XBytesState<Multi>* s, std::size_t n, uint16_t kind) noexcept
      : s_(s), n_(n), kind_(kind) {}
  bool await_ready() noexcept {
    auto r = bytes_try_claim(s_, n_, kind_);
    if (r || r.error() != ClaimError::Full) {
      done_.emplace(std::move(r));
      return true;
    }
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    slow_ = claim_slow<Multi>(s_, n_, kind_);
    std::move(slow_).operator co_await().await_suspend(h);
  }
  R await_resume() {
    if (done_) return std::move(*done_);
    return std::move(slow_).operator co_await().await_resume();
  }

 private:
  XBytesState<Multi>* s_;
  std::size_t n_;
  uint16_t kind_;
  std::optional<R> done_;
  Task<R> slow_;
};

template <bool Multi>
class XBytesRecvOp {
  using R = Result<XReadClaim<Multi>, RecvError>;

 public:
  explicit XBytesRecvOp(XBytesState<Multi>* s) noexcept : s_(s) {}
  bool await_ready() noexcept {
    auto r = bytes_try_recv(s_);
    if (r || r.error() == RecvError::Closed) {
      done_.emplace(std::move(r));
      return true;
    }
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    slow_ = bytes_recv_slow<Multi>(s_);
    std::move(slow_).operator co_await().await_suspend(h);
  }
  R await_resume() {
    if (done_) return std::move(*done_);
    return std::move(slow_).operator co_await().await_resume();
  }

 private:
  XBytesState<Multi>* s_;
  std::optional<R> done_;
  Task<R> slow_;
};

// Writer endpoint; mpsc_bytes senders can be copied (each copy is another producer).
template <bool Multi>
class XBytesSender {
  using State = XBytesState<Multi>;

 public:
  using WriteClaim = XWriteClaim<Multi>;

  XBytesSender() noexcept = default;
  explicit XBytesSender(State* s) noexcept : s_(s) {}
  XBytesSender(XBytesSender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  XBytesSender& operator=(XBytesSender&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  XBytesSender(const XBytesSender& o) noexcept requires Multi : s_(o.s_) {
    // relaxed: copied from a live sender, which already holds the count above 0.
    if (s_) s_->senders.fetch_add(1, std::memory_order_relaxed);
  }
  XBytesSender& operator=(const XBytesSender& o) noexcept requires Multi {
    XBytesSender tmp(o);
    std::swap(s_, tmp.s_);
    return *this;
  }
  ~XBytesSender() { reset(); }

  // Never blocks: Full, ZeroLength, TooLarge or Closed.
  Result<WriteClaim, ClaimError> try_claim(std::size_t n, uint16_t kind = 0) noexcept {
    return bytes_try_claim(s_, n, kind);
  }
  // Task: suspends while there is no room; ZeroLength / TooLarge / Closed at once.
  XClaimOp<Multi> claim(std::size_t n, uint16_t kind = 0) noexcept {
    return XClaimOp<Multi>(s_, n, kind);
  }
  // Plain thread: spins, then sleeps in std::atomic::wait while there is no room.
  Result<WriteClaim, ClaimError> claim_blocking(std::size_t n, uint16_t kind = 0) {
    using R = Result<WriteClaim, ClaimError>;
    return block_on_queue(
        s_->tx_wait,
        [&]() -> std::optional<R> {
          auto r = bytes_try_claim(s_, n, kind);
          if (r || r.error() != ClaimError::Full) return std::optional<R>(std::move(r));
          return std::nullopt;
        },
        [this, n] { return s_->claim_ready(n); });
  }

  bool is_closed() const noexcept { return s_->rx_closed.load(std::memory_order_acquire); }
  std::size_t capacity() const noexcept { return s_->buf->capacity(); }
  std::size_t max_payload() const noexcept { return s_->buf->max_payload(); }
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  void reset() noexcept {
    State* s = std::exchange(s_, nullptr);
    if (s == nullptr) return;
    // acq_rel: the last sender's close happens after every other sender's commits.
    if (s->senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      s->close_tx();
      s->unref();
    }
  }
  State* s_ = nullptr;
};

template <bool Multi>
class XBytesReceiver {
  using State = XBytesState<Multi>;

 public:
  using ReadClaim = XReadClaim<Multi>;

  XBytesReceiver() noexcept = default;
  explicit XBytesReceiver(State* s) noexcept : s_(s) {}
  XBytesReceiver(XBytesReceiver&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  XBytesReceiver& operator=(XBytesReceiver&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  XBytesReceiver(const XBytesReceiver&) = delete;
  XBytesReceiver& operator=(const XBytesReceiver&) = delete;
  ~XBytesReceiver() { reset(); }

  // Never blocks: Empty while senders live, Closed once they are all gone and it is drained.
  Result<ReadClaim, RecvError> try_recv() noexcept { return bytes_try_recv(s_); }
  // Task: suspends while empty.
  XBytesRecvOp<Multi> recv() noexcept { return XBytesRecvOp<Multi>(s_); }
  // Plain thread: spins, then sleeps in std::atomic::wait while empty.
  Result<ReadClaim, RecvError> recv_blocking() {
    using R = Result<ReadClaim, RecvError>;
    return block_on_queue(
        s_->rx_wait,
        [this]() -> std::optional<R> {
          auto r = bytes_try_recv(s_);
          if (r || r.error() == RecvError::Closed) return std::optional<R>(std::move(r));
          return std::nullopt;
        },
        [this] { return s_->recv_ready(); });
  }

  bool is_closed() const noexcept { return s_->tx_closed.load(std::memory_order_acquire); }
  std::size_t capacity() const noexcept { return s_->buf->capacity(); }
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

template <bool Multi>
struct XBytesChannel {
  XBytesSender<Multi> tx;
  XBytesReceiver<Multi> rx;
};

template <bool Multi>
Result<XBytesChannel<Multi>, ChannelError> make_bytes_channel(std::size_t capacity,
                                                              RingMemory mem) {
  auto s = XBytesState<Multi>::create(capacity, mem);
  if (!s) return err(s.error());
  return XBytesChannel<Multi>{XBytesSender<Multi>(*s), XBytesReceiver<Multi>(*s)};
}

}  // namespace sluice::detail
