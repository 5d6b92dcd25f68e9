// sluice_latency: one latency benchmark, every sample recorded.
//
// Why a third harness beside sluice_ring_bench and sluice_rtt_rounds: those time batches of
// round trips and report a mean per batch, which hides the tail a deployment is judged on.
// Here each round trip is stamped on its own (tsc_start() before, tsc_now() after, RDTSCP so
// the closing stamp waits for the work it closes) and every sample goes into a
// LatencyHistogram of TSC ticks, converted to ns with a TscClock calibrated at start-up. The
// result is a percentile curve to p99.99 and max, as CSV (plotted by scripts/latency) and a
// JSON summary.
//
// Two-core benchmarks also time the one-line floor (a bare cache-line ping-pong between the
// same two cores) just before and just after their samples. Its median names the placement
// of the two cores: on the shared 2-vCPU VMs they are either "close" (~70 ns) or "far"
// (~450 ns) apart, now and then "adjacent" (~30 ns), and the mode can change within seconds;
// "mixed" means it changed during the run and the run's figures straddle two machines, and
// "unsteady" that the two readings are more than 25 % apart within one mode.
//
// Usage: sluice_latency --bench NAME [--cores A,B] [--samples N] [--warmup N] [--csv FILE]
//                       [--json FILE]      (--list names the benchmarks)
// Exit status: 0 ok, 1 a run failed (wrong value back, file not written, count short),
// 2 bad usage or a core that does not exist or is not allowed.
#include <sluice/runtime/latency.hpp>
#include <sluice/sluice.hpp>

#include <sched.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../channel/queues.hpp"

using namespace sluice;

