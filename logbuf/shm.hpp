// ShmRegion: an anonymous shared-memory mapping (memfd) in which a logbuf can live, so two
// processes on one host exchange records. The creator calls SpscLogbuf::create_in on
// data(); the other process inherits the fd (fork) or receives it (exec, SCM_RIGHTS), maps it
// with map_fd and calls attach. Nothing in a logbuf region is a pointer, so each process may
// map it at a different address. Set-up only: none of this is on a hot path.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <utility>

#include "../runtime/result.hpp"

namespace sluice::logbuf {

struct ShmError {
  int errno_value;  // what the failing call set
};

class ShmRegion {
 public:
  ShmRegion() noexcept = default;
  ShmRegion(ShmRegion&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        bytes_(std::exchange(o.bytes_, 0)),
        fd_(std::exchange(o.fd_, -1)) {}
  ShmRegion& operator=(ShmRegion&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ShmRegion(const ShmRegion&) = delete;
  ShmRegion& operator=(const ShmRegion&) = delete;
  ~ShmRegion() { reset(); }

  // A new zero-filled region of `bytes`, mapped shared. The fd is not close-on-exec, so an
  // exec'd child can map it (pass its number along).
  static Result<ShmRegion, ShmError> create(std::size_t bytes, const char* name = "sluice-logbuf") {
    int fd = ::memfd_create(name, 0);
    if (fd < 0) return err(ShmError{errno});
    if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      int e = errno;
      ::close(fd);
      return err(ShmError{e});
    }
    auto r = map_fd(fd, bytes);
    if (!r) ::close(fd);
    return r;
  }

  // Maps an existing region's fd (takes ownership of fd on success).
  static Result<ShmRegion, ShmError> map_fd(int fd, std::size_t bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return err(ShmError{errno});
    ShmRegion r;
    r.data_ = p;
    r.bytes_ = bytes;
    r.fd_ = fd;
    return r;
  }

  void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return bytes_; }
  int fd() const noexcept { return fd_; }

 private:
  void reset() noexcept {
    if (data_ != nullptr) ::munmap(data_, bytes_);
    if (fd_ >= 0) ::close(fd_);
    data_ = nullptr;
    bytes_ = 0;
    fd_ = -1;
  }
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  int fd_ = -1;
};

}  // namespace sluice::logbuf
