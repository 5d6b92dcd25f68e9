// A region shared with another process is input from a peer that need not be trusted
// (docs/logbuf.md, "Trust model"). These tests write into a live region what such a peer
// could (headers, cursors, released marks, random words), and check that the logbuf reports
// Corrupt / Full / Empty, never reads or writes outside the region (guard bytes around it, and
// ASan in the sanitizer build), never loops without end (a watchdog), and stops its reader for
// good at the first broken rule, saying where. Also: region_bytes of an impossible capacity,
// attach's cursor checks, and a peer that tries to truncate a sealed memfd.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sluice/channel/mpsc_bytes.hpp>
#include <sluice/channel/spsc_bytes.hpp>
#include <sluice/logbuf/mpsc_logbuf.hpp>
#include <sluice/logbuf/shm.hpp>
#include <sluice/logbuf/spsc_logbuf.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "../common/watchdog.hpp"

using namespace sluice;
using namespace sluice::logbuf;
using namespace std::chrono_literals;
using logbuf::detail::Control;
using logbuf::detail::kPadBit;
using logbuf::detail::kReleasedBit;

namespace {

// The logbuf's errors unless said otherwise (the channel headers bring sluice::ClaimError too).
using logbuf::ClaimError;

constexpr std::size_t kCtl = sizeof(Control);

// A region with guard bytes on both sides: a write past either end shows in guards_intact()
// (and ASan flags anything further out).
class Guarded {
 public:
  static constexpr std::size_t kGuard = 256;
  static constexpr unsigned char kFill = 0xA5;
  explicit Guarded(std::size_t bytes) : bytes_(bytes) {
    raw_ = static_cast<unsigned char*>(::operator new (bytes + 2 * kGuard, std::align_val_t{128}));
    std::memset(raw_, kFill, bytes + 2 * kGuard);
    std::memset(region(), 0, bytes);
  }
  ~Guarded() { ::operator delete (raw_, std::align_val_t{128}); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  unsigned char* region() const { return raw_ + kGuard; }
  std::size_t bytes() const { return bytes_; }
  bool guards_intact() const {
    for (std::size_t i = 0; i < kGuard; ++i)
      if (raw_[i] != kFill || raw_[kGuard + bytes_ + i] != kFill) return false;
    return true;
  }
  uint64_t get(std::size_t off) const {
    uint64_t v;
    std::memcpy(&v, region() + off, 8);
    return v;
  }
  void set(std::size_t off, uint64_t v) { std::memcpy(region() + off, &v, 8); }
  // Offsets of the published cursors in the control block.
  std::size_t off(const std::atomic<uint64_t>& field) const {
    return static_cast<std::size_t>(reinterpret_cast<const unsigned char*>(&field) - region());
  }
  Control& ctl() const { return *reinterpret_cast<Control*>(region()); }
  std::size_t tail_off() const { return off(ctl().prod.tail); }
  std::size_t head_cache_off() const { return off(ctl().prod.head_cache); }
  std::size_t head_off() const { return off(ctl().cons.head); }

 private:
  std::size_t bytes_;
  unsigned char* raw_;
};

template <class B>
class LogbufTrustTest : public ::testing::Test {};
using Kinds = ::testing::Types<SpscLogbuf, MpscLogbuf>;
TYPED_TEST_SUITE(LogbufTrustTest, Kinds);

// A buffer of `cap` in a guarded region.
template <class B>
struct Fixture {
  explicit Fixture(std::size_t cap) : g(B::region_bytes(cap)) {
    auto r = B::create_in(g.region(), g.bytes(), cap);
    EXPECT_TRUE(r);
    if (r) b = std::move(*r);
  }
  unsigned char* lo() const { return g.region() + kCtl; }
  unsigned char* hi() const { return lo() + b->capacity(); }
  bool inside(const void* p, std::size_t n) const {
    auto* c = static_cast<const unsigned char*>(p);
    return c >= lo() && c + n <= hi();
  }
  // Writes and reads back one record of n bytes.
  void roundtrip(std::size_t n) {
    auto c = b->try_claim(n, 1);
    ASSERT_TRUE(c);
    std::memset(c->data(), 0x11, n);
    c->commit();
    auto r = b->try_read();
    ASSERT_TRUE(r);
  }
  Guarded g;
  std::unique_ptr<B> b;
};

// ---------------------------------------------------------------- sizes

TYPED_TEST(LogbufTrustTest, RegionBytesOfAnImpossibleCapacityIsZero) {
  // Was std::bit_ceil(SIZE_MAX): undefined (a shift by 64), and not a constant expression.
  static_assert(TypeParam::region_bytes(SIZE_MAX) == 0);
  static_assert(TypeParam::region_bytes(kMaxCapacity + 1) == 0);
  static_assert(TypeParam::region_bytes(0) == 0);
  static_assert(TypeParam::region_bytes(1) == kCtl + kMinCapacity);
  static_assert(TypeParam::region_bytes(kMaxCapacity) == kCtl + kMaxCapacity);
  volatile std::size_t big = SIZE_MAX;  // and at run time
  EXPECT_EQ(TypeParam::region_bytes(big), 0u);
  EXPECT_EQ(TypeParam::make(big).error(), LogbufError::BadCapacity);
  alignas(128) static unsigned char mem[1024];
  EXPECT_EQ(TypeParam::create_in(mem, sizeof mem, big).error(), LogbufError::BadCapacity);
  auto shm = ShmRegion::create(TypeParam::region_bytes(big));
  ASSERT_FALSE(shm);
  EXPECT_EQ(shm.error().errno_value, EINVAL);
}

// ---------------------------------------------------------------- headers

TYPED_TEST(LogbufTrustTest, BadLengthStopsTheReader) {
  for (uint64_t w :
       {uint64_t{7} << 32, uint64_t{121}, uint64_t{0x7ffffff0}, uint64_t{0xffffffff}}) {
    Fixture<TypeParam> f(256);  // max_payload 120
    f.g.set(kCtl, w);
    auto r = f.b->try_read();
    ASSERT_FALSE(r) << std::hex << w << ": a span of " << r->size() << " bytes";
    EXPECT_EQ(r.error(), ReadError::Corrupt);
    ASSERT_TRUE(f.b->corruption());
    EXPECT_EQ(f.b->corruption()->offset, kCtl);
    EXPECT_EQ(f.b->corruption()->position, 0u);
    EXPECT_EQ(f.b->corruption()->what, Violation::BadLength) << std::hex << w;
    EXPECT_EQ(f.b->consume([](std::span<const std::byte>, uint16_t) {}, 8), 0u);
    EXPECT_TRUE(f.g.guards_intact());
  }
}

TYPED_TEST(LogbufTrustTest, RecordPastTheEndStopsTheReader) {
  Fixture<TypeParam> f(256);
  for (int i = 0; i < 3; ++i) f.roundtrip(72);  // 3 x 80 bytes: the read position is at 240
  f.g.set(kCtl + 240, 40);                      // 48 bytes from offset 240: past 256
  auto r = f.b->try_read();
  ASSERT_FALSE(r) << "a span reaching " << (240 + 8 + r->size()) << " of 256";
  EXPECT_EQ(r.error(), ReadError::Corrupt);
  EXPECT_EQ(f.b->corruption()->what, Violation::PastEnd);
  EXPECT_EQ(f.b->corruption()->offset, kCtl + 240);
  EXPECT_EQ(f.b->corruption()->position, 240u);
  EXPECT_TRUE(f.g.guards_intact());
}

TYPED_TEST(LogbufTrustTest, PaddingMustEndWherePaddingCan) {
  // 8 bytes of padding in the middle (only a wrap leaves so little), and padding longer than
  // any claim that does not end at the buffer end, and padding past the end.
  for (uint64_t len : {uint64_t{0}, uint64_t{121}, uint64_t{4096}}) {
    Fixture<TypeParam> f(256);
    f.g.set(kCtl, kPadBit | len);
    auto r = f.b->try_read();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), ReadError::Corrupt) << len;
    EXPECT_EQ(f.b->corruption()->what, Violation::BadPadding) << len;
    EXPECT_FALSE(f.b->empty());
  }
  // Legal: an aborted claim's size, then a record; padding that ends at the buffer end.
  Fixture<TypeParam> f(256);
  f.g.set(kCtl, kPadBit | 5);
  f.g.set(kCtl + 16, (uint64_t{9} << 32) | 3);
  auto r = f.b->try_read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind(), 9);
  EXPECT_EQ(r->position(), 16u);
  r->release();
  Fixture<TypeParam> w(256);
  for (int i = 0; i < 3; ++i) w.roundtrip(72);  // at 240
  w.g.set(kCtl + 240, kPadBit | 8);             // 16 bytes: exactly to the end
  w.g.set(kCtl, (uint64_t{4} << 32) | 1);
  auto r2 = w.b->try_read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->position(), 256u);
  EXPECT_EQ(r2->kind(), 4);
}

