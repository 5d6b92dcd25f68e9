// A seeded, deterministic synthetic NASDAQ TotalView-ITCH 5.0 day.
//
// Why: real day files are several GB, not redistributable and out of reach of the build
// machines, yet the decoder, the books and the benchmarks need realistic input of any size.
// The generator produces a day with the shape of a real one (system events, a stock directory,
// then order flow in NASDAQ-like proportions with all 23 message types) and the invariants a
// book relies on: dense increasing order references, no reference to an order that is not
// live, no execution or cancel beyond the shares left, and no crossed or locked book at any
// time. It keeps its own shadow book (best bid and offer per symbol) for tests to compare.
//
// Determinism: the same FeedConfig gives the same bytes on every platform. Randomness comes
// from a xoshiro256** generator seeded through splitmix64 and is drawn with integer arithmetic
// only (no <random> distributions, whose output differs between standard libraries); the
// config's doubles (weights, rate, band) become integers once, by single IEEE operations.
//
// Not a hot path, but fast enough for 10^7-message days (several million messages a second):
// live orders sit in per-symbol vectors (a random pick is an index, a removal a swap) and the
// shadow book's levels in small sorted vectors; memory grows with the book, and the common
// path (a message on an existing level) does not allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "../runtime/result.hpp"
#include "itch/record.hpp"

namespace sluice::market {

// Relative weights of the message types in the body of the day (between the start and the end
// of market hours). They need not sum to 100; a zero weight removes the type. The defaults
// follow the proportions of a NASDAQ day; the rare types get small but nonzero weights so
// that every type shows up in a day of 10^6 messages. S and R appear only in the fixed
// opening and closing sequence. When the book cannot take a drawn message (a delete with no
// live order, an add past the live-order cap, a broken trade before any trade), another type
// is emitted instead and FeedStats::substituted counts it.
struct TypeMix {
  double add = 40.0;                    // A
  double add_mpid = 2.0;                // F
  double del = 40.0;                    // D
  double cancel = 2.0;                  // X (partial)
  double executed = 3.0;                // E
  double executed_with_price = 0.3;     // C
  double replace = 8.0;                 // U
  double trade = 1.0;                   // P (non-displayed, does not touch the book)
  double noii = 1.5;                    // I
  double rpii = 0.1;                    // N
  double cross_trade = 0.02;            // Q
  double broken_trade = 0.003;          // B
  double trading_action = 0.005;        // H (besides one per symbol in the opening sequence)
  double reg_sho = 0.005;               // Y
  double participant_position = 0.005;  // L
  double mwcb_decline = 0.002;          // V
  double mwcb_status = 0.002;           // W
  double ipo_quoting = 0.003;           // K
  double luld_collar = 0.003;           // J
  double operational_halt = 0.002;      // h
  double dlcr = 0.002;                  // O

  // The weight of type byte `t`; 0 for S, R and bytes that are no ITCH type.
  double weight(uint8_t t) const noexcept;
};

struct FeedConfig {
  uint64_t seed = 1;
  // Symbols SYM00001.. with stock locates 1..symbols (locates are 16 bits: at most 65535).
  uint32_t symbols = 64;
  // Messages in the day, the opening and closing system events included; at least
  // SyntheticFeed::min_messages(symbols).
  uint64_t messages = 1'000'000;
  // Feed-time rate of the body: timestamps advance by 1e9 / rate ns per message on average.
  // The body starts at the 09:30 market open; the rate is raised when needed so that it ends
  // by the 16:00 close (a day stays a day).
  double messages_per_second = 1'000'000.0;
  TypeMix mix{};
  // Live orders one symbol may hold; an add past it becomes a delete (FeedStats::substituted).
  uint32_t max_live_orders_per_symbol = 10'000;
  // The depth each book is steered to: executions fill whole orders more often above it and
  // less often below, so the live-order count stays near it instead of wandering (the weights
  // alone fix the balance of adds and removals only roughly). A real day peaks near 200.
  uint32_t target_live_orders_per_symbol = 200;
  // Opening mid prices are drawn in [min_price, max_price] (4 implied decimals, whole cents;
  // skewed to the low end, like listed stocks), and each mid then drifts by whole ticks
  // ($0.01) at most `band` (a fraction) away from its opening value.
  uint32_t min_price = 5'0000;    // $5.00
  uint32_t max_price = 500'0000;  // $500.00
  double band = 0.10;
  // The first order reference number; references are dense and increasing from it.
  uint64_t first_order_ref = 1;
};

// Counts of what has been emitted so far (live orders: what the shadow book holds).
struct FeedStats {
  uint64_t messages = 0;
  std::array<uint64_t, 256> by_type{};  // indexed by type byte
  uint64_t orders_added = 0;            // references issued: A, F and the new order of U
  uint64_t matches = 0;                 // match numbers issued: E, C, P, Q
  uint64_t live_orders = 0;
  uint64_t max_live_orders = 0;
  uint64_t substituted = 0;  // body draws the book could not take (see TypeMix)

