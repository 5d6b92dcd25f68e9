// Zero heap allocations per spawn/complete/join in steady state, and slab misses counted.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <set>
#include <utility>
#include <vector>

#include "../common/counting_new.hpp"

using namespace sluice;

namespace {
Task<int> trivial(int x) { co_return x + 1; }

Task<long> spawn_join_loop(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) {
    auto h = spawn(trivial(i));
    sum += (co_await h).value();
  }
  co_return sum;
}

Task<long> channel_pingpong(local::Sender<int>& tx, local::Receiver<int>& rx, int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) {
    (void)co_await tx.send(i);
    sum += (co_await rx.recv()).value();
  }
  co_return sum;
}
}  // namespace

TEST(Alloc, SpawnJoinAllocatesNothingInSteadyState) {
  Runtime rt;
  EXPECT_EQ(rt.block_on(spawn_join_loop(100)), 5050);  // warm-up
  // block_on's own top-level task is made outside the runtime, so it is a heap frame: made
  // before counting. Everything spawned inside comes from the slab.
  Task<long> loop = spawn_join_loop(100000);
  long before = g_news.load();
  EXPECT_EQ(rt.block_on(std::move(loop)), 5000050000L);
  long after = g_news.load();
  EXPECT_EQ(after - before, 0) << "heap allocations during 100000 spawn+join";
  EXPECT_EQ(rt.counters().slab_misses, 0u);
}

TEST(Alloc, YieldAndLocalChannelAllocateNothing) {
  Runtime rt;
  auto [tx, rx] = local::channel<int>(4).value();
  (void)rt.block_on(channel_pingpong(tx, rx, 10));
  Task<long> run = channel_pingpong(tx, rx, 10000);  // a heap frame, made before counting
  long before = g_news.load();
  EXPECT_EQ(rt.block_on(std::move(run)), 49995000L);
  EXPECT_EQ(g_news.load() - before, 0);
}

TEST(Alloc, FullSlabFallsBackToHeapAndCounts) {
  RuntimeConfig cfg;
  for (auto& s : cfg.slab.slots) s = 0;
  cfg.slab.slots[0] = 2;  // two small frames only
  Runtime rt(cfg);
  auto main = []() -> Task<long> {
    std::vector<JoinHandle<int>> hs;
    for (int i = 0; i < 10; ++i) hs.push_back(spawn(trivial(i)));
    long s = 0;
    for (auto& h : hs) s += (co_await h).value();
    co_return s;
  };
  EXPECT_EQ(rt.block_on(main()), 55);
  EXPECT_GE(rt.counters().slab_misses, 8u);
}

TEST(Alloc, OversizedFrameFallsBackToHeapAndCounts) {
  Runtime rt;
  auto big = []() -> Task<int> {
    volatile char buf[4096];
    buf[0] = 1;
    co_await yield_now();
    buf[4095] = buf[0];
    co_return buf[4095];
  };
  auto before = rt.counters().slab_misses;
  // Made inside the runtime, so the slab is asked first (and cannot fit it).
  EXPECT_EQ(rt.block_on([](decltype(big)* b) -> Task<int> { co_return co_await (*b)(); }(&big)), 1);
  EXPECT_EQ(rt.counters().slab_misses, before + 1);
}

// The teardown walk: for_each_allocated visits exactly the slots that are allocated, in every
// class, whatever order they were allocated and freed in, and a slot freed during the walk is
// not visited once freed.
TEST(Slab, WalkVisitsExactlyTheAllocatedSlots) {
  SlabConfig cfg;
  for (std::size_t c = 0; c < SlabConfig::kClasses; ++c) cfg.slots[c] = 16;
  FrameSlab slab(cfg);
  std::vector<std::pair<void*, uint16_t>> live;
  for (uint16_t c = 0; c < SlabConfig::kClasses; ++c) {
    for (int i = 0; i < 16; ++i) {
      void* p = slab.alloc(c);
      ASSERT_NE(p, nullptr);
      // A live slot's second word must differ from the free tag, as a TaskHeader's does.
      static_cast<void**>(p)[1] = nullptr;
      live.emplace_back(p, c);
    }
    EXPECT_EQ(slab.alloc(c), nullptr);  // full
  }
  // Free every third slot.
  std::vector<std::pair<void*, uint16_t>> kept;
  for (std::size_t i = 0; i < live.size(); ++i) {
    if (i % 3 == 0)
      slab.free(live[i].first, live[i].second);
    else
      kept.push_back(live[i]);
  }
  std::set<void*> seen;
  slab.for_each_allocated([&](void* p) { EXPECT_TRUE(seen.insert(p).second); });
  EXPECT_EQ(seen.size(), kept.size());
  for (auto& [p, c] : kept) EXPECT_EQ(seen.count(p), 1u);
  // Free everything from inside the walk: each slot is seen once, before its own free.
  std::map<void*, uint16_t> cls;
  for (auto& [p, c] : kept) cls[p] = c;
  std::size_t visits = 0;
  slab.for_each_allocated([&](void* p) {
    ++visits;
    slab.free(p, cls.at(p));
  });
  EXPECT_EQ(visits, kept.size());
  std::size_t after = 0;
  slab.for_each_allocated([&](void*) { ++after; });
  EXPECT_EQ(after, 0u);
}
