// mpsc::channel over lanes: what differs from spsc (xchannel_test.cpp covers the shared
// vocabulary for both). Capacity per sender, a waiting sender woken by a pop from its own
// lane (not by pops from others), senders beyond max_lanes on the shared ring (and that ring
// not starved), a lane whose ring cannot be allocated falling back to the shared ring, lane
// reuse after a sender is dropped, max_lanes = 0 as one global FIFO, the
// receiver's close reaching senders parked on lanes and on the shared ring, and a stress with
// lanes and shared-ring senders mixed, per-producer sequence numbers and a watchdog.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "../common/watchdog.hpp"

using namespace sluice;
using namespace std::chrono_literals;

namespace {

using test::Watchdog;

TEST(MpscLanesChannel, ConstructionErrors) {
  EXPECT_EQ(mpsc::channel<int>(0).error(), ChannelError::ZeroCapacity);
  EXPECT_EQ(mpsc::channel<int>(8, {}, MpscLanes<int>::kMaxProducers + 1).error(),
            ChannelError::CapacityTooLarge);
  auto ch = mpsc::channel<int>(3, {}, 0);  // no lanes: valid, every sender shares the ring
  ASSERT_TRUE(ch);
  EXPECT_FALSE(ch->tx.has_lane());
  EXPECT_EQ(ch->tx.capacity(), 4u);
}

TEST(MpscLanesChannel, CapacityIsPerSender) {
  auto [tx, rx] = std::move(*mpsc::channel<int>(2));
  auto tx2 = tx;
  EXPECT_TRUE(tx.has_lane());
  EXPECT_TRUE(tx2.has_lane());
  EXPECT_TRUE(tx.try_send(1));
  EXPECT_TRUE(tx.try_send(2));
  auto full = tx.try_send(3);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, SendErrc::Full);
  EXPECT_EQ(full.error().value, 3);
  EXPECT_TRUE(tx2.try_send(10));  // its own lane still has room
  EXPECT_TRUE(tx2.try_send(11));
  EXPECT_EQ(tx2.try_send(12).error().code, SendErrc::Full);
  std::vector<int> a, b;
  while (auto r = rx.try_recv()) (*r < 10 ? a : b).push_back(*r);
  EXPECT_EQ(a, (std::vector<int>{1, 2}));
  EXPECT_EQ(b, (std::vector<int>{10, 11}));
}

// max_lanes = 0: one ring for all senders, so one FIFO order across them and one capacity.
TEST(MpscLanesChannel, NoLanesIsOneGlobalFifo) {
  auto [tx, rx] = std::move(*mpsc::channel<int>(4, {}, 0));
  auto tx2 = tx;
  EXPECT_FALSE(tx2.has_lane());
  EXPECT_TRUE(tx.try_send(1));
  EXPECT_TRUE(tx2.try_send(2));
  EXPECT_TRUE(tx.try_send(3));
  EXPECT_TRUE(tx2.try_send(4));
  EXPECT_EQ(tx.try_send(5).error().code, SendErrc::Full);  // shared capacity
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(*rx.try_recv(), i);
  EXPECT_EQ(rx.try_recv().error(), RecvError::Empty);
}

// Past max_lanes a copy shares the multi-producer ring; everything is still delivered, in
// order per sender, and the shared ring is visited even while the lanes never run dry.
TEST(MpscLanesChannel, SendersBeyondTheLanesShareARingThatIsNotStarved) {
  auto [tx, rx] = std::move(*mpsc::channel<int>(1024, {}, 1));
  auto shared = tx;
  ASSERT_TRUE(tx.has_lane());
  ASSERT_FALSE(shared.has_lane());
  for (int i = 0; i < 1024; ++i) ASSERT_TRUE(tx.try_send(i));
  ASSERT_TRUE(shared.try_send(-1));
  // The shared ring gets a turn at least once every MpscState::kSharedTurn pops.
  bool seen = false;
  int next = 0;
  for (uint32_t i = 0; i < detail::MpscState<int>::kSharedTurn + 1; ++i) {
    int v = *rx.try_recv();
    if (v == -1) {
      seen = true;
    } else {
      EXPECT_EQ(v, next++);
      ASSERT_TRUE(tx.try_send(1024 + v));  // keep the lane from running dry
    }
  }
  EXPECT_TRUE(seen) << "the shared ring was starved by a lane that never ran dry";
}

