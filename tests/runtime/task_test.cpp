// Task, spawn, JoinHandle, yield_now, abort, exceptions, deep chains, idle policies.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace sluice;

namespace {

Task<int> answer() { co_return 42; }
Task<int> add_one(Task<int> t) { co_return 1 + co_await std::move(t); }
Task<> thrower() {
  throw std::runtime_error("boom");
  co_return;
}
Task<long> chain(long n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await chain(n - 1);
}

class TaskTest : public ::testing::TestWithParam<IdlePolicy> {};

}  // namespace

TEST(Task, BlockOnReturnsValue) {
  Runtime rt;
  EXPECT_EQ(rt.block_on(answer()), 42);
  EXPECT_EQ(rt.block_on(add_one(add_one(answer()))), 44);
}

TEST(Task, LazyUntilAwaited) {
  Runtime rt;
  bool ran = false;
  auto make = [&]() -> Task<> {
    ran = true;
    co_return;
  };
  {
    Task<> t = make();
    EXPECT_FALSE(ran);
  }  // destroyed unstarted: no leak (ASan checks)
  EXPECT_FALSE(ran);
  rt.block_on(make());
  EXPECT_TRUE(ran);
}

TEST(Task, ExceptionPropagatesToAwaiter) {
  Runtime rt;
  auto outer = []() -> Task<std::string> {
    try {
      co_await thrower();
    } catch (const std::runtime_error& e) {
      co_return std::string("caught ") + e.what();
    }
    co_return "no";
  };
  EXPECT_EQ(rt.block_on(outer()), "caught boom");
  EXPECT_THROW(rt.block_on(thrower()), std::runtime_error);
}

TEST(Task, MoveOnlyResult) {
  Runtime rt;
  auto f = []() -> Task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); };
  auto p = rt.block_on(f());
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 7);
}

TEST(Task, MillionDeepChainDoesNotOverflowStack) {
  Runtime rt;
  EXPECT_EQ(rt.block_on(chain(1000000)), 1000000);
  // Most of the chain overflowed the slab and was counted, not lost.
  EXPECT_GT(rt.counters().slab_misses, 0u);
}

TEST(Spawn, JoinHandleReturnsValue) {
  Runtime rt;
  auto main = []() -> Task<int> {
    auto h = spawn(answer());
    EXPECT_FALSE(h.is_finished());
    auto r = co_await h;
    EXPECT_TRUE(h.is_finished());
    co_return r.value();
  };
  EXPECT_EQ(rt.block_on(main()), 42);
  EXPECT_EQ(rt.live_tasks(), 0u);
}

TEST(Spawn, ExceptionThroughJoinHandle) {
  Runtime rt;
  auto main = []() -> Task<bool> {
    auto h = spawn(thrower());
    try {
      (void)co_await h;
    } catch (const std::runtime_error&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(rt.block_on(main()));
}

TEST(Spawn, DetachedTaskRunsToCompletion) {
  Runtime rt;
  int done = 0;
  auto work = [](int* d) -> Task<> {
    co_await yield_now();
    co_await yield_now();
    ++*d;
  };
  auto main = [&]() -> Task<> {
    for (int i = 0; i < 10; ++i) spawn(work(&done)).detach();
    { auto h = spawn(work(&done)); }  // dropped: detached by destruction
    for (int i = 0; i < 5; ++i) co_await yield_now();
  };
  rt.block_on(main());
  EXPECT_EQ(done, 11);
  EXPECT_EQ(rt.live_tasks(), 0u);
}

TEST(Spawn, AbortSuspendedTaskRunsDestructors) {
  Runtime rt;
  struct Guard {
    int* n;
    ~Guard() { ++*n; }
  };
  int destroyed = 0;
  int finished = 0;
  auto victim = [](int* d, int* f) -> Task<int> {
    Guard g{d};
    for (;;) co_await yield_now();
    ++*f;
    co_return 1;
  };
  auto main = [&]() -> Task<> {
    auto h = spawn(victim(&destroyed, &finished));
    co_await yield_now();
    co_await yield_now();
    EXPECT_TRUE(h.abort());
    EXPECT_TRUE(h.is_finished());
    EXPECT_TRUE(h.is_aborted());
    EXPECT_FALSE(h.abort());  // second abort is a no-op
    auto r = co_await h;
    EXPECT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), JoinError::Aborted);
  };
  rt.block_on(main());
  EXPECT_EQ(destroyed, 1);
  EXPECT_EQ(finished, 0);
  EXPECT_EQ(rt.live_tasks(), 0u);
}