// A ring full of padding: the SPSC reader went round it for ever (no honest writer zeroes a
// header there), the MPSC one zeroed and passed all of it. Both now stop once the padding runs
// further past the released position than a writer can claim.
TYPED_TEST(LogbufTrustTest, EndlessPaddingStopsTheReader) {
  std::atomic<long> progress{0};
  test::Watchdog wd(20s, &progress);
  for (std::size_t cap : {64u, 256u, 4096u}) {
    Fixture<TypeParam> f(cap);
    for (std::size_t off = 0; off < cap; off += 16) f.g.set(kCtl + off, kPadBit | 8);
    EXPECT_FALSE(f.b->empty());
    auto r = f.b->try_read();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), ReadError::Corrupt);
    EXPECT_EQ(f.b->corruption()->what, Violation::Overrun);
    EXPECT_EQ(f.b->corruption()->position, cap - 16);
    // The padding it passed was freed.
    EXPECT_EQ(f.b->released_position(), cap - 16);
    progress.fetch_add(1);
  }
}

// A released mark overwritten by the peer: walking it moved head (and the MPSC reader's
// zeroing) past the end of the region.
TYPED_TEST(LogbufTrustTest, OverwrittenReleaseMarkStopsTheReader) {
  Fixture<TypeParam> f(256);
  for (int i = 0; i < 3; ++i) {
    auto c = f.b->try_claim(8, static_cast<uint16_t>(i));
    ASSERT_TRUE(c);
    c->commit();
  }
  auto a = f.b->try_read();
  auto b = f.b->try_read();
  ASSERT_TRUE(a && b);
  b->release();  // out of order: a mark at position 16
  f.g.set(kCtl + 16, kReleasedBit | 0x7ffffff0);
  a->release();  // frees a, then walks the mark
  EXPECT_TRUE(f.g.guards_intact());
  ASSERT_TRUE(f.b->corruption());
  EXPECT_EQ(f.b->corruption()->what, Violation::BadRelease);
  EXPECT_EQ(f.b->corruption()->position, 16u);
  EXPECT_EQ(f.b->released_position(), 16u);
  EXPECT_EQ(f.b->try_read().error(), ReadError::Corrupt);
}