// A dropped sender's lane goes to the next copy; what the old sender queued comes first.
TEST(MpscLanesChannel, LaneReusedAfterASenderIsDropped) {
  auto [tx, rx] = std::move(*mpsc::channel<int>(4, {}, 2));
  {
    auto a = tx;
    ASSERT_TRUE(a.has_lane());
    EXPECT_TRUE(a.try_send(1));
    EXPECT_TRUE(a.try_send(2));
    auto full = tx;  // both lanes taken now
    EXPECT_FALSE(full.has_lane());
  }
  auto b = tx;  // takes a's retired lane
  EXPECT_TRUE(b.has_lane());
  EXPECT_TRUE(b.try_send(3));
  EXPECT_EQ(*rx.try_recv(), 1);
  EXPECT_EQ(*rx.try_recv(), 2);
  EXPECT_EQ(*rx.try_recv(), 3);
  auto c = b.try_clone();
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->has_lane());  // lanes: tx and b
  EXPECT_TRUE(c->try_send(4));
  EXPECT_EQ(*rx.try_recv(), 4);
}

// Ring memory that fails the allocations the test asks it to, and counts what is live.
struct FlakyMemory {
  int fail_next = 0;  // how many of the next allocations fail
  int live = 0;
  static void* alloc(std::size_t bytes, std::size_t align, void* ctx) {
    auto* m = static_cast<FlakyMemory*>(ctx);
    if (m->fail_next > 0) {
      --m->fail_next;
      return nullptr;
    }
    ++m->live;
    return std::aligned_alloc(align, (bytes + align - 1) / align * align);
  }
  static void dealloc(void* p, std::size_t, void* ctx) {
    --static_cast<FlakyMemory*>(ctx)->live;
    std::free(p);
  }
  RingMemory mem() { return RingMemory{&FlakyMemory::alloc, &FlakyMemory::dealloc, this}; }
};

// A copy whose lane ring cannot be allocated falls back to the shared ring; when the shared
// ring cannot be allocated either, try_clone() reports OutOfMemory and the copy constructor
// throws, and nothing already queued is lost. The lane whose allocation failed is free again
// for the next copy.
TEST(MpscLanesChannel, LaneAllocationFailureFallsBackToTheSharedRing) {
  FlakyMemory fm;
  {
    auto [tx, rx] = std::move(*mpsc::channel<int>(4, fm.mem(), 2));
    ASSERT_TRUE(tx.has_lane());
    ASSERT_TRUE(tx.try_send(1));
    const int before = fm.live;

    fm.fail_next = 2;  // the lane's ring and the shared ring
    auto none = tx.try_clone();
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error(), ChannelError::OutOfMemory);
    fm.fail_next = 2;
    EXPECT_THROW({ auto copy = tx; }, std::bad_alloc);
    EXPECT_EQ(fm.live, before);  // nothing half-built was kept

    fm.fail_next = 1;  // only the lane's ring
    auto shared = tx;
    EXPECT_FALSE(shared.has_lane());
    EXPECT_EQ(fm.live, before + 1);  // the shared ring
    ASSERT_TRUE(shared.try_send(2));

    auto laned = tx;  // the lane that failed is free: this copy gets it
    EXPECT_TRUE(laned.has_lane());
    ASSERT_TRUE(laned.try_send(3));

    std::vector<int> got;
    while (auto r = rx.try_recv()) got.push_back(*r);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  }
  EXPECT_EQ(fm.live, 0);  // every ring went back to the memory it came from
}

// A task waiting for room in its own lane is woken by the pop that frees it, even while the
// receiver keeps taking values from other lanes in between. Waking "some sender" instead of
// that lane's sender leaves this task parked forever: the watchdog fails the test.
TEST(MpscLanesChannel, ParkedSenderWokenByAPopFromItsOwnLane) {
  for (IdlePolicy policy : {IdlePolicy::park(), IdlePolicy::busy_poll()}) {
    auto ch = std::move(*mpsc::channel<long>(1));
    auto other = ch.tx;  // a second lane, kept busy by this thread
    std::atomic<long> progress{0};
    Watchdog wd(20s, &progress);
    constexpr long kN = 20000;
    std::thread sender([tx = std::move(ch.tx), policy, &progress]() mutable {
      Runtime rt(RuntimeConfig{policy});
      rt.block_on([&]() -> Task<> {
        for (long i = 0; i < kN; ++i) {
          if (!co_await tx.send(i)) std::abort();
          progress.fetch_add(1, std::memory_order_relaxed);
        }
      }());
    });
    long next_task = 0, next_other = 0, sent_other = 0;
    while (next_task < kN) {
      if (other.try_send(-1 - sent_other)) ++sent_other;  // the other lane: never drains
      auto r = ch.rx.try_recv();
      if (!r) continue;
      if (*r >= 0) {
        ASSERT_EQ(*r, next_task++);
      } else {
        ASSERT_EQ(*r, -1 - next_other++);
      }
    }
    sender.join();
  }
}

