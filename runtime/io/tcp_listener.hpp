// TcpListener: a listening TCP socket whose accepts run on the runtime's ring.
//
// One multishot accept (5.19+) stays armed while anyone accepts: each connection the kernel
// accepts is handed straight to the longest-waiting accept() (FIFO) or queued for the next
// one. Kernels without multishot accept get a single-shot accept re-armed per connection.
// An error completion (EMFILE when the process is out of descriptors, ENFILE, ENOMEM) goes to
// one waiter as a value; the next accept() arms again. close() (or destruction) cancels the
// armed accept, waits for its last completion, and every waiting accept() gets ECANCELED.
//
// A waiter handed a connection but destroyed before it ran (aborted, timed out) passes the
// connection on to the next waiter, or back to the queue: nothing accepted is ever lost.
// Accepted streams come with TCP_NODELAY on, like connected ones.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <cerrno>
#include <coroutine>
#include <deque>
#include <memory>

#include "../detail/wait_list.hpp"
#include "../result.hpp"
#include "../runtime.hpp"
#include "address.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "socket_options.hpp"
#include "tcp_stream.hpp"

namespace sluice::io {

class TcpListener {
  struct Waiter : sluice::detail::WaitNode<Waiter> {
    sluice::detail::TaskHeader* task = nullptr;
    bool handed = false;  // fd or error below was handed over by the completion
    int fd = -1;
    int error = 0;
  };
  // Heap: the ring and the waiters hold its address while the listener object moves.
  struct State : sluice::detail::IoOp {
    OwnedFd fd;
    Runtime* rt = nullptr;
    std::deque<int> ready;  // accepted, no waiter yet (not a hot path: accept)
    int pending_error = 0;  // an error completion with no waiter: the next accept() gets it
    sluice::detail::WaitList<Waiter> waiters;
    bool multishot = true;  // cleared when the kernel refuses IORING_ACCEPT_MULTISHOT
    bool closing = false;

