// BufferRing: a provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19+) that multishot
// receives (recv_stream.hpp) pick buffers from. The kernel takes a buffer when data arrives, so
// memory is committed only to sockets that have something to say, and one armed receive can
// deliver many messages without a submission each.
//
// A received buffer comes to the caller as a BufferLease; dropping the lease returns it to the
// ring (no syscall: a store to the ring's tail). A receive that ended because the ring was
// empty (-ENOBUFS) is re-armed as soon as a buffer comes back, never left stopped.
//
// Owner-thread only: make it on the thread that runs the runtime (inside one of its tasks, or
// before its first run). It must outlive the streams and leases that use it, and go before
// the runtime (both checked: a `sluice:` stop).
#pragma once

#include <liburing.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "../detail/fatal.hpp"
#include "../detail/wait_list.hpp"
#include "../result.hpp"
#include "../runtime.hpp"
#include "address.hpp"
#include "error.hpp"

namespace sluice::io {

class RecvStream;
class BufferRing;

namespace detail {
// A receive parked on an empty ring, re-armed by BufferRing::recycle.
struct StalledRecv : sluice::detail::WaitNode<StalledRecv> {
  void (*resume)(StalledRecv*) noexcept = nullptr;
};
}  // namespace detail

class BufferLease {
 public:
  BufferLease() noexcept = default;
  // Counts as a user of `br` until it is reset (a lease never outlives its ring).
  inline BufferLease(BufferRing* br, uint16_t id, std::span<std::byte> data) noexcept;
  BufferLease(BufferLease&& o) noexcept
      : br_(std::exchange(o.br_, nullptr)),
        id_(o.id_),
        data_(std::exchange(o.data_, {})),
        name_(std::exchange(o.name_, nullptr)),
        namelen_(std::exchange(o.namelen_, 0)),
        truncated_(o.truncated_) {}
  BufferLease& operator=(BufferLease&& o) noexcept {
    if (this != &o) {
      reset();
      br_ = std::exchange(o.br_, nullptr);
      id_ = o.id_;
      data_ = std::exchange(o.data_, {});
      name_ = std::exchange(o.name_, nullptr);
      namelen_ = std::exchange(o.namelen_, 0);
      truncated_ = o.truncated_;
    }
    return *this;
  }
  ~BufferLease() { reset(); }

  std::span<std::byte> data() const noexcept { return data_; }
  std::size_t size() const noexcept { return data_.size(); }
  uint16_t id() const noexcept { return id_; }
  // UDP multishot receive (recvmsg): the datagram was longer than the buffer had room for,
  // and data() holds only its start.
  bool truncated() const noexcept { return truncated_; }
  // UDP multishot receive (recvmsg): the sender. Empty (family() == AF_UNSPEC) otherwise.
  SocketAddress from() const noexcept {
    return SocketAddress::from(static_cast<const sockaddr*>(name_), namelen_);
  }
  // Set by RecvStream for a datagram (the sender's address lives in the same buffer).
  void set_datagram(const void* name, socklen_t namelen, bool truncated) noexcept {
    name_ = name;
    namelen_ = namelen;
    truncated_ = truncated;
  }
  // Returns the buffer to its ring now (also what the destructor does).
  inline void reset() noexcept;