namespace {

using bench::cpu_relax;

struct Cores {
  unsigned a = 0;  // the measuring thread
  unsigned b = 1;  // the echoing thread (two-core benchmarks only)
};

// What one run gives besides the histogram.
struct Outcome {
  bool right = true;      // every round trip brought back the value it sent
  uint64_t migrated = 0;  // samples whose closing stamp was read on another core than `a`
  std::string error;      // set when the run could not start
};

// A thread pinned to `cpu` running `body`. The constructor returns once the thread is pinned
// (ok()) or has given up (the body is then never run); join() waits for the body to return.
class PinnedThread {
 public:
  template <class F>
  PinnedThread(unsigned cpu, F body) {
    // By value: the thread reads nothing on the constructing thread's stack (see QueueRtt).
    t_ = std::thread([cpu, st = state_.get(), body = std::move(body)]() mutable {
      const bool pinned = static_cast<bool>(pin_current_thread(cpu));
      // release: pairs with the acquire below; nothing else is published through it.
      st->v.store(pinned ? 1 : 2, std::memory_order_release);
      if (pinned) body();
    });
    uint64_t s;
    // acquire: pairs with the release store above.
    while ((s = state_->v.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
    ok_ = s == 1;
  }
  bool ok() const noexcept { return ok_; }
  void join() {
    if (t_.joinable()) t_.join();
  }
  ~PinnedThread() { join(); }
  PinnedThread(const PinnedThread&) = delete;
  PinnedThread& operator=(const PinnedThread&) = delete;

 private:
  std::unique_ptr<bench::FloorLine> state_ = std::make_unique<bench::FloorLine>();  // 0, 1, 2
  std::thread t_;
  bool ok_ = false;
};

// Times `samples` calls of trip() after `warmup` untimed ones, one histogram sample each.
// trip() returns whether the right value came back.
template <class Trip>
void run_trips(Trip& trip, unsigned a, uint64_t warmup, uint64_t samples, LatencyHistogram& h,
               Outcome& out) {
  bool right = true;
  for (uint64_t i = 0; i < warmup; ++i) right &= trip();
  uint64_t migrated = 0;
  for (uint64_t i = 0; i < samples; ++i) {
    const uint64_t t0 = tsc_start();
    const bool r = trip();
    unsigned cpu;
    const uint64_t t1 = tsc_now(&cpu);
    h.record(t1 - t0);
    right &= r;
    migrated += cpu != a;
  }
  out.right = right;
  out.migrated = migrated;
}

// ---------------------------------------------------------------- the benchmarks

// The floor: one cache line bounced between the two cores, one plain store per direction and
// nothing else (bench::Floor1Line's loop, on the chosen cores).
Outcome line_rtt(Cores c, uint64_t warmup, uint64_t samples, LatencyHistogram& h) {
  Outcome out;
  auto line = std::make_unique<bench::FloorLine>();
  PinnedThread echo(c.b, [l = line.get()] {
    uint64_t expect = 1;
    for (;;) {
      uint64_t x;
      // acquire/release: a real hand-off, as a queue's would be.
      while ((x = l->v.load(std::memory_order_acquire)) != expect && x != bench::kFloorStop)
        cpu_relax();
      if (x == bench::kFloorStop) return;
      l->v.store(expect + 1, std::memory_order_release);
      expect += 2;
    }
  });
  if (!echo.ok()) {
    out.error = "the echo thread could not pin itself";
    return out;
  }
  uint64_t next = 1;
  bench::FloorLine* l = line.get();
  auto trip = [l, &next] {
    l->v.store(next, std::memory_order_release);  // release/acquire: as the echo thread's
    while (l->v.load(std::memory_order_acquire) != next + 1) cpu_relax();
    next += 2;
    return true;
  };
  run_trips(trip, c.a, warmup, samples, h, out);
  l->v.store(bench::kFloorStop, std::memory_order_release);  // release: the echo's exit
  echo.join();
  return out;
}

// Ping queue there, pong queue back, both busy-polled (bench::QueueRtt's loop, on the chosen
// cores). Q is one of perf/channel/queues.hpp's adapters, so the queues are the ones
// sluice_ring_bench and sluice_rtt_rounds measure.
template <class Q>
Outcome queue_rtt(Cores c, uint64_t warmup, uint64_t samples, LatencyHistogram& h) {
  Outcome out;
  auto ping = std::make_unique<Q>();
  auto pong = std::make_unique<Q>();
  PinnedThread echo(c.b, [p = ping.get(), q = pong.get()] {
    for (;;) {
      const uint64_t v = p->pop();
      if (v == bench::kStop) return;
      q->push(v);
    }
  });
  if (!echo.ok()) {
    out.error = "the echo thread could not pin itself";
    return out;
  }
  uint64_t i = 0;  // values start at 1: atomic_queue's NIL is 0
  Q* p = ping.get();
  Q* q = pong.get();
  auto trip = [p, q, &i] {
    p->push(++i);
    return q->pop() == i;
  };
  run_trips(trip, c.a, warmup, samples, h, out);
  p->push(bench::kStop);
  echo.join();
  return out;
}

Outcome spsc_rtt(Cores c, uint64_t w, uint64_t n, LatencyHistogram& h) {
  return queue_rtt<bench::SluiceSpsc>(c, w, n, h);
}
Outcome atomic_queue_rtt(Cores c, uint64_t w, uint64_t n, LatencyHistogram& h) {
  return queue_rtt<bench::AtomicQ<true>>(c, w, n, h);
}

// Two tasks on one busy-polling runtime joined by two local channels of capacity 1: a round
// trip is a send and a recv each way and two task switches, with no atomics.
Task<> local_echo(local::Receiver<uint64_t> in, local::Sender<uint64_t> out) {
  while (auto v = co_await in.recv())
    if (!co_await out.send(*v)) co_return;
}

Task<> local_measure(local::Sender<uint64_t> to_echo, local::Receiver<uint64_t> from_echo,
                     local::Receiver<uint64_t> echo_in, local::Sender<uint64_t> echo_out,
                     unsigned a, uint64_t warmup, uint64_t samples, LatencyHistogram* h,
                     Outcome* out) {
  auto echo = spawn(local_echo(std::move(echo_in), std::move(echo_out)));
  uint64_t i = 0;
  bool right = true;
  for (uint64_t k = 0; k < warmup; ++k) {
    (void)co_await to_echo.send(++i);
    auto v = co_await from_echo.recv();
    right &= v && *v == i;
  }
  uint64_t migrated = 0;
  for (uint64_t k = 0; k < samples; ++k) {
    const uint64_t t0 = tsc_start();
    (void)co_await to_echo.send(++i);
    auto v = co_await from_echo.recv();
    unsigned cpu;
    const uint64_t t1 = tsc_now(&cpu);
    h->record(t1 - t0);
    right &= v && *v == i;
    migrated += cpu != a;
  }
  out->right = right;
  out->migrated = migrated;
  { auto closing = std::move(to_echo); }  // the echo's recv sees Closed and it returns
  (void)co_await echo;
}

Outcome local_rtt(Cores c, uint64_t warmup, uint64_t samples, LatencyHistogram& h) {
  Outcome out;
  Runtime rt(RuntimeConfig{IdlePolicy::busy_poll()});
  auto [tx1, rx1] = local::channel<uint64_t>(1).value();
  auto [tx2, rx2] = local::channel<uint64_t>(1).value();
  rt.block_on(local_measure(std::move(tx1), std::move(rx2), std::move(rx1), std::move(tx2), c.a,
                            warmup, samples, &h, &out));
  return out;
}

// Two stamps back to back: what the measurement itself adds to every other benchmark's samples.
Outcome tsc_overhead(Cores c, uint64_t warmup, uint64_t samples, LatencyHistogram& h) {
  Outcome out;
  auto trip = [] { return true; };
  run_trips(trip, c.a, warmup, samples, h, out);
  return out;
}

struct Bench {
  const char* name;
  unsigned cores;  // 1: core A only; 2: A measures, B echoes
  Outcome (*run)(Cores, uint64_t, uint64_t, LatencyHistogram&);
  const char* what;
};

const Bench kBenches[] = {
    {"line_rtt", 2, &line_rtt,
     "one cache line bounced A->B->A, one store per direction: the floor of any round trip"},
    {"spsc_rtt", 2, &spsc_rtt,
     "round trip over two sluice SpscRing<uint64_t> (ping, pong), both sides busy-polling"},
    {"atomic_queue_rtt", 2, &atomic_queue_rtt,
     "the same round trip over two atomic_queue SPSC queues (the peer)"},
    {"local_rtt", 1, &local_rtt,
     "two tasks on one busy-polling runtime, local::channel(1) each way: send+recv twice"},
    {"tsc_overhead", 1, &tsc_overhead,
     "tsc_start() then tsc_now() with nothing between: the stamps' own cost in every sample"},
};

// ---------------------------------------------------------------- helpers

// The placement the one-line floor's median points at (the modes seen on the 2-vCPU VMs; on
// bare metal "close" is cores sharing an L3, "far" is across sockets or dies).
const char* placement_of(double floor_ns) {
  return floor_ns < 50 ? "adjacent" : floor_ns < 200 ? "close" : "far";
}

// Median of a short one-line floor run between the two cores (ns), or < 0 if it failed.
double floor_median_ns(Cores c, const TscClock& clock) {
  LatencyHistogram f;
  const Outcome o = line_rtt(c, 2000, 20000, f);
  if (!o.error.empty() || f.count() == 0) return -1;
  return clock.to_ns(f.percentile(0.5));
}

// "0-3,6" for the CPUs this thread may run on.
std::string allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return "?";
  std::string s;
  for (int i = 0; i < CPU_SETSIZE; ++i) {
    if (!CPU_ISSET(i, &set)) continue;
    int j = i;
    while (j + 1 < CPU_SETSIZE && CPU_ISSET(j + 1, &set)) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(i);
    if (j > i) s += '-' + std::to_string(j);
    i = j;
  }
  return s;
}

bool parse_cpu(const std::string& s, unsigned& out) {
  if (s.empty() || s.size() > 6) return false;
  for (char ch : s)
    if (ch < '0' || ch > '9') return false;
  out = static_cast<unsigned>(std::stoul(s));
  return true;
}

// ns as printed in the summary: one decimal below 100 ns, whole ns above.
std::string ns(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 100 ? "%.1f" : "%.0f", v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice_latency: one latency benchmark, every sample in a TSC histogram"};
  std::string bench_name, cores_arg = "0,1", csv_path, json_path;
  uint64_t samples = 1'000'000, warmup = 10'000;
  bool list = false;
  app.add_option("--bench", bench_name, "benchmark to run (--list names them)");
  app.add_option("--cores", cores_arg, "A,B: A measures, B echoes (one-core benchmarks use A)")
      ->capture_default_str();
  app.add_option("--samples", samples, "timed samples, every one recorded")->capture_default_str();
  app.add_option("--warmup", warmup, "untimed round trips first")->capture_default_str();
  app.add_option("--csv", csv_path, "percentile curve: rows percentile,ns");
  app.add_option("--json", json_path, "summary: count, min, mean, p50 .. p99.99, max in ns");
  app.add_flag("--list", list, "name the benchmarks and exit");
  CLI11_PARSE(app, argc, argv);

  if (list) {
    for (const Bench& b : kBenches)
      std::printf("%-18s %s  %s\n", b.name, b.cores == 2 ? "A,B" : "A  ", b.what);
    return 0;
  }
  const Bench* bench = nullptr;
  for (const Bench& b : kBenches)
    if (bench_name == b.name) bench = &b;
  if (bench == nullptr) {
    std::fprintf(stderr, "sluice_latency: %s; --list names them\n",
                 bench_name.empty() ? "--bench NAME is required"
                                    : ("no benchmark '" + bench_name + "'").c_str());
    return 2;
  }
  if (samples == 0) {
    std::fprintf(stderr, "sluice_latency: --samples must be at least 1\n");
    return 2;
  }

  // --cores: "A,B" or "A" (one-core benchmarks only).
  Cores cores;
  {
    const auto comma = cores_arg.find(',');
    const std::string first = cores_arg.substr(0, comma);
    const std::string second = comma == std::string::npos ? "" : cores_arg.substr(comma + 1);
    const bool ok_a = parse_cpu(first, cores.a);
    const bool ok_b = comma == std::string::npos || parse_cpu(second, cores.b);
    if (!ok_a || !ok_b || (bench->cores == 2 && comma == std::string::npos)) {
      std::fprintf(stderr, "sluice_latency: --cores '%s': expected %s (CPU numbers)\n",
                   cores_arg.c_str(), bench->cores == 2 ? "A,B" : "A or A,B");
      return 2;
    }
    if (bench->cores == 2 && cores.a == cores.b) {
      std::fprintf(stderr,
                   "sluice_latency: %s needs two different cores (both sides busy-poll; on "
                   "one core every hop waits for a preemption)\n",
                   bench->name);
      return 2;
    }
  }
  // Each chosen core must exist, be online and be allowed: pinning to it says so (BadCpu).
  // B first, so that the measuring thread ends up on A.
  const std::string allowed = allowed_cpus();
  const unsigned order[2] = {cores.b, cores.a};
  for (unsigned k = bench->cores == 2 ? 0 : 1; k < 2; ++k) {
    if (auto r = pin_current_thread(order[k]); !r) {
      std::fprintf(stderr, "sluice_latency: core %u: %s; this process may use CPUs %s\n", order[k],
                   to_string(r.error()), allowed.c_str());
      return 2;
    }
  }

  const TscClock clock = TscClock::calibrate(std::chrono::milliseconds(50));
  const bool two = bench->cores == 2;
  const double floor_before = two ? floor_median_ns(cores, clock) : 0;

  LatencyHistogram h;
  const Outcome out = bench->run(cores, warmup, samples, h);
  if (!out.error.empty()) {
    std::fprintf(stderr, "sluice_latency: %s: %s\n", bench->name, out.error.c_str());
    return 1;
  }
  const double floor_after = two ? floor_median_ns(cores, clock) : 0;

  int rc = 0;
  if (!out.right) {
    std::fprintf(stderr, "sluice_latency: %s: a round trip brought back the wrong value\n",
                 bench->name);
    rc = 1;
  }
  if (h.count() != samples) {
    std::fprintf(stderr, "sluice_latency: %s: %llu samples recorded, %llu asked for\n", bench->name,
                 static_cast<unsigned long long>(h.count()),
                 static_cast<unsigned long long>(samples));
    rc = 1;
  }
  if (out.migrated != 0)
    std::fprintf(stderr, "sluice_latency: %s: %llu samples ended on another core than %u\n",
                 bench->name, static_cast<unsigned long long>(out.migrated), cores.a);

  const LatencySummary s = h.summary(clock);
  // Named by the two floor readings: "mixed" when they point at different modes (the run
  // straddles two placements); "steady" false when they are more than 25 % apart (as
  // sluice_rtt_rounds drops such rounds).
  std::string placement;
  bool steady = true;
  if (two) {
    if (floor_before < 0 || floor_after < 0) {
      placement = "unknown";
      steady = false;
    } else {
      const std::string before = placement_of(floor_before), after = placement_of(floor_after);
      placement = before == after ? before : "mixed";
      steady = before == after &&
               std::max(floor_before, floor_after) <= 1.25 * std::min(floor_before, floor_after);
    }
  }
  std::string where = std::to_string(cores.a);
  if (two) where += "," + std::to_string(cores.b);

  std::printf(
      "%s cores %s: n=%llu p50 %s p90 %s p99 %s p99.9 %s p99.99 %s max %s ns (min %s, "
      "mean %s)",
      bench->name, where.c_str(), static_cast<unsigned long long>(s.count), ns(s.p50).c_str(),
      ns(s.p90).c_str(), ns(s.p99).c_str(), ns(s.p999).c_str(), ns(s.p9999).c_str(),
      ns(s.max).c_str(), ns(s.min).c_str(), ns(s.mean).c_str());
  if (two)
    std::printf("; floor %s/%s ns before/after: %s%s", ns(floor_before).c_str(),
                ns(floor_after).c_str(), placement.c_str(), steady ? "" : ", unsteady");
  std::printf("\n");

  if (!csv_path.empty()) {
    std::FILE* f = std::fopen(csv_path.c_str(), "w");
    const bool ok = f != nullptr && h.write_csv(f, 1.0 / clock.ticks_per_ns(), "ns");
    if (f != nullptr && std::fclose(f) != 0) rc = 1;
    if (!ok) {
      std::fprintf(stderr, "sluice_latency: cannot write %s\n", csv_path.c_str());
      rc = 1;
    }
  }
  if (!json_path.empty()) {
    std::FILE* f = std::fopen(json_path.c_str(), "w");
    bool ok = f != nullptr;
    if (ok) {
      int n = std::fprintf(
          f,
          "{\"bench\": \"%s\", \"cores\": [%s], \"unit\": \"ns\", \"samples\": %llu, "
          "\"warmup\": %llu,\n \"count\": %llu, \"min\": %.1f, \"mean\": %.1f, \"p50\": %.1f, "
          "\"p90\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"p9999\": %.1f, \"max\": %.1f,\n "
          "\"ticks_per_ns\": %.6f, \"tsc_invariant\": %s, \"migrated\": %llu",
          bench->name, where.c_str(), static_cast<unsigned long long>(samples),
          static_cast<unsigned long long>(warmup), static_cast<unsigned long long>(s.count), s.min,
          s.mean, s.p50, s.p90, s.p99, s.p999, s.p9999, s.max, clock.ticks_per_ns(),
          TscClock::invariant() ? "true" : "false", static_cast<unsigned long long>(out.migrated));
      if (two)
        n = n < 0 ? n
                  : std::fprintf(f,
                                 ",\n \"floor_before_ns\": %.1f, \"floor_after_ns\": %.1f, "
                                 "\"placement\": \"%s\", \"floor_steady\": %s",
                                 floor_before, floor_after, placement.c_str(),
                                 steady ? "true" : "false");
      ok = n >= 0 && std::fprintf(f, "}\n") >= 0;
      if (std::fclose(f) != 0) ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "sluice_latency: cannot write %s\n", json_path.c_str());
      rc = 1;
    }
  }
  return rc;
}