// The receiver's close reaches a task parked on a lane, a thread parked on a lane and a task
// parked on the shared ring; each gets Closed with its value back.
TEST(MpscLanesChannel, ReceiverGoneWakesSendersOnLanesAndOnTheSharedRing) {
  auto ch = std::move(*mpsc::channel<std::unique_ptr<int>>(1, {}, 2));
  auto lane_thread = ch.tx;  // second lane
  auto on_shared = ch.tx;    // no lane left
  ASSERT_TRUE(lane_thread.has_lane());
  ASSERT_FALSE(on_shared.has_lane());
  EXPECT_TRUE(ch.tx.try_send(std::make_unique<int>(0)));
  EXPECT_TRUE(lane_thread.try_send(std::make_unique<int>(0)));
  EXPECT_TRUE(on_shared.try_send(std::make_unique<int>(0)));  // all three rings full
  std::atomic<int> closed{0};
  std::atomic<long> progress{0};
  Watchdog wd(20s, &progress);  // a sender the close does not reach would hang the joins
  auto task_sender = [&closed](mpsc::Sender<std::unique_ptr<int>> tx, int v) {
    return std::thread([&closed, tx = std::move(tx), v]() mutable {
      Runtime rt;  // park policy: a real cross-thread wake
      rt.block_on([&]() -> Task<> {
        auto r = co_await tx.send(std::make_unique<int>(v));
        if (!r && r.error().code == SendErrc::Closed && *r.error().value == v) closed.fetch_add(1);
      }());
    });
  };
  std::thread t1 = task_sender(std::move(ch.tx), 1);
  std::thread t2 = task_sender(std::move(on_shared), 2);
  std::thread t3([&] {
    auto r = lane_thread.send_blocking(std::make_unique<int>(3));
    if (!r && r.error().code == SendErrc::Closed && *r.error().value == 3) closed.fetch_add(1);
  });
  std::this_thread::sleep_for(30ms);  // let all three park
  { auto gone = std::move(ch.rx); }
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(closed.load(), 3);
}

// Producers on lanes and on the shared ring at once (max_lanes 2, four producers), tasks and
// threads, capacities 1 and 2, random pauses: nothing lost, duplicated or reordered per
// producer, and the receiver sees Closed only after the last value.
void mixed_stress(std::size_t cap, IdlePolicy rx_policy, long per) {
  auto ch = std::move(*mpsc::channel<uint64_t>(cap, {}, 2));
  std::atomic<long> progress{0};
  Watchdog wd(30s, &progress);
  constexpr int kProducers = 4;
  std::vector<std::thread> threads;
  {
    std::vector<mpsc::Sender<uint64_t>> txs;
    for (int p = 1; p < kProducers; ++p) txs.push_back(ch.tx);
    txs.insert(txs.begin(), std::move(ch.tx));
    EXPECT_EQ(std::count_if(txs.begin(), txs.end(), [](auto& t) { return t.has_lane(); }), 2);
    for (int p = 0; p < kProducers; ++p) {
      threads.emplace_back([p, per, tx = std::move(txs[p])]() mutable {
        std::minstd_rand rng(static_cast<unsigned>(p) * 31 + 1);
        auto pause = [&rng] {
          if ((rng() & 255) == 0) std::this_thread::yield();
        };
        if (p % 2 == 0) {
          for (long i = 0; i < per; ++i) {
            if (!tx.send_blocking((uint64_t(p) << 40) | uint64_t(i))) std::abort();
            pause();
          }
          return;
        }
        Runtime rt(RuntimeConfig{p == 1 ? IdlePolicy::park() : IdlePolicy::busy_poll()});
        rt.block_on([&]() -> Task<> {
          for (long i = 0; i < per; ++i) {
            if (!co_await tx.send((uint64_t(p) << 40) | uint64_t(i))) std::abort();
            pause();
          }
        }());
      });
    }
  }
  std::vector<long> next(kProducers, 0);
  bool ok = true;
  long got = 0;
  Runtime rt(RuntimeConfig{rx_policy});
  rt.block_on([&]() -> Task<> {
    for (;;) {
      auto r = co_await ch.rx.recv();
      if (!r) {
        EXPECT_EQ(r.error(), RecvError::Closed);
        co_return;
      }
      int p = static_cast<int>(*r >> 40);
      long s = static_cast<long>(*r & ((uint64_t{1} << 40) - 1));
      if (p >= kProducers || s != next[p])
        ok = false;
      else
        ++next[p];
      progress.store(++got, std::memory_order_relaxed);
    }
  }());
  for (auto& t : threads) t.join();
  EXPECT_TRUE(ok) << "lost, duplicated or reordered message near " << got;
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], per) << "producer " << p;
}

// A parked receiver at capacity 1 can cost a park and an eventfd write per message: fewer.
TEST(MpscLanesStress, LanesAndSharedRingCap1ToParkedTask) {
  mixed_stress(1, IdlePolicy::park(), test::kSanitized ? 10'000 : 40'000);
}
TEST(MpscLanesStress, LanesAndSharedRingCap2ToBusyTask) {
  mixed_stress(2, IdlePolicy::busy_poll(), test::kSanitized ? 50'000 : 250'000);
}

}  // namespace
