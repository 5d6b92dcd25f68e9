#include "synthetic_feed.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <utility>

#include "itch/encode.hpp"
#include "itch/spec.hpp"

namespace sluice::market {
namespace {

using itch::Record;

constexpr uint32_t kTick = 100;  // $0.01 with 4 implied decimals
constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr uint64_t hms(uint64_t h, uint64_t m, uint64_t s) {
  return ((h * 60 + m) * 60 + s) * kNsPerSecond;
}
// The day's fixed points, as on a NASDAQ day.
constexpr uint64_t kStartOfMessages = hms(3, 5, 0);
constexpr uint64_t kStartOfSystemHours = hms(4, 0, 0);
constexpr uint64_t kMarketOpen = hms(9, 30, 0);
constexpr uint64_t kMarketClose = hms(16, 0, 0);
constexpr uint64_t kEndOfSystemHours = hms(20, 0, 0);
constexpr uint64_t kEndOfMessagesDelay = hms(0, 5, 0);
constexpr int64_t kMaxDepth = 32;            // ticks from the mid an order is placed or replaced at
constexpr uint64_t kOpeningSpacing = 1'000;  // ns between the R and H messages of the opening

constexpr uint64_t splitmix64(uint64_t& x) noexcept {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman and Vigna): fast, and its output is fixed by its definition, so a
// seed gives the same day everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) noexcept {
    for (uint64_t& w : s_) w = splitmix64(seed);
  }
  uint64_t next() noexcept {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) by multiply-shift (Lemire); the bias is below 2^-32 * n, irrelevant here.
  uint32_t below(uint32_t n) noexcept {
    return static_cast<uint32_t>((uint64_t{static_cast<uint32_t>(next() >> 32)} * n) >> 32);
  }
  uint64_t below64(uint64_t n) noexcept {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  bool coin() noexcept { return (next() >> 63) != 0; }
  template <std::size_t N>
  char pick(const char (&s)[N]) noexcept {  // one character of a string literal
    return s[below(N - 1)];
  }

 private:
  static uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

struct Order {
  uint64_t ref;
  uint32_t price;
  uint32_t shares;
};

constexpr int kBuy = 0;
constexpr int kSell = 1;

struct Level {
  uint32_t price;
  uint64_t shares;
};

// Nearer the best: a higher bid, a lower ask.
constexpr bool better(int side, uint32_t a, uint32_t b) noexcept {
  return side == kBuy ? a > b : a < b;
}

struct Symbol {
  std::vector<Order> live[2];  // per side; unordered, swap-remove
  // Price levels per side, sorted with the best at the back (as in CppTrader): most activity
  // is near the touch, so a walk from the back finds a level in a step or two, in one or two
  // cache lines, where a tree would chase a pointer per level.
  std::vector<Level> levels[2];
  uint32_t mid = 0;                  // whole ticks
  uint32_t lo = 0, hi = 0;           // the band the mid drifts in
  uint32_t listed_pos = UINT32_MAX;  // index in Impl::with_orders, when it has orders
  uint16_t locate = 0;
  bool halted = false;
  char name[8];

  std::size_t size() const noexcept { return live[0].size() + live[1].size(); }
  uint32_t best(int side) const noexcept {
    return levels[side].empty() ? 0 : levels[side].back().price;
  }
};

constexpr char kMpids[][5] = {"NSDQ", "GSCO", "MSCO", "UBSS", "CDRG", "VIRT", "JPMS", "SBSH"};
// Order sizes: mostly round lots, some larger, some odd lots (the 1 draws an odd lot).
constexpr uint32_t kLots[16] = {100, 100, 100, 100,  100,  100, 200, 200,
                                300, 400, 500, 1000, 2500, 50,  10,  1};

uint32_t floor_tick(uint64_t p) noexcept { return static_cast<uint32_t>(p / kTick * kTick); }

}  // namespace

// Why a config cannot make a day, or nullptr.
const char* config_problem(const FeedConfig& cfg) noexcept {
  if (cfg.symbols == 0 || cfg.symbols > 65535) return "FeedConfig: symbols must be 1..65535";
  if (cfg.messages > (uint64_t{1} << 40)) return "FeedConfig: messages must be at most 2^40";
  if (cfg.messages < SyntheticFeed::min_messages(cfg.symbols)) {
    return "FeedConfig: messages below min_messages(symbols)";
  }
  if (!(cfg.messages_per_second > 0.0) || !std::isfinite(cfg.messages_per_second)) {
    return "FeedConfig: messages_per_second must be positive";
  }
  if (cfg.max_live_orders_per_symbol == 0) {
    return "FeedConfig: max_live_orders_per_symbol must be positive";
  }
  if (cfg.min_price < 10 * kTick || cfg.min_price > cfg.max_price ||
      cfg.max_price > 2'000'000'000u) {
    return "FeedConfig: need $0.10 <= min_price <= max_price <= $200000";
  }
  if (!(cfg.band >= 0.0 && cfg.band <= 0.5)) return "FeedConfig: band must be in [0, 0.5]";
  if (cfg.first_order_ref == 0 || cfg.first_order_ref > (uint64_t{1} << 62)) {
    return "FeedConfig: first_order_ref must be in 1..2^62";
  }
  double total = 0.0;
  for (uint8_t t : itch::kAllTypes) {
    if (t == 'S' || t == 'R') continue;
    const double x = cfg.mix.weight(t);
    if (!(x >= 0.0) || !std::isfinite(x)) return "TypeMix: weights must be finite and >= 0";
    total += x;
  }
  if (!(total > 0.0)) return "TypeMix: all weights are zero";
  return nullptr;
}

double TypeMix::weight(uint8_t t) const noexcept {
  switch (t) {
    case 'A':
      return add;
    case 'F':
      return add_mpid;
    case 'D':
      return del;
    case 'X':
      return cancel;
    case 'E':
      return executed;
    case 'C':
      return executed_with_price;
    case 'U':
      return replace;
    case 'P':
      return trade;
    case 'I':
      return noii;
    case 'N':
      return rpii;
    case 'Q':
      return cross_trade;
    case 'B':
      return broken_trade;
    case 'H':
      return trading_action;
    case 'Y':
      return reg_sho;
    case 'L':
      return participant_position;
    case 'V':
      return mwcb_decline;
    case 'W':
      return mwcb_status;
    case 'K':
      return ipo_quoting;
    case 'J':
      return luld_collar;
    case 'h':
      return operational_halt;
    case 'O':
      return dlcr;
    default:
      return 0.0;
  }
}

void synthetic_symbol(uint16_t locate, char (&out)[8]) noexcept {
  out[0] = 'S';
  out[1] = 'Y';
  out[2] = 'M';
  uint32_t v = locate;
  for (int i = 7; i >= 3; --i) {
    out[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

struct SyntheticFeed::Impl {
  FeedConfig cfg;
  Rng rng;
  std::vector<Symbol> syms;             // [locate - 1]
  std::vector<uint32_t> with_orders;    // indexes of the symbols holding live orders
  std::vector<uint16_t> match_locates;  // [match number - 1]: the locate of the trade
  uint64_t thresholds[23] = {};         // cumulative draw thresholds, scaled to 2^32
  uint8_t draw_types[23] = {};
  int draw_count = 0;

  FeedStats stats;
  uint64_t produced = 0;  // messages generated (a held one included)
  uint64_t emitted = 0;
  uint64_t bytes = 0;     // stream offset of the next message
  uint64_t body_end = 0;  // index of S M
  uint64_t next_ref = 0;
  uint64_t next_match = 1;
  uint64_t ts = 0;
  // Feed time since the open and the mean gap between body messages, in 2^-16 ns: integers,
  // so no floating-point contraction (FMA or not) can change a timestamp between builds.
  uint64_t body_t = 0;
  uint64_t gap = 0;
  bool held = false;
  Record pending{};

  explicit Impl(const FeedConfig& c) : cfg(c), rng(c.seed) {
    build_draw_table();
    next_ref = cfg.first_order_ref;
    body_end = cfg.messages - 3;
    const uint64_t body = cfg.messages - SyntheticFeed::min_messages(cfg.symbols);
    double gap_ns = 1e9 / cfg.messages_per_second;
    const double span = static_cast<double>(kMarketClose - kMarketOpen) * 0.99;
    if (body > 0 && gap_ns > span / static_cast<double>(body)) {
      gap_ns = span / static_cast<double>(body);
    }
    gap = static_cast<uint64_t>(std::min(gap_ns, span) * 65536.0);
    const uint64_t band_bp = static_cast<uint64_t>(cfg.band * 10000.0);
    syms.resize(cfg.symbols);
    for (uint32_t i = 0; i < cfg.symbols; ++i) {
      Symbol& y = syms[i];
      y.locate = static_cast<uint16_t>(i + 1);
      synthetic_symbol(y.locate, y.name);
      // u^3 skews the opening mids to the low end of the range, as listed prices are.
      // In integers, like everything that shapes the output (u is a 21-bit fraction).
      const uint64_t u = rng.next() >> 43;
      const uint64_t p =
          cfg.min_price +
          static_cast<uint64_t>(
              (static_cast<unsigned __int128>(cfg.max_price - cfg.min_price) * (u * u * u)) >> 63);
      y.mid = std::max<uint32_t>(static_cast<uint32_t>(p / kTick), 1);
      y.lo = std::max<uint32_t>(static_cast<uint32_t>(y.mid * (10000 - band_bp) / 10000), 1);
      y.hi = std::max<uint32_t>(static_cast<uint32_t>(y.mid * (10000 + band_bp) / 10000), y.mid);
    }
  }

  void build_draw_table() {
    std::pair<double, uint8_t> w[23];
    double total = 0.0;
    for (uint8_t t : itch::kAllTypes) {
      if (t == 'S' || t == 'R') continue;
      const double x = cfg.mix.weight(t);
      if (x > 0.0) {
        w[draw_count++] = {x, t};
        total += x;
      }
    }
    // Most frequent first: the linear search below ends after one or two compares.
    std::stable_sort(w, w + draw_count,
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    double acc = 0.0;
    for (int i = 0; i < draw_count; ++i) {
      acc += w[i].first;
      draw_types[i] = w[i].second;
      thresholds[i] = static_cast<uint64_t>(acc / total * 4294967296.0);
    }
    thresholds[draw_count - 1] = uint64_t{1} << 32;
  }

  uint8_t draw_type() noexcept {
    const uint64_t r = rng.next() >> 32;
    for (int i = 0; i < draw_count - 1; ++i) {
      if (r < thresholds[i]) return draw_types[i];
    }
    return draw_types[draw_count - 1];
  }

  // ---- the shadow book

  // Activity is skewed toward low locates (the min of two uniform draws): a few symbols are
  // busy, most are quiet, as on a real day.
  Symbol& pick_symbol() noexcept {
    const uint32_t a = rng.below(cfg.symbols);
    const uint32_t b = rng.below(cfg.symbols);
    return syms[std::min(a, b)];
  }
  Symbol* pick_symbol_with_orders() noexcept {
    if (with_orders.empty()) return nullptr;
    for (int i = 0; i < 4; ++i) {
      Symbol& y = pick_symbol();
      if (y.size() != 0) return &y;
    }
    return &syms[with_orders[rng.below(static_cast<uint32_t>(with_orders.size()))]];
  }
  Symbol* pick_symbol_with_room() noexcept {
    for (int i = 0; i < 4; ++i) {
      Symbol& y = pick_symbol();
      if (y.size() < cfg.max_live_orders_per_symbol) return &y;
    }
    return nullptr;
  }

  void insert_order(Symbol& y, int side, const Order& o) {
    if (y.size() == 0) {
      y.listed_pos = static_cast<uint32_t>(with_orders.size());
      with_orders.push_back(y.locate - 1u);
    }
    y.live[side].push_back(o);
    add_shares(y, side, o.price, o.shares);
    ++stats.live_orders;
    stats.max_live_orders = std::max(stats.max_live_orders, stats.live_orders);
  }
  static void add_shares(Symbol& y, int side, uint32_t price, uint32_t shares) {
    auto& v = y.levels[side];
    std::size_t i = v.size();
    while (i > 0 && better(side, v[i - 1].price, price)) --i;
    if (i > 0 && v[i - 1].price == price) {
      v[i - 1].shares += shares;
    } else {
      v.insert(v.begin() + static_cast<std::ptrdiff_t>(i), Level{price, shares});
    }
  }
  // The level must exist and hold at least `shares`.
  static void take_shares(Symbol& y, int side, uint32_t price, uint32_t shares) {
    auto& v = y.levels[side];
    std::size_t i = v.size() - 1;
    while (v[i].price != price) --i;
    v[i].shares -= shares;
    if (v[i].shares == 0) v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
  }
  // Removes live[side][i] (its shares must already be taken off the level).
  void drop_order(Symbol& y, int side, std::size_t i) {
    auto& v = y.live[side];
    v[i] = v.back();
    v.pop_back();
    --stats.live_orders;
    if (y.size() == 0) {
      const uint32_t pos = y.listed_pos;
      with_orders[pos] = with_orders.back();
      syms[with_orders[pos]].listed_pos = pos;
      with_orders.pop_back();
      y.listed_pos = UINT32_MAX;
    }
  }
  std::pair<int, std::size_t> pick_order(Symbol& y) noexcept {
    const std::size_t nb = y.live[kBuy].size();
    const std::size_t k = rng.below(static_cast<uint32_t>(y.size()));
    return k < nb ? std::pair<int, std::size_t>{kBuy, k}
                  : std::pair<int, std::size_t>{kSell, k - nb};
  }

  void drift(Symbol& y) noexcept {
    if (rng.below(16) != 0) return;
    if (rng.coin()) {
      if (y.mid < y.hi) ++y.mid;
    } else if (y.mid > y.lo) {
      --y.mid;
    }
  }

  // A price inside the spread (inclusive), or the mid when a side is empty.
  uint32_t inside_price(const Symbol& y) noexcept {
    const uint32_t bb = y.best(kBuy), ba = y.best(kSell);
    if (bb != 0 && ba != 0) return bb + rng.below((ba - bb) / kTick + 1) * kTick;
    if (bb != 0) return bb;
    if (ba != 0) return ba;
    return y.mid * kTick;
  }
  // A price of `side` that does not cross or lock the other side, `delta` ticks from `ticks`.
  // Returns 0 when none exists (a bid under an ask at one tick).
  static uint32_t legal_price(const Symbol& y, int side, int64_t ticks) noexcept {
    if (side == kBuy) {
      const uint32_t ba = y.best(kSell);
      int64_t p = std::max<int64_t>(ticks, 1) * kTick;
      if (ba != 0 && p >= ba) p = int64_t{ba} - kTick;
      return p > 0 ? static_cast<uint32_t>(p) : 0;
    }
    const uint32_t bb = y.best(kBuy);
    int64_t p = std::max<int64_t>(ticks, 1) * kTick;
    if (p <= bb) p = int64_t{bb} + kTick;
    return static_cast<uint32_t>(p);
  }
  uint32_t lot() noexcept {
    const uint32_t s = kLots[rng.below(16)];
    return s == 1 ? 1 + rng.below(99) : s;
  }
  uint64_t issue_match(uint16_t locate) {
    match_locates.push_back(locate);
    ++stats.matches;
    return next_match++;
  }

  // ---- messages

  void head(Record& r, uint8_t type, uint16_t locate, uint16_t tracking) noexcept {
    r.type = type;
    r.locate = locate;
    r.tracking = tracking;
    r.timestamp = ts;
  }
  void body_head(Record& r, uint8_t type, uint16_t locate) noexcept {
    head(r, type, locate, static_cast<uint16_t>(rng.below(8)));
  }

  void system_event(Record& r, char code) noexcept {
    head(r, 'S', 0, 0);
    r.body.system_event.event_code = code;
  }

  void directory(Record& r, Symbol& y) noexcept {
    head(r, 'R', y.locate, 0);
    auto& d = r.body.stock_directory;
    std::memcpy(d.stock, y.name, 8);
    const uint32_t m = rng.below(20);
    d.market_category = m < 10 ? 'Q' : m < 15 ? 'G' : m < 18 ? 'S' : m < 19 ? 'N' : 'P';
    const bool nasdaq = m < 18;
    d.financial_status = nasdaq ? 'N' : ' ';
    d.round_lot_size = 100;
    d.round_lots_only = 'N';
    const bool etp = rng.below(10) == 0;
    d.issue_classification = etp ? 'Q' : 'C';
    d.issue_subtype[0] = etp ? 'I' : 'C';  // ETF-Index Fund Shares / Common Shares
    d.issue_subtype[1] = ' ';
    d.authenticity = 'P';
    d.short_sale_threshold = 'N';
    d.ipo_flag = nasdaq ? 'N' : ' ';
    d.luld_reference_price_tier = rng.below(3) == 0 ? '1' : '2';
    d.etp_flag = etp ? 'Y' : 'N';
    d.etp_leverage_factor = etp ? 1 : 0;
    d.inverse_indicator = 'N';
  }

  void trading_action(Record& r, Symbol& y, char state, const char (&reason)[5]) noexcept {
    body_head(r, 'H', y.locate);
    auto& d = r.body.trading_action;
    std::memcpy(d.stock, y.name, 8);
    d.trading_state = state;
    d.reserved = ' ';
    std::memcpy(d.reason, reason, 4);
  }

  bool add(Record& r, uint8_t type) {
    Symbol* ys = pick_symbol_with_room();
    if (ys == nullptr) return false;
    Symbol& y = *ys;
    drift(y);
    int side = rng.coin() ? kSell : kBuy;
    // Ticks away from the mid: the product of two uniform draws puts most orders near the
    // touch and a few up to 28 ticks deep.
    const int64_t depth = (int64_t{rng.below(16)} * rng.below(16)) >> 3;  // <= kMaxDepth
    uint32_t price = side == kBuy ? legal_price(y, kBuy, int64_t{y.mid} - depth) : 0;
    if (price == 0) {
      side = kSell;
      price = legal_price(y, kSell, int64_t{y.mid} + 1 + depth);
    }
    const Order o{next_ref++, price, lot()};
    insert_order(y, side, o);
    ++stats.orders_added;
    body_head(r, type, y.locate);
    auto& d = r.body.add;
    d.order_ref = o.ref;
    std::memcpy(d.stock, y.name, 8);
    d.shares = o.shares;
    d.price = o.price;
    d.side = side == kBuy ? 'B' : 'S';
    if (type == 'F') std::memcpy(d.attribution, kMpids[rng.below(8)], 4);
    return true;
  }

  bool del(Record& r) {
    Symbol* ys = pick_symbol_with_orders();
    if (ys == nullptr) return false;
    Symbol& y = *ys;
    const auto [side, i] = pick_order(y);
    const Order o = y.live[side][i];
    take_shares(y, side, o.price, o.shares);
    drop_order(y, side, i);
    body_head(r, 'D', y.locate);
    r.body.del.order_ref = o.ref;
    return true;
  }

  bool cancel(Record& r) {
    Symbol* ys = pick_symbol_with_orders();
    if (ys == nullptr) return false;
    Symbol& y = *ys;
    std::pair<int, std::size_t> at = pick_order(y);
    // A partial cancel needs two shares; look a few times for such an order.
    for (int tries = 0; tries < 4 && y.live[at.first][at.second].shares < 2; ++tries) {
      at = pick_order(y);
    }
    const auto [side, i] = at;
    Order& o = y.live[side][i];
    const uint32_t n = o.shares < 2 ? o.shares : 1 + rng.below(o.shares - 1);
    const uint64_t ref = o.ref;
    take_shares(y, side, o.price, n);
    o.shares -= n;
    if (o.shares == 0) drop_order(y, side, i);
    body_head(r, 'X', y.locate);
    r.body.cancel.order_ref = ref;
    r.body.cancel.shares = n;
    return true;
  }

  // E and C take an order at the best price of a side, as an incoming marketable order would.
  bool execute(Record& r, uint8_t type) {
    Symbol* ys = pick_symbol_with_orders();
    if (ys == nullptr) return false;
    Symbol& y = *ys;
    int side = rng.coin() ? kSell : kBuy;
    if (y.live[side].empty()) side ^= 1;
    const uint32_t best = y.best(side);
    auto& v = y.live[side];
    const std::size_t n = v.size();
    std::size_t i = rng.below(static_cast<uint32_t>(n));
    while (v[i].price != best) i = i + 1 == n ? 0 : i + 1;
    Order& o = v[i];
    // Whole fills 9 times in 10 above the target depth, 1 in 10 below it.
    const bool whole = rng.below(10) < (y.size() > cfg.target_live_orders_per_symbol ? 9u : 1u);
    const uint32_t shares = (o.shares < 2 || whole) ? o.shares : 1 + rng.below(o.shares - 1);
    const uint64_t ref = o.ref;
    const uint32_t order_price = o.price;
    take_shares(y, side, o.price, shares);
    o.shares -= shares;
    if (o.shares == 0) drop_order(y, side, i);
    body_head(r, type, y.locate);
    auto& d = r.body.executed;
    d.order_ref = ref;
    d.shares = shares;
    d.match_number = issue_match(y.locate);
    if (type == 'C') {
      // Executed away from the displayed price, e.g. in a cross: never worse for the owner.
      const uint32_t k = rng.below(3) * kTick;
      d.price = side == kBuy ? (order_price > k ? order_price - k : order_price) : order_price + k;
      d.printable = rng.below(4) == 0 ? 'N' : 'Y';
    }
    return true;
  }

  // U: the order leaves the book and returns under a new reference, same side and symbol,
  // a few ticks away, possibly with a new size (it loses time priority).
  bool replace(Record& r) {
    Symbol* ys = pick_symbol_with_orders();
    if (ys == nullptr) return false;
    Symbol& y = *ys;
    drift(y);
    const auto [side, i] = pick_order(y);
    Order& o = y.live[side][i];
    // Repeated replaces would walk an order anywhere; keeping it within kMaxDepth of the mid
    // keeps each book as compact as a real one.
    const int64_t mid = y.mid;
    const int64_t ticks = int64_t{o.price / kTick} + int64_t{rng.below(5)} - 2;
    uint32_t price = legal_price(y, side, std::clamp(ticks, mid - kMaxDepth, mid + 1 + kMaxDepth));
    if (price == 0) price = o.price;  // the old price is legal: the other side did not move
    const uint32_t shares = rng.coin() ? o.shares : lot();
    const uint64_t old_ref = o.ref;
    take_shares(y, side, o.price, o.shares);
    o = Order{next_ref++, price, shares};
    add_shares(y, side, price, shares);
    ++stats.orders_added;
    body_head(r, 'U', y.locate);
    auto& d = r.body.replace;
    d.original_ref = old_ref;
    d.new_ref = o.ref;
    d.shares = shares;
    d.price = price;
    return true;
  }

  // P: an execution against a non-displayed order (reference 0), inside the spread.
  void trade(Record& r) {
    Symbol& y = pick_symbol();
    body_head(r, 'P', y.locate);
    auto& d = r.body.trade;
    d.order_ref = 0;
    d.side = rng.coin() ? 'S' : 'B';
    d.shares = lot();
    std::memcpy(d.stock, y.name, 8);
    d.price = inside_price(y);
    d.match_number = issue_match(y.locate);
  }

  void cross_trade(Record& r) {
    Symbol& y = pick_symbol();
    body_head(r, 'Q', y.locate);
    auto& d = r.body.cross;
    d.shares = 100 * (1 + uint64_t{rng.below(20000)});
    std::memcpy(d.stock, y.name, 8);
    d.price = inside_price(y);
    d.cross_type = rng.pick("OCHI");
    d.match_number = issue_match(y.locate);
  }

  bool broken_trade(Record& r) {
    if (next_match == 1) return false;
    const uint64_t m = 1 + rng.below64(next_match - 1);
    body_head(r, 'B', match_locates[m - 1]);
    r.body.broken.match_number = m;
    return true;
  }

  uint32_t nudge(uint32_t price, uint32_t max_ticks) noexcept {
    const uint32_t k = rng.below(max_ticks + 1) * kTick;
    if (rng.coin()) return price + k;
    return price > k ? price - k : price;
  }

  void noii(Record& r) {
    Symbol& y = pick_symbol();
    body_head(r, 'I', y.locate);
    auto& d = r.body.noii;
    const char dir = rng.pick("BSNO");
    d.paired_shares = 100 * uint64_t{rng.below(10000)};
    d.imbalance_shares = (dir == 'B' || dir == 'S') ? 100 * (1 + uint64_t{rng.below(5000)}) : 0;
    d.imbalance_direction = dir;
    std::memcpy(d.stock, y.name, 8);
    d.current_reference_price = inside_price(y);
    d.near_price = nudge(d.current_reference_price, 2);
    d.far_price = nudge(d.current_reference_price, 5);
    d.cross_type = rng.pick("OCH");
    d.price_variation_indicator = rng.pick("L123456789ABC ");
  }

  void rpii(Record& r) {
    Symbol& y = pick_symbol();
    body_head(r, 'N', y.locate);
    std::memcpy(r.body.rpii.stock, y.name, 8);
    r.body.rpii.interest_flag = rng.pick("BSAN");
  }

  // H during the day: a symbol alternates between a LULD trading pause and trading.
  void body_trading_action(Record& r) {
    Symbol& y = pick_symbol();
    y.halted = !y.halted;
    if (y.halted) {
      trading_action(r, y, 'H', "LUDP");
    } else {
      trading_action(r, y, 'T', "    ");
    }
  }

  void reg_sho(Record& r) {
    Symbol& y = pick_symbol();
    body_head(r, 'Y', y.locate);
    std::memcpy(r.body.reg_sho.stock, y.name, 8);
    r.body.reg_sho.action = rng.pick("012");
  }

  void participant_position(Record& r) {
    Symbol& y = pick_symbol();
    body_head(r, 'L', y.locate);
    auto& d = r.body.participant_position;
    std::memcpy(d.stock, y.name, 8);
    std::memcpy(d.mpid, kMpids[rng.below(8)], 4);
    d.primary_market_maker = rng.pick("YN");
    d.market_maker_mode = rng.pick("NPSRL");
    d.participant_state = rng.pick("AEWSD");
  }

  // V: the three market-wide circuit breaker levels (7%, 13%, 20% below an S&P 500 close of
  // $3000-$5000), 8 implied decimals.
  void mwcb_decline(Record& r) {
    body_head(r, 'V', 0);
    const uint64_t close = (3000 + uint64_t{rng.below(2000)}) * 100'000'000;
    r.body.mwcb_decline.level1 = close / 100 * 93;
    r.body.mwcb_decline.level2 = close / 100 * 87;
    r.body.mwcb_decline.level3 = close / 100 * 80;
  }

  void mwcb_status(Record& r) {
    body_head(r, 'W', 0);
    r.body.mwcb_status.breached_level = rng.pick("123");
  }

  void ipo_quoting(Record& r) {
    Symbol& y = pick_symbol();
    body_head(r, 'K', y.locate);
    auto& d = r.body.ipo_quoting;
    std::memcpy(d.stock, y.name, 8);
    d.release_time = static_cast<uint32_t>(ts / kNsPerSecond) + 60 * (1 + rng.below(60));
    d.release_qualifier = rng.pick("AC");
    d.ipo_price = y.mid * kTick;
  }

  void luld_collar(Record& r) {
    Symbol& y = pick_symbol();
    body_head(r, 'J', y.locate);
    auto& d = r.body.luld_collar;
    std::memcpy(d.stock, y.name, 8);
    const uint64_t ref = inside_price(y);
    d.reference_price = static_cast<uint32_t>(ref);
    d.upper_price = floor_tick(ref * 105 / 100);
    d.lower_price = floor_tick(ref * 95 / 100);
    d.extension = rng.below(4);
  }

  void operational_halt(Record& r) {
    Symbol& y = pick_symbol();
    body_head(r, 'h', y.locate);
    std::memcpy(r.body.operational_halt.stock, y.name, 8);
    r.body.operational_halt.market_code = rng.pick("QBX");
    r.body.operational_halt.action = rng.pick("HT");
  }

  void dlcr(Record& r) {
    Symbol& y = pick_symbol();
    body_head(r, 'O', y.locate);
    auto& d = r.body.dlcr;
    std::memcpy(d.stock, y.name, 8);
    const uint64_t near = inside_price(y);
    d.open_eligibility_status = rng.pick("NY");
    d.minimum_allowable_price = floor_tick(near * 80 / 100);
    d.maximum_allowable_price = floor_tick(near * 120 / 100);
    d.near_execution_price = static_cast<uint32_t>(near);
    d.near_execution_time = ts + uint64_t{rng.below(600)} * kNsPerSecond;
    d.lower_price_range_collar = floor_tick(near * 90 / 100);
    d.upper_price_range_collar = floor_tick(near * 110 / 100);
  }

  bool emit(Record& r, uint8_t t) {
    switch (t) {
      case 'A':
      case 'F':
        return add(r, t);
      case 'D':
        return del(r);
      case 'X':
        return cancel(r);
      case 'E':
      case 'C':
        return execute(r, t);
      case 'U':
        return replace(r);
      case 'P':
        trade(r);
        return true;
      case 'Q':
        cross_trade(r);
        return true;
      case 'B':
        return broken_trade(r);
      case 'I':
        noii(r);
        return true;
      case 'N':
        rpii(r);
        return true;
      case 'H':
        body_trading_action(r);
        return true;
      case 'Y':
        reg_sho(r);
        return true;
      case 'L':
        participant_position(r);
        return true;
      case 'V':
        mwcb_decline(r);
        return true;
      case 'W':
        mwcb_status(r);
        return true;
      case 'K':
        ipo_quoting(r);
        return true;
      case 'J':
        luld_collar(r);
        return true;
      case 'h':
        operational_halt(r);
        return true;
      case 'O':
        dlcr(r);
        return true;
      default:
        return false;
    }
  }

  void body(Record& r) {
    // Uniform in [0, 2 * gap): the mean rate is the configured one.
    body_t +=
        static_cast<uint64_t>((static_cast<unsigned __int128>(gap) * (rng.next() >> 31)) >> 32);
    ts = kMarketOpen + (body_t >> 16);
    const uint8_t t = draw_type();
    if (emit(r, t)) return;
    // The book cannot take it (the emitters write nothing then): a full symbol deletes
    // instead, an empty book adds, a broken trade before any trade becomes a trade.
    ++stats.substituted;
    if (t == 'A' || t == 'F') {
      del(r);  // every symbol tried was at the cap, so orders exist
    } else if (t == 'B') {
      trade(r);
    } else {
      add(r, 'A');  // no live orders anywhere, so no symbol is at the cap
    }
  }

  void generate(Record& r) {
    std::memset(&r, 0, sizeof(Record));
    const uint64_t i = produced++;
    const uint64_t n = cfg.symbols;
    if (i == 0) {
      ts = kStartOfMessages;
      system_event(r, 'O');
    } else if (i <= n) {
      ts = kStartOfMessages + i * kOpeningSpacing;
      directory(r, syms[i - 1]);
    } else if (i <= 2 * n) {
      ts = kStartOfMessages + i * kOpeningSpacing;
      trading_action(r, syms[i - n - 1], 'T', "    ");
      r.tracking = 0;
    } else if (i == 2 * n + 1) {
      ts = kStartOfSystemHours;
      system_event(r, 'S');
    } else if (i == 2 * n + 2) {
      ts = kMarketOpen;
      system_event(r, 'Q');
    } else if (i < body_end) {
      body(r);
    } else if (i == body_end) {
      ts = std::max(ts, kMarketClose);
      system_event(r, 'M');
    } else if (i == body_end + 1) {
      ts = std::max(ts, kEndOfSystemHours);
      system_event(r, 'E');
    } else {
      ts += kEndOfMessagesDelay;
      system_event(r, 'C');
    }
    r.offset = bytes;
    r.length = itch::message_length(r.type);
  }

  void consume(const Record& r) noexcept {
    ++emitted;
    ++stats.messages;
    ++stats.by_type[r.type];
    bytes += r.length + itch::kPrefixSize;
  }
};

SyntheticFeed::SyntheticFeed(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

Result<SyntheticFeed, ConfigError> SyntheticFeed::make(const FeedConfig& config) {
  if (const char* why = config_problem(config)) return err(ConfigError{why});
  return SyntheticFeed(std::make_unique<Impl>(config));
}
SyntheticFeed::~SyntheticFeed() = default;
SyntheticFeed::SyntheticFeed(SyntheticFeed&&) noexcept = default;
SyntheticFeed& SyntheticFeed::operator=(SyntheticFeed&&) noexcept = default;

// A moved-from feed is a finished, empty one.
namespace {
const FeedStats kNoStats{};
const FeedConfig kNoConfig{};
}  // namespace

bool SyntheticFeed::next(itch::Record& out) {
  if (!impl_) return false;
  Impl& m = *impl_;
  if (m.held) {
    out = m.pending;
    m.held = false;
  } else {
    if (m.produced >= m.cfg.messages) return false;
    m.generate(out);
  }
  m.consume(out);
  return true;
}

std::size_t SyntheticFeed::next_encoded(uint8_t* buf, std::size_t cap) {
  if (!impl_) return 0;
  Impl& m = *impl_;
  if (!m.held) {
    if (m.produced >= m.cfg.messages) return 0;
    m.generate(m.pending);
    m.held = true;
  }
  const std::size_t n = itch::encode_message(m.pending, buf, cap);
  if (n == 0) return 0;
  m.held = false;
  m.consume(m.pending);
  return n;
}

bool SyntheticFeed::done() const noexcept {
  return !impl_ || (!impl_->held && impl_->produced >= impl_->cfg.messages);
}
uint64_t SyntheticFeed::total() const noexcept { return impl_ ? impl_->cfg.messages : 0; }
uint64_t SyntheticFeed::emitted() const noexcept { return impl_ ? impl_->emitted : 0; }
const FeedStats& SyntheticFeed::stats() const noexcept { return impl_ ? impl_->stats : kNoStats; }
const FeedConfig& SyntheticFeed::config() const noexcept { return impl_ ? impl_->cfg : kNoConfig; }

Bbo SyntheticFeed::bbo(uint16_t locate) const noexcept {
  Bbo b;
  if (!impl_ || locate == 0 || locate > impl_->cfg.symbols) return b;
  const Symbol& y = impl_->syms[locate - 1u];
  if (!y.levels[kBuy].empty()) {
    b.bid_price = y.levels[kBuy].back().price;
    b.bid_shares = y.levels[kBuy].back().shares;
  }
  if (!y.levels[kSell].empty()) {
    b.ask_price = y.levels[kSell].back().price;
    b.ask_shares = y.levels[kSell].back().shares;
  }
  return b;
}

uint64_t SyntheticFeed::live_orders(uint16_t locate) const noexcept {
  if (!impl_ || locate == 0 || locate > impl_->cfg.symbols) return 0;
  return impl_->syms[locate - 1u].size();
}

Result<std::vector<uint8_t>, ConfigError> generate_day(const FeedConfig& config) {
  auto made = SyntheticFeed::make(config);
  if (!made) return err(made.error());
  SyntheticFeed& feed = *made;
  constexpr std::size_t kMax = itch::kMaxMessageLength + itch::kPrefixSize;
  std::vector<uint8_t> out;
  try {  // a day is config.messages x ~31 bytes in memory: too big is an error value
    out.resize(config.messages * 32 + kMax);
    std::size_t pos = 0;
    for (;;) {
      if (out.size() - pos < kMax) out.resize(out.size() + out.size() / 2 + kMax);
      const std::size_t n = feed.next_encoded(out.data() + pos, out.size() - pos);
      if (n == 0) break;
      pos += n;
    }
    out.resize(pos);
  } catch (const std::bad_alloc&) {
    return err(ConfigError{"generate_day: out of memory (write_synthetic_file streams a day)"});
  }
  return out;
}

}  // namespace sluice::market