  uint64_t count(char t) const noexcept { return by_type[static_cast<uint8_t>(t)]; }
};

// Best bid and offer of one symbol; a price of 0 means that side is empty.
struct Bbo {
  uint32_t bid_price = 0;
  uint64_t bid_shares = 0;  // total shares at the best bid
  uint32_t ask_price = 0;
  uint64_t ask_shares = 0;
  bool operator==(const Bbo&) const = default;
};

// Why a FeedConfig cannot make a day (a fixed message).
struct ConfigError {
  const char* what = "";
};
inline const char* to_string(const ConfigError& e) noexcept { return e.what; }

class SyntheticFeed {
 public:
  // A feed for `config`, or why the config cannot make a day (no symbols or more than 65535,
  // too few messages, a non-positive rate, negative or all-zero weights, a bad price band or
  // a zero live-order cap, a zero first order reference).
  [[nodiscard]] static Result<SyntheticFeed, ConfigError> make(const FeedConfig& config);
  ~SyntheticFeed();
  SyntheticFeed(SyntheticFeed&&) noexcept;
  SyntheticFeed& operator=(SyntheticFeed&&) noexcept;

  // The next message as a decoded record would hold it (every byte defined, offset = its
  // position in the framed stream, length = its message length). False once all are out.
  bool next(itch::Record& out);
  // The next message as wire bytes (2-byte length prefix + message). Returns the bytes
  // written; 0 once all are out or when `cap` is too small, and then nothing is consumed (a
  // cap of itch::kMaxMessageLength + itch::kPrefixSize always suffices). A message held back
  // by a short cap is already applied to the shadow book.
  std::size_t next_encoded(uint8_t* buf, std::size_t cap);

  bool done() const noexcept;
  uint64_t total() const noexcept;    // the configured message count
  uint64_t emitted() const noexcept;  // messages returned so far
  const FeedStats& stats() const noexcept;
  const FeedConfig& config() const noexcept;

  // The shadow book of stock locate `locate` (1..symbols; others give an empty result).
  Bbo bbo(uint16_t locate) const noexcept;
  uint64_t live_orders(uint16_t locate) const noexcept;

  // The fixed messages of a day: S O, one R and one H per symbol, S S, S Q, then S M, S E, S C.
  static constexpr uint64_t min_messages(uint32_t symbols) noexcept {
    return 2 * uint64_t{symbols} + 6;
  }

 private:
  struct Impl;
  explicit SyntheticFeed(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

// The stock name of locate `locate`: "SYM" and five digits ("SYM00001").
void synthetic_symbol(uint16_t locate, char (&out)[8]) noexcept;

// The whole day as one framed byte stream (BinaryFILE layout).
[[nodiscard]] Result<std::vector<uint8_t>, ConfigError> generate_day(const FeedConfig& config);

}  // namespace sluice::market
