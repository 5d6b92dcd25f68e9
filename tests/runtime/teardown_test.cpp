// Nothing touches freed memory when a Runtime goes first, or when an endpoint goes while its own
// operation waits. Each case below wrote into freed memory (ASan) or raced (TSan) before
// 2026-11-29:
// * a JoinHandle that outlives its Runtime (the task destroyed unfinished by the runtime's
//   destructor): the handle reports JoinError::RuntimeGone and touches nothing;
// * a Task created on a runtime and never spawned, alive after that runtime: its frame stays
//   valid (an orphan), may be destroyed on any thread, or run by another runtime;
// * a Task handed back by try_spawn (ForeignFrame) and dropped on the wrong thread: its frame
//   goes back to its own runtime, which frees it;
// * a Receiver destroyed while its own recv() is suspended (local, spsc, mpsc, byte
//   channels, parking and busy-polling runtimes): the recv completes with Closed;
// * channel endpoints destroyed after the runtime their tasks ran on;
// * an exception escaping a detached task: counted, and handed to the configured handler.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

using namespace sluice;
using namespace std::chrono_literals;

namespace {

int test_rounds(int plain, int sanitized) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  (void)plain;
  return sanitized;
#else
  (void)sanitized;
  return plain;
#endif
}

Task<int> forever() {
  co_await sleep_for(1h);
  co_return 1;
}
Task<int> add(std::shared_ptr<int> p, int x) { co_return *p + x; }

// A task created while `rt` runs, so its frame comes from rt's slab; handed out unspawned.
template <class Make>
auto made_on(Runtime& rt, Make make) {
  using T = decltype(make());
  return rt.block_on([](Make make) -> Task<T> { co_return make(); }(std::move(make)));
}

// ---------------------------------------------------------------- JoinHandle

TEST(Teardown, JoinHandleOutlivesItsRuntime) {
  JoinHandle<int> jh;  // declared before the runtime, so destroyed after it
  {
    Runtime rt;
    rt.block_on([](JoinHandle<int>* jh) -> Task<> {
      *jh = spawn(forever());
      co_await yield_now();  // it sleeps
    }(&jh));
    EXPECT_FALSE(jh.is_finished());
  }  // destroys the task unfinished
  EXPECT_TRUE(jh.is_finished());
  EXPECT_FALSE(jh.is_aborted());
  EXPECT_FALSE(jh.abort());               // nothing left to abort
  JoinHandle<int> moved = std::move(jh);  // the outcome moves with the handle
  Runtime other;
  auto r = other.block_on(
      [](JoinHandle<int>* h) -> Task<Result<int, JoinError>> { co_return co_await *h; }(&moved));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), JoinError::RuntimeGone);
}  // the handles go last: they must not write into the freed slab (ASan)

TEST(Teardown, JoinHandleOfAHeapFrameOutlivesItsRuntime) {
  JoinHandle<int> jh;
  {
    RuntimeConfig cfg;
    for (auto& s : cfg.slab.slots) s = 0;  // every frame from the heap
    Runtime rt(cfg);
    rt.block_on([](JoinHandle<int>* jh) -> Task<> {
      *jh = spawn(forever());
      co_await yield_now();
    }(&jh));
  }
  EXPECT_TRUE(jh.is_finished());
}

// A handle whose task finished normally, or was aborted, is unaffected by its runtime going.
TEST(Teardown, FinishedAndAbortedHandlesOutliveTheirRuntime) {
  JoinHandle<int> done, aborted;
  {
    Runtime rt;
    rt.block_on([](JoinHandle<int>* done, JoinHandle<int>* aborted) -> Task<> {
      *done = spawn(add(std::make_shared<int>(1), 2));
      *aborted = spawn(forever());
      co_await yield_now();
      EXPECT_TRUE(aborted->abort());
    }(&done, &aborted));
  }
  Runtime other;
  other.block_on([](JoinHandle<int>* done, JoinHandle<int>* aborted) -> Task<> {
    auto d = co_await *done;
    EXPECT_EQ(*d, 3);
    auto a = co_await *aborted;
    EXPECT_EQ(a.error(), JoinError::Aborted);
  }(&done, &aborted));
}

