// Runs each single-thread hot path exactly N times in its own noinline function so that
// `valgrind --tool=callgrind` gives a repeatable instructions-per-operation figure
// (scripts/callgrind-paths divides by N). Timing benchmarks are in runtime_bench.cpp.
#include <sluice/sluice.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "raw_coro.hpp"

using namespace sluice;

namespace {
constexpr long kN = 100000;

[[gnu::noinline]] uint64_t probe_local_try_send_recv(local::Sender<uint64_t>& tx,
                                                     local::Receiver<uint64_t>& rx) {
  uint64_t sum = 0;
  for (long i = 0; i < kN; ++i) {
    (void)tx.try_send(static_cast<uint64_t>(i));
    sum += *rx.try_recv();
  }
  return sum;
}

Task<int> trivial() { co_return 1; }

Task<long> spawn_join_loop() {
  long s = 0;
  for (long i = 0; i < kN; ++i) s += *(co_await spawn(trivial()));
  co_return s;
}
[[gnu::noinline]] long probe_spawn_join(Runtime& rt) { return rt.block_on(spawn_join_loop()); }

// A child task awaited in place (no spawn): frame from the slab, run, destroyed, freed.
Task<int> child(int i) { co_return i; }
Task<long> child_await_loop() {
  long s = 0;
  for (long i = 0; i < kN; ++i) s += co_await child(static_cast<int>(i));
  co_return s;
}
[[gnu::noinline]] long probe_child_await(Runtime& rt) { return rt.block_on(child_await_loop()); }

Task<> yield_loop() {
  for (long i = 0; i < kN; ++i) co_await yield_now();
}
[[gnu::noinline]] void probe_self_rewake(Runtime& rt) { rt.block_on(yield_loop()); }

Task<> pingpong(local::Sender<uint64_t> tx, local::Receiver<uint64_t> rx) {
  auto p = spawn([](local::Sender<uint64_t> tx) -> Task<> {
    for (long i = 0; i < kN; ++i) (void)co_await tx.send(static_cast<uint64_t>(i));
  }(std::move(tx)));
  for (long i = 0; i < kN; ++i) (void)co_await rx.recv();
  (void)co_await p;
}
[[gnu::noinline]] void probe_local_pingpong_tasks(Runtime& rt) {
  auto [tx, rx] = local::channel<uint64_t>(1).value();
  rt.block_on(pingpong(std::move(tx), std::move(rx)));
}
// One 64-byte record: claim, fill, commit, read, release (SPSC and MPSC byte rings).
template <class B>
[[gnu::noinline]] uint64_t logbuf_round(B& b) {
  static unsigned char src[64] = {1};
  uint64_t sum = 0;
  for (long i = 0; i < kN; ++i) {
    auto c = b.try_claim(64);
    std::memcpy(c->data(), src, 64);
    c->commit();
    auto r = b.try_read();
    sum += static_cast<uint64_t>(r->data()[0]);
    r->release();
  }
  return sum;
}
[[gnu::noinline]] uint64_t probe_logbuf_claim_commit_read_64(SpscLogbuf& b) {
  return logbuf_round(b);
}
[[gnu::noinline]] uint64_t probe_logbuf_mpsc_claim_commit_read_64(MpscLogbuf& b) {
  return logbuf_round(b);
}
// Raw rings, same thread: one push and one pop per operation (the cross-thread cost is the
// line transfers; this is the instruction count around them).
template <class Push, class Pop>
[[gnu::noinline]] uint64_t ring_round(Push push, Pop pop) {
  uint64_t sum = 0;
  for (long i = 0; i < kN; ++i) {
    (void)push(static_cast<uint64_t>(i));
    uint64_t v = 0;
    (void)pop(v);
    sum += v;
  }
  return sum;
}
[[gnu::noinline]] uint64_t probe_spsc_ring_push_pop(SpscRing<uint64_t>& r) {
  return ring_round([&](uint64_t v) { return r.try_push(v); },
                    [&](uint64_t& v) { return r.try_pop(v); });
}
[[gnu::noinline]] uint64_t probe_mpsc_ring_push_pop(MpscRing<uint64_t>& r) {
  return ring_round([&](uint64_t v) { return r.try_push(v); },
                    [&](uint64_t& v) { return r.try_pop(v); });
}
[[gnu::noinline]] uint64_t probe_mpsc_lanes_push_pop(MpscLanes<uint64_t>& r,
                                                     MpscLanes<uint64_t>::Producer& p) {
  return ring_round([&](uint64_t v) { return p.try_push(v); },
                    [&](uint64_t& v) { return r.try_pop(v); });
}
// The cross-thread channels' try pair on one thread: ring op + the seq_cst fence + the
// parked-peer check, each way.
template <class Ch>
[[gnu::noinline]] uint64_t chan_round(Ch& ch) {
  uint64_t sum = 0;
  for (long i = 0; i < kN; ++i) {
    (void)ch.tx.try_send(static_cast<uint64_t>(i));
    sum += *ch.rx.try_recv();
  }
  return sum;
}
[[gnu::noinline]] uint64_t probe_spsc_chan_try_send_recv(spsc::Channel<uint64_t>& ch) {
  return chan_round(ch);
}
[[gnu::noinline]] uint64_t probe_mpsc_chan_try_send_recv(mpsc::Channel<uint64_t>& ch) {
  return chan_round(ch);
}
// The floors of spawn_join and pingpong: coroutines with no runtime (raw_coro.hpp).
[[gnu::noinline]] uint64_t probe_floor_coro_await() {
  rawco::Count n{kN};
  return rawco::await_child(&n);
}
[[gnu::noinline]] uint64_t probe_floor_coro_pingpong() {
  rawco::Count n{kN};
  return rawco::pingpong(&n);
}
}  // namespace

int main() {
  Runtime rt(RuntimeConfig{IdlePolicy::busy_poll()});
  auto [tx, rx] = local::channel<uint64_t>(1024).value();
  uint64_t a = probe_local_try_send_recv(tx, rx);
  long b = probe_spawn_join(rt);
  b += probe_child_await(rt);
  probe_self_rewake(rt);
  probe_local_pingpong_tasks(rt);
  a += probe_floor_coro_await();
  a += probe_floor_coro_pingpong();
  auto lb = std::move(*SpscLogbuf::make(64 * 1024));
  auto mlb = std::move(*MpscLogbuf::make(64 * 1024));
  a += probe_logbuf_claim_commit_read_64(*lb);
  a += probe_logbuf_mpsc_claim_commit_read_64(*mlb);
  auto sr = std::move(*SpscRing<uint64_t>::make(1024));
  auto mr = std::move(*MpscRing<uint64_t>::make(1024));
  auto lr = std::move(*MpscLanes<uint64_t>::make(1024, 4));
  auto lp = std::move(*lr->producer());
  a += probe_spsc_ring_push_pop(*sr);
  a += probe_mpsc_ring_push_pop(*mr);
  a += probe_mpsc_lanes_push_pop(*lr, lp);
  auto sch = std::move(*spsc::channel<uint64_t>(1024));
  auto mch = std::move(*mpsc::channel<uint64_t>(1024));
  a += probe_spsc_chan_try_send_recv(sch);
  a += probe_mpsc_chan_try_send_recv(mch);
  std::printf("N=%ld checks %lu %ld slab_misses=%lu\n", kN, static_cast<unsigned long>(a), b,
              static_cast<unsigned long>(rt.counters().slab_misses));
  return 0;
}
