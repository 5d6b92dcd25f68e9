// ITCH 5.0 decoding: one golden message per type, built byte by byte from the specification's
// field table (independently of encode.hpp), decoded and checked field by field; encode() of
// the decoded record gives the same bytes back. Then framing, error records and boundaries.
#include <gtest/gtest.h>
#include <sluice/market/itch/decode.hpp>
#include <sluice/market/itch/encode.hpp>
#include <sluice/market/itch/framing.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace itch = sluice::market::itch;
using itch::DecodeError;
using itch::Record;

namespace {

// Big-endian message builder following the specification's field order.
struct Msg {
  std::vector<uint8_t> b;
  Msg& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Msg& ch(char c) { return u8(static_cast<uint8_t>(c)); }
  Msg& be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Msg& u16(uint64_t v) { return be(v, 2); }
  Msg& u32(uint64_t v) { return be(v, 4); }
  Msg& u48(uint64_t v) { return be(v, 6); }
  Msg& u64(uint64_t v) { return be(v, 8); }
  Msg& str(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(s[i]));
    return *this;
  }
  // Common header: type, stock locate, tracking number, timestamp.
  static Msg header(char type, uint16_t locate = 0x1234, uint16_t tracking = 0x0102,
                    uint64_t ts = 0x123456789ABCull) {
    Msg m;
    m.ch(type).u16(locate).u16(tracking).u48(ts);
    return m;
  }
  // Length-prefixed wire bytes.
  std::vector<uint8_t> framed() const {
    std::vector<uint8_t> out(b.size() + 2);
    out[0] = static_cast<uint8_t>(b.size() >> 8);
    out[1] = static_cast<uint8_t>(b.size());
    for (size_t i = 0; i < b.size(); ++i) out[i + 2] = b[i];
    return out;
  }
};

Record decode(const std::vector<uint8_t>& framed, uint64_t base = 0) {
  Record r;
  std::memset(&r, 0xCD, sizeof r);  // the decoder must define every byte
  const DecodeError e = itch::decode_message(framed.data(), framed.size(), 0, base, r);
  EXPECT_EQ(e, r.error);
  return r;
}

// Decodes a golden message, checks the common header and the spec's total length, and that
// encode() of the record reproduces the bytes.
Record golden(const Msg& m, uint16_t spec_length) {
  EXPECT_EQ(m.b.size(), spec_length) << "golden built with the wrong length for " << char(m.b[0]);
  EXPECT_EQ(itch::message_length(m.b[0]), spec_length);
  const auto framed = m.framed();
  const Record r = decode(framed, 1000);
  EXPECT_TRUE(r.ok()) << itch::to_string(r.error);
  EXPECT_EQ(r.type, m.b[0]);
  EXPECT_EQ(r.locate, 0x1234);
  EXPECT_EQ(r.tracking, 0x0102);
  EXPECT_EQ(r.timestamp, 0x123456789ABCull);
  EXPECT_EQ(r.offset, 1000u);
  EXPECT_EQ(r.length, spec_length);
  std::vector<uint8_t> again(framed.size() + 8, 0xEE);
  EXPECT_EQ(itch::encode_message(r, again.data(), again.size()), framed.size());
  again.resize(framed.size());
  EXPECT_EQ(again, framed) << "encode(decode(x)) != x for " << char(m.b[0]);
  return r;
}

std::string s(const char* p, size_t n) { return std::string(p, n); }

TEST(ItchDecode, SystemEvent) {
  const Record r = golden(Msg::header('S').ch('O'), 12);
  EXPECT_EQ(r.body.system_event.event_code, 'O');
}