// Once stopped, always stopped: mending the header does not restart the reader.
TYPED_TEST(LogbufTrustTest, AStoppedReaderStaysStopped) {
  Fixture<TypeParam> f(256);
  auto c = f.b->try_claim(8, 1);
  ASSERT_TRUE(c);
  c->commit();
  auto held = f.b->try_read();
  ASSERT_TRUE(held);
  f.g.set(kCtl + 16, 0);
  f.g.set(kCtl + 16, uint64_t{500});  // too long
  EXPECT_EQ(f.b->try_read().error(), ReadError::Corrupt);
  f.g.set(kCtl + 16, 8);  // a fine record now
  EXPECT_EQ(f.b->try_read().error(), ReadError::Corrupt);
  EXPECT_EQ(f.b->consume([](std::span<const std::byte>, uint16_t) {}, 8), 0u);
  EXPECT_FALSE(f.b->empty());
  EXPECT_TRUE(f.b->pending());
  f.g.set(kCtl + 16, 0);  // nothing there at all
  EXPECT_EQ(f.b->try_read().error(), ReadError::Corrupt);
  // What was read before the stop is still released normally.
  held->release();
  EXPECT_EQ(f.b->released_position(), 16u);
  EXPECT_EQ(f.b->corruption()->what, Violation::BadLength);
  EXPECT_STREQ(to_string(ReadError::Corrupt), "corrupt region");
  EXPECT_STREQ(to_string(f.b->corruption()->what), "record length out of range");
}

// ---------------------------------------------------------------- cursors

// The reader's cursors are its own: whatever the region says, it reads on from where it was.
TYPED_TEST(LogbufTrustTest, TheReaderIgnoresPublishedCursors) {
  Fixture<TypeParam> f(256);
  for (int i = 0; i < 5; ++i) f.roundtrip(20);
  f.g.set(f.g.head_off(), 12345);  // misaligned, and not where the reader is
  f.g.set(f.g.head_cache_off(), ~uint64_t{0});
  // SPSC: the producer's tail is its own too. MPSC: a wild cached head only sends a claim to
  // read head, and head is one the peer cannot make worse than "full" or "corrupt".
  auto c = f.b->try_claim(20, 3);
  ASSERT_TRUE(c);
  c->commit();
  auto r = f.b->try_read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind(), 3);
  EXPECT_EQ(r->position(), 5u * 32u);
  r->release();
  EXPECT_EQ(f.g.get(f.g.head_off()), 6u * 32u);  // published again from the reader's own
  EXPECT_TRUE(f.g.guards_intact());
}

