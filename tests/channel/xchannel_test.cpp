// spsc::channel and mpsc::channel: the cross-thread async channels. Same-thread semantics
// (errors, close, drain-then-Closed, values handed back), tasks on different runtimes, plain
// threads with the blocking forms, mixtures of both, abort and timeout of a suspended send or
// recv, and stress at capacities 1 and 2 with per-producer sequence numbers under a watchdog.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "../common/watchdog.hpp"

using namespace sluice;
using namespace std::chrono_literals;

namespace {

using test::Watchdog;

// ---------------------------------------------------------------- same thread

template <class C>
class XChan : public ::testing::Test {};
struct SpscKind {
  template <class T>
  static auto make(std::size_t cap) {
    return spsc::channel<T>(cap);
  }
};
struct MpscKind {
  template <class T>
  static auto make(std::size_t cap) {
    return mpsc::channel<T>(cap);
  }
};
using Kinds = ::testing::Types<SpscKind, MpscKind>;
TYPED_TEST_SUITE(XChan, Kinds);

TYPED_TEST(XChan, ConstructionErrors) {
  EXPECT_EQ(TypeParam::template make<int>(0).error(), ChannelError::ZeroCapacity);
  EXPECT_EQ(TypeParam::template make<int>((std::size_t{1} << 31) + 1).error(),
            ChannelError::CapacityTooLarge);
  EXPECT_EQ(TypeParam::template make<int>(3)->tx.capacity(), 4u);
}

TYPED_TEST(XChan, FullAndEmptyHandValuesBack) {
  auto [tx, rx] = std::move(*TypeParam::template make<std::unique_ptr<int>>(2));
  EXPECT_EQ(rx.try_recv().error(), RecvError::Empty);
  EXPECT_TRUE(tx.try_send(std::make_unique<int>(1)));
  EXPECT_TRUE(tx.try_send(std::make_unique<int>(2)));
  auto full = tx.try_send(std::make_unique<int>(3));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, SendErrc::Full);
  ASSERT_TRUE(full.error().value);
  EXPECT_EQ(*full.error().value, 3);
  EXPECT_EQ(**rx.try_recv(), 1);
  EXPECT_EQ(**rx.try_recv(), 2);
  EXPECT_EQ(rx.try_recv().error(), RecvError::Empty);
}

TYPED_TEST(XChan, ReceiverGoneIsClosedWithTheValue) {
  auto ch = std::move(*TypeParam::template make<std::unique_ptr<int>>(4));
  auto tx = std::move(ch.tx);
  EXPECT_TRUE(tx.try_send(std::make_unique<int>(1)));  // destroyed with the channel
  { auto rx = std::move(ch.rx); }
  EXPECT_TRUE(tx.is_closed());
  auto r = tx.try_send(std::make_unique<int>(7));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, SendErrc::Closed);
  EXPECT_EQ(*r.error().value, 7);
}

TYPED_TEST(XChan, SendersGoneDrainThenClosed) {
  auto ch = std::move(*TypeParam::template make<int>(4));
  auto rx = std::move(ch.rx);
  {
    auto tx = std::move(ch.tx);
    EXPECT_TRUE(tx.try_send(1));
    EXPECT_TRUE(tx.try_send(2));
  }
  EXPECT_TRUE(rx.is_closed());
  EXPECT_EQ(*rx.try_recv(), 1);
  EXPECT_EQ(*rx.try_recv(), 2);
  EXPECT_EQ(rx.try_recv().error(), RecvError::Closed);
  EXPECT_EQ(rx.recv_blocking().error(), RecvError::Closed);
}

TEST(Mpsc, ClosedOnlyWhenTheLastCloneIsGone) {
  auto [tx, rx] = std::move(*mpsc::channel<int>(4));
  {
    auto tx2 = tx;
    EXPECT_TRUE(tx2.try_send(5));
  }
  EXPECT_FALSE(rx.is_closed());
  EXPECT_EQ(*rx.try_recv(), 5);
  { auto gone = std::move(tx); }
  EXPECT_EQ(rx.try_recv().error(), RecvError::Closed);
}

