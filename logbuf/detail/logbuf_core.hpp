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
// reader can reach is zero until a producer commits there. Both kinds keep it so the same way
// (Aeron's rule): the reader zeroes what it releases before it publishes the new head, and a
// producer never writes past its own claim. (Until 2026-11-29 the SPSC producer zeroed the next
// record's header instead. That left the SPSC reader nothing to do on release, so it caught up
// with the producer and polled the very line being filled, and ran at a third of the MPSC
// ring's speed across far cores; perf/RESULTS.md has the measurements.)
// Both keep 8 bytes free past the newest claim (the reserve): the buffer is never completely
// full, so the reader's position never lands on a record it has not released yet (with a full
// ring, tail and head would share an offset). The reserve is inside the capacity rules below.
//
// Largest record: on an empty buffer a record of R bytes (header + payload, rounded to 8) plus
// the reserve must fit at every write offset, either before the end or after padding the end.
// That holds for every offset iff 2R <= capacity, so max_payload(capacity) = capacity / 2 - 8, and
// anything larger is refused with TooLarge before looking at the buffer: no claim can wait forever
// on an empty buffer. tests/logbuf/logbuf_test.cpp checks the boundary at every offset.
//
// Trust. A region shared with another process is input, not state: the peer may write anything
// anywhere in it at any time (docs/logbuf.md, "Trust model"). So each side keeps its own cursors
// in this object and only publishes them into the region (the SPSC producer its tail, the reader
// its head); the MPSC tail is shared by the producers and is checked each time it is read. What
// the reader loads from the region is checked before use: a record's length (1..max_payload), its
// place (inside the buffer, within capacity - 8 of the released position: no honest writer can
// claim further), padding that ends where padding can end. These bounds also bound every walk
// (at most capacity / 8 steps). A violation stops the reader with ReadError::Corrupt and
// corruption() says where; nothing is ever read or written outside the region.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
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

inline constexpr uint64_t kLenMask = 0xffffffff;
inline constexpr uint64_t kPadBit = uint64_t{1} << 48;
inline constexpr uint64_t kReleasedBit = uint64_t{1} << 63;
inline constexpr uint64_t kMagic = 0x676f6c6563697573;  // "suiceglog" read little-endian
// 2 (2026-11-29): cursors private to each side (the read position is no longer in the region),
// a released mark may cover several records, and the SPSC reader zeroes what it releases (the
// SPSC producer no longer zeroes the next header): a version-1 peer would break the format.
inline constexpr uint32_t kVersion = 2;
// An MPSC claim that loses this many races in a row for the shared tail returns Full rather
// than go on: a peer rewriting the tail could keep it looping forever. 2^16 (a few ms of
// spinning at most) is far beyond what honest contention produces; 1024 was close enough to
// reach under heavy contention on unfair hardware, and a caller that drops on Full would then
// lose a record with room in the ring.
inline constexpr unsigned kClaimTries = 1u << 16;
// Positions are 64-bit byte counts that only grow; no honest stream reaches 2^62 (146 years at
// 1 TB/s). attach refuses cursors at or past it: wrapping past 2^64 would break the plain
// comparisons of positions in the release walk (a silent stall, not a memory error).
inline constexpr uint64_t kMaxPosition = uint64_t{1} << 62;

constexpr uint64_t record_bytes(uint64_t payload) noexcept {
  return (kHeaderBytes + payload + (kRecordAlign - 1)) & ~uint64_t{kRecordAlign - 1};
}
constexpr uint32_t header_len(uint64_t w) noexcept { return static_cast<uint32_t>(w); }
constexpr uint16_t header_kind(uint64_t w) noexcept { return static_cast<uint16_t>(w >> 32); }

// Lives at the start of the region, so every published cursor survives an attach from another
// process. Only address-free, lock-free atomics are placed here (checked below). Nothing here
// is trusted after attach: each side works from its own copy and only publishes into it.
struct Control {
  // alignas(kFalseShareBytes): written once at creation, read at attach; kept off the
  // cursors' lines.
  struct alignas(kFalseShareBytes) Fixed {
    uint64_t magic;
    uint32_t version;
    uint32_t multi;  // 1: MPSC layout
    uint64_t capacity;
  } fixed;
  // alignas(kFalseShareBytes): the producers' line. SPSC: tail is where the producer has
  // claimed up to, published only so that a producer attaching later starts there. MPSC: tail
  // is the claim cursor producers CAS, head_cache the newest head any producer has seen,
  // shared so each one rarely touches the reader's line.
  struct alignas(kFalseShareBytes) Producer {
    std::atomic<uint64_t> tail;
    std::atomic<uint64_t> head_cache;
  } prod;
  // alignas(kFalseShareBytes): the reader's line. head: everything before it is free
  // (published to producers).
  struct alignas(kFalseShareBytes) Consumer {
    std::atomic<uint64_t> head;
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

