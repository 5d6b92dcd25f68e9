// The logbuf region fuzzer's body, shared by the libFuzzer target (region_fuzz.cpp, clang) and
// the GoogleTest that replays the seed corpus in every build (tests/logbuf/
// logbuf_fuzz_replay_test.cpp, g++).
//
// An input is what a hostile peer could leave in a shared region, plus what to do with it:
//   [u16 little-endian: script length S][S script bytes][region image: the rest]
// The image is copied into a 128-aligned heap block of exactly its size (so ASan sees any
// access past it), attached as an SPSC and as an MPSC buffer (each on a fresh copy; the
// image's kind field picks which attach succeeds), and the script drives reads, releases,
// consume, claims, commits, aborts, and further scribbles into the live region. Every call must
// return; every span must lie inside the data area; every error must be one the API lists;
// a reader that reported Corrupt must stay stopped. A broken rule prints "sluice-fuzz: ..."
// and aborts, which libFuzzer records as a crash and the replay test as a death.
//
// logbuf_region_seeds() builds the seed inputs: valid regions in several states (empty, with
// records, wrapped, with padding, aborted claims, open claims, out-of-order releases) and
// corrupt ones (each rule broken once), for both kinds. fuzz/logbuf/make_corpus.cpp writes them
// to fuzz/logbuf/corpus/ (scripts/fuzz --seeds).
#pragma once

#include <sluice/logbuf/mpsc_logbuf.hpp>
#include <sluice/logbuf/spsc_logbuf.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace sluice::fuzz {

namespace logbuf_detail {

using logbuf::ClaimError;
using logbuf::LogbufError;
using logbuf::ReadError;

[[noreturn]] inline void fail(const char* what, unsigned long long a = 0,
                              unsigned long long b = 0) {
  std::fprintf(stderr, "sluice-fuzz: %s (%llu, %llu)\n", what, a, b);
  std::fflush(stderr);
  std::abort();
}

// A 128-aligned heap block of exactly n bytes (n >= 1).
struct Block {
  explicit Block(std::size_t n) : size(n == 0 ? 1 : n) {
    p = static_cast<unsigned char*>(::operator new (size, std::align_val_t{128}));
  }
  ~Block() { ::operator delete (p, std::align_val_t{128}); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  unsigned char* p;
  std::size_t size;
};

// Reads the script byte by byte; 0 once it runs out.
struct Script {
  const uint8_t* p;
  std::size_t n;
  std::size_t i = 0;
  bool more() const { return i < n; }
  uint8_t u8() { return i < n ? p[i++] : 0; }
  uint16_t u16() {
    const uint16_t lo = u8();
    return static_cast<uint16_t>(lo | (uint16_t{u8()} << 8));
  }
  uint32_t u32() {
    const uint32_t lo = u16();
    return lo | (uint32_t{u16()} << 16);
  }
  uint64_t u64() {
    const uint64_t lo = u32();
    return lo | (uint64_t{u32()} << 32);
  }
};

template <class B>
class Harness {
 public:
  Harness(B& b, unsigned char* region, std::size_t bytes)
      : b_(b), region_(region), bytes_(bytes), cap_(b.capacity()) {
    lo_ = region + (B::region_bytes(cap_) - cap_);
    hi_ = lo_ + cap_;
    if (hi_ > region + bytes) fail("attach accepted a region smaller than its capacity");
  }
  ~Harness() {
    held_.clear();  // releases
    open_.clear();  // aborts
  }

  void span_inside(const void* p, std::size_t n) const {
    const auto* c = static_cast<const unsigned char*>(p);
    if (n == 0 || n > b_.max_payload()) fail("span size out of range", n, b_.max_payload());
    if (c < lo_ || c + n > hi_)
      fail("span outside the data area", static_cast<unsigned long long>(c - lo_), n);
  }

  void check_corruption() const {
    const auto c = b_.corruption();
    if (!c) fail("Corrupt without corruption()");
    const uint64_t ctl = B::region_bytes(cap_) - cap_;
    if (c->offset < ctl || c->offset >= ctl + cap_ || c->offset % 8 != 0)
      fail("corruption offset outside the data area", c->offset);
    if ((c->position & (cap_ - 1)) != c->offset - ctl) fail("corruption position and offset");
  }

