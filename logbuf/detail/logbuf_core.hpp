// The byte ring behind SpscLogbuf and MpscLogbuf: variable-length records claimed, written in
// place, committed, read in place and released.
//
// Layout. A region is a Control block followed by `capacity` data bytes (a power of two).
// Positions are 64-bit byte counts that only grow; `pos & mask` is the offset. Each record is
// an 8-byte header word followed by its payload, padded to 8 bytes:
//   bits 0..31 payload length, 32..47 kind, bit 48 padding, bit 63 released (reader only).
// A record never wraps: when it does not fit before the end, a padding record fills the end
// and the record starts at offset 0.
//
// The ready signal is the header word itself, in the same cache line as the payload's start:
// a committed header is non-zero (a data record has length >= 1, a padding record has bit
// 48). The reader loads the header at its read position with acquire and stops at zero, so it
// never reads the producer's index. That only works if the header word at every position the
// reader can reach is zero until a producer commits there; the two kinds keep that differently:
// * SPSC: the producer zeroes the header word just past each record it claims (the next
//   record's header) before publishing anything. Free space stays as it was otherwise, so the
//   reader never writes the data area and no byte is written twice.
// * MPSC: producers claim concurrently, so none of them may write past its own claim; the
//   reader zeroes what it releases before giving it back (Aeron's rule).
// Both keep 8 bytes free past the newest claim (the reserve): the buffer is never completely
// full, so the reader's position never lands on a record it has not released yet (with a full
// ring, tail and head would share an offset). SPSC zeroes that word; MPSC leaves it as the
// reader zeroed it. The reserve is inside the capacity rules below.
//
// Largest record: on an empty buffer a record of R bytes (header + payload, rounded to 8) plus
// the reserve must fit at every write offset, either before the end or after padding the end.
// That holds for every offset iff 2R <= capacity, so max_payload(capacity) = capacity / 2 - 8, and
// anything larger is refused with TooLarge before looking at the buffer: no claim can wait forever
// on an empty buffer. tests/logbuf/logbuf_test.cpp checks the boundary at every offset.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#include "../../channel/ring_memory.hpp"
#include "../../runtime/result.hpp"
#include "../error.hpp"

namespace sluice::logbuf {

inline constexpr std::size_t kHeaderBytes = 8;
inline constexpr std::size_t kRecordAlign = 8;
inline constexpr std::size_t kMinCapacity = 64;
inline constexpr std::size_t kMaxCapacity = std::size_t{1} << 31;
// Regions (and the data area after the Control block) start on a 128-byte boundary: the
// Control block's groups are 128 bytes apart (ring_memory.hpp says why 128).
inline constexpr std::size_t kRegionAlign = kFalseShareBytes;

// The largest payload a buffer of `capacity` bytes (a power of two) accepts.
constexpr std::size_t max_payload(std::size_t capacity) noexcept {
  return capacity / 2 - kHeaderBytes;
}

namespace detail {

inline constexpr uint64_t kPadBit = uint64_t{1} << 48;
inline constexpr uint64_t kReleasedBit = uint64_t{1} << 63;
inline constexpr uint64_t kMagic = 0x676f6c6563697573;  // "suiceglog" read little-endian
inline constexpr uint32_t kVersion = 1;

constexpr uint64_t record_bytes(uint64_t payload) noexcept {
  return (kHeaderBytes + payload + (kRecordAlign - 1)) & ~uint64_t{kRecordAlign - 1};
}
constexpr uint32_t header_len(uint64_t w) noexcept { return static_cast<uint32_t>(w); }
constexpr uint16_t header_kind(uint64_t w) noexcept { return static_cast<uint16_t>(w >> 32); }

// Lives at the start of the region, so every cursor survives an attach from another process.
// Only address-free, lock-free atomics are placed here (checked below).
struct Control {
  // alignas(kFalseShareBytes): written once at creation, read by everyone; kept off the
  // cursors' lines.
  struct alignas(kFalseShareBytes) Fixed {
    uint64_t magic;
    uint32_t version;
    uint32_t multi;  // 1: MPSC layout
    uint64_t capacity;
  } fixed;
  // alignas(kFalseShareBytes): the producers' line. SPSC: tail is the producer's own cursor
  // (no reader ever loads it). MPSC: tail is the claim cursor producers CAS, head_cache the
  // newest head any producer has seen, shared so each one rarely touches the reader's line.
  struct alignas(kFalseShareBytes) Producer {
    std::atomic<uint64_t> tail;
    std::atomic<uint64_t> head_cache;
  } prod;
  // alignas(kFalseShareBytes): the reader's line. head: everything before it is free
  // (published to producers); read_pos: the next record to read (reader only).
  struct alignas(kFalseShareBytes) Consumer {
    std::atomic<uint64_t> head;
    uint64_t read_pos;
  } cons;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared-memory cursors need lock-free");
static_assert(sizeof(Control) % kRegionAlign == 0);

template <bool Multi>
class Logbuf {
 public:
  class WriteClaim;
  class ReadClaim;

