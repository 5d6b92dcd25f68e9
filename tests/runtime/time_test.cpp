// sleep_for / sleep_until, timeout (expiry, completion, races, exceptions), Interval policies,
// and the park timeout bounded by the nearest deadline.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace sluice;
using namespace std::chrono_literals;

namespace {
class TimeTest : public ::testing::TestWithParam<IdlePolicy> {};
RuntimeConfig with(IdlePolicy p) {
  RuntimeConfig c;
  c.idle = p;
  return c;
}
}  // namespace

TEST_P(TimeTest, SleepForWaitsAtLeastTheDuration) {
  Runtime rt(with(GetParam()));
  auto f = []() -> Task<Clock::duration> {
    auto t0 = Clock::now();
    co_await sleep_for(5ms);
    co_return Clock::now() - t0;
  };
  auto d = rt.block_on(f());
  EXPECT_GE(d, 5ms);
  EXPECT_LT(d, 500ms);
}

TEST_P(TimeTest, SleepsWakeInDeadlineOrder) {
  Runtime rt(with(GetParam()));
  std::vector<int> order;
  auto sleeper = [](std::vector<int>* o, int id, int ms) -> Task<> {
    co_await sleep_for(std::chrono::milliseconds(ms));
    o->push_back(id);
  };
  auto main = [&]() -> Task<> {
    auto a = spawn(sleeper(&order, 3, 30));
    auto b = spawn(sleeper(&order, 1, 10));
    auto c = spawn(sleeper(&order, 2, 20));
    (void)co_await a;
    (void)co_await b;
    (void)co_await c;
  };
  rt.block_on(main());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

INSTANTIATE_TEST_SUITE_P(Policies, TimeTest,
                         ::testing::Values(IdlePolicy::busy_poll(),
                                           IdlePolicy::spin_then_park(1000), IdlePolicy::park()));

TEST(Time, SleepUntilPastIsImmediate) {
  Runtime rt;
  auto f = []() -> Task<int> {
    co_await sleep_until(Clock::now() - 1s);
    co_return 1;
  };
  EXPECT_EQ(rt.block_on(f()), 1);
  EXPECT_EQ(rt.counters().parks, 0u);
}

TEST(Time, ParkedRuntimeWakesForTimer) {
  Runtime rt;  // park policy: must wake from io_uring by the timer's deadline
  auto f = []() -> Task<> { co_await sleep_for(20ms); };
  auto t0 = Clock::now();
  rt.block_on(f());
  EXPECT_GE(Clock::now() - t0, 20ms);
  EXPECT_GE(rt.counters().parks, 1u);
  EXPECT_GE(rt.counters().timers_fired, 1u);
}

TEST(Time, AbortedSleeperUnlinksItsTimer) {
  Runtime rt;
  auto main = [&]() -> Task<> {
    auto h = spawn([]() -> Task<> { co_await sleep_for(10s); }());
    co_await yield_now();
    EXPECT_EQ(rt.timers().size(), 1u);
    h.abort();
    EXPECT_EQ(rt.timers().size(), 0u);
  };
  rt.block_on(main());
}

TEST(Timeout, ReturnsValueWhenInTime) {
  Runtime rt;
  auto main = []() -> Task<int> {
    auto r = co_await timeout(1s, []() -> Task<int> {
      co_await sleep_for(1ms);
      co_return 7;
    }());
    co_return r ? *r : -1;
  };
  EXPECT_EQ(rt.block_on(main()), 7);
  EXPECT_EQ(rt.timers().size(), 0u);  // the deadline timer was cancelled
}

TEST(Timeout, TimesOutAndCancelsInner) {
  Runtime rt;
  struct Guard {
    bool* b;
    ~Guard() { *b = true; }
  };
  bool destroyed = false;
  bool finished = false;
  auto inner = [](bool* d, bool* f) -> Task<int> {
    Guard g{d};
    co_await sleep_for(10s);
    *f = true;
    co_return 1;
  };
  auto main = [&]() -> Task<bool> {
    auto r = co_await timeout(5ms, inner(&destroyed, &finished));
    co_return !r && r.error() == TimeoutError::TimedOut;
  };
  EXPECT_TRUE(rt.block_on(main()));
  EXPECT_TRUE(destroyed);
  EXPECT_FALSE(finished);
  EXPECT_EQ(rt.timers().size(), 0u);
  EXPECT_EQ(rt.live_tasks(), 0u);
}

TEST(Timeout, InnerBlockedOnChannelIsCancelledCleanly) {
  Runtime rt;
  auto [tx, rx] = local::channel<int>(1).value();
  auto main = [&]() -> Task<int> {
    auto r = co_await timeout(2ms, [](local::Receiver<int>* rx) -> Task<int> {
      co_return (co_await rx->recv()).value();
    }(&rx));
    EXPECT_FALSE(r);
    // The aborted recv left no stale waiter: a value sent now is received by a new recv.
    EXPECT_TRUE(tx.try_send(5));
    auto v = co_await rx.recv();
    co_return v.value();
  };
  EXPECT_EQ(rt.block_on(main()), 5);
}

TEST(Timeout, CompletionRacingExpiryCompletionWins) {
  // Inner finishes in the same loop turn as the deadline passes: both wakes land before the
  // outer task resumes; it must report the value, never abort a finished task.
  Runtime rt;
  int values = 0, timeouts = 0;
  auto main = [&]() -> Task<> {
    for (int i = 0; i < 200; ++i) {
      auto r = co_await timeout(std::chrono::microseconds(i % 7), []() -> Task<int> {
        co_await yield_now();
        co_return 3;
      }());
      if (r) {
        EXPECT_EQ(*r, 3);
        ++values;
      } else {
        ++timeouts;
      }
    }
  };
  rt.block_on(main());
  EXPECT_EQ(values + timeouts, 200);
  EXPECT_GT(values, 0);
  EXPECT_EQ(rt.live_tasks(), 0u);
  EXPECT_EQ(rt.timers().size(), 0u);
}

TEST(Timeout, ExceptionPropagates) {
  Runtime rt;
  auto main = []() -> Task<> {
    (void)co_await timeout(1s, []() -> Task<int> {
      throw std::logic_error("inner");
      co_return 0;
    }());
  };
  EXPECT_THROW(rt.block_on(main()), std::logic_error);
}

TEST(Timeout, VoidTask) {
  Runtime rt;
  auto main = []() -> Task<bool> {
    auto r = co_await timeout(1s, []() -> Task<> { co_return; }());
    co_return r.has_value();
  };
  EXPECT_TRUE(rt.block_on(main()));
}

TEST(Interval, TicksOnAGrid) {
  Runtime rt;
  auto main = []() -> Task<std::vector<Clock::time_point>> {
    Interval iv = *Interval::make(2ms);
    std::vector<Clock::time_point> ticks;
    for (int i = 0; i < 5; ++i) ticks.push_back(co_await iv.tick());
    co_return ticks;
  };
  auto ticks = rt.block_on(main());
  for (std::size_t i = 1; i < ticks.size(); ++i) EXPECT_EQ(ticks[i] - ticks[i - 1], 2ms);
}

namespace {
// Starts an interval, stalls for 3.5 periods, then takes 3 ticks; returns the tick times
// relative to the start.
Task<std::vector<Clock::duration>> stalled(MissedTick policy) {
  auto start = Clock::now();
  Interval iv = *Interval::make(10ms, policy, start + 10ms);
  std::this_thread::sleep_for(35ms);  // the consumer falls behind
  std::vector<Clock::duration> out;
  for (int i = 0; i < 3; ++i) {
    auto t = co_await iv.tick();
    out.push_back(t - start);
  }
  co_return out;
}
}  // namespace

TEST(Interval, BurstCatchesUp) {
  Runtime rt;
  auto t = rt.block_on(stalled(MissedTick::burst));
  EXPECT_EQ(t[0], 10ms);
  EXPECT_EQ(t[1], 20ms);  // fired back to back
  EXPECT_EQ(t[2], 30ms);
}

TEST(Interval, DelayRestartsFromLateTick) {
  Runtime rt;
  auto t = rt.block_on(stalled(MissedTick::delay));
  EXPECT_EQ(t[0], 10ms);
  EXPECT_GE(t[1], 45ms);  // one period after the late (>= 35 ms) tick
  EXPECT_GE(t[2] - t[1], 10ms);
}

TEST(Interval, SkipDropsMissedTicks) {
  Runtime rt;
  auto t = rt.block_on(stalled(MissedTick::skip));
  EXPECT_EQ(t[0], 10ms);
  EXPECT_EQ(t[1], 40ms);  // 20 and 30 were skipped; stays on the 10 ms grid
  EXPECT_EQ(t[2], 50ms);
}

TEST(Interval, NonPositivePeriodIsAnError) {
  for (auto policy : {MissedTick::burst, MissedTick::delay, MissedTick::skip}) {
    auto zero = Interval::make(0ms, policy);
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error(), IntervalError::NonPositivePeriod);
    auto negative = Interval::make(-1ms, policy, Clock::now());
    ASSERT_FALSE(negative);
    EXPECT_EQ(negative.error(), IntervalError::NonPositivePeriod);
  }
  // The smallest positive period is accepted and ticks advance by it.
  Runtime rt;
  auto ticks = rt.block_on([]() -> Task<std::vector<Clock::time_point>> {
    auto iv = Interval::make(Clock::duration(1), MissedTick::skip);
    std::vector<Clock::time_point> out;
    if (!iv) co_return out;
    for (int i = 0; i < 3; ++i) out.push_back(co_await iv->tick());
    co_return out;
  }());
  ASSERT_EQ(ticks.size(), 3u);
  EXPECT_LT(ticks[0], ticks[1]);
  EXPECT_LT(ticks[1], ticks[2]);
}
