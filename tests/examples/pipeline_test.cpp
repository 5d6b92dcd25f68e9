// Whole runs of the main job (examples/pipeline/) in each feed mode, small days: nothing lost,
// 0 unresolved references, 0 crossed books, every order sent, received by the exchange,
// acknowledged and tapped in sequence, one tick-to-trade sample per order; and the error
// paths: a missing CPU, a missing or damaged file, garbage and a gap on the UDP feed.
#include <gtest/gtest.h>

#include <sluice/examples/pipeline/pipeline.hpp>
#include <sluice/market/synthetic_outputs.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/watchdog.hpp"

using namespace sluice;
using namespace sluice::pipeline;

namespace {

PipelineConfig small(FeedKind k, uint64_t messages = 40000) {
  PipelineConfig c;
  c.feed = k;
  c.synthetic.messages = messages;
  c.synthetic.symbols = 32;
  c.synthetic.seed = 7;
  c.replay.messages_per_second = 0;  // as fast as the window allows
  c.strategy.spread_threshold = 1000;
  c.max_live_orders = 1 << 18;
  c.idle = IdleMode::Park;  // sanitizer builds share two cores with other work
  c.progress_interval = std::chrono::milliseconds(20);
  return c;
}

// Runs with a watchdog on the progress counters (a lost wake fails instead of hanging).
Result<PipelineReport, std::string> run(const PipelineConfig& c) {
  std::atomic<long> moved{0};
  test::Watchdog dog(std::chrono::seconds(60), &moved);
  long last = 0;
  return run_pipeline(c, [&](const Progress& p, double) {
    // relaxed: a display count (see Progress).
    const long now = static_cast<long>(p.decoded.load(std::memory_order_relaxed) +
                                       p.acks.load(std::memory_order_relaxed));
    if (now != last) moved.fetch_add(1);
    last = now;
  });
}

void expect_clean(const PipelineReport& r, uint64_t messages) {
  EXPECT_EQ(r.decode_stats.records, messages);
  EXPECT_EQ(r.decode_stats.errors, 0u);
  EXPECT_EQ(r.book_stats.book.unresolved(), 0u);
  EXPECT_EQ(r.book_stats.book.failed(), 0u);
  EXPECT_EQ(r.book_stats.crossed, 0u);
  EXPECT_GT(r.book_stats.orders_sent, 0u) << "the strategy should trade on this day";
  EXPECT_EQ(r.gateway_stats.orders, r.book_stats.orders_sent);
  EXPECT_EQ(r.exchange_stats.orders, r.book_stats.orders_sent);
  EXPECT_EQ(r.book_stats.acks + r.book_stats.rejects, r.book_stats.orders_sent);
  EXPECT_EQ(r.book_stats.unmatched_acks, 0u);
  EXPECT_EQ(r.hist->tick_to_trade.count(), r.book_stats.orders_sent);
  EXPECT_EQ(r.hist->decode.count(), messages);
  EXPECT_EQ(r.hist->book.count(), messages);
  EXPECT_EQ(r.tap_recorded, r.book_stats.orders_sent);
  EXPECT_TRUE(r.tap_in_sequence);
  EXPECT_EQ(r.tap_dropped, 0u);
  EXPECT_GT(r.seconds, 0.0);
  EXPECT_TRUE(r.clean());
}

TEST(Pipeline, ReplayOverLoopbackUdpIsClean) {
  auto r = run(small(FeedKind::Replay));
  ASSERT_TRUE(r) << r.error();
  expect_clean(*r, 40000);
  EXPECT_EQ(r->replay_messages, 40000u);
  EXPECT_EQ(r->feed_stats.mold.gaps, 0u);
  EXPECT_EQ(r->feed_stats.mold.messages, 40000u);
  EXPECT_EQ(r->replay_stats.messages, 40000u);
  EXPECT_FALSE(r->feed_stats.ended_by_idle);
}

TEST(Pipeline, PacedReplayWithBusyPollIsClean) {
  auto c = small(FeedKind::Replay, 20000);
  c.replay.messages_per_second = 200000;
  c.idle = IdleMode::Auto;
  auto r = run(c);
  ASSERT_TRUE(r) << r.error();
  expect_clean(*r, 20000);
  EXPECT_GE(r->replay_stats.seconds, 0.08);  // 20 000 messages at 200 000/s: 0.1 s
}

TEST(Pipeline, SyntheticInProcessIsClean) {
  auto r = run(small(FeedKind::Synthetic));
  ASSERT_TRUE(r) << r.error();
  expect_clean(*r, 40000);
}

class PipelineFile : public ::testing::Test {
 protected:
  std::string path(const char* name) {
    return (std::filesystem::temp_directory_path() /
            ("sluice_pipeline_test_" + std::to_string(::getpid()) + name))
        .string();
  }
  void write_day(const std::string& p, bool gzip, uint64_t messages) {
    auto rt = Runtime::make();
    ASSERT_TRUE(rt);
    market::FeedConfig fc;
    fc.messages = messages;
    fc.symbols = 32;
    fc.seed = 7;
    auto feed = market::SyntheticFeed::make(fc);
    ASSERT_TRUE(feed);
    auto w = (*rt)->block_on(market::write_synthetic_file(*feed, p.c_str(), gzip));
    ASSERT_TRUE(w);
    files_.push_back(p);
  }
  void TearDown() override {
    for (const auto& f : files_) std::filesystem::remove(f);
  }
  std::vector<std::string> files_;
};

TEST_F(PipelineFile, GzipFileReadDirectlyIsClean) {
  const std::string p = path(".itch.gz");
  write_day(p, true, 30000);
  auto c = small(FeedKind::File);
  c.file = p;
  auto r = run(c);
  ASSERT_TRUE(r) << r.error();
  expect_clean(*r, 30000);
}

TEST_F(PipelineFile, PlainFileReplayedAsMoldUdp64IsClean) {
  const std::string p = path(".itch");
  write_day(p, false, 30000);
  auto c = small(FeedKind::Replay);
  c.file = p;
  auto r = run(c);
  ASSERT_TRUE(r) << r.error();
  expect_clean(*r, 30000);
  EXPECT_EQ(r->replay_messages, 30000u);
}

// A file cut inside its last message: every whole message goes through, the cut one is a
// decode error, and the run says it is not clean.
TEST_F(PipelineFile, TruncatedFileReportsTheCutMessage) {
  const std::string p = path(".cut.itch");
  write_day(p, false, 20000);
  std::filesystem::resize_file(p, std::filesystem::file_size(p) - 5);
  auto c = small(FeedKind::File);
  c.file = p;
  auto r = run(c);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->decode_stats.records, 20000u);
  EXPECT_EQ(r->decode_stats.errors, 1u);
  EXPECT_EQ(r->book_stats.book.unresolved(), 0u);
  EXPECT_FALSE(r->clean());
}

