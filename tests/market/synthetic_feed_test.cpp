// The synthetic ITCH day: same seed, same bytes; every message decodes; the day has the fixed
// opening and closing sequence; the type mix follows the weights; and the order flow is that of
// a real book, checked by replaying it through an independent reference book written here.
#include <gtest/gtest.h>

#include <sluice/market/itch/framing.hpp>
#include <sluice/market/synthetic_feed.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using sluice::market::Bbo;
using sluice::market::FeedConfig;
using sluice::market::generate_day;
using sluice::market::SyntheticFeed;
using sluice::market::itch::Record;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
// The full-size day of the brief; the sanitizer tree runs the same checks on a shorter one.
constexpr uint64_t kDayMessages = kSanitized ? 500'000 : 1'000'000;

FeedConfig day_config(uint64_t messages = kDayMessages, uint64_t seed = 7) {
  FeedConfig c;
  c.seed = seed;
  c.messages = messages;
  return c;
}

std::vector<Record> decode_all(const std::vector<uint8_t>& bytes, uint32_t* errors) {
  std::vector<Record> out(bytes.size() / 2 + 1);
  const auto s = sluice::market::itch::decode_stream(bytes.data(), bytes.size(), 0, out.data(),
                                                     static_cast<uint32_t>(out.size()), true);
  EXPECT_EQ(s.consumed, bytes.size());
  *errors = s.errors;
  out.resize(s.count);
  return out;
}

// One day generated and decoded once, shared by the tests that only read it.
struct Day {
  FeedConfig config = day_config();
  std::vector<uint8_t> bytes = generate_day(config).value();
  uint32_t errors = 0;
  std::vector<Record> records = decode_all(bytes, &errors);
};
const Day& shared_day() {
  static const Day day;
  return day;
}

// A mix with every weight 0 (TypeMix is all doubles).
sluice::market::TypeMix zero_mix() {
  sluice::market::TypeMix m;
  std::memset(static_cast<void*>(&m), 0, sizeof m);
  return m;
}

std::string name8(const char (&s)[8]) { return std::string(s, 8); }

// An order book written independently of the generator: a hash map of orders and ordered
// price levels per symbol. It counts every violation instead of stopping at the first.
class ReferenceBook {
 public:
  struct Violations {
    uint64_t unresolved = 0;     // a reference to an order that is not live
    uint64_t over_executed = 0;  // executed or cancelled shares beyond what is left
    uint64_t crossed = 0;        // best bid >= best ask after a message
    uint64_t bad_new_ref = 0;    // a new reference that is not the next dense one
    uint64_t wrong_symbol = 0;   // a message whose locate or stock is not the order's
    uint64_t bad_order = 0;      // zero shares, a price off the tick, a bad side
    uint64_t not_at_best = 0;    // an E or C away from the best price of its side
    uint64_t bad_trade = 0;      // a P with an order reference, a match number out of order
    uint64_t bad_broken = 0;     // a B of a match number not yet issued
  };

  ReferenceBook(uint32_t symbols, uint64_t first_ref)
      : bids_(symbols + 1), asks_(symbols + 1), names_(symbols + 1), next_ref_(first_ref) {}

