// sluice_ring_bench: cross-thread rings against the hardware floor and the best peers, all in
// one run with the same pinning (benchmark thread on CPU 0, helper thread on CPU 1).
//
// Shapes (names are fixed so results compare over time):
//  *_rtt            one message there and back per iteration (ping ring + pong ring)
//  *_throughput*    10^7 u64 from a producer on CPU 1 to the consumer on CPU 0 per iteration;
//                   manual time from "go" to the last pop; items_per_second is the figure
//  *_try_send_recv  the async channel's try_send + try_recv on the same thread
//  *_ring_try_push_pop  the raw ring's try_push + try_pop on the same thread
//  *_chan_*_task_rtt    a plain thread and a task awaiting recv() on a busy / parking runtime
// Every queue spins with the same pause instruction while full/empty, as atomic_queue does.
#include <benchmark/benchmark.h>
#include <sluice/sluice.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include <atomic_queue/atomic_queue.h>
#include <concurrentqueue/concurrentqueue.h>
#include <readerwriterqueue/readerwriterqueue.h>
#include <boost/lockfree/spsc_queue.hpp>

#include "../common/bench_common.hpp"
#include "queues.hpp"

using namespace sluice;

namespace {

using bench::AtomicQ;
using bench::cpu_relax;
using bench::kCap;
using bench::kStop;
using bench::pin_or_skip;
using bench::SluiceMpsc;
using bench::SluiceMpscShared;
using bench::SluiceSpsc;

constexpr uint64_t kMessages = 10'000'000;  // per throughput iteration

// ---- adapters: push/pop that spin while full/empty (ours and atomic_queue: queues.hpp) ----

struct MoodyRwq {
  moodycamel::ReaderWriterQueue<uint64_t> q{kCap};
  void push(uint64_t v) noexcept {
    while (!q.try_enqueue(v)) cpu_relax();
  }
  uint64_t pop() noexcept {
    uint64_t v;
    while (!q.try_dequeue(v)) cpu_relax();
    return v;
  }
};
struct BoostSpsc {
  std::unique_ptr<boost::lockfree::spsc_queue<uint64_t, boost::lockfree::capacity<kCap>>> q =
      std::make_unique<boost::lockfree::spsc_queue<uint64_t, boost::lockfree::capacity<kCap>>>();
  void push(uint64_t v) noexcept {
    while (!q->push(v)) cpu_relax();
  }
  uint64_t pop() noexcept {
    uint64_t v;
    while (!q->pop(v)) cpu_relax();
    return v;
  }
};

// ---- the floor: one cache line bounced between the two pinned threads ----

void BM_spin_floor_rtt(benchmark::State& st) { bench::spin_floor_rtt(st); }
void BM_spin_floor_2line_rtt(benchmark::State& st) { bench::spin_floor_2line_rtt(st); }

// ---- round trip: ping queue there, pong queue back ----

template <class Q>
void rtt(benchmark::State& st) {
  if (!pin_or_skip(st, 0)) return;
  bench::QueueRtt<Q> r;
  for (auto _ : st)
    if (!r.step()) st.SkipWithError("round trip returned the wrong value");
}

// ---- throughput: 10^7 values from CPU 1 to CPU 0, checked ----

template <class Q>
void throughput(benchmark::State& st) {
  if (!pin_or_skip(st, 0)) return;
  for (auto _ : st) {
    auto q = std::make_unique<Q>();
    std::atomic<bool> go{false};
    // The producer gets the queue by value (see QueueRtt in queues.hpp): it reads nothing on this
    // stack after the start.
    std::thread producer([qp = q.get(), &go] {
      (void)pin_current_thread(1);
      while (!go.load(std::memory_order_acquire)) cpu_relax();
      for (uint64_t i = 1; i <= kMessages; ++i) qp->push(i);
    });
    auto t0 = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < kMessages; ++i) sum += q->pop();
    auto t1 = std::chrono::steady_clock::now();
    producer.join();
    if (sum != kMessages * (kMessages + 1) / 2) st.SkipWithError("lost or duplicated values");
    st.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kMessages));
}

// Our consumer's batch form: consume() publishes the head once per batch.
template <class Ring>
void throughput_batch(benchmark::State& st) {
  if (!pin_or_skip(st, 0)) return;
  for (auto _ : st) {
    auto r = std::move(*Ring::make(kCap));
    std::atomic<bool> go{false};
    std::thread producer([rp = r.get(), &go] {  // by value: see QueueRtt (queues.hpp)
      (void)pin_current_thread(1);
      while (!go.load(std::memory_order_acquire)) cpu_relax();
      for (uint64_t i = 1; i <= kMessages; ++i)
        while (!rp->try_push(i)) cpu_relax();
    });
    auto t0 = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    uint64_t sum = 0, got = 0;
    while (got < kMessages) {
      std::size_t k = r->consume([&](uint64_t& v) { sum += v; }, 256);
      if (k == 0) cpu_relax();
      got += k;
    }
    auto t1 = std::chrono::steady_clock::now();
    producer.join();
    if (sum != kMessages * (kMessages + 1) / 2) st.SkipWithError("lost or duplicated values");
    st.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kMessages));
}