TEST(ItchDecode, StockDirectory) {
  auto m = Msg::header('R')
               .str("AAPL    ", 8)
               .ch('Q')
               .ch('N')
               .u32(100)
               .ch('N')
               .ch('C')
               .str("Z ", 2)
               .ch('P')
               .ch('N')
               .ch(' ')
               .ch('1')
               .ch('N')
               .u32(3)
               .ch('Y');
  const Record r = golden(m, 39);
  const auto& d = r.body.stock_directory;
  EXPECT_EQ(s(d.stock, 8), "AAPL    ");
  EXPECT_EQ(d.market_category, 'Q');
  EXPECT_EQ(d.financial_status, 'N');
  EXPECT_EQ(d.round_lot_size, 100u);
  EXPECT_EQ(d.round_lots_only, 'N');
  EXPECT_EQ(d.issue_classification, 'C');
  EXPECT_EQ(s(d.issue_subtype, 2), "Z ");
  EXPECT_EQ(d.authenticity, 'P');
  EXPECT_EQ(d.short_sale_threshold, 'N');
  EXPECT_EQ(d.ipo_flag, ' ');
  EXPECT_EQ(d.luld_reference_price_tier, '1');
  EXPECT_EQ(d.etp_flag, 'N');
  EXPECT_EQ(d.etp_leverage_factor, 3u);
  EXPECT_EQ(d.inverse_indicator, 'Y');
}

TEST(ItchDecode, StockTradingAction) {
  const Record r = golden(Msg::header('H').str("MSFT    ", 8).ch('H').ch(' ').str("T1  ", 4), 25);
  const auto& d = r.body.trading_action;
  EXPECT_EQ(s(d.stock, 8), "MSFT    ");
  EXPECT_EQ(d.trading_state, 'H');
  EXPECT_EQ(d.reserved, ' ');
  EXPECT_EQ(s(d.reason, 4), "T1  ");
}

TEST(ItchDecode, RegSho) {
  const Record r = golden(Msg::header('Y').str("IBM     ", 8).ch('1'), 20);
  EXPECT_EQ(s(r.body.reg_sho.stock, 8), "IBM     ");
  EXPECT_EQ(r.body.reg_sho.action, '1');
}

TEST(ItchDecode, MarketParticipantPosition) {
  const Record r =
      golden(Msg::header('L').str("GSCO", 4).str("AMZN    ", 8).ch('Y').ch('N').ch('A'), 26);
  const auto& d = r.body.participant_position;
  EXPECT_EQ(s(d.mpid, 4), "GSCO");
  EXPECT_EQ(s(d.stock, 8), "AMZN    ");
  EXPECT_EQ(d.primary_market_maker, 'Y');
  EXPECT_EQ(d.market_maker_mode, 'N');
  EXPECT_EQ(d.participant_state, 'A');
}

TEST(ItchDecode, MwcbDeclineLevel) {
  const Record r =
      golden(Msg::header('V').u64(0x0102030405060708ull).u64(2'000'00000000ull).u64(3), 35);
  EXPECT_EQ(r.body.mwcb_decline.level1, 0x0102030405060708ull);
  EXPECT_EQ(r.body.mwcb_decline.level2, 2'000'00000000ull);
  EXPECT_EQ(r.body.mwcb_decline.level3, 3u);
}

TEST(ItchDecode, MwcbStatus) {
  const Record r = golden(Msg::header('W').ch('2'), 12);
  EXPECT_EQ(r.body.mwcb_status.breached_level, '2');
}

TEST(ItchDecode, IpoQuotingPeriod) {
  const Record r = golden(Msg::header('K').str("NEWCO   ", 8).u32(34200).ch('A').u32(215000), 28);
  const auto& d = r.body.ipo_quoting;
  EXPECT_EQ(s(d.stock, 8), "NEWCO   ");
  EXPECT_EQ(d.release_time, 34200u);
  EXPECT_EQ(d.release_qualifier, 'A');
  EXPECT_EQ(d.ipo_price, 215000u);
}

TEST(ItchDecode, LuldAuctionCollar) {
  const Record r =
      golden(Msg::header('J').str("TSLA    ", 8).u32(2000000).u32(2100000).u32(1900000).u32(2), 35);
  const auto& d = r.body.luld_collar;
  EXPECT_EQ(s(d.stock, 8), "TSLA    ");
  EXPECT_EQ(d.reference_price, 2000000u);
  EXPECT_EQ(d.upper_price, 2100000u);
  EXPECT_EQ(d.lower_price, 1900000u);
  EXPECT_EQ(d.extension, 2u);
}