// SPSC: the producer's tail is its own; a tail the peer rewrote (misaligned, near the end)
// used to put the next header across the end of the buffer.
TEST(LogbufTrust, SpscProducerIgnoresThePublishedTail) {
  Fixture<SpscLogbuf> f(256);
  f.roundtrip(20);
  f.g.set(f.g.tail_off(), 3 * 256 - 4);
  for (int i = 0; i < 40; ++i) {
    auto c = f.b->try_claim(16, static_cast<uint16_t>(i));
    ASSERT_TRUE(c);
    ASSERT_TRUE(f.inside(c->data(), c->size()));
    c->commit();
    auto r = f.b->try_read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind(), i);
  }
  // With head moved next to that tail as well, today's space check passed and the padding
  // header went 4 bytes past the buffer. Now the producer reads head only when the ring looks
  // full, and then finds it past its own tail: Corrupt, and nothing written.
  f.g.set(f.g.head_off(), 3 * 256 - 8);
  for (int i = 0;; ++i) {
    ASSERT_LT(i, 100);
    auto c = f.b->try_claim(16);
    if (!c) {
      EXPECT_EQ(c.error(), ClaimError::Corrupt);
      break;
    }
    ASSERT_TRUE(f.inside(c->data(), c->size()));
    c->commit();
  }
  EXPECT_TRUE(f.g.guards_intact());
}

// The SPSC producer loads head only when the ring looks full; the head it loads must not move
// backwards or pass the producer's own tail.
TEST(LogbufTrust, SpscProducerChecksTheHead) {
  Fixture<SpscLogbuf> f(256);
  for (int i = 0; i < 7; ++i) f.roundtrip(20);  // head 224
  for (;;) {                                    // fill: the producer loads head (224)
    auto c = f.b->try_claim(24);
    if (!c) {
      ASSERT_EQ(c.error(), ClaimError::Full);
      break;
    }
    c->commit();
  }
  const uint64_t head = f.g.get(f.g.head_off());
  const uint64_t tail = f.g.get(f.g.tail_off());
  ASSERT_EQ(head, 224u);
  f.g.set(f.g.head_off(), head - 8);  // backwards
  EXPECT_EQ(f.b->try_claim(24).error(), ClaimError::Corrupt);
  f.g.set(f.g.head_off(), tail + 8);  // past the tail
  EXPECT_EQ(f.b->try_claim(24).error(), ClaimError::Corrupt);
  EXPECT_TRUE(f.b->fits(24));     // so that a waiting producer retries and sees Corrupt
  f.g.set(f.g.head_off(), head);  // put back: the producer was never stuck
  EXPECT_EQ(f.b->try_claim(24).error(), ClaimError::Full);
  while (f.b->consume([](std::span<const std::byte>, uint16_t) {}, 64) != 0) {
  }
  EXPECT_TRUE(f.b->try_claim(24));
  EXPECT_TRUE(f.g.guards_intact());
}

// MPSC producers share the tail through the region, so each claim checks it.
TEST(LogbufTrust, MpscProducerChecksTheSharedCursors) {
  {
    Fixture<MpscLogbuf> f(256);
    f.roundtrip(20);
    f.g.set(f.g.tail_off(), 36);  // misaligned: the header would be misaligned
    EXPECT_EQ(f.b->try_claim(8).error(), ClaimError::Corrupt);
    EXPECT_TRUE(f.b->fits(8));
  }
  {
    Fixture<MpscLogbuf> f(256);
    for (int i = 0; i < 4; ++i) f.roundtrip(20);  // tail = head = 128
    // A claim compares the tail with the cached head and reads head only when that looks
    // full; honest producers keep the cache at head, as here.
    f.g.set(f.g.head_cache_off(), 128);
    f.g.set(f.g.tail_off(), 64);  // behind head
    EXPECT_EQ(f.b->try_claim(8).error(), ClaimError::Corrupt);
    EXPECT_TRUE(f.b->fits(8));
    f.g.set(f.g.tail_off(), 128 + 4 * 256);  // further past head than the capacity: no room
    EXPECT_EQ(f.b->try_claim(8).error(), ClaimError::Full);
    f.g.set(f.g.tail_off(), 128);             // put back
    f.g.set(f.g.head_cache_off(), 1u << 30);  // a wild cache only costs a reload of head
    auto c = f.b->try_claim(8, 6);
    ASSERT_TRUE(c);
    c->commit();
    auto r = f.b->try_read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind(), 6);
    EXPECT_TRUE(f.g.guards_intact());
  }
}