 private:
  BufferRing* br_ = nullptr;
  uint16_t id_ = 0;
  std::span<std::byte> data_{};
  const void* name_ = nullptr;
  socklen_t namelen_ = 0;
  bool truncated_ = false;
};

class BufferRing {
 public:
  // `count` buffers (a power of two, 1..32768) of `size` bytes each, registered with `rt`'s
  // ring as buffer group `group` (unique per runtime). Errors: EINVAL (bad count or size),
  // ENOMEM, ENOSYS (no ring), EEXIST (group in use), or the kernel's (EINVAL before 5.19).
  static Result<std::unique_ptr<BufferRing>, IoError> make(Runtime& rt, uint32_t count,
                                                           uint32_t size, uint16_t group) noexcept {
    if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size == 0)
      return err(IoError::sys(EINVAL));
    std::unique_ptr<BufferRing> br(new (std::nothrow) BufferRing());
    if (!br) return err(IoError::sys(ENOMEM));
    br->rt_ = &rt;
    br->count_ = count;
    br->size_ = size;
    br->group_ = group;
    br->ring_bytes_ = count * sizeof(io_uring_buf);
    // Page-aligned, as the kernel requires of the ring; mmap also zeroes it.
    void* ring = ::mmap(nullptr, br->ring_bytes_, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring == MAP_FAILED) return err(IoError::sys(errno));
    br->ring_ = static_cast<io_uring_buf_ring*>(ring);
    br->mem_bytes_ = static_cast<std::size_t>(count) * size;
    void* mem =
        ::mmap(nullptr, br->mem_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return err(IoError::sys(errno));
    br->mem_ = static_cast<std::byte*>(mem);
    io_uring_buf_ring_init(br->ring_);
    const int rc = rt.io_register_buf_ring(br->ring_, count, group);
    if (rc < 0) return err(IoError::sys(-rc));
    br->registered_ = true;
    const int mask = io_uring_buf_ring_mask(count);
    for (uint32_t i = 0; i < count; ++i)
      io_uring_buf_ring_add(br->ring_, br->mem_ + static_cast<std::size_t>(i) * size, size,
                            static_cast<unsigned short>(i), mask, static_cast<int>(i));
    io_uring_buf_ring_advance(br->ring_, static_cast<int>(count));
    br->available_ = count;
    return br;
  }
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;
  ~BufferRing() {
    if (users_ != 0)
      sluice::detail::fatal("BufferRing destroyed while receive streams still use it",
                            "destroy the RecvStreams and BufferLeases first");
    if (registered_) rt_->io_unregister_buf_ring(group_);
    if (mem_ != nullptr) ::munmap(mem_, mem_bytes_);
    if (ring_ != nullptr) ::munmap(ring_, ring_bytes_);
  }

  uint16_t group() const noexcept { return group_; }
  uint32_t count() const noexcept { return count_; }
  uint32_t buffer_size() const noexcept { return size_; }
  // Buffers the kernel can fill now (not leased, not queued in a stream).
  uint32_t available() const noexcept { return available_; }
  Runtime* runtime() const noexcept { return rt_; }

  // Gives buffer `id` back to the kernel and re-arms receives that stopped on an empty ring.
  void recycle(uint16_t id) noexcept {
    io_uring_buf_ring_add(ring_, mem_ + static_cast<std::size_t>(id) * size_, size_, id,
                          io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(ring_, 1);
    ++available_;
    while (detail::StalledRecv* s = stalled_.pop_front()) s->resume(s);
  }

  // ---- used by RecvStream ----
  std::span<std::byte> buffer(uint16_t id, std::size_t len) noexcept {
    return {mem_ + static_cast<std::size_t>(id) * size_, len};
  }
  void taken() noexcept { --available_; }  // a completion carried one of our buffers
  void stall(detail::StalledRecv* s) noexcept { stalled_.push_back(s); }
  void unstall(detail::StalledRecv* s) noexcept { stalled_.remove(s); }
  void attach() noexcept { ++users_; }
  void detach() noexcept { --users_; }

 private:
  BufferRing() noexcept = default;
  Runtime* rt_ = nullptr;
  io_uring_buf_ring* ring_ = nullptr;
  std::byte* mem_ = nullptr;
  std::size_t ring_bytes_ = 0;
  std::size_t mem_bytes_ = 0;
  uint32_t count_ = 0;
  uint32_t size_ = 0;
  uint32_t available_ = 0;
  std::size_t users_ = 0;
  uint16_t group_ = 0;
  bool registered_ = false;
  sluice::detail::WaitList<detail::StalledRecv> stalled_;
};

inline BufferLease::BufferLease(BufferRing* br, uint16_t id, std::span<std::byte> data) noexcept
    : br_(br), id_(id), data_(data) {
  br_->attach();
}
inline void BufferLease::reset() noexcept {
  if (br_ == nullptr) return;
  data_ = {};  // the buffer is the kernel's again: nothing may read it through us
  name_ = nullptr;
  namelen_ = 0;
  BufferRing* br = std::exchange(br_, nullptr);
  br->recycle(id_);
  br->detach();
}

}  // namespace sluice::io
