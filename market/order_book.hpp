// OrderBooks: full-depth, price-aggregated books for every symbol of an ITCH 5.0 feed, fed with
// decoded records (itch/record.hpp) or through the per-operation API.
//
// Why this shape: a book over a real day is bound by cache misses on the order state (about
// 1.65 M live orders at peak, tens of MB), not by arithmetic. So:
//  * Symbols are keyed by the stock locate, a dense uint16: a direct array, no lookup.
//  * Orders live in one open-addressing table keyed by the 64-bit reference number: linear
//    probing (a probe walks adjacent slots, mostly within one cache line), backward-shift
//    deletion (no tombstones, so probes do not lengthen over a day of churn), a power-of-two
//    capacity of at least twice the configured live orders (load <= 1/2), and a home slot that
//    keeps blocks of 8 consecutive references together and scatters the blocks (references are
//    dense and increasing; see home_slot). A full table is BookError::Capacity, never a rehash.
//  * Levels per symbol and side: a sorted array with the BEST price at the END (CppTrader):
//    most messages touch the top of the book, so finding a level scans a few entries from the
//    end and inserting or erasing one moves few entries.
//  * apply_batch() prefetches the order slot of the message kPrefetchDistance ahead, the known
//    lever for a miss-bound book.
//  * The API takes a Side and an unsigned price (4 implied decimals, as on the wire). Asks are
//    never encoded as negative prices for callers to undo (charles-cooper/itch-order-book#12).
//
// Allocation: everything at make(). The one later allocation: a side deeper than
// levels_per_side moves its levels to the heap and doubles them there, so it allocates once per
// doubling of that side's high-water depth and never again below it. A failed growth is
// BookError::OutOfMemory with the book unchanged.
//
// Errors are values. After any error the book is consistent (check() holds): an operation
// either applies fully, or changes nothing, or (Overfill, Overcancel) removes the order it
// overdrew, as a feed that overdraws an order means that order is gone.
//
// Messages are applied in feed order, never validated by timestamp (vgreg/MeatPy#57).
// One owner thread; no internal synchronisation.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../runtime/result.hpp"
#include "itch/record.hpp"

namespace sluice::market {

enum class Side : uint8_t { Buy = 0, Sell = 1 };

enum class BookError : uint8_t {
  UnknownOrder = 0,    // the reference is not a live order (an unresolved reference)
  DuplicateOrder = 1,  // add or replace with a reference that is already live
  Overfill = 2,        // executed more than the remaining shares (the order is removed)
  Overcancel = 3,      // cancelled more than the remaining shares (the order is removed)
  ZeroShares = 4,      // an add, execute, cancel or replace of 0 shares (nothing changes)
  BadSide = 5,         // a side that is neither Buy nor Sell ('B'/'S' on the wire)
  BadLocate = 6,       // a stock locate above BookConfig::max_locate
  Capacity = 7,        // max_live_orders orders are live already
  OutOfMemory = 8,     // make(), or a side growing past its level reserve
  BadConfig = 9,       // make(): max_live_orders is 0 or above kMaxLiveOrders; or a moved-from
                       // OrderBooks used for an add
  Collision = 10,      // the reference's probe run is longer than kMaxProbe slots (a flood of
                       // references built to collide; nothing changes)
};
inline constexpr std::size_t kBookErrorKinds = 11;

inline const char* to_string(BookError e) noexcept {
  switch (e) {
    case BookError::UnknownOrder:
      return "unknown order reference";
    case BookError::DuplicateOrder:
      return "duplicate order reference";
    case BookError::Overfill:
      return "execution exceeds the remaining shares";
    case BookError::Overcancel:
      return "cancel exceeds the remaining shares";
    case BookError::ZeroShares:
      return "zero shares";
    case BookError::BadSide:
      return "bad side";
    case BookError::BadLocate:
      return "stock locate out of range";
    case BookError::Capacity:
      return "order table full";
    case BookError::OutOfMemory:
      return "out of memory";
    case BookError::BadConfig:
      return "bad book configuration";
    case BookError::Collision:
      return "order reference collides with too many others";
  }
  return "?";
}

// What apply() did with a record that raised no error.
enum class Applied : uint8_t {
  Book,     // A, F, E, C, X, D or U: the book changed
  Ignored,  // any other type, or a record that did not decode
};

struct BookConfig {
  // Highest stock locate served; locates 0..max_locate get a book. NASDAQ assigns about 9 000.
  uint16_t max_locate = 16383;
  // Most orders live at once (a real day peaks near 1.65 M). The table holds the next power of
  // two >= 2x this many 32-byte slots: the default takes 128 MiB.
  uint32_t max_live_orders = 2'000'000;
  // Levels preallocated per symbol and side; deeper sides grow on the heap (see the top).
  uint32_t levels_per_side = 64;
};

// One price level as the queries report it.
struct PriceLevel {
  uint32_t price = 0;   // 4 implied decimals
  uint32_t orders = 0;  // live orders at this price
  uint64_t shares = 0;  // their remaining shares
  bool operator==(const PriceLevel&) const = default;
};

// One live order as find() reports it.
struct OrderInfo {
  uint64_t ref = 0;
  uint32_t shares = 0;  // remaining
  uint32_t price = 0;
  uint16_t locate = 0;
  Side side = Side::Buy;
  bool operator==(const OrderInfo&) const = default;
};

// Tallies of operations: the book's running counters and the result of one apply_batch().
struct BookStats {
  uint64_t applied = 0;  // operations (or book records) that changed the book without error
  uint64_t ignored = 0;  // records of other types, or records that did not decode
  uint64_t errors[kBookErrorKinds] = {};

