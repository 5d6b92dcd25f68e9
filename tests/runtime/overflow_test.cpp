// Overflow and misuse (issue 13, section 5):
// * durations that overflow a signed nanosecond addition (nanoseconds::max(), hours::max())
//   mean "forever": sleep_for does not return, timeout never fires, shutdown waits for every
//   task, Interval never ticks again; before 2026-11-29 they returned at once (UBSan: signed
//   overflow) and timeout aborted its task;
// * a second task waiting on one Notify stops with a message (it used to replace the first,
//   which then spun the runtime's destructor at 100 % CPU forever);
// * allocation failures of a local channel are OutOfMemory, not std::bad_alloc.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

using namespace sluice;
using namespace std::chrono_literals;

// Huge allocations in OutOfMemory tests must come back as nullptr under ASan and TSan too.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
extern "C" const char* __tsan_default_options() { return "allocator_may_return_null=1"; }

namespace {

using std::chrono::hours;
using std::chrono::nanoseconds;

TEST(Saturation, SatAdd) {
  const auto now = Clock::now();
  EXPECT_EQ(detail::sat_add(now, nanoseconds::max()), detail::kNever);
  EXPECT_EQ(detail::sat_add(now, hours::max()), detail::kNever);
  EXPECT_EQ(detail::sat_add(now, std::chrono::duration<double>(1e300)), detail::kNever);
  EXPECT_EQ(detail::sat_add(now, std::chrono::duration<double>(std::nan(""))), detail::kNever);
  // Durations within 1 ms of the representable range count as unbounded (see deadline.hpp).
  EXPECT_EQ(detail::sat_add(now, nanoseconds::min()), Clock::time_point::min());
  EXPECT_EQ(detail::sat_add(now, -hours(1000)), now - hours(1000));
  EXPECT_EQ(detail::sat_add(now, hours::min()), Clock::time_point::min());
  EXPECT_EQ(detail::sat_add(now, 5ms), now + 5ms);
  EXPECT_EQ(detail::sat_add(now, -5ms), now - 5ms);
  EXPECT_EQ(detail::sat_add(detail::kNever, 1ns), detail::kNever);
  // Short of the last millisecond, additions are exact; within it they count as never.
  const auto room = Clock::time_point::max() - now;
  EXPECT_EQ(detail::sat_add(now, room - 1s), Clock::time_point::max() - 1s);
  EXPECT_EQ(detail::sat_add(now, room - 1ns), detail::kNever);
}

// A floating duration whose exact sum is just below the clock's end but whose conversion (done
// in double) rounds past it must not wrap: within 1 ms of the end counts as never.
TEST(Saturation, SatAddFloatingNearTheEndDoesNotWrap) {
  double x = 9.2e9;  // seconds
  int checked = 0;
  for (int i = 0; i < 100000 && checked < 50; ++i, x = std::nextafter(x, 0.0)) {
    const long double exact = static_cast<long double>(x) * 1e9L;
    const double rounded = x * 1e9;  // what duration_cast computes
    if (static_cast<long double>(rounded) - exact < 2) continue;
    const auto at = static_cast<int64_t>(static_cast<long double>(INT64_MAX) - exact) - 1;
    const Clock::time_point t{std::chrono::nanoseconds(at)};
    const auto r = detail::sat_add(t, std::chrono::duration<double>(x));
    EXPECT_TRUE(r == detail::kNever || r > t) << "wrapped to " << r.time_since_epoch().count();
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(Saturation, ShutdownAndIntervalTakeAnyDurationType) {
  Runtime rt;
  rt.spawn([]() -> Task<> { co_await sleep_for(20ms); }()).detach();
  const auto report = rt.shutdown(hours::max());  // converted to nanoseconds, it overflowed
  EXPECT_TRUE(report.quiesced()) << report.tasks_alive << " alive";
  auto iv = Interval::make(hours::max());
  ASSERT_TRUE(iv);
  EXPECT_EQ(iv->next_deadline(), detail::kNever);
  EXPECT_EQ(iv->period(), Clock::duration::max());
  EXPECT_FALSE(Interval::make(std::chrono::duration<double>(std::nan(""))));
}

// skip with a first tick far in the past: the next tick is the first on the grid after now
// (now - first does not fit a signed count; it used to overflow and fire without end).
TEST(Saturation, IntervalSkipFromTheFarPast) {
  Runtime rt;
  auto iv = Interval::make(1ms, MissedTick::skip, Clock::time_point::min());
  ASSERT_TRUE(iv);
  const auto next = rt.block_on([](Interval* iv) -> Task<Clock::time_point> {
    (void)co_await iv->tick();  // fires at once
    co_return iv->next_deadline();
  }(&*iv));
  const auto now = Clock::now();
  EXPECT_GT(next, now - 2ms);
  EXPECT_LE(next, now + 1ms);
}

TEST(Saturation, SleepForMaxSleepsUntilAborted) {
  Runtime rt;
  for (auto d : {nanoseconds::max(), nanoseconds::max() - 1ns}) {
    auto r = rt.block_on([](nanoseconds d) -> Task<Result<void, TimeoutError>> {
      co_return co_await timeout(20ms, [](nanoseconds d) -> Task<> { co_await sleep_for(d); }(d));
    }(d));
    EXPECT_FALSE(r) << "sleep_for(" << d.count() << "ns) returned at once";
  }
  auto r = rt.block_on([]() -> Task<Result<void, TimeoutError>> {
    co_return co_await timeout(20ms, []() -> Task<> { co_await sleep_for(hours::max()); }());
  }());
  EXPECT_FALSE(r);
  EXPECT_TRUE(rt.timers().empty());  // the aborted sleep armed nothing, left nothing
}

TEST(Saturation, TimeoutMaxNeverFires) {
  Runtime rt;
  auto r = rt.block_on([]() -> Task<Result<int, TimeoutError>> {
    co_return co_await timeout(nanoseconds::max(), []() -> Task<int> {
      co_await sleep_for(5ms);
      co_return 7;
    }());
  }());
  ASSERT_TRUE(r) << "timeout(max) fired";
  EXPECT_EQ(*r, 7);
  auto r2 = rt.block_on([]() -> Task<Result<int, TimeoutError>> {
    co_return co_await timeout(hours::max(), []() -> Task<int> { co_return 8; }());
  }());
  ASSERT_TRUE(r2);
  EXPECT_EQ(*r2, 8);
}

TEST(Saturation, ShutdownMaxWaitsForEveryTask) {
  Runtime rt;
  rt.block_on([]() -> Task<> {
    spawn([]() -> Task<> { co_await sleep_for(10ms); }()).detach();
    co_return;
  }());
  const auto t0 = Clock::now();
  auto report = rt.shutdown(nanoseconds::max());
  EXPECT_TRUE(report.quiesced());
  EXPECT_GE(Clock::now() - t0, 9ms);
}

TEST(Saturation, IntervalWithAHugePeriodNeverTicksAgain) {
  Runtime rt;
  auto iv = Interval::make(std::chrono::duration_cast<Clock::duration>(nanoseconds::max()),
                           MissedTick::skip, Clock::now());
  ASSERT_TRUE(iv);
  auto first = rt.block_on([](Interval* iv) -> Task<Clock::time_point> {
    co_return co_await iv->tick();  // the first tick is now
  }(&*iv));
  EXPECT_LE(first, Clock::now());
  EXPECT_EQ(iv->next_deadline(), detail::kNever);
  auto r = rt.block_on([](Interval* iv) -> Task<Result<Clock::time_point, TimeoutError>> {
    co_return co_await timeout(
        10ms, [](Interval* iv) -> Task<Clock::time_point> { co_return co_await iv->tick(); }(iv));
  }(&*iv));
  EXPECT_FALSE(r);
  for (auto policy : {MissedTick::burst, MissedTick::delay}) {
    auto iv2 = Interval::make(Clock::duration::max(), policy);
    ASSERT_TRUE(iv2);
    EXPECT_EQ(iv2->next_deadline(), detail::kNever);
  }
}

// ---------------------------------------------------------------- Notify misuse

// Two tasks suspended on one Notify: on a parking runtime (registered waiters) and on a busy
// one (polled waiters) alike.
void two_waiters(IdlePolicy policy) {
  Runtime rt(RuntimeConfig{policy});
  Notify n;
  rt.block_on([](Notify* n) -> Task<> {
    auto a = spawn([](Notify* n) -> Task<> { co_await n->wait(); }(n));
    auto b = spawn([](Notify* n) -> Task<> { co_await n->wait(); }(n));
    co_await yield_now();
  }(&n));
}
TEST(NotifyMisuseDeathTest, ASecondWaiterStopsWithAMessage) {
  EXPECT_DEATH(two_waiters(IdlePolicy::park()), "sluice: Notify: a second task waits");
  EXPECT_DEATH(two_waiters(IdlePolicy::busy_poll()), "sluice: Notify: a second task waits");
}

#if !SLUICE_CHECKED
// Misuse that checked builds stop (checked_test.cpp): a try_acquire while a claimed waiter has
// not resumed yet takes the same notify. Unchecked, the count must still never run ahead of
// the notifies: no later wait may complete without a notify.
TEST(NotifyMisuse, TryAcquireBesideAClaimedWaiterLeavesNoPhantomPermit) {
  Runtime rt;
  Notify n;
  const int r = rt.block_on([](Notify* n) -> Task<int> {
    auto a = spawn([](Notify* n) -> Task<> { co_await n->wait(); }(n));
    co_await yield_now();  // registered
    n->notify();           // claims it: its wake is in the inbox
    (void)n->try_acquire();
    (void)co_await a;
    co_return n->try_acquire() ? 1 : 0;
  }(&n));
  EXPECT_EQ(r, 0) << "a permit with no notify behind it";
}
#endif

// One waiter after another is fine, including after an aborted one.
TEST(NotifyMisuse, SuccessiveWaitersAreFine) {
  Runtime rt;
  Notify n;
  rt.block_on([](Notify* n) -> Task<> {
    auto a = spawn([](Notify* n) -> Task<> { co_await n->wait(); }(n));
    co_await yield_now();
    EXPECT_TRUE(a.abort());
    auto b = spawn([](Notify* n) -> Task<> { co_await n->wait(); }(n));
    co_await yield_now();
    std::thread([n] { n->notify(); }).join();
    (void)co_await b;
    auto c = spawn([](Notify* n) -> Task<> { co_await n->wait(); }(n));
    co_await yield_now();
    n->notify();
    (void)co_await c;
  }(&n));
}

// ---------------------------------------------------------------- allocation failures

struct Big {
  char bytes[1 << 16];
};
TEST(AllocationFailure, LocalChannelIsOutOfMemoryNotBadAlloc) {
  auto ch = local::channel<Big>(std::size_t{1} << 31);  // 2^31 * 64 KiB: cannot be had
  ASSERT_FALSE(ch);
  EXPECT_EQ(ch.error(), ChannelError::OutOfMemory);
}

}  // namespace
