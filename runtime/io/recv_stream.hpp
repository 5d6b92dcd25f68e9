// RecvStream: a multishot receive (IORING_RECV_MULTISHOT, 6.0+) on a TCP or UDP socket into
// a BufferRing. One armed request delivers every message as it arrives; next() hands them out
// in order as BufferLeases.
//
// Never silently stopped: when the kernel ends the multishot (the ring ran out of buffers,
// -ENOBUFS; or it stopped for its own reasons), the stream is re-armed, at once if buffers are
// free, else as soon as one is returned. Only the end of a TCP stream (eof()) or a socket
// error ends it, and then next() keeps returning that error. Kernels without multishot
// receive get a single-shot receive re-armed after each message.
//
// Holding every lease stops the flow (the kernel has nowhere to write): that is the
// backpressure, and the socket's own buffer absorbs the rest. One consumer at a time.
//
// UDP: each lease is one datagram, received with multishot recvmsg so the lease also says who
// sent it (from()) and whether it was cut to fit (truncated()); each buffer gives kMsgHeader
// (44) bytes to that, so size buffers at least 44 + the largest datagram (1500-byte MTU
// feeds: 2048). With buffers of kMsgHeader bytes or less, or on kernels without multishot,
// plain recv is used: no address, and a datagram longer than a buffer is cut silently.
#pragma once

#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <memory>

#include "../result.hpp"
#include "../runtime.hpp"
#include "buffer_ring.hpp"
#include "error.hpp"

namespace sluice::io {

class RecvStream {
  enum class Kind : uint8_t {
    Data,   // res bytes in buffer `id`
    Empty,  // an empty UDP datagram (no buffer)
    Error,  // -res is the errno: UDP goes on after it, TCP ends
    End,    // the end of a TCP stream
  };
  struct Item {
    int32_t res;  // Data: payload bytes; Error: -errno
    uint16_t id;
    Kind kind;
    bool truncated = false;  // recvmsg: the datagram did not fit
    uint16_t off = 0;        // recvmsg: where the payload starts in the buffer
    uint16_t namelen = 0;    // recvmsg: the sender's address, right after the header
  };
  static constexpr uint32_t kExtra = 64;
  static bool transient_udp_error(int e) noexcept {
    return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN ||
           e == ENETDOWN;
  }
  // What a multishot recvmsg puts ahead of each datagram: its header and the sender's name.
  static constexpr uint32_t kMsgHeader = sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_in6);
  struct State : sluice::detail::IoOp, detail::StalledRecv {
    Runtime* rt = nullptr;
    BufferRing* br = nullptr;
    int fd = -1;
    bool stream = true;  // TCP: 0 bytes is the end; UDP: an empty datagram
    bool multishot = true;
    // UDP: multishot recvmsg, so each buffer carries the sender's address and the truncation
    // flag ahead of the payload (io_uring_recvmsg_out). Needs buffers larger than kMsgHeader.
    bool msg = false;
    msghdr mh{};
    bool ended = false;  // an error or eof was queued: no more arming
    bool stalled = false;
    bool closing = false;
    bool armed_once = false;
    uint64_t rearms = 0;  // arms after the first: the kernel ended it, or the ring ran dry
    sluice::detail::TaskHeader* waiter = nullptr;
    void** waiter_state = nullptr;  // the waiting NextAwaiter's state pointer (reset clears it)
    std::unique_ptr<Item[]> q;      // count + kExtra
    uint32_t cap = 0, head = 0, size = 0;
    // Items without a buffer (empty datagrams, errors, the end) in the queue: at most kExtra,
    // so a flood of empty datagrams cannot grow it; past that they are dropped and counted.
    uint32_t extras = 0;
    uint64_t dropped = 0;
    IoError final_error{};