  uint64_t of(BookError e) const noexcept { return errors[static_cast<std::size_t>(e)]; }
  // References to orders that are not live: the itch-book correctness bar is 0 per day.
  uint64_t unresolved() const noexcept { return of(BookError::UnknownOrder); }
  uint64_t failed() const noexcept {
    uint64_t n = 0;
    for (uint64_t e : errors) n += e;
    return n;
  }
  uint64_t messages() const noexcept { return applied + ignored + failed(); }
};

class OrderBooks {
 public:
  // The table's capacity stays within 2^32 slots.
  static constexpr uint32_t kMaxLiveOrders = 1u << 31;
  // apply_batch() prefetches the order slot this many records ahead: far enough to cover a
  // DRAM miss (~80-100 ns) at tens of ns per message, near enough that the line is still cached.
  static constexpr std::size_t kPrefetchDistance = 8;
  // Farthest an order may sit from its home slot. With the load at most 1/2 real feeds stay far
  // below it; references built to collide (home_slot is public and easy to invert) get
  // BookError::Collision instead of making every later operation on their run O(n). A lookup
  // or an insert reads at most kMaxProbe slots; a deletion's backward shift stops kMaxProbe
  // slots past its last move.
  static constexpr std::size_t kMaxProbe = 1024;

  // All memory is taken here: the order table (zeroed, so its pages are committed now and not
  // faulted in during the day), the per-locate books and the level reserve.
  [[nodiscard]] static Result<OrderBooks, BookError> make(const BookConfig& cfg = {}) noexcept {
    if (cfg.max_live_orders == 0 || cfg.max_live_orders > kMaxLiveOrders)
      return err(BookError::BadConfig);
    OrderBooks b;
    b.max_locate_ = cfg.max_locate;
    b.reserve_ = cfg.levels_per_side;
    b.max_live_ = cfg.max_live_orders;
    const std::size_t cap = std::bit_ceil(std::size_t{2} * cfg.max_live_orders);
    b.mask_ = cap - 1;
    b.shift_ = static_cast<unsigned>(64 - std::countr_zero(cap));
    // 64 - log2(block positions); a table smaller than a block has one position (shift 63
    // keeps the multiply's top bit, masked away by mask_).
    b.block_shift_ = std::min(63u, b.shift_ + kBlockBits);
    b.table_ = static_cast<OrderSlot*>(
        ::operator new (cap * sizeof(OrderSlot), std::align_val_t{64}, std::nothrow));
    if (b.table_ == nullptr) return err(BookError::OutOfMemory);
    std::memset(static_cast<void*>(b.table_), 0, cap * sizeof(OrderSlot));

    // The reserve before the books: release() walks the books only once they are set up.
    const std::size_t nsym = std::size_t{cfg.max_locate} + 1;
    if (b.reserve_ != 0) {
      b.pool_ = static_cast<LevelSlot*>(
          ::operator new(nsym * 2 * b.reserve_ * sizeof(LevelSlot), std::nothrow));
      if (b.pool_ == nullptr) return err(BookError::OutOfMemory);
    }
    b.books_ = static_cast<SymbolBook*>(::operator new (
        nsym * sizeof(SymbolBook), std::align_val_t{alignof(SymbolBook)}, std::nothrow));
    if (b.books_ == nullptr) return err(BookError::OutOfMemory);
    for (std::size_t s = 0; s < nsym; ++s) {
      for (int d = 0; d < 2; ++d) {
        SideBook& sb = b.books_[s].side[d];
        sb.data = b.pool_ ? b.pool_ + (s * 2 + d) * b.reserve_ : nullptr;
        sb.size = 0;
        sb.cap = b.reserve_;
      }
    }
    return b;
  }

