// The whole front end on a generated day: synthetic feed -> ITCH bytes -> decode -> order
// books. The bar published for real days (itch-book): 0 unresolved order references and 0
// crossed books, here checked after every message, and at the end every symbol's best bid and
// offer equal to the generator's own shadow book. The same day also goes through a gzip file
// on the runtime's ring, and through MoldUDP64 packets with one packet dropped (the gap is
// reported, with its exact range).
#include <gtest/gtest.h>

#include <cstring>
#include <sluice/market/itch/framing.hpp>
#include <sluice/market/itch_file.hpp>
#include <sluice/market/moldudp64.hpp>
#include <sluice/market/order_book.hpp>
#include <sluice/market/synthetic_feed.hpp>
#include <sluice/market/synthetic_outputs.hpp>
#include <vector>

#include "../runtime/io/io_test_util.hpp"

using namespace sluice;
using namespace sluice::market;
using namespace std::chrono_literals;
namespace itch = sluice::market::itch;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr uint64_t kDay = 300'000;
#else
constexpr uint64_t kDay = 10'000'000;  // the bar: a day of at least 10^7 messages
#endif

FeedConfig day_config(uint64_t messages) {
  FeedConfig cfg;
  cfg.seed = 42;
  cfg.symbols = 500;
  cfg.messages = messages;
  return cfg;
}

OrderBooks make_books(uint16_t max_locate) {
  BookConfig bc;
  bc.max_locate = max_locate;
  bc.max_live_orders = 1'000'000;
  auto b = OrderBooks::make(bc);
  if (!b) std::abort();
  return std::move(*b);
}

struct DayResult {
  uint64_t messages = 0, decode_errors = 0, crossed_after_message = 0;
};

// Decodes `bytes` in 4096-message batches and applies each record, checking the touched
// symbol for a crossed book after every message.
DayResult run_day(const std::vector<uint8_t>& bytes, OrderBooks& books) {
  DayResult res;
  std::vector<itch::Record> recs(4096);
  uint64_t off = 0;
  while (off < bytes.size()) {
    const auto d = itch::decode_stream(bytes.data() + off, bytes.size() - off, off, recs.data(),
                                       static_cast<uint32_t>(recs.size()), true);
    for (uint32_t i = 0; i < d.count; ++i) {
      const itch::Record& r = recs[i];
      (void)books.apply(r);
      if (books.crossed(r.locate)) ++res.crossed_after_message;
    }
    res.messages += d.count;
    res.decode_errors += d.errors;
    off += d.consumed;
  }
  return res;
}

TEST(FeedToBook, GeneratedDayHasNoUnresolvedReferencesAndNoCrossedBook) {
  const FeedConfig cfg = day_config(kDay);
  SyntheticFeed feed = SyntheticFeed::make(cfg).value();
  std::vector<uint8_t> bytes;
  bytes.reserve(kDay * 32);
  uint8_t buf[64];
  while (std::size_t n = feed.next_encoded(buf, sizeof buf))
    bytes.insert(bytes.end(), buf, buf + n);
  ASSERT_EQ(feed.emitted(), kDay);

  OrderBooks books = make_books(static_cast<uint16_t>(cfg.symbols));
  const DayResult res = run_day(bytes, books);
  EXPECT_EQ(res.messages, kDay);
  EXPECT_EQ(res.decode_errors, 0u);
  EXPECT_EQ(res.crossed_after_message, 0u);
  const BookStats& st = books.counters();
  EXPECT_EQ(st.unresolved(), 0u);
  EXPECT_EQ(st.failed(), 0u);
  EXPECT_EQ(st.messages(), kDay);
  const uint64_t book_msgs = feed.stats().count('A') + feed.stats().count('F') +
                             feed.stats().count('E') + feed.stats().count('C') +
                             feed.stats().count('X') + feed.stats().count('D') +
                             feed.stats().count('U');
  EXPECT_EQ(st.applied, book_msgs);
  EXPECT_EQ(books.live_orders(), feed.stats().live_orders);

  // Every symbol's top of book agrees with the generator's shadow book.
  for (uint16_t loc = 1; loc <= cfg.symbols; ++loc) {
    const Bbo want = feed.bbo(loc);
    const auto bid = books.best_bid(loc);
    const auto ask = books.best_ask(loc);
    EXPECT_EQ(bid ? bid->price : 0u, want.bid_price) << loc;
    EXPECT_EQ(bid ? bid->shares : 0u, want.bid_shares) << loc;
    EXPECT_EQ(ask ? ask->price : 0u, want.ask_price) << loc;
    EXPECT_EQ(ask ? ask->shares : 0u, want.ask_shares) << loc;
    EXPECT_FALSE(books.crossed(loc));
  }
  auto whole = books.check();
  EXPECT_TRUE(whole) << (whole ? "" : whole.error());
}