TEST(Spawn, AbortWakesJoiner) {
  Runtime rt;
  auto sleeper = []() -> Task<int> {
    for (;;) co_await yield_now();
    co_return 0;
  };
  auto main = [&]() -> Task<bool> {
    auto h = spawn(sleeper());
    auto joiner = spawn([](JoinHandle<int>* h) -> Task<bool> {
      auto r = co_await *h;
      co_return !r.has_value() && r.error() == JoinError::Aborted;
    }(&h));
    co_await yield_now();
    h.abort();
    auto r = co_await joiner;
    co_return r.value();
  };
  EXPECT_TRUE(rt.block_on(main()));
}

TEST(Spawn, AbortFinishedTaskIsNoop) {
  Runtime rt;
  auto main = []() -> Task<int> {
    auto h = spawn(answer());
    co_await yield_now();
    co_await yield_now();
    EXPECT_TRUE(h.is_finished());
    EXPECT_FALSE(h.abort());
    auto r = co_await h;
    co_return r.value();
  };
  EXPECT_EQ(rt.block_on(main()), 42);
}

TEST(Spawn, YieldInterleavesFifo) {
  Runtime rt;
  std::vector<int> order;
  auto worker = [](std::vector<int>* o, int id) -> Task<> {
    for (int i = 0; i < 3; ++i) {
      o->push_back(id);
      co_await yield_now();
    }
  };
  auto main = [&]() -> Task<> {
    auto a = spawn(worker(&order, 1));
    auto b = spawn(worker(&order, 2));
    (void)co_await a;
    (void)co_await b;
  };
  rt.block_on(main());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 1, 2, 1, 2}));
}

TEST(Runtime, CurrentIsSetInsideTasks) {
  Runtime rt;
  auto f = [](Runtime* expect) -> Task<bool> { co_return Runtime::current() == expect; };
  EXPECT_TRUE(rt.block_on(f(&rt)));
}

TEST(Runtime, CountersTrackPollsAndWakes) {
  Runtime rt;
  auto f = []() -> Task<> {
    for (int i = 0; i < 10; ++i) co_await yield_now();
  };
  rt.block_on(f());
  EXPECT_GE(rt.counters().polls, 11u);
  EXPECT_GE(rt.counters().local_wakes, 11u);
}

TEST(Runtime, DestroyingRuntimeDestroysLeftoverTasks) {
  int destroyed = 0;
  struct Guard {
    int* n;
    ~Guard() { ++*n; }
  };
  {
    Runtime rt;
    auto forever = [](int* d) -> Task<> {
      Guard g{d};
      for (;;) co_await yield_now();
    };
    auto main = [&]() -> Task<> {
      spawn(forever(&destroyed)).detach();
      co_await yield_now();
    };
    rt.block_on(main());
    EXPECT_EQ(rt.live_tasks(), 1u);
  }
  EXPECT_EQ(destroyed, 1);
}

TEST_P(TaskTest, SpawnManyUnderEachIdlePolicy) {
  RuntimeConfig cfg;
  cfg.idle = GetParam();
  Runtime rt(cfg);
  auto main = []() -> Task<long> {
    std::vector<JoinHandle<int>> hs;
    for (int i = 0; i < 1000; ++i) hs.push_back(spawn(answer()));
    long sum = 0;
    for (auto& h : hs) sum += (co_await h).value();
    co_return sum;
  };
  EXPECT_EQ(rt.block_on(main()), 42000);
}

INSTANTIATE_TEST_SUITE_P(Policies, TaskTest,
                         ::testing::Values(IdlePolicy::busy_poll(), IdlePolicy::spin_then_park(100),
                                           IdlePolicy::park()));

// ---- direct transfers: an awaited task that is next in the queue starts at once, and a
// finished task resumes its joiner directly (both bounded by the batch budget)

TEST(Spawn, AwaitedTaskNextInQueueStartsInPlaceAndKeepsOrder) {
  Runtime rt;
  std::vector<int> order;
  auto step = [](std::vector<int>* o, int id) -> Task<int> {
    o->push_back(id);
    co_return id;
  };
  auto main = [&]() -> Task<> {
    auto a = spawn(step(&order, 1));
    auto b = spawn(step(&order, 2));
    // b is not at the head of the queue: awaiting it must not let it overtake a.
    EXPECT_EQ((co_await b).value(), 2);
    EXPECT_TRUE(a.is_finished());
    EXPECT_EQ((co_await a).value(), 1);
    order.push_back(3);
    auto c = spawn(step(&order, 4));
    EXPECT_EQ((co_await c).value(), 4);  // c is the head: it starts here
    order.push_back(5);
  };
  uint64_t polls_before = rt.counters().polls;
  rt.block_on(main());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_GE(rt.counters().polls - polls_before, 4u);  // every start and resume is a poll
  EXPECT_EQ(rt.live_tasks(), 0u);
}