  // try_read, with every rule checked; returns true when it delivered.
  bool read(bool keep) {
    const bool was_stopped = b_.corruption().has_value();
    const bool looked_empty = b_.empty();
    auto r = b_.try_read();
    if (r) {
      if (was_stopped) fail("a stopped reader delivered");
      if (looked_empty) fail("empty() said empty, try_read delivered");
      span_inside(r->data(), r->size());
      volatile unsigned char sink = static_cast<unsigned char>(r->data()[r->size() - 1]);
      (void)sink;
      if (keep && held_.size() < 4) held_.push_back(std::move(*r));
      return true;
    }
    if (r.error() == ReadError::Corrupt) {
      if (looked_empty && !was_stopped) fail("empty() said empty, try_read said Corrupt");
      check_corruption();
      auto again = b_.try_read();
      if (again || again.error() != ReadError::Corrupt) fail("the reader did not stay stopped");
      if (b_.consume([](std::span<const std::byte>, uint16_t) {}, 8) != 0)
        fail("consume delivered after a stop");
      if (!b_.pending()) fail("pending() false on a stopped reader");
    } else if (r.error() != ReadError::Empty) {
      fail("try_read error out of range", static_cast<unsigned>(r.error()));
    } else {
      if (was_stopped) fail("a stopped reader said Empty");
      if (!looked_empty) fail("empty() said not empty, try_read said Empty");
    }
    return false;
  }

  void consume(std::size_t max) {
    const bool was_stopped = b_.corruption().has_value();
    std::size_t seen = 0;
    const std::size_t n = b_.consume(
        [&](std::span<const std::byte> s, uint16_t) {
          span_inside(s.data(), s.size());
          ++seen;
        },
        max);
    if (n != seen || n > max) fail("consume count", n, seen);
    if (was_stopped && n != 0) fail("consume delivered after a stop");
    if (b_.corruption()) check_corruption();
  }

  void claim(std::size_t n, uint16_t kind, uint8_t how) {
    auto c = b_.try_claim(n, kind);
    if (!c) {
      const ClaimError e = c.error();
      if ((e == ClaimError::ZeroLength) != (n == 0)) fail("ZeroLength mismatch", n);
      if ((e == ClaimError::TooLarge) != (n != 0 && n > b_.max_payload()))
        fail("TooLarge mismatch", n);
      if (e != ClaimError::Full && e != ClaimError::Corrupt && e != ClaimError::ZeroLength &&
          e != ClaimError::TooLarge)
        fail("claim error out of range", static_cast<unsigned>(e));
      return;
    }
    if (n == 0 || n > b_.max_payload()) fail("claim of an impossible size succeeded", n);
    if (c->size() != n) fail("claim size", c->size(), n);
    span_inside(c->data(), c->size());
    std::memset(c->data(), static_cast<int>(how), c->size());
    if (how % 3 == 0) {
      c->commit();
    } else if (how % 3 == 1 && open_.size() < 3) {
      open_.push_back(std::move(*c));
    }  // else: aborted as it goes
  }

  // Writes into the live region, as a peer could at any time.
  void scribble(Script& s) {
    const uint8_t how = s.u8();
    const std::size_t ctl = B::region_bytes(cap_) - cap_;
    switch (how % 4) {
      case 0: {  // a word anywhere (8-aligned), any value
        const std::size_t off = (s.u32() % bytes_) & ~std::size_t{7};
        if (off + 8 <= bytes_) store(off, s.u64());
        break;
      }
      case 1: {  // a plausible header in the data area
        const std::size_t off = ctl + ((s.u32() % cap_) & ~std::size_t{7});
        const uint64_t len = s.u16() % (cap_ + 16);
        uint64_t w = len | (uint64_t{s.u8()} << 32);
        const uint8_t bits = s.u8();
        if (bits & 1) w |= uint64_t{1} << 48;
        if (bits & 2) w |= uint64_t{1} << 63;
        store(off, w);
        break;
      }
      case 2: {  // a cursor: tail, head_cache or head, near where it was or anywhere
        static constexpr std::size_t kCursor[3] = {128, 136, 256};
        const std::size_t off = kCursor[s.u8() % 3];
        if (off + 8 > bytes_) break;
        uint64_t v;
        std::memcpy(&v, region_ + off, 8);
        const uint8_t mode = s.u8();
        if (mode % 3 == 0)
          v += static_cast<int64_t>(static_cast<int16_t>(s.u16())) * 8;
        else if (mode % 3 == 1)
          v += static_cast<int8_t>(s.u8());
        else
          v = s.u64();
        store(off, v);
        break;
      }
      default: {  // a byte anywhere
        const std::size_t off = s.u32() % bytes_;
        region_[off] = s.u8();
        break;
      }
    }
  }

