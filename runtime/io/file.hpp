// File: a regular file whose reads, writes and syncs run on the runtime's ring (the kernel's
// workers do the blocking part; the runtime's thread never blocks on the disk).
//
// Reads and writes take an explicit offset (pread/pwrite semantics: several in flight at
// once are fine). append() writes at the end: open with O_APPEND and each append lands whole,
// in completion order, even from many tasks at once. Errors are IoError values; a read at the
// end of the file is eof(). A cancelled write may or may not have reached the file (a write
// already running in the kernel completes); its buffer stays alive until it has.
#pragma once

#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>

#include "../result.hpp"
#include "../task.hpp"
#include "detail/op.hpp"
#include "error.hpp"
#include "fd.hpp"

namespace sluice::io {

class File;
namespace detail {
struct MapOpen {
  static constexpr bool kOwnsFd = true;  // a result never taken is closed (Op's destructor)
  Result<File, IoError> operator()(int32_t res) const noexcept;
};
}  // namespace detail

class File {
 public:
  File() noexcept = default;
  explicit File(OwnedFd fd) noexcept : fd_(std::move(fd)) {}

  // openat(2) on the ring. `path` must stay valid until the open completes (a literal, or a
  // string that outlives the co_await). O_CLOEXEC is added.
  [[nodiscard]] static auto open(const char* path, int flags, mode_t mode = 0644) noexcept {
    return detail::make_op(
        [path, flags, mode](io_uring_sqe* sqe, Runtime*) noexcept {
          io_uring_prep_openat(sqe, AT_FDCWD, path, flags | O_CLOEXEC, mode);
        },
        detail::MapOpen{});
  }

  // Up to buf.size() bytes from `offset`; eof() at or past the end.
  [[nodiscard]] auto read_at(std::span<std::byte> buf, uint64_t offset) noexcept {
    const int f = fd();
    return detail::make_op(
        [f, buf, offset](io_uring_sqe* sqe, Runtime*) noexcept {
          io_uring_prep_read(sqe, f, buf.data(), static_cast<unsigned>(buf.size()), offset);
        },
        detail::MapSize{buf.size()});
  }
  // Up to buf.size() bytes at `offset` (a short write comes back as a smaller count).
  [[nodiscard]] auto write_at(std::span<const std::byte> buf, uint64_t offset) noexcept {
    const int f = fd();
    return detail::make_op(
        [f, buf, offset](io_uring_sqe* sqe, Runtime*) noexcept {
          io_uring_prep_write(sqe, f, buf.data(), static_cast<unsigned>(buf.size()), offset);
        },
        [](int32_t res) noexcept -> Result<std::size_t, IoError> {
          if (res < 0) return err(IoError::sys(-res));
          return static_cast<std::size_t>(res);
        });
  }
  // At the file position (offset -1): with O_APPEND, at the end, whole.
  [[nodiscard]] auto append(std::span<const std::byte> buf) noexcept {
    return write_at(buf, static_cast<uint64_t>(-1));
  }
  // Every byte at `offset`, finishing short writes.
  Task<Result<void, IoError>> write_all_at(std::span<const std::byte> buf, uint64_t offset) {
    while (!buf.empty()) {
      auto r = co_await write_at(buf, offset);
      if (!r) co_return err(r.error());
      if (*r == 0) co_return err(IoError::sys(EIO));
      buf = buf.subspan(*r);
      offset += *r;
    }
    co_return Result<void, IoError>{};
  }
  // Exactly buf.size() bytes from `offset`: eof() if the file ends first.
  Task<Result<void, IoError>> read_exact_at(std::span<std::byte> buf, uint64_t offset) {
    while (!buf.empty()) {
      auto r = co_await read_at(buf, offset);
      if (!r) co_return err(r.error());
      buf = buf.subspan(*r);
      offset += *r;
    }
    co_return Result<void, IoError>{};
  }
  // fsync(2) with these IORING_FSYNC_* flags (0, or IORING_FSYNC_DATASYNC).
  [[nodiscard]] auto sync(unsigned flags) noexcept {
    const int f = fd();
    return detail::make_op(
        [f, flags](io_uring_sqe* sqe, Runtime*) noexcept { io_uring_prep_fsync(sqe, f, flags); },
        detail::MapVoid{});
  }
  // fsync(2): data and metadata on stable storage.
  [[nodiscard]] auto fsync() noexcept { return sync(0); }
  // fdatasync(2): data (and the size, if it changed), not the timestamps.
  [[nodiscard]] auto fdatasync() noexcept { return sync(IORING_FSYNC_DATASYNC); }
  // fallocate(2): reserve `len` bytes at `offset` (mode 0: extend the size too;
  // FALLOC_FL_KEEP_SIZE: reserve only). EOPNOTSUPP on file systems without it.
  [[nodiscard]] auto fallocate(uint64_t offset, uint64_t len, int mode = 0) noexcept {
    const int f = fd();
    return detail::make_op(
        [f, offset, len, mode](io_uring_sqe* sqe, Runtime*) noexcept {
          io_uring_prep_fallocate(sqe, f, mode, offset, len);
        },
        detail::MapVoid{});
  }
  [[nodiscard]] auto close() noexcept { return detail::close_op(fd_.release()); }
  // The size now (fstat; a plain syscall).
  Result<uint64_t, IoError> size() const noexcept {
    struct stat st {};
    if (::fstat(fd(), &st) != 0) return err(IoError::sys(errno));
    return static_cast<uint64_t>(st.st_size);
  }

  int fd() const noexcept { return fd_.get(); }
  bool valid() const noexcept { return fd_.valid(); }

 private:
  OwnedFd fd_;
};

inline Result<File, IoError> detail::MapOpen::operator()(int32_t res) const noexcept {
  if (res < 0) return err(IoError::sys(-res));
  return File(OwnedFd(res));
}

}  // namespace sluice::io