  // Bytes a region needs for a buffer of `capacity` (rounded up to a power of two), or 0 for a
  // capacity make() and create_in() refuse with BadCapacity (0 or above kMaxCapacity).
  static constexpr std::size_t region_bytes(std::size_t capacity) noexcept {
    if (capacity == 0 || capacity > kMaxCapacity) return 0;
    return sizeof(Control) + std::bit_ceil(capacity < kMinCapacity ? kMinCapacity : capacity);
  }

  // A buffer in memory from `mem` (default: the heap), owned by the returned object.
  [[nodiscard]] static Result<std::unique_ptr<Logbuf>, LogbufError> make(std::size_t capacity,
                                                                         RingMemory mem = {}) {
    const std::size_t bytes = region_bytes(capacity);
    if (bytes == 0) return err(LogbufError::BadCapacity);
    void* region = mem.alloc(bytes, kRegionAlign);
    if (region == nullptr) return err(LogbufError::OutOfMemory);
    auto r = create_in(region, bytes, capacity);
    if (!r) {
      mem.free(region, bytes, kRegionAlign);
      return r;
    }
    (*r)->k_.mem = mem;
    (*r)->k_.owned_bytes = bytes;
    return r;
  }

  // Initialises a buffer inside a caller-owned region (e.g. a shared-memory mapping). The
  // region must outlive the object and every claim taken from it.
  [[nodiscard]] static Result<std::unique_ptr<Logbuf>, LogbufError> create_in(
      void* region, std::size_t bytes, std::size_t capacity) {
    const std::size_t need = region_bytes(capacity);
    if (need == 0) return err(LogbufError::BadCapacity);
    if (reinterpret_cast<uintptr_t>(region) % kRegionAlign != 0)
      return err(LogbufError::Misaligned);
    if (region == nullptr || bytes < need) return err(LogbufError::RegionTooSmall);
    const std::size_t cap = need - sizeof(Control);
    auto* ctl = ::new (region) Control{};
    ctl->fixed.version = kVersion;
    ctl->fixed.multi = Multi ? 1 : 0;
    ctl->fixed.capacity = cap;
    std::memset(static_cast<unsigned char*>(region) + sizeof(Control), 0, cap);
    // release: a process that attaches and sees the magic sees the zeroed area and fields.
    std::atomic_ref<uint64_t>(ctl->fixed.magic).store(kMagic, std::memory_order_release);
    return wrap(ctl, cap, 0, 0);
  }

  // Attaches to a buffer another object (usually another process) created in `region`. The
  // capacity is read once, here; the cursors are taken as the starting points of this object's
  // own copies.
  [[nodiscard]] static Result<std::unique_ptr<Logbuf>, LogbufError> attach(void* region,
                                                                           std::size_t bytes) {
    if (reinterpret_cast<uintptr_t>(region) % kRegionAlign != 0)
      return err(LogbufError::Misaligned);
    if (region == nullptr || bytes < sizeof(Control)) return err(LogbufError::RegionTooSmall);
    auto* ctl = static_cast<Control*>(region);
    // acquire: pairs with create_in's release store of the magic. The fixed fields are read
    // once each, through atomic_ref (relaxed: ordered by the magic's acquire): a peer may be
    // rewriting them, and a plain load could legally be repeated after it was validated.
    if (std::atomic_ref<uint64_t>(ctl->fixed.magic).load(std::memory_order_acquire) != kMagic ||
        std::atomic_ref<uint32_t>(ctl->fixed.version).load(std::memory_order_relaxed) != kVersion)
      return err(LogbufError::NotALogbuf);
    if (std::atomic_ref<uint32_t>(ctl->fixed.multi).load(std::memory_order_relaxed) !=
        (Multi ? 1u : 0u))
      return err(LogbufError::WrongKind);
    const uint64_t cap =
        std::atomic_ref<uint64_t>(ctl->fixed.capacity).load(std::memory_order_relaxed);
    if (cap < kMinCapacity || cap > kMaxCapacity || !std::has_single_bit(cap))
      return err(LogbufError::NotALogbuf);
    if (bytes - sizeof(Control) < cap) return err(LogbufError::RegionTooSmall);
    // Tail first, then head (acquire: pairs with the reader's release of head, so the space
    // it freed, and zeroed, is seen as such). SPSC: tail - head <= capacity - 8 (the reserve)
    // holds at every instant, and head only moves towards the tail read first (not at all if
    // the reader is the one attaching), so the pair read here keeps it in an honest region.
    // MPSC: other producers may move the tail meanwhile, so only alignment is checked here;
    // each claim checks the rest.
    const uint64_t tail = ctl->prod.tail.load(std::memory_order_relaxed);
    const uint64_t head = ctl->cons.head.load(std::memory_order_acquire);
    if (((head | tail) & (kRecordAlign - 1)) != 0) return err(LogbufError::Corrupt);
    if (head >= kMaxPosition || tail >= kMaxPosition) return err(LogbufError::Corrupt);
    if (!Multi && tail - head > cap - kHeaderBytes) return err(LogbufError::Corrupt);
    return wrap(ctl, cap, head, tail);
  }