TEST(ItchDecode, OperationalHalt) {
  const Record r = golden(Msg::header('h').str("QQQ     ", 8).ch('Q').ch('H'), 21);
  EXPECT_EQ(s(r.body.operational_halt.stock, 8), "QQQ     ");
  EXPECT_EQ(r.body.operational_halt.market_code, 'Q');
  EXPECT_EQ(r.body.operational_halt.action, 'H');
}

TEST(ItchDecode, AddOrder) {
  const Record r = golden(
      Msg::header('A').u64(0xA1B2C3D4E5F60718ull).ch('B').u32(300).str("AAPL    ", 8).u32(1234500),
      36);
  const auto& d = r.body.add;
  EXPECT_EQ(d.order_ref, 0xA1B2C3D4E5F60718ull);
  EXPECT_EQ(d.side, 'B');
  EXPECT_EQ(d.shares, 300u);
  EXPECT_EQ(s(d.stock, 8), "AAPL    ");
  EXPECT_EQ(d.price, 1234500u);  // $123.4500
  EXPECT_EQ(s(d.attribution, 4), std::string(4, '\0'));
}

TEST(ItchDecode, AddOrderMpid) {
  const Record r = golden(Msg::header('F')
                              .u64(7)
                              .ch('S')
                              .u32(0xFFFFFFFF)
                              .str("BRK A   ", 8)
                              .u32(0x7FFFFFFF)
                              .str("NITE", 4),
                          40);
  const auto& d = r.body.add;
  EXPECT_EQ(d.order_ref, 7u);
  EXPECT_EQ(d.side, 'S');
  EXPECT_EQ(d.shares, 0xFFFFFFFFu);
  EXPECT_EQ(s(d.stock, 8), "BRK A   ");
  EXPECT_EQ(d.price, 0x7FFFFFFFu);
  EXPECT_EQ(s(d.attribution, 4), "NITE");
}

TEST(ItchDecode, OrderExecuted) {
  const Record r = golden(Msg::header('E').u64(42).u32(100).u64(0x1122334455667788ull), 31);
  const auto& d = r.body.executed;
  EXPECT_EQ(d.order_ref, 42u);
  EXPECT_EQ(d.shares, 100u);
  EXPECT_EQ(d.match_number, 0x1122334455667788ull);
  EXPECT_EQ(d.price, 0u);
  EXPECT_EQ(d.printable, '\0');
}

TEST(ItchDecode, OrderExecutedWithPrice) {
  const Record r = golden(Msg::header('C').u64(42).u32(50).u64(99).ch('Y').u32(1000100), 36);
  const auto& d = r.body.executed;
  EXPECT_EQ(d.order_ref, 42u);
  EXPECT_EQ(d.shares, 50u);
  EXPECT_EQ(d.match_number, 99u);
  EXPECT_EQ(d.printable, 'Y');
  EXPECT_EQ(d.price, 1000100u);
}

TEST(ItchDecode, OrderCancel) {
  const Record r = golden(Msg::header('X').u64(43).u32(25), 23);
  EXPECT_EQ(r.body.cancel.order_ref, 43u);
  EXPECT_EQ(r.body.cancel.shares, 25u);
}

TEST(ItchDecode, OrderDelete) {
  const Record r = golden(Msg::header('D').u64(44), 19);
  EXPECT_EQ(r.body.del.order_ref, 44u);
}

TEST(ItchDecode, OrderReplace) {
  const Record r = golden(Msg::header('U').u64(45).u64(46).u32(200).u32(99900), 35);
  const auto& d = r.body.replace;
  EXPECT_EQ(d.original_ref, 45u);
  EXPECT_EQ(d.new_ref, 46u);
  EXPECT_EQ(d.shares, 200u);
  EXPECT_EQ(d.price, 99900u);
}

