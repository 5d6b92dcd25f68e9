// Tap: every message a tapped sender delivers appears once in the log with its channel id, a
// sequence number and a timestamp; refused sends are not recorded; a full log drops and counts;
// senders on several threads share one tap over an MPSC log without duplicates.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

using namespace sluice;

namespace {

struct Quote {
  uint32_t id;
  int32_t px;
  uint64_t qty;
};

template <class Log>
std::vector<std::pair<TapHeader, Quote>> drain(Log& log) {
  std::vector<std::pair<TapHeader, Quote>> out;
  log.consume(
      [&](std::span<const std::byte> s, uint16_t kind) {
        EXPECT_EQ(kind, kTapKind);
        EXPECT_EQ(s.size(), sizeof(TapHeader) + sizeof(Quote));
        TapHeader h;
        Quote q;
        std::memcpy(&h, s.data(), sizeof h);
        std::memcpy(&q, s.data() + sizeof h, sizeof q);
        out.emplace_back(h, q);
      },
      SIZE_MAX);
  return out;
}

TEST(Tap, LocalChannelRecordsWhatItDelivers) {
  auto log = std::move(*SpscLogbuf::make(64 * 1024));
  Tap<SpscLogbuf> tap(*log, 42);
  auto [tx0, rx] = std::move(*local::channel<Quote>(2));
  auto tx = tapped(std::move(tx0), tap);
  EXPECT_TRUE(tx.try_send(Quote{1, 100, 5}));
  EXPECT_TRUE(tx.try_send(Quote{2, 101, 6}));
  EXPECT_FALSE(tx.try_send(Quote{3, 102, 7}));  // Full: not delivered, not recorded
  Runtime rt;
  rt.block_on([&]() -> Task<> {
    (void)co_await rx.recv();
    auto r = co_await tx.send(Quote{4, 103, 8});  // the awaitable records on success too
    EXPECT_TRUE(r);
  }());
  auto recs = drain(*log);
  ASSERT_EQ(recs.size(), 3u);
  int64_t last_ts = 0;
  uint32_t ids[] = {1, 2, 4};
  for (std::size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].first.channel_id, 42u);
    EXPECT_EQ(recs[i].first.bytes, sizeof(Quote));
    EXPECT_EQ(recs[i].first.sequence, i);
    EXPECT_GE(recs[i].first.timestamp, last_ts);
    last_ts = recs[i].first.timestamp;
    EXPECT_EQ(recs[i].second.id, ids[i]);
  }
  EXPECT_EQ(tap.dropped(), 0u);
  EXPECT_EQ(tap.sequenced(), 3u);
}

TEST(Tap, TscClockStampsCycles) {
  auto log = std::move(*SpscLogbuf::make(4096));
  Tap<SpscLogbuf, TapTsc> tap(*log, 3);
  auto [tx0, rx] = std::move(*local::channel<Quote>(8));
  auto tx = tapped(std::move(tx0), tap);
  const int64_t before = TapTsc::now();
  ASSERT_TRUE(tx.try_send(Quote{1, 2, 3}));
  ASSERT_TRUE(tx.try_send(Quote{4, 5, 6}));
  auto recs = drain(*log);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_GE(recs[0].first.timestamp, before);
  EXPECT_GE(recs[1].first.timestamp, recs[0].first.timestamp);
  EXPECT_EQ(recs[1].second.qty, 6u);
  EXPECT_EQ(rx.size(), 2u);
}

TEST(Tap, FullLogDropsAndCounts) {
  auto log = std::move(*SpscLogbuf::make(256));  // a few records only
  Tap<SpscLogbuf> tap(*log, 7);
  auto [tx0, rx] = std::move(*local::channel<Quote>(1024));
  auto tx = tapped(std::move(tx0), tap);
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(tx.try_send(Quote{i, 0, 0}));
  auto recs = drain(*log);
  EXPECT_EQ(recs.size() + tap.dropped(), 100u);
  EXPECT_GT(tap.dropped(), 0u);
  // The kept ones are the first ones, in order: the gap shows in the sequence numbers.
  for (std::size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].first.sequence, i);
  EXPECT_EQ(rx.size(), 100u);  // the channel itself lost nothing
}

TEST(Tap, SendersOnSeveralThreadsShareOneTap) {
  auto log = std::move(*MpscLogbuf::make(1 << 22));
  Tap<MpscLogbuf> tap(*log, 9);
  auto [tx0, rx] = std::move(*mpsc::channel<Quote>(1 << 16));
  auto tx = tapped(std::move(tx0), tap);
  constexpr uint32_t kPer = 10000;
  std::vector<std::thread> ths;
  for (uint32_t p = 0; p < 3; ++p)
    ths.emplace_back([t = tx, p]() mutable {
      for (uint32_t i = 0; i < kPer; ++i)
        if (!t.send_blocking(Quote{p, static_cast<int32_t>(i), 0})) std::abort();
    });
  for (auto& t : ths) t.join();
  auto recs = drain(*log);
  ASSERT_EQ(recs.size(), 3 * kPer);
  EXPECT_EQ(tap.dropped(), 0u);
  std::vector<uint64_t> seqs;
  std::vector<int32_t> next(3, 0);
  for (auto& [h, q] : recs) {
    seqs.push_back(h.sequence);
    ASSERT_LT(q.id, 3u);
    EXPECT_EQ(q.px, next[q.id]++);  // per sender, in the order sent
  }
  std::sort(seqs.begin(), seqs.end());
  for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i);  // unique, no gap
  EXPECT_EQ(rx.try_recv()->id < 3u, true);
}

}  // namespace
