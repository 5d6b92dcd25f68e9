// CancellationToken (children, waiters, abort of a waiter) and Runtime::shutdown.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <chrono>

using namespace sluice;
using namespace std::chrono_literals;

TEST(Cancellation, ParentCancelsChildrenNotViceVersa) {
  CancellationToken root;
  auto a = root.child();
  auto b = a.child();
  auto c = root.child();
  c.cancel();
  EXPECT_TRUE(c.is_cancelled());
  EXPECT_FALSE(root.is_cancelled());
  EXPECT_FALSE(a.is_cancelled());
  root.cancel();
  EXPECT_TRUE(a.is_cancelled());
  EXPECT_TRUE(b.is_cancelled());
  auto late = root.child();  // child of a cancelled token is born cancelled
  EXPECT_TRUE(late.is_cancelled());
  root.cancel();  // idempotent
}

TEST(Cancellation, WaitersWakeOnCancel) {
  Runtime rt;
  CancellationToken tok;
  int woke = 0;
  auto waiter = [](CancellationToken t, int* w) -> Task<> {
    co_await t.cancelled();
    ++*w;
  };
  auto main = [&]() -> Task<> {
    auto child = tok.child();
    auto h1 = spawn(waiter(tok, &woke));
    auto h2 = spawn(waiter(child, &woke));
    co_await yield_now();
    EXPECT_EQ(woke, 0);
    tok.cancel();
    (void)co_await h1;
    (void)co_await h2;
  };
  rt.block_on(main());
  EXPECT_EQ(woke, 2);
}

TEST(Cancellation, AbortedWaiterUnregisters) {
  Runtime rt;
  CancellationToken tok;
  auto main = [&]() -> Task<> {
    auto h = spawn([](CancellationToken t) -> Task<> { co_await t.cancelled(); }(tok));
    co_await yield_now();
    h.abort();
    tok.cancel();  // must not touch the aborted waiter
    co_await yield_now();
  };
  rt.block_on(main());
  EXPECT_EQ(rt.live_tasks(), 0u);
}

TEST(Shutdown, QuiescesCooperativeTasks) {
  Runtime rt;
  int stopped = 0;
  auto worker = [](CancellationToken t, int* s) -> Task<> {
    while (!t.is_cancelled()) co_await sleep_for(1ms);
    ++*s;
  };
  for (int i = 0; i < 5; ++i) rt.spawn(worker(rt.shutdown_token().child(), &stopped)).detach();
  auto report = rt.shutdown(1s);
  EXPECT_TRUE(report.quiesced());
  EXPECT_EQ(stopped, 5);
}

TEST(Shutdown, ReportsTasksStillAlive) {
  Runtime rt;
  auto stubborn = []() -> Task<> { co_await sleep_for(1h); };
  rt.spawn(stubborn()).detach();
  rt.spawn(stubborn()).detach();
  auto t0 = Clock::now();
  auto report = rt.shutdown(20ms);
  EXPECT_GE(Clock::now() - t0, 20ms);
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_EQ(report.tasks_alive, 2u);
  EXPECT_FALSE(report.quiesced());
}  // ~Runtime destroys the two stubborn tasks (ASan: no leak)

// until_cancelled: the task's value when it finishes first, Cancelled when the token fires
// first (the inner task aborted), and the token reusable across many calls. The third case
// used to free the token's state early (a braced awaiter temporary inside co_await, which
// g++ 12 destroyed twice): ASan reported a use-after-free on the second call.
TEST(UntilCancelled, ValueCancelAndReuse) {
  sluice::Runtime rt;
  rt.block_on([](sluice::Runtime* rt) -> sluice::Task<void> {
    sluice::CancellationToken tok;
    for (int i = 0; i < 5; ++i) {
      auto r =
          co_await sluice::until_cancelled(tok, [](int v) -> sluice::Task<int> { co_return v; }(i));
      EXPECT_TRUE(r);
      if (r) {
        EXPECT_EQ(*r, i);
      }
    }
    bool inner_ran_to_end = false;
    auto waiter = rt->spawn(sluice::until_cancelled(tok, [](bool* end) -> sluice::Task<void> {
      co_await sluice::sleep_for(std::chrono::hours(1));
      *end = true;
    }(&inner_ran_to_end)));
    co_await sluice::yield_now();
    tok.cancel();
    auto r = co_await waiter;
    EXPECT_TRUE(r);
    EXPECT_FALSE(*r);
    EXPECT_EQ(r->error(), sluice::CancelError::Cancelled);
    EXPECT_FALSE(inner_ran_to_end);
    auto late = co_await sluice::until_cancelled(tok, []() -> sluice::Task<int> { co_return 1; }());
    EXPECT_FALSE(late);  // an already-cancelled token: the task is not even started
  }(&rt));
}