  static constexpr bool kMulti = Multi;

  // Bytes a region needs for a buffer of `capacity` (rounded up to a power of two).
  static constexpr std::size_t region_bytes(std::size_t capacity) noexcept {
    return sizeof(Control) + std::bit_ceil(capacity < kMinCapacity ? kMinCapacity : capacity);
  }

  // A buffer in memory from `mem` (default: the heap), owned by the returned object.
  static Result<std::unique_ptr<Logbuf>, LogbufError> make(std::size_t capacity,
                                                           RingMemory mem = {}) {
    if (capacity == 0 || capacity > kMaxCapacity) return err(LogbufError::BadCapacity);
    const std::size_t bytes = region_bytes(capacity);
    void* region = mem.alloc(bytes, kRegionAlign);
    if (region == nullptr) return err(LogbufError::OutOfMemory);
    auto r = create_in(region, bytes, capacity);
    if (!r) {
      mem.free(region, bytes, kRegionAlign);
      return r;
    }
    (*r)->mem_ = mem;
    (*r)->owned_bytes_ = bytes;
    return r;
  }

  // Initialises a buffer inside a caller-owned region (e.g. a shared-memory mapping). The
  // region must outlive the object and every claim taken from it.
  static Result<std::unique_ptr<Logbuf>, LogbufError> create_in(void* region, std::size_t bytes,
                                                                std::size_t capacity) {
    if (capacity == 0 || capacity > kMaxCapacity) return err(LogbufError::BadCapacity);
    if (reinterpret_cast<uintptr_t>(region) % kRegionAlign != 0)
      return err(LogbufError::Misaligned);
    const std::size_t cap = region_bytes(capacity) - sizeof(Control);
    if (region == nullptr || bytes < region_bytes(capacity))
      return err(LogbufError::RegionTooSmall);
    auto* ctl = ::new (region) Control{};
    ctl->fixed.version = kVersion;
    ctl->fixed.multi = Multi ? 1 : 0;
    ctl->fixed.capacity = cap;
    std::memset(static_cast<unsigned char*>(region) + sizeof(Control), 0, cap);
    // release: a process that attaches and sees the magic sees the zeroed area and fields.
    std::atomic_ref<uint64_t>(ctl->fixed.magic).store(kMagic, std::memory_order_release);
    return wrap(ctl, cap);
  }