  // A moved-from OrderBooks holds nothing: queries are empty, adds are BadConfig, other
  // operations UnknownOrder, clear() does nothing. Assign a new one to use it again.
  OrderBooks(OrderBooks&& o) noexcept { steal(o); }
  OrderBooks& operator=(OrderBooks&& o) noexcept {
    if (this != &o) {
      release();
      steal(o);
    }
    return *this;
  }
  OrderBooks(const OrderBooks&) = delete;
  OrderBooks& operator=(const OrderBooks&) = delete;
  ~OrderBooks() { release(); }

  // ---- operations (each counts into counters())

  // A new order. Errors: BadLocate, BadSide, ZeroShares, DuplicateOrder, Capacity, OutOfMemory;
  // on any of them nothing changes.
  Result<void, BookError> add(uint16_t locate, uint64_t ref, Side side, uint32_t shares,
                              uint32_t price) noexcept {
    return counted(add_impl(locate, ref, side, shares, price));
  }
  // Executes `shares` of a resting order at its own price level (E, and C, whose price is the
  // trade's, not a level change). All remaining shares executed removes the order. Errors:
  // UnknownOrder, ZeroShares (nothing changes), Overfill (the order is removed).
  Result<void, BookError> execute(uint64_t ref, uint32_t shares) noexcept {
    return counted(reduce_impl(ref, shares, BookError::Overfill));
  }
  // Cancels part of an order (X). Cancelling exactly the remaining shares removes it. Errors:
  // UnknownOrder, ZeroShares (nothing changes), Overcancel (the order is removed).
  Result<void, BookError> cancel(uint64_t ref, uint32_t shares) noexcept {
    return counted(reduce_impl(ref, shares, BookError::Overcancel));
  }
  // Removes an order (D). Error: UnknownOrder.
  Result<void, BookError> del(uint64_t ref) noexcept { return counted(del_impl(ref)); }
  // U: the old order leaves, a new one with a new reference joins the same symbol and side at
  // the back of its level's queue. Errors: UnknownOrder (old), ZeroShares, DuplicateOrder (the
  // new reference is live and is not the old one), OutOfMemory; on any of them nothing changes.
  Result<void, BookError> replace(uint64_t old_ref, uint64_t new_ref, uint32_t shares,
                                  uint32_t price) noexcept {
    return counted(replace_impl(old_ref, new_ref, shares, price));
  }

  // Applies one decoded record: A, F, E, C, X, D and U change the book; every other type, and
  // a record that did not decode, is Applied::Ignored.
  Result<Applied, BookError> apply(const itch::Record& r) noexcept {
    if (!r.ok()) [[unlikely]]
      return ignore();
    // Each case hands its own Result on: no Result shared across the switch, whose error
    // member g++ 12 at -O1 with TSan warned may be read uninitialised (-Wmaybe-uninitialized).
    switch (r.type) {
      case 'A':
      case 'F': {
        const itch::AddOrderBody& a = r.body.add;
        if (a.side != 'B' && a.side != 'S') [[unlikely]]
          return booked(err(BookError::BadSide));
        const Side s = a.side == 'B' ? Side::Buy : Side::Sell;
        return booked(add_impl(r.locate, a.order_ref, s, a.shares, a.price));
      }
      case 'E':
      case 'C':
        return booked(
            reduce_impl(r.body.executed.order_ref, r.body.executed.shares, BookError::Overfill));
      case 'X':
        return booked(
            reduce_impl(r.body.cancel.order_ref, r.body.cancel.shares, BookError::Overcancel));
      case 'D':
        return booked(del_impl(r.body.del.order_ref));
      case 'U':
        return booked(replace_impl(r.body.replace.original_ref, r.body.replace.new_ref,
                                   r.body.replace.shares, r.body.replace.price));
      default:
        return ignore();
    }
  }

  // apply() over recs[0..n), prefetching the order slot of record i + kPrefetchDistance before
  // applying record i. Same effect and counters as n apply() calls; returns this batch's tally.
  BookStats apply_batch(const itch::Record* recs, std::size_t n) noexcept {
    BookStats st;
    const std::size_t head = std::min(n, kPrefetchDistance);
    for (std::size_t i = 0; i < head; ++i) prefetch_record(recs[i]);
    for (std::size_t i = 0; i < n; ++i) {
      if (i + kPrefetchDistance < n) prefetch_record(recs[i + kPrefetchDistance]);
      Result<Applied, BookError> r = apply(recs[i]);
      if (!r)
        ++st.errors[static_cast<std::size_t>(r.error())];
      else if (*r == Applied::Book)
        ++st.applied;
      else
        ++st.ignored;
    }
    return st;
  }