  void apply(const Record& r) {
    switch (r.type) {
      case 'R':
        names_.at(r.locate) = name8(r.body.stock_directory.stock);
        break;
      case 'A':
      case 'F': {
        const auto& a = r.body.add;
        check_new_ref(a.order_ref);
        if (name8(a.stock) != names_.at(r.locate)) ++v_.wrong_symbol;
        if (a.shares == 0 || a.price == 0 || a.price % 100 != 0 || (a.side != 'B' && a.side != 'S'))
          ++v_.bad_order;
        insert(a.order_ref, Order{r.locate, a.side, a.price, a.shares});
        break;
      }
      case 'E':
      case 'C': {
        const auto& e = r.body.executed;
        check_match(e.match_number);
        Order* o = find(e.order_ref, r.locate);
        if (o == nullptr) break;
        if (o->price != best(o->locate, o->side)) ++v_.not_at_best;
        take(e.order_ref, *o, e.shares);
        break;
      }
      case 'X': {
        Order* o = find(r.body.cancel.order_ref, r.locate);
        if (o == nullptr) break;
        if (r.body.cancel.shares == 0) ++v_.bad_order;
        take(r.body.cancel.order_ref, *o, r.body.cancel.shares);
        break;
      }
      case 'D': {
        Order* o = find(r.body.del.order_ref, r.locate);
        if (o == nullptr) break;
        take(r.body.del.order_ref, *o, o->shares);
        break;
      }
      case 'U': {
        const auto& u = r.body.replace;
        check_new_ref(u.new_ref);
        Order* o = find(u.original_ref, r.locate);
        if (o == nullptr) break;
        const Order moved{o->locate, o->side, u.price, u.shares};
        take(u.original_ref, *o, o->shares);
        if (u.shares == 0 || u.price == 0 || u.price % 100 != 0) ++v_.bad_order;
        insert(u.new_ref, moved);
        break;
      }
      case 'P':
        if (r.body.trade.order_ref != 0) ++v_.bad_trade;
        check_match(r.body.trade.match_number);
        break;
      case 'Q':
        check_match(r.body.cross.match_number);
        break;
      case 'B':
        if (r.body.broken.match_number == 0 || r.body.broken.match_number > last_match_)
          ++v_.bad_broken;
        break;
      default:
        break;
    }
    if (r.locate != 0 && r.locate < bids_.size()) {
      const Bbo b = bbo(r.locate);
      if (b.bid_price != 0 && b.ask_price != 0 && b.bid_price >= b.ask_price) ++v_.crossed;
    }
  }

  Bbo bbo(uint16_t locate) const {
    Bbo b;
    const auto& bids = bids_.at(locate);
    const auto& asks = asks_.at(locate);
    if (!bids.empty()) {
      b.bid_price = bids.rbegin()->first;
      b.bid_shares = bids.rbegin()->second;
    }
    if (!asks.empty()) {
      b.ask_price = asks.begin()->first;
      b.ask_shares = asks.begin()->second;
    }
    return b;
  }
  const Violations& violations() const { return v_; }
  std::size_t live() const { return orders_.size(); }
  std::size_t live(uint16_t locate) const {
    std::size_t n = 0;
    for (const auto& [ref, o] : orders_) n += o.locate == locate;
    return n;
  }

 private:
  struct Order {
    uint16_t locate;
    char side;
    uint32_t price;
    uint32_t shares;
  };

  std::map<uint32_t, uint64_t>& levels(const Order& o) {
    return o.side == 'B' ? bids_.at(o.locate) : asks_.at(o.locate);
  }
  uint32_t best(uint16_t locate, char side) const {
    const auto& l = side == 'B' ? bids_.at(locate) : asks_.at(locate);
    if (l.empty()) return 0;
    return side == 'B' ? l.rbegin()->first : l.begin()->first;
  }
  void check_new_ref(uint64_t ref) {
    if (ref != next_ref_) ++v_.bad_new_ref;
    next_ref_ = ref + 1;
  }
  void check_match(uint64_t m) {
    if (m != last_match_ + 1) ++v_.bad_trade;
    last_match_ = m;
  }
  void insert(uint64_t ref, const Order& o) {
    if (!orders_.emplace(ref, o).second) {
      ++v_.bad_new_ref;
      return;
    }
    levels(o)[o.price] += o.shares;
  }
  Order* find(uint64_t ref, uint16_t locate) {
    auto it = orders_.find(ref);
    if (it == orders_.end()) {
      ++v_.unresolved;
      return nullptr;
    }
    if (it->second.locate != locate) ++v_.wrong_symbol;
    return &it->second;
  }
  void take(uint64_t ref, Order& o, uint32_t shares) {
    if (shares > o.shares) {
      ++v_.over_executed;
      shares = o.shares;
    }
    auto& l = levels(o);
    auto it = l.find(o.price);
    it->second -= shares;
    if (it->second == 0) l.erase(it);
    o.shares -= shares;
    if (o.shares == 0) orders_.erase(ref);
  }

