// MpscLanes: errors at construction and when the lanes run out, per-producer FIFO, lane
// reuse (values of a retired producer still delivered, before its successor's), fairness
// between lanes, move-only values destroyed exactly once, and a cross-thread stress with
// per-producer sequence numbers, producers that come and go, and a watchdog.
#include <gtest/gtest.h>

#include <sluice/channel/mpsc_lanes.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "../common/tracked.hpp"
#include "../common/watchdog.hpp"

using namespace sluice;
using namespace std::chrono_literals;

using test::Tracked;

TEST(Lanes, ConstructionErrors) {
  EXPECT_EQ(MpscLanes<int>::make(0).error(), ChannelError::ZeroCapacity);
  EXPECT_EQ(MpscLanes<int>::make(8, 0).error(), ChannelError::ZeroCapacity);
  EXPECT_EQ(MpscLanes<int>::make(std::size_t{1} << 40).error(), ChannelError::CapacityTooLarge);
  EXPECT_EQ(MpscLanes<int>::make(8, MpscLanes<int>::kMaxProducers + 1).error(),
            ChannelError::CapacityTooLarge);
  auto r = MpscLanes<int>::make(5, 3);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->lane_capacity(), 8u);
  EXPECT_EQ((*r)->max_producers(), 3u);
  EXPECT_STREQ(to_string(ChannelError::TooManyProducers), "too many producers");
}

void* failing_alloc(std::size_t, std::size_t, void*) { return nullptr; }

TEST(Lanes, LaneAllocationFailureIsAValueAndLeavesTheLaneFree) {
  RingMemory nomem{failing_alloc, nullptr, nullptr};
  auto r = std::move(*MpscLanes<int>::make(8, 1, nomem));  // lanes are allocated lazily
  for (int i = 0; i < 2; ++i) {  // the failed lane went back to unused: same answer again
    auto p = r->producer();
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error(), ChannelError::OutOfMemory);
  }
  int v;
  EXPECT_FALSE(r->try_pop(v));
  EXPECT_TRUE(r->empty());
}

TEST(Lanes, PerProducerFifoAndLaneCapacity) {
  auto r = std::move(*MpscLanes<int>::make(4, 4));
  EXPECT_TRUE(r->empty());
  int x;
  EXPECT_FALSE(r->try_pop(x));
  auto a = std::move(*r->producer());
  auto b = std::move(*r->producer());
  EXPECT_NE(a.lane(), b.lane());
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(a.try_push(100 + i));
    EXPECT_TRUE(b.try_push(200 + i));
  }
  EXPECT_FALSE(a.try_push(999));  // a's lane is full; b's is separate
  EXPECT_FALSE(b.try_push(999));
  std::vector<int> from_a, from_b;
  while (auto v = r->try_pop()) (*v < 200 ? from_a : from_b).push_back(*v);
  EXPECT_EQ(from_a, (std::vector<int>{100, 101, 102, 103}));
  EXPECT_EQ(from_b, (std::vector<int>{200, 201, 202, 203}));
  EXPECT_TRUE(r->empty());
}

TEST(Lanes, TooManyProducersThenReuseOfARetiredLane) {
  auto r = std::move(*MpscLanes<int>::make(8, 2));
  auto a = std::move(*r->producer());
  auto b = std::move(*r->producer());
  auto c = r->producer();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), ChannelError::TooManyProducers);
  EXPECT_TRUE(a.try_push(1));
  EXPECT_TRUE(a.try_push(2));
  std::size_t lane = a.lane();
  a = {};  // retired with two values still queued
  auto d = r->producer();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->lane(), lane);  // takes the retired lane over
  EXPECT_TRUE(d->try_push(3));
  std::vector<int> got;
  int v;
  while (r->try_pop(v)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));  // the retired producer's values come first
}

TEST(Lanes, ABusyLaneDoesNotStarveTheOthers) {
  auto r = std::move(*MpscLanes<int>::make(256, 2));
  auto a = std::move(*r->producer());
  auto b = std::move(*r->producer());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(a.try_push(1));
    ASSERT_TRUE(b.try_push(2));
  }
  int from_b = 0;
  int v;
  for (int i = 0; i < 2 * static_cast<int>(MpscLanes<int>::kBurst); ++i) {
    ASSERT_TRUE(r->try_pop(v));
    from_b += v == 2;
  }
  EXPECT_EQ(from_b, static_cast<int>(MpscLanes<int>::kBurst));  // strict turns of kBurst
}

