// Encoding a Record back into ITCH 5.0 wire bytes (2-byte length prefix + message): the
// inverse of decode_message. The synthetic feed builds records and encodes them, and the
// tests check decode(encode(r)) == r for every type. Host only; not a hot path of the feed
// handler (a handler decodes), but allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "record.hpp"
#include "spec.hpp"

namespace sluice::market::itch {
namespace detail {

inline void put16(uint8_t* p, uint16_t v) noexcept {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, 2);
}
inline void put32(uint8_t* p, uint32_t v) noexcept {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
inline void put64(uint8_t* p, uint64_t v) noexcept {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}
inline void put48(uint8_t* p, uint64_t v) noexcept {
  put16(p, static_cast<uint16_t>(v >> 32));
  put32(p + 2, static_cast<uint32_t>(v));
}
template <std::size_t N>
inline void put_chars(uint8_t* p, const char (&s)[N]) noexcept {
  std::memcpy(p, s, N);
}
inline void put_ch(uint8_t* p, char c) noexcept { *p = static_cast<uint8_t>(c); }

}  // namespace detail

// Bytes encode_message writes for a record of type `t` (prefix included); 0 if `t` is unknown.
constexpr std::size_t encoded_size(uint8_t t) noexcept {
  const uint16_t n = message_length(t);
  return n == 0 ? 0 : n + kPrefixSize;
}

// Writes r (its type, header and body; offset, length and error are ignored) as a length
// prefix and message at out. Returns the bytes written, or 0 when r.type is no ITCH type or
// `cap` is too small (nothing is written then). The timestamp keeps its low 48 bits.
inline std::size_t encode_message(const Record& r, uint8_t* out, std::size_t cap) noexcept {
  using namespace detail;
  const uint16_t len = message_length(r.type);
  if (len == 0 || cap < std::size_t{len} + kPrefixSize) return 0;
  put16(out, len);
  uint8_t* p = out + kPrefixSize;
  std::memset(p, 0, len);
  p[0] = r.type;
  put16(p + 1, r.locate);
  put16(p + 3, r.tracking);
  put48(p + 5, r.timestamp);
  const RecordBody& b = r.body;
  switch (r.type) {
    case 'S':
      put_ch(p + 11, b.system_event.event_code);
      break;
    case 'R': {
      const StockDirectoryBody& d = b.stock_directory;
      put_chars(p + 11, d.stock);
      put_ch(p + 19, d.market_category);
      put_ch(p + 20, d.financial_status);
      put32(p + 21, d.round_lot_size);
      put_ch(p + 25, d.round_lots_only);
      put_ch(p + 26, d.issue_classification);
      put_chars(p + 27, d.issue_subtype);
      put_ch(p + 29, d.authenticity);
      put_ch(p + 30, d.short_sale_threshold);
      put_ch(p + 31, d.ipo_flag);
      put_ch(p + 32, d.luld_reference_price_tier);
      put_ch(p + 33, d.etp_flag);
      put32(p + 34, d.etp_leverage_factor);
      put_ch(p + 38, d.inverse_indicator);
      break;
    }
    case 'H':
      put_chars(p + 11, b.trading_action.stock);
      put_ch(p + 19, b.trading_action.trading_state);
      put_ch(p + 20, b.trading_action.reserved);
      put_chars(p + 21, b.trading_action.reason);
      break;
    case 'Y':
      put_chars(p + 11, b.reg_sho.stock);
      put_ch(p + 19, b.reg_sho.action);
      break;
    case 'L':
      put_chars(p + 11, b.participant_position.mpid);
      put_chars(p + 15, b.participant_position.stock);
      put_ch(p + 23, b.participant_position.primary_market_maker);
      put_ch(p + 24, b.participant_position.market_maker_mode);
      put_ch(p + 25, b.participant_position.participant_state);
      break;
    case 'V':
      put64(p + 11, b.mwcb_decline.level1);
      put64(p + 19, b.mwcb_decline.level2);
      put64(p + 27, b.mwcb_decline.level3);
      break;
    case 'W':
      put_ch(p + 11, b.mwcb_status.breached_level);
      break;
    case 'K':
      put_chars(p + 11, b.ipo_quoting.stock);
      put32(p + 19, b.ipo_quoting.release_time);
      put_ch(p + 23, b.ipo_quoting.release_qualifier);
      put32(p + 24, b.ipo_quoting.ipo_price);
      break;
    case 'J':
      put_chars(p + 11, b.luld_collar.stock);
      put32(p + 19, b.luld_collar.reference_price);
      put32(p + 23, b.luld_collar.upper_price);
      put32(p + 27, b.luld_collar.lower_price);
      put32(p + 31, b.luld_collar.extension);
      break;
    case 'h':
      put_chars(p + 11, b.operational_halt.stock);
      put_ch(p + 19, b.operational_halt.market_code);
      put_ch(p + 20, b.operational_halt.action);
      break;
    case 'F':
      put_chars(p + 36, b.add.attribution);
      [[fallthrough]];
    case 'A':
      put64(p + 11, b.add.order_ref);
      put_ch(p + 19, b.add.side);
      put32(p + 20, b.add.shares);
      put_chars(p + 24, b.add.stock);
      put32(p + 32, b.add.price);
      break;
    case 'C':
      put_ch(p + 31, b.executed.printable);
      put32(p + 32, b.executed.price);
      [[fallthrough]];
    case 'E':
      put64(p + 11, b.executed.order_ref);
      put32(p + 19, b.executed.shares);
      put64(p + 23, b.executed.match_number);
      break;
    case 'X':
      put64(p + 11, b.cancel.order_ref);
      put32(p + 19, b.cancel.shares);
      break;
    case 'D':
      put64(p + 11, b.del.order_ref);
      break;
    case 'U':
      put64(p + 11, b.replace.original_ref);
      put64(p + 19, b.replace.new_ref);
      put32(p + 27, b.replace.shares);
      put32(p + 31, b.replace.price);
      break;
    case 'P':
      put64(p + 11, b.trade.order_ref);
      put_ch(p + 19, b.trade.side);
      put32(p + 20, b.trade.shares);
      put_chars(p + 24, b.trade.stock);
      put32(p + 32, b.trade.price);
      put64(p + 36, b.trade.match_number);
      break;
    case 'Q':
      put64(p + 11, b.cross.shares);
      put_chars(p + 19, b.cross.stock);
      put32(p + 27, b.cross.price);
      put64(p + 31, b.cross.match_number);
      put_ch(p + 39, b.cross.cross_type);
      break;
    case 'B':
      put64(p + 11, b.broken.match_number);
      break;
    case 'I':
      put64(p + 11, b.noii.paired_shares);
      put64(p + 19, b.noii.imbalance_shares);
      put_ch(p + 27, b.noii.imbalance_direction);
      put_chars(p + 28, b.noii.stock);
      put32(p + 36, b.noii.far_price);
      put32(p + 40, b.noii.near_price);
      put32(p + 44, b.noii.current_reference_price);
      put_ch(p + 48, b.noii.cross_type);
      put_ch(p + 49, b.noii.price_variation_indicator);
      break;
    case 'N':
      put_chars(p + 11, b.rpii.stock);
      put_ch(p + 19, b.rpii.interest_flag);
      break;
    case 'O':
      put_chars(p + 11, b.dlcr.stock);
      put_ch(p + 19, b.dlcr.open_eligibility_status);
      put32(p + 20, b.dlcr.minimum_allowable_price);
      put32(p + 24, b.dlcr.maximum_allowable_price);
      put32(p + 28, b.dlcr.near_execution_price);
      put64(p + 32, b.dlcr.near_execution_time);
      put32(p + 40, b.dlcr.lower_price_range_collar);
      put32(p + 44, b.dlcr.upper_price_range_collar);
      break;
    default:
      break;
  }
  return std::size_t{len} + kPrefixSize;
}

}  // namespace sluice::market::itch
