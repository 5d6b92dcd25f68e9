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