TEST(Lanes, BatchPopAcrossLanes) {
  auto r = std::move(*MpscLanes<int>::make(16, 3));
  auto a = std::move(*r->producer());
  auto b = std::move(*r->producer());
  int in[5] = {1, 2, 3, 4, 5};
  EXPECT_EQ(a.try_push_n(in, 5), 5u);
  int in2[3] = {11, 12, 13};
  EXPECT_EQ(b.try_push_n(in2, 3), 3u);
  int out[16];
  EXPECT_EQ(r->try_pop_n(out, 16), 8u);
  std::vector<int> got(out, out + 8);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4, 5, 11, 12, 13}));
  EXPECT_EQ(r->try_pop_n(out, 16), 0u);
}

TEST(Lanes, MoveOnlyValuesDestroyedExactlyOnce) {
  Tracked::live = 0;
  {
    auto r = std::move(*MpscLanes<Tracked>::make(8, 4));
    auto a = std::move(*r->producer());
    auto b = std::move(*r->producer());
    for (long i = 0; i < 6; ++i) {
      ASSERT_TRUE(a.try_emplace(i));
      ASSERT_TRUE(b.try_push(Tracked(100 + i)));
    }
    EXPECT_EQ(Tracked::live.load(), 12);
    Tracked t(0);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(r->try_pop(t));
    EXPECT_EQ(Tracked::live.load(), 12 - 5 + 1);
    b = {};  // a retired lane's values stay until the ring goes
  }
  EXPECT_EQ(Tracked::live.load(), 0);
}

// Producers on other threads push numbered sequences; every so often a producer drops its
// handle and takes a new one (reusing retired lanes). Order is promised per handle, so each
// value carries (thread, handle generation, index) and the consumer checks that every
// handle's values arrive complete, once and in order, and that nothing is lost overall.
TEST(LanesStress, PerProducerSequencesWithProducersComingAndGoing) {
  constexpr int kProducers = 3;
  constexpr long kPerProducer = 300'000;
  for (std::size_t cap : {1u, 2u, 64u}) {
    auto r = std::move(*MpscLanes<uint64_t>::make(cap, kProducers + 1));
    std::atomic<long> progress{0};
    test::Watchdog dog(30s, &progress);
    std::vector<std::thread> ts;
    for (int p = 0; p < kProducers; ++p) {
      ts.emplace_back([&, p] {
        std::mt19937 rng(static_cast<unsigned>(p * 7919 + static_cast<int>(cap)));
        auto h = std::move(*r->producer());
        uint64_t gen = 0, i = 0;
        for (long n = 0; n < kPerProducer; ++n) {
          if (rng() % 5000 == 0) {  // come and go: retire the lane, take one again
            h = {};
            for (;;) {
              auto nh = r->producer();
              if (nh) {
                h = std::move(*nh);
                break;
              }
              std::this_thread::yield();
            }
            ++gen;
            i = 0;
          }
          const uint64_t v = (static_cast<uint64_t>(p) << 56) | (gen << 32) | i++;
          test::Backoff backoff;
          while (!h.try_push(v)) backoff();
          if (rng() % 1000 == 0) std::this_thread::yield();  // random pauses
        }
      });
    }
    std::map<uint64_t, uint64_t> next;  // (thread, generation) -> next index
    long total = 0;
    test::Backoff backoff;
    while (total < kProducers * kPerProducer) {
      uint64_t v;
      if (!r->try_pop(v)) {
        backoff();
        continue;
      }
      backoff.reset();
      ASSERT_LT(v >> 56, static_cast<uint64_t>(kProducers));
      uint64_t& want = next[v >> 32];
      ASSERT_EQ(v & 0xffffffffu, want)
          << "thread " << (v >> 56) << " handle " << ((v >> 32) & 0xffffff) << " cap " << cap;
      ++want;
      ++total;
      progress.store(total, std::memory_order_relaxed);  // relaxed: a counter for the dog
    }
    for (auto& t : ts) t.join();
    uint64_t extra;
    EXPECT_FALSE(r->try_pop(extra));  // nothing duplicated or left over
    long sum = 0;
    for (auto& [key, n] : next) sum += static_cast<long>(n);
    EXPECT_EQ(sum, kProducers * kPerProducer);
    EXPECT_GT(next.size(), static_cast<std::size_t>(kProducers));  // handles did come and go
  }
}
