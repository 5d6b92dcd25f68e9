// ShmRegion: an anonymous shared-memory mapping (memfd) in which a logbuf can live, so two
// processes on one host exchange records. The creator calls SpscLogbuf::create_in on
// data(); the other process inherits the fd (fork) or receives it (exec, SCM_RIGHTS), maps it
// with map_fd and calls attach. Nothing in a logbuf region is a pointer, so each process may
// map it at a different address. Set-up only: none of this is on a hot path.
//
// The peer need not be trusted (docs/logbuf.md, "Trust model"). Touching a mapping beyond the
// end of its file raises SIGBUS, so a peer that could shrink the file could crash us: create()
// seals the memfd against shrinking and growing (and against further seals), and map_fd() maps
// only an fd that is sealed against shrinking and at least as large as the mapping.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <utility>

#include "../runtime/result.hpp"

namespace sluice::logbuf {

struct ShmError {
  int errno_value;        // what the failing call set; EINVAL: no size or the file is smaller
                          // than the mapping; EPERM: the fd is not sealed against shrinking
  const char* step = "";  // the call or check that failed
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

  // A new zero-filled region of `bytes` (0 is refused: region_bytes() returns 0 for a capacity
  // no logbuf accepts), mapped shared. The fd is not close-on-exec, so an exec'd child can map
  // it (pass its number along). Its size is sealed: nobody, the creator included, can shrink or
  // grow the file or add seals afterwards.
  [[nodiscard]] static Result<ShmRegion, ShmError> create(std::size_t bytes,
                                                          const char* name = "sluice-logbuf") {
    if (bytes == 0) return err(ShmError{EINVAL, "size 0"});
    int fd = ::memfd_create(name, MFD_ALLOW_SEALING);
    if (fd < 0) return err(ShmError{errno, "memfd_create"});
    if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) return fail(fd, "ftruncate");
    if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
      return fail(fd, "fcntl(F_ADD_SEALS)");
    auto r = map_fd(fd, bytes);
    if (!r) ::close(fd);
    return r;
  }

  // Maps the first `bytes` of an existing region's fd (takes ownership of fd on success). The
  // fd must be sealed against shrinking (F_SEAL_SHRINK; create() does that) and its file must
  // be at least `bytes` long: then no access to the mapping can fault, whatever the peer does.
  // An fd that cannot carry seals (not a memfd) is refused with EINVAL from F_GET_SEALS.
  [[nodiscard]] static Result<ShmRegion, ShmError> map_fd(int fd, std::size_t bytes) {
    if (bytes == 0) return err(ShmError{EINVAL, "size 0"});
    const int seals = ::fcntl(fd, F_GET_SEALS);
    if (seals < 0) return err(ShmError{errno, "fcntl(F_GET_SEALS)"});
    if ((seals & F_SEAL_SHRINK) == 0) return err(ShmError{EPERM, "not sealed against shrinking"});
    struct stat st {};
    if (::fstat(fd, &st) != 0) return err(ShmError{errno, "fstat"});
    if (st.st_size < 0 || static_cast<std::size_t>(st.st_size) < bytes)
      return err(ShmError{EINVAL, "file smaller than the mapping"});
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return err(ShmError{errno, "mmap"});
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
  static Result<ShmRegion, ShmError> fail(int fd, const char* step) {
    const int e = errno;
    ::close(fd);
    return err(ShmError{e, step});
  }
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