// Throughput with a bulk consumer: make() builds the queue; pusher(q), called on the producer
// thread before the start, returns its push(i) (which spins while full); pop_n(q, buf, n)
// takes up to n values.
template <class Make, class Pusher, class PopN>
void bulk_throughput(benchmark::State& st, Make make, Pusher pusher, PopN pop_n) {
  if (!pin_or_skip(st, 0)) return;
  for (auto _ : st) {
    auto q = make();
    std::atomic<bool> go{false};
    std::thread producer([qp = &*q, &pusher, &go] {  // by value: see QueueRtt (queues.hpp)
      (void)pin_current_thread(1);
      auto push = pusher(*qp);
      while (!go.load(std::memory_order_acquire)) cpu_relax();
      for (uint64_t i = 1; i <= kMessages; ++i) push(i);
    });
    uint64_t buf[256];
    auto t0 = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    uint64_t sum = 0, got = 0;
    while (got < kMessages) {
      std::size_t k = pop_n(*q, buf, 256);
      if (k == 0) cpu_relax();
      for (std::size_t j = 0; j < k; ++j) sum += buf[j];
      got += k;
    }
    auto t1 = std::chrono::steady_clock::now();
    producer.join();
    if (sum != kMessages * (kMessages + 1) / 2) st.SkipWithError("lost or duplicated values");
    st.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kMessages));
}

// The lanes' consumer batch form: try_pop_n takes up to 256 values, one head store per lane.
void BM_mpsc_throughput_1p_batch(benchmark::State& st) {
  using L = MpscLanes<uint64_t>;
  bulk_throughput(
      st, [] { return std::move(*L::make(kCap, 4)); },
      [](L& r) {
        return [p = std::move(*r.producer())](uint64_t i) mutable {
          while (!p.try_push(i)) cpu_relax();
        };
      },
      [](L& r, uint64_t* buf, std::size_t n) { return r.try_pop_n(buf, n); });
}

// ConcurrentQueue the way it is fastest: a producer token and bulk dequeue with a consumer token.
void BM_moodycamel_cq_throughput_1p(benchmark::State& st) {
  using Q = moodycamel::ConcurrentQueue<uint64_t>;
  std::unique_ptr<moodycamel::ConsumerToken> ctok;
  bulk_throughput(
      st,
      [&ctok] {
        auto q = std::make_unique<Q>(kCap);
        ctok = std::make_unique<moodycamel::ConsumerToken>(*q);
        return q;
      },
      [](Q& q) {
        return [&q, tok = std::make_shared<moodycamel::ProducerToken>(q)](uint64_t i) {
          while (!q.try_enqueue(*tok, i)) cpu_relax();
        };
      },
      [&ctok](Q& q, uint64_t* buf, std::size_t n) { return q.try_dequeue_bulk(*ctok, buf, n); });
}

// Two producers on CPUs 1 and 2 (a lane each), consumer on CPU 0 (registered only with >= 3
// CPUs).
void BM_mpsc_throughput_2p(benchmark::State& st) {
  if (!pin_or_skip(st, 0)) return;
  for (auto _ : st) {
    auto r = std::move(*MpscLanes<uint64_t>::make(kCap, 4));
    std::atomic<bool> go{false};
    std::vector<std::thread> producers;
    for (unsigned p = 0; p < 2; ++p) {
      producers.emplace_back([&, p] {
        (void)pin_current_thread(1 + p);
        auto h = std::move(*r->producer());
        while (!go.load(std::memory_order_acquire)) cpu_relax();
        for (uint64_t i = 1; i <= kMessages / 2; ++i)
          while (!h.try_push(i)) cpu_relax();
      });
    }
    auto t0 = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < kMessages; ++i) {
      uint64_t v;
      while (!r->try_pop(v)) cpu_relax();
      sum += v;
    }
    auto t1 = std::chrono::steady_clock::now();
    for (auto& t : producers) t.join();
    const uint64_t half = kMessages / 2;
    if (sum != half * (half + 1)) st.SkipWithError("lost or duplicated values");
    st.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kMessages));
}

// ---- same thread: one push and one pop ----