  ~Logbuf() {
    if (k_.owned_bytes != 0) k_.mem.free(k_.ctl, k_.owned_bytes, kRegionAlign);
  }
  Logbuf(const Logbuf&) = delete;
  Logbuf& operator=(const Logbuf&) = delete;

  std::size_t capacity() const noexcept { return static_cast<std::size_t>(k_.cap); }
  std::size_t max_payload() const noexcept { return static_cast<std::size_t>(k_.max_payload); }

  // ---------------------------------------------------------------- producer side

  // A writable span of exactly n bytes, or Full / ZeroLength / TooLarge / Corrupt. The record
  // becomes visible at commit(); a claim dropped without commit() turns into padding the reader
  // skips. Several claims may be open at once; the reader sees records in claim order and stops
  // at the first one still open. MPSC: callable from any number of threads at once.
  [[nodiscard]] Result<WriteClaim, ClaimError> try_claim(std::size_t n,
                                                         uint16_t kind = 0) noexcept {
    // One compare rejects both 0 (wraps to SIZE_MAX) and anything above the maximum.
    if (n - 1 >= k_.max_payload) [[unlikely]]
      return err(n == 0 ? ClaimError::ZeroLength : ClaimError::TooLarge);
    const uint64_t rec = record_bytes(n);
    const uint64_t cap = k_.cap;
    uint64_t p;
    if constexpr (!Multi) {
      const uint64_t t = wr_.tail;  // our own copy: nothing in the region can move it
      const uint64_t contiguous = cap - (t & k_.mask);
      const uint64_t pad = rec <= contiguous ? 0 : contiguous;
      const uint64_t need = pad + rec + kHeaderBytes;  // + the reserve: the next header word
      // Room iff t + need - head <= cap. Written as t - head (need <= cap always), so that a
      // head ahead of t also fails and is looked at.
      if (t - wr_.head_cache > cap - need) [[unlikely]] {
        // acquire: pairs with the reader's release of head; the space it freed (and zeroed) is
        // ours now.
        const uint64_t h = k_.ctl->cons.head.load(std::memory_order_acquire);
        // An honest reader's head only moves forward and never passes what we claimed.
        if (h < wr_.head_cache || h > t) [[unlikely]]
          return err(ClaimError::Corrupt);
        wr_.head_cache = h;
        if (t - h > cap - need) return err(ClaimError::Full);
      }
      p = t + pad;
      if (pad != 0) {
        // release: orders nothing of ours but keeps the header protocol uniform.
        header(t).store(kPadBit | (pad - kHeaderBytes), std::memory_order_release);
      }
      wr_.tail = p + rec;
      // relaxed: only a producer attaching later reads it, ordered by whatever hands it over.
      k_.ctl->prod.tail.store(p + rec, std::memory_order_relaxed);
    } else {
      Control& c = *k_.ctl;
      // relaxed: the CAS below decides; the space check uses head, which carries the ordering.
      uint64_t t = c.prod.tail.load(std::memory_order_relaxed);
      uint64_t pad;
      for (unsigned lost = 0;;) {
        // Shared with every producer, so it cannot be private: a misaligned tail would
        // misalign our header stores. Every other value keeps the claim inside the buffer.
        if ((t & (kRecordAlign - 1)) != 0) [[unlikely]]
          return err(ClaimError::Corrupt);
        const uint64_t contiguous = cap - (t & k_.mask);
        pad = rec <= contiguous ? 0 : contiguous;
        const uint64_t need = pad + rec + kHeaderBytes;  // + the reserve (see the top)
        // acquire: the value came from a producer that acquired it from the reader's release
        // of head (a release sequence through this cache), so the zeroing before it is visible.
        uint64_t h = c.prod.head_cache.load(std::memory_order_acquire);
        // As in SPSC: a cached head ahead of t (a stale t, or a value a peer wrote) also fails.
        if (t - h > cap - need) {
          // acquire: pairs with the reader's release of head (its zeroing happened before).
          h = c.cons.head.load(std::memory_order_acquire);
          // release: passes that acquire on to producers that read the cache. A stale value
          // overwriting a newer one only makes the next check conservative.
          c.prod.head_cache.store(h, std::memory_order_release);
          if (t - h > cap - need) {
            // relaxed: only to tell "full" from "our view of tail was old".
            const uint64_t t2 = c.prod.tail.load(std::memory_order_relaxed);
            // Tail has not moved since t was read, and h was read (acquire) in between: the
            // claims that ended where the reader released to happen-before that load, so an
            // honest head is at most t. (A tail far ahead of head is only Full: with t read
            // relaxed, h may be older than the head the claiming producer saw.)
            if (t2 == t) return err(h > t ? ClaimError::Corrupt : ClaimError::Full);
            if (t2 < t) return err(ClaimError::Corrupt);  // the tail only moves forward
            if (++lost == kClaimTries) return err(ClaimError::Full);
            t = t2;
            continue;
          }
        }
        // relaxed: the claim itself publishes nothing; commit's release store does.
        if (c.prod.tail.compare_exchange_weak(t, t + pad + rec, std::memory_order_relaxed,
                                              std::memory_order_relaxed))
          break;
        if (++lost == kClaimTries) [[unlikely]]
          return err(ClaimError::Full);
      }
      p = t + pad;
      if (pad != 0) {
        // release: orders nothing of ours but keeps the header protocol uniform.
        header(t).store(kPadBit | (pad - kHeaderBytes), std::memory_order_release);
      }
    }
    return WriteClaim(this, p, static_cast<uint32_t>(n), kind);
  }