TEST(ItchDecode, Trade) {
  const Record r =
      golden(Msg::header('P').u64(0).ch('B').u32(500).str("SPY     ", 8).u32(4500000).u64(777), 44);
  const auto& d = r.body.trade;
  EXPECT_EQ(d.order_ref, 0u);
  EXPECT_EQ(d.side, 'B');
  EXPECT_EQ(d.shares, 500u);
  EXPECT_EQ(s(d.stock, 8), "SPY     ");
  EXPECT_EQ(d.price, 4500000u);
  EXPECT_EQ(d.match_number, 777u);
}

TEST(ItchDecode, CrossTrade) {
  const Record r = golden(
      Msg::header('Q').u64(1'000'000'000'000ull).str("GOOG    ", 8).u32(1500000).u64(778).ch('O'),
      40);
  const auto& d = r.body.cross;
  EXPECT_EQ(d.shares, 1'000'000'000'000ull);
  EXPECT_EQ(s(d.stock, 8), "GOOG    ");
  EXPECT_EQ(d.price, 1500000u);
  EXPECT_EQ(d.match_number, 778u);
  EXPECT_EQ(d.cross_type, 'O');
}

TEST(ItchDecode, BrokenTrade) {
  const Record r = golden(Msg::header('B').u64(778), 19);
  EXPECT_EQ(r.body.broken.match_number, 778u);
}

TEST(ItchDecode, Noii) {
  const Record r = golden(Msg::header('I')
                              .u64(10000)
                              .u64(2500)
                              .ch('B')
                              .str("NVDA    ", 8)
                              .u32(1000000)
                              .u32(1001000)
                              .u32(1000500)
                              .ch('C')
                              .ch('L'),
                          50);
  const auto& d = r.body.noii;
  EXPECT_EQ(d.paired_shares, 10000u);
  EXPECT_EQ(d.imbalance_shares, 2500u);
  EXPECT_EQ(d.imbalance_direction, 'B');
  EXPECT_EQ(s(d.stock, 8), "NVDA    ");
  EXPECT_EQ(d.far_price, 1000000u);
  EXPECT_EQ(d.near_price, 1001000u);
  EXPECT_EQ(d.current_reference_price, 1000500u);
  EXPECT_EQ(d.cross_type, 'C');
  EXPECT_EQ(d.price_variation_indicator, 'L');
}

TEST(ItchDecode, Rpii) {
  const Record r = golden(Msg::header('N').str("AMD     ", 8).ch('A'), 20);
  EXPECT_EQ(s(r.body.rpii.stock, 8), "AMD     ");
  EXPECT_EQ(r.body.rpii.interest_flag, 'A');
}

TEST(ItchDecode, Dlcr) {
  const Record r = golden(Msg::header('O')
                              .str("DLCR    ", 8)
                              .ch('Y')
                              .u32(100000)
                              .u32(300000)
                              .u32(200000)
                              .u64(0x0000123456789ABCull)
                              .u32(180000)
                              .u32(220000),
                          48);
  const auto& d = r.body.dlcr;
  EXPECT_EQ(s(d.stock, 8), "DLCR    ");
  EXPECT_EQ(d.open_eligibility_status, 'Y');
  EXPECT_EQ(d.minimum_allowable_price, 100000u);
  EXPECT_EQ(d.maximum_allowable_price, 300000u);
  EXPECT_EQ(d.near_execution_price, 200000u);
  EXPECT_EQ(d.near_execution_time, 0x0000123456789ABCull);
  EXPECT_EQ(d.lower_price_range_collar, 180000u);
  EXPECT_EQ(d.upper_price_range_collar, 220000u);
}

TEST(ItchDecode, TableHasExactlyTheSpecTypes) {
  int known = 0;
  for (int t = 0; t < 256; ++t) known += itch::message_length(static_cast<uint8_t>(t)) != 0;
  EXPECT_EQ(known, 23);
  for (uint8_t t : itch::kAllTypes) {
    EXPECT_GE(itch::message_length(t), itch::kHeaderSize + 1);
    EXPECT_LE(itch::message_length(t), itch::kMaxMessageLength);
  }
}