// The async channels' try forms (ring op + the seq_cst fence + the parked-peer check).
template <class Chan>
void chan_try_pair(benchmark::State& st, Chan ch) {
  uint64_t i = 0, sum = 0;
  for (auto _ : st) {
    (void)ch.tx.try_send(i++);
    auto r = ch.rx.try_recv();
    sum += *r;
  }
  benchmark::DoNotOptimize(sum);
}

template <class Ring>
void try_pair(benchmark::State& st) {
  auto r = std::move(*Ring::make(1024));
  uint64_t i = 0, sum = 0;
  for (auto _ : st) {
    (void)r->try_push(i++);
    uint64_t v = 0;
    (void)r->try_pop(v);
    sum += v;
  }
  benchmark::DoNotOptimize(sum);
}

// ---- a plain thread wakes a task on a runtime (CPU 1), which answers back ----

void wake_rtt(benchmark::State& st, IdlePolicy policy) {
  if (!pin_or_skip(st, 0)) return;
  bench::WakeRtt w(policy);
  for (auto _ : st) w.step();
}

// ---- a plain thread and a task on a runtime (CPU 1) bounce a value through two spsc channels;
// the task awaits recv() (on a busy runtime: polled, on a parking one: woken via the inbox) ----

void chan_task_rtt(benchmark::State& st, IdlePolicy policy) {
  if (!pin_or_skip(st, 0)) return;
  auto ping = std::move(*spsc::channel<uint64_t>(1024));
  auto pong = std::move(*spsc::channel<uint64_t>(1024));
  // The runtime thread owns its two endpoints (moved, not captured by reference: see wake_rtt).
  std::thread rt_thread([policy, rx = std::move(ping.rx), tx = std::move(pong.tx)]() mutable {
    (void)pin_current_thread(1);
    RuntimeConfig cfg;
    cfg.idle = policy;
    Runtime rt(cfg);
    rt.block_on([](spsc::Receiver<uint64_t> rx, spsc::Sender<uint64_t> tx) -> Task<> {
      for (;;) {
        auto v = co_await rx.recv();
        if (!v || *v == kStop) co_return;
        while (!tx.try_send(*v)) cpu_relax();
      }
    }(std::move(rx), std::move(tx)));
  });
  uint64_t i = 1;
  for (auto _ : st) {
    while (!ping.tx.try_send(i)) cpu_relax();
    Result<uint64_t, RecvError> r = err(RecvError::Empty);
    while (!(r = pong.rx.try_recv())) cpu_relax();
    if (*r != i) st.SkipWithError("round trip returned the wrong value");
    ++i;
  }
  while (!ping.tx.try_send(kStop)) cpu_relax();
  rt_thread.join();
}
void BM_spsc_chan_busy_task_rtt(benchmark::State& st) {
  chan_task_rtt(st, IdlePolicy::busy_poll());
}
void BM_spsc_chan_parked_task_rtt(benchmark::State& st) { chan_task_rtt(st, IdlePolicy::park()); }

void BM_wake_busy_rtt(benchmark::State& st) { wake_rtt(st, IdlePolicy::busy_poll()); }
void BM_wake_parked_rtt(benchmark::State& st) { wake_rtt(st, IdlePolicy::park()); }

void BM_spsc_rtt(benchmark::State& st) { rtt<SluiceSpsc>(st); }
void BM_mpsc_rtt(benchmark::State& st) { rtt<SluiceMpsc>(st); }
void BM_mpsc_shared_rtt(benchmark::State& st) { rtt<SluiceMpscShared>(st); }
void BM_atomic_queue_rtt(benchmark::State& st) { rtt<AtomicQ<true>>(st); }
void BM_moodycamel_rwq_rtt(benchmark::State& st) { rtt<MoodyRwq>(st); }
void BM_boost_spsc_rtt(benchmark::State& st) { rtt<BoostSpsc>(st); }

void BM_spsc_throughput(benchmark::State& st) { throughput<SluiceSpsc>(st); }
void BM_spsc_throughput_batch(benchmark::State& st) { throughput_batch<SpscRing<uint64_t>>(st); }
void BM_mpsc_throughput_1p(benchmark::State& st) { throughput<SluiceMpsc>(st); }
void BM_mpsc_shared_throughput_1p(benchmark::State& st) { throughput<SluiceMpscShared>(st); }
void BM_atomic_queue_throughput(benchmark::State& st) { throughput<AtomicQ<true>>(st); }
void BM_atomic_queue_mp_throughput_1p(benchmark::State& st) { throughput<AtomicQ<false>>(st); }
void BM_moodycamel_rwq_throughput(benchmark::State& st) { throughput<MoodyRwq>(st); }
void BM_boost_spsc_throughput(benchmark::State& st) { throughput<BoostSpsc>(st); }