  // Would a claim of n bytes succeed now (space only)? Refusals for size, and cursors a claim
  // would refuse as Corrupt, say yes, so a caller waiting for room retries and gets its error.
  // Used by the byte channels' waiters (on the producer's side).
  [[nodiscard]] bool fits(std::size_t n) const noexcept {
    if (n - 1 >= k_.max_payload) return true;
    const uint64_t rec = record_bytes(n);
    uint64_t t;
    if constexpr (!Multi) {
      t = wr_.tail;
    } else {
      // relaxed: tail is only compared.
      t = k_.ctl->prod.tail.load(std::memory_order_relaxed);
      if ((t & (kRecordAlign - 1)) != 0) return true;
    }
    const uint64_t contiguous = k_.cap - (t & k_.mask);
    const uint64_t need = (rec <= contiguous ? 0 : contiguous) + rec + kHeaderBytes;
    // acquire: as in try_claim.
    const uint64_t h = k_.ctl->cons.head.load(std::memory_order_acquire);
    if (h > t) return true;  // SPSC: the claim reports Corrupt; MPSC: maybe a stale t
    if constexpr (!Multi) {
      if (h < wr_.head_cache) return true;  // backwards: the claim reports Corrupt
    }
    return t - h <= k_.cap - need;
  }

  // ---------------------------------------------------------------- consumer side

  // Reader side: everything before this position is free. It moves when a read claim is
  // released, and when try_read or consume passes padding.
  uint64_t released_position() const noexcept { return rd_.head; }