    void push(Item it) noexcept {
      if (it.kind != Kind::Data) {
        if (extras == kExtra) {
          ++dropped;
          return;
        }
        ++extras;
      }
      q[(head + size) % cap] = it;
      ++size;
      // waiter_state stays: until the woken awaiter resumes, reset() must still reach it.
      if (waiter != nullptr) rt->schedule(std::exchange(waiter, nullptr));
    }
    void arm() noexcept {
      if (in_flight || ended || closing) return;
      io_uring_sqe* sqe = rt->io_prepare(this);
      if (sqe == nullptr) {
        ended = true;
        push(Item{-ENOSYS, 0, Kind::Error});
        return;
      }
      if (armed_once) ++rearms;
      armed_once = true;
      stalled = false;
      if (msg)
        io_uring_prep_recvmsg_multishot(sqe, fd, &mh, 0);
      else if (multishot)
        io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
      else
        io_uring_prep_recv(sqe, fd, nullptr, 0, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = br->group();
    }
    static void complete(sluice::detail::IoOp* o, int32_t res, uint32_t flags) noexcept {
      auto* s = static_cast<State*>(o);
      const bool last = !(flags & IORING_CQE_F_MORE);
      const bool buf = flags & IORING_CQE_F_BUFFER;
      const auto id = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      if (buf) s->br->taken();
      if (s->closing) {  // reset() is cancelling: give the buffer back, arm nothing
        if (buf) s->br->recycle(id);
        return;
      }
      if (res == -EINVAL && s->multishot && last) {
        // No multishot receive in this kernel: single-shot recv from now (no addresses).
        s->multishot = false;
        s->msg = false;
        s->rt->io_defer(s);
        return;
      }
      if (res > 0 && s->msg) {
        auto* out = io_uring_recvmsg_validate(s->br->buffer(id, 0).data(), res, &s->mh);
        if (out == nullptr) {  // cannot happen with buffers larger than the header
          s->br->recycle(id);
          s->push(Item{-EBADMSG, 0, Kind::Error});
        } else {
          const auto* base = reinterpret_cast<const std::byte*>(out);
          const auto* payload =
              static_cast<const std::byte*>(io_uring_recvmsg_payload(out, &s->mh));
          Item it{static_cast<int32_t>(io_uring_recvmsg_payload_length(out, res, &s->mh)), id,
                  Kind::Data};
          it.off = static_cast<uint16_t>(payload - base);
          it.truncated = (out->flags & MSG_TRUNC) != 0;
          it.namelen = static_cast<uint16_t>(out->namelen < s->mh.msg_namelen ? out->namelen
                                                                              : s->mh.msg_namelen);
          s->push(it);
        }
      } else if (res > 0) {
        s->push(Item{res, id, Kind::Data});
      } else if (res == 0 && !s->stream) {  // an empty datagram: a message all the same
        if (buf) s->br->recycle(id);
        s->push(Item{0, 0, Kind::Empty});
      } else if (res == 0) {  // end of a TCP stream
        if (buf) s->br->recycle(id);
        s->ended = true;
        s->push(Item{0, 0, Kind::End});
        return;
      } else if (res == -ENOBUFS) {
        // Every buffer is leased or queued: re-arm once one comes back.
        s->stalled = true;
        if (s->br->available() > 0)
          s->rt->io_defer(s);
        else
          s->br->stall(s);
        return;
      } else {
        // TCP: the stream is over. UDP: an ICMP-borne error (ECONNREFUSED after a port
        // unreachable on a connected socket) says nothing of the next datagram: report, go
        // on. Any other error (EBADF: the socket went first) ends it, rather than re-arm
        // in a loop.
        const bool transient = !s->stream && transient_udp_error(-res);
        if (!transient) s->ended = true;
        s->push(Item{res, 0, Kind::Error});
        if (!transient) return;
      }
      if (last) s->rt->io_defer(s);  // the kernel stopped it: arm again
    }
    static void rearm(sluice::detail::IoOp* o) noexcept {
      auto* s = static_cast<State*>(o);
      // Arm only for a consumer that could use it now or later; queued items hold buffers,
      // so a full queue has no buffer to give anyway (arm() then ends in ENOBUFS, harmless).
      s->arm();
    }
    static void unstall(detail::StalledRecv* r) noexcept {
      auto* s = static_cast<State*>(r);
      s->rt->io_defer(s);  // recycle may run inside a completion: arm at the next safe point
    }
  };

 public:
  RecvStream() noexcept = default;
  RecvStream(RecvStream&&) noexcept = default;
  RecvStream& operator=(RecvStream&& o) noexcept {
    reset();
    s_ = std::move(o.s_);
    return *this;
  }
  ~RecvStream() { reset(); }

  // A stream on socket `fd` (TCP when `stream`, else UDP) drawing from `br`, on br's runtime.
  // Arms on the first next(). The socket must outlive the stream.
  static Result<RecvStream, IoError> make(int fd, BufferRing& br, bool stream = true) noexcept {
    std::unique_ptr<State> s(new (std::nothrow) State());
    if (!s) return err(IoError::sys(ENOMEM));
    s->cap = br.count() + kExtra;  // one per buffer, plus the bufferless items
    s->q.reset(new (std::nothrow) Item[s->cap]);
    if (!s->q) return err(IoError::sys(ENOMEM));
    s->on_cqe = &State::complete;
    s->on_deferred = &State::rearm;
    s->resume = &State::unstall;
    s->rt = br.runtime();
    s->br = &br;
    s->fd = fd;
    s->stream = stream;
    // UDP: recvmsg when the buffers have room past the header and an IPv6-sized name.
    s->mh.msg_namelen = sizeof(sockaddr_in6);
    s->msg = !stream && br.buffer_size() > kMsgHeader;
    br.attach();
    RecvStream r;
    r.s_ = std::move(s);
    return r;
  }

