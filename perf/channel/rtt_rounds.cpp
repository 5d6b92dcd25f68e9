// sluice_rtt_rounds: cross-thread round trips measured in interleaved rounds.
//
// Why a second harness: on the shared 2-vCPU VMs the two vCPUs are sometimes close together
// (one-line floor ~75 ns) and sometimes far apart (~450 ns), and the mode can change every few
// seconds. A Google Benchmark run measures one benchmark after another, so a mode change in the
// middle leaves ratios between rows that were taken in different modes. Here every round
// measures the one-line floor, the two-line floor, then every round trip, then the one-line
// floor again; a round whose two floor readings disagree on the mode is dropped, and each kept
// round's figures are divided by that round's own floors. Medians and quartiles are over rounds.
//
// Usage: sluice_rtt_rounds [rounds (default 20)] [round trips per measurement (default 100000)]
// Benchmark thread on CPU 0, helper on CPU 1 (a machine without CPU 1 is an error).
#include <sluice/sluice.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "queues.hpp"

using namespace sluice;
using bench::cpu_relax;
using bench::FloorLine;
using bench::kStop;

namespace {

long g_trips = 100000;

// Times `trips` calls of step() after a warm-up; ns per call.
template <class Step>
double time_trips(Step& step) {
  for (long i = 0; i < 2000; ++i) step();
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < g_trips; ++i) step();
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(g_trips);
}

// Every helper gets its pointers by value: a capture by reference would make it read this
// thread's stack on every message (perf/RESULTS.md, seventh session).
double floor_1line() {
  auto box = std::make_unique<FloorLine>();
  FloorLine* line = box.get();
  std::thread helper([line] {
    (void)pin_current_thread(1);
    uint64_t expect = 1;
    for (;;) {
      uint64_t x;
      // acquire/release: a real hand-off, as a queue's would be.
      while ((x = line->v.load(std::memory_order_acquire)) != expect && x != kStop) cpu_relax();
      if (x == kStop) return;
      line->v.store(expect + 1, std::memory_order_release);
      expect += 2;
    }
  });
  uint64_t next = 1;
  auto step = [&] {
    line->v.store(next, std::memory_order_release);
    while (line->v.load(std::memory_order_acquire) != next + 1) cpu_relax();
    next += 2;
  };
  double ns = time_trips(step);
  line->v.store(kStop, std::memory_order_release);
  helper.join();
  return ns;
}

double floor_2line() {
  auto a_box = std::make_unique<FloorLine>();
  auto b_box = std::make_unique<FloorLine>();
  FloorLine* a = a_box.get();
  FloorLine* b = b_box.get();
  std::thread helper([a, b] {
    (void)pin_current_thread(1);
    uint64_t seen = 0;
    for (;;) {
      uint64_t x;
      // acquire/release: as in floor_1line.
      while ((x = a->v.load(std::memory_order_acquire)) == seen) cpu_relax();
      if (x == kStop) return;
      seen = x;
      b->v.store(x, std::memory_order_release);
    }
  });
  uint64_t next = 0;
  auto step = [&] {
    a->v.store(++next, std::memory_order_release);
    while (b->v.load(std::memory_order_acquire) != next) cpu_relax();
  };
  double ns = time_trips(step);
  a->v.store(kStop, std::memory_order_release);
  helper.join();
  return ns;
}

// Ping queue there, pong queue back (the shape of sluice_ring_bench's *_rtt).
template <class Q>
double queue_rtt() {
  auto ping_box = std::make_unique<Q>();
  auto pong_box = std::make_unique<Q>();
  Q* ping = ping_box.get();
  Q* pong = pong_box.get();
  std::thread helper([ping, pong] {
    (void)pin_current_thread(1);
    for (;;) {
      uint64_t v = ping->pop();
      if (v == kStop) return;
      pong->push(v);
    }
  });
  uint64_t i = 0;
  bool wrong = false;
  auto step = [&] {
    ping->push(++i);
    if (pong->pop() != i) wrong = true;
  };
  double ns = time_trips(step);
  ping->push(kStop);
  helper.join();
  if (wrong) {
    std::fprintf(stderr, "a round trip returned the wrong value\n");
    std::exit(1);
  }
  return ns;
}