// A message of every type at its spec length with the header filled: decode never fails and
// the timestamp keeps all 48 bits.
TEST(ItchDecode, EveryTypeAtItsLengthDecodes) {
  for (uint8_t t : itch::kAllTypes) {
    Msg m = Msg::header(static_cast<char>(t), 0xFFFF, 0xFFFF, 0xFFFFFFFFFFFFull);
    while (m.b.size() < itch::message_length(t)) m.u8(0xA5);
    const Record r = decode(m.framed());
    EXPECT_TRUE(r.ok()) << char(t);
    EXPECT_EQ(r.timestamp, 0xFFFFFFFFFFFFull);
    EXPECT_EQ(r.locate, 0xFFFF);
  }
}

// ---- error records: each kind, with its offset, and decoding goes on

TEST(ItchDecodeErrors, UnknownType) {
  Msg m = Msg::header('Z');
  const Record r = decode(m.framed(), 50);
  EXPECT_EQ(r.error, DecodeError::UnknownType);
  EXPECT_EQ(r.type, 'Z');
  EXPECT_EQ(r.offset, 50u);
  EXPECT_EQ(r.body.error.expected_length, 0u);
  EXPECT_EQ(r.body.error.available, 11u);
}

TEST(ItchDecodeErrors, LengthDoesNotMatchType) {
  Msg m = Msg::header('D').u64(1).u8(0);  // 20 bytes, D is 19
  Record r = decode(m.framed());
  EXPECT_EQ(r.error, DecodeError::BadLength);
  EXPECT_EQ(r.type, 'D');
  EXPECT_EQ(r.length, 20u);
  EXPECT_EQ(r.body.error.expected_length, 19u);
  Msg shorter = Msg::header('A').u64(1);  // 19 bytes, A is 36
  r = decode(shorter.framed());
  EXPECT_EQ(r.error, DecodeError::BadLength);
  EXPECT_EQ(r.body.error.expected_length, 36u);
}

TEST(ItchDecodeErrors, TruncatedMessageAndPrefix) {
  auto framed = Msg::header('D').u64(1).framed();
  for (size_t cut = 0; cut < framed.size(); ++cut) {
    Record r;
    const DecodeError e = itch::decode_message(framed.data(), cut, 0, 0, r);
    EXPECT_EQ(e, DecodeError::Truncated) << cut;
    EXPECT_EQ(r.offset, 0u);
    if (cut >= 2) {
      EXPECT_EQ(r.length, 19u);
      EXPECT_EQ(r.body.error.available, cut - 2);
      if (cut >= 3) {
        EXPECT_EQ(r.type, 'D');
      }
    }
  }
  Record r;
  EXPECT_EQ(itch::decode_message(framed.data(), framed.size(), framed.size() + 100, 0, r),
            DecodeError::Truncated);  // an offset past the input
}

TEST(ItchDecodeErrors, ZeroLengthBlock) {
  const std::vector<uint8_t> z{0, 0, 'A'};
  Record r;
  EXPECT_EQ(itch::decode_message(z.data(), z.size(), 0, 0, r), DecodeError::UnknownType);
  EXPECT_EQ(r.length, 0u);
  EXPECT_EQ(r.type, 0u);
}

// ---- framing