    ~State() { shut(); }
    void arm() noexcept {
      io_uring_sqe* sqe = rt->io_prepare(this);
      if (sqe == nullptr) {
        pending_error = ENOSYS;
        return;
      }
      if (multishot)
        io_uring_prep_multishot_accept(sqe, fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
      else
        io_uring_prep_accept(sqe, fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
    }
    void hand(int accepted, int error) noexcept {
      if (Waiter* w = waiters.pop_front()) {
        w->handed = true;
        w->fd = accepted;
        w->error = error;
        rt->schedule(w->task);
      } else if (accepted >= 0) {
        ready.push_back(accepted);
      } else {
        pending_error = error;
      }
    }
    static void complete(sluice::detail::IoOp* o, int32_t res, uint32_t flags) noexcept {
      auto* s = static_cast<State*>(o);
      const bool last = !(flags & IORING_CQE_F_MORE);
      if (res == -EINVAL && s->multishot && last && !s->closing) {
        s->multishot = false;  // an old kernel: single-shot from now on
        s->rt->io_defer(s);
        return;
      }
      if (res >= 0)
        s->hand(res, 0);
      else if (res != -ECANCELED || !s->closing)
        s->hand(-1, -res);
      // Ended (single-shot, or the kernel stopped the multishot): arm again while anyone
      // waits; an accept() with nobody waiting arms lazily.
      if (last && !s->closing && !s->waiters.empty()) s->rt->io_defer(s);
    }
    static void rearm(sluice::detail::IoOp* o) noexcept {
      auto* s = static_cast<State*>(o);
      if (!s->in_flight && !s->closing) s->arm();
    }
    void shut() noexcept {
      if (closing) return;
      closing = true;
      if (in_flight) rt->io_cancel(this);
      while (Waiter* w = waiters.pop_front()) {
        w->handed = true;
        w->error = ECANCELED;
        rt->schedule(w->task);
      }
      for (int f : ready) ::close(f);
      ready.clear();
      fd.reset();
    }
  };

 public:
  TcpListener() noexcept = default;
  TcpListener(TcpListener&&) noexcept = default;
  TcpListener& operator=(TcpListener&& o) noexcept {
    close();
    s_ = std::move(o.s_);
    return *this;
  }
  ~TcpListener() { close(); }

  // socket + SO_REUSEADDR (+ SO_REUSEPORT) + bind + listen. Port 0 picks a free port
  // (local_address() tells which). Call on the runtime's thread (inside a task or not).
  static Result<TcpListener, IoError> bind(SocketAddress at, int backlog = 4096,
                                           bool reuse_port = false) noexcept {
    OwnedFd fd(::socket(at.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return err(IoError::sys(errno));
    if (auto r = set_reuse_addr(fd.get()); !r) return err(r.error());
    if (reuse_port)
      if (auto r = set_reuse_port(fd.get()); !r) return err(r.error());
    if (::bind(fd.get(), at.get(), at.size()) != 0) return err(IoError::sys(errno));
    if (::listen(fd.get(), backlog) != 0) return err(IoError::sys(errno));
    std::shared_ptr<State> s(new (std::nothrow) State());
    if (!s) return err(IoError::sys(ENOMEM));
    s->on_cqe = &State::complete;
    s->on_deferred = &State::rearm;
    s->fd = std::move(fd);
    TcpListener l;
    l.s_ = std::move(s);
    return l;
  }

  class [[nodiscard]] AcceptAwaiter : Waiter {
   public:
    explicit AcceptAwaiter(std::shared_ptr<State> s) noexcept : s_(std::move(s)) {}
    AcceptAwaiter(const AcceptAwaiter&) = delete;
    AcceptAwaiter& operator=(const AcceptAwaiter&) = delete;
    ~AcceptAwaiter() {
      if (s_ == nullptr) return;
      s_->waiters.remove(this);
      // Handed a connection but never ran: pass it on, so nothing accepted is lost.
      if (handed && fd >= 0 && !s_->closing)
        s_->hand(fd, 0);
      else if (handed && fd >= 0)
        ::close(fd);
    }
    bool await_ready() noexcept {
      if (s_ == nullptr || s_->closing || !s_->fd.valid()) {  // empty, moved from, closed
        handed = true;
        error = ECANCELED;
        return true;
      }
      if (!s_->ready.empty()) {
        handed = true;
        fd = s_->ready.front();
        s_->ready.pop_front();
        return true;
      }
      if (s_->pending_error != 0) {
        handed = true;
        error = std::exchange(s_->pending_error, 0);
        return true;
      }
      return false;
    }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      sluice::detail::TaskHeader* cur = sluice::detail::tl_ctx.current;
      s_->rt = cur->rt;
      if (!s_->in_flight) {
        s_->arm();
        if (s_->pending_error != 0) {  // no ring
          handed = true;
          error = std::exchange(s_->pending_error, 0);
          return false;
        }
      }
      cur->leaf = h;
      task = cur;
      s_->waiters.push_back(this);
      return true;
    }
    Result<TcpStream, IoError> await_resume() noexcept {
      handed = false;
      if (fd >= 0) {
        TcpStream s(OwnedFd(std::exchange(fd, -1)));
        (void)s.set_nodelay();  // as connect() does: a small order goes out now
        return s;
      }
      return err(IoError::sys(error != 0 ? error : ECANCELED));
    }

   private:
    std::shared_ptr<State> s_;  // a waiter handed a connection may outlive the listener
  };

  // The next connection (FIFO among concurrent callers).
  AcceptAwaiter accept() noexcept { return AcceptAwaiter(s_); }

  // Cancels the armed accept and waits for its last completion; waiting accept() calls get
  // ECANCELED, connections accepted but not yet taken are closed. Idempotent.
  void close() noexcept {
    if (s_) s_->shut();
  }

  SocketAddress local_address() const noexcept {
    return s_ ? local_address_of(s_->fd.get()) : SocketAddress();
  }
  int fd() const noexcept { return s_ ? s_->fd.get() : -1; }
  bool valid() const noexcept { return s_ && s_->fd.valid(); }

 private:
  std::shared_ptr<State> s_;
};

}  // namespace sluice::io