// A handle that held an outcome (or an abort) and is assigned a pending one reports the new
// task's state, not its own old one.
TEST(Teardown, HandleAssignedOverTakesTheNewTasksState) {
  Runtime rt;
  rt.block_on([]() -> Task<> {
    auto aborted = spawn(forever());
    co_await yield_now();
    EXPECT_TRUE(aborted.abort());
    auto done = spawn(add(std::make_shared<int>(1), 1));
    co_await yield_now();
    EXPECT_TRUE(done.is_finished());
    aborted = spawn(add(std::make_shared<int>(2), 2));
    EXPECT_FALSE(aborted.is_finished());
    EXPECT_FALSE(aborted.is_aborted());
    EXPECT_EQ(*co_await aborted, 4);
    done = spawn(forever());
    EXPECT_FALSE(done.is_finished());
    EXPECT_TRUE(done.abort());
    EXPECT_EQ((co_await done).error(), JoinError::Aborted);
  }());
}

// ---------------------------------------------------------------- unspawned Tasks

TEST(Teardown, UnspawnedTaskOutlivesItsRuntimeAndIsDestroyed) {
  auto p = std::make_shared<int>(5);
  Task<int> t;
  {
    Runtime rt;
    t = made_on(rt, [p] { return add(p, 1); });
    EXPECT_EQ(p.use_count(), 2);
  }
  EXPECT_EQ(p.use_count(), 2);  // the frame (and its parameter) is still alive
  t = Task<int>();              // destroyed now: runs its destructors, frees its memory
  EXPECT_EQ(p.use_count(), 1);
}

TEST(Teardown, UnspawnedTaskOutlivesItsRuntimeAndRunsElsewhere) {
  auto p = std::make_shared<int>(40);
  Task<int> a, b;
  {
    Runtime rt;
    a = made_on(rt, [p] { return add(p, 2); });
    b = made_on(rt, [p] { return add(p, 3); });
  }
  Runtime other;
  EXPECT_TRUE(other.can_spawn(a));
  EXPECT_EQ(other.block_on(std::move(a)), 42);
  other.block_on([](Task<int> b) -> Task<> {
    auto h = spawn(std::move(b));
    auto r = co_await h;
    EXPECT_EQ(*r, 43);
  }(std::move(b)));
  EXPECT_EQ(p.use_count(), 1);
}

// Orphans of several size classes, freed in any order and on another thread.
TEST(Teardown, OrphanedFramesFreedOnAnotherThread) {
  auto big = [](std::shared_ptr<int> p) -> Task<int> {
    char pad[700];
    std::memset(pad, *p, sizeof pad);
    co_await yield_now();
    co_return pad[10];
  };
  auto p = std::make_shared<int>(1);
  std::vector<Task<int>> ts;
  {
    Runtime rt;
    for (int i = 0; i < 8; ++i)
      ts.push_back(made_on(rt, [&, i] { return i % 2 ? add(p, i) : big(p); }));
  }
  EXPECT_EQ(p.use_count(), 9);
  std::thread([&] {
    for (std::size_t i = ts.size(); i-- > 0;)
      if (i % 3 != 0) ts[i] = Task<int>();
  }).join();
  ts.clear();
  EXPECT_EQ(p.use_count(), 1);
}

// A Task of runtime R dropped on thread B while R is destroyed on thread A: the drop either
// hands the frame back before R's last drain or finds it orphaned; nothing of the header is
// written by both (a TSan report before), and nothing is pushed into a runtime that is gone.
TEST(Teardown, DropRacesRuntimeDestruction) {
  const int rounds = test_rounds(2000, 200);
  for (int i = 0; i < rounds; ++i) {
    auto rt = std::make_unique<Runtime>();
    Task<int> t = made_on(*rt, [] { return add(std::make_shared<int>(1), 1); });
    std::atomic<bool> go{false};
    std::thread b([&go, mine = std::move(t)]() mutable {
      while (!go.load(std::memory_order_acquire)) {
      }
      mine = Task<int>();  // frame_free on B
    });
    go.store(true, std::memory_order_release);
    rt.reset();  // ~Runtime on A
    b.join();
  }
}