  // Attaches to a buffer another object (usually another process) created in `region`.
  static Result<std::unique_ptr<Logbuf>, LogbufError> attach(void* region, std::size_t bytes) {
    if (reinterpret_cast<uintptr_t>(region) % kRegionAlign != 0)
      return err(LogbufError::Misaligned);
    if (region == nullptr || bytes < sizeof(Control)) return err(LogbufError::RegionTooSmall);
    auto* ctl = static_cast<Control*>(region);
    // acquire: pairs with create_in's release store of the magic.
    if (std::atomic_ref<uint64_t>(ctl->fixed.magic).load(std::memory_order_acquire) != kMagic ||
        ctl->fixed.version != kVersion)
      return err(LogbufError::NotALogbuf);
    if (ctl->fixed.multi != (Multi ? 1u : 0u)) return err(LogbufError::WrongKind);
    const uint64_t cap = ctl->fixed.capacity;
    if (cap < kMinCapacity || cap > kMaxCapacity || !std::has_single_bit(cap))
      return err(LogbufError::NotALogbuf);
    if (bytes < sizeof(Control) + cap) return err(LogbufError::RegionTooSmall);
    return wrap(ctl, cap);
  }

  ~Logbuf() {
    if (owned_bytes_ != 0) mem_.free(ctl_, owned_bytes_, kRegionAlign);
  }
  Logbuf(const Logbuf&) = delete;
  Logbuf& operator=(const Logbuf&) = delete;

  std::size_t capacity() const noexcept { return static_cast<std::size_t>(cap_); }
  std::size_t max_payload() const noexcept { return logbuf::max_payload(capacity()); }

  // ---------------------------------------------------------------- producer side

  // A writable span of exactly n bytes, or Full / ZeroLength / TooLarge. The record becomes
  // visible at commit(); a claim dropped without commit() turns into padding the reader skips.
  // Several claims may be open at once; the reader sees records in claim order and stops at
  // the first one still open. MPSC: callable from any number of threads at once.
  Result<WriteClaim, ClaimError> try_claim(std::size_t n, uint16_t kind = 0) noexcept {
    // One compare rejects both 0 (wraps to SIZE_MAX) and anything above the maximum.
    if (n - 1 >= max_payload_) [[unlikely]]
      return err(n == 0 ? ClaimError::ZeroLength : ClaimError::TooLarge);
    const uint64_t rec = record_bytes(n);
    uint64_t p;
    if constexpr (!Multi) {
      // relaxed: this producer is the only writer of tail; no other thread reads it.
      const uint64_t t = ctl_->prod.tail.load(std::memory_order_relaxed);
      const uint64_t contiguous = cap_ - (t & mask_);
      const uint64_t pad = rec <= contiguous ? 0 : contiguous;
      const uint64_t need = pad + rec + kHeaderBytes;  // + the reserve: the next header word
      if (t + need - head_cache_ > cap_) {
        // acquire: pairs with the reader's release of head; the space it freed is ours now.
        head_cache_ = ctl_->cons.head.load(std::memory_order_acquire);
        if (t + need - head_cache_ > cap_) return err(ClaimError::Full);
      }
      p = t + pad;
      // relaxed stores: published by the release store of this record's (or the padding's)
      // header, which the reader acquires before it can reach these positions.
      if (pad != 0) header(p).store(0, std::memory_order_relaxed);  // stale bytes at offset 0
      header(p + rec).store(0, std::memory_order_relaxed);
      if (pad != 0) {
        // release: the reader that sees this padding also sees the zeroed header at offset 0.
        header(t).store(kPadBit | (pad - kHeaderBytes), std::memory_order_release);
      }
      ctl_->prod.tail.store(p + rec, std::memory_order_relaxed);  // relaxed: as the load above
    } else {
      // relaxed: the CAS below decides; the space check uses head, which carries the ordering.
      uint64_t t = ctl_->prod.tail.load(std::memory_order_relaxed);
      uint64_t pad;
      for (;;) {
        const uint64_t contiguous = cap_ - (t & mask_);
        pad = rec <= contiguous ? 0 : contiguous;
        const uint64_t need = pad + rec + kHeaderBytes;  // + the reserve (see the top)
        // acquire: the value came from a producer that acquired it from the reader's release
        // of head (a release sequence through this cache), so the zeroing before it is visible.
        uint64_t h = ctl_->prod.head_cache.load(std::memory_order_acquire);
        if (t + need - h > cap_) {
          // acquire: pairs with the reader's release of head (its zeroing happened before).
          h = ctl_->cons.head.load(std::memory_order_acquire);
          // release: passes that acquire on to producers that read the cache. A stale value
          // overwriting a newer one only makes the next check conservative.
          ctl_->prod.head_cache.store(h, std::memory_order_release);
          if (t + need - h > cap_) {
            // relaxed: only to tell "full" from "our view of tail was old".
            const uint64_t t2 = ctl_->prod.tail.load(std::memory_order_relaxed);
            if (t2 == t) return err(ClaimError::Full);
            t = t2;
            continue;
          }
        }
        // relaxed: the claim itself publishes nothing; commit's release store does.
        if (ctl_->prod.tail.compare_exchange_weak(t, t + pad + rec, std::memory_order_relaxed,
                                                  std::memory_order_relaxed))
          break;
      }
      p = t + pad;
      if (pad != 0) {
        // release: orders nothing of ours but keeps the header protocol uniform.
        header(t).store(kPadBit | (pad - kHeaderBytes), std::memory_order_release);
      }
    }
    return WriteClaim(this, p, static_cast<uint32_t>(n), kind);
  }

