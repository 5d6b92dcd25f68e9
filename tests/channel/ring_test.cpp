// Raw typed rings (SpscRing, MpscRing) from plain threads: errors at construction, FIFO and
// wrap-around, batch forms, move-only values and exactly-once destruction, a random model
// test, and cross-thread stress with per-producer sequence numbers under a watchdog.
#include <gtest/gtest.h>

#include <sluice/channel/mpsc_ring.hpp>
#include <sluice/channel/spsc_ring.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "../common/tracked.hpp"
#include "../common/watchdog.hpp"

using namespace sluice;
using namespace std::chrono_literals;

namespace {

using test::Tracked;

template <class R>
class RingTest : public ::testing::Test {};
using RingKinds = ::testing::Types<SpscRing<uint64_t>, MpscRing<uint64_t>>;
TYPED_TEST_SUITE(RingTest, RingKinds);

void* failing_alloc(std::size_t, std::size_t, void*) { return nullptr; }

TYPED_TEST(RingTest, ConstructionErrorsAreValues) {
  EXPECT_EQ(TypeParam::make(0).error(), ChannelError::ZeroCapacity);
  EXPECT_EQ(TypeParam::make((std::size_t{1} << 31) + 1).error(), ChannelError::CapacityTooLarge);
  RingMemory nomem{failing_alloc, nullptr, nullptr};
  EXPECT_EQ(TypeParam::make(8, nomem).error(), ChannelError::OutOfMemory);
}

TYPED_TEST(RingTest, CapacityRoundsUpAndFullIsReported) {
  auto r = std::move(*TypeParam::make(3));
  EXPECT_EQ(r->capacity(), 4u);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_TRUE(r->try_push(i));
  EXPECT_FALSE(r->try_push(uint64_t{99}));
  EXPECT_EQ(r->size(), 4u);
  uint64_t v = 0;
  EXPECT_TRUE(r->try_pop(v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(r->try_push(uint64_t{4}));
  for (uint64_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(r->try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(r->try_pop(v));
  EXPECT_TRUE(r->empty());
  EXPECT_FALSE(r->try_pop().has_value());
}

TYPED_TEST(RingTest, CapacityOneWrapsManyLaps) {
  auto r = std::move(*TypeParam::make(1));
  for (uint64_t i = 0; i < 10000; ++i) {
    ASSERT_TRUE(r->try_push(i));
    ASSERT_FALSE(r->try_push(i));
    auto v = r->try_pop();
    ASSERT_TRUE(v.has_value());
    ASSERT_EQ(*v, i);
  }
}

TYPED_TEST(RingTest, BatchFormsArePartialAtTheBoundary) {
  auto r = std::move(*TypeParam::make(8));
  std::vector<uint64_t> in{1, 2, 3, 4, 5, 6};
  EXPECT_EQ(r->try_push_n(in.data(), in.size()), 6u);
  EXPECT_EQ(r->try_push_n(in.data(), in.size()), 2u);  // only 2 slots left
  EXPECT_EQ(r->try_push_n(in.data(), 1), 0u);
  uint64_t out[16];
  EXPECT_EQ(r->try_pop_n(out, 5), 5u);
  EXPECT_EQ(out[0], 1u);
  EXPECT_EQ(out[4], 5u);
  EXPECT_EQ(r->try_pop_n(out, 16), 3u);
  EXPECT_EQ(out[0], 6u);
  EXPECT_EQ(out[1], 1u);
  EXPECT_EQ(out[2], 2u);
  EXPECT_EQ(r->try_pop_n(out, 16), 0u);
  uint64_t seen = 0;
  EXPECT_EQ(r->try_push_n(in.data(), 3), 3u);
  EXPECT_EQ(r->consume([&](uint64_t& v) { seen = seen * 10 + v; }, 2), 2u);
  EXPECT_EQ(seen, 12u);
}

template <template <class> class Ring>
void move_only_values_destroyed_once() {
  Tracked::live = 0;
  {
    auto r = std::move(*Ring<Tracked>::make(4));
    for (long i = 0; i < 4; ++i) EXPECT_TRUE(r->try_emplace(i));
    Tracked extra(7);
    EXPECT_FALSE(r->try_push(std::move(extra)));
    ASSERT_TRUE(extra.owner);  // a failed push does not move from the value
    auto v = r->try_pop();
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->v, 0);
    EXPECT_EQ(*v->owner, 0);
    Tracked out(0);
    EXPECT_TRUE(r->try_pop(out));
    EXPECT_EQ(out.v, 1);
    EXPECT_EQ(Tracked::live, 5);  // extra, v, out, and 2 still in the ring
  }
  EXPECT_EQ(Tracked::live, 0);  // the 2 left in the ring died with it, exactly once
}

TEST(SpscRing, MoveOnlyValuesDestroyedExactlyOnce) { move_only_values_destroyed_once<SpscRing>(); }
TEST(MpscRing, MoveOnlyValuesDestroyedExactlyOnce) { move_only_values_destroyed_once<MpscRing>(); }

TYPED_TEST(RingTest, RandomOperationsMatchADeque) {
  std::mt19937_64 rng(42);
  long steps = 0;
  for (std::size_t cap : {1u, 2u, 3u, 8u, 64u}) {
    auto r = std::move(*TypeParam::make(cap));
    const std::size_t real = r->capacity();
    std::deque<uint64_t> model;
    uint64_t next = 0;
    for (int i = 0; i < 250000; ++i, ++steps) {
      switch (rng() % 4) {
        case 0: {
          bool ok = r->try_push(next);
          ASSERT_EQ(ok, model.size() < real);
          if (ok) model.push_back(next);
          ++next;
          break;
        }
        case 1: {
          uint64_t v = 0;
          bool ok = r->try_pop(v);
          ASSERT_EQ(ok, !model.empty());
          if (ok) {
            ASSERT_EQ(v, model.front());
            model.pop_front();
          }
          break;
        }
        case 2: {
          std::size_t n = rng() % (real + 2);
          std::vector<uint64_t> in(n);
          for (auto& x : in) x = next++;
          std::size_t k = r->try_push_n(in.data(), n);
          ASSERT_EQ(k, std::min(n, real - model.size()));
          for (std::size_t j = 0; j < k; ++j) model.push_back(in[j]);
          break;
        }
        default: {
          std::size_t n = rng() % (real + 2);
          std::vector<uint64_t> out(n + 1);
          std::size_t k = r->try_pop_n(out.data(), n);
          ASSERT_EQ(k, std::min(n, model.size()));
          for (std::size_t j = 0; j < k; ++j) {
            ASSERT_EQ(out[j], model.front());
            model.pop_front();
          }
        }
      }
      ASSERT_EQ(r->size(), model.size());
      ASSERT_EQ(r->empty(), model.empty());
    }
  }
  EXPECT_GE(steps, 1000000);
}

// Random short pauses so the two sides drift in and out of the full/empty boundaries.
inline void maybe_pause(std::minstd_rand& rng) {
  unsigned x = rng() % 1024;
  if (x == 0) {
    std::this_thread::yield();
  } else if (x < 16) {
    for (unsigned i = 0; i < x * 8; ++i) asm volatile("" ::: "memory");
  }
}

// Each message carries (producer << 40) | sequence. The consumer checks per-producer order.
template <class Ring>
void stress(std::size_t cap, int producers, long per_producer, bool batches) {
  auto r = std::move(*Ring::make(cap));
  std::atomic<long> progress{0};
  test::Watchdog wd(30s, &progress);
  std::vector<std::thread> ths;
  for (int p = 0; p < producers; ++p) {
    ths.emplace_back([&, p] {
      std::minstd_rand rng(static_cast<unsigned>(p + 1));
      test::Backoff backoff;
      long i = 0;
      while (i < per_producer) {
        long before = i;
        if (batches && (rng() & 1)) {
          uint64_t buf[4];
          long n = std::min<long>(1 + static_cast<long>(rng() % 4), per_producer - i);
          for (long j = 0; j < n; ++j) buf[j] = (uint64_t(p) << 40) | uint64_t(i + j);
          i += static_cast<long>(r->try_push_n(buf, static_cast<std::size_t>(n)));
        } else if (r->try_push((uint64_t(p) << 40) | uint64_t(i))) {
          ++i;
        }
        if (i == before)
          backoff();
        else
          backoff.reset();
        maybe_pause(rng);
      }
    });
  }
  std::vector<long> next(producers, 0);
  const long total = per_producer * producers;
  long got = 0;
  std::minstd_rand rng(99);
  bool ok = true;
  auto check = [&](uint64_t v) {
    int p = static_cast<int>(v >> 40);
    long s = static_cast<long>(v & ((uint64_t{1} << 40) - 1));
    if (p >= producers || s != next[p])
      ok = false;
    else
      ++next[p];
    ++got;
  };
  test::Backoff backoff;
  while (got < total && ok) {
    long before = got;
    if (batches && (rng() & 1)) {
      r->consume([&](uint64_t& v) { check(v); }, 1 + rng() % 8);
    } else {
      uint64_t v;
      if (r->try_pop(v)) check(v);
    }
    if (got == before)
      backoff();
    else
      backoff.reset();
    progress.store(got, std::memory_order_relaxed);
    maybe_pause(rng);
  }
  for (auto& t : ths) t.join();
  ASSERT_TRUE(ok) << "lost, duplicated or reordered message at " << got;
  for (int p = 0; p < producers; ++p) EXPECT_EQ(next[p], per_producer);
  EXPECT_TRUE(r->empty());
}

// 10^7 messages per test in Release; under sanitizers 3 x 10^6 per test, 1.8 x 10^7 over the six.
const long kMessages = test::kSanitized ? 3'000'000 : 10'000'000;

TEST(SpscRing, StressCapacity1) { stress<SpscRing<uint64_t>>(1, 1, kMessages, false); }
TEST(SpscRing, StressCapacity2Batches) { stress<SpscRing<uint64_t>>(2, 1, kMessages, true); }
TEST(SpscRing, StressCapacity64Batches) { stress<SpscRing<uint64_t>>(64, 1, kMessages, true); }
TEST(MpscRing, StressCapacity1ThreeProducers) {
  stress<MpscRing<uint64_t>>(1, 3, kMessages / 3, false);
}
TEST(MpscRing, StressCapacity2ThreeProducersBatches) {
  stress<MpscRing<uint64_t>>(2, 3, kMessages / 3, true);
}
TEST(MpscRing, StressCapacity64FourProducersBatches) {
  stress<MpscRing<uint64_t>>(64, 4, kMessages / 4, true);
}

// Values that own memory cross threads intact (ASan/TSan see the hand-off of the heap block).
TEST(SpscRing, MoveOnlyAcrossThreads) {
  auto r = std::move(*SpscRing<std::unique_ptr<long>>::make(2));
  constexpr long kN = 200000;
  std::thread prod([&] {
    test::Backoff backoff;
    for (long i = 0; i < kN;) {
      auto p = std::make_unique<long>(i);
      while (!r->try_push(std::move(p))) backoff();
      backoff.reset();
      ++i;
    }
  });
  test::Backoff backoff;
  for (long i = 0; i < kN;) {
    if (auto v = r->try_pop()) {
      ASSERT_EQ(**v, i);
      ++i;
      backoff.reset();
    } else {
      backoff();
    }
  }
  prod.join();
}

}  // namespace