  // The next committed record in claim order, or Empty, or Corrupt (the reader has stopped;
  // corruption() says where). The record's space is freed when the ReadClaim is released (or
  // destroyed). Read claims may be held several at a time and released in any order; space is
  // freed up to the oldest one still held.
  //
  // A shared region: the payload lies in memory the peer can write at any time. Copy what you
  // check before you act on it.
  [[nodiscard]] Result<ReadClaim, ReadError> try_read() noexcept {
    uint64_t r = rd_.pos;
    // acquire: pairs with commit's release store; the payload written before it is visible.
    uint64_t w = header(r).load(std::memory_order_acquire);
    uint64_t rec = record_bytes(header_len(w));
    if (!is_data(r, w, rec)) [[unlikely]] {
      if (w == 0 && !rd_.fault) return err(ReadError::Empty);
      const Found f = pass_to_data();
      if (f.header == 0) return err(rd_.fault ? ReadError::Corrupt : ReadError::Empty);
      r = f.pos;
      w = f.header;
      rec = record_bytes(header_len(w));
    }
    rd_.pos = r + rec;
    return ReadClaim(this, r, r + rec, header_len(w), header_kind(w));
  }

  // Calls f(std::span<const std::byte>, uint16_t kind) for up to `max` records, then frees
  // them all with one publication. Returns how many it delivered; it stops early at the first
  // open claim (Empty) or at corruption (then corruption() is set). f must not throw
  // (noexcept: a throw terminates, nothing is delivered twice).
  template <class F>
  std::size_t consume(F&& f, std::size_t max) noexcept {
    const uint64_t r0 = rd_.pos;
    uint64_t r = r0;
    std::size_t n = 0;
    while (n < max) {
      // acquire: as in try_read.
      const uint64_t w = header(r).load(std::memory_order_acquire);
      const uint64_t rec = record_bytes(header_len(w));
      if (!is_data(r, w, rec)) [[unlikely]] {
        if (w == 0 || !skip(r, w, rec)) break;
        r += rec;  // padding: bounded, a step never passes the window
        continue;
      }
      f(std::span<const std::byte>(payload(r), header_len(w)), header_kind(w));
      ++n;
      r += rec;
    }
    if (r != r0) {
      rd_.pos = r;
      release_range(r0, r);
    }
    return n;
  }

  // Reader side: something waits at the read position, a record or padding to pass (passing
  // padding frees space), or the reader has stopped on corruption (try_read says so at once).
  // What a parked reader must wake for: a writer can be waiting for the space an aborted claim
  // holds, which only the reader can give back.
  [[nodiscard]] bool pending() const noexcept {
    // acquire: as in try_read.
    return header(rd_.pos).load(std::memory_order_acquire) != 0 || rd_.fault.has_value();
  }

  // Reader side: true when try_read would return Empty (padding ahead is looked past, not
  // consumed). A corrupt header ahead is not empty: try_read would return Corrupt.
  [[nodiscard]] bool empty() const noexcept {
    for (uint64_t r = rd_.pos;;) {
      // acquire: as in try_read.
      const uint64_t w = header(r).load(std::memory_order_acquire);
      const uint64_t rec = record_bytes(header_len(w));
      if (is_data(r, w, rec)) return false;
      if (rd_.fault) return false;
      if (w == 0) return true;
      if (violation(r, w, rec)) return false;
      r += rec;  // padding: bounded, a step never passes the window
    }
  }

  // Reader side: where and why the reader stopped, once it has (then try_read returns Corrupt
  // and consume 0 for good; claims already read may still be released).
  std::optional<Corruption> corruption() const noexcept { return rd_.fault; }

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

    // The payload, inside the buffer (checked when it was read). In a shared region the
    // peer can change these bytes at any time.
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
  Logbuf(Control* ctl, uint64_t cap, uint64_t head, uint64_t tail) noexcept {
    k_.ctl = ctl;
    k_.data = reinterpret_cast<unsigned char*>(ctl) + sizeof(Control);
    k_.cap = cap;
    k_.mask = cap - 1;
    k_.max_payload = logbuf::max_payload(cap);
    wr_.tail = tail;
    wr_.head_cache = head;
    rd_.pos = head;
    rd_.head = head;
    rd_.max_len = k_.max_payload;
    rd_.window = cap - kHeaderBytes;
  }

  static Result<std::unique_ptr<Logbuf>, LogbufError> wrap(Control* ctl, uint64_t cap,
                                                           uint64_t head, uint64_t tail) {
    std::unique_ptr<Logbuf> b(new (std::nothrow) Logbuf(ctl, cap, head, tail));
    if (!b) return err(LogbufError::OutOfMemory);
    return b;
  }