  // Would a claim of n bytes succeed now (space only)? Refusals for size say yes, so a caller
  // waiting for room retries and gets its error. Used by the byte channels' waiters.
  bool fits(std::size_t n) const noexcept {
    if (n - 1 >= max_payload_) return true;
    const uint64_t rec = record_bytes(n);
    // relaxed: tail is only compared; acquire on head as in try_claim.
    const uint64_t t = ctl_->prod.tail.load(std::memory_order_relaxed);
    const uint64_t contiguous = cap_ - (t & mask_);
    const uint64_t need = (rec <= contiguous ? 0 : contiguous) + rec + kHeaderBytes;
    return t + need - ctl_->cons.head.load(std::memory_order_acquire) <= cap_;
  }

  // ---------------------------------------------------------------- consumer side

  // Reader side: everything before this position is free. It moves when a read claim is
  // released, and when try_read or consume passes padding.
  uint64_t released_position() const noexcept {
    return ctl_->cons.head.load(std::memory_order_relaxed);  // relaxed: the reader writes it
  }

  // The next committed record in claim order, or Empty. The record's space is freed when the
  // ReadClaim is released (or destroyed). Read claims may be held several at a time and
  // released in any order; space is freed up to the oldest one still held.
  Result<ReadClaim, ReadError> try_read() noexcept {
    uint64_t r = ctl_->cons.read_pos;
    for (;;) {
      // acquire: pairs with commit's release store; the payload written before it is visible.
      const uint64_t w = header(r).load(std::memory_order_acquire);
      if (w == 0) return err(ReadError::Empty);
      const uint64_t rec = record_bytes(header_len(w));
      ctl_->cons.read_pos = r + rec;
      if (w & kPadBit) [[unlikely]] {
        release_range(r, r + rec);
        r += rec;
        continue;
      }
      return ReadClaim(this, r, r + rec, header_len(w), header_kind(w));
    }
  }

  // Calls f(std::span<const std::byte>, uint16_t kind) for up to `max` records, then frees
  // them all with one publication. f must not throw (noexcept: a throw terminates, nothing
  // is delivered twice).
  template <class F>
  std::size_t consume(F&& f, std::size_t max) noexcept {
    const uint64_t r0 = ctl_->cons.read_pos;
    uint64_t r = r0;
    std::size_t n = 0;
    while (n < max) {
      // acquire: as in try_read.
      const uint64_t w = header(r).load(std::memory_order_acquire);
      if (w == 0) break;
      if (!(w & kPadBit)) {
        f(std::span<const std::byte>(payload(r), header_len(w)), header_kind(w));
        ++n;
      }
      r += record_bytes(header_len(w));
    }
    if (r != r0) {
      ctl_->cons.read_pos = r;
      release_range(r0, r);
    }
    return n;
  }