// The same day written by the generator to a gzip file and read back on the runtime's ring in
// 64 KiB chunks: the stream read equals generate_day's bytes, and the books end clean.
TEST(FeedToBook, ThroughAGzipFile) {
  io::test::Watchdog wd(300s);
  const uint64_t n = kDay / 10;
  const FeedConfig cfg = day_config(n);
  const std::vector<uint8_t> want = generate_day(cfg).value();
  const char* dir = std::getenv("TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/sluice_feed_to_book_" +
                           std::to_string(::getpid()) + ".itch.gz";
  auto rt = io::test::make_rt(IdlePolicy::park());
  OrderBooks books = make_books(static_cast<uint16_t>(cfg.symbols));
  std::vector<uint8_t> got;
  rt->block_on([](const FeedConfig* cfg, const std::string* path, OrderBooks* books,
                  std::vector<uint8_t>* got) -> Task<void> {
    SyntheticFeed feed = SyntheticFeed::make(*cfg).value();
    auto w = co_await write_synthetic_file(feed, path->c_str(), true);
    CO_ASSERT(w);
    EXPECT_EQ(*w, cfg->messages);
    ItchFileOptions o;
    o.chunk_bytes = 64 << 10;
    auto r = co_await ItchFileReader::open(path->c_str(), o);
    CO_ASSERT(r);
    CO_ASSERT(r->gzip());
    std::vector<itch::Record> recs(8192);
    uint64_t errors = 0;
    for (;;) {
      auto c = co_await r->next();
      CO_ASSERT(c);
      got->insert(got->end(), c->bytes.begin(), c->bytes.end());
      const auto d = itch::decode_stream(c->bytes.data(), c->bytes.size(), c->stream_offset,
                                         recs.data(), static_cast<uint32_t>(recs.size()), c->last);
      EXPECT_EQ(d.consumed, c->bytes.size());  // chunks are whole frames
      (void)books->apply_batch(recs.data(), d.count);
      errors += d.errors;
      if (c->last) break;
    }
    EXPECT_EQ(errors, 0u);
  }(&cfg, &path, &books, &got));
  EXPECT_TRUE(got == want);
  EXPECT_EQ(books.counters().messages(), n);
  EXPECT_EQ(books.counters().unresolved(), 0u);
  EXPECT_EQ(books.counters().failed(), 0u);
  for (uint16_t loc = 1; loc <= cfg.symbols; ++loc) EXPECT_FALSE(books.crossed(loc));
  ::unlink(path.c_str());
}

// The generator's messages packed into MoldUDP64 packets, as a publisher would send them.
std::vector<std::vector<uint8_t>> packetize(const FeedConfig& cfg, uint64_t* messages) {
  SyntheticFeed feed = SyntheticFeed::make(cfg).value();
  std::vector<std::vector<uint8_t>> packets;
  *messages = packetize_synthetic(feed, "SLUICE0001", 1, [&](std::span<const uint8_t> p) {
    packets.emplace_back(p.begin(), p.end());
  });
  EXPECT_EQ(*messages, feed.emitted());
  EXPECT_TRUE(feed.done());
  return packets;
}

TEST(FeedToBook, ThroughMoldUdp64PacketsInOrder) {
  const FeedConfig cfg = day_config(kDay / 10);
  uint64_t total = 0;
  const auto packets = packetize(cfg, &total);
  ASSERT_GT(packets.size(), 100u);
  MoldSession session;
  OrderBooks books = make_books(static_cast<uint16_t>(cfg.symbols));
  std::vector<uint32_t> offs(kMoldMaxBlocks);
  std::vector<itch::Record> recs(kMoldMaxBlocks);
  uint64_t delivered = 0;
  for (const auto& bytes : packets) {
    auto p = parse_packet(bytes);
    ASSERT_TRUE(p) << to_string(p.error());
    const MoldEvent ev = session.on_packet(*p);
    ASSERT_TRUE(ev.ok());
    EXPECT_FALSE(ev.gap);
    for (const MoldRun& run : ev.runs()) {
      const uint32_t n =
          p->block_offsets(std::span<uint32_t>(offs).first(run.count), run.first_block);
      ASSERT_EQ(n, run.count);
      EXPECT_EQ(itch::decode_batch(p->data(), p->size(), offs.data(), n, 0, recs.data()), 0u);
      (void)books.apply_batch(recs.data(), n);
      delivered += n;
    }
  }
  EXPECT_EQ(session.state(), MoldState::Ended);
  EXPECT_EQ(delivered, total);
  EXPECT_EQ(books.counters().unresolved(), 0u);
  EXPECT_EQ(books.counters().failed(), 0u);
  for (uint16_t loc = 1; loc <= cfg.symbols; ++loc) EXPECT_FALSE(books.crossed(loc));
}

// A packet lost on the way: the next packet reports exactly its range as a gap (never
// skipped silently), and its retransmission fills the gap and is flagged as recovered.
TEST(FeedToBook, ALostPacketIsAGapWithItsExactRangeAndIsRecovered) {
  const FeedConfig cfg = day_config(200'000);
  uint64_t total = 0;
  const auto packets = packetize(cfg, &total);
  ASSERT_GT(packets.size(), 200u);
  const std::size_t lost = packets.size() / 2;
  auto lp = parse_packet(packets[lost]);
  ASSERT_TRUE(lp);
  MoldSession session;
  uint64_t delivered = 0, gaps = 0;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i == lost) continue;
    auto p = parse_packet(packets[i]);
    ASSERT_TRUE(p);
    const MoldEvent ev = session.on_packet(*p);
    ASSERT_TRUE(ev.ok());
    if (ev.gap) {
      ++gaps;
      EXPECT_EQ(i, lost + 1);
      EXPECT_EQ(ev.gap_range.from, lp->sequence());
      EXPECT_EQ(ev.gap_range.to, lp->next_sequence());
    }
    delivered += ev.delivered;
  }
  EXPECT_EQ(gaps, 1u);
  EXPECT_EQ(delivered, total - lp->block_count());
  ASSERT_EQ(session.outstanding_gaps().size(), 1u);
  const MoldEvent again = session.on_packet(*lp);  // the retransmission
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.recovered, lp->block_count());
  EXPECT_EQ(again.delivered, lp->block_count());
  EXPECT_TRUE(session.outstanding_gaps().empty());
  EXPECT_EQ(session.counters().messages, total);
}

}  // namespace
