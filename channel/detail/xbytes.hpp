// The machinery shared by spsc_bytes and mpsc_bytes: a logbuf byte ring plus the same XEnds as
// the typed cross-thread channels (xends.hpp), and endpoints whose claims wake the other side.
//
// A write claim wakes a parked receiver when it is committed or aborted (an aborted claim can
// unblock records committed after it). A read claim wakes parked senders when it is released,
// and so does a read that passes padding: both free space. Every wake check is the publishing
// half of the store-then-load handshake in xwait.hpp (seq_cst fence, then one relaxed load).
//
// Corruption: the ring lives on this process's heap, so a logbuf Corrupt (claim or read) means
// its memory was overwritten by a bug elsewhere in the process. It is passed on as the
// channel's Corrupt and is final: the reader stops, and it closes the channel towards the
// writers (mark_corrupt), so a claim or recv that waits, or comes later, returns it at once.
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
#include "xends.hpp"
#include "xwait.hpp"

namespace sluice::detail {

template <bool Multi>
struct XBytesState : XEnds {
  using Buf = logbuf::detail::Logbuf<Multi>;

  explicit XBytesState(std::unique_ptr<Buf> b) noexcept : buf(std::move(b)) {}

  std::unique_ptr<Buf> buf;

  static Result<XBytesState*, ChannelError> create(std::size_t capacity, RingMemory mem) {
    if (capacity == 0) return err(ChannelError::ZeroCapacity);
    if (capacity > logbuf::kMaxCapacity) return err(ChannelError::CapacityTooLarge);
    auto b = Buf::make(capacity, mem);
    if (!b) return err(ChannelError::OutOfMemory);
    auto* s = new (std::nothrow) XBytesState(std::move(*b));
    if (s == nullptr) return err(ChannelError::OutOfMemory);
    return s;
  }

  // The reader found the ring's format broken (the channel's memory was overwritten): it has
  // stopped for good, so writers must hear it too, also the ones waiting for room that will
  // never come. Closes the channel the way a departed receiver does, with corrupt set first.
  void mark_corrupt() noexcept {
    corrupt.store(true, std::memory_order_relaxed);  // relaxed: published by close_rx's release
    close_rx();
  }
  // Why receiver_gone() holds: a corrupt ring, or a Receiver that went.
  ClaimError gone_error() const noexcept {
    // relaxed: ordered after the acquire load of rx_closed that brought us here.
    return corrupt.load(std::memory_order_relaxed) ? ClaimError::Corrupt : ClaimError::Closed;
  }
  std::atomic<bool> corrupt{false};

  void after_commit() noexcept { wake_receiver(); }
  void after_release() noexcept { wake_senders(true); }
  bool claim_ready(std::size_t n) const noexcept { return receiver_gone() || buf->fits(n); }
  // Wakes for padding too (an aborted claim): passing it frees space a writer may wait for.
  // And when the Receiver itself is gone: its recv() completes with Closed.
  bool recv_ready() const noexcept { return buf->pending() || senders_gone() || receiver_gone(); }
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
  if (s->receiver_gone()) [[unlikely]]
    return err(s->gone_error());
  auto r = s->buf->try_claim(n, kind);
  if (r) [[likely]]
    return XWriteClaim<Multi>(std::move(*r), s);
  switch (r.error()) {
    case logbuf::ClaimError::ZeroLength:
      return err(ClaimError::ZeroLength);
    case logbuf::ClaimError::TooLarge:
      return err(ClaimError::TooLarge);
    case logbuf::ClaimError::Corrupt:
      return err(ClaimError::Corrupt);
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
    if (r.error() == logbuf::ReadError::Corrupt) [[unlikely]] {
      if (!s->corrupt.load(std::memory_order_relaxed)) s->mark_corrupt();  // writers hear it
      return err(RecvError::Corrupt);
    }
    if (closed) return err(RecvError::Closed);
    // The last sender's commits happen-before its close; read once more after seeing it so
    // the record committed just before the close is never lost.
    closed = s->senders_gone();
    if (!closed) return err(RecvError::Empty);
  }
}

template <bool Multi>
Task<Result<XWriteClaim<Multi>, ClaimError>> claim_slow(XBytesState<Multi>* s, std::size_t n,
                                                        uint16_t kind) {
  // Keeps the state valid while waiting; the claim it returns borrows the Sender as usual.
  StateRef<XBytesState<Multi>> keep(s);
  for (;;) {
    co_await XWaitAwaiter(&s->tx_wait, [s, n] { return s->claim_ready(n); });
    auto r = bytes_try_claim(s, n, kind);
    if (r || r.error() != ClaimError::Full) co_return r;
  }
}
template <bool Multi>
Task<Result<XReadClaim<Multi>, RecvError>> bytes_recv_slow(XBytesState<Multi>* s) {
  StateRef<XBytesState<Multi>> keep(s);  // the Receiver may be destroyed while this waits
  for (;;) {
    co_await XWaitAwaiter(&s->rx_wait, [s] { return s->recv_ready(); });
    if (s->receiver_gone()) [[unlikely]]  // the Receiver itself went, or the ring broke
      co_return err(s->gone_error() == ClaimError::Corrupt ? RecvError::Corrupt
                                                           : RecvError::Closed);
    auto r = bytes_try_recv(s);
    if (r || r.error() != RecvError::Empty) co_return r;
  }
}

// Writer endpoint; mpsc_bytes senders can be copied (each copy is another producer).
template <bool Multi>
class XBytesSender : public SenderRef<XBytesState<Multi>, Multi> {
  using Base = SenderRef<XBytesState<Multi>, Multi>;
  using Base::s_;
  using R = Result<XWriteClaim<Multi>, ClaimError>;

