// Byte rings, one thread: every error value, the record-size boundary at every write offset,
// claim-order delivery with open and aborted claims, out-of-order read release, and a
// randomized comparison against a model of the format (>= 10^6 steps per ring kind).
#include <gtest/gtest.h>

#include <sluice/logbuf/mpsc_logbuf.hpp>
#include <sluice/logbuf/spsc_logbuf.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <vector>

using namespace sluice;
using namespace sluice::logbuf;

namespace {

template <class B>
class LogbufTest : public ::testing::Test {};
using Kinds = ::testing::Types<SpscLogbuf, MpscLogbuf>;
TYPED_TEST_SUITE(LogbufTest, Kinds);

uint8_t pattern(uint64_t id, std::size_t i) {
  return static_cast<uint8_t>((id * 0x9E3779B97F4A7C15ull >> 56) + i * 131u);
}
void fill(std::span<std::byte> s, uint64_t id) {
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = std::byte{pattern(id, i)};
}
bool check(std::span<const std::byte> s, uint64_t id) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] != std::byte{pattern(id, i)}) return false;
  return true;
}

// Writes and reads one record of `n` bytes; returns the position after it.
template <class B>
uint64_t roundtrip(B& b, std::size_t n, uint64_t id) {
  auto c = b.try_claim(n, 7);
  EXPECT_TRUE(c) << "n=" << n;
  if (!c) return 0;
  fill(c->span(), id);
  uint64_t end = c->position() + logbuf::detail::record_bytes(n);
  c->commit();
  auto r = b.try_read();
  EXPECT_TRUE(r);
  if (!r) return 0;
  EXPECT_EQ(r->size(), n);
  EXPECT_EQ(r->kind(), 7);
  EXPECT_TRUE(check(r->span(), id));
  return end;
}

TYPED_TEST(LogbufTest, ConstructionErrorsAreValues) {
  EXPECT_EQ(TypeParam::make(0).error(), LogbufError::BadCapacity);
  EXPECT_EQ(TypeParam::make(kMaxCapacity + 1).error(), LogbufError::BadCapacity);
  EXPECT_EQ((*TypeParam::make(1))->capacity(), kMinCapacity);
  EXPECT_EQ((*TypeParam::make(100))->capacity(), 128u);
  EXPECT_EQ((*TypeParam::make(100))->max_payload(), 56u);

  RingMemory failing{[](std::size_t, std::size_t, void*) -> void* { return nullptr; }, nullptr,
                     nullptr};
  EXPECT_EQ(TypeParam::make(64, failing).error(), LogbufError::OutOfMemory);

  const std::size_t bytes = TypeParam::region_bytes(256);
  auto* mem = static_cast<unsigned char*>(::operator new (bytes + 256, std::align_val_t{128}));
  EXPECT_EQ(TypeParam::create_in(mem + 8, bytes, 256).error(), LogbufError::Misaligned);
  EXPECT_EQ(TypeParam::create_in(mem, bytes - 1, 256).error(), LogbufError::RegionTooSmall);
  EXPECT_EQ(TypeParam::create_in(mem, bytes, 0).error(), LogbufError::BadCapacity);
  std::memset(mem, 0, bytes);
  EXPECT_EQ(TypeParam::attach(mem, bytes).error(), LogbufError::NotALogbuf);
  EXPECT_EQ(TypeParam::attach(mem + 8, bytes).error(), LogbufError::Misaligned);
  EXPECT_EQ(TypeParam::attach(mem, 16).error(), LogbufError::RegionTooSmall);
  {
    auto a = TypeParam::create_in(mem, bytes, 256);
    ASSERT_TRUE(a);
    EXPECT_EQ(TypeParam::attach(mem, bytes - 1).error(), LogbufError::RegionTooSmall);
    using Other = logbuf::detail::Logbuf<!TypeParam::kMulti>;
    EXPECT_EQ(Other::attach(mem, bytes).error(), LogbufError::WrongKind);
    // A second object attached to the same region sees what the first wrote.
    auto b = TypeParam::attach(mem, bytes);
    ASSERT_TRUE(b);
    auto c = (*a)->try_claim(5, 3);
    ASSERT_TRUE(c);
    std::memcpy(c->data(), "hello", 5);
    c->commit();
    auto r = (*b)->try_read();
    ASSERT_TRUE(r);
    EXPECT_EQ(std::memcmp(r->data(), "hello", 5), 0);
    EXPECT_EQ(r->kind(), 3);
  }
  ::operator delete (mem, std::align_val_t{128});
}