// A runtime is current on a thread only while it runs there: one made here, run and destroyed
// on a worker leaves nothing dangling here (it used to stay this thread's "current", and the
// next Task made here came from its freed slab).
TEST(Teardown, RuntimeMadeHereRunAndDestroyedElsewhere) {
  auto rt = std::move(*Runtime::make());
  EXPECT_EQ(Runtime::current(), nullptr);
  std::thread([p = std::move(rt)]() mutable {
    EXPECT_EQ(p->block_on(add(std::make_shared<int>(1), 0)), 1);
    p.reset();
  }).join();
  EXPECT_EQ(Runtime::current(), nullptr);
  Task<int> t = add(std::make_shared<int>(2), 0);  // a heap frame: no runtime runs here
  Runtime other;
  EXPECT_EQ(other.block_on(std::move(t)), 2);
}

// A frame of a runtime that runs on a worker, dropped on the thread that made the runtime
// (which does not run it): handed back, never freed into the worker's slab from here.
TEST(Teardown, FrameDroppedOnTheMakingThreadWhileAWorkerRunsItsRuntime) {
  auto rt = std::move(*Runtime::make());
  Runtime* raw = rt.get();
  std::atomic<int> stage{0};
  Task<int> passed;
  std::thread worker([&] {
    raw->block_on([](std::atomic<int>* stage, Task<int>* out) -> Task<> {
      *out = add(std::make_shared<int>(1), 1);  // a frame from this runtime's slab
      stage->store(1, std::memory_order_release);
      while (stage->load(std::memory_order_acquire) != 2) co_await yield_now();
      co_await sleep_for(1ms);  // the inbox is drained between batches
    }(&stage, &passed));
  });
  while (stage.load(std::memory_order_acquire) != 1) std::this_thread::yield();
  passed = Task<int>();  // dropped here: not the thread that runs the runtime
  stage.store(2, std::memory_order_release);
  worker.join();
  EXPECT_EQ(raw->counters().frames_handed_back, 1u);
}

// ---------------------------------------------------------------- foreign frames

// A task created on runtime A, refused by runtime B (ForeignFrame) and dropped on B's thread:
// A frees it. Before, B's thread freed it into A's slab while A ran (a race TSan reports).
TEST(Teardown, ForeignFrameDroppedOnTheWrongThreadGoesBackToItsRuntime) {
  std::atomic<Task<int>*> made{nullptr};
  std::atomic<bool> dropped{false};
  Task<int> slot;
  uint64_t handed_back = 0;
  std::thread a([&] {
    Runtime rt;
    rt.block_on(
        [](std::atomic<Task<int>*>* made, std::atomic<bool>* dropped, Task<int>* slot) -> Task<> {
          *slot = add(std::make_shared<int>(1), 1);  // a frame from A's slab
          made->store(slot, std::memory_order_release);
          while (!dropped->load(std::memory_order_acquire)) co_await sleep_for(100us);
          co_await sleep_for(1ms);  // the hand-back may still be on its way: let it land
        }(&made, &dropped, &slot));
    handed_back = rt.counters().frames_handed_back;
  });
  Task<int>* t = nullptr;
  while ((t = made.load(std::memory_order_acquire)) == nullptr) std::this_thread::yield();
  {
    Runtime b;
    auto r = b.try_spawn(std::move(*t));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, SpawnErrc::ForeignFrame);
  }  // r (and the task in it) is dropped here, on the wrong thread
  dropped.store(true, std::memory_order_release);
  a.join();
  EXPECT_EQ(handed_back, 1u);
}

// ---------------------------------------------------------------- a Receiver destroyed
// while its own recv() waits

template <class Rx>
Task<int> recv_int(Rx* rx) {
  auto r = co_await rx->recv();
  if (r) co_return 1;
  co_return r.error() == RecvError::Closed ? 0 : -1;
}