std::vector<uint8_t> concat(const std::vector<std::vector<uint8_t>>& parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(ItchFraming, ScanStopsAtAnIncompleteFrameAndFinalEmitsIt) {
  const auto a = Msg::header('D').u64(1).framed();
  const auto b = Msg::header('S').ch('O').framed();
  auto stream = concat({a, b, a});
  stream.resize(stream.size() - 5);  // the third frame is cut
  uint32_t offs[8];
  itch::FrameScan s = itch::scan_frames(stream.data(), stream.size(), offs, 8);
  ASSERT_EQ(s.count, 2u);
  EXPECT_EQ(offs[0], 0u);
  EXPECT_EQ(offs[1], a.size());
  EXPECT_EQ(s.consumed, a.size() + b.size());
  s = itch::scan_frames_final(stream.data(), stream.size(), offs, 8);
  ASSERT_EQ(s.count, 3u);
  EXPECT_EQ(s.consumed, stream.size());
  Record recs[3];
  EXPECT_EQ(itch::decode_batch(stream.data(), stream.size(), offs, 3, 0, recs), 1u);
  EXPECT_TRUE(recs[0].ok());
  EXPECT_TRUE(recs[1].ok());
  EXPECT_EQ(recs[2].error, DecodeError::Truncated);
  EXPECT_EQ(recs[2].offset, a.size() + b.size());
}

TEST(ItchFraming, ScanRespectsMaxAndAOneByteTail) {
  const auto a = Msg::header('D').u64(1).framed();
  auto stream = concat({a, a, a});
  uint32_t offs[2];
  itch::FrameScan s = itch::scan_frames(stream.data(), stream.size(), offs, 2);
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.consumed, 2 * a.size());
  stream.push_back(0x00);  // one byte: not even a prefix
  uint32_t more[8];
  s = itch::scan_frames_final(stream.data(), stream.size(), more, 8);
  EXPECT_EQ(s.count, 4u);
  Record r;
  EXPECT_EQ(itch::decode_message(stream.data(), stream.size(), more[3], 0, r),
            DecodeError::Truncated);
  EXPECT_EQ(itch::scan_frames(stream.data(), 0, more, 8).count, 0u);
}

// Bad messages in the middle of a stream: each becomes an error record at its offset and the
// messages after it still decode (the length chain keeps the stream aligned).
TEST(ItchFraming, ErrorsInTheMiddleDoNotStopDecoding) {
  const auto good = Msg::header('X').u64(9).u32(1).framed();
  const auto unknown = Msg::header('z').u32(5).framed();
  const auto badlen = Msg::header('E').u64(1).framed();
  const std::vector<uint8_t> empty{0, 0};
  const auto stream = concat({good, unknown, good, badlen, empty, good});
  std::vector<Record> out(10);
  const itch::StreamDecode d =
      itch::decode_stream(stream.data(), stream.size(), 5000, out.data(), 10, true);
  ASSERT_EQ(d.count, 6u);
  EXPECT_EQ(d.errors, 3u);
  EXPECT_EQ(d.consumed, stream.size());
  const DecodeError want[6] = {DecodeError::None,      DecodeError::UnknownType, DecodeError::None,
                               DecodeError::BadLength, DecodeError::UnknownType, DecodeError::None};
  uint64_t off = 0;
  const size_t sizes[6] = {good.size(),   unknown.size(), good.size(),
                           badlen.size(), empty.size(),   good.size()};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(out[i].error, want[i]) << i;
    EXPECT_EQ(out[i].offset, 5000 + off) << i;
    off += sizes[i];
  }
  EXPECT_EQ(out[5].body.cancel.order_ref, 9u);
}

// decode_stream and scan+decode_batch agree byte for byte on random streams, and random bytes
// never make either read past the input (ASan build).
TEST(ItchFraming, StreamAndBatchAgreeOnRandomInput) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> stream;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      const uint8_t t = rng() % 4 ? itch::kAllTypes[rng() % 23] : static_cast<uint8_t>(rng());
      Msg m = Msg::header(static_cast<char>(t));
      size_t len = itch::message_length(t);
      if (len == 0 || rng() % 8 == 0) len = 1 + rng() % 60;
      while (m.b.size() < len) m.u8(static_cast<uint8_t>(rng()));
      m.b.resize(len);
      const auto f = m.framed();
      stream.insert(stream.end(), f.begin(), f.end());
    }
    stream.resize(stream.size() - rng() % 4);
    std::vector<uint8_t> exact(stream.begin(), stream.end());  // exact-size allocation for ASan
    std::vector<uint32_t> offs(exact.size() + 1);
    const auto s = itch::scan_frames_final(exact.data(), exact.size(), offs.data(),
                                           static_cast<uint32_t>(offs.size()));
    std::vector<Record> a(s.count), b(s.count + 1);
    itch::decode_batch(exact.data(), exact.size(), offs.data(), s.count, 0, a.data());
    const auto d = itch::decode_stream(exact.data(), exact.size(), 0, b.data(),
                                       static_cast<uint32_t>(b.size()), true);
    ASSERT_EQ(d.count, s.count);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(Record) * s.count), 0);
  }
}

