// sluice_rtt_rounds: cross-thread round trips measured in interleaved rounds.
//
// Why a second harness: on the shared 2-vCPU VMs the two vCPUs are sometimes close together
// (one-line floor ~75 ns, now and then ~30 ns) and sometimes far apart (~450 ns), and the mode
// can change every few seconds. A Google Benchmark run measures one benchmark after another, so a
// mode change in the middle leaves ratios between rows that were taken in different modes. Here
// every round measures the one-line floor, the two-line floor, then every round trip, then the
// one-line floor again; a round whose two floor readings disagree (another mode, or 25 % apart) is
// dropped, and each kept round's figures are divided by that round's own floors. Medians and
// quartiles are over rounds.
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

double floor_1line() {
  bench::Floor1Line f;
  auto step = [&f] { f.step(); };
  return time_trips(step);
}
double floor_2line() {
  bench::Floor2Line f;
  auto step = [&f] { f.step(); };
  return time_trips(step);
}

template <class Q>
double queue_rtt() {
  bench::QueueRtt<Q> r;
  bool ok = true;
  auto step = [&] { ok &= r.step(); };
  double ns = time_trips(step);
  if (!ok) {
    std::fprintf(stderr, "a round trip returned the wrong value\n");
    std::exit(1);
  }
  return ns;
}

double wake_busy_rtt() {
  bench::WakeRtt w(IdlePolicy::busy_poll());
  auto step = [&w] { w.step(); };
  return time_trips(step);
}

struct Row {
  const char* name;
  double (*run)();
};

// q = 1, 2, 3: the lower quartile, the median, the upper quartile (0 for no values).
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
  // The modes seen so far on these VMs: one-line floor ~30 ns ("adjacent"), ~75 ns ("close")
  // and ~450 ns ("far"). A round is kept only if both readings of the one-line floor fall in
  // the same mode and within 25 % of each other.
  auto mode_of = [](double floor_ns) { return floor_ns < 50 ? 0 : floor_ns < 200 ? 1 : 2; };
  struct Mode {
    std::vector<double> f1, f2;
    std::vector<std::vector<double>> by1, by2;
  };
  Mode modes[3];  // adjacent, close, far
  for (Mode& m : modes) m.by1.resize(rows.size()), m.by2.resize(rows.size());
  int mixed = 0;
  for (int r = 0; r < rounds; ++r) {
    double before = floor_1line();
    double f2 = floor_2line();
    std::vector<double> got;
    for (const Row& row : rows) got.push_back(row.run());
    double after = floor_1line();
    const int mode = mode_of(before);
    if (mode != mode_of(after) || std::max(before, after) > 1.25 * std::min(before, after)) {
      ++mixed;
      continue;
    }
    Mode& m = modes[mode];
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
  const char* names[3] = {"adjacent", "close", "far"};
  for (int k = 0; k < 3; ++k) {
    const Mode& m = modes[k];
    if (m.f1.empty()) continue;
    std::printf("\n%s mode: %zu rounds, one-line floor %.1f ns, two-line floor %.1f ns (medians)\n",
                names[k], m.f1.size(), quartile(m.f1, 2), quartile(m.f2, 2));
    std::printf("  %-24s %26s %26s\n", "round trip", "/ one-line floor [IQR]",
                "/ two-line floor [IQR]");
    for (std::size_t i = 0; i < rows.size(); ++i)
      std::printf("  %-24s %8.2fx [%5.2f..%5.2f] %10.2fx [%5.2f..%5.2f]\n", rows[i].name,
                  quartile(m.by1[i], 2), quartile(m.by1[i], 1), quartile(m.by1[i], 3),
                  quartile(m.by2[i], 2), quartile(m.by2[i], 1), quartile(m.by2[i], 3));
  }
  return 0;
}