// Values still queued when both ends are gone are destroyed exactly once.
TYPED_TEST(XChan, QueuedValuesDieWithTheChannel) {
  auto counter = std::make_shared<int>(0);
  {
    auto [tx, rx] = std::move(*TypeParam::template make<std::shared_ptr<int>>(8));
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(tx.try_send(counter));
    EXPECT_EQ(counter.use_count(), 6);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

// ---------------------------------------------------------------- tasks, one runtime

TYPED_TEST(XChan, TasksOnOneRuntimeCapacityOne) {
  Runtime rt;
  auto [tx, rx] = std::move(*TypeParam::template make<long>(1));
  constexpr long kN = 100000;
  auto prod = [](auto tx) -> Task<> {
    for (long i = 0; i < kN; ++i) {
      auto r = co_await tx.send(i);
      if (!r) std::abort();
    }
  };
  long sum = rt.block_on([&]() -> Task<long> {
    auto h = spawn(prod(std::move(tx)));
    long s = 0, expect = 0;
    for (;;) {
      auto r = co_await rx.recv();
      if (!r) {
        EXPECT_EQ(r.error(), RecvError::Closed);
        break;
      }
      EXPECT_EQ(*r, expect++);
      s += *r;
    }
    (void)co_await h;
    co_return s;
  }());
  EXPECT_EQ(sum, kN * (kN - 1) / 2);
}

// ---------------------------------------------------------------- across threads

// Which kind of end: a task on a busy runtime, on a parking runtime, or a plain thread.
enum class End { busy, park, thread };

RuntimeConfig cfg_for(End e) {
  RuntimeConfig c;
  c.idle = e == End::busy ? IdlePolicy::busy_poll() : IdlePolicy::park();
  return c;
}

// Random short pauses so both sides cross the full/empty boundaries often.
inline void jitter(std::minstd_rand& rng) {
  unsigned x = rng() % 512;
  if (x == 0)
    std::this_thread::yield();
  else if (x < 8)
    for (unsigned i = 0; i < x * 16; ++i) asm volatile("" ::: "memory");
}

// producers: each sends (p << 40 | seq) for seq in [0, per). The consumer checks order per
// producer. `ends[p]` says how producer p runs; `rx_end` how the consumer runs.
template <class Kind>
void cross_thread(std::size_t cap, std::vector<End> ends, End rx_end, long per) {
  auto ch = std::move(*Kind::template make<uint64_t>(cap));
  std::atomic<long> progress{0};
  Watchdog wd(30s, &progress);
  const int np = static_cast<int>(ends.size());
  std::vector<std::thread> threads;
  {
    std::vector<decltype(ch.tx)> txs;
    if constexpr (std::is_copy_constructible_v<decltype(ch.tx)>) {
      for (int p = 1; p < np; ++p) txs.push_back(ch.tx);
    }
    txs.insert(txs.begin(), std::move(ch.tx));
    for (int p = 0; p < np; ++p) {
      threads.emplace_back([p, per, end = ends[p], tx = std::move(txs[p])]() mutable {
        std::minstd_rand rng(static_cast<unsigned>(p) + 7);
        if (end == End::thread) {
          for (long i = 0; i < per; ++i) {
            if (!tx.send_blocking((uint64_t(p) << 40) | uint64_t(i))) std::abort();
            jitter(rng);
          }
          return;
        }
        Runtime rt(cfg_for(end));
        rt.block_on([&]() -> Task<> {
          for (long i = 0; i < per; ++i) {
            auto r = co_await tx.send((uint64_t(p) << 40) | uint64_t(i));
            if (!r) std::abort();
            if ((rng() & 63) == 0) co_await yield_now();
            jitter(rng);
          }
        }());
      });
    }
  }
  std::vector<long> next(np, 0);
  long got = 0;
  bool ok = true;
  auto check = [&](uint64_t v) {
    int p = static_cast<int>(v >> 40);
    long s = static_cast<long>(v & ((uint64_t{1} << 40) - 1));
    if (p >= np || s != next[p])
      ok = false;
    else
      ++next[p];
    progress.store(++got, std::memory_order_relaxed);
  };
  auto rx = std::move(ch.rx);
  std::minstd_rand rng(1234);
  if (rx_end == End::thread) {
    for (;;) {
      auto r = rx.recv_blocking();
      if (!r) {
        EXPECT_EQ(r.error(), RecvError::Closed);
        break;
      }
      check(*r);
      jitter(rng);
    }
  } else {
    Runtime rt(cfg_for(rx_end));
    rt.block_on([&]() -> Task<> {
      for (;;) {
        auto r = co_await rx.recv();
        if (!r) {
          EXPECT_EQ(r.error(), RecvError::Closed);
          break;
        }
        check(*r);
        jitter(rng);
      }
    }());
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(ok) << "lost, duplicated or reordered message near " << got;
  for (int p = 0; p < np; ++p) EXPECT_EQ(next[p], per) << "producer " << p;
}

// Message counts: 10^7 in Release over the stress cases below (plus the ring tests' 6 x 10^7),
// a fifth of that under sanitizers.
constexpr long kBig = test::kSanitized ? 400'000 : 2'000'000;

TEST(SpscStress, ThreadToThreadCap1) {
  cross_thread<SpscKind>(1, {End::thread}, End::thread, kBig * 3 / 2);
}
TEST(SpscStress, BusyTaskToParkedTaskCap1) {
  cross_thread<SpscKind>(1, {End::busy}, End::park, kBig / 4);
}
TEST(SpscStress, ParkedTaskToBusyTaskCap2) {
  cross_thread<SpscKind>(2, {End::park}, End::busy, kBig / 4);
}
TEST(SpscStress, ThreadToParkedTaskCap2) {
  cross_thread<SpscKind>(2, {End::thread}, End::park, kBig / 2);
}
TEST(SpscStress, BusyTaskToThreadCap1) {
  cross_thread<SpscKind>(1, {End::busy}, End::thread, kBig / 2);
}
TEST(MpscStress, ThreeThreadsCap1) {
  cross_thread<MpscKind>(1, {End::thread, End::thread, End::thread}, End::thread, kBig / 3);
}
TEST(MpscStress, MixedProducersToParkedTaskCap2) {
  // Every message can cost a park and an eventfd write here: the slowest case per message.
  cross_thread<MpscKind>(2, {End::thread, End::busy, End::park}, End::park, kBig / 6);
}
TEST(MpscStress, MixedProducersToBusyTaskCap1) {
  cross_thread<MpscKind>(1, {End::park, End::thread}, End::busy, kBig / 2);
}

// The value sent just before the close is always delivered: many short rounds at capacity 1.
TYPED_TEST(XChan, LastValueBeforeCloseIsDelivered) {
  const int rounds = test::kSanitized ? 300 : 3000;
  for (int round = 0; round < rounds; ++round) {
    auto ch = std::move(*TypeParam::template make<int>(1));
    std::thread prod([tx = std::move(ch.tx)]() mutable {
      (void)tx.send_blocking(1);
      (void)tx.send_blocking(2);
    });
    Runtime rt(cfg_for(round % 2 ? End::park : End::busy));
    int n = rt.block_on([&]() -> Task<int> {
      int seen = 0;
      for (;;) {
        auto r = co_await ch.rx.recv();
        if (!r) break;
        seen = seen * 10 + *r;
      }
      co_return seen;
    }());
    prod.join();
    ASSERT_EQ(n, 12) << "round " << round;
  }
}

// The receiving runtime may finish and be destroyed while the closing sender is still inside
// its wake (pushing to the inbox, writing the eventfd). The destructor waits for it; without
// that, ASan reports a use-after-free of the (heap-allocated) runtime and TSan a race.
TYPED_TEST(XChan, RuntimeDestroyedWhileTheCloserIsStillWaking) {
  const int rounds = test::kSanitized ? 300 : 2000;
  for (int round = 0; round < rounds; ++round) {
    auto ch = std::move(*TypeParam::template make<int>(1));
    auto rt = std::make_unique<Runtime>(cfg_for(End::park));
    std::thread closer([tx = std::move(ch.tx)]() mutable {
      std::this_thread::yield();
      { auto gone = std::move(tx); }  // close: wakes the parked receiver
    });
    auto r =
        rt->block_on([&]() -> Task<Result<int, RecvError>> { co_return co_await ch.rx.recv(); }());
    ASSERT_EQ(r.error(), RecvError::Closed);
    rt.reset();  // may race with the closer's wake_remote
    closer.join();
  }
}

// ---------------------------------------------------------------- abort / timeout

TYPED_TEST(XChan, AbortTaskSuspendedInRecvThenChannelStillWorks) {
  Runtime rt;
  auto ch = std::move(*TypeParam::template make<int>(1));
  rt.block_on([&]() -> Task<> {
    auto h = spawn([](auto& rx) -> Task<int> {
      auto r = co_await rx.recv();
      co_return r ? *r : -1;
    }(ch.rx));
    co_await yield_now();  // let it suspend in recv
    EXPECT_FALSE(h.is_finished());
    EXPECT_TRUE(h.abort());
    co_return;
  }());
  // The aborted waiter is gone: a send from another thread must not touch it.
  std::thread t([&] { EXPECT_TRUE(ch.tx.send_blocking(42)); });
  t.join();
  EXPECT_EQ(*ch.rx.try_recv(), 42);
}

TYPED_TEST(XChan, AbortTaskSuspendedInSendKeepsTheQueueIntact) {
  Runtime rt;
  auto ch = std::move(*TypeParam::template make<int>(1));
  EXPECT_TRUE(ch.tx.try_send(1));  // now full
  rt.block_on([&]() -> Task<> {
    auto h = spawn([](auto& tx) -> Task<bool> { co_return bool(co_await tx.send(2)); }(ch.tx));
    co_await yield_now();
    EXPECT_FALSE(h.is_finished());
    EXPECT_TRUE(h.abort());
  }());
  std::thread t([&] {
    EXPECT_EQ(*ch.rx.recv_blocking(), 1);  // wakes nobody: the parked sender was removed
  });
  t.join();
  EXPECT_EQ(ch.rx.try_recv().error(), RecvError::Empty);
}

// A recv that times out leaves no registration behind: a later send from a thread is received.
template <class Kind>
void timeout_on_recv_loses_nothing(IdlePolicy policy) {
  Runtime rt(RuntimeConfig{policy});
  auto ch = std::move(*Kind::template make<int>(2));
  rt.block_on([&]() -> Task<> {
    auto r = co_await timeout(
        2ms, [](auto& rx) -> Task<Result<int, RecvError>> { co_return co_await rx.recv(); }(ch.rx));
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error(), TimeoutError::TimedOut);
  }());
  std::thread t([&] { EXPECT_TRUE(ch.tx.send_blocking(9)); });
  t.join();
  rt.block_on([&]() -> Task<> {
    auto r = co_await ch.rx.recv();
    EXPECT_EQ(*r, 9);
  }());
}

TYPED_TEST(XChan, TimeoutOnRecvLosesNothing) {
  timeout_on_recv_loses_nothing<TypeParam>(IdlePolicy::park());
}

// ---------------------------------------------------------------- busy runtimes poll

// On a busy-polling runtime a waiting task is polled, not registered: the other side wakes
// nobody, and the runtime notices the ring change itself.
TYPED_TEST(XChan, BusyRuntimeRecvIsPolled) {
  Runtime rt(RuntimeConfig{IdlePolicy::busy_poll()});
  auto ch = std::move(*TypeParam::template make<int>(1));
  int got = rt.block_on([&]() -> Task<int> {
    auto h = spawn([](auto& rx) -> Task<int> {
      auto r = co_await rx.recv();
      co_return r ? *r : -1;
    }(ch.rx));
    co_await yield_now();  // suspended in recv, polled
    std::thread([&] { EXPECT_TRUE(ch.tx.try_send(5)); }).join();
    auto r = co_await h;
    co_return *r;
  }());
  EXPECT_EQ(got, 5);
  EXPECT_GE(rt.counters().polled_wakes, 1u);
  EXPECT_EQ(rt.counters().remote_wakes, 0u);
}

TYPED_TEST(XChan, BusyRuntimeSendIsPolledAndSeesClose) {
  Runtime rt(RuntimeConfig{IdlePolicy::busy_poll()});
  auto ch = std::move(*TypeParam::template make<int>(1));
  EXPECT_TRUE(ch.tx.try_send(1));  // full
  auto rx = std::make_unique<decltype(ch.rx)>(std::move(ch.rx));
  bool closed = rt.block_on([&]() -> Task<bool> {
    auto h = spawn([](auto& tx) -> Task<int> {
      auto r = co_await tx.send(2);
      co_return r ? 0 : r.error().value;  // the value comes back with Closed
    }(ch.tx));
    co_await yield_now();                     // suspended in send (full), polled
    std::thread([&] { rx.reset(); }).join();  // receiver gone on another thread
    auto r = co_await h;
    co_return *r == 2;
  }());
  EXPECT_TRUE(closed);
  EXPECT_GE(rt.counters().polled_wakes, 1u);
}

TYPED_TEST(XChan, BusyRuntimeAbortPolledWaitersLosesNothing) {
  // event_interval 1: the poll runs after every task, so the receiver can be scheduled by the
  // poll and then aborted before it runs. The value must stay in the channel.
  Runtime rt(RuntimeConfig{IdlePolicy::busy_poll(), SlabConfig{}, 1});
  auto ch = std::move(*TypeParam::template make<int>(1));
  rt.block_on([&]() -> Task<> {
    auto h = spawn([](auto& rx) -> Task<int> {
      auto r = co_await rx.recv();
      co_return r ? *r : -1;
    }(ch.rx));
    co_await yield_now();  // polled in recv
    std::thread([&] { EXPECT_TRUE(ch.tx.try_send(42)); }).join();
    co_await yield_now();  // the poll fires: the receiver is scheduled behind us
    EXPECT_FALSE(h.is_finished());
    EXPECT_TRUE(h.abort());
    // A polled sender aborted while still polled leaves the ring as it was.
    auto s = spawn([](auto& tx) -> Task<bool> { co_return bool(co_await tx.send(7)); }(ch.tx));
    co_await yield_now();  // full (42 is queued): polled in send
    EXPECT_FALSE(s.is_finished());
    EXPECT_TRUE(s.abort());
    for (int i = 0; i < 3; ++i) co_await yield_now();  // polls run over the removed nodes
  }());
  EXPECT_EQ(*ch.rx.try_recv(), 42);
  EXPECT_EQ(ch.rx.try_recv().error(), RecvError::Empty);
}

TYPED_TEST(XChan, BusyRuntimeTimeoutOnRecvLosesNothing) {
  timeout_on_recv_loses_nothing<TypeParam>(IdlePolicy::busy_poll());
}

// A blocked sending thread is woken when the receiver goes away, and gets its value back.
TYPED_TEST(XChan, BlockedThreadSenderSeesClose) {
  auto ch = std::move(*TypeParam::template make<std::unique_ptr<int>>(1));
  EXPECT_TRUE(ch.tx.try_send(std::make_unique<int>(1)));
  std::atomic<bool> started{false};
  std::thread t([&] {
    started = true;
    auto r = ch.tx.send_blocking(std::make_unique<int>(2));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, SendErrc::Closed);
    EXPECT_EQ(*r.error().value, 2);
  });
  while (!started) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);  // let it park in the kernel
  { auto gone = std::move(ch.rx); }
  t.join();
}

// ---------------------------------------------------------------- endpoints as messages

// A Receiver travels through an mpsc channel to a task on another runtime, which then consumes
// from it (the 50 Hz controller handing a stream to the 1 kHz one).
TEST(Mpsc, ReceiverSentToATaskOnAnotherRuntime) {
  auto [ctl_tx, ctl_rx] = std::move(*mpsc::channel<spsc::Receiver<int>>(1));
  auto [data_tx, data_rx] = std::move(*spsc::channel<int>(4));
  std::thread worker([ctl_rx = std::move(ctl_rx)]() mutable {
    Runtime rt;
    int sum = rt.block_on([&]() -> Task<int> {
      auto got = co_await ctl_rx.recv();
      EXPECT_TRUE(got);
      auto rx = std::move(*got);
      int s = 0;
      for (;;) {
        auto r = co_await rx.recv();
        if (!r) break;
        s += *r;
      }
      co_return s;
    }());
    EXPECT_EQ(sum, 55);
  });
  EXPECT_TRUE(ctl_tx.send_blocking(std::move(data_rx)));
  for (int i = 1; i <= 10; ++i) EXPECT_TRUE(data_tx.send_blocking(i));
  { auto done = std::move(data_tx); }
  worker.join();
}

}  // namespace
