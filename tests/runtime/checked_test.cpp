// SLUICE_CHECKED builds stop with a message when a runtime-owned object is used from a thread
// that does not run its runtime. This file is compiled with SLUICE_CHECKED=1 in every build
// (the checks are header-only, so this binary carries them whatever the library's build type);
// Release builds of user code carry none of them (perf/RESULTS.md: callgrind before/after).
// Before 2026-11-29 a local channel used from two runtimes' threads raced or hung silently.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <thread>

static_assert(SLUICE_CHECKED, "this test must be built with SLUICE_CHECKED=1");

using namespace sluice;

namespace {

Task<int> one() { co_return 1; }

TEST(CheckedDeathTest, LocalChannelUsedFromTwoThreads) {
  EXPECT_DEATH(
      {
        auto ch = std::move(*local::channel<int>(4));
        (void)ch.tx.try_send(1);  // binds the channel to this thread
        std::thread([&] { (void)ch.rx.try_recv(); }).join();
      },
      "sluice: local::channel used from two threads");
}

TEST(CheckedDeathTest, LocalChannelAwaitedFromAnotherRuntimesThread) {
  EXPECT_DEATH(
      {
        auto ch = std::move(*local::channel<int>(4));
        Runtime a;
        a.block_on([](local::Receiver<int>* rx) -> Task<> {
          (void)rx->try_recv();  // binds to this thread
          co_return;
        }(&ch.rx));
        std::thread([&] {
          Runtime b;
          b.block_on([](local::Sender<int>* tx) -> Task<> { (void)co_await tx->send(1); }(&ch.tx));
        }).join();
      },
      "sluice: local::channel used from two threads");
}

TEST(CheckedDeathTest, SpawnFromAnotherThread) {
  EXPECT_DEATH(
      {
        Runtime rt;
        std::thread([&] {
          Runtime* r = &rt;
          auto t = []() -> Task<int> { co_return 1; }();  // a heap frame: not a foreign frame
          (void)r->spawn(std::move(t));
        }).join();
      },
      "sluice: spawn: called from a thread that is not the runtime's");
}

TEST(CheckedDeathTest, SpawnOfAnEmptyTask) {
  EXPECT_DEATH(
      {
        Runtime rt;
        (void)rt.spawn(Task<int>());
      },
      "sluice: spawn: the Task is empty");
}

TEST(CheckedDeathTest, AbortFromAnotherThread) {
  EXPECT_DEATH(
      {
        Runtime rt;
        JoinHandle<int> h;
        rt.block_on([](JoinHandle<int>* h) -> Task<> {
          *h = spawn([]() -> Task<int> {
            co_await yield_now();
            co_return 1;
          }());
          co_return;
        }(&h));
        std::thread([&] { (void)h.abort(); }).join();
      },
      "sluice: JoinHandle::abort: called from a thread that is not the runtime's");
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

}  // namespace
