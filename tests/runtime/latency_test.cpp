// LatencyHistogram: bucket bounds, percentiles against a sorted reference, merge.
#include <gtest/gtest.h>

#include <sluice/runtime/latency.hpp>

#include <algorithm>
#include <random>
#include <vector>

using sluice::LatencyHistogram;

TEST(Latency, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 0; v < 16; ++v) h.record(v);
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

TEST(Latency, PercentilesWithinOneSixteenthOfExact) {
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
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    uint64_t exact = vals[static_cast<std::size_t>(q * static_cast<double>(vals.size() - 1))];
    uint64_t got = h.percentile(q);
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1.0 + 1.0 / 16) + 1) << q;
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