TEST_F(PipelineFile, CorruptGzipIsAnErrorAfterTheGoodBytes) {
  const std::string p = path(".bad.gz");
  write_day(p, true, 20000);
  {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(p) / 2));
    const char junk[64] = {1, 2, 3, 4, 5, 6, 7, 8};
    f.write(junk, sizeof junk);
  }
  auto c = small(FeedKind::File);
  c.file = p;
  auto r = run(c);
  ASSERT_TRUE(r) << r.error();
  ASSERT_NE(r->feed_stats.feed_error, nullptr);
  EXPECT_STREQ(r->feed_stats.feed_error, market::to_string(market::FeedError::Corrupt));
  EXPECT_LT(r->decode_stats.records, 20000u);
  EXPECT_FALSE(r->clean());
}

TEST(PipelineErrors, MissingFileIsAClearError) {
  auto c = small(FeedKind::File);
  c.file = "/nonexistent/day.itch";
  auto r = run(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("/nonexistent/day.itch"), std::string::npos) << r.error();
  c.feed = FeedKind::Replay;
  auto r2 = run(c);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().find("/nonexistent/day.itch"), std::string::npos) << r2.error();
}

TEST(PipelineErrors, MissingCpuIsAClearError) {
  auto c = small(FeedKind::Synthetic);
  c.hot_core = 4095;
  auto r = run(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("--hot-core 4095: no such CPU"), std::string::npos) << r.error();
  c.hot_core = -1;
  c.exchange_core = 4094;
  auto r2 = run(c);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().find("--exchange-core 4094"), std::string::npos) << r2.error();
}

TEST(PipelineErrors, FileAndUdpFeedsNeedTheirArguments) {
  auto c = small(FeedKind::File);
  EXPECT_FALSE(run(c));
  c.feed = FeedKind::Udp;
  c.udp_port = 0;
  EXPECT_FALSE(run(c));
}