  // Reader side: something waits at the read position, a record or padding to pass (passing
  // padding frees space). What a parked reader must wake for: a writer can be waiting for the
  // space an aborted claim holds, which only the reader can give back.
  bool pending() const noexcept {
    // acquire: as in try_read.
    return header(ctl_->cons.read_pos).load(std::memory_order_acquire) != 0;
  }

  // Reader side: true when try_read would return Empty (padding ahead is looked past, not
  // consumed).
  bool empty() const noexcept {
    for (uint64_t r = ctl_->cons.read_pos;;) {
      // acquire: as in try_read.
      const uint64_t w = header(r).load(std::memory_order_acquire);
      if (w == 0) return true;
      if (!(w & kPadBit)) return false;
      r += record_bytes(header_len(w));
    }
  }

  // ---------------------------------------------------------------- claims

  class [[nodiscard]] WriteClaim {
   public:
    WriteClaim(WriteClaim&& o) noexcept
        : buf_(std::exchange(o.buf_, nullptr)), pos_(o.pos_), len_(o.len_), kind_(o.kind_) {}
    WriteClaim& operator=(WriteClaim&& o) noexcept {
      if (this != &o) {
        abort();
        buf_ = std::exchange(o.buf_, nullptr);
        pos_ = o.pos_;
        len_ = o.len_;
        kind_ = o.kind_;
      }
      return *this;
    }
    WriteClaim(const WriteClaim&) = delete;
    WriteClaim& operator=(const WriteClaim&) = delete;
    ~WriteClaim() { abort(); }

    std::byte* data() const noexcept { return buf_->payload(pos_); }
    std::size_t size() const noexcept { return len_; }
    std::span<std::byte> span() const noexcept { return {data(), len_}; }
    uint16_t kind() const noexcept { return kind_; }
    void set_kind(uint16_t k) noexcept { kind_ = k; }
    // Position of the record's header (monotonic byte count): identifies it in tests and taps.
    uint64_t position() const noexcept { return pos_; }
    bool valid() const noexcept { return buf_ != nullptr; }

    // Publishes the record. release: the payload bytes written before are visible to the
    // reader that acquires this header.
    void commit() noexcept {
      if (buf_ == nullptr) return;
      std::exchange(buf_, nullptr)
          ->header(pos_)
          .store((uint64_t{kind_} << 32) | len_, std::memory_order_release);
    }
    // Gives the space back as padding (the reader skips it). Also what the destructor does.
    void abort() noexcept {
      if (buf_ == nullptr) return;
      // release: uniform with commit; the reader reads only the header of a padding record.
      std::exchange(buf_, nullptr)->header(pos_).store(kPadBit | len_, std::memory_order_release);
    }

   private:
    friend class Logbuf;
    WriteClaim(Logbuf* b, uint64_t pos, uint32_t len, uint16_t kind) noexcept
        : buf_(b), pos_(pos), len_(len), kind_(kind) {}
    Logbuf* buf_;
    uint64_t pos_;
    uint32_t len_;
    uint16_t kind_;
  };

  class [[nodiscard]] ReadClaim {
   public:
    ReadClaim(ReadClaim&& o) noexcept
        : buf_(std::exchange(o.buf_, nullptr)),
          pos_(o.pos_),
          end_(o.end_),
          len_(o.len_),
          kind_(o.kind_) {}
    ReadClaim& operator=(ReadClaim&& o) noexcept {
      if (this != &o) {
        release();
        buf_ = std::exchange(o.buf_, nullptr);
        pos_ = o.pos_;
        end_ = o.end_;
        len_ = o.len_;
        kind_ = o.kind_;
      }
      return *this;
    }
    ReadClaim(const ReadClaim&) = delete;
    ReadClaim& operator=(const ReadClaim&) = delete;
    ~ReadClaim() { release(); }

    const std::byte* data() const noexcept { return buf_->payload(pos_); }
    std::size_t size() const noexcept { return len_; }
    std::span<const std::byte> span() const noexcept { return {data(), len_}; }
    uint16_t kind() const noexcept { return kind_; }
    uint64_t position() const noexcept { return pos_; }
    bool valid() const noexcept { return buf_ != nullptr; }

