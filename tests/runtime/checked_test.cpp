// SLUICE_CHECKED builds stop with a message when a runtime-owned object is used from a thread
// that does not run its runtime. The checks are header-only, so this file turns them on for
// itself whatever the build's SLUICE_CHECKED (the library's runtime.cpp instantiates none of
// the checked templates); Release builds of user code carry none of them (perf/RESULTS.md:
// callgrind before/after). Before 2026-11-29 a local channel used by tasks on two runtimes'
// threads raced or hung silently.
//
// What is deliberately not checked (and tested as fine): a runtime that is not running may be
// handed between threads (made on one, spawned onto and run on another, then used by the
// first again after a join); a local channel filled outside any task before its runtime's
// thread starts.
#undef SLUICE_CHECKED
#define SLUICE_CHECKED 1

#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <atomic>
#include <thread>

using namespace sluice;
using namespace std::chrono_literals;

namespace {

Task<int> one() { co_return 1; }

// Runs rt on this thread until `go_on` says stop, while `other` runs on another thread.
template <class F>
void while_running(Runtime& rt, F other) {
  std::atomic<bool> done{false};
  rt.block_on([](std::atomic<bool>* done, F* other) -> Task<> {
    std::thread t([done, other] {
      (*other)();
      done->store(true);
    });
    while (!done->load()) co_await sleep_for(100us);
    t.join();
  }(&done, &other));
}

TEST(CheckedDeathTest, LocalChannelUsedByTasksOnTwoThreads) {
  EXPECT_DEATH(
      {
        auto ch = std::move(*local::channel<int>(4));
        Runtime a;
        a.block_on([](local::Receiver<int>* rx) -> Task<> {
          (void)rx->try_recv();  // binds the channel to this thread
          co_return;
        }(&ch.rx));
        std::thread([&] {
          Runtime b;
          b.block_on([](local::Sender<int>* tx) -> Task<> { (void)co_await tx->send(1); }(&ch.tx));
        }).join();
      },
      "sluice: local::channel used from two threads");
}

TEST(CheckedDeathTest, SpawnFromAnotherThreadWhileRunning) {
  EXPECT_DEATH(
      {
        Runtime rt;
        while_running(rt, [&rt] { (void)rt.spawn(one()); });
      },
      "sluice: spawn: called from a thread that is not the running runtime's");
}

TEST(CheckedDeathTest, SpawnOfAnEmptyTask) {
  EXPECT_DEATH(
      {
        Runtime rt;
        (void)rt.spawn(Task<int>());
      },
      "sluice: spawn: the Task is empty");
}

TEST(CheckedDeathTest, AbortFromAnotherThreadWhileRunning) {
  EXPECT_DEATH(
      {
        Runtime rt;
        JoinHandle<int> h;
        rt.block_on([](JoinHandle<int>* h) -> Task<> {
          *h = spawn([]() -> Task<int> {
            co_await sleep_for(1h);
            co_return 1;
          }());
          co_return;
        }(&h));
        while_running(rt, [&h] { (void)h.abort(); });
      },
      "sluice: JoinHandle::abort: called from a thread that is not the running runtime's");
}

TEST(CheckedDeathTest, NotifyTryAcquireWhileATaskWaits) {
  EXPECT_DEATH(
      {
        Runtime rt;
        Notify n;
        rt.block_on([](Notify* n) -> Task<> {
          auto w = spawn([](Notify* n) -> Task<> { co_await n->wait(); }(n));
          co_await yield_now();
          (void)n->try_acquire();
        }(&n));
      },
      "sluice: Notify::try_acquire: a task already waits on this Notify");
}

// The same objects used correctly pass the checks.
TEST(Checked, CorrectUsePasses) {
  Runtime rt;
  auto ch = std::move(*local::channel<int>(4));
  EXPECT_EQ(rt.block_on([](local::Channel<int>* ch) -> Task<int> {
    (void)co_await ch->tx.send(2);
    auto h = spawn(one());
    auto r = co_await h;
    auto v = co_await ch->rx.recv();
    co_return *r + *v;
  }(&ch)),
            3);
}

// Handing a runtime that is not running between threads is fine: made here, spawned onto and
// run on a worker, joined, then used here again.
TEST(Checked, ARuntimeThatIsNotRunningMayChangeThreads) {
  auto rt = std::move(*Runtime::make());
  std::thread([&] {
    auto h = rt->spawn(one());
    EXPECT_EQ(rt->block_on([](JoinHandle<int>* h) -> Task<int> { co_return *co_await *h; }(&h)), 1);
  }).join();
  auto h = rt->spawn(one());
  EXPECT_EQ(rt->block_on([](JoinHandle<int>* h) -> Task<int> { co_return *co_await *h; }(&h)), 1);
  std::thread([&] { rt.reset(); }).join();  // and destroyed on yet another thread
  EXPECT_EQ(Runtime::current(), nullptr);
}

// A local channel filled outside any task, then used by the tasks of a runtime on a worker.
TEST(Checked, LocalChannelFilledBeforeItsRuntimeThreadStarts) {
  auto ch = std::move(*local::channel<int>(4));
  EXPECT_TRUE(ch.tx.try_send(5));
  int got = 0;
  std::thread([&] {
    Runtime rt;
    got = rt.block_on(
        [](local::Receiver<int>* rx) -> Task<int> { co_return *co_await rx->recv(); }(&ch.rx));
  }).join();
  EXPECT_EQ(got, 5);
}

}  // namespace