// A plain thread wakes a task on a busy-polling runtime (CPU 1) through a Notify; the task
// answers on a line of its own (the shape of BM_wake_busy_rtt).
double wake_busy_rtt() {
  auto to_task = std::make_unique<Notify>();
  auto answer = std::make_unique<FloorLine>();
  auto stop = std::make_unique<FloorLine>();
  std::thread rt_thread([n = to_task.get(), a = answer.get(), s = stop.get()] {
    (void)pin_current_thread(1);
    Runtime rt(RuntimeConfig{IdlePolicy::busy_poll()});
    rt.block_on([](Notify* n, FloorLine* a, FloorLine* s) -> Task<> {
      uint64_t k = 0;
      for (;;) {
        co_await n->wait();
        // acquire: pairs with the release store of stop below.
        if (s->v.load(std::memory_order_acquire) != 0) co_return;
        a->v.store(++k, std::memory_order_release);  // release: the reply
      }
    }(n, a, s));
  });
  uint64_t k = 0;
  auto step = [&] {
    to_task->notify();
    ++k;
    while (answer->v.load(std::memory_order_acquire) != k) cpu_relax();
  };
  double ns = time_trips(step);
  stop->v.store(1, std::memory_order_release);
  to_task->notify();
  rt_thread.join();
  return ns;
}

struct Row {
  const char* name;
  double (*run)();
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double quartile(std::vector<double> v, int q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() * static_cast<std::size_t>(q) / 4];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
  if (argc > 2) g_trips = std::atol(argv[2]);
  if (rounds <= 0 || g_trips <= 0) {
    std::fprintf(stderr, "usage: %s [rounds > 0] [round trips > 0]\n", argv[0]);
    return 2;
  }
  if (auto r = pin_current_thread(0); !r) {
    std::fprintf(stderr, "cannot pin to CPU 0: %s\n", to_string(r.error()));
    return 1;
  }
  const std::vector<Row> rows = {
      {"spsc (SpscRing)", &queue_rtt<bench::SluiceSpsc>},
      {"mpsc (MpscLanes)", &queue_rtt<bench::SluiceMpsc>},
      {"mpsc_shared (MpscRing)", &queue_rtt<bench::SluiceMpscShared>},
      {"atomic_queue (SPSC)", &queue_rtt<bench::AtomicQ<true>>},
      {"wake_busy (Notify)", &wake_busy_rtt},
  };
  constexpr double kCloseBelowNs = 200;  // the two modes: ~75 ns and ~450 ns
  struct Mode {
    std::vector<double> f1, f2;
    std::vector<std::vector<double>> by1, by2;
  };
  Mode modes[2];  // 0: close, 1: far
  for (Mode& m : modes) m.by1.resize(rows.size()), m.by2.resize(rows.size());
  int mixed = 0;
  for (int r = 0; r < rounds; ++r) {
    double before = floor_1line();
    double f2 = floor_2line();
    std::vector<double> got;
    for (const Row& row : rows) got.push_back(row.run());
    double after = floor_1line();
    bool close = before < kCloseBelowNs;
    if (close != (after < kCloseBelowNs) || close != (f2 < kCloseBelowNs)) {
      ++mixed;
      continue;
    }
    Mode& m = modes[close ? 0 : 1];
    double f1 = (before + after) / 2;
    m.f1.push_back(f1);
    m.f2.push_back(f2);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      m.by1[i].push_back(got[i] / f1);
      m.by2[i].push_back(got[i] / f2);
    }
  }
  std::printf("%d rounds of %ld round trips each; %d dropped (the VM changed mode in them)\n",
              rounds, g_trips, mixed);
  const char* names[2] = {"close", "far"};
  for (int k = 0; k < 2; ++k) {
    const Mode& m = modes[k];
    if (m.f1.empty()) continue;
    std::printf("\n%s mode: %zu rounds, one-line floor %.1f ns, two-line floor %.1f ns (medians)\n",
                names[k], m.f1.size(), median(m.f1), median(m.f2));
    std::printf("  %-24s %26s %26s\n", "round trip", "/ one-line floor [IQR]",
                "/ two-line floor [IQR]");
    for (std::size_t i = 0; i < rows.size(); ++i)
      std::printf("  %-24s %8.2fx [%5.2f..%5.2f] %10.2fx [%5.2f..%5.2f]\n", rows[i].name,
                  median(m.by1[i]), quartile(m.by1[i], 1), quartile(m.by1[i], 3), median(m.by2[i]),
                  quartile(m.by2[i], 1), quartile(m.by2[i], 3));
  }
  return 0;
}
