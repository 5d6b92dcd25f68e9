// LatencyHistogram and TscClock: bucket bounds, percentiles against a sorted reference, merge
// across threads, the CSV curve, calibration.
#include <gtest/gtest.h>

#include <sluice/runtime/latency.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

using sluice::LatencyHistogram;
using sluice::LatencySummary;
using sluice::TscClock;

TEST(Latency, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 0; v < 16; ++v) h.record(v);  // below kSub: one bucket per value
  EXPECT_EQ(h.count(), 16u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 15u);
  EXPECT_EQ(h.percentile(0.5), 7u);
  EXPECT_EQ(h.percentile(1.0), 15u);
}

TEST(Latency, EveryValueFallsInsideItsBucket) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() >> (rng() % 64);
    unsigned b = LatencyHistogram::index(v);
    ASSERT_LT(b, LatencyHistogram::kBuckets);
    ASSERT_LE(v, LatencyHistogram::upper(b));
    if (b > 0) {
      ASSERT_GT(v, LatencyHistogram::upper(b - 1));
    }
  }
}

TEST(Latency, PercentilesWithinOneThirtySecondOfExact) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> dist(6.0, 1.0);
  LatencyHistogram h;
  std::vector<uint64_t> vals;
  for (int i = 0; i < 200000; ++i) {
    auto v = static_cast<uint64_t>(dist(rng));
    vals.push_back(v);
    h.record(v);
  }
  std::sort(vals.begin(), vals.end());
  for (double q : {0.5, 0.9, 0.99, 0.999, 0.9999}) {
    uint64_t exact = vals[static_cast<std::size_t>(q * static_cast<double>(vals.size() - 1))];
    uint64_t got = h.percentile(q);
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1.0 + 1.0 / 32) + 1) << q;
  }
  EXPECT_EQ(h.max(), vals.back());
}

TEST(Latency, MergeAddsCounts) {
  LatencyHistogram a, b;
  a.record(10);
  b.record(1000);
  b.record(20);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.max(), 1000u);
  EXPECT_EQ(a.min(), 10u);
  LatencyHistogram empty;
  EXPECT_EQ(empty.percentile(0.99), 0u);
}

TEST(Latency, ExtremeValuesLandInTheLastBuckets) {
  LatencyHistogram h;
  h.record(UINT64_MAX);
  h.record(uint64_t{1} << 63);
  EXPECT_LT(LatencyHistogram::index(UINT64_MAX), LatencyHistogram::kBuckets);
  EXPECT_EQ(LatencyHistogram::upper(LatencyHistogram::index(UINT64_MAX)), UINT64_MAX);
  EXPECT_EQ(h.percentile(1.0), UINT64_MAX);
  EXPECT_EQ(h.max(), UINT64_MAX);
}

TEST(Latency, SummaryScalesAndOrdersPercentiles) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v);
  const LatencySummary s = h.summary(0.5);  // e.g. 2 ticks per ns
  EXPECT_EQ(s.count, 100000u);
  EXPECT_DOUBLE_EQ(s.min, 0.5);
  EXPECT_DOUBLE_EQ(s.max, 50000.0);
  EXPECT_NEAR(s.mean, 25000.25, 0.01);
  EXPECT_LE(s.p50, s.p90);
  EXPECT_LE(s.p90, s.p99);
  EXPECT_LE(s.p99, s.p999);
  EXPECT_LE(s.p999, s.p9999);
  EXPECT_LE(s.p9999, s.max);
  EXPECT_NEAR(s.p50, 25000.0, 25000.0 / 32 + 1);
  EXPECT_NEAR(s.p9999, 49995.0, 49995.0 / 32 + 1);
  const LatencySummary empty = LatencyHistogram{}.summary(1.0);
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.max, 0.0);
  EXPECT_EQ(TscClock::with_rate(2.0).to_ns(10), 5.0);
  EXPECT_EQ(LatencyHistogram{}.summary(TscClock::with_rate(2.0)).p50, 0.0);
}

TEST(Latency, ZeroAndOneQuantilesAreMinAndMax) {
  LatencyHistogram h;
  h.record(5000);
  h.record(7);
  h.record(90000);
  EXPECT_EQ(h.percentile(0.0), 7u);
  EXPECT_EQ(h.percentile(1.0), 90000u);
  EXPECT_EQ(h.percentile(-3.0), 7u);
  EXPECT_EQ(h.percentile(2.0), 90000u);
}

// Four threads each record their own histogram; the merge equals one histogram of everything.
TEST(Latency, MergeAcrossThreadsEqualsOneHistogram) {
  constexpr int kThreads = 4;
  constexpr int kPer = 50000;
  std::vector<LatencyHistogram> per(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&per, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) + 1);
      for (int i = 0; i < kPer; ++i) per[static_cast<std::size_t>(t)].record(rng() >> (rng() % 60));
    });
  }
  for (auto& t : ts) t.join();
  LatencyHistogram merged, all;
  for (int t = 0; t < kThreads; ++t) {
    merged.merge(per[static_cast<std::size_t>(t)]);
    std::mt19937_64 rng(static_cast<uint64_t>(t) + 1);
    for (int i = 0; i < kPer; ++i) all.record(rng() >> (rng() % 60));
  }
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0})
    EXPECT_EQ(merged.percentile(q), all.percentile(q)) << q;
}