// Destroys the receiver (and then, if asked, every sender) while a task waits in recv() on it;
// the wait completes with Closed. With the senders gone too, the state would be freed under
// the waiter unless the wait holds its own reference (ASan).
template <class Ch>
void receiver_destroyed_while_its_recv_waits(IdlePolicy policy, bool drop_senders_too, Ch ch) {
  using Rx = decltype(ch.rx);
  using Tx = decltype(ch.tx);
  Runtime rt(RuntimeConfig{policy});
  auto rx = std::make_unique<Rx>(std::move(ch.rx));
  auto tx = std::make_unique<Tx>(std::move(ch.tx));
  const int got =
      rt.block_on([](std::unique_ptr<Rx>* rx, std::unique_ptr<Tx>* tx, bool drop) -> Task<int> {
        auto h = spawn(recv_int(rx->get()));
        co_await yield_now();  // it waits
        EXPECT_FALSE(h.is_finished());
        rx->reset();
        if (drop) tx->reset();
        auto r = co_await h;
        co_return r ? *r : -2;
      }(&rx, &tx, drop_senders_too));
  EXPECT_EQ(got, 0) << "recv must complete with Closed";
  if (tx) {
    // The channel is closed for the sender too.
    EXPECT_TRUE(tx->is_closed());
  }
}

struct Local {
  static auto make() { return std::move(*local::channel<int>(2)); }
};
struct Spsc {
  static auto make() { return std::move(*spsc::channel<int>(2)); }
};
struct Mpsc {
  static auto make() { return std::move(*mpsc::channel<int>(2)); }
};
struct MpscShared {
  static auto make() { return std::move(*mpsc::channel<int>(2, {}, 0)); }
};
struct SpscBytes {
  static auto make() { return std::move(*spsc_bytes::channel(256)); }
};
struct MpscBytes {
  static auto make() { return std::move(*mpsc_bytes::channel(256)); }
};

template <class K>
class ReceiverGone : public ::testing::Test {};
using Kinds = ::testing::Types<Local, Spsc, Mpsc, MpscShared, SpscBytes, MpscBytes>;
TYPED_TEST_SUITE(ReceiverGone, Kinds);

TYPED_TEST(ReceiverGone, WhileItsRecvWaitsOnAParkingRuntime) {
  receiver_destroyed_while_its_recv_waits(IdlePolicy::park(), false, TypeParam::make());
  receiver_destroyed_while_its_recv_waits(IdlePolicy::park(), true, TypeParam::make());
}
TYPED_TEST(ReceiverGone, WhileItsRecvWaitsOnABusyRuntime) {
  if constexpr (std::is_same_v<TypeParam, Local>) GTEST_SKIP() << "local waits never poll";
  receiver_destroyed_while_its_recv_waits(IdlePolicy::busy_poll(), false, TypeParam::make());
  receiver_destroyed_while_its_recv_waits(IdlePolicy::busy_poll(), true, TypeParam::make());
}

// A sender's in-flight send outlives its Sender (spsc): the channel stays open until that send
// completes, and its value is delivered, not dropped behind a close.
TEST(Teardown, SpscSenderDestroyedWhileItsSendWaitsStillDelivers) {
  Runtime rt;
  auto ch = std::move(*spsc::channel<int>(1));
  auto tx = std::make_unique<spsc::Sender<int>>(std::move(ch.tx));
  ASSERT_TRUE(tx->try_send(1));  // full
  rt.block_on([](std::unique_ptr<spsc::Sender<int>>* tx, spsc::Receiver<int>* rx) -> Task<> {
    auto h = spawn([](spsc::Sender<int>* tx) -> Task<bool> {
      co_return bool(co_await tx->send(2));
    }(tx->get()));
    co_await yield_now();  // waits for room
    tx->reset();           // the Sender goes; its send still waits
    EXPECT_FALSE(rx->is_closed());
    EXPECT_EQ(*rx->try_recv(), 1);
    auto ok = co_await h;
    EXPECT_TRUE(*ok);
    EXPECT_EQ(*rx->try_recv(), 2);
    EXPECT_EQ(rx->try_recv().error(), RecvError::Closed);  // now every sender is gone
  }(&tx, &ch.rx));
}