  // Empties every book (start of a day). Keeps all memory, grown sides included.
  void clear() noexcept {
    if (table_ == nullptr || books_ == nullptr) return;  // moved from
    std::memset(static_cast<void*>(table_), 0, (mask_ + 1) * sizeof(OrderSlot));
    live_ = 0;
    for (std::size_t s = 0; s <= max_locate_; ++s)
      books_[s].side[0].size = books_[s].side[1].size = 0;
  }

  // ---- queries

  std::optional<PriceLevel> best_bid(uint16_t locate) const noexcept {
    return best(locate, Side::Buy);
  }
  std::optional<PriceLevel> best_ask(uint16_t locate) const noexcept {
    return best(locate, Side::Sell);
  }
  std::optional<PriceLevel> best(uint16_t locate, Side side) const noexcept {
    const SideBook* b = side_book(locate, side);
    if (b == nullptr || b->size == 0) return std::nullopt;
    return view(b->data[b->size - 1], static_cast<uint8_t>(side));
  }
  // Writes up to min(n, out.size()) levels, best first; returns how many.
  std::size_t depth(uint16_t locate, Side side, std::size_t n,
                    std::span<PriceLevel> out) const noexcept {
    const SideBook* b = side_book(locate, side);
    if (b == nullptr) return 0;
    const std::size_t k = std::min({n, out.size(), std::size_t{b->size}});
    for (std::size_t i = 0; i < k; ++i)
      out[i] = view(b->data[b->size - 1 - i], static_cast<uint8_t>(side));
    return k;
  }
  // Number of price levels on one side (0 for a bad locate or side).
  std::size_t level_count(uint16_t locate, Side side) const noexcept {
    const SideBook* b = side_book(locate, side);
    return b ? b->size : 0;
  }
  // Best bid >= best ask, both present.
  bool crossed(uint16_t locate) const noexcept {
    std::optional<PriceLevel> b = best_bid(locate), a = best_ask(locate);
    return b && a && b->price >= a->price;
  }
  std::optional<OrderInfo> find(uint64_t ref) const noexcept {
    const Probe p = probe(ref);
    if (!p.found) return std::nullopt;
    const OrderSlot& o = table_[p.slot];
    return OrderInfo{o.ref, o.shares, o.price, o.locate, static_cast<Side>(o.side)};
  }
  std::size_t live_orders() const noexcept { return live_; }
  const BookStats& counters() const noexcept { return stats_; }
  void reset_counters() noexcept { stats_ = BookStats{}; }

  uint16_t max_locate() const noexcept { return max_locate_; }
  std::size_t max_live_orders() const noexcept { return max_live_; }
  std::size_t table_capacity() const noexcept { return mask_ + 1; }
  // The slot a reference hashes to (tests build colliding references with it).
  std::size_t home_slot(uint64_t ref) const noexcept {
    // Blocks of 8 consecutive references (4 cache lines) keep their order inside the block;
    // the blocks are scattered by Fibonacci hashing (top bits of block * 2^64/phi).
    //  * References scattered one by one (a plain multiplicative hash) miss the cache on
    //    nearly every operation: BM_book_apply/0 took 187 ns per message, this 134 ns.
    //  * References kept fully in order (ref & mask) were faster still (64-77 ns per message
    //    against 81-110 for this, interleaved runs on a 10^6-message day), but they lay live
    //    orders out in runs as long as a burst of adds that stay live. Once the day's
    //    references wrap the table, a new order landing in a run longer than kMaxProbe would
    //    be refused (Collision) on a valid feed (test
    //    LongLivedBurstThenWrappingReferencesNeverCollide). Losing no order comes first.
    //  * With 8-slot blocks at load <= 1/2, runs stay a few blocks long, far below kMaxProbe.
    uint64_t block = ref >> kBlockBits;
    block ^= block >> 29;  // fold high bits in: evenly spaced references do not pile up
    block = (block * kFib) >> block_shift_;
    return static_cast<std::size_t>((block << kBlockBits) | (ref & kBlockMask)) & mask_;
  }
  // Hints the cache to fetch the home slot of `ref`, for callers running their own pipeline.
  void prefetch(uint64_t ref) const noexcept {
    if (table_ != nullptr) [[likely]]
      __builtin_prefetch(&table_[home_slot(ref)]);
  }