  std::unordered_map<uint64_t, Order> orders_;
  std::vector<std::map<uint32_t, uint64_t>> bids_, asks_;  // [locate]
  std::vector<std::string> names_;                         // [locate]
  uint64_t next_ref_;
  uint64_t last_match_ = 0;
  Violations v_;
};

void expect_clean(const ReferenceBook::Violations& v) {
  EXPECT_EQ(v.unresolved, 0u);
  EXPECT_EQ(v.over_executed, 0u);
  EXPECT_EQ(v.crossed, 0u);
  EXPECT_EQ(v.bad_new_ref, 0u);
  EXPECT_EQ(v.wrong_symbol, 0u);
  EXPECT_EQ(v.bad_order, 0u);
  EXPECT_EQ(v.not_at_best, 0u);
  EXPECT_EQ(v.bad_trade, 0u);
  EXPECT_EQ(v.bad_broken, 0u);
}

TEST(SyntheticFeed, SameSeedSameBytesOtherSeedOtherBytes) {
  const FeedConfig c = day_config(50'000, 42);
  const std::vector<uint8_t> a = generate_day(c).value();
  const std::vector<uint8_t> b = generate_day(c).value();
  EXPECT_EQ(a, b);
  FeedConfig other = c;
  other.seed = 43;
  const std::vector<uint8_t> d = generate_day(other).value();
  EXPECT_NE(a, d);
  // The opening (directory) differs too, not only the order flow.
  ASSERT_GT(d.size(), 2000u);
  EXPECT_NE(std::memcmp(a.data(), d.data(), 2000), 0);
}

TEST(SyntheticFeed, RecordsEqualTheDecodedBytes) {
  // next() yields exactly what decoding next_encoded()'s bytes yields, byte for byte.
  const FeedConfig c = day_config(20'000, 3);
  const std::vector<uint8_t> bytes = generate_day(c).value();
  uint32_t errors = 0;
  const std::vector<Record> decoded = decode_all(bytes, &errors);
  ASSERT_EQ(errors, 0u);
  SyntheticFeed feed = SyntheticFeed::make(c).value();
  Record r;
  std::size_t i = 0;
  while (feed.next(r)) {
    ASSERT_LT(i, decoded.size());
    ASSERT_EQ(std::memcmp(&r, &decoded[i], sizeof(Record)), 0) << "message " << i;
    ++i;
  }
  EXPECT_EQ(i, decoded.size());
}

TEST(SyntheticFeed, ExactMessageCount) {
  for (const uint64_t n :
       {SyntheticFeed::min_messages(64), SyntheticFeed::min_messages(64) + 1, uint64_t{12'345}}) {
    SyntheticFeed feed = SyntheticFeed::make(day_config(n)).value();
    Record r;
    uint64_t count = 0;
    while (feed.next(r)) ++count;
    EXPECT_EQ(count, n);
    EXPECT_TRUE(feed.done());
    EXPECT_EQ(feed.emitted(), n);
    EXPECT_EQ(feed.stats().messages, n);
    EXPECT_FALSE(feed.next(r));
    uint8_t buf[64];
    EXPECT_EQ(feed.next_encoded(buf, sizeof buf), 0u);
  }
  const Day& day = shared_day();
  EXPECT_EQ(day.records.size(), day.config.messages);
}

TEST(SyntheticFeed, EveryMessageDecodesInTimeOrder) {
  const Day& day = shared_day();
  EXPECT_EQ(day.errors, 0u);
  uint64_t last = 0;
  uint64_t backwards = 0;
  for (const Record& r : day.records) {
    ASSERT_TRUE(r.ok());
    backwards += r.timestamp < last;
    last = r.timestamp;
  }
  EXPECT_EQ(backwards, 0u);
  EXPECT_LT(last, 24 * 3600 * 1'000'000'000ull);  // still the same day
}

TEST(SyntheticFeed, OpensAndClosesLikeADay) {
  const Day& day = shared_day();
  const auto& rs = day.records;
  const uint32_t n = day.config.symbols;
  auto is_event = [](const Record& r, char code) {
    return r.type == 'S' && r.locate == 0 && r.body.system_event.event_code == code;
  };
  ASSERT_GE(rs.size(), SyntheticFeed::min_messages(n));
  EXPECT_TRUE(is_event(rs[0], 'O'));
  for (uint32_t i = 1; i <= n; ++i) {
    const Record& r = rs[i];
    ASSERT_EQ(r.type, 'R');
    EXPECT_EQ(r.locate, i);
    char name[8];
    sluice::market::synthetic_symbol(static_cast<uint16_t>(i), name);
    EXPECT_EQ(name8(r.body.stock_directory.stock), name8(name));
    EXPECT_EQ(r.body.stock_directory.round_lot_size, 100u);
    EXPECT_EQ(r.body.stock_directory.authenticity, 'P');
  }
  for (uint32_t i = 1; i <= n; ++i) {
    const Record& r = rs[n + i];
    ASSERT_EQ(r.type, 'H');
    EXPECT_EQ(r.locate, i);
    EXPECT_EQ(r.body.trading_action.trading_state, 'T');
  }
  EXPECT_TRUE(is_event(rs[2 * n + 1], 'S'));
  EXPECT_TRUE(is_event(rs[2 * n + 2], 'Q'));
  EXPECT_EQ(rs[2 * n + 2].timestamp, 34'200ull * 1'000'000'000);  // 09:30
  const std::size_t end = rs.size();
  EXPECT_TRUE(is_event(rs[end - 3], 'M'));
  EXPECT_TRUE(is_event(rs[end - 2], 'E'));
  EXPECT_TRUE(is_event(rs[end - 1], 'C'));
  EXPECT_GE(rs[end - 3].timestamp, 57'600ull * 1'000'000'000);  // 16:00
  // Exactly six system events: none in the body.
  uint64_t events = 0;
  for (const Record& r : rs) events += r.type == 'S';
  EXPECT_EQ(events, 6u);
  EXPECT_EQ(SyntheticFeed::min_messages(n), 2ull * n + 6);
}

TEST(SyntheticFeed, TypeMixFollowsTheWeights) {
  const Day& day = shared_day();
  SyntheticFeed feed = SyntheticFeed::make(day.config).value();
  Record r;
  while (feed.next(r)) {
  }
  const auto& st = feed.stats();
  const uint32_t n = day.config.symbols;
  const double body = static_cast<double>(day.config.messages - SyntheticFeed::min_messages(n));
  // Few draws are substituted by the book's state, and they bound the mix's distortion.
  EXPECT_LT(st.substituted, body * 0.005);
  double total = 0;
  for (uint8_t t : sluice::market::itch::kAllTypes) total += day.config.mix.weight(t);
  for (uint8_t t : sluice::market::itch::kAllTypes) {
    if (t == 'S' || t == 'R') continue;
    double seen = static_cast<double>(st.by_type[t]);
    if (t == 'H') seen -= n;  // one per symbol in the opening
    const double expect = body * day.config.mix.weight(t) / total;
    const double tolerance = 6 * std::sqrt(expect) + 5 + static_cast<double>(st.substituted);
    EXPECT_NEAR(seen, expect, tolerance) << "type " << static_cast<char>(t);
  }
  EXPECT_EQ(st.count('S'), 6u);
  EXPECT_EQ(st.count('R'), n);
  // The same counts as the decoded day's.
  std::array<uint64_t, 256> decoded{};
  for (const Record& rec : day.records) ++decoded[rec.type];
  EXPECT_EQ(decoded, st.by_type);
}

TEST(SyntheticFeed, EveryTypeAppearsInADay) {
  const Day& day = shared_day();
  std::array<uint64_t, 256> seen{};
  for (const Record& r : day.records) ++seen[r.type];
  for (uint8_t t : sluice::market::itch::kAllTypes) {
    EXPECT_GT(seen[t], 0u) << "type " << static_cast<char>(t);
  }
}

TEST(SyntheticFeed, OccasionalTypesCarrySpecValues) {
  const Day& day = shared_day();
  auto one_of = [](char c, const char* set) { return c != '\0' && std::strchr(set, c) != nullptr; };
  for (const Record& r : day.records) {
    const auto& b = r.body;
    switch (r.type) {
      case 'I':
        EXPECT_TRUE(one_of(b.noii.imbalance_direction, "BSNO"));
        EXPECT_TRUE(one_of(b.noii.cross_type, "OCH"));
        if (b.noii.imbalance_direction == 'N') {
          EXPECT_EQ(b.noii.imbalance_shares, 0u);
        }
        break;
      case 'Q':
        EXPECT_TRUE(one_of(b.cross.cross_type, "OCHI"));
        break;
      case 'V':
        EXPECT_EQ(r.locate, 0);
        EXPECT_GT(b.mwcb_decline.level1, b.mwcb_decline.level2);
        EXPECT_GT(b.mwcb_decline.level2, b.mwcb_decline.level3);
        break;
      case 'W':
        EXPECT_TRUE(one_of(b.mwcb_status.breached_level, "123"));
        break;
      case 'J':
        EXPECT_LE(b.luld_collar.lower_price, b.luld_collar.reference_price);
        EXPECT_GE(b.luld_collar.upper_price, b.luld_collar.reference_price);
        break;
      case 'Y':
        EXPECT_TRUE(one_of(b.reg_sho.action, "012"));
        break;
      case 'h':
        EXPECT_TRUE(one_of(b.operational_halt.action, "HT"));
        break;
      case 'N':
        EXPECT_TRUE(one_of(b.rpii.interest_flag, "BSAN"));
        break;
      case 'H':
        EXPECT_TRUE(one_of(b.trading_action.trading_state, "HPQT"));
        break;
      case 'L':
        EXPECT_TRUE(one_of(b.participant_position.participant_state, "AEWSD"));
        break;
      case 'K':
        EXPECT_TRUE(one_of(b.ipo_quoting.release_qualifier, "AC"));
        break;
      case 'O':
        EXPECT_LE(b.dlcr.minimum_allowable_price, b.dlcr.maximum_allowable_price);
        break;
      case 'C':
        EXPECT_TRUE(one_of(b.executed.printable, "YN"));
        break;
      default:
        break;
    }
  }
}

TEST(SyntheticFeed, DecodedDayReplaysThroughAReferenceBook) {
  const Day& day = shared_day();
  ReferenceBook book(day.config.symbols, day.config.first_order_ref);
  for (const Record& r : day.records) book.apply(r);
  expect_clean(book.violations());
  // The generator's shadow book ends where the reference book ends.
  SyntheticFeed feed = SyntheticFeed::make(day.config).value();
  Record r;
  while (feed.next(r)) {
  }
  for (uint32_t l = 1; l <= day.config.symbols; ++l) {
    EXPECT_EQ(feed.bbo(static_cast<uint16_t>(l)), book.bbo(static_cast<uint16_t>(l))) << l;
  }
  EXPECT_EQ(feed.stats().live_orders, book.live());
  EXPECT_GE(feed.stats().max_live_orders, feed.stats().live_orders);
  EXPECT_GT(feed.stats().live_orders, 0u);
  EXPECT_GT(feed.stats().matches, 0u);
}

TEST(SyntheticFeed, ShadowBboMatchesAfterEveryMessage) {
  FeedConfig c = day_config(kSanitized ? 40'000 : 200'000, 11);
  c.symbols = 16;
  c.first_order_ref = 1'000'000'000;  // references need not start at 1
  SyntheticFeed feed = SyntheticFeed::make(c).value();
  ReferenceBook book(c.symbols, c.first_order_ref);
  Record r;
  uint64_t mismatches = 0;
  while (feed.next(r)) {
    book.apply(r);
    if (r.locate != 0) mismatches += !(feed.bbo(r.locate) == book.bbo(r.locate));
  }
  EXPECT_EQ(mismatches, 0u);
  expect_clean(book.violations());
  EXPECT_EQ(feed.stats().live_orders, book.live());
  for (uint16_t l = 1; l <= c.symbols; ++l) EXPECT_EQ(feed.live_orders(l), book.live(l));
}

TEST(SyntheticFeed, LiveOrderCapHolds) {
  // A tiny cap on few symbols: adds past it turn into deletes and the book stays consistent.
  FeedConfig c = day_config(50'000, 5);
  c.symbols = 4;
  c.max_live_orders_per_symbol = 8;
  SyntheticFeed feed = SyntheticFeed::make(c).value();
  ReferenceBook book(c.symbols, c.first_order_ref);
  Record r;
  uint64_t over_cap = 0;
  while (feed.next(r)) {
    book.apply(r);
    if (r.locate != 0 && r.locate <= c.symbols) over_cap += feed.live_orders(r.locate) > 8;
  }
  EXPECT_EQ(over_cap, 0u);
  expect_clean(book.violations());
  EXPECT_LE(feed.stats().max_live_orders, 4u * 8);
  EXPECT_GT(feed.stats().substituted, 0u);
}

TEST(SyntheticFeed, CustomMixOnlyEmitsWeightedTypes) {
  FeedConfig c = day_config(30'000, 9);
  sluice::market::TypeMix m = zero_mix();
  m.add = 1.0;
  m.executed = 1.0;
  c.mix = m;
  SyntheticFeed feed = SyntheticFeed::make(c).value();
  ReferenceBook book(c.symbols, c.first_order_ref);
  Record r;
  while (feed.next(r)) book.apply(r);
  expect_clean(book.violations());
  const auto& st = feed.stats();
  uint64_t others = 0;
  for (uint8_t t : sluice::market::itch::kAllTypes) {
    if (t != 'S' && t != 'R' && t != 'H' && t != 'A' && t != 'E') others += st.by_type[t];
  }
  EXPECT_EQ(others, 0u);
  EXPECT_EQ(st.count('H'), c.symbols);
  EXPECT_GT(st.count('A'), 10'000u);
  EXPECT_GT(st.count('E'), 10'000u);
}

TEST(SyntheticFeed, ShortCapConsumesNothing) {
  const FeedConfig c = day_config(2'000, 21);
  const std::vector<uint8_t> expect = generate_day(c).value();
  SyntheticFeed feed = SyntheticFeed::make(c).value();
  std::vector<uint8_t> got;
  uint8_t buf[64];
  while (!feed.done()) {
    const uint64_t before = feed.emitted();
    // Caps from 0 upward: each one short of the message is refused and consumes nothing.
    std::size_t cap = 0;
    std::size_t n = 0;
    for (; cap <= sizeof buf; ++cap) {
      n = feed.next_encoded(buf, cap);
      if (n != 0) break;
      ASSERT_EQ(feed.emitted(), before);
    }
    ASSERT_EQ(feed.emitted(), before + 1);
    ASSERT_EQ(n, cap);  // the smallest cap that works is the message's framed size
    ASSERT_EQ(n, std::size_t{buf[0]} * 256 + buf[1] + 2);
    got.insert(got.end(), buf, buf + n);
  }
  EXPECT_EQ(got, expect);
  EXPECT_EQ(feed.next_encoded(buf, sizeof buf), 0u);
}

TEST(SyntheticFeed, RejectsBadConfigs) {
  auto bad = [](auto edit) {
    FeedConfig c = day_config(10'000);
    edit(c);
    auto r = SyntheticFeed::make(c);
    ASSERT_FALSE(r);
    EXPECT_STRNE(to_string(r.error()), "");
    EXPECT_FALSE(generate_day(c));
  };
  bad([](FeedConfig& c) { c.symbols = 0; });
  bad([](FeedConfig& c) { c.symbols = 65536; });
  bad([](FeedConfig& c) { c.messages = SyntheticFeed::min_messages(c.symbols) - 1; });
  bad([](FeedConfig& c) { c.messages_per_second = 0; });
  bad([](FeedConfig& c) { c.max_live_orders_per_symbol = 0; });
  bad([](FeedConfig& c) { c.min_price = c.max_price + 100; });
  bad([](FeedConfig& c) { c.mix.del = -1; });
  bad([](FeedConfig& c) { c.first_order_ref = 0; });
  bad([](FeedConfig& c) { c.mix = zero_mix(); });
  FeedConfig most = day_config(SyntheticFeed::min_messages(65535));
  most.symbols = 65535;
  SyntheticFeed feed = SyntheticFeed::make(most).value();
  Record r;
  uint64_t n = 0;
  while (feed.next(r)) ++n;
  EXPECT_EQ(n, most.messages);
  EXPECT_EQ(r.body.system_event.event_code, 'C');
}

TEST(SyntheticFeed, TenMillionMessageDay) {
  // The book's correctness bar (0 unresolved references, 0 crossed books) on a 10^7 day, and
  // the generator's rate. The sanitizer tree is too slow for it.
  if (kSanitized) GTEST_SKIP() << "release-size run";
  FeedConfig c = day_config(10'000'000, 2024);
  std::vector<uint8_t> buf(64 << 20);
  {
    SyntheticFeed feed = SyntheticFeed::make(c).value();
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t pos = 0;
    uint64_t bytes = 0;
    for (;;) {
      if (buf.size() - pos < 52) {
        bytes += pos;
        pos = 0;
      }
      const std::size_t n = feed.next_encoded(buf.data() + pos, buf.size() - pos);
      if (n == 0) break;
      pos += n;
    }
    bytes += pos;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("next_encoded: %.2f M msg/s, %.1f B/msg, max live orders %llu\n",
                c.messages / s / 1e6, static_cast<double>(bytes) / c.messages,
                static_cast<unsigned long long>(feed.stats().max_live_orders));
  }
  SyntheticFeed feed = SyntheticFeed::make(c).value();
  ReferenceBook book(c.symbols, c.first_order_ref);
  Record r;
  while (feed.next(r)) book.apply(r);
  expect_clean(book.violations());
  for (uint16_t l = 1; l <= c.symbols; ++l) EXPECT_EQ(feed.bbo(l), book.bbo(l));
}

}  // namespace

namespace {

// A moved-from feed is a finished, empty one (no crash).
TEST(SyntheticFeed, MovedFromIsDone) {
  sluice::market::FeedConfig c;
  c.symbols = 4;
  c.messages = 1000;
  SyntheticFeed a = SyntheticFeed::make(c).value();
  SyntheticFeed b = std::move(a);
  Record r;
  uint8_t buf[64];
  EXPECT_TRUE(a.done());
  EXPECT_FALSE(a.next(r));
  EXPECT_EQ(a.next_encoded(buf, sizeof buf), 0u);
  EXPECT_EQ(a.emitted(), 0u);
  EXPECT_EQ(a.stats().messages, 0u);
  EXPECT_EQ(a.bbo(1).bid_price, 0u);
  EXPECT_TRUE(b.next(r));
  c.messages = (uint64_t{1} << 40) + 1;
  EXPECT_FALSE(SyntheticFeed::make(c));
}

}  // namespace