// ---------------------------------------------------------------- endpoints after runtime

TEST(Teardown, EndpointsDestroyedAfterTheirRuntime) {
  auto local_ch = std::make_unique<local::Channel<int>>(std::move(*local::channel<int>(1)));
  auto spsc_ch = std::make_unique<spsc::Channel<int>>(std::move(*spsc::channel<int>(1)));
  auto mpsc_ch = std::make_unique<mpsc::Channel<int>>(std::move(*mpsc::channel<int>(1)));
  {
    Runtime rt;
    rt.block_on([](local::Channel<int>* l, spsc::Channel<int>* s, mpsc::Channel<int>* m) -> Task<> {
      EXPECT_TRUE(l->tx.try_send(1));
      EXPECT_TRUE(s->tx.try_send(1));
      EXPECT_TRUE(m->tx.try_send(1));
      // Tasks left waiting in send (full) and in recv when the runtime goes.
      (void)spawn([](local::Sender<int>* tx) -> Task<> { (void)co_await tx->send(2); }(&l->tx));
      (void)spawn([](spsc::Sender<int>* tx) -> Task<> { (void)co_await tx->send(2); }(&s->tx));
      (void)spawn([](mpsc::Sender<int>* tx) -> Task<> { (void)co_await tx->send(2); }(&m->tx));
      co_await yield_now();
    }(local_ch.get(), spsc_ch.get(), mpsc_ch.get()));
  }  // destroys the waiting tasks; their registrations go with them
  // The channels still work from plain threads and from another runtime.
  EXPECT_EQ(*spsc_ch->rx.try_recv(), 1);
  EXPECT_EQ(*mpsc_ch->rx.try_recv(), 1);
  std::thread([&] {
    EXPECT_TRUE(spsc_ch->tx.send_blocking(3));
    EXPECT_TRUE(mpsc_ch->tx.send_blocking(3));
  }).join();
  Runtime other;
  other.block_on([](local::Channel<int>* l) -> Task<> {
    EXPECT_EQ(*co_await l->rx.recv(), 1);
    EXPECT_TRUE(co_await l->tx.send(4));
    EXPECT_EQ(*co_await l->rx.recv(), 4);
  }(local_ch.get()));
  EXPECT_EQ(*spsc_ch->rx.try_recv(), 3);
  EXPECT_EQ(*mpsc_ch->rx.try_recv(), 3);
  local_ch.reset();
  spsc_ch.reset();
  mpsc_ch.reset();
}

// ---------------------------------------------------------------- detached exceptions

TEST(Teardown, ExceptionEscapingADetachedTaskIsCountedAndHandled) {
  std::string seen;
  RuntimeConfig cfg;
  cfg.on_detached_exception = [&seen](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      seen = x.what();
    }
  };
  Runtime rt(cfg);
  rt.block_on([]() -> Task<> {
    spawn([]() -> Task<> {
      throw std::runtime_error("lost before");
      co_return;
    }())
        .detach();
    co_await yield_now();
    co_await yield_now();
  }());
  EXPECT_EQ(rt.counters().detached_exceptions, 1u);
  EXPECT_EQ(seen, "lost before");
  // A joined task's exception goes to its awaiter, not to the handler.
  EXPECT_THROW(rt.block_on([]() -> Task<> {
    auto h = spawn([]() -> Task<> {
      throw std::logic_error("joined");
      co_return;
    }());
    (void)co_await h;
  }()),
               std::logic_error);
  EXPECT_EQ(rt.counters().detached_exceptions, 1u);
}

TEST(Teardown, DetachedExceptionWithoutAHandlerIsCounted) {
  Runtime rt;
  rt.block_on([]() -> Task<> {
    (void)spawn([]() -> Task<> {
      throw 7;
      co_return;
    }());
    co_await yield_now();
  }());
  EXPECT_EQ(rt.counters().detached_exceptions, 1u);
}

}  // namespace
