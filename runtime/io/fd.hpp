// OwnedFd: a file descriptor closed when its owner goes. The close in the destructor is a
// plain close(2): it must work on any thread, with or without a runtime, and an fd never has
// an io_uring operation of ours in flight when its owner is destroyed (every operation object
// waits for its last completion first). Use the awaitable close() of sockets and files to close
// on the ring and see the error.
#pragma once

#include <unistd.h>

#include <utility>

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
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace sluice::io
