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
// backpressure, and the socket's own buffer absorbs the rest. UDP: each lease is one datagram
// (the sender's address is not kept; recv_from has it). One consumer at a time.
#pragma once

#include <liburing.h>
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
  struct Item {
    int32_t res;  // > 0 (or 0 for an empty datagram): bytes in buffer `id`; < 0: -errno
    uint16_t id;
    bool has_buffer;
  };
  struct State : sluice::detail::IoOp, detail::StalledRecv {
    Runtime* rt = nullptr;
    BufferRing* br = nullptr;
    int fd = -1;
    bool stream = true;  // TCP: 0 bytes is the end; UDP: an empty datagram
    bool multishot = true;
    bool ended = false;  // an error or eof was queued: no more arming
    bool stalled = false;
    bool closing = false;
    bool armed_once = false;
    uint64_t rearms = 0;  // arms after the first: the kernel ended it, or the ring ran dry
    sluice::detail::TaskHeader* waiter = nullptr;
    std::unique_ptr<Item[]> q;  // count + 2: one per buffer, plus the terminal item
    uint32_t cap = 0, head = 0, size = 0;
    IoError final_error{};

    void push(Item it) noexcept {
      q[(head + size) % cap] = it;
      ++size;
      if (waiter != nullptr) rt->schedule(std::exchange(waiter, nullptr));
    }
    void arm() noexcept {
      if (in_flight || ended || closing) return;
      io_uring_sqe* sqe = rt->io_prepare(this);
      if (sqe == nullptr) {
        ended = true;
        push(Item{-ENOSYS, 0, false});
        return;
      }
      if (armed_once) ++rearms;
      armed_once = true;
      stalled = false;
      if (multishot)
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
      if (res == -EINVAL && s->multishot && last && !s->closing) {
        s->multishot = false;  // no multishot receive in this kernel: single-shot from now
        s->rt->io_defer(s);
        return;
      }
      if (res > 0 || (res == 0 && buf && !s->stream)) {
        s->push(Item{res, id, buf});
      } else if (res == 0) {  // end of a TCP stream
        if (buf) s->br->recycle(id);
        s->ended = true;
        s->push(Item{0, 0, false});
      } else if (res == -ENOBUFS) {
        // Every buffer is leased or queued: re-arm once one comes back.
        s->stalled = true;
        if (s->br->available() > 0)
          s->rt->io_defer(s);
        else
          s->br->stall(s);
        return;
      } else if (res == -ECANCELED && s->closing) {
        return;
      } else {
        s->ended = true;
        s->push(Item{res, 0, false});
      }
      if (last && !s->ended && !s->closing) s->rt->io_defer(s);  // the kernel stopped it
    }
    static void rearm(sluice::detail::IoOp* o) noexcept { static_cast<State*>(o)->arm(); }
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
    s->cap = br.count() + 2;
    s->q.reset(new (std::nothrow) Item[s->cap]);
    if (!s->q) return err(IoError::sys(ENOMEM));
    s->on_cqe = &State::complete;
    s->on_deferred = &State::rearm;
    s->resume = &State::unstall;
    s->rt = br.runtime();
    s->br = &br;
    s->fd = fd;
    s->stream = stream;
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
      if (s_ != nullptr && s_->waiter == me_) s_->waiter = nullptr;  // items stay queued
    }
    bool await_ready() noexcept {
      if (s_->size > 0) return true;
      if (s_->ended) return true;
      if (!s_->in_flight && !s_->stalled) s_->arm();
      return s_->size > 0;
    }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      me_ = sluice::detail::tl_ctx.current;
      me_->leaf = h;
      s_->waiter = me_;
    }
    Result<BufferLease, IoError> await_resume() noexcept {
      if (s_->waiter == me_) s_->waiter = nullptr;
      me_ = nullptr;
      if (s_->size == 0) return err(s_->final_error);
      Item it = s_->q[s_->head];
      if (it.res < 0 || (it.res == 0 && !it.has_buffer)) {  // terminal: stays for later calls
        s_->final_error = it.res == 0 ? IoError::eof() : IoError::sys(-it.res);
        s_->head = (s_->head + 1) % s_->cap;
        --s_->size;
        return err(s_->final_error);
      }
      s_->head = (s_->head + 1) % s_->cap;
      --s_->size;
      return BufferLease(s_->br, it.id, s_->br->buffer(it.id, static_cast<std::size_t>(it.res)));
    }

   private:
    State* s_;
    sluice::detail::TaskHeader* me_ = nullptr;
  };

  // The next message (in arrival order), or the error that ended the stream (eof() for a
  // TCP peer's close), again on every later call.
  NextAwaiter next() noexcept { return NextAwaiter(s_.get()); }

  bool valid() const noexcept { return s_ != nullptr; }
  // Times the receive was armed again after the kernel ended it (-ENOBUFS included).
  uint64_t rearms() const noexcept { return s_ ? s_->rearms : 0; }
  // Messages received and not yet taken.
  std::size_t queued() const noexcept { return s_ ? s_->size : 0; }

  // Cancels the armed receive, waits for its last completion, and returns queued buffers.
  void reset() noexcept {
    if (!s_) return;
    State* s = s_.get();
    s->closing = true;
    s->rt->io_undefer(s);
    s->br->unstall(s);
    if (s->in_flight) s->rt->io_cancel(s);
    while (s->size > 0) {
      Item it = s->q[s->head];
      if (it.has_buffer) s->br->recycle(it.id);
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