TYPED_TEST(LogbufTrustTest, AttachChecksTheCursors) {
  Fixture<TypeParam> f(256);
  for (int i = 0; i < 3; ++i) f.roundtrip(20);  // head = tail = 96
  void* reg = f.g.region();
  const std::size_t bytes = f.g.bytes();
  ASSERT_TRUE(TypeParam::attach(reg, bytes));
  f.g.set(f.g.head_off(), 100);  // misaligned
  EXPECT_EQ(TypeParam::attach(reg, bytes).error(), LogbufError::Corrupt);
  f.g.set(f.g.head_off(), 96);
  f.g.set(f.g.tail_off(), 98);  // misaligned
  EXPECT_EQ(TypeParam::attach(reg, bytes).error(), LogbufError::Corrupt);
  f.g.set(f.g.tail_off(), 96 + 256);  // a full capacity ahead: the reserve is gone
  if constexpr (!TypeParam::kMulti)
    EXPECT_EQ(TypeParam::attach(reg, bytes).error(), LogbufError::Corrupt);
  else  // other producers may move it meanwhile: claims check it
    EXPECT_TRUE(TypeParam::attach(reg, bytes));
  f.g.set(f.g.tail_off(), 96);
  // Positions at or past 2^62: no honest stream gets there, and a wrap past 2^64 would stall
  // the release walk silently.
  const uint64_t near_wrap = ~uint64_t{0} - 31;
  f.g.set(f.g.head_off(), near_wrap);
  f.g.set(f.g.tail_off(), near_wrap);
  EXPECT_EQ(TypeParam::attach(reg, bytes).error(), LogbufError::Corrupt);
  f.g.set(f.g.head_off(), uint64_t{1} << 62);
  f.g.set(f.g.tail_off(), uint64_t{1} << 62);
  EXPECT_EQ(TypeParam::attach(reg, bytes).error(), LogbufError::Corrupt);
  f.g.set(f.g.head_off(), 96);
  f.g.set(f.g.tail_off(), 96);
  // The capacity is read once and checked against the region.
  auto& cap = f.g.ctl().fixed.capacity;
  cap = 512;
  EXPECT_EQ(TypeParam::attach(reg, bytes).error(), LogbufError::RegionTooSmall);
  cap = 96;
  EXPECT_EQ(TypeParam::attach(reg, bytes).error(), LogbufError::NotALogbuf);
  cap = 256;
  f.g.ctl().fixed.version = 1;  // the format before private cursors
  EXPECT_EQ(TypeParam::attach(reg, bytes).error(), LogbufError::NotALogbuf);
  f.g.ctl().fixed.version = logbuf::detail::kVersion;
  EXPECT_TRUE(TypeParam::attach(reg, bytes));
  EXPECT_STREQ(to_string(LogbufError::Corrupt), "corrupt region");
}

// A reader that attaches starts at the released position: what an earlier reader took and
// never released comes again; what it released out of order (a mark) is passed.
TYPED_TEST(LogbufTrustTest, AReaderAttachedLaterPassesReleasedMarks) {
  Fixture<TypeParam> f(1024);
  for (uint16_t k = 1; k <= 4; ++k) {
    auto c = f.b->try_claim(10, k);
    ASSERT_TRUE(c);
    c->commit();
  }
  std::vector<typename TypeParam::ReadClaim> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::move(*f.b->try_read()));
  held[2].release();
  held[1].release();
  auto b2 = TypeParam::attach(f.g.region(), f.g.bytes());
  ASSERT_TRUE(b2);
  auto r1 = (*b2)->try_read();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->kind(), 1);
  auto r4 = (*b2)->try_read();
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->kind(), 4);
  EXPECT_EQ((*b2)->try_read().error(), ReadError::Empty);
  held.clear();
}

// ---------------------------------------------------------------- scribbles