TYPED_TEST(LogbufTest, ClaimErrorsLoseNothing) {
  auto b = std::move(*TypeParam::make(256));
  const std::size_t max = b->max_payload();
  ASSERT_EQ(max, 120u);
  auto c = b->try_claim(10, 1);
  ASSERT_TRUE(c);
  fill(c->span(), 1);
  c->commit();
  EXPECT_EQ(b->try_claim(0).error(), ClaimError::ZeroLength);
  EXPECT_EQ(b->try_claim(max + 1).error(), ClaimError::TooLarge);
  EXPECT_EQ(b->try_claim(SIZE_MAX).error(), ClaimError::TooLarge);
  // Fill to Full; then the record committed first is still intact and first.
  std::vector<typename TypeParam::WriteClaim> held;
  for (;;) {
    auto f = b->try_claim(16);
    if (!f) {
      EXPECT_EQ(f.error(), ClaimError::Full);
      break;
    }
    held.push_back(std::move(*f));
  }
  EXPECT_FALSE(held.empty());
  EXPECT_EQ(to_string(ClaimError::Full), std::string("full"));
  auto r = b->try_read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 10u);
  EXPECT_EQ(r->kind(), 1);
  EXPECT_TRUE(check(r->span(), 1));
  // The open claims block the reader; nothing else is readable yet.
  EXPECT_EQ(b->try_read().error(), ReadError::Empty);
}

// A record of max_payload bytes is accepted on an empty buffer at every 8-byte write offset,
// one byte more is refused up front, and every accepted record reads back intact.
TYPED_TEST(LogbufTest, LargestRecordFitsAtEveryOffset) {
  for (std::size_t cap : {64u, 128u, 256u, 1024u}) {
    for (std::size_t off = 0; off < cap; off += 8) {
      // A record is at least 16 bytes and never wraps, so no record can end at offset 8:
      // every other 8-byte offset is a possible write position.
      if (off == 8) continue;
      auto b = std::move(*TypeParam::make(cap));
      const std::size_t max = b->max_payload();
      ASSERT_EQ(max, cap / 2 - 8);
      // Walk the empty buffer's position to `off` with records that fit before the end.
      const uint64_t max_rec = max + 8;
      uint64_t pos = 0;
      uint64_t id = 0;
      while (pos % cap != off) {
        const uint64_t o = pos % cap;
        const uint64_t goal = off > o && off - o >= 16 ? off : cap;
        const uint64_t d = goal - o;
        const uint64_t rec = d <= max_rec ? d : std::min(max_rec, d - 16);
        pos = roundtrip(*b, rec - 8, ++id);
        ASSERT_NE(pos, 0u);
        ASSERT_LT(id, 100u);
      }
      ASSERT_TRUE(b->empty());
      EXPECT_EQ(b->try_claim(max + 1).error(), ClaimError::TooLarge);
      auto c = b->try_claim(max, 9);
      ASSERT_TRUE(c) << "cap " << cap << " offset " << off << ": " << to_string(c.error());
      fill(c->span(), 1000 + off);
      c->commit();
      auto r = b->try_read();
      ASSERT_TRUE(r) << "cap " << cap << " offset " << off;
      EXPECT_EQ(r->size(), max);
      EXPECT_TRUE(check(r->span(), 1000 + off));
      r->release();
      EXPECT_TRUE(b->empty());
      // And once more after it, from wherever that left the position.
      EXPECT_NE(roundtrip(*b, max, 5000 + off), 0u);
    }
  }
}

TYPED_TEST(LogbufTest, RecordsAppearInClaimOrderAndOpenClaimsBlock) {
  auto b = std::move(*TypeParam::make(1024));
  auto a = std::move(*b->try_claim(3, 1));
  auto c = std::move(*b->try_claim(4, 2));
  auto d = std::move(*b->try_claim(5, 3));
  c.commit();
  EXPECT_EQ(b->try_read().error(), ReadError::Empty);  // `a` is still open
  d.abort();
  EXPECT_EQ(b->try_read().error(), ReadError::Empty);
  a.commit();
  auto r1 = b->try_read();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->kind(), 1);
  auto r2 = b->try_read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->kind(), 2);
  EXPECT_EQ(b->try_read().error(), ReadError::Empty);  // the aborted one was skipped
  {
    auto dropped = b->try_claim(8, 4);  // destroyed uncommitted: aborted
    ASSERT_TRUE(dropped);
  }
  auto e = std::move(*b->try_claim(6, 5));
  e.commit();
  auto r3 = b->try_read();
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->kind(), 5);
  EXPECT_EQ(r3->size(), 6u);
}