  // Whole-book consistency, for tests and debugging (allocates; not for the hot path):
  //  * every live slot is reachable from its home slot (no hole on its probe path), references
  //    are unique, the live count matches;
  //  * every side's levels are strictly sorted best-last, none is empty;
  //  * every level's order count and shares equal those of the live orders at its price, and
  //    every live order has its level.
  // The error names the first broken rule.
  Result<void, std::string> check() const {
    if (table_ == nullptr || books_ == nullptr) {
      if (live_ != 0) return err(std::string("moved-from books with live orders"));
      return {};
    }
    char msg[192];
    struct Agg {
      uint16_t locate;
      uint8_t side;
      uint32_t key;
      uint32_t orders;
      uint64_t shares;
      bool operator<(const Agg& o) const noexcept {
        if (locate != o.locate) return locate < o.locate;
        if (side != o.side) return side < o.side;
        return key < o.key;
      }
    };
    std::vector<Agg> from_orders;
    from_orders.reserve(live_);
    std::size_t occupied = 0;
    for (std::size_t j = 0; j <= mask_; ++j) {
      const OrderSlot& o = table_[j];
      if (o.shares == 0) continue;
      ++occupied;
      if (o.side > 1 || o.locate > max_locate_) {
        std::snprintf(msg, sizeof msg, "order %llu: bad side %u or locate %u",
                      static_cast<unsigned long long>(o.ref), o.side, o.locate);
        return err(std::string(msg));
      }
      if (((j - home_slot(o.ref)) & mask_) >= kMaxProbe) {
        std::snprintf(msg, sizeof msg, "order %llu in slot %zu: beyond the probe cap",
                      static_cast<unsigned long long>(o.ref), j);
        return err(std::string(msg));
      }
      for (std::size_t i = home_slot(o.ref); i != j; i = (i + 1) & mask_) {
        if (table_[i].shares == 0 || table_[i].ref == o.ref) {
          std::snprintf(msg, sizeof msg, "order %llu in slot %zu: unreachable or duplicated",
                        static_cast<unsigned long long>(o.ref), j);
          return err(std::string(msg));
        }
      }
      from_orders.push_back(Agg{o.locate, o.side, key_of(o.side, o.price), 1, o.shares});
    }
    if (occupied != live_) {
      std::snprintf(msg, sizeof msg, "live count %zu, occupied slots %zu", live_, occupied);
      return err(std::string(msg));
    }
    std::sort(from_orders.begin(), from_orders.end());
    std::vector<Agg> agg;
    for (const Agg& a : from_orders) {
      if (!agg.empty() && !(agg.back() < a)) {
        agg.back().orders += 1;
        agg.back().shares += a.shares;
      } else {
        agg.push_back(a);
      }
    }
    std::size_t k = 0;
    for (std::size_t s = 0; s <= max_locate_; ++s) {
      for (uint8_t d = 0; d < 2; ++d) {
        const SideBook& b = books_[s].side[d];
        if (b.size > b.cap) {
          std::snprintf(msg, sizeof msg, "locate %zu side %u: size %u > cap %u", s, d, b.size,
                        b.cap);
          return err(std::string(msg));
        }
        for (uint32_t i = 0; i < b.size; ++i) {
          const LevelSlot& l = b.data[i];
          const uint32_t price = key_of(d, l.key);
          if (i > 0 && b.data[i - 1].key >= l.key) {
            std::snprintf(msg, sizeof msg, "locate %zu side %u: level %u (price %u) out of order",
                          s, d, i, price);
            return err(std::string(msg));
          }
          if (k == agg.size() || agg[k].locate != s || agg[k].side != d || agg[k].key != l.key ||
              agg[k].orders != l.orders || agg[k].shares != l.shares) {
            std::snprintf(msg, sizeof msg,
                          "locate %zu side %u price %u: level has %u orders / %llu shares, "
                          "its orders do not add up to it",
                          s, d, price, l.orders, static_cast<unsigned long long>(l.shares));
            return err(std::string(msg));
          }
          ++k;
        }
      }
    }
    if (k != agg.size()) {
      std::snprintf(msg, sizeof msg, "order(s) at locate %u side %u price %u have no level",
                    agg[k].locate, agg[k].side, key_of(agg[k].side, agg[k].key));
      return err(std::string(msg));
    }
    return {};
  }

 private:
  // Levels scanned one by one from the best before switching to binary search: the top few
  // levels take most of the traffic, and a far level in a deep book stays O(log n).
  static constexpr uint64_t kFib = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio
  static constexpr unsigned kBlockBits = 3;  // 8 consecutive references share 4 cache lines
  static constexpr uint64_t kBlockMask = (uint64_t{1} << kBlockBits) - 1;
  static constexpr uint32_t kLinearScan = 8;