void BM_spsc_try_send_recv(benchmark::State& st) {
  chan_try_pair(st, std::move(*spsc::channel<uint64_t>(1024)));
}
void BM_mpsc_try_send_recv(benchmark::State& st) {
  chan_try_pair(st, std::move(*mpsc::channel<uint64_t>(1024)));
}
void BM_spsc_ring_try_push_pop(benchmark::State& st) { try_pair<SpscRing<uint64_t>>(st); }
void BM_mpsc_ring_try_push_pop(benchmark::State& st) { try_pair<MpscRing<uint64_t>>(st); }
void BM_mpsc_lanes_try_push_pop(benchmark::State& st) {
  auto r = std::move(*MpscLanes<uint64_t>::make(1024, 4));
  auto p = std::move(*r->producer());
  uint64_t i = 0, sum = 0;
  for (auto _ : st) {
    (void)p.try_push(i++);
    uint64_t v = 0;
    (void)r->try_pop(v);
    sum += v;
  }
  benchmark::DoNotOptimize(sum);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  auto tput = [](const char* name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, fn)->UseManualTime()->Iterations(1)->Unit(
        benchmark::kMillisecond);
  };
  benchmark::RegisterBenchmark("BM_spin_floor_rtt", BM_spin_floor_rtt);
  benchmark::RegisterBenchmark("BM_spin_floor_2line_rtt", BM_spin_floor_2line_rtt);
  benchmark::RegisterBenchmark("BM_spsc_rtt", BM_spsc_rtt);
  benchmark::RegisterBenchmark("BM_mpsc_rtt", BM_mpsc_rtt);
  benchmark::RegisterBenchmark("BM_mpsc_shared_rtt", BM_mpsc_shared_rtt);
  benchmark::RegisterBenchmark("BM_atomic_queue_rtt", BM_atomic_queue_rtt);
  benchmark::RegisterBenchmark("BM_moodycamel_rwq_rtt", BM_moodycamel_rwq_rtt);
  benchmark::RegisterBenchmark("BM_boost_spsc_rtt", BM_boost_spsc_rtt);
  tput("BM_spsc_throughput", BM_spsc_throughput);
  tput("BM_spsc_throughput_batch", BM_spsc_throughput_batch);
  tput("BM_atomic_queue_throughput", BM_atomic_queue_throughput);
  tput("BM_moodycamel_rwq_throughput", BM_moodycamel_rwq_throughput);
  tput("BM_boost_spsc_throughput", BM_boost_spsc_throughput);
  tput("BM_mpsc_throughput_1p", BM_mpsc_throughput_1p);
  tput("BM_mpsc_throughput_1p_batch", BM_mpsc_throughput_1p_batch);
  tput("BM_mpsc_shared_throughput_1p", BM_mpsc_shared_throughput_1p);
  tput("BM_atomic_queue_mp_throughput_1p", BM_atomic_queue_mp_throughput_1p);
  tput("BM_moodycamel_cq_throughput_1p", BM_moodycamel_cq_throughput_1p);
  if (std::thread::hardware_concurrency() >= 3)
    tput("BM_mpsc_throughput_2p", BM_mpsc_throughput_2p);
  else
    std::fprintf(stderr, "BM_mpsc_throughput_2p skipped: needs 3 CPUs, this machine has %u\n",
                 std::thread::hardware_concurrency());
  benchmark::RegisterBenchmark("BM_spsc_try_send_recv", BM_spsc_try_send_recv);
  benchmark::RegisterBenchmark("BM_mpsc_try_send_recv", BM_mpsc_try_send_recv);
  benchmark::RegisterBenchmark("BM_spsc_ring_try_push_pop", BM_spsc_ring_try_push_pop);
  benchmark::RegisterBenchmark("BM_mpsc_ring_try_push_pop", BM_mpsc_ring_try_push_pop);
  benchmark::RegisterBenchmark("BM_mpsc_lanes_try_push_pop", BM_mpsc_lanes_try_push_pop);
  benchmark::RegisterBenchmark("BM_wake_busy_rtt", BM_wake_busy_rtt);
  benchmark::RegisterBenchmark("BM_wake_parked_rtt", BM_wake_parked_rtt);
  benchmark::RegisterBenchmark("BM_spsc_chan_busy_task_rtt", BM_spsc_chan_busy_task_rtt);
  benchmark::RegisterBenchmark("BM_spsc_chan_parked_task_rtt", BM_spsc_chan_parked_task_rtt);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
