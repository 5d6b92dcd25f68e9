// Record: one decoded ITCH 5.0 message in a fixed 64-byte layout shared by every type.
//
// Why one layout: a batch of records is an array the GPU writes and the CPU reads, and the
// CPU and CUDA decoders must agree byte for byte (memcmp). So every byte of a record is
// defined: the decoder zeroes all 64 and writes fields; each body struct is padded by hand
// (no implicit padding anywhere, checked below with has_unique_object_representations).
//
// Why 64 bytes: the widest bodies (I, 39 bytes of fields; O, 37) do not fit a 48-byte record
// beside a 24-byte header, and 64 is one cache line: records never straddle lines, so a
// batch is written with whole-line stores.
//
// Field conventions: integers in host order; prices as the wire's unsigned integers with 4
// implied decimals (MWCB levels in V carry 8, as on the wire); the 48-bit timestamp widened
// to 64 bits; alphanumeric fields copied as on the wire (space-padded ASCII, not
// NUL-terminated). C++17 (shared with the kernel).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../detail/hd.hpp"

namespace sluice::market::itch {

// Why a message did not decode. The record still carries the offset, type byte and length.
enum class DecodeError : uint8_t {
  None = 0,
  Truncated = 1,    // the length prefix or the message runs past the end of the input
  UnknownType = 2,  // the type byte is no ITCH 5.0 type (an empty message counts here)
  BadLength = 3,    // the length prefix does not match the type's length
};

inline const char* to_string(DecodeError e) noexcept {
  switch (e) {
    case DecodeError::None:
      return "none";
    case DecodeError::Truncated:
      return "truncated message";
    case DecodeError::UnknownType:
      return "unknown message type";
    case DecodeError::BadLength:
      return "length does not match the message type";
  }
  return "?";
}

// Bodies (40 bytes each; members ordered by size so padding is only at the end).
struct SystemEventBody {  // S
  char event_code;
  uint8_t pad[39];
};
struct StockDirectoryBody {  // R
  char stock[8];
  uint32_t round_lot_size;
  uint32_t etp_leverage_factor;
  char issue_subtype[2];
  char market_category;
  char financial_status;
  char round_lots_only;
  char issue_classification;
  char authenticity;
  char short_sale_threshold;
  char ipo_flag;
  char luld_reference_price_tier;
  char etp_flag;
  char inverse_indicator;
  uint8_t pad[12];
};
struct StockTradingActionBody {  // H
  char stock[8];
  char reason[4];
  char trading_state;
  char reserved;
  uint8_t pad[26];
};
struct RegShoBody {  // Y
  char stock[8];
  char action;
  uint8_t pad[31];
};
struct MarketParticipantPositionBody {  // L
  char stock[8];
  char mpid[4];
  char primary_market_maker;
  char market_maker_mode;
  char participant_state;
  uint8_t pad[25];
};
struct MwcbDeclineLevelBody {  // V (8 implied decimals, as on the wire)
  uint64_t level1;
  uint64_t level2;
  uint64_t level3;
  uint8_t pad[16];
};
struct MwcbStatusBody {  // W
  char breached_level;
  uint8_t pad[39];
};
struct IpoQuotingPeriodBody {  // K
  char stock[8];
  uint32_t release_time;  // seconds since midnight
  uint32_t ipo_price;
  char release_qualifier;
  uint8_t pad[23];
};
struct LuldAuctionCollarBody {  // J
  char stock[8];
  uint32_t reference_price;
  uint32_t upper_price;
  uint32_t lower_price;
  uint32_t extension;
  uint8_t pad[16];
};
struct OperationalHaltBody {  // h
  char stock[8];
  char market_code;
  char action;
  uint8_t pad[30];
};
struct AddOrderBody {  // A and F (attribution is zero for A)
  uint64_t order_ref;
  char stock[8];
  uint32_t shares;
  uint32_t price;
  char attribution[4];
  char side;  // 'B' or 'S' as on the wire
  uint8_t pad[11];
};
struct OrderExecutedBody {  // E and C (price and printable are zero for E)
  uint64_t order_ref;
  uint64_t match_number;
  uint32_t shares;
  uint32_t price;
  char printable;
  uint8_t pad[15];
};
struct OrderCancelBody {  // X
  uint64_t order_ref;
  uint32_t shares;  // cancelled shares
  uint8_t pad[28];
};
struct OrderDeleteBody {  // D
  uint64_t order_ref;
  uint8_t pad[32];
};
struct OrderReplaceBody {  // U
  uint64_t original_ref;
  uint64_t new_ref;
  uint32_t shares;
  uint32_t price;
  uint8_t pad[16];
};
struct TradeBody {  // P
  uint64_t order_ref;
  uint64_t match_number;
  char stock[8];
  uint32_t shares;
  uint32_t price;
  char side;
  uint8_t pad[7];
};
struct CrossTradeBody {  // Q
  uint64_t shares;
  uint64_t match_number;
  char stock[8];
  uint32_t price;
  char cross_type;
  uint8_t pad[11];
};
struct BrokenTradeBody {  // B
  uint64_t match_number;
  uint8_t pad[32];
};
struct NoiiBody {  // I
  uint64_t paired_shares;
  uint64_t imbalance_shares;
  char stock[8];
  uint32_t far_price;
  uint32_t near_price;
  uint32_t current_reference_price;
  char imbalance_direction;
  char cross_type;
  char price_variation_indicator;
  uint8_t pad[1];
};
struct RpiiBody {  // N
  char stock[8];
  char interest_flag;
  uint8_t pad[31];
};
struct DlcrBody {  // O
  char stock[8];
  uint64_t near_execution_time;
  uint32_t minimum_allowable_price;
  uint32_t maximum_allowable_price;
  uint32_t near_execution_price;
  uint32_t lower_price_range_collar;
  uint32_t upper_price_range_collar;
  char open_eligibility_status;
  uint8_t pad[3];
};
struct ErrorBody {           // error records
  uint32_t available;        // bytes of the message present in the input (after the prefix)
  uint16_t expected_length;  // the type's length; 0 for an unknown type
  uint8_t pad[34];
};

union RecordBody {
  SystemEventBody system_event;
  StockDirectoryBody stock_directory;
  StockTradingActionBody trading_action;
  RegShoBody reg_sho;
  MarketParticipantPositionBody participant_position;
  MwcbDeclineLevelBody mwcb_decline;
  MwcbStatusBody mwcb_status;
  IpoQuotingPeriodBody ipo_quoting;
  LuldAuctionCollarBody luld_collar;
  OperationalHaltBody operational_halt;
  AddOrderBody add;
  OrderExecutedBody executed;
  OrderCancelBody cancel;
  OrderDeleteBody del;
  OrderReplaceBody replace;
  TradeBody trade;
  CrossTradeBody cross;
  BrokenTradeBody broken;
  NoiiBody noii;
  RpiiBody rpii;
  DlcrBody dlcr;
  ErrorBody error;
  uint64_t words[5];
};

// alignas(64): one record per cache line, so a batch is stored in whole lines and a consumer
// on another core never shares a line with the record being written after it.
struct alignas(64) Record {
  uint64_t timestamp;  // ns since midnight (the wire's 48 bits)
  uint64_t offset;     // stream offset of the message's length prefix
  uint16_t locate;     // stock locate
  uint16_t tracking;   // tracking number
  uint8_t type;        // the type byte as read (also on errors; 0 when nothing was readable)
  DecodeError error;   // None for a decoded message
  uint16_t length;     // the length prefix as read
  RecordBody body;

  SLUICE_HD bool ok() const noexcept { return error == DecodeError::None; }
};

static_assert(sizeof(RecordBody) == 40, "a body is 40 bytes");
static_assert(sizeof(Record) == 64 && alignof(Record) == 64, "a record is one cache line");
static_assert(offsetof(Record, body) == 24, "the header is 24 bytes");
// No implicit padding: every byte of a record is a named field or an explicit pad the decoder
// zeroes, so CPU and GPU records compare with memcmp.
static_assert(std::has_unique_object_representations_v<Record>, "no implicit padding");
static_assert(std::has_unique_object_representations_v<StockDirectoryBody> &&
                  std::has_unique_object_representations_v<AddOrderBody> &&
                  std::has_unique_object_representations_v<OrderExecutedBody> &&
                  std::has_unique_object_representations_v<TradeBody> &&
                  std::has_unique_object_representations_v<CrossTradeBody> &&
                  std::has_unique_object_representations_v<NoiiBody> &&
                  std::has_unique_object_representations_v<DlcrBody>,
              "no implicit padding in the bodies");

}  // namespace sluice::market::itch