  // A table slot; shares == 0 marks it empty (a live order always has shares left).
  // alignas(32): two slots per cache line and none straddles two, so the home slot of a probe
  // is one line and one prefetch.
  struct alignas(32) OrderSlot {
    uint64_t ref;
    uint32_t shares;
    uint32_t price;
    uint16_t locate;
    uint8_t side;
    uint8_t pad[13];
  };
  static_assert(sizeof(OrderSlot) == 32);

  // A level, keyed so that ascending key order puts the best price last on both sides: the
  // price for bids, its complement for asks.
  struct LevelSlot {
    uint32_t key;
    uint32_t orders;
    uint64_t shares;
  };
  static_assert(sizeof(LevelSlot) == 16);

  struct SideBook {
    LevelSlot* data;  // in pool_ while cap == reserve_, else owned on the heap
    uint32_t size;
    uint32_t cap;
  };
  // alignas(32): a symbol's two side headers share one half cache line, never two lines.
  struct alignas(32) SymbolBook {
    SideBook side[2];  // [Side::Buy], [Side::Sell]
  };
  static_assert(sizeof(SymbolBook) == 32);

  struct Probe {
    std::size_t slot;  // the order's slot, or the empty slot that ends its probe, or kNoSlot
    bool found;
  };
  static constexpr std::size_t kNoSlot = ~std::size_t{0};

  OrderBooks() noexcept = default;

  static uint32_t key_of(uint8_t side, uint32_t price) noexcept {
    return side == 0 ? price : ~price;  // an involution: key_of(side, key) is the price back
  }
  static PriceLevel view(const LevelSlot& l, uint8_t side) noexcept {
    return PriceLevel{key_of(side, l.key), l.orders, l.shares};
  }

  const SideBook* side_book(uint16_t locate, Side side) const noexcept {
    const auto d = static_cast<uint8_t>(side);
    if (locate > max_locate_ || d > 1 || books_ == nullptr) return nullptr;
    return &books_[locate].side[d];
  }

  // The slot of `ref`, or the empty slot where it would go; kNoSlot when kMaxProbe slots from
  // its home are all taken by others (inserts never place an order farther than that, and
  // backward-shift deletion only moves orders closer to home, so a lookup may stop there too).
  // A moved-from OrderBooks has no table: nothing is found and there is no slot.
  Probe probe(uint64_t ref) const noexcept {
    if (table_ == nullptr) [[unlikely]]
      return {kNoSlot, false};
    std::size_t i = home_slot(ref);
    for (std::size_t n = 0; n < kMaxProbe; ++n, i = (i + 1) & mask_) {
      const OrderSlot& s = table_[i];
      if (s.shares == 0) return {i, false};
      if (s.ref == ref) return {i, true};
    }
    return {kNoSlot, false};
  }

  // Empties slot `hole` and shifts later members of its cluster back so every probe path stays
  // unbroken: an entry moves into the hole unless its home lies cyclically in (hole, j].
  void erase_slot(std::size_t hole) noexcept {
    // An order kMaxProbe or more slots past the hole is at most kMaxProbe - 1 from its own home,
    // so its home lies after the hole and it cannot move: the scan stops there (it would
    // otherwise walk a whole run of orders sitting at their homes, however long).
    for (std::size_t j = (hole + 1) & mask_;
         table_[j].shares != 0 && ((j - hole) & mask_) < kMaxProbe; j = (j + 1) & mask_) {
      const std::size_t h = home_slot(table_[j].ref);
      if (((j - h) & mask_) >= ((j - hole) & mask_)) {
        table_[hole] = table_[j];
        hole = j;
      }
    }
    table_[hole] = OrderSlot{};
  }

  // The first level whose key is above `key` (levels [0, result) have keys <= key).
  static uint32_t upper(const SideBook& b, uint32_t key) noexcept {
    const LevelSlot* d = b.data;
    uint32_t i = b.size;
    const uint32_t stop = i > kLinearScan ? i - kLinearScan : 0;
    while (i > stop && d[i - 1].key > key) --i;
    if (i == stop && stop > 0) {
      uint32_t lo = 0, hi = stop;
      while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (d[mid].key > key)
          hi = mid;
        else
          lo = mid + 1;
      }
      i = lo;
    }
    return i;
  }

  // Doubles a side's level array onto the heap. False when out of memory (side unchanged).
  bool grow(SideBook& b) noexcept {
    const uint64_t want = b.cap < 4 ? 8 : uint64_t{b.cap} * 2;
    if (want > UINT32_MAX) return false;
    auto* p = static_cast<LevelSlot*>(::operator new(want * sizeof(LevelSlot), std::nothrow));
    if (p == nullptr) return false;
    if (b.size != 0) std::memcpy(p, b.data, b.size * sizeof(LevelSlot));
    if (b.cap > reserve_) ::operator delete(b.data);
    b.data = p;
    b.cap = static_cast<uint32_t>(want);
    return true;
  }