// Random words, bytes, headers and cursor values written into a live region between random
// operations; the buffer is made again whenever its reader stops. Nothing may reach outside
// the data area, every error must be one the API lists, and a stopped reader stays stopped.
template <class B>
void scribble_rounds(long rounds, unsigned seed, std::atomic<long>& progress) {
  std::mt19937_64 rng(seed);
  const std::size_t caps[] = {64, 128, 256, 1024, 4096};
  long reads = 0, claims = 0, corrupt = 0, remakes = 0, fulls = 0;
  long round = 0;
  while (round < rounds) {
    const std::size_t cap = caps[rng() % 5];
    Fixture<B> f(cap);
    if (!f.b) return;
    ++remakes;
    std::unique_ptr<B> other;  // a second object attached to the same region
    std::vector<typename B::ReadClaim> held;
    std::vector<typename B::WriteClaim> open;
    const std::size_t max = f.b->max_payload();
    int claim_corrupt = 0;
    // Per buffer, how often the peer scribbles (per 1000 operations): rarely, so that the ring
    // wraps many times between scribbles, up to often.
    const unsigned per_mille = std::array<unsigned, 4>{2, 10, 60, 250}[rng() % 4];
    for (long k = 0; k < 20000 && round < rounds; ++k, ++round) {
      progress.store(round, std::memory_order_relaxed);
      B& b = (other && (rng() & 1)) ? *other : *f.b;
      const unsigned op = rng() % 1000 < per_mille ? 100 : static_cast<unsigned>(rng() % 78);
      if (op < 24) {
        const std::size_t n = rng() % 8 == 0 ? rng() % (max + 3) : 1 + rng() % 40;
        auto c = b.try_claim(n, static_cast<uint16_t>(rng()));
        if (c) {
          ASSERT_TRUE(n >= 1 && n <= max) << n;
          ASSERT_TRUE(f.inside(c->data(), c->size())) << "claim outside the data area";
          std::memset(c->data(), static_cast<int>(rng()), c->size());
          ++claims;
          if (rng() % 4 != 0 || open.size() >= 3)
            c->commit();
          else
            open.push_back(std::move(*c));
        } else {
          const ClaimError e = c.error();
          ASSERT_EQ(e == ClaimError::ZeroLength, n == 0);
          ASSERT_EQ(e == ClaimError::TooLarge, n > max);
          ASSERT_TRUE(e == ClaimError::Full || e == ClaimError::Corrupt || n == 0 || n > max);
          if (e == ClaimError::Full) ++fulls;
          if (e == ClaimError::Corrupt) ++claim_corrupt;
        }
      } else if (op < 34) {
        if (!open.empty()) {
          const std::size_t i = rng() % open.size();
          if (rng() & 1) open[i].commit();  // else aborted as it goes
          open.erase(open.begin() + static_cast<long>(i));
        }
      } else if (op < 56) {
        const bool stopped = f.b->corruption().has_value();
        auto r = f.b->try_read();
        if (r) {
          ASSERT_FALSE(stopped);
          ASSERT_TRUE(f.inside(r->data(), r->size())) << "read outside the data area";
          ASSERT_TRUE(r->size() >= 1 && r->size() <= max);
          ++reads;
          if (held.size() < 4 && (rng() & 1)) held.push_back(std::move(*r));
        } else if (r.error() == ReadError::Corrupt) {
          const auto c = f.b->corruption();
          ASSERT_TRUE(c);
          ASSERT_GE(c->offset, kCtl);
          ASSERT_LT(c->offset, kCtl + cap);
          ASSERT_EQ(c->offset % 8, 0u);
          ASSERT_EQ(f.b->try_read().error(), ReadError::Corrupt);
        } else {
          ASSERT_EQ(r.error(), ReadError::Empty);
          ASSERT_FALSE(stopped);
        }
      } else if (op < 66) {
        if (!held.empty()) held.erase(held.begin() + static_cast<long>(rng() % held.size()));
      } else if (op < 72) {
        const std::size_t lim = 1 + rng() % 8;
        std::size_t seen = 0;
        const std::size_t got = f.b->consume(
            [&](std::span<const std::byte> s, uint16_t) {
              EXPECT_TRUE(f.inside(s.data(), s.size())) << "consume outside the data area";
              ++seen;
            },
            lim);
        ASSERT_EQ(got, seen);
        ASSERT_LE(got, lim);
        reads += static_cast<long>(got);
      } else if (op < 76) {
        (void)f.b->empty();
        (void)f.b->pending();
        (void)b.fits(1 + rng() % max);
      } else if (op < 78) {
        if (!other) {
          auto a = B::attach(f.g.region(), f.g.bytes());
          if (a)
            other = std::move(*a);
          else
            ASSERT_TRUE(a.error() == LogbufError::Corrupt || a.error() == LogbufError::NotALogbuf ||
                        a.error() == LogbufError::WrongKind ||
                        a.error() == LogbufError::RegionTooSmall);
        }
      } else {
        // A scribble.
        const unsigned kind = static_cast<unsigned>(rng() % 6);
        const std::size_t bytes = f.g.bytes();
        if (kind == 0) {  // a word anywhere, any value
          f.g.set((rng() % bytes) & ~std::size_t{7}, rng());
        } else if (kind == 1) {  // a byte anywhere
          f.g.region()[rng() % bytes] = static_cast<unsigned char>(rng());
        } else if (kind <= 3) {  // a plausible header near the reader or anywhere
          uint64_t w = (rng() % (cap + 16)) | ((rng() & 0xffff) << 32);
          if (rng() % 4 == 0) w |= kPadBit;
          if (rng() % 8 == 0) w |= kReleasedBit;
          if (rng() % 8 == 0) w = 0;
          const std::size_t off = (rng() % cap) & ~std::size_t{7};
          f.g.set(kCtl + off, w);
        } else {  // a cursor: near where it was, misaligned, or anywhere
          const std::size_t offs[3] = {f.g.tail_off(), f.g.head_cache_off(), f.g.head_off()};
          const std::size_t o = offs[rng() % 3];
          uint64_t v = f.g.get(o);
          switch (rng() % 4) {
            case 0:
              v += (static_cast<int64_t>(rng() % 64) - 32) * 8;
              break;
            case 1:
              v += 1 + rng() % 7;
              break;
            case 2:
              v -= cap * (1 + rng() % 3);
              break;
            default:
              v = rng();
          }
          f.g.set(o, v);
        }
      }
      ASSERT_TRUE(f.g.guards_intact()) << "a write outside the region, round " << round;
      if (f.b->corruption()) {
        ++corrupt;
        break;  // stopped for good: make a fresh buffer
      }
      if (claim_corrupt > 20) break;  // the cursors are beyond repair
    }
    // Release and abort what is left (this writes headers too), then check once more.
    held.clear();
    open.clear();
    ASSERT_TRUE(f.g.guards_intact());
  }
  // The mix must exercise every outcome.
  EXPECT_GT(reads, rounds / 50);
  EXPECT_GT(claims, rounds / 20);
  EXPECT_GT(corrupt, rounds / 5000);
  EXPECT_GT(fulls, rounds / 100);
  EXPECT_GT(remakes, rounds / 2000);
  std::printf("%ld rounds: %ld reads, %ld claims, %ld full, %ld stops, %ld buffers\n", rounds,
              reads, claims, fulls, corrupt, remakes);
}