// MoldUDP64 from an outside sender: garbage datagrams are counted and dropped, a missing
// packet is reported as one gap with its exact range, the end of session ends the feed.
TEST(PipelineUdp, GarbageAndAGapAreReported) {
  // A free port: bind, read it, close (the pipeline binds it again just after).
  int probe = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(probe, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(probe);
  const uint16_t port = ntohs(a.sin_port);

  market::FeedConfig fc;
  fc.messages = 5000;
  fc.symbols = 16;
  fc.seed = 3;
  auto feed = market::SyntheticFeed::make(fc);
  ASSERT_TRUE(feed);
  const ReplayData day = replay_from_synthetic(*feed);
  ASSERT_GT(day.packets(), 20u);
  const std::size_t dropped = day.packets() / 2;

  auto c = small(FeedKind::Udp);
  c.udp_port = port;
  c.idle_timeout = std::chrono::milliseconds(3000);
  std::atomic<int> ready_port{-1};
  c.on_feed_ready = [&](uint16_t p) { ready_port.store(p); };
  std::thread sender([&] {
    int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    // Until the pipeline's socket is bound, a datagram would be lost (or the run fail first).
    while (ready_port.load() < 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(ready_port.load(), port);
    auto send = [&](const void* p, std::size_t n) {
      (void)::sendto(s, p, n, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // no buffer overrun
    };
    const char junk[] = "not a moldudp64 packet";
    send(junk, 5);  // shorter than a header
    for (std::size_t i = 0; i < day.packets(); ++i) {
      if (i == dropped) continue;
      send(day.bytes.data() + day.offsets[i], day.offsets[i + 1] - day.offsets[i]);
      if (i == 3) send(junk, sizeof junk);  // a header-sized packet whose blocks do not tile
    }
    ::close(s);
  });
  auto r = run(c);
  if (ready_port.load() < 0) ready_port.store(0);  // the run failed before: release the sender
  sender.join();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->feed_stats.bad_packets, 2u);
  EXPECT_EQ(r->feed_stats.mold.gaps, 1u);
  EXPECT_EQ(r->feed_stats.mold.missing, day.messages[dropped]);
  EXPECT_EQ(r->decode_stats.records, day.total_messages - day.messages[dropped]);
  EXPECT_FALSE(r->feed_stats.ended_by_idle);  // the end of session ended it
  EXPECT_FALSE(r->clean());                   // a gap is never clean
}

// No datagram at all: the idle watchdog ends the feed, and the run reports it.
TEST(PipelineUdp, SilentFeedEndsByTheIdleTimeout) {
  auto c = small(FeedKind::Udp);
  c.udp_port = 0;
  c.udp_host = "127.0.0.1";
  // Any free port will do: nobody sends to it.
  int probe = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(probe);
  c.udp_port = ntohs(a.sin_port);
  c.first_packet_timeout = std::chrono::milliseconds(300);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run(c);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->feed_stats.ended_by_idle);
  EXPECT_EQ(r->decode_stats.records, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
}

}  // namespace

namespace {

// A chunk capacity that is not a power of two (the channel rounds it up): the slot pool must
// follow the channel's real capacity or slots are overwritten while in use.
TEST(PipelineSlots, OddChunkCapacitiesLoseNothing) {
  for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{9}}) {
    auto c = small(FeedKind::Synthetic, 20000);
    c.chunk_capacity = cap;
    auto r = run(c);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->decode_stats.errors, 0u) << cap;
    expect_clean(*r, 20000);
  }
}

// A slow replay is ended from outside (as SIGINT does): the run stops within a second or so,
// says it was interrupted (not idle), and is not clean.
TEST(PipelineStop, InterruptEndsASlowReplayPromptly) {
  auto c = small(FeedKind::Replay, 40000);
  c.replay.messages_per_second = 1000;  // 40 s for the whole day
  c.replay.heartbeat = std::chrono::milliseconds(10);
  c.idle_timeout = std::chrono::milliseconds(5000);
  std::atomic<bool> interrupt{false};
  c.interrupt = &interrupt;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    interrupt.store(true);
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run(c);
  stopper.join();
  ASSERT_TRUE(r) << r.error();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_TRUE(r->feed_stats.interrupted);
  EXPECT_FALSE(r->feed_stats.ended_by_idle);
  EXPECT_LT(r->decode_stats.records, 40000u);
  EXPECT_EQ(r->feed_stats.mold.gaps, 0u);
  EXPECT_FALSE(r->clean());
}