  // One more order of `shares` at `key`. False when out of memory (side unchanged).
  bool level_add(SideBook& b, uint32_t key, uint32_t shares) noexcept {
    const uint32_t p = upper(b, key);
    if (p > 0 && b.data[p - 1].key == key) {
      b.data[p - 1].orders += 1;
      b.data[p - 1].shares += shares;
      return true;
    }
    if (b.size == b.cap && !grow(b)) [[unlikely]]
      return false;
    std::memmove(b.data + p + 1, b.data + p, (b.size - p) * sizeof(LevelSlot));
    b.data[p] = LevelSlot{key, 1, shares};
    ++b.size;
    return true;
  }
  // An order of `shares` at `key` leaves; an emptied level is erased.
  static void level_remove(SideBook& b, uint32_t key, uint32_t shares) noexcept {
    const uint32_t p = upper(b, key);
    if (p == 0 || b.data[p - 1].key != key) [[unlikely]]
      return;  // cannot happen while the invariants hold
    LevelSlot& l = b.data[p - 1];
    if (--l.orders == 0) {
      std::memmove(b.data + p - 1, b.data + p, (b.size - p) * sizeof(LevelSlot));
      --b.size;
    } else {
      l.shares -= shares;
    }
  }
  // An order at `key` loses `shares` but stays.
  static void level_reduce(SideBook& b, uint32_t key, uint32_t shares) noexcept {
    const uint32_t p = upper(b, key);
    if (p == 0 || b.data[p - 1].key != key) [[unlikely]]
      return;
    b.data[p - 1].shares -= shares;
  }

  void remove_order(std::size_t slot) noexcept {
    const OrderSlot& o = table_[slot];
    level_remove(books_[o.locate].side[o.side], key_of(o.side, o.price), o.shares);
    erase_slot(slot);
    --live_;
  }

  Result<void, BookError> add_impl(uint16_t locate, uint64_t ref, Side side, uint32_t shares,
                                   uint32_t price) noexcept {
    const auto d = static_cast<uint8_t>(side);
    if (table_ == nullptr) [[unlikely]]
      return err(BookError::BadConfig);  // moved from
    if (locate > max_locate_) [[unlikely]]
      return err(BookError::BadLocate);
    if (d > 1) [[unlikely]]
      return err(BookError::BadSide);
    if (shares == 0) [[unlikely]]
      return err(BookError::ZeroShares);
    const Probe p = probe(ref);
    if (p.found) [[unlikely]]
      return err(BookError::DuplicateOrder);
    if (live_ == max_live_) [[unlikely]]
      return err(BookError::Capacity);
    if (p.slot == kNoSlot) [[unlikely]]
      return err(BookError::Collision);
    if (!level_add(books_[locate].side[d], key_of(d, price), shares)) [[unlikely]]
      return err(BookError::OutOfMemory);
    OrderSlot& o = table_[p.slot];
    o.ref = ref;
    o.shares = shares;
    o.price = price;
    o.locate = locate;
    o.side = d;
    ++live_;
    return {};
  }

  // Execute or cancel: `over` is the error for taking more than remains.
  Result<void, BookError> reduce_impl(uint64_t ref, uint32_t shares, BookError over) noexcept {
    const Probe p = probe(ref);
    if (!p.found) [[unlikely]]
      return err(BookError::UnknownOrder);
    if (shares == 0) [[unlikely]]
      return err(BookError::ZeroShares);
    OrderSlot& o = table_[p.slot];
    if (shares >= o.shares) {
      const bool overdrawn = shares > o.shares;
      remove_order(p.slot);
      if (overdrawn) [[unlikely]]
        return err(over);
      return {};
    }
    o.shares -= shares;
    level_reduce(books_[o.locate].side[o.side], key_of(o.side, o.price), shares);
    return {};
  }

  Result<void, BookError> del_impl(uint64_t ref) noexcept {
    const Probe p = probe(ref);
    if (!p.found) [[unlikely]]
      return err(BookError::UnknownOrder);
    remove_order(p.slot);
    return {};
  }