// Read claims released out of order free nothing until the oldest goes; then all of it.
TYPED_TEST(LogbufTest, OutOfOrderReleaseFreesFromTheOldest) {
  auto b = std::move(*TypeParam::make(128));
  for (int i = 0; i < 2; ++i) {  // two 56-byte records: offsets 0 and 56, 16 bytes left
    auto c = b->try_claim(48, static_cast<uint16_t>(i));
    ASSERT_TRUE(c);
    c->commit();
  }
  // 24 bytes do not fit in the 16 at the end: padding + record need 40.
  EXPECT_EQ(b->try_claim(16).error(), ClaimError::Full);
  auto r0 = b->try_read();
  auto r1 = b->try_read();
  ASSERT_TRUE(r0 && r1);
  r1->release();
  EXPECT_EQ(b->try_claim(16).error(), ClaimError::Full);  // r0 still holds the oldest space
  r0->release();
  auto c = b->try_claim(16);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->position(), 128u);  // after the padding, at offset 0
}

TYPED_TEST(LogbufTest, ConsumeDeliversInOrderAndFreesAtOnce) {
  auto b = std::move(*TypeParam::make(4096));
  for (uint64_t i = 0; i < 40; ++i) {
    auto c = std::move(*b->try_claim(1 + i % 50, static_cast<uint16_t>(i)));
    fill(c.span(), i);
    if (i % 7 == 3)
      c.abort();
    else
      c.commit();
  }
  uint64_t next = 0;
  std::size_t got = 0;
  auto f = [&](std::span<const std::byte> s, uint16_t kind) {
    while (next % 7 == 3) ++next;
    EXPECT_EQ(kind, next);
    EXPECT_EQ(s.size(), 1 + next % 50);
    EXPECT_TRUE(check(s, next));
    ++next;
    ++got;
  };
  EXPECT_EQ(b->consume(f, 10), 10u);
  std::size_t rest = b->consume(f, 1000);
  EXPECT_EQ(got, 10 + rest);
  EXPECT_EQ(got, 40u - 6u);
  EXPECT_TRUE(b->empty());
  EXPECT_EQ(b->consume(f, 10), 0u);
}

// ---------------------------------------------------------------- model