// A slow paced replay with an idle timeout shorter than the time between two packets would
// be: heartbeats keep the session alive and the day arrives whole.
TEST(PipelineStop, HeartbeatsKeepASlowReplayAlive) {
  auto c = small(FeedKind::Replay, 3000);
  c.replay.messages_per_second = 1000;                 // a ~44-message packet every ~44 ms
  c.replay.heartbeat = std::chrono::milliseconds(10);  // well inside the idle timeout
  c.idle_timeout = std::chrono::milliseconds(30);
  auto r = run(c);
  ASSERT_TRUE(r) << r.error();
  EXPECT_GT(r->replay_stats.heartbeats, 0u);
  EXPECT_FALSE(r->feed_stats.ended_by_idle);
  EXPECT_EQ(r->decode_stats.records, 3000u);
  EXPECT_EQ(r->feed_stats.refused, 0u);
  EXPECT_EQ(r->feed_stats.mold.gaps, 0u);
}

// The strategy with a gateway that takes orders but never answers: once the feed ends the
// strategy closes its order channel; here the "exchange" then closes its side, so the wait for
// acks ends at once with the orders counted missing. Without the close, ack_timeout ends it.
Task<void> silent_gateway(local::Receiver<Order> in, uint64_t* got, local::Sender<Ack>* hold,
                          bool close_after) {
  while (auto o = co_await in.recv()) ++*got;
  if (close_after) {
    auto drop = std::move(*hold);
  }
}

void strategy_without_acks(bool exchange_closes) {
  auto rt = Runtime::make();
  ASSERT_TRUE(rt);
  market::FeedConfig fc;
  fc.messages = 20000;
  fc.symbols = 8;
  fc.seed = 5;
  auto gen = market::SyntheticFeed::make(fc);
  ASSERT_TRUE(gen);
  market::BookConfig bc;
  bc.max_locate = 8;
  bc.max_live_orders = 1 << 16;
  auto books = market::OrderBooks::make(bc);
  ASSERT_TRUE(books);
  StrategyConfig sc;
  sc.spread_threshold = 200;
  sc.ack_timeout = std::chrono::milliseconds(200);
  BookStrategy strat(&*books, sc, 8);
  auto ticks = local::channel<Tick>(64);
  auto orders = local::channel<Order>(1024);
  auto acks = local::channel<Ack>(64);
  ASSERT_TRUE(ticks && orders && acks);
  BookStageStats st;
  Histograms h;
  Progress progress;
  uint64_t got = 0;
  local::Sender<Ack> hold = std::move(acks->tx);
  const auto t0 = std::chrono::steady_clock::now();
  (*rt)->block_on([&]() -> Task<void> {
    auto s = spawn(strat.run(std::move(ticks->rx), std::move(orders->tx), std::move(acks->rx), &st,
                             &h, &progress));
    auto g = spawn(silent_gateway(std::move(orders->rx), &got, &hold, exchange_closes));
    {
      auto tx = std::move(ticks->tx);
      Tick t;
      while (gen->next(t.rec)) {
        if (!co_await tx.send(t)) break;
      }
    }
    co_await s;
    co_await g;
  }());
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GT(st.orders_sent, 0u);
  EXPECT_EQ(got, st.orders_sent);
  EXPECT_EQ(st.acks, 0u);
  EXPECT_EQ(st.missing_acks, st.orders_sent);
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(PipelineStrategy, NoAckAndTheExchangeClosesEndsTheWait) { strategy_without_acks(true); }
TEST(PipelineStrategy, NoAckAndTheExchangeStaysOpenTimesOut) { strategy_without_acks(false); }

}  // namespace

namespace {

// An interrupt while datagrams are flowing (no wait in recv) is an interrupt, not an idle end.
TEST(PipelineStop, InterruptDuringAFastReplayIsNotAnIdleEnd) {
  auto c = small(FeedKind::Replay, 1000000);
  c.replay.messages_per_second = 0;
  std::atomic<bool> interrupt{false};
  c.interrupt = &interrupt;
  std::atomic<int> ready{0};
  c.on_feed_ready = [&](uint16_t) { ready.store(1); };
  std::thread stopper([&] {
    while (ready.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    interrupt.store(true);
  });
  auto r = run(c);
  stopper.join();
  ASSERT_TRUE(r) << r.error();
  if (r->decode_stats.records == 1000000u) GTEST_SKIP() << "the day finished before the stop";
  EXPECT_TRUE(r->feed_stats.interrupted);
  EXPECT_FALSE(r->feed_stats.ended_by_idle);
  EXPECT_FALSE(r->clean());
}

}  // namespace