  Result<void, BookError> replace_impl(uint64_t old_ref, uint64_t new_ref, uint32_t shares,
                                       uint32_t price) noexcept {
    const Probe p = probe(old_ref);
    if (!p.found) [[unlikely]]
      return err(BookError::UnknownOrder);
    if (shares == 0) [[unlikely]]
      return err(BookError::ZeroShares);
    if (new_ref != old_ref) {
      const Probe q = probe(new_ref);
      if (q.found) [[unlikely]]
        return err(BookError::DuplicateOrder);
      if (q.slot == kNoSlot) [[unlikely]]
        return err(BookError::Collision);
    }
    const OrderSlot old = table_[p.slot];
    SideBook& b = books_[old.locate].side[old.side];
    // The new level first: it is the only step that can fail, and adding before removing keeps
    // a shared level (same price) from being erased and re-inserted.
    if (!level_add(b, key_of(old.side, price), shares)) [[unlikely]]
      return err(BookError::OutOfMemory);
    level_remove(b, key_of(old.side, old.price), old.shares);
    if (new_ref == old_ref) {
      // The same reference keeps its slot. Erasing it could let later orders shift back and
      // leave the only free slot of its run beyond kMaxProbe of its home.
      table_[p.slot].shares = shares;
      table_[p.slot].price = price;
      return {};
    }
    erase_slot(p.slot);
    // new_ref had a free slot within kMaxProbe (checked above); the erase only moves orders
    // closer to their homes, so the run ahead of new_ref can only have become shorter.
    const Probe q = probe(new_ref);
    if (q.slot == kNoSlot) [[unlikely]] {  // cannot happen while the invariants hold
      return err(BookError::Collision);
    }
    OrderSlot& o = table_[q.slot];
    o.ref = new_ref;
    o.shares = shares;
    o.price = price;
    o.locate = old.locate;
    o.side = old.side;
    return {};
  }

  void tally(const Result<void, BookError>& r) noexcept {
    if (r) [[likely]]
      ++stats_.applied;
    else
      ++stats_.errors[static_cast<std::size_t>(r.error())];
  }
  Result<void, BookError> counted(Result<void, BookError> r) noexcept {
    tally(r);
    return r;
  }
  Result<Applied, BookError> booked(Result<void, BookError> r) noexcept {
    tally(r);
    if (!r) [[unlikely]]
      return err(r.error());
    return Applied::Book;
  }
  Result<Applied, BookError> ignore() noexcept {
    ++stats_.ignored;
    return Applied::Ignored;
  }

  // Every book message carries its order reference in the body's first 8 bytes (A/F/E/C/X/D
  // order_ref, U original_ref), and U its new reference in the next 8. Branch-free on purpose:
  // a switch on the type here mispredicts as often as apply()'s own and measured about twice
  // as slow as this; for other types the prefetch is a harmless wasted hint.
  void prefetch_record(const itch::Record& r) const noexcept {
    uint64_t w[2];
    std::memcpy(w, &r.body, sizeof w);
    prefetch(w[0]);
    prefetch(w[r.type == 'U']);
  }

  void steal(OrderBooks& o) noexcept {
    table_ = std::exchange(o.table_, nullptr);
    books_ = std::exchange(o.books_, nullptr);
    pool_ = std::exchange(o.pool_, nullptr);
    mask_ = o.mask_;
    shift_ = o.shift_;
    block_shift_ = o.block_shift_;
    live_ = std::exchange(o.live_, 0);
    max_live_ = std::exchange(o.max_live_, 0);
    max_locate_ = std::exchange(o.max_locate_, 0);
    reserve_ = o.reserve_;
    stats_ = std::exchange(o.stats_, BookStats{});
    o.mask_ = 0;
  }
  void release() noexcept {
    if (books_ != nullptr) {
      for (std::size_t s = 0; s <= max_locate_; ++s)
        for (SideBook& b : books_[s].side)
          if (b.cap > reserve_) ::operator delete(b.data);
      ::operator delete (books_, std::align_val_t{alignof(SymbolBook)});
      books_ = nullptr;
    }
    if (pool_ != nullptr) ::operator delete(pool_);
    pool_ = nullptr;
    if (table_ != nullptr) ::operator delete (table_, std::align_val_t{64});
    table_ = nullptr;
    live_ = 0;
  }

  OrderSlot* table_ = nullptr;
  SymbolBook* books_ = nullptr;  // [max_locate_ + 1]
  LevelSlot* pool_ = nullptr;    // the level reserve: reserve_ per symbol and side
  std::size_t mask_ = 0;         // table capacity - 1
  unsigned shift_ = 63;          // 64 - log2(capacity)
  unsigned block_shift_ = 63;    // 64 - log2(capacity / kBlockSlots)
  std::size_t live_ = 0;
  std::size_t max_live_ = 0;
  uint16_t max_locate_ = 0;
  uint32_t reserve_ = 0;
  BookStats stats_;
};

}  // namespace sluice::market