// The model is the specification: records in claim order with their positions, the
// reader's cursor, what is freed, and the exact space rule (padding at the wrap, plus the
// SPSC reserve of the next header word). Every claim must succeed exactly when the rule says.
template <class B>
void run_model(std::size_t cap, long steps, unsigned seed) {
  auto b = std::move(*B::make(cap));
  const std::size_t max = b->max_payload();
  const uint64_t reserve = kHeaderBytes;  // one header word past the newest claim stays free
  enum class St { Open, Committed, Aborted, Pad };
  struct Rec {
    uint64_t pos, bytes;
    uint64_t id;
    uint32_t len;
    uint16_t kind;
    St st;
    bool passed = false;  // the reader went past it
    bool released = false;
  };
  std::deque<Rec> recs;  // unfreed, in position order
  uint64_t tail = 0, head = 0, next_id = 0;
  std::size_t read_idx = 0;  // index in recs of the next record the reader looks at
  struct W {
    uint64_t id;
    typename B::WriteClaim c;
  };
  struct R {
    uint64_t id;
    typename B::ReadClaim c;
  };
  std::vector<W> writes;
  std::vector<R> reads;
  std::mt19937_64 rng(seed);

  auto find = [&](uint64_t id) -> Rec& {
    for (auto& r : recs)
      if (r.id == id && r.st != St::Pad) return r;
    ADD_FAILURE() << "no record " << id;
    return recs.front();
  };
  auto free_prefix = [&] {
    while (!recs.empty()) {
      Rec& f = recs.front();
      bool freed = f.passed && (f.released || f.st == St::Aborted || f.st == St::Pad);
      if (!freed) break;
      recs.pop_front();
      --read_idx;
    }
    head = recs.empty() ? tail : recs.front().pos;
  };
  // The reader: passes padding and aborted records, stops at an open one. expect_next does
  // what try_read does to the cursor; peek only looks.
  auto expect_next = [&]() -> Rec* {
    while (read_idx < recs.size()) {
      Rec& r = recs[read_idx];
      if (r.st == St::Open) return nullptr;
      if (r.st == St::Committed) return &r;
      r.passed = true;
      ++read_idx;
    }
    return nullptr;
  };
  auto peek = [&]() -> const Rec* {
    for (std::size_t i = read_idx; i < recs.size(); ++i) {
      if (recs[i].st == St::Open) return nullptr;
      if (recs[i].st == St::Committed) return &recs[i];
    }
    return nullptr;
  };
  auto pick_size = [&]() -> std::size_t {
    switch (rng() % 8) {
      case 0:
        return max;
      case 1:
        return 1 + rng() % max;
      case 2:
        return rng() % 64 == 0 ? 0 : max + 1 + rng() % 3;
      default:
        return 1 + rng() % 40;
    }
  };

  long claimed = 0, full = 0, delivered = 0;
  for (long step = 0; step < steps; ++step) {
    unsigned op = static_cast<unsigned>(rng() % 100);
    if (op < 30) {  // claim
      if (writes.size() >= 4) continue;
      std::size_t n = pick_size();
      uint16_t kind = static_cast<uint16_t>(rng());
      auto c = b->try_claim(n, kind);
      if (n == 0) {
        ASSERT_EQ(c.error(), ClaimError::ZeroLength);
        continue;
      }
      if (n > max) {
        ASSERT_EQ(c.error(), ClaimError::TooLarge);
        continue;
      }
      const uint64_t rec = logbuf::detail::record_bytes(n);
      const uint64_t contiguous = cap - tail % cap;
      const uint64_t pad = rec <= contiguous ? 0 : contiguous;
      const bool fits = tail + pad + rec + reserve - head <= cap;
      ASSERT_EQ(static_cast<bool>(c), fits)
          << "step " << step << " n " << n << " tail " << tail << " head " << head;
      if (!c) {
        ASSERT_EQ(c.error(), ClaimError::Full);
        ++full;
        continue;
      }
      ++claimed;
      if (pad) recs.push_back(Rec{tail, pad, UINT64_MAX, 0, 0, St::Pad});
      ASSERT_EQ(c->position(), tail + pad);
      ASSERT_EQ(c->size(), n);
      uint64_t id = next_id++;
      recs.push_back(Rec{tail + pad, rec, id, static_cast<uint32_t>(n), kind, St::Open});
      tail += pad + rec;
      fill(c->span(), id);
      writes.push_back(W{id, std::move(*c)});
    } else if (op < 50) {  // commit
      if (writes.empty()) continue;
      std::size_t i = rng() % writes.size();
      writes[i].c.commit();
      find(writes[i].id).st = St::Committed;
      writes.erase(writes.begin() + static_cast<long>(i));
    } else if (op < 55) {  // abort (explicitly or by destruction)
      if (writes.empty()) continue;
      std::size_t i = rng() % writes.size();
      if (rng() & 1) writes[i].c.abort();
      find(writes[i].id).st = St::Aborted;
      writes.erase(writes.begin() + static_cast<long>(i));
    } else if (op < 78) {  // read
      if (reads.size() >= 4) continue;
      Rec* want = expect_next();
      auto r = b->try_read();
      free_prefix();  // padding passed by the reader is freed as it passes
      if (want == nullptr) {
        ASSERT_FALSE(r) << "step " << step;
        ASSERT_EQ(r.error(), ReadError::Empty);
        continue;
      }
      ASSERT_TRUE(r) << "step " << step;
      want = expect_next();
      ASSERT_NE(want, nullptr);
      ASSERT_EQ(r->position(), want->pos);
      ASSERT_EQ(r->size(), want->len);
      ASSERT_EQ(r->kind(), want->kind);
      ASSERT_TRUE(check(r->span(), want->id)) << "step " << step;
      want->passed = true;
      ++read_idx;
      ++delivered;
      reads.push_back(R{want->id, std::move(*r)});
    } else if (op < 95) {  // release a read claim, any of them
      if (reads.empty()) continue;
      std::size_t i = rng() % reads.size();
      if (rng() & 1) reads[i].c.release();
      find(reads[i].id).released = true;
      reads.erase(reads.begin() + static_cast<long>(i));
      free_prefix();
    } else {  // consume a few
      std::size_t lim = 1 + rng() % 4;
      std::size_t got = b->consume(
          [&](std::span<const std::byte> s, uint16_t kind) {
            Rec* want = expect_next();
            ASSERT_NE(want, nullptr);
            EXPECT_EQ(s.size(), want->len);
            EXPECT_EQ(kind, want->kind);
            EXPECT_TRUE(check(s, want->id));
            want->passed = want->released = true;
            ++read_idx;
            ++delivered;
          },
          lim);
      (void)got;
      if (got < lim) expect_next();  // it also passed any padding before stopping
      free_prefix();
    }
    ASSERT_EQ(b->empty(), peek() == nullptr) << "step " << step;
  }
  // The mix must really exercise every outcome, not just one of them.
  EXPECT_GT(claimed, steps / 20);
  EXPECT_GT(full, steps / 1000);
  EXPECT_GT(delivered, steps / 40);
}

TYPED_TEST(LogbufTest, RandomOperationsMatchTheModel) {
  long total = 0;
  unsigned seed = 1;
  for (std::size_t cap : {64u, 128u, 512u, 4096u}) {
    const long steps = 300'000;
    run_model<TypeParam>(cap, steps, seed++);
    if (::testing::Test::HasFatalFailure()) return;
    total += steps;
  }
  EXPECT_GE(total, 1'000'000);
}

}  // namespace