    // Frees the record's space (and that of records released before it, out of order).
    void release() noexcept {
      if (buf_ == nullptr) return;
      std::exchange(buf_, nullptr)->release_range(pos_, end_);
    }

   private:
    friend class Logbuf;
    ReadClaim(Logbuf* b, uint64_t pos, uint64_t end, uint32_t len, uint16_t kind) noexcept
        : buf_(b), pos_(pos), end_(end), len_(len), kind_(kind) {}
    Logbuf* buf_;
    uint64_t pos_;
    uint64_t end_;
    uint32_t len_;
    uint16_t kind_;
  };

 private:
  Logbuf(Control* ctl, uint64_t cap) noexcept
      : ctl_(ctl),
        data_(reinterpret_cast<unsigned char*>(ctl) + sizeof(Control)),
        cap_(cap),
        mask_(cap - 1),
        max_payload_(logbuf::max_payload(cap)) {}

  static Result<std::unique_ptr<Logbuf>, LogbufError> wrap(Control* ctl, uint64_t cap) {
    std::unique_ptr<Logbuf> b(new (std::nothrow) Logbuf(ctl, cap));
    if (!b) return err(LogbufError::OutOfMemory);
    return b;
  }

  // Header words sit at 8-byte offsets of a 128-byte aligned area.
  std::atomic_ref<uint64_t> header(uint64_t pos) const noexcept {
    return std::atomic_ref<uint64_t>(
        *reinterpret_cast<uint64_t*>(data_ + static_cast<std::size_t>(pos & mask_)));
  }
  std::byte* payload(uint64_t pos) const noexcept {
    return reinterpret_cast<std::byte*>(data_ + static_cast<std::size_t>(pos & mask_) +
                                        kHeaderBytes);
  }

  // [s, e) holds whole records the reader has taken. If s is the oldest unfreed position,
  // free up to e and past any later records already released out of order; else mark them.
  void release_range(uint64_t s, uint64_t e) noexcept {
    // relaxed: the reader is the only writer of head.
    const uint64_t h = ctl_->cons.head.load(std::memory_order_relaxed);
    if (s != h) {
      // relaxed: these headers belong to the reader now; only it reads them again.
      for (uint64_t r = s; r < e;) {
        const uint64_t w = header(r).load(std::memory_order_relaxed);
        header(r).store(w | kReleasedBit, std::memory_order_relaxed);
        r += record_bytes(header_len(w));
      }
      return;
    }
    const uint64_t read = ctl_->cons.read_pos;
    while (e < read) {
      const uint64_t w = header(e).load(std::memory_order_relaxed);  // relaxed: as above
      if (!(w & kReleasedBit)) break;
      e += record_bytes(header_len(w));
    }
    if constexpr (Multi) zero(h, e);
    // release: producers that acquire head see the space free (and, MPSC, zeroed).
    ctl_->cons.head.store(e, std::memory_order_release);
  }

  // MPSC: the header word of every position a producer may claim next must read zero.
  void zero(uint64_t from, uint64_t to) noexcept {
    const std::size_t off = static_cast<std::size_t>(from & mask_);
    const std::size_t n = static_cast<std::size_t>(to - from);
    const std::size_t first = n < cap_ - off ? n : static_cast<std::size_t>(cap_ - off);
    std::memset(data_ + off, 0, first);
    if (n > first) std::memset(data_, 0, n - first);
  }

  Control* ctl_;
  unsigned char* data_;
  uint64_t cap_;
  uint64_t mask_;
  uint64_t max_payload_;
  uint64_t head_cache_ = 0;  // SPSC producer's copy of head (refreshed on apparent full)
  RingMemory mem_{};
  std::size_t owned_bytes_ = 0;  // non-zero when make() allocated the region
};

}  // namespace detail
}  // namespace sluice::logbuf
