// OwnedFd: a file descriptor closed when its owner goes, with a plain close(2): it must work
// on any thread, with or without a runtime. An io_uring operation holds its own reference to
// the file, so closing does not end one still in flight: for sockets, SocketFd (below) shuts
// the socket down first, which does. Use the awaitable close() of sockets and files to close
// on the ring and see the error.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "../runtime.hpp"

namespace sluice::io {

class OwnedFd {
 public:
  OwnedFd() noexcept = default;
  explicit OwnedFd(int fd) noexcept : fd_(fd) {}
  OwnedFd(OwnedFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  OwnedFd& operator=(OwnedFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~OwnedFd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) {
      // An SQE a task prepared on this fd in the current loop turn is still in the queue:
      // submit it first, or it would be issued against whatever file takes the number next.
      if (Runtime* rt = Runtime::current()) rt->io_submit_queued();
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A socket's descriptor: shut down before it is closed. io_uring holds its own reference to
// the file, so close alone would leave an operation another task has in flight on the socket
// waiting forever (and a TCP peer without a FIN); the shutdown completes it now, with eof()
// or an error, and sends the FIN after what was already sent.
class SocketFd {
 public:
  SocketFd() noexcept = default;
  explicit SocketFd(OwnedFd fd) noexcept : fd_(std::move(fd)) {}
  SocketFd(SocketFd&&) noexcept = default;
  SocketFd& operator=(SocketFd&& o) noexcept {
    if (this != &o) {
      shut();
      fd_ = std::move(o.fd_);
    }
    return *this;
  }
  ~SocketFd() { shut(); }

  int get() const noexcept { return fd_.get(); }
  bool valid() const noexcept { return fd_.valid(); }
  // Gives the descriptor up without a shutdown (the caller owns the socket now).
  OwnedFd release() noexcept { return std::move(fd_); }
  // Shuts down and gives the descriptor up, for a close on the ring.
  int shut_and_release() noexcept {
    shut();
    return fd_.release();
  }

 private:
  void shut() noexcept {
    if (fd_.valid()) (void)::shutdown(fd_.get(), SHUT_RDWR);
  }
  OwnedFd fd_;
};

}  // namespace sluice::io
