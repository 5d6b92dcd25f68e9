// sluice_itch_bench, book part: the order books on a generated day, beside a peer book of the
// common textbook design in the same binary. One thread, pinned to CPU 0.
//
//  BM_book_apply/0         OrderBooks::apply_batch over the decoded records of a generated day
//                          (4 M messages, 256 symbols, about 200 live orders per symbol)
//  BM_book_apply/1         the same on a deep day: about 4000 live orders per symbol (1 M
//                          live orders, the order table far outside L2: the cache-miss case)
//  BM_book_apply_map_peer  a peer book: std::unordered_map of orders, std::map of levels per
//                          symbol and side (the design of CppTrader's unoptimised manager)
//  BM_feed_to_book/0,1     framing + decode + book from the ITCH bytes, in 4096-message
//                          batches (records stay in L2), on the two days
// Each iteration applies the whole day to books cleared outside the timed region; items are
// messages, so the time per item is ns per message.
#include <benchmark/benchmark.h>
#include <sluice/market/itch/framing.hpp>
#include <sluice/market/order_book.hpp>
#include <sluice/market/synthetic_feed.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "../common/bench_common.hpp"

namespace itch = sluice::market::itch;
using namespace sluice::market;
using sluice::bench::pin_or_skip;

namespace {

constexpr uint32_t kSymbols = 256;
// The order table sized for the days here (about 60 k live orders at the peak) with room to
// spare: 2^18 slots of 32 bytes, 8 MiB, inside L3. A real day (1.65 M live orders at the
// peak) needs 2^22 slots, 128 MiB, and is bound by DRAM misses (BM_book_apply_real_table).
constexpr uint32_t kMaxLive = 1u << 17;

struct BookDay {
  std::vector<uint8_t> bytes;
  std::vector<itch::Record> records;
};

const BookDay& book_day(int deep) {
  static BookDay days[2];
  BookDay& d = days[deep];
  if (d.records.empty()) {
    FeedConfig cfg;
    cfg.seed = 20261130 + deep;
    cfg.symbols = kSymbols;
    cfg.messages = 4'000'000;
    if (deep) {
      cfg.target_live_orders_per_symbol = 4000;
      cfg.max_live_orders_per_symbol = 8000;
    }
    d.bytes = generate_day(cfg).value();
    d.records.resize(cfg.messages);
    const auto s = itch::decode_stream(d.bytes.data(), d.bytes.size(), 0, d.records.data(),
                                       static_cast<uint32_t>(d.records.size()), true);
    d.records.resize(s.count);
  }
  return d;
}

OrderBooks fresh_books() {
  BookConfig bc;
  bc.max_locate = kSymbols;
  bc.max_live_orders = kMaxLive;
  auto b = OrderBooks::make(bc);
  if (!b) std::abort();
  return std::move(*b);
}

void BM_book_apply(benchmark::State& state) {
  if (!pin_or_skip(state, 0)) return;
  const BookDay& d = book_day(static_cast<int>(state.range(0)));
  OrderBooks books = fresh_books();
  uint64_t failed = 0, max_live = 0;
  for (auto _ : state) {
    state.PauseTiming();
    books.clear();
    state.ResumeTiming();
    benchmark::DoNotOptimize(books.apply_batch(d.records.data(), d.records.size()));
    failed = books.counters().failed();
    max_live = books.live_orders();
  }
  state.counters["failed"] = static_cast<double>(failed);
  state.counters["live_at_end"] = static_cast<double>(max_live);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.records.size()));
}
BENCHMARK(BM_book_apply)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The peer: orders in a hash map, levels in ordered maps (bids and asks per symbol). Prices
// unsigned with a side, like the book under test; the same checks (unknown references ignored).
class MapBook {
 public:
  struct Order {
    uint32_t shares, price;
    uint16_t locate;
    bool buy;
  };
  struct Level {
    uint64_t shares = 0;
    uint32_t orders = 0;
  };
  void clear() {
    orders_.clear();
    for (auto& s : bids_) s.clear();
    for (auto& s : asks_) s.clear();
  }
  void apply(const itch::Record& r) {
    switch (r.type) {
      case 'A':
      case 'F':
        add(r.body.add.order_ref, r.locate, r.body.add.side == 'B', r.body.add.shares,
            r.body.add.price);
        break;
      case 'E':
      case 'C':
        reduce(r.body.executed.order_ref, r.body.executed.shares);
        break;
      case 'X':
        reduce(r.body.cancel.order_ref, r.body.cancel.shares);
        break;
      case 'D':
        reduce(r.body.del.order_ref, ~0u);
        break;
      case 'U': {
        auto it = orders_.find(r.body.replace.original_ref);
        if (it == orders_.end()) return;
        const Order o = it->second;
        reduce(r.body.replace.original_ref, ~0u);
        add(r.body.replace.new_ref, o.locate, o.buy, r.body.replace.shares, r.body.replace.price);
        break;
      }
      default:
        break;
    }
  }
  std::size_t live() const { return orders_.size(); }

 private:
  std::map<uint32_t, Level>& side(uint16_t locate, bool buy) {
    return buy ? bids_[locate] : asks_[locate];
  }
  void add(uint64_t ref, uint16_t locate, bool buy, uint32_t shares, uint32_t price) {
    if (locate > kSymbols) return;
    if (!orders_.emplace(ref, Order{shares, price, locate, buy}).second) return;
    Level& l = side(locate, buy)[price];
    l.shares += shares;
    ++l.orders;
  }
  void reduce(uint64_t ref, uint32_t shares) {
    auto it = orders_.find(ref);
    if (it == orders_.end()) return;
    Order& o = it->second;
    auto& levels = side(o.locate, o.buy);
    auto lv = levels.find(o.price);
    const uint32_t take = shares >= o.shares ? o.shares : shares;
    lv->second.shares -= take;
    o.shares -= take;
    if (o.shares == 0) {
      if (--lv->second.orders == 0) levels.erase(lv);
      orders_.erase(it);
    }
  }
  std::unordered_map<uint64_t, Order> orders_;
  std::map<uint32_t, Level> bids_[kSymbols + 1], asks_[kSymbols + 1];
};

void BM_book_apply_map_peer(benchmark::State& state) {
  if (!pin_or_skip(state, 0)) return;
  const BookDay& d = book_day(static_cast<int>(state.range(0)));
  auto book = std::make_unique<MapBook>();
  std::size_t live = 0;
  for (auto _ : state) {
    state.PauseTiming();
    book->clear();
    state.ResumeTiming();
    for (const itch::Record& r : d.records) book->apply(r);
    live = book->live();
  }
  state.counters["live_at_end"] = static_cast<double>(live);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.records.size()));
}
BENCHMARK(BM_book_apply_map_peer)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_feed_to_book(benchmark::State& state) {
  if (!pin_or_skip(state, 0)) return;
  const BookDay& d = book_day(static_cast<int>(state.range(0)));
  OrderBooks books = fresh_books();
  std::vector<itch::Record> recs(4096);
  uint64_t failed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    books.clear();
    state.ResumeTiming();
    uint64_t off = 0;
    while (off < d.bytes.size()) {
      const auto s = itch::decode_stream(d.bytes.data() + off, d.bytes.size() - off, off,
                                         recs.data(), static_cast<uint32_t>(recs.size()), true);
      benchmark::DoNotOptimize(books.apply_batch(recs.data(), s.count));
      off += s.consumed;
    }
    failed = books.counters().failed();
  }
  state.counters["failed"] = static_cast<double>(failed);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.records.size()));
}
BENCHMARK(BM_feed_to_book)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