 public:
  using WriteClaim = XWriteClaim<Multi>;
  using Base::Base;

  // Never blocks: Full, ZeroLength, TooLarge, Closed or Corrupt.
  Result<WriteClaim, ClaimError> try_claim(std::size_t n, uint16_t kind = 0) noexcept {
    return bytes_try_claim(s_, n, kind);
  }
  // Task: suspends while there is no room; ZeroLength / TooLarge / Closed at once.
  auto claim(std::size_t n, uint16_t kind = 0) noexcept {
    auto* s = s_;
    return try_or_wait<R>([s, n, kind] { return final_claim(bytes_try_claim(s, n, kind)); },
                          [s, n, kind] { return claim_slow<Multi>(s, n, kind); });
  }
  // Plain thread: spins, then sleeps in std::atomic::wait while there is no room.
  R claim_blocking(std::size_t n, uint16_t kind = 0) {
    return block_on_queue(
        s_->tx_wait, [&] { return final_claim(bytes_try_claim(s_, n, kind)); },
        [this, n] { return s_->claim_ready(n); });
  }

  std::size_t capacity() const noexcept { return s_->buf->capacity(); }
  std::size_t max_payload() const noexcept { return s_->buf->max_payload(); }

 private:
  static std::optional<R> final_claim(R r) {
    if (r || r.error() != ClaimError::Full) return std::optional<R>(std::move(r));
    return std::nullopt;
  }
};

template <bool Multi>
class XBytesReceiver : public ReceiverRef<XBytesState<Multi>> {
  using Base = ReceiverRef<XBytesState<Multi>>;
  using Base::s_;
  using R = Result<XReadClaim<Multi>, RecvError>;

 public:
  using ReadClaim = XReadClaim<Multi>;
  using Base::Base;

  // Never blocks: Empty while senders live, Closed once they are all gone and it is drained,
  // Corrupt if the ring's memory was overwritten.
  Result<ReadClaim, RecvError> try_recv() noexcept { return bytes_try_recv(s_); }
  // Task: suspends while empty.
  auto recv() noexcept {
    auto* s = s_;
    return try_or_wait<R>([s] { return final_recv(bytes_try_recv(s)); },
                          [s] { return bytes_recv_slow<Multi>(s); });
  }
  // Plain thread: spins, then sleeps in std::atomic::wait while empty.
  R recv_blocking() {
    return block_on_queue(
        s_->rx_wait, [this] { return final_recv(bytes_try_recv(s_)); },
        [this] { return s_->recv_ready(); });
  }

  std::size_t capacity() const noexcept { return s_->buf->capacity(); }

 private:
  static std::optional<R> final_recv(R r) {
    if (r || r.error() != RecvError::Empty) return std::optional<R>(std::move(r));
    return std::nullopt;
  }
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
