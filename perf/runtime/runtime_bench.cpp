// sluice_runtime_bench: single-thread runtime paths and their Asio peers, in one binary.
// Names are fixed so results can be compared over time (perf/RESULTS.md).
#include <benchmark/benchmark.h>

#include <sluice/sluice.hpp>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/channel.hpp>

#include "raw_coro.hpp"

using namespace sluice;

// ---------------------------------------------------------------- sluice

// One try_send + one try_recv on a local channel, same thread, no runtime involvement.
static void BM_local_try_send_recv(benchmark::State& state) {
  auto [tx, rx] = local::channel<uint64_t>(1024).value();
  uint64_t i = 0;
  for (auto _ : state) {
    (void)tx.try_send(i++);
    auto r = rx.try_recv();
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_local_try_send_recv);

// Producer and consumer tasks on one runtime, capacity 1: every message is a task switch.
static void BM_local_pingpong_tasks(benchmark::State& state) {
  Runtime rt(RuntimeConfig{IdlePolicy::busy_poll()});
  auto [tx, rx] = local::channel<uint64_t>(1).value();
  auto producer = [](local::Sender<uint64_t> tx) -> Task<> {
    uint64_t i = 0;
    while (co_await tx.send(i++)) {
    }
  };
  auto consumer = [](local::Receiver<uint64_t> rx, benchmark::State* st) -> Task<> {
    for (auto _ : *st) {
      auto v = co_await rx.recv();
      benchmark::DoNotOptimize(v);
    }
  };  // rx dropped here: the producer sees Closed and exits
  auto main = [&]() -> Task<> {
    auto p = spawn(producer(std::move(tx)));
    auto c = spawn(consumer(std::move(rx), &state));
    (void)co_await c;
    (void)co_await p;
  };
  rt.block_on(main());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_local_pingpong_tasks);

static Task<int> trivial() { co_return 1; }

// Spawn a trivial task and await its JoinHandle: frame from the slab, two polls, no heap.
static void BM_spawn_join(benchmark::State& state) {
  Runtime rt(RuntimeConfig{IdlePolicy::busy_poll()});
  auto main = [](benchmark::State* st) -> Task<> {
    for (auto _ : *st) {
      auto h = spawn(trivial());
      auto r = co_await h;
      benchmark::DoNotOptimize(r);
    }
  };
  rt.block_on(main(&state));
  state.counters["slab_misses"] = static_cast<double>(rt.counters().slab_misses);
}
BENCHMARK(BM_spawn_join);

// A task that yields and is resumed by the runtime: one full poll cycle.
static void BM_self_rewake(benchmark::State& state) {
  Runtime rt(RuntimeConfig{IdlePolicy::busy_poll()});
  auto main = [](benchmark::State* st) -> Task<> {
    for (auto _ : *st) co_await yield_now();
  };
  rt.block_on(main(&state));
}
BENCHMARK(BM_self_rewake);

// One task: co_await send (never waits: the task drains each value at once) + try_recv.
// `Tx` is a local::Sender (the baseline) or a Throttle in front of one.
template <class Tx>
static Task<> send_recv_loop(benchmark::State* st, Tx* tx, local::Receiver<uint64_t>* rx) {
  uint64_t i = 0;
  for (auto _ : *st) {
    auto r = co_await tx->send(i++);
    benchmark::DoNotOptimize(r);
    auto v = rx->try_recv();
    benchmark::DoNotOptimize(v);
  }
}

static void BM_local_send_recv_task(benchmark::State& state) {
  Runtime rt(RuntimeConfig{IdlePolicy::busy_poll()});
  auto ch = local::channel<uint64_t>(64).value();
  rt.block_on(send_recv_loop(&state, &ch.tx, &ch.rx));
}
BENCHMARK(BM_local_send_recv_task);

// The same through a Throttle (4 tickets): take a ticket, send, drop the Receipt. With a
// ticket and a slot free, the send completes inside await_ready (no coroutine frame).
static void BM_throttle_send_recv(benchmark::State& state) {
  Runtime rt(RuntimeConfig{IdlePolicy::busy_poll()});
  auto ch = local::channel<uint64_t>(64).value();
  auto th = Throttle<uint64_t>::make(std::move(ch.tx), 4);
  if (!th) return state.SkipWithError("Throttle::make failed");
  rt.block_on(send_recv_loop(&state, &*th, &ch.rx));
  state.counters["slab_misses"] = static_cast<double>(rt.counters().slab_misses);
}
BENCHMARK(BM_throttle_send_recv);

// ---------------------------------------------------------------- floors (raw_coro.hpp)
// g++ 12 coroutines with no runtime: the least the same shapes can cost on this machine.

// A child coroutine from a free list, awaited by symmetric transfer (BM_spawn_join's floor).
static void BM_floor_coro_await(benchmark::State& state) {
  if (!rawco::kRawCoroUsable) return state.SkipWithError("symmetric transfer needs -O1 or more");
  uint64_t n = rawco::await_child(&state);
  if (n != static_cast<uint64_t>(state.iterations()))
    state.SkipWithError("a child's value was lost");
}
BENCHMARK(BM_floor_coro_await);

// Two coroutines, a one-slot mailbox, direct transfers (BM_local_pingpong_tasks's floor).
static void BM_floor_coro_pingpong(benchmark::State& state) {
  if (!rawco::kRawCoroUsable) return state.SkipWithError("symmetric transfer needs -O1 or more");
  uint64_t sum = rawco::pingpong(&state);
  auto k = static_cast<uint64_t>(state.iterations());
  if (sum != k * (k - 1) / 2) state.SkipWithError("a message was lost");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_floor_coro_pingpong);

// ---------------------------------------------------------------- Asio 1.22 peers

using asio_chan = asio::experimental::channel<void(asio::error_code, uint64_t)>;

static void BM_asio_channel_pingpong(benchmark::State& state) {
  asio::io_context ctx(1);
  asio_chan ch(ctx, 1);
  bool done = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        uint64_t i = 0;
        for (;;) {
          auto [ec] = co_await ch.async_send(asio::error_code{}, i++,
                                             asio::experimental::as_tuple(asio::use_awaitable));
          if (ec || done) co_return;
        }
      },
      asio::detached);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        for (auto _ : state) {
          auto v = co_await ch.async_receive(asio::use_awaitable);
          benchmark::DoNotOptimize(v);
        }
        done = true;
        ch.close();
      },
      asio::detached);
  ctx.run();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_asio_channel_pingpong);

static asio::awaitable<int> asio_trivial() { co_return 1; }

static void BM_asio_co_spawn(benchmark::State& state) {
  asio::io_context ctx(1);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        for (auto _ : state) {
          int r = co_await asio::co_spawn(ex, asio_trivial(), asio::use_awaitable);
          benchmark::DoNotOptimize(r);
        }
      },
      asio::detached);
  ctx.run();
}
BENCHMARK(BM_asio_co_spawn);

BENCHMARK_MAIN();