constexpr long kScribbleRounds = 1'000'000;

TYPED_TEST(LogbufTrustTest, RandomScribblesBetweenOperations) {
  std::atomic<long> progress{0};
  test::Watchdog wd(30s, &progress);
  scribble_rounds<TypeParam>(kScribbleRounds, TypeParam::kMulti ? 77 : 78, progress);
}

// ---------------------------------------------------------------- byte channels

// The byte channels keep their ring on the heap; a Corrupt there (memory overwritten by a bug
// elsewhere in the process) reaches the caller as the channel's Corrupt, at once and for good,
// also through the blocking receive that would otherwise wait.
void* g_ring = nullptr;
void* remember_ring(std::size_t bytes, std::size_t align, void*) {
  g_ring = ::operator new (bytes, std::align_val_t{align}, std::nothrow);
  return g_ring;
}
void forget_ring(void* p, std::size_t, void*) { ::operator delete (p, std::align_val_t{128}); }

template <class Make>
void byte_channel_reports_corrupt(Make make) {
  RingMemory mem{remember_ring, forget_ring, nullptr};
  auto ch = make(256, mem);
  ASSERT_TRUE(ch);
  auto& [tx, rx] = *ch;
  auto* data = static_cast<unsigned char*>(g_ring) + kCtl;
  {
    auto c = tx.try_claim(8, 1);
    ASSERT_TRUE(c);
    c->commit();
  }
  auto r = rx.try_recv();
  ASSERT_TRUE(r);
  r->release();
  const uint64_t bad = 4000;  // a record far longer than the ring, at the read position
  std::memcpy(data + 16, &bad, 8);
  EXPECT_EQ(rx.try_recv().error(), RecvError::Corrupt);
  EXPECT_EQ(rx.recv_blocking().error(), RecvError::Corrupt);
  EXPECT_STREQ(to_string(RecvError::Corrupt), "corrupt");
  // A head past the writer's tail: the claim that has to read it says so.
  const uint64_t head_past = 1u << 20;
  std::memcpy(static_cast<unsigned char*>(g_ring) + 256, &head_past, 8);
  std::memcpy(static_cast<unsigned char*>(g_ring) + 136, &head_past, 8);  // MPSC's cache
  for (int i = 0; i < 64; ++i) {
    auto c = tx.try_claim(8, 1);
    if (!c) {
      EXPECT_EQ(c.error(), sluice::ClaimError::Corrupt);
      EXPECT_EQ(tx.claim_blocking(8, 1).error(), sluice::ClaimError::Corrupt);
      EXPECT_STREQ(to_string(sluice::ClaimError::Corrupt), "corrupt");
      return;
    }
    c->commit();
  }
  ADD_FAILURE() << "the claims never read the head";
}