  void run(Script& s) {
    for (int ops = 0; s.more() && ops < 2048; ++ops) {
      const uint8_t op = s.u8();
      switch (op % 12) {
        case 0:
        case 1:
          (void)read(op & 16);
          break;
        case 2:
          if (!held_.empty()) held_.erase(held_.begin() + (s.u8() % held_.size()));
          break;
        case 3:
          consume(1 + s.u8() % 16);
          break;
        case 4: {
          const std::size_t n = s.u16() % (b_.max_payload() + 3);
          claim(n, s.u16(), s.u8());
          break;
        }
        case 5:
          if (!open_.empty()) {
            const std::size_t i = s.u8() % open_.size();
            open_[i].commit();
            open_.erase(open_.begin() + static_cast<long>(i));
          }
          break;
        case 6:
          if (!open_.empty()) open_.erase(open_.begin() + (s.u8() % open_.size()));
          break;
        case 7:
        case 8:
          scribble(s);
          break;
        case 9:
          (void)b_.fits(s.u16() % (b_.max_payload() + 3));
          (void)b_.pending();
          (void)b_.released_position();
          break;
        case 10:
          drain();
          break;
        default:
          for (int k = 0; k < 4; ++k) claim(1 + s.u8() % 64, 1, 0);
          break;
      }
    }
    drain();
  }

  // Reads and releases until Empty or Corrupt. An honest region empties within capacity / 8
  // reads; a hostile one can feed records for ever, so this stops after a few laps.
  void drain() {
    held_.clear();
    for (uint64_t i = 0; i < cap_ / 4 + 8; ++i)
      if (!read(false)) break;
  }

 private:
  void store(std::size_t off, uint64_t v) { std::memcpy(region_ + off, &v, 8); }

