// The latency harness's own costs, against what a user would otherwise write, in one binary:
//   stamps:  tsc_now() (RDTSCP) and tsc_start() (LFENCE;RDTSC) against steady_clock::now()
//            (the portable peer: a vDSO call) and bare RDTSC (the floor: unordered);
//   record:  LatencyHistogram::record against storing the sample in a preallocated array (the
//            floor: what "keep every sample, sort at the end" costs per sample, before the sort);
//   merge and a percentile query (not hot paths: once per report).
#include <benchmark/benchmark.h>

#include <sluice/runtime/latency.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

namespace {

void BM_stamp_rdtsc_floor(benchmark::State& s) {
  for (auto _ : s) benchmark::DoNotOptimize(sluice::cycles_now());
}
BENCHMARK(BM_stamp_rdtsc_floor);

void BM_stamp_tsc_now(benchmark::State& s) {
  for (auto _ : s) benchmark::DoNotOptimize(sluice::tsc_now());
}
BENCHMARK(BM_stamp_tsc_now);

void BM_stamp_tsc_start(benchmark::State& s) {
  for (auto _ : s) benchmark::DoNotOptimize(sluice::tsc_start());
}
BENCHMARK(BM_stamp_tsc_start);

void BM_stamp_steady_clock_peer(benchmark::State& s) {
  for (auto _ : s) benchmark::DoNotOptimize(std::chrono::steady_clock::now());
}
BENCHMARK(BM_stamp_steady_clock_peer);

// Values spread like latencies (a few hundred to a few hundred thousand ticks), from a cheap
// generator so the generator is not what is measured.
inline uint64_t next_value(uint64_t& x) noexcept {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return 200 + (x & 0xFFFF) * ((x >> 60) + 1);
}

void BM_record_histogram(benchmark::State& s) {
  sluice::LatencyHistogram h;
  uint64_t x = 88172645463325252ull;
  for (auto _ : s) {
    h.record(next_value(x));
    benchmark::ClobberMemory();  // the bucket store is the work: keep it in every iteration
  }
  benchmark::DoNotOptimize(h.percentile(0.5));
  s.SetItemsProcessed(static_cast<int64_t>(s.iterations()));
}
BENCHMARK(BM_record_histogram);

void BM_record_array_floor(benchmark::State& s) {
  std::vector<uint64_t> v(1 << 20);
  std::size_t i = 0;
  uint64_t x = 88172645463325252ull;
  for (auto _ : s) {
    v[i] = next_value(x);
    i = (i + 1) & ((1 << 20) - 1);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(v.data());
  s.SetItemsProcessed(static_cast<int64_t>(s.iterations()));
}
BENCHMARK(BM_record_array_floor);

void BM_merge(benchmark::State& s) {
  sluice::LatencyHistogram a, b;
  uint64_t x = 1;
  for (int i = 0; i < 100000; ++i) b.record(next_value(x));
  for (auto _ : s) {
    a.merge(b);
    benchmark::DoNotOptimize(a.count());
  }
}
BENCHMARK(BM_merge);

void BM_percentile_p9999(benchmark::State& s) {
  sluice::LatencyHistogram h;
  uint64_t x = 1;
  for (int i = 0; i < 1000000; ++i) h.record(next_value(x));
  for (auto _ : s) benchmark::DoNotOptimize(h.percentile(0.9999));
}
BENCHMARK(BM_percentile_p9999);

}  // namespace

BENCHMARK_MAIN();