// A stopped receiver closes the channel towards the writers: a writer already waiting for room
// (which the stopped reader will never free) and every later claim get Corrupt at once.
template <class Make>
void writer_waiting_on_a_stopped_reader_hears_corrupt(Make make) {
  RingMemory mem{remember_ring, forget_ring, nullptr};
  auto ch = make(256, mem);
  ASSERT_TRUE(ch);
  auto& [tx, rx] = *ch;
  auto* data = static_cast<unsigned char*>(g_ring) + kCtl;
  {
    auto c = tx.try_claim(8, 1);
    ASSERT_TRUE(c);
    c->commit();
  }
  while (auto c = tx.try_claim(8, 1)) c->commit();  // full
  std::atomic<int> got{-1};
  std::thread writer([&] {
    auto c = tx.claim_blocking(8, 1);  // waits for room
    got.store(c ? 0 : static_cast<int>(c.error()));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const uint64_t bad = 4000;
  std::memcpy(data, &bad, 8);  // the record at the read position breaks the format
  EXPECT_EQ(rx.try_recv().error(), RecvError::Corrupt);
  // Before the fix it waited until the Receiver went: give it 5 s, then say so and unblock it.
  for (int i = 0; i < 500 && got.load() == -1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (got.load() == -1) {
    ADD_FAILURE() << "the writer still waits on a reader that stopped";
    auto gone = std::move(rx);  // closes the channel: the writer returns Closed
  }
  writer.join();
  EXPECT_EQ(got.load(), static_cast<int>(sluice::ClaimError::Corrupt));
  EXPECT_EQ(tx.try_claim(8, 1).error(), sluice::ClaimError::Corrupt);
  EXPECT_TRUE(tx.is_closed());
}
TEST(LogbufTrust, SpscBytesWriterWaitingOnAStoppedReaderHearsCorrupt) {
  writer_waiting_on_a_stopped_reader_hears_corrupt(
      [](std::size_t c, RingMemory m) { return spsc_bytes::channel(c, m); });
}
TEST(LogbufTrust, MpscBytesWriterWaitingOnAStoppedReaderHearsCorrupt) {
  writer_waiting_on_a_stopped_reader_hears_corrupt(
      [](std::size_t c, RingMemory m) { return mpsc_bytes::channel(c, m); });
}

TEST(LogbufTrust, SpscBytesChannelReportsCorrupt) {
  byte_channel_reports_corrupt(
      [](std::size_t c, RingMemory m) { return spsc_bytes::channel(c, m); });
}
TEST(LogbufTrust, MpscBytesChannelReportsCorrupt) {
  byte_channel_reports_corrupt(
      [](std::size_t c, RingMemory m) { return mpsc_bytes::channel(c, m); });
}

// ---------------------------------------------------------------- shared memory

// A peer that shrinks the file under a mapping makes every access past the new end raise
// SIGBUS. create() seals the size, so the peer's ftruncate fails and the reader reads on.
TEST(LogbufTrust, ATruncatingPeerIsRefused) {
  const std::size_t cap = 64 * 1024;
  auto shm = ShmRegion::create(SpscLogbuf::region_bytes(cap));
  ASSERT_TRUE(shm) << shm.error().step << ": " << shm.error().errno_value;
  auto b = std::move(*SpscLogbuf::create_in(shm->data(), shm->size(), cap));
  for (int i = 0; i < 100; ++i) {
    auto c = b->try_claim(500, static_cast<uint16_t>(i));
    ASSERT_TRUE(c);
    std::memset(c->data(), i, 500);
    c->commit();
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the peer: tries to shrink, grow, and unseal (it cannot) the file
    int bad = 0;
    if (::ftruncate(shm->fd(), 0) == 0 || errno != EPERM) bad |= 1;
    if (::ftruncate(shm->fd(), 4096) == 0 || errno != EPERM) bad |= 2;
    if (::ftruncate(shm->fd(), static_cast<off_t>(shm->size() * 2)) == 0 || errno != EPERM)
      bad |= 4;
    if (::fcntl(shm->fd(), F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0) bad |= 8;
    ::_exit(bad);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "bits: 1 shrink, 2 shrink, 4 grow, 8 a new seal";
  // The reader reads every record (the last ones lie far past 4 KiB).
  for (int i = 0; i < 100; ++i) {
    auto r = b->try_read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind(), i);
    EXPECT_EQ(static_cast<int>(r->data()[499]), i);
  }
  // And the creator cannot shrink it either.
  EXPECT_NE(::ftruncate(shm->fd(), 0), 0);
  EXPECT_EQ(errno, EPERM);
}

// map_fd maps only what cannot be shrunk under it.
TEST(LogbufTrust, MapFdRefusesWhatCouldFault) {
  const std::size_t bytes = SpscLogbuf::region_bytes(4096);
  // Unsealed: the peer could shrink it.
  int fd = ::memfd_create("sluice-test", 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(bytes)), 0);
  auto r = ShmRegion::map_fd(fd, bytes);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().errno_value, 0);  // EINVAL (cannot seal) or EPERM (not sealed)
  ::close(fd);
  fd = ::memfd_create("sluice-test", MFD_ALLOW_SEALING);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(bytes)), 0);
  r = ShmRegion::map_fd(fd, bytes);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value, EPERM);
  // Sealed, but smaller than the mapping asked for.
  ASSERT_EQ(::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
  r = ShmRegion::map_fd(fd, bytes + 4096);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value, EINVAL);
  // Sealed and large enough.
  r = ShmRegion::map_fd(fd, bytes);
  ASSERT_TRUE(r) << r.error().step;  // owns fd now
  EXPECT_EQ(ShmRegion::create(0).error().errno_value, EINVAL);
  // A regular file carries no seals.
  std::FILE* tmp = std::tmpfile();
  ASSERT_NE(tmp, nullptr);
  ASSERT_EQ(::ftruncate(::fileno(tmp), static_cast<off_t>(bytes)), 0);
  EXPECT_FALSE(ShmRegion::map_fd(::fileno(tmp), bytes));
  std::fclose(tmp);
}

}  // namespace