// The two host paths (by type for cache-sized destinations, in order for larger ones) give the
// same bytes as decode_message, on valid and malformed messages.
TEST(ItchFraming, ByTypeAndInOrderPathsAgree) {
  std::mt19937_64 rng(99);
  std::vector<uint8_t> stream;
  for (int i = 0; i < 30000; ++i) {
    const uint8_t t = rng() % 10 ? itch::kAllTypes[rng() % 23] : static_cast<uint8_t>(rng());
    Msg m = Msg::header(static_cast<char>(t), static_cast<uint16_t>(rng()),
                        static_cast<uint16_t>(rng()), rng() & 0xFFFFFFFFFFFFull);
    size_t len = itch::message_length(t);
    if (len == 0 || rng() % 16 == 0) len = rng() % 60;
    while (m.b.size() < len) m.u8(static_cast<uint8_t>(rng()));
    m.b.resize(len);
    const auto f = m.framed();
    stream.insert(stream.end(), f.begin(), f.end());
  }
  std::vector<uint32_t> offs(30001);
  const auto sc = itch::scan_frames_final(stream.data(), stream.size(), offs.data(), 30001);
  ASSERT_EQ(sc.count, 30000u);
  ASSERT_GT(sc.count, itch::detail::kInOrderAbove);
  std::vector<Record> ref(sc.count), big(sc.count), small(sc.count), batch(sc.count),
      pieces(sc.count);
  uint32_t ref_errors = 0;
  for (uint32_t i = 0; i < sc.count; ++i)
    ref_errors +=
        itch::decode_message(stream.data(), stream.size(), offs[i], 7, ref[i]) != DecodeError::None;
  ASSERT_GT(ref_errors, 1000u);
  // decode_stream: one call into the whole array (in order) and 4096 at a time (by type).
  auto d = itch::decode_stream(stream.data(), stream.size(), 7, big.data(), sc.count, true);
  EXPECT_EQ(d.count, sc.count);
  EXPECT_EQ(d.errors, ref_errors);
  uint64_t off = 0;
  uint32_t n = 0, errors = 0;
  while (off < stream.size()) {
    d = itch::decode_stream(stream.data() + off, stream.size() - off, 7 + off, small.data() + n,
                            4096, true);
    n += d.count;
    errors += d.errors;
    off += d.consumed;
  }
  EXPECT_EQ(n, sc.count);
  EXPECT_EQ(errors, ref_errors);
  // decode_batch: all at once (in order) and 1000 at a time (by type).
  EXPECT_EQ(
      itch::decode_batch(stream.data(), stream.size(), offs.data(), sc.count, 7, batch.data()),
      ref_errors);
  errors = 0;
  for (uint32_t i = 0; i < sc.count; i += 1000)
    errors += itch::decode_batch(stream.data(), stream.size(), offs.data() + i,
                                 std::min(1000u, sc.count - i), 7, pieces.data() + i);
  EXPECT_EQ(errors, ref_errors);
  const size_t bytes = sizeof(Record) * sc.count;
  EXPECT_EQ(std::memcmp(ref.data(), big.data(), bytes), 0);
  EXPECT_EQ(std::memcmp(ref.data(), small.data(), bytes), 0);
  EXPECT_EQ(std::memcmp(ref.data(), batch.data(), bytes), 0);
  EXPECT_EQ(std::memcmp(ref.data(), pieces.data(), bytes), 0);
}

TEST(ItchEncode, RefusesUnknownTypesAndSmallBuffers) {
  Record r{};
  r.type = 'Z';
  uint8_t buf[64];
  EXPECT_EQ(itch::encode_message(r, buf, sizeof buf), 0u);
  r.type = 'A';
  std::memset(buf, 0x77, sizeof buf);
  EXPECT_EQ(itch::encode_message(r, buf, 37), 0u);
  EXPECT_EQ(buf[0], 0x77);  // nothing written
  EXPECT_EQ(itch::encode_message(r, buf, 38), 38u);
  EXPECT_EQ(itch::encoded_size('A'), 38u);
}

}  // namespace