  B& b_;
  unsigned char* region_;
  std::size_t bytes_;
  uint64_t cap_;
  unsigned char* lo_;
  unsigned char* hi_;
  std::vector<typename B::ReadClaim> held_;
  std::vector<typename B::WriteClaim> open_;
};

template <class B>
void run_kind(const uint8_t* image, std::size_t n, const uint8_t* script, std::size_t slen) {
  Block blk(n);
  if (n != 0) std::memcpy(blk.p, image, n);
  auto a = B::attach(blk.p, n);
  if (!a) {
    const LogbufError e = a.error();
    if (e != LogbufError::RegionTooSmall && e != LogbufError::NotALogbuf &&
        e != LogbufError::WrongKind && e != LogbufError::Corrupt)
      fail("attach error out of range", static_cast<unsigned>(e));
    return;
  }
  Script s{script, slen};
  Harness<B> h(**a, blk.p, n);
  h.run(s);
}

}  // namespace logbuf_detail

// The fuzz target's body: never returns non-zero, aborts on a broken rule.
inline int logbuf_region(const uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::size_t slen = std::size_t{data[0]} | (std::size_t{data[1]} << 8);
  if (slen > size - 2) slen = size - 2;
  const uint8_t* script = data + 2;
  const uint8_t* image = script + slen;
  const std::size_t n = size - 2 - slen;
  logbuf_detail::run_kind<SpscLogbuf>(image, n, script, slen);
  logbuf_detail::run_kind<MpscLogbuf>(image, n, script, slen);
  return 0;
}

// ---------------------------------------------------------------- seeds

namespace logbuf_detail {

inline std::vector<uint8_t> input(const std::vector<uint8_t>& script, const unsigned char* image,
                                  std::size_t n) {
  std::vector<uint8_t> v(2 + script.size() + n);
  v[0] = static_cast<uint8_t>(script.size());
  v[1] = static_cast<uint8_t>(script.size() >> 8);
  if (!script.empty()) std::memcpy(v.data() + 2, script.data(), script.size());
  if (n != 0) std::memcpy(v.data() + 2 + script.size(), image, n);
  return v;
}

// A region of `cap` in a known state, built with the real API (claims still open or held are
// left as they are, as by a process that died holding them), then `edits` applied to the raw
// bytes (offset into the region, 8-byte word), with `script` in front.
template <class B>
std::vector<uint8_t> seed(std::size_t cap, int state,
                          const std::vector<std::pair<std::size_t, uint64_t>>& edits,
                          const std::vector<uint8_t>& script) {
  const std::size_t bytes = B::region_bytes(cap);
  Block blk(bytes);
  std::memset(blk.p, 0, bytes);
  std::vector<uint8_t> image(bytes);
  {
    auto b = std::move(*B::create_in(blk.p, bytes, cap));
    const std::size_t max = b->max_payload();
    std::vector<typename B::ReadClaim> held;
    std::vector<typename B::WriteClaim> open;
    auto put = [&](std::size_t n, bool commit) {
      auto c = b->try_claim(n, static_cast<uint16_t>(n));
      if (!c) return;
      std::memset(c->data(), static_cast<int>(n), n);
      if (commit)
        c->commit();
      else
        open.push_back(std::move(*c));
    };
    switch (state) {
      case 0:  // empty
        break;
      case 1:  // a few records
        for (std::size_t n : {1u, 7u, 8u, 20u}) put(n, true);
        break;
      case 2:  // wrapped: padding at the end, records after it
        for (int i = 0; i < 3; ++i) {
          put(max / 2, true);
          while (b->try_read()) {
          }
        }
        put(max, true);
        put(3, true);
        break;
      case 3:  // an aborted claim between records, and an open claim at the end
        put(5, true);
        put(9, false);
        open.clear();
        put(11, true);
        put(13, false);
        break;
      case 4:  // read claims released out of order: released marks behind the reader
        for (std::size_t n : {4u, 12u, 20u, 28u}) put(n, true);
        for (int i = 0; i < 4; ++i)
          if (auto r = b->try_read()) held.push_back(std::move(*r));
        if (held.size() == 4) {
          held.erase(held.begin() + 2);
          held.erase(held.begin() + 1);
        }
        put(6, true);
        break;
      default:  // full of small records
        for (;;) {
          auto c = b->try_claim(8, 1);
          if (!c) break;
          c->commit();
        }
        break;
    }
    std::memcpy(image.data(), blk.p, bytes);
  }
  for (const auto& [off, w] : edits)
    if (off + 8 <= bytes) std::memcpy(image.data() + off, &w, 8);
  return input(script, image.data(), bytes);
}

// Every seed: each state of each kind at two capacities, then one corrupt region per rule.
inline std::vector<std::vector<uint8_t>> seeds() {
  using logbuf::detail::kPadBit;
  using logbuf::detail::kReleasedBit;
  constexpr std::size_t kCtl = sizeof(logbuf::detail::Control);
  constexpr std::size_t kTail = 128, kHeadCache = 136, kHead = 256;
  // read, read-and-hold, release, consume, claims, commit, abort, scribbles, drain.
  const std::vector<uint8_t> script = {0, 16, 16, 2, 0,  3, 4,  4, 40, 0, 1, 0, 5,  0, 4, 9,
                                       0, 7,  0,  3, 11, 0, 10, 1, 16, 6, 0, 7, 1,  0, 0, 0,
                                       0, 9,  0,  0, 0,  1, 8,  2, 1,  2, 3, 0, 10, 3, 4};
  std::vector<std::vector<uint8_t>> v;
  for (std::size_t cap : {64u, 256u}) {
    for (int st = 0; st <= 5; ++st) {
      v.push_back(seed<SpscLogbuf>(cap, st, {}, script));
      v.push_back(seed<MpscLogbuf>(cap, st, {}, script));
    }
  }
  const std::size_t cap = 256;
  auto both = [&](int st, std::vector<std::pair<std::size_t, uint64_t>> e) {
    v.push_back(seed<SpscLogbuf>(cap, st, e, script));
    v.push_back(seed<MpscLogbuf>(cap, st, e, script));
  };
  both(0, {{kCtl, uint64_t{7} << 32}});                // length 0
  both(0, {{kCtl, 0xffffffff}});                       // length far past the maximum
  both(1, {{kCtl + 16, cap / 2 - 8 + 1}});             // one past max_payload
  both(0, {{kCtl + cap - 16, 40}});                    // a record running past the end
  both(0, {{kCtl, kPadBit}});                          // padding of 8 bytes in the middle
  both(0, {{kCtl, kPadBit | 4096}});                   // padding far too long
  both(0, {{kCtl, kReleasedBit | 0xfffffff0}});        // a released mark running far
  both(1, {{kHead, 4}});                               // misaligned head
  both(1, {{kTail, 12}});                              // misaligned tail
  both(1, {{kHead, 4096}});                            // head past tail
  both(1, {{kTail, 1u << 20}});                        // tail far past head
  both(1, {{kHeadCache, ~uint64_t{0}}});               // wild head cache
  both(4, {{kCtl + 16, kReleasedBit | 4000}});         // an overwritten released mark
  std::vector<std::pair<std::size_t, uint64_t>> pads;  // a ring full of padding
  for (std::size_t off = 0; off < cap; off += 16) pads.push_back({kCtl + off, kPadBit | 8});
  both(0, pads);
  std::vector<std::pair<std::size_t, uint64_t>> recs;  // a ring full of valid-looking records
  for (std::size_t off = 0; off < cap; off += 16) recs.push_back({kCtl + off, 8});
  both(0, recs);
  // Short images: no control block, and a control block with no data area.
  v.push_back({0, 0, 1, 2, 3});
  auto cut = seed<SpscLogbuf>(cap, 1, {}, {});
  cut.resize(2 + kCtl + 64);
  v.push_back(cut);
  return v;
}

}  // namespace logbuf_detail

inline std::vector<std::vector<uint8_t>> logbuf_region_seeds() { return logbuf_detail::seeds(); }

}  // namespace sluice::fuzz