TEST(Latency, CsvCurveIsMonotoneAndEndsAtMax) {
  LatencyHistogram h;
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> dist(7.0, 0.8);
  for (int i = 0; i < 100000; ++i) h.record(static_cast<uint64_t>(dist(rng)));
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(h.write_csv(f, 1.0, "ticks", 10));
  std::rewind(f);
  char line[128];
  ASSERT_NE(std::fgets(line, sizeof line, f), nullptr);
  EXPECT_EQ(std::string(line), "percentile,ticks\n");
  double last_q = -1, last_v = -1, q = 0, v = 0;
  int rows = 0;
  while (std::fscanf(f, "%lf,%lf\n", &q, &v) == 2) {
    EXPECT_GT(q, last_q);
    EXPECT_GE(v, last_v);
    last_q = q;
    last_v = v;
    ++rows;
  }
  std::fclose(f);
  // 10^5 samples resolve 5 decades (to p99.999) at 10 rows each, plus the first row and max.
  EXPECT_EQ(rows, 5 * 10 + 2);
  EXPECT_EQ(last_q, 100.0);
  EXPECT_EQ(last_v, static_cast<double>(h.max()));
}

TEST(Latency, TscCalibrationMatchesSteadyClock) {
  const TscClock c = TscClock::calibrate(std::chrono::milliseconds(50));
  ASSERT_GT(c.ticks_per_ns(), 0.0);
  // A shared VM can stall a thread between paired reads for milliseconds (the sanitizer
  // builds on a loaded CI machine do): a wrong rate fails every try, a stall only one.
  // Checked twice: with the clock's own stamp(), and with plain reads that do not go through
  // it (a stamp() that paired the wrong reads would agree with itself).
  double got = 0, want = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const TscClock::Stamp a = TscClock::stamp();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const TscClock::Stamp b = TscClock::stamp();
    ASSERT_GE(b.ns - a.ns, 30'000'000);
    ASSERT_GT(b.ticks, a.ticks);
    got = c.to_ns(b.ticks - a.ticks);
    want = static_cast<double>(b.ns - a.ns);
    if (std::abs(got - want) <= want * 0.05) break;
  }
  EXPECT_NEAR(got, want, want * 0.05);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const uint64_t t0 = sluice::tsc_start();
    const auto s0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const uint64_t t1 = sluice::tsc_now();
    const auto s1 = std::chrono::steady_clock::now();
    got = c.to_ns(t1 - t0);
    want = static_cast<double>(std::chrono::nanoseconds(s1 - s0).count());
    ASSERT_GE(want, 30e6);
    if (std::abs(got - want) <= want * 0.05) break;
  }
  EXPECT_NEAR(got, want, want * 0.05);
  unsigned cpu = 9999;
  (void)sluice::tsc_now(&cpu);
  EXPECT_LT(cpu, 4096u);
  EXPECT_EQ(&TscClock::global(), &TscClock::global());
}

// Converting ticks to ns and back gives the same ticks at any rate (a calibrated rate is an
// arbitrary double, so this is checked over many of them, not only the one this machine has).
TEST(Latency, TscRoundTripIsExactAtAnyRate) {
  uint64_t checked = 0;
  for (double rate = 0.5; rate < 6.0; rate += 0.0123457) {
    const TscClock c = TscClock::with_rate(rate);
    for (uint64_t t : {uint64_t{1}, uint64_t{2}, uint64_t{999}, uint64_t{1000000},
                       uint64_t{2999999997}, uint64_t{1} << 40, (uint64_t{1} << 50) - 1}) {
      ASSERT_EQ(c.from_ns(c.to_ns(t)), t) << "rate " << rate;
      ++checked;
    }
  }
  EXPECT_GT(checked, 3000u);
  const TscClock c = TscClock::with_rate(3.0);
  EXPECT_EQ(c.from_ns(0), 0u);
  EXPECT_EQ(c.from_ns(-5), 0u);
  EXPECT_EQ(c.from_ns(std::nan("")), 0u);
  EXPECT_EQ(c.from_ns(0.1), 0u);  // 0.3 ticks rounds to 0
  EXPECT_EQ(c.from_ns(0.2), 1u);  // 0.6 ticks rounds to 1
  EXPECT_EQ(c.from_ns(1e300), UINT64_MAX);
  // Rates no clock has are refused: the default of 1 tick per ns stays.
  for (double bad : {0.0, -1.0, std::nan(""), HUGE_VAL, 1e-310, 1e9})
    EXPECT_EQ(TscClock::with_rate(bad).ticks_per_ns(), 1.0) << bad;
  EXPECT_EQ(TscClock::with_rate(2.5).ticks_per_ns(), 2.5);
}

// Nearest rank: the smallest value with at least ceil(q * n) samples at or below it.
TEST(Latency, NearestRankPercentiles) {
  LatencyHistogram h;
  h.record(1);
  h.record(100);
  EXPECT_EQ(h.percentile(0.5), 1u);    // ceil(0.5 * 2) = 1st
  EXPECT_EQ(h.percentile(0.9), 100u);  // ceil(0.9 * 2) = 2nd
  LatencyHistogram k;
  for (uint64_t v = 1; v <= 10; ++v) k.record(v);
  EXPECT_EQ(k.percentile(0.1), 1u);
  EXPECT_EQ(k.percentile(0.11), 2u);
  EXPECT_EQ(k.percentile(0.999), 10u);
  LatencyHistogram d;
  for (uint64_t v = 1; v <= 100; ++v) d.record(v < 32 ? v : 31);
  EXPECT_EQ(d.percentile(0.07), 7u);  // 0.07 * 100 is 7.000000000000001 in doubles: rank 7
  EXPECT_EQ(d.percentile(0.3), 30u);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(d.percentile(nan), d.min());
}