TEST(Spawn, InPlaceStartedTaskThatSuspendsStillCompletesItsJoin) {
  Runtime rt;
  auto [tx, rx] = local::channel<int>(1).value();
  auto waiter = [](local::Receiver<int>* rx) -> Task<int> {
    co_return (co_await rx->recv()).value();
  };
  auto main = [&]() -> Task<int> {
    auto feeder = spawn([](local::Sender<int> tx) -> Task<> {
      co_await yield_now();
      (void)co_await tx.send(77);
    }(std::move(tx)));
    auto h = spawn(waiter(&rx));
    int v = (co_await h).value();
    (void)co_await feeder;
    co_return v;
  };
  EXPECT_EQ(rt.block_on(main()), 77);
}

TEST(Spawn, ExceptionThroughInPlaceStartedTask) {
  Runtime rt;
  auto main = []() -> Task<int> {
    int caught = 0;
    for (int i = 0; i < 200; ++i) {  // past the batch budget: both paths
      try {
        (void)co_await spawn(thrower());
      } catch (const std::runtime_error&) {
        ++caught;
      }
    }
    co_return caught;
  };
  EXPECT_EQ(rt.block_on(main()), 200);
  EXPECT_EQ(rt.live_tasks(), 0u);
}

TEST(Spawn, JoinerAbortedWhileInPlaceStartedTaskIsSuspended) {
  Runtime rt;
  auto [tx, rx] = local::channel<int>(1).value();
  int done = 0;
  auto inner = [](local::Receiver<int>* rx, int* d) -> Task<int> {
    int v = (co_await rx->recv()).value();
    ++*d;
    co_return v;
  };
  auto outer = [&](local::Receiver<int>* rx) -> Task<int> {
    co_return (co_await spawn(inner(rx, &done))).value();  // inner starts in place
  };
  auto main = [&]() -> Task<> {
    auto o = spawn(outer(&rx));
    co_await yield_now();  // outer ran, inner started and is waiting in recv
    EXPECT_FALSE(o.is_finished());
    EXPECT_TRUE(o.abort());  // the joiner goes away first; inner keeps running detached
    EXPECT_TRUE(tx.try_send(5));
    co_await yield_now();
    co_await yield_now();
  };
  rt.block_on(main());
  EXPECT_EQ(done, 1);
  EXPECT_EQ(rt.live_tasks(), 0u);
}

TEST(Spawn, SpawnJoinLoopDoesNotStarveTimers) {
  // A task that only ever spawns and joins never yields; the batch budget must still let the
  // runtime check its timers, so the sleeper wakes while the loop runs.
  RuntimeConfig cfg;
  cfg.idle = IdlePolicy::busy_poll();
  Runtime rt(cfg);
  bool woke = false;
  auto main = [&]() -> Task<long> {
    auto s = spawn([](bool* w) -> Task<> {
      co_await sleep_for(std::chrono::milliseconds(1));
      *w = true;
    }(&woke));
    long n = 0;
    while (!woke && n < 50'000'000) {
      n += (co_await spawn(answer())).value() > 0 ? 1 : 0;
    }
    (void)co_await s;
    co_return n;
  };
  long n = rt.block_on(main());
  EXPECT_TRUE(woke);
  EXPECT_LT(n, 50'000'000);
  EXPECT_GT(rt.counters().timers_fired, 0u);
}

namespace {
struct CountOnDestroy {
  int* n;
  ~CountOnDestroy() { ++*n; }
};
Task<> spin_forever(int* destroyed) {
  CountOnDestroy g{destroyed};
  for (;;) co_await yield_now();
}
Task<> spin_forever_big(int* destroyed) {  // a frame larger than the biggest slab class
  CountOnDestroy g{destroyed};
  volatile char pad[4096];
  pad[0] = 1;
  for (;;) co_await yield_now();
  pad[1] = pad[0];
}
// Holds a share of `token` in its frame (a parameter): the frame's destruction drops it even
// if the body never ran.
Task<> hold_forever(std::shared_ptr<int> token) {
  for (;;) co_await yield_now();
  (void)token;
}
// Destroyed during teardown, it spawns one more task: the teardown walk must find that too.
struct RespawnOnDestroy {
  int* destroyed;
  std::shared_ptr<int> token;
  ~RespawnOnDestroy() {
    ++*destroyed;
    spawn(hold_forever(token)).detach();
  }
};
Task<> respawner(int* destroyed, std::shared_ptr<int> token) {
  RespawnOnDestroy r{destroyed, std::move(token)};
  for (;;) co_await yield_now();
}
}  // namespace