  // Header words sit at 8-byte offsets of a 128-byte aligned area: every position this object
  // uses is a multiple of 8 (its own cursors, and a shared MPSC tail after its check), and the
  // mask keeps every access inside the buffer.
  std::atomic_ref<uint64_t> header(uint64_t pos) const noexcept {
    return std::atomic_ref<uint64_t>(
        *reinterpret_cast<uint64_t*>(k_.data + static_cast<std::size_t>(pos & k_.mask)));
  }
  std::byte* payload(uint64_t pos) const noexcept {
    return reinterpret_cast<std::byte*>(k_.data + static_cast<std::size_t>(pos & k_.mask) +
                                        kHeaderBytes);
  }

  // The reader's whole check of a data record at r, header w, rec bytes long (the hot path):
  // no padding or released bit and a length of 1..max_payload (one compare: 0 wraps, and the
  // two bits make the value huge), inside the buffer, and ending within the window past the
  // released position that an honest writer's claims stay inside. After stop(), max_len is 0,
  // so every header takes the slow path and the reader stays stopped at no cost here.
  bool is_data(uint64_t r, uint64_t w, uint64_t rec) const noexcept {
    return (w & (kReleasedBit | kPadBit | kLenMask)) - 1 < rd_.max_len &&
           ((r & k_.mask) + rec <= k_.cap) & (r + rec - rd_.head <= rd_.window);
  }

  // The rule a non-zero header at r breaks, or nullopt for padding or a released mark that
  // may be passed. Called only for headers is_data() refused.
  std::optional<Violation> violation(uint64_t r, uint64_t w, uint64_t rec) const noexcept {
    // Every kind of record ends within the window: the writer claimed it (or the padding
    // before a claim) with the reserve to spare.
    const bool beyond = r + rec - rd_.head > rd_.window;
    // A released mark (a reader attached before this one released it out of order): it may
    // cover several records and run across the buffer end, and nothing in it is read.
    if (w & kReleasedBit) return beyond ? std::optional(Violation::Overrun) : std::nullopt;
    const uint64_t len = header_len(w);
    const uint64_t end = (r & k_.mask) + rec;
    if (w & kPadBit) {
      // Padding ends at the buffer end (a wrap) or has an aborted claim's size.
      if (end > k_.cap || (end != k_.cap && (len == 0 || len > k_.max_payload)))
        return Violation::BadPadding;
    } else {
      if (len == 0 || len > k_.max_payload) return Violation::BadLength;
      if (end > k_.cap) return Violation::PastEnd;
    }
    if (beyond) return Violation::Overrun;
    if (w & kPadBit) return std::nullopt;
    // A data record that passes every rule here: only max_len (0 after a stop) refused it.
    return Violation::BadLength;
  }

  // A non-zero header that is not a plain data record: true for padding or a released mark
  // to pass; false when the reader is (now) stopped, at a header that breaks a rule.
  [[gnu::noinline]] bool skip(uint64_t r, uint64_t w, uint64_t rec) noexcept {
    if (rd_.fault) return false;
    const auto v = violation(r, w, rec);
    if (!v) return true;
    stop(r, *v);
    return false;
  }

  // A data record's position and header word (header 0: none).
  struct Found {
    uint64_t pos;
    uint64_t header;
  };

  // try_read's path when the read position holds no plain data record: passes padding (and
  // frees it) up to the next data record, which it returns (checked, not yet taken), or stops
  // at an empty or corrupt header. Returns in registers, so try_read's result is built in one
  // place and stays out of memory.
  [[gnu::noinline]] Found pass_to_data() noexcept {
    const uint64_t r0 = rd_.pos;
    uint64_t r = r0;
    uint64_t w;
    for (;;) {
      // acquire: as in try_read.
      w = header(r).load(std::memory_order_acquire);
      const uint64_t rec = record_bytes(header_len(w));
      if (is_data(r, w, rec)) break;
      if (w == 0 || !skip(r, w, rec)) {
        w = 0;
        break;
      }
      r += rec;  // padding: bounded, a step never passes the window
    }
    if (r != r0) {
      rd_.pos = r;
      release_range(r0, r);  // the padding passed on the way
    }
    return Found{r, w};
  }

  [[gnu::cold]] void stop(uint64_t r, Violation v) noexcept {
    rd_.fault = Corruption{sizeof(Control) + (r & k_.mask), r, v};
    rd_.max_len = 0;
  }

