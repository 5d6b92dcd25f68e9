// The ITCH 5.0 decode routine: one message (length prefix + body) into one Record, and a
// batch over an array of message offsets. Written once for the host and, through SLUICE_HD,
// compiled by nvcc into the CUDA kernel (market/gpu/), so the two produce identical records.
//
// Untrusted input: nothing here reads outside [data, data + size). A message that is
// truncated, has an unknown type byte, or whose length prefix does not match its type yields
// an error record (Record::error, the offset, the type byte and length as read) and the batch
// goes on with the next offset. Offsets come from the framing pass (framing.hpp); an offset at
// or past `size` is itself reported as Truncated.
//
// Why a batch over offsets rather than a stream walk: the length chain is sequential, the
// decode is not. With offsets gathered first, every message decodes independently (one GPU
// thread each; on the CPU no loop-carried dependency through the lengths).
// C++17 and no standard library beyond <cstdint>/<cstring> (shared with the kernel).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#if !defined(__CUDA_ARCH__)
#include <emmintrin.h>  // SSE2 (every x86-64): the record's zeroing stores
#endif

#include "../detail/hd.hpp"
#include "record.hpp"
#include "spec.hpp"

namespace sluice::market::itch {
namespace detail {

// Big-endian loads from possibly unaligned bytes. On the host memcpy + bswap compiles to one
// movbe/bswap load; on the device, byte loads (unaligned wide loads fault there).
SLUICE_HD inline uint16_t be16(const uint8_t* p) noexcept {
#if defined(__CUDA_ARCH__)
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
#else
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
#endif
}
SLUICE_HD inline uint32_t be32(const uint8_t* p) noexcept {
#if defined(__CUDA_ARCH__)
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
#else
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
#endif
}
SLUICE_HD inline uint64_t be64(const uint8_t* p) noexcept {
#if defined(__CUDA_ARCH__)
  return (uint64_t{be32(p)} << 32) | be32(p + 4);
#else
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
#endif
}
SLUICE_HD inline uint64_t be48(const uint8_t* p) noexcept {
  return (uint64_t{be16(p)} << 32) | be32(p + 2);
}
template <int N>
SLUICE_HD inline void copy_chars(char (&dst)[N], const uint8_t* src) noexcept {
#if defined(__CUDA_ARCH__)
  for (int i = 0; i < N; ++i) dst[i] = static_cast<char>(src[i]);
#else
  std::memcpy(dst, src, N);  // one 8-byte move for a stock, not 8 byte moves
#endif
}
SLUICE_HD inline char ch(const uint8_t* p) noexcept { return static_cast<char>(*p); }

// Every byte of a record zeroed (records compare with memcmp). memset on the host (vector
// stores); field by field on the device.
SLUICE_HD inline void zero_record(Record& r) noexcept {
#if defined(__CUDA_ARCH__)
  r.timestamp = 0;
  r.offset = 0;
  r.locate = 0;
  r.tracking = 0;
  r.type = 0;
  r.error = DecodeError::None;
  r.length = 0;
  for (int i = 0; i < 5; ++i) r.body.words[i] = 0;
#else
  // Four 16-byte stores (the record is 64-aligned). A memset of sizeof(Record) was left to a
  // libc call by g++ (about 70 instructions per message, half of the whole decode).
  const __m128i z = _mm_setzero_si128();
  __m128i* w = reinterpret_cast<__m128i*>(&r);
  _mm_store_si128(w, z);
  _mm_store_si128(w + 1, z);
  _mm_store_si128(w + 2, z);
  _mm_store_si128(w + 3, z);
#endif
}

// The body of a message of type `type` (its length already checked) into b. Called with a
// constant type by the host's per-type loops (the switch folds away) and with the type read
// from the message by decode_message: one source for every path, so they agree byte for byte.
SLUICE_HD inline void decode_body(uint8_t type, const uint8_t* p, RecordBody& b) noexcept {
  switch (type) {
    case 'S':
      b.system_event.event_code = ch(p + 11);
      break;
    case 'R': {
      StockDirectoryBody& d = b.stock_directory;
      copy_chars(d.stock, p + 11);
      d.market_category = ch(p + 19);
      d.financial_status = ch(p + 20);
      d.round_lot_size = be32(p + 21);
      d.round_lots_only = ch(p + 25);
      d.issue_classification = ch(p + 26);
      copy_chars(d.issue_subtype, p + 27);
      d.authenticity = ch(p + 29);
      d.short_sale_threshold = ch(p + 30);
      d.ipo_flag = ch(p + 31);
      d.luld_reference_price_tier = ch(p + 32);
      d.etp_flag = ch(p + 33);
      d.etp_leverage_factor = be32(p + 34);
      d.inverse_indicator = ch(p + 38);
      break;
    }
    case 'H': {
      StockTradingActionBody& d = b.trading_action;
      copy_chars(d.stock, p + 11);
      d.trading_state = ch(p + 19);
      d.reserved = ch(p + 20);
      copy_chars(d.reason, p + 21);
      break;
    }
    case 'Y':
      copy_chars(b.reg_sho.stock, p + 11);
      b.reg_sho.action = ch(p + 19);
      break;
    case 'L': {
      MarketParticipantPositionBody& d = b.participant_position;
      copy_chars(d.mpid, p + 11);
      copy_chars(d.stock, p + 15);
      d.primary_market_maker = ch(p + 23);
      d.market_maker_mode = ch(p + 24);
      d.participant_state = ch(p + 25);
      break;
    }
    case 'V':
      b.mwcb_decline.level1 = be64(p + 11);
      b.mwcb_decline.level2 = be64(p + 19);
      b.mwcb_decline.level3 = be64(p + 27);
      break;
    case 'W':
      b.mwcb_status.breached_level = ch(p + 11);
      break;
    case 'K': {
      IpoQuotingPeriodBody& d = b.ipo_quoting;
      copy_chars(d.stock, p + 11);
      d.release_time = be32(p + 19);
      d.release_qualifier = ch(p + 23);
      d.ipo_price = be32(p + 24);
      break;
    }
    case 'J': {
      LuldAuctionCollarBody& d = b.luld_collar;
      copy_chars(d.stock, p + 11);
      d.reference_price = be32(p + 19);
      d.upper_price = be32(p + 23);
      d.lower_price = be32(p + 27);
      d.extension = be32(p + 31);
      break;
    }
    case 'h':
      copy_chars(b.operational_halt.stock, p + 11);
      b.operational_halt.market_code = ch(p + 19);
      b.operational_halt.action = ch(p + 20);
      break;
    case 'F':
      copy_chars(b.add.attribution, p + 36);
      [[fallthrough]];
    case 'A':
      b.add.order_ref = be64(p + 11);
      b.add.side = ch(p + 19);
      b.add.shares = be32(p + 20);
      copy_chars(b.add.stock, p + 24);
      b.add.price = be32(p + 32);
      break;
    case 'C':
      b.executed.printable = ch(p + 31);
      b.executed.price = be32(p + 32);
      [[fallthrough]];
    case 'E':
      b.executed.order_ref = be64(p + 11);
      b.executed.shares = be32(p + 19);
      b.executed.match_number = be64(p + 23);
      break;
    case 'X':
      b.cancel.order_ref = be64(p + 11);
      b.cancel.shares = be32(p + 19);
      break;
    case 'D':
      b.del.order_ref = be64(p + 11);
      break;
    case 'U':
      b.replace.original_ref = be64(p + 11);
      b.replace.new_ref = be64(p + 19);
      b.replace.shares = be32(p + 27);
      b.replace.price = be32(p + 31);
      break;
    case 'P': {
      TradeBody& d = b.trade;
      d.order_ref = be64(p + 11);
      d.side = ch(p + 19);
      d.shares = be32(p + 20);
      copy_chars(d.stock, p + 24);
      d.price = be32(p + 32);
      d.match_number = be64(p + 36);
      break;
    }
    case 'Q': {
      CrossTradeBody& d = b.cross;
      d.shares = be64(p + 11);
      copy_chars(d.stock, p + 19);
      d.price = be32(p + 27);
      d.match_number = be64(p + 31);
      d.cross_type = ch(p + 39);
      break;
    }
    case 'B':
      b.broken.match_number = be64(p + 11);
      break;
    case 'I': {
      NoiiBody& d = b.noii;
      d.paired_shares = be64(p + 11);
      d.imbalance_shares = be64(p + 19);
      d.imbalance_direction = ch(p + 27);
      copy_chars(d.stock, p + 28);
      d.far_price = be32(p + 36);
      d.near_price = be32(p + 40);
      d.current_reference_price = be32(p + 44);
      d.cross_type = ch(p + 48);
      d.price_variation_indicator = ch(p + 49);
      break;
    }
    case 'N':
      copy_chars(b.rpii.stock, p + 11);
      b.rpii.interest_flag = ch(p + 19);
      break;
    case 'O': {
      DlcrBody& d = b.dlcr;
      copy_chars(d.stock, p + 11);
      d.open_eligibility_status = ch(p + 19);
      d.minimum_allowable_price = be32(p + 20);
      d.maximum_allowable_price = be32(p + 24);
      d.near_execution_price = be32(p + 28);
      d.near_execution_time = be64(p + 32);
      d.lower_price_range_collar = be32(p + 40);
      d.upper_price_range_collar = be32(p + 44);
      break;
    }
    default:
      break;  // not a type: callers check the length table first
  }
}

}  // namespace detail

// Decodes the message whose 2-byte length prefix is at data[off] into `r` (every byte of `r`
// is written). `base` is added to `off` for Record::offset (the stream offset of `data`).
SLUICE_HD inline DecodeError decode_message(const uint8_t* data, uint64_t size, uint64_t off,
                                            uint64_t base, Record& r) noexcept {
  using namespace detail;
  zero_record(r);
  r.offset = base + off;
  if (off >= size || size - off < kPrefixSize) {
    r.error = DecodeError::Truncated;
    r.body.error.available = 0;
    return r.error;
  }
  const uint8_t* p = data + off + kPrefixSize;
  const uint64_t avail = size - off - kPrefixSize;
  const uint16_t len = be16(data + off);
  r.length = len;
  const uint8_t type = avail > 0 ? p[0] : 0;
  r.type = type;
  const uint16_t expected = message_length(type);
  if (len > avail || len == 0) {
    // A zero-length block has no type byte: unknown type. A prefix longer than the input left:
    // truncated (the record says how much was there).
    r.error = len == 0 ? DecodeError::UnknownType : DecodeError::Truncated;
    r.type = len == 0 ? 0 : type;
    // available: the bytes of this message present (not what follows it in the input, so a
    // record does not depend on how the stream was cut into buffers).
    r.body.error.available =
        len == 0 ? 0 : static_cast<uint32_t>(avail < 0xFFFFFFFFu ? avail : 0xFFFFFFFFu);
    r.body.error.expected_length = len == 0 ? 0 : expected;
    return r.error;
  }
  if (expected == 0 || len != expected) {
    r.error = expected == 0 ? DecodeError::UnknownType : DecodeError::BadLength;
    r.body.error.available = len;
    r.body.error.expected_length = expected;
    return r.error;
  }
  r.locate = be16(p + 1);
  r.tracking = be16(p + 3);
  r.timestamp = be48(p + 5);
  detail::decode_body(type, p, r.body);
  return DecodeError::None;
}

#if !defined(__CUDA_ARCH__)
namespace detail {

// Host batches go by type. With a random mix of types a switch per message mispredicts about
// every other message; sorting a block's messages into one list per type first (a table
// lookup and a store each) lets each list decode in a loop whose branch always goes the same
// way. The per-type loop runs the same decode_body as decode_message, with the type constant.
struct TypeTables {
  uint8_t cls[256];  // 1..23 for the ITCH types (their place in kAllTypes), 0 otherwise
  uint8_t len[256];  // message_length(), narrowed (every length is below 256)
};
inline constexpr TypeTables kTypeTables = [] {
  TypeTables t{};
  for (int i = 0; i < 23; ++i) {
    t.cls[kAllTypes[i]] = static_cast<uint8_t>(i + 1);
    t.len[kAllTypes[i]] = static_cast<uint8_t>(message_length(kAllTypes[i]));
  }
  return t;
}();
inline constexpr uint32_t kBucketBlock = 256;
// Destinations of more records than this (512 KiB) are written in order, message by message:
// see decode_stream in framing.hpp for the measurements.
inline constexpr uint32_t kInOrderAbove = 8192;

// A message already known to be whole and of type T, at data[off].
template <uint8_t T>
inline void decode_known(const uint8_t* data, uint64_t off, uint64_t base, Record& r) noexcept {
  const uint8_t* p = data + off + kPrefixSize;
  // The header in two loads: bytes 1..4 are locate and tracking, bytes 3..10 end with the
  // 48-bit timestamp (every message has at least 12 bytes). The same values decode_message
  // writes field by field.
  const uint32_t lt = be32(p + 1);
  const uint64_t ts = be64(p + 3) & 0xFFFFFFFFFFFFull;
  r.timestamp = ts;
  r.offset = base + off;
  r.locate = static_cast<uint16_t>(lt >> 16);
  r.tracking = static_cast<uint16_t>(lt);
  r.type = T;
  r.error = DecodeError::None;
  r.length = message_length(T);
  const __m128i z = _mm_setzero_si128();  // the body: 40 bytes zeroed, then its fields
  __m128i* w = reinterpret_cast<__m128i*>(&r.body);
  _mm_storeu_si128(w, z);
  _mm_storeu_si128(w + 1, z);
  r.body.words[4] = 0;
  decode_body(T, p, r.body);
}

template <uint8_t T, class Off>
inline void decode_list(const uint8_t* data, const Off* offsets, const uint16_t* list, uint32_t n,
                        uint64_t base, Record* out) noexcept {
  for (uint32_t j = 0; j < n; ++j) decode_known<T>(data, offsets[list[j]], base, out[list[j]]);
}

template <class Off>
using DecodeListFn = void (*)(const uint8_t*, const Off*, const uint16_t*, uint32_t, uint64_t,
                              Record*) noexcept;

template <class Off, std::size_t... I>
constexpr auto make_list_table(std::index_sequence<I...>) {
  struct Table {
    DecodeListFn<Off> fn[sizeof...(I)];
  };
  return Table{{&decode_list<kAllTypes[I], Off>...}};
}

// One block's messages sorted by class (0 = to be decoded the general way, an error).
struct BlockLists {
  uint16_t list[24][kBucketBlock];
  uint32_t count[24] = {};
  // Class of the frame at data[off] in an input of `size` bytes.
  static uint32_t classify(const uint8_t* data, uint64_t size, uint64_t off) noexcept {
    if (off >= size || size - off < kPrefixSize) return 0;
    const uint16_t len = be16(data + off);
    if (len == 0 || len > size - off - kPrefixSize) return 0;
    const uint8_t t = data[off + kPrefixSize];
    return kTypeTables.len[t] == len ? kTypeTables.cls[t] : 0;
  }
  void add(uint32_t cls, uint32_t i) noexcept {
    list[cls][count[cls]++] = static_cast<uint16_t>(i);
  }
};

// Decodes a classified block; returns the error records.
template <class Off>
inline uint32_t decode_lists(const uint8_t* data, uint64_t size, const Off* offsets,
                             const BlockLists& l, uint64_t base, Record* out) noexcept {
  static constexpr auto kLists = make_list_table<Off>(std::make_index_sequence<23>{});
  for (uint32_t c = 1; c < 24; ++c) {
    if (l.count[c] != 0) kLists.fn[c - 1](data, offsets, l.list[c], l.count[c], base, out);
  }
  for (uint32_t j = 0; j < l.count[0]; ++j) {  // every error kind, the general way
    const uint16_t i = l.list[0][j];
    (void)decode_message(data, size, offsets[i], base, out[i]);
  }
  return l.count[0];
}

// Up to kBucketBlock messages at data[offsets[i]] into out[i]; returns the error records.
template <class Off>
inline uint32_t decode_block(const uint8_t* data, uint64_t size, const Off* offsets, uint32_t n,
                             uint64_t base, Record* out) noexcept {
  BlockLists l;
  for (uint32_t i = 0; i < n; ++i) l.add(BlockLists::classify(data, size, offsets[i]), i);
  return decode_lists(data, size, offsets, l, base, out);
}

}  // namespace detail
#endif

// Decodes n messages whose length prefixes are at data[offsets[i]] into out[0..n). Returns the
// number of error records. Offsets are 32-bit: one batch spans at most 4 GiB of input. The
// records are those of decode_message, byte for byte, on the host and on the device.
SLUICE_HD inline uint32_t decode_batch(const uint8_t* data, uint64_t size, const uint32_t* offsets,
                                       uint32_t n, uint64_t base, Record* out) noexcept {
  uint32_t errors = 0;
#if defined(__CUDA_ARCH__)
  for (uint32_t i = 0; i < n; ++i) {
    errors += decode_message(data, size, offsets[i], base, out[i]) != DecodeError::None;
  }
#else
  if (n > detail::kInOrderAbove) {
    for (uint32_t i = 0; i < n; ++i) {
      errors += decode_message(data, size, offsets[i], base, out[i]) != DecodeError::None;
    }
    return errors;
  }
  for (uint32_t i = 0; i < n; i += detail::kBucketBlock) {
    const uint32_t k = n - i < detail::kBucketBlock ? n - i : detail::kBucketBlock;
    errors += detail::decode_block(data, size, offsets + i, k, base, out + i);
  }
#endif
  return errors;
}

}  // namespace sluice::market::itch