TEST(Runtime, TeardownFindsLiveTasksOnSlabAndHeapFrames) {
  int destroyed = 0;
  auto token = std::make_shared<int>(0);
  {
    Runtime rt;
    auto main = [&]() -> Task<> {
      for (int i = 0; i < 300; ++i) spawn(spin_forever(&destroyed)).detach();
      for (int i = 0; i < 3; ++i) spawn(spin_forever_big(&destroyed)).detach();
      spawn(respawner(&destroyed, token)).detach();
      co_await yield_now();
    };
    rt.block_on(main());
    EXPECT_EQ(rt.live_tasks(), 304u);
    EXPECT_EQ(rt.counters().slab_misses, 3u);
  }
  EXPECT_EQ(destroyed, 300 + 3 + 1);
  EXPECT_EQ(token.use_count(), 1);  // the frame spawned during teardown was destroyed too
}

// ---------------------------------------------------------------- spawn errors and misuse

TEST(SpawnErrors, TrySpawnHandsBackAnEmptyTask) {
  Runtime rt;
  Task<int> empty;
  auto r = rt.try_spawn(std::move(empty));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, SpawnErrc::EmptyTask);
  EXPECT_FALSE(r.error().task.valid());
  EXPECT_STREQ(to_string(SpawnErrc::EmptyTask), "empty task");
  EXPECT_FALSE(rt.can_spawn(Task<int>{}));
  EXPECT_EQ(rt.live_tasks(), 0u);
}

// A frame carved from runtime a's slab may only run on a: b refuses it and hands it back
// unstarted, and a then runs it to its value. Nothing is lost or run twice.
TEST(SpawnErrors, TrySpawnHandsBackATaskFromAnotherRuntimesSlab) {
  Runtime a;
  Runtime b;
  int runs = 0;
  auto make = [&runs]() -> Task<int> {
    ++runs;
    co_return 7;
  };
  // Made while a runs, so its frame comes from a's slab.
  Task<int> t = a.block_on([](decltype(make)* mk) -> Task<Task<int>> { co_return (*mk)(); }(&make));
  EXPECT_TRUE(a.can_spawn(t));
  EXPECT_FALSE(b.can_spawn(t));
  auto r = b.try_spawn(std::move(t));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, SpawnErrc::ForeignFrame);
  EXPECT_EQ(b.live_tasks(), 0u);
  EXPECT_EQ(runs, 0);
  Task<int> back = std::move(r.error().task);
  ASSERT_TRUE(back.valid());
  int v = a.block_on([](Task<int> t) -> Task<int> {
    auto h = try_spawn(std::move(t));  // the free form, on a's thread and inside a
    if (!h) co_return -1;
    co_return (co_await *h).value();
  }(std::move(back)));
  EXPECT_EQ(v, 7);
  EXPECT_EQ(runs, 1);
}

// Frames made where no runtime is current come from the heap and may run anywhere.
TEST(SpawnErrors, FreeTrySpawnWithoutARuntimeHandsTheTaskBack) {
  int v = 0;
  SpawnErrc code{};
  std::thread th([&] {
    ASSERT_EQ(Runtime::current(), nullptr);
    auto r = try_spawn(answer());
    ASSERT_FALSE(r);
    code = r.error().code;
    Runtime rt;
    EXPECT_TRUE(rt.can_spawn(r.error().task));
    v = rt.block_on(std::move(r.error().task));
  });
  th.join();
  EXPECT_EQ(code, SpawnErrc::NoRuntime);
  EXPECT_EQ(v, 42);
}

// Misuse that would corrupt memory or re-enter the run loop ends the process with a message
// saying what went wrong (detail::fatal), rather than crashing somewhere later.
class SpawnDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(SpawnDeathTest, SpawnOfAForeignFrameSaysSo) {
  EXPECT_DEATH(
      {
        Runtime a;
        Runtime b;
        // Made while a runs: the frame comes from a's slab.
        Task<int> t = a.block_on([]() -> Task<Task<int>> { co_return answer(); }());
        auto h = b.spawn(std::move(t));
        (void)h;
      },
      "sluice: spawn/block_on: the task's frame belongs to another runtime's slab");
}

TEST_F(SpawnDeathTest, BlockOnInsideItsOwnRuntimeSaysSo) {
  EXPECT_DEATH(
      {
        Runtime rt;
        rt.block_on([](Runtime* rt) -> Task<> {
          (void)rt->block_on(answer());
          co_return;
        }(&rt));
      },
      "sluice: block_on: this runtime is already running");
}

TEST_F(SpawnDeathTest, ShutdownFromOneOfItsTasksSaysSo) {
  EXPECT_DEATH(
      {
        Runtime rt;
        rt.block_on([](Runtime* rt) -> Task<> {
          (void)rt->shutdown(std::chrono::milliseconds(1));
          co_return;
        }(&rt));
      },
      "sluice: shutdown: this runtime is running");
}

TEST_F(SpawnDeathTest, BlockOnAnEmptyTaskSaysSo) {
  EXPECT_DEATH(
      {
        Runtime rt;
        rt.block_on(Task<int>{});
      },
      "sluice: block_on: the Task is empty");
}