  // [s, e) holds whole records the reader has taken. If s is the oldest unfreed position,
  // free up to e and past any later ranges already released out of order; else mark [s, e)
  // released, one header word over all of it.
  void release_range(uint64_t s, uint64_t e) noexcept {
    if (s == rd_.head && e == rd_.pos) [[likely]] {  // the oldest, and nothing read after it
      publish_head(s, e);
      return;
    }
    release_slow(s, e);
  }

  [[gnu::noinline]] void release_slow(uint64_t s, uint64_t e) noexcept {
    const uint64_t h = rd_.head;
    if (s != h) {
      if (s > h) {
        // relaxed: behind the read position only the reader reads headers (an honest peer
        // never does). The mark's length is the range's, from our own cursors.
        header(s).store(kReleasedBit | (e - s - kHeaderBytes), std::memory_order_relaxed);
        return;
      }
      // s < h: a mark overwritten by the peer moved head into or past this range already.
      if (e <= h) return;
    }
    const uint64_t read = rd_.pos;
    while (e < read) {
      // relaxed: as above. Each step is at least 8 bytes and stays below the read position,
      // which is within capacity of head: at most capacity / 8 steps.
      const uint64_t w = header(e).load(std::memory_order_relaxed);
      if (!(w & kReleasedBit)) break;
      const uint64_t span = record_bytes(header_len(w));
      if (span > read - e) {
        if (!rd_.fault) stop(e, Violation::BadRelease);
        break;
      }
      e += span;
    }
    publish_head(h, e);
  }

  // Frees [h, e): h is the published head.
  void publish_head(uint64_t h, uint64_t e) noexcept {
    zero(h, e);
    // release: producers that acquire head see the space free and zeroed.
    k_.ctl->cons.head.store(e, std::memory_order_release);
    rd_.head = e;
  }

  // The header word of every position a producer may claim next must read zero, so the reader
  // zeroes what it frees. The range is at most the window (capacity - 8), so it wraps at most
  // once. A released record or a small batch (up to 128 bytes, a multiple of 8) is zeroed with
  // a few overlapping stores instead of a call to memset.
  void zero(uint64_t from, uint64_t to) noexcept {
    const std::size_t off = static_cast<std::size_t>(from & k_.mask);
    const std::size_t n = static_cast<std::size_t>(to - from);
    unsigned char* p = k_.data + off;
    if (n <= 128 && off + n <= k_.cap) [[likely]] {
      // n is a multiple of 8, at least 8: two stores of 8, 16, 32 or 64 bytes, overlapping.
      if (n > 64) {
        std::memset(p, 0, 64);
        std::memset(p + n - 64, 0, 64);
      } else if (n > 32) {
        std::memset(p, 0, 32);
        std::memset(p + n - 32, 0, 32);
      } else if (n > 16) {
        std::memset(p, 0, 16);
        std::memset(p + n - 16, 0, 16);
      } else {
        std::memset(p, 0, 8);
        std::memset(p + n - 8, 0, 8);
      }
      return;
    }
    const std::size_t room = static_cast<std::size_t>(k_.cap) - off;
    const std::size_t first = n < room ? n : room;
    std::memset(p, 0, first);
    if (n > first) std::memset(k_.data, 0, n - first);
  }

  // alignas(kFalseShareBytes) on each group: the three are written by different threads (the
  // producer's and the reader's copies) or by none (the shape, read by both on every call). A
  // producer writing its line must not take the line the reader reads on every record away
  // from the reader, nor the other way round.
  struct alignas(kFalseShareBytes) Shape {
    Control* ctl;
    unsigned char* data;
    uint64_t cap;
    uint64_t mask;
    uint64_t max_payload;
    RingMemory mem{};
    std::size_t owned_bytes = 0;  // non-zero when make() allocated the region
  } k_;
  // SPSC producer only (MPSC producers share everything through the region).
  struct alignas(kFalseShareBytes) Writer {
    uint64_t tail;        // where the next claim starts
    uint64_t head_cache;  // the newest head seen (refreshed on apparent full)
  } wr_;
  // The reader only.
  struct alignas(kFalseShareBytes) Reader {
    uint64_t pos;      // the next record to read
    uint64_t head;     // everything before it is free; what the reader last published
    uint64_t max_len;  // max_payload, or 0 once stopped (see is_data)
    uint64_t window;   // capacity - 8: how far past head an honest writer's claims end
    std::optional<Corruption> fault;
  } rd_;
};

}  // namespace detail
}  // namespace sluice::logbuf