  class [[nodiscard]] NextAwaiter {
   public:
    explicit NextAwaiter(State* s) noexcept : s_(s) {}
    NextAwaiter(const NextAwaiter&) = delete;
    NextAwaiter& operator=(const NextAwaiter&) = delete;
    ~NextAwaiter() {
      // Destroyed while waiting (or woken, not yet run): unregister; the items stay queued
      // for the next call.
      if (s_ != nullptr && me_ != nullptr) unregister();
    }
    bool await_ready() noexcept {
      if (s_ == nullptr) return true;  // an empty (moved-from or reset) stream
      if (s_->size > 0 || s_->ended) return true;
      if (!s_->in_flight && !s_->stalled) s_->arm();
      return s_->size > 0;
    }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      me_ = sluice::detail::tl_ctx.current;
      me_->leaf = h;
      s_->waiter = me_;
      s_->waiter_state = reinterpret_cast<void**>(&s_);
    }
    Result<BufferLease, IoError> await_resume() noexcept {
      if (s_ == nullptr) return err(IoError::sys(ECANCELED));  // reset while we waited
      if (me_ != nullptr) unregister();
      me_ = nullptr;
      if (s_->size == 0) return err(s_->final_error);
      const Item it = s_->q[s_->head];
      s_->head = (s_->head + 1) % s_->cap;
      --s_->size;
      if (it.kind != Kind::Data) --s_->extras;
      switch (it.kind) {
        case Kind::Data: {
          if (!s_->msg && it.off == 0)
            return BufferLease(s_->br, it.id,
                               s_->br->buffer(it.id, static_cast<std::size_t>(it.res)));
          std::byte* b = s_->br->buffer(it.id, 0).data();
          BufferLease l(s_->br, it.id, {b + it.off, static_cast<std::size_t>(it.res)});
          l.set_datagram(b + sizeof(io_uring_recvmsg_out), it.namelen, it.truncated);
          return l;
        }
        case Kind::Empty:
          return BufferLease();
        case Kind::Error:
          if (s_->ended) s_->final_error = IoError::sys(-it.res);
          return err(IoError::sys(-it.res));
        case Kind::End:
          break;
      }
      s_->final_error = IoError::eof();
      return err(s_->final_error);
    }

   private:
    void unregister() noexcept {
      if (s_->waiter == me_) s_->waiter = nullptr;
      if (s_->waiter_state == reinterpret_cast<void**>(&s_)) s_->waiter_state = nullptr;
    }
    State* s_;
    sluice::detail::TaskHeader* me_ = nullptr;
  };

  // The next message (in arrival order), or the error that ended the stream (eof() for a
  // TCP peer's close), again on every later call. UDP: an empty datagram is an empty lease;
  // an ICMP-borne error (ECONNREFUSED, EHOSTUNREACH, ...) is returned once and the stream goes
  // on; any other error ends it. Cancel-safe: a next() that
  // is cancelled takes nothing. ECANCELED: the stream was reset (or is empty).
  NextAwaiter next() noexcept { return NextAwaiter(s_.get()); }

  bool valid() const noexcept { return s_ != nullptr; }
  // Times the receive was armed again after the kernel ended it (-ENOBUFS included).
  uint64_t rearms() const noexcept { return s_ ? s_->rearms : 0; }
  // Bufferless items (empty datagrams, per-datagram errors) dropped because kExtra of them
  // were already queued: a flood of empty datagrams cannot grow memory.
  uint64_t dropped() const noexcept { return s_ ? s_->dropped : 0; }
  // Messages received and not yet taken.
  std::size_t queued() const noexcept { return s_ ? s_->size : 0; }

  // Cancels the armed receive, waits for its last completion, and returns queued buffers. A
  // task waiting in next() gets ECANCELED.
  void reset() noexcept {
    if (!s_) return;
    State* s = s_.get();
    s->closing = true;
    if (s->in_flight) s->rt->io_cancel(s);  // completions meanwhile only recycle (closing)
    s->rt->io_undefer(s);
    s->br->unstall(s);
    // A waiting next(), or one woken and not yet run: it must not touch s after this.
    if (s->waiter_state != nullptr) *std::exchange(s->waiter_state, nullptr) = nullptr;
    if (s->waiter != nullptr) s->rt->schedule(std::exchange(s->waiter, nullptr));
    while (s->size > 0) {
      const Item it = s->q[s->head];
      if (it.kind == Kind::Data) s->br->recycle(it.id);
      s->head = (s->head + 1) % s->cap;
      --s->size;
    }
    s->br->detach();
    s_.reset();
  }

 private:
  std::unique_ptr<State> s_;
};

}  // namespace sluice::io
