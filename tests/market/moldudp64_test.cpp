// MoldUDP64: golden packets built byte by byte from the specification and compared with the
// writer's output; every parse error from a hand-built packet; writer -> parser round trips
// over seeded random shapes; ITCH messages decoded in place from the blocks; the receiver's
// gap detection, duplicates, partial overlaps, recovery (with ranges split by partial fills),
// session mismatch, end of session, heartbeats, sequence overflow and the gap table overflow;
// and a seeded run of the receiver against a reference model.
#include <gtest/gtest.h>
#include <sluice/market/itch/decode.hpp>
#include <sluice/market/itch/encode.hpp>
#include <sluice/market/moldudp64.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace m = sluice::market;
namespace itch = sluice::market::itch;
using m::MoldError;
using m::MoldEvent;
using m::MoldGap;
using m::MoldPacket;
using m::MoldRun;
using m::MoldSession;
using m::MoldSessionError;
using m::MoldState;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
constexpr std::string_view kSession = "SESSION001";

// Big-endian packet builder, independent of the writer.
struct Wire {
  Bytes b;
  Wire& str(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Wire& be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Wire& raw(std::initializer_list<uint8_t> v) {
    b.insert(b.end(), v.begin(), v.end());
    return *this;
  }
  Wire& header(uint64_t seq, uint16_t count, std::string_view session = kSession) {
    return str(session).be(seq, 8).be(count, 2);
  }
  Wire& block(std::initializer_list<uint8_t> msg) { return be(msg.size(), 2).raw(msg); }
};

MoldError parse_error(const Bytes& b) {
  auto r = m::parse_packet(b);
  EXPECT_FALSE(r.has_value());
  return r ? MoldError{} : r.error();
}

// A message that names its own sequence (8 bytes big-endian), so a delivered block can be
// checked against the sequence the receiver gave it.
Bytes message_for(uint64_t seq) {
  Bytes b;
  for (int i = 7; i >= 0; --i) b.push_back(static_cast<uint8_t>(seq >> (8 * i)));
  b.resize(8 + seq % 5, 0xEE);
  return b;
}
uint64_t sequence_in(std::span<const uint8_t> msg) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | msg[i];
  return v;
}

// Owns a packet's bytes and its parse.
struct Pkt {
  Bytes bytes;
  MoldPacket packet() const {
    auto r = m::parse_packet(bytes);
    EXPECT_TRUE(r.has_value()) << (r ? "" : to_string(r.error()));
    return r.value();
  }
};

Pkt data(uint64_t seq, unsigned n, std::string_view session = kSession) {
  Bytes buf(64 * 1024);
  m::MoldPacketWriter w(buf, session, seq, buf.size());
  for (unsigned i = 0; i < n; ++i) EXPECT_TRUE(w.add(message_for(seq + i)));
  const auto out = w.finish();
  return Pkt{Bytes(out.begin(), out.end())};
}
Pkt heartbeat(uint64_t seq, std::string_view session = kSession) {
  return Pkt{Wire().header(seq, 0, session).b};
}
Pkt end_of_session(uint64_t seq, std::string_view session = kSession) {
  return Pkt{Wire().header(seq, 0xFFFF, session).b};
}

MoldEvent feed(MoldSession& s, const Pkt& p) {
  const MoldPacket pk = p.packet();
  const MoldEvent ev = s.on_packet(pk);
  // Every delivered block carries the sequence the event gives it.
  for (const MoldRun& r : ev.runs()) {
    uint64_t want = r.sequence;
    for (m::MoldBlock b : pk.blocks(r.first_block, r.count)) {
      EXPECT_EQ(b.sequence, want);
      EXPECT_EQ(sequence_in(b.message), want);
      ++want;
    }
    EXPECT_EQ(want, r.sequence + r.count);
  }
  return ev;
}

std::vector<MoldGap> gaps(const MoldSession& s) {
  return {s.outstanding_gaps().begin(), s.outstanding_gaps().end()};
}
std::vector<MoldRun> runs(const MoldEvent& ev) { return {ev.runs().begin(), ev.runs().end()}; }

// ---------------------------------------------------------------------------------------------
// Golden bytes

TEST(MoldUdp64Writer, GoldenPacketFromTheSpecification) {
  // Session "TESTSESS01", sequence 258, two messages: [AA] and [01 02 03].
  const Bytes golden = {
      'T',  'E',  'S',  'T',  'S',  'E',  'S',  'S',  '0', '1',  // Session (10, ASCII)
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02,            // Sequence Number (8, BE)
      0x00, 0x02,                                                // Message Count (2, BE)
      0x00, 0x01, 0xAA,                                          // Length 1, message
      0x00, 0x03, 0x01, 0x02, 0x03,                              // Length 3, message
  };
  Bytes buf(1500, 0x55);
  m::MoldPacketWriter w(buf, "TESTSESS01", 258);
  EXPECT_EQ(w.capacity(), m::kMoldDefaultMaxPacket);
  const uint8_t a[] = {0xAA};
  const uint8_t b[] = {0x01, 0x02, 0x03};
  ASSERT_TRUE(w.add(a));
  ASSERT_TRUE(w.add(b));
  EXPECT_EQ(w.pending(), 2);
  EXPECT_EQ(w.size(), golden.size());
  const auto out = w.finish();
  EXPECT_EQ(Bytes(out.begin(), out.end()), golden);
  EXPECT_EQ(w.next_sequence(), 260u);
  EXPECT_EQ(w.pending(), 0);

  // Heartbeat and end of session carry the next sequence and no blocks.
  const Bytes hb = {'T', 'E', 'S', 'T', 'S', 'E', 'S',  'S',  '0',  '1',
                    0,   0,   0,   0,   0,   0,   0x01, 0x04, 0x00, 0x00};
  const Bytes eos = {'T', 'E', 'S', 'T', 'S', 'E', 'S',  'S',  '0',  '1',
                     0,   0,   0,   0,   0,   0,   0x01, 0x04, 0xFF, 0xFF};
  const auto h = w.heartbeat();
  EXPECT_EQ(Bytes(h.begin(), h.end()), hb);
  const auto e = w.end_of_session();
  EXPECT_EQ(Bytes(e.begin(), e.end()), eos);
  EXPECT_EQ(w.next_sequence(), 260u);
}

TEST(MoldUdp64Parse, GoldenPacketFields) {
  const Bytes pkt = Wire()
                        .header(0x0102030405060708ull, 3, "ABCDEFGHIJ")
                        .block({'x'})
                        .block({1, 2, 3, 4})
                        .block({9, 9})
                        .b;
  auto r = m::parse_packet(pkt);
  ASSERT_TRUE(r.has_value());
  const MoldPacket& p = *r;
  EXPECT_EQ(p.session(), "ABCDEFGHIJ");
  EXPECT_EQ(p.sequence(), 0x0102030405060708ull);
  EXPECT_EQ(p.count(), 3);
  EXPECT_EQ(p.block_count(), 3);
  EXPECT_FALSE(p.heartbeat());
  EXPECT_FALSE(p.end_of_session());
  EXPECT_EQ(p.next_sequence(), 0x0102030405060708ull + 3);
  EXPECT_EQ(p.data(), pkt.data());
  EXPECT_EQ(p.size(), pkt.size());

  const uint32_t want_off[] = {20, 23, 29};
  const Bytes want_msg[] = {{'x'}, {1, 2, 3, 4}, {9, 9}};
  int i = 0;
  for (m::MoldBlock b : p.blocks()) {
    EXPECT_EQ(b.index, i);
    EXPECT_EQ(b.offset, want_off[i]);
    EXPECT_EQ(b.sequence, p.sequence() + i);
    EXPECT_EQ(Bytes(b.message.begin(), b.message.end()), want_msg[i]);
    ++i;
  }
  EXPECT_EQ(i, 3);

  uint32_t off[8] = {};
  EXPECT_EQ(p.block_offsets(off), 3u);
  EXPECT_EQ(off[0], 20u);
  EXPECT_EQ(off[1], 23u);
  EXPECT_EQ(off[2], 29u);
  uint32_t two[2] = {};
  EXPECT_EQ(p.block_offsets(two, 1), 2u);
  EXPECT_EQ(two[0], 23u);
  EXPECT_EQ(two[1], 29u);
  uint32_t one[1] = {};
  EXPECT_EQ(p.block_offsets(one, 0), 1u);  // clipped to the array
  EXPECT_EQ(one[0], 20u);
  EXPECT_EQ(p.block_offsets(two, 3), 0u);  // past the last block

  // A sub-range walks to its first block.
  const auto sub = p.blocks(1, 5);
  EXPECT_EQ(sub.size(), 2u);
  auto it = sub.begin();
  EXPECT_EQ((*it).offset, 23u);
  EXPECT_EQ((*it).index, 1);
  ++it;
  EXPECT_EQ((*it).offset, 29u);
  ++it;
  EXPECT_TRUE(it == std::default_sentinel);
  EXPECT_TRUE(p.blocks(3, 1).empty());
}

TEST(MoldUdp64Parse, HeartbeatAndEndOfSession) {
  const Bytes hb = Wire().header(77, 0).b;
  auto h = m::parse_packet(hb);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(h->heartbeat());
  EXPECT_FALSE(h->end_of_session());
  EXPECT_EQ(h->block_count(), 0);
  EXPECT_EQ(h->next_sequence(), 77u);
  EXPECT_TRUE(h->blocks().empty());

  const Bytes eos = Wire().header(kMax, 0xFFFF).b;  // no messages: no overflow either
  auto e = m::parse_packet(eos);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->end_of_session());
  EXPECT_FALSE(e->heartbeat());
  EXPECT_EQ(e->count(), 0xFFFF);
  EXPECT_EQ(e->block_count(), 0);
  EXPECT_EQ(e->next_sequence(), kMax);
  uint32_t off[4];
  EXPECT_EQ(e->block_offsets(off), 0u);
}

// ---------------------------------------------------------------------------------------------
// Parse errors, one hand-built packet each

TEST(MoldUdp64Parse, TooShort) {
  EXPECT_EQ(parse_error({}), MoldError::TooShort);
  Bytes b = Wire().header(1, 0).b;
  b.pop_back();
  EXPECT_EQ(parse_error(b), MoldError::TooShort);
}

TEST(MoldUdp64Parse, ControlPacketsWithData) {
  EXPECT_EQ(parse_error(Wire().header(1, 0).raw({0}).b), MoldError::HeartbeatWithData);
  EXPECT_EQ(parse_error(Wire().header(1, 0xFFFF).block({'S'}).b), MoldError::EndOfSessionWithData);
}

TEST(MoldUdp64Parse, BlockTruncated) {
  // The length says 10, 5 bytes follow.
  EXPECT_EQ(parse_error(Wire().header(1, 1).be(10, 2).raw({1, 2, 3, 4, 5}).b),
            MoldError::BlockTruncated);
  // The second block's length prefix is cut after one byte.
  EXPECT_EQ(parse_error(Wire().header(1, 2).block({1}).raw({0}).b), MoldError::BlockTruncated);
  // The length is one past the end.
  EXPECT_EQ(parse_error(Wire().header(1, 1).be(3, 2).raw({1, 2}).b), MoldError::BlockTruncated);
  // The largest length with nothing after it.
  EXPECT_EQ(parse_error(Wire().header(1, 1).be(0xFFFF, 2).b), MoldError::BlockTruncated);
}

TEST(MoldUdp64Parse, MissingBlocks) {
  EXPECT_EQ(parse_error(Wire().header(1, 3).block({1}).block({2, 2}).b), MoldError::MissingBlocks);
  EXPECT_EQ(parse_error(Wire().header(1, 1).b), MoldError::MissingBlocks);
}

TEST(MoldUdp64Parse, TrailingBytes) {
  EXPECT_EQ(parse_error(Wire().header(1, 1).block({1, 2}).raw({7}).b), MoldError::TrailingBytes);
  // A whole extra block beyond Count is trailing too.
  EXPECT_EQ(parse_error(Wire().header(1, 1).block({1}).block({2}).b), MoldError::TrailingBytes);
}

TEST(MoldUdp64Parse, SequenceOverflow) {
  EXPECT_EQ(parse_error(Wire().header(kMax, 1).block({1}).b), MoldError::SequenceOverflow);
  EXPECT_EQ(parse_error(Wire().header(kMax - 1, 2).block({1}).block({2}).b),
            MoldError::SequenceOverflow);
  EXPECT_EQ(parse_error(Wire().header(kMax - 100, 0xFFFE).b), MoldError::SequenceOverflow);
  // The last representable: messages kMax - 2 and kMax - 1, next sequence kMax.
  auto ok = m::parse_packet(Wire().header(kMax - 2, 2).block({1}).block({2}).b);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->next_sequence(), kMax);
}

TEST(MoldUdp64Parse, ErrorsAreDistinctAndNamed) {
  const MoldError all[] = {MoldError::TooShort,          MoldError::TooLarge,
                           MoldError::HeartbeatWithData, MoldError::EndOfSessionWithData,
                           MoldError::SequenceOverflow,  MoldError::BlockTruncated,
                           MoldError::MissingBlocks,     MoldError::TrailingBytes};
  std::set<std::string> names;
  for (MoldError e : all) {
    const std::string n = to_string(e);
    EXPECT_NE(n, "?");
    names.insert(n);
  }
  EXPECT_EQ(names.size(), std::size(all));
  std::set<std::string> session_names;
  for (auto e : {MoldSessionError::None, MoldSessionError::SessionMismatch,
                 MoldSessionError::SessionEnded, MoldSessionError::GapTableFull}) {
    session_names.insert(to_string(e));
  }
  EXPECT_EQ(session_names.size(), 4u);
}

TEST(MoldUdp64Parse, ZeroLengthBlockIsFramedAndLeftToTheDecoder) {
  // MoldUDP64 framing allows it; the ITCH decoder reports it (UnknownType) with its offset.
  const Bytes pkt = Wire().header(1, 2).be(0, 2).block({'x'}).b;
  auto r = m::parse_packet(pkt);
  ASSERT_TRUE(r.has_value());
  uint32_t off[2];
  ASSERT_EQ(r->block_offsets(off), 2u);
  EXPECT_EQ(off[0], 20u);
  EXPECT_EQ(off[1], 22u);
  itch::Record rec;
  EXPECT_EQ(itch::decode_message(r->data(), r->size(), off[0], 0, rec),
            itch::DecodeError::UnknownType);
  EXPECT_EQ(rec.offset, 20u);
}

// Every prefix of a valid packet is refused with the error its cut point implies, and no
// suffix byte changes that (reads stay inside the span: ASan checks the exact-size copies).
TEST(MoldUdp64Parse, EveryTruncationIsRefused) {
  const Bytes full = Wire().header(5, 3).block({1, 2, 3}).block({4}).block({5, 6}).b;
  ASSERT_TRUE(m::parse_packet(full).has_value());
  for (std::size_t n = 0; n < full.size(); ++n) {
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    const MoldError e = parse_error(cut);
    if (n < 20) {
      EXPECT_EQ(e, MoldError::TooShort) << n;
    } else if (n == 20 || n == 25 || n == 28) {
      EXPECT_EQ(e, MoldError::MissingBlocks) << n;
    } else {
      EXPECT_EQ(e, MoldError::BlockTruncated) << n;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

TEST(MoldUdp64Writer, SessionIsPaddedOrCut) {
  Bytes buf(100);
  m::MoldPacketWriter a(buf, "AB", 1);
  EXPECT_EQ(a.session(), "AB        ");
  const auto pa = a.heartbeat();
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(pa.data()), 10), "AB        ");
  m::MoldPacketWriter b(buf, "0123456789XYZ", 1);
  EXPECT_EQ(b.session(), "0123456789");
  m::MoldPacketWriter c(buf, "", 1);
  EXPECT_EQ(c.session(), "          ");
}

TEST(MoldUdp64Writer, RefusesWhatDoesNotFit) {
  Bytes buf(2000);
  m::MoldPacketWriter w(buf, kSession, 1, 1400);
  EXPECT_EQ(w.capacity(), 1400u);
  EXPECT_FALSE(w.add({}));  // empty
  const Bytes big(0x10000, 1);
  EXPECT_FALSE(w.add(big));  // longer than a length prefix can say
  const Bytes exact(1400 - 20 - 2, 7);
  const Bytes one(1, 7);
  ASSERT_TRUE(w.add(exact));
  EXPECT_EQ(w.size(), 1400u);
  EXPECT_FALSE(w.add(one));  // full
  EXPECT_TRUE(w.reserve().empty() || w.reserve().size() == 0);
  EXPECT_TRUE(w.heartbeat().empty());  // messages pending
  EXPECT_TRUE(w.end_of_session().empty());
  const auto p = w.finish();
  EXPECT_EQ(p.size(), 1400u);
  EXPECT_EQ(w.next_sequence(), 2u);

  // A buffer smaller than max_packet bounds the packet.
  Bytes small(100);
  m::MoldPacketWriter s(small, kSession, 1, 1400);
  EXPECT_EQ(s.capacity(), 100u);
  EXPECT_FALSE(s.add(Bytes(79, 1)));
  EXPECT_TRUE(s.add(Bytes(78, 1)));

  // A buffer below the header writes nothing.
  Bytes tiny(19);
  m::MoldPacketWriter t(tiny, kSession, 1);
  EXPECT_EQ(t.capacity(), 0u);
  EXPECT_FALSE(t.add(one));
  EXPECT_TRUE(t.reserve().empty());
  EXPECT_TRUE(t.finish().empty());
  EXPECT_TRUE(t.heartbeat().empty());
  EXPECT_TRUE(t.end_of_session().empty());
}

TEST(MoldUdp64Writer, CountStopsAt0xFFFE) {
  Bytes buf(20 + 3 * 0x10000);
  m::MoldPacketWriter w(buf, kSession, 1, buf.size());
  const uint8_t one[] = {0x42};
  for (unsigned i = 0; i < 0xFFFE; ++i) ASSERT_TRUE(w.add(one)) << i;
  EXPECT_FALSE(w.add(one));  // 0xFFFF would read as end of session
  EXPECT_TRUE(w.reserve().empty());
  const auto out = w.finish();
  auto p = m::parse_packet(out);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->count(), 0xFFFE);
  EXPECT_FALSE(p->end_of_session());
  EXPECT_EQ(p->block_count(), 0xFFFE);
  EXPECT_EQ(w.next_sequence(), 1u + 0xFFFE);
}

TEST(MoldUdp64Writer, SequenceOverflowIsRefused) {
  Bytes buf(200);
  m::MoldPacketWriter w(buf, kSession, kMax - 2);
  const uint8_t one[] = {1};
  EXPECT_TRUE(w.add(one));   // kMax - 2
  EXPECT_TRUE(w.add(one));   // kMax - 1
  EXPECT_FALSE(w.add(one));  // kMax: the next sequence would be 2^64
  const auto out = w.finish();
  auto p = m::parse_packet(out);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->next_sequence(), kMax);
  EXPECT_EQ(w.next_sequence(), kMax);
  EXPECT_FALSE(w.add(one));
  const auto hb = w.heartbeat();
  auto h = m::parse_packet(hb);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->sequence(), kMax);
}

TEST(MoldUdp64Writer, ReserveAndCommitEncodeInPlace) {
  Bytes buf(1400);
  m::MoldPacketWriter w(buf, kSession, 10);
  auto room = w.reserve();
  ASSERT_EQ(room.size(), 1400u - 20);
  EXPECT_FALSE(w.commit(0));
  EXPECT_FALSE(w.commit(2));  // a prefix alone: empty message
  room[0] = 0;
  room[1] = 5;
  EXPECT_FALSE(w.commit(6));  // prefix says 5, framed 6 means 4
  EXPECT_FALSE(w.commit(room.size() + 1));
  EXPECT_TRUE(w.commit(7));
  EXPECT_EQ(w.pending(), 1);
  EXPECT_EQ(w.size(), 27u);
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEST(MoldUdp64RoundTrip, RandomShapes) {
  std::mt19937_64 rng(20240611);
  Bytes buf(70000);
  uint64_t seq = 1;
  for (int iter = 0; iter < 2000; ++iter) {
    const std::size_t max_packet = 20 + rng() % 3000;
    m::MoldPacketWriter w(buf, kSession, seq, max_packet);
    std::vector<Bytes> sent;
    const int want = static_cast<int>(rng() % 40);
    for (int k = 0; k < want; ++k) {
      const std::size_t len = (rng() % 8 == 0) ? 1 + rng() % 2000 : 1 + rng() % 64;
      Bytes msg(len);
      for (auto& c : msg) c = static_cast<uint8_t>(rng());
      const std::size_t before = w.size();
      if (w.add(msg)) {
        sent.push_back(std::move(msg));
      } else {
        EXPECT_GT(before + 2 + len, w.capacity());  // refused only when it does not fit
        EXPECT_EQ(w.size(), before);
      }
    }
    const auto out = w.finish();
    ASSERT_LE(out.size(), max_packet);
    auto r = m::parse_packet(out);
    ASSERT_TRUE(r.has_value()) << to_string(r.error());
    const MoldPacket& p = *r;
    EXPECT_EQ(p.session(), kSession);
    EXPECT_EQ(p.sequence(), seq);
    EXPECT_EQ(p.block_count(), sent.size());
    EXPECT_EQ(p.heartbeat(), sent.empty());
    std::vector<uint32_t> offs(sent.size() + 1, 0xDEAD);
    EXPECT_EQ(p.block_offsets(offs), sent.size());
    std::size_t i = 0;
    for (m::MoldBlock b : p.blocks()) {
      ASSERT_LT(i, sent.size());
      EXPECT_EQ(Bytes(b.message.begin(), b.message.end()), sent[i]);
      EXPECT_EQ(b.offset, offs[i]);
      EXPECT_EQ(b.sequence, seq + i);
      EXPECT_EQ(out[b.offset] * 256u + out[b.offset + 1], sent[i].size());
      ++i;
    }
    EXPECT_EQ(i, sent.size());
    if (!sent.empty()) {  // a sub-range starts at the right block
      const uint16_t first = static_cast<uint16_t>(rng() % sent.size());
      auto it = p.blocks(first, 1).begin();
      EXPECT_EQ((*it).offset, offs[first]);
    }
    seq += sent.size();
    EXPECT_EQ(w.next_sequence(), seq);
  }
}

TEST(MoldUdp64RoundTrip, ItchMessagesDecodeInPlace) {
  Bytes buf(1400);
  m::MoldPacketWriter w(buf, kSession, 1000);
  std::vector<uint8_t> types;
  for (int i = 0; !w.reserve().empty(); ++i) {
    const uint8_t t = itch::kAllTypes[i % 23];
    itch::Record r;
    std::memset(&r, 0, sizeof r);
    r.type = t;
    r.locate = static_cast<uint16_t>(i);
    r.timestamp = 1000 + i;
    const auto room = w.reserve();
    if (!w.commit(itch::encode_message(r, room.data(), room.size()))) break;
    types.push_back(t);
  }
  ASSERT_GT(types.size(), 20u);
  const auto out = w.finish();
  auto p = m::parse_packet(out);
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->block_count(), types.size());

  // One by one at each block's offset...
  const uint64_t base = 1u << 20;  // the packet's position in a capture
  std::size_t i = 0;
  for (m::MoldBlock b : p->blocks()) {
    itch::Record rec;
    ASSERT_EQ(itch::decode_message(p->data(), p->size(), b.offset, base, rec),
              itch::DecodeError::None);
    EXPECT_EQ(rec.type, types[i]);
    EXPECT_EQ(rec.locate, i);
    EXPECT_EQ(rec.timestamp, 1000 + i);
    EXPECT_EQ(rec.offset, base + b.offset);
    ++i;
  }
  // ...and as a batch over the gathered offsets.
  std::vector<uint32_t> offs(types.size());
  ASSERT_EQ(p->block_offsets(offs), types.size());
  std::vector<itch::Record> recs(types.size());
  EXPECT_EQ(itch::decode_batch(p->data(), p->size(), offs.data(),
                               static_cast<uint32_t>(offs.size()), 0, recs.data()),
            0u);
  for (std::size_t k = 0; k < types.size(); ++k) EXPECT_EQ(recs[k].type, types[k]);
}

// ---------------------------------------------------------------------------------------------
// Receiver

TEST(MoldUdp64Session, FirstPacketSynchronizes) {
  MoldSession s;
  EXPECT_EQ(s.state(), MoldState::Unsynchronized);
  EXPECT_TRUE(s.session().empty());
  EXPECT_EQ(s.next_expected(), 0u);
  const MoldEvent ev = feed(s, data(500, 3));
  ASSERT_TRUE(ev.ok());
  EXPECT_FALSE(ev.gap);
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{500, 0, 3, false}}));
  EXPECT_EQ(ev.delivered, 3u);
  EXPECT_EQ(s.state(), MoldState::Synchronized);
  EXPECT_EQ(s.session(), kSession);
  EXPECT_EQ(s.next_expected(), 503u);
  const MoldEvent ev2 = feed(s, data(503, 2));
  EXPECT_EQ(runs(ev2), (std::vector<MoldRun>{{503, 0, 2, false}}));
  EXPECT_EQ(s.next_expected(), 505u);
  EXPECT_EQ(s.counters().packets, 2u);
  EXPECT_EQ(s.counters().messages, 5u);
}

TEST(MoldUdp64Session, GapIsReportedWithItsExactRange) {
  MoldSession s;
  (void)feed(s, data(1, 3));
  const MoldEvent ev = feed(s, data(10, 2));
  ASSERT_TRUE(ev.ok());
  EXPECT_TRUE(ev.gap);
  EXPECT_EQ(ev.gap_range, (MoldGap{4, 10}));
  EXPECT_EQ(ev.gap_range.size(), 6u);
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{10, 0, 2, false}}));
  EXPECT_EQ(s.next_expected(), 12u);
  EXPECT_EQ(gaps(s), (std::vector<MoldGap>{{4, 10}}));
  EXPECT_EQ(s.state(), MoldState::GapFill);
  EXPECT_EQ(s.counters().gaps, 1u);
  EXPECT_EQ(s.counters().missing, 6u);
  EXPECT_EQ(s.outstanding_messages(), 6u);
}

TEST(MoldUdp64Session, ConfiguredFirstSequenceRevealsALeadingGap) {
  MoldSession s(1);
  EXPECT_EQ(s.next_expected(), 1u);
  const MoldEvent ev = feed(s, data(5, 2));
  EXPECT_TRUE(ev.gap);
  EXPECT_EQ(ev.gap_range, (MoldGap{1, 5}));
  EXPECT_EQ(gaps(s), (std::vector<MoldGap>{{1, 5}}));

  MoldSession late(10);  // joined later than the first packet: the old part is dropped
  const MoldEvent ev2 = feed(late, data(7, 5));
  EXPECT_FALSE(ev2.gap);
  EXPECT_EQ(ev2.duplicates, 3u);
  EXPECT_EQ(runs(ev2), (std::vector<MoldRun>{{10, 3, 2, false}}));
  EXPECT_TRUE(gaps(late).empty());
}

TEST(MoldUdp64Session, DuplicatesAreDropped) {
  MoldSession s;
  (void)feed(s, data(1, 5));
  const MoldEvent again = feed(s, data(1, 5));  // the other line of an A/B pair
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.run_count, 0u);
  EXPECT_EQ(again.delivered, 0u);
  EXPECT_EQ(again.duplicates, 5u);
  const MoldEvent inner = feed(s, data(2, 2));
  EXPECT_EQ(inner.duplicates, 2u);
  EXPECT_EQ(inner.run_count, 0u);
  EXPECT_EQ(s.next_expected(), 6u);
  EXPECT_EQ(s.counters().duplicates, 7u);
  EXPECT_EQ(s.counters().messages, 5u);
}

TEST(MoldUdp64Session, PartialOverlapDeliversOnlyTheNewPart) {
  MoldSession s;
  (void)feed(s, data(1, 5));
  const MoldEvent ev = feed(s, data(4, 4));  // 4, 5 seen; 6, 7 new
  ASSERT_TRUE(ev.ok());
  EXPECT_FALSE(ev.gap);
  EXPECT_EQ(ev.duplicates, 2u);
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{6, 2, 2, false}}));
  EXPECT_EQ(s.next_expected(), 8u);
}

TEST(MoldUdp64Session, RetransmissionRecoversAGap) {
  MoldSession s;
  (void)feed(s, data(1, 3));
  (void)feed(s, data(10, 1));
  ASSERT_EQ(gaps(s), (std::vector<MoldGap>{{4, 10}}));
  const MoldEvent ev = feed(s, data(4, 6));
  ASSERT_TRUE(ev.ok());
  EXPECT_FALSE(ev.gap);
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{4, 0, 6, true}}));
  EXPECT_EQ(ev.recovered, 6u);
  EXPECT_EQ(ev.duplicates, 0u);
  EXPECT_TRUE(gaps(s).empty());
  EXPECT_EQ(s.state(), MoldState::Synchronized);
  EXPECT_EQ(s.next_expected(), 11u);
  EXPECT_EQ(s.counters().recovered, 6u);
}

TEST(MoldUdp64Session, PartialFillsSplitAndShrinkRanges) {
  MoldSession s;
  (void)feed(s, data(1, 3));
  (void)feed(s, data(20, 1));  // gap [4, 20)
  // Strictly inside: split.
  MoldEvent ev = feed(s, data(8, 3));
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{8, 0, 3, true}}));
  EXPECT_EQ(gaps(s), (std::vector<MoldGap>{{4, 8}, {11, 20}}));
  // Front edge of the first range.
  ev = feed(s, data(4, 2));
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{4, 0, 2, true}}));
  EXPECT_EQ(gaps(s), (std::vector<MoldGap>{{6, 8}, {11, 20}}));
  // Back edge of the second range.
  ev = feed(s, data(18, 2));
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{18, 0, 2, true}}));
  EXPECT_EQ(gaps(s), (std::vector<MoldGap>{{6, 8}, {11, 18}}));
  // Across both, with messages already seen before, between and after them: two runs.
  ev = feed(s, data(5, 10));  // 5 dup; 6, 7 rec; 8-10 dup; 11-14 rec
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{6, 1, 2, true}, {11, 6, 4, true}}));
  EXPECT_EQ(ev.duplicates, 4u);
  EXPECT_EQ(ev.recovered, 6u);
  EXPECT_EQ(ev.delivered, 6u);
  EXPECT_EQ(gaps(s), (std::vector<MoldGap>{{15, 18}}));
  // The rest, with a live tail in the same packet.
  ev = feed(s, data(15, 9));  // 15-17 rec; 18-20 dup; 21-23 live
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{15, 0, 3, true}, {21, 6, 3, false}}));
  EXPECT_EQ(ev.duplicates, 3u);
  EXPECT_TRUE(gaps(s).empty());
  EXPECT_EQ(s.next_expected(), 24u);
  EXPECT_EQ(s.state(), MoldState::Synchronized);
  EXPECT_EQ(s.counters().recovered, 16u);
  EXPECT_EQ(s.counters().missing, 16u);
}

TEST(MoldUdp64Session, SessionMismatchDeliversNothing) {
  MoldSession s;
  (void)feed(s, data(1, 2));
  const MoldEvent ev = feed(s, data(3, 2, "OTHERSESS1"));
  EXPECT_EQ(ev.error, MoldSessionError::SessionMismatch);
  EXPECT_FALSE(ev.ok());
  EXPECT_EQ(ev.run_count, 0u);
  EXPECT_EQ(ev.delivered, 0u);
  EXPECT_EQ(s.next_expected(), 3u);
  EXPECT_EQ(s.session(), kSession);
  EXPECT_EQ(feed(s, heartbeat(9, "OTHERSESS1")).error, MoldSessionError::SessionMismatch);
  EXPECT_TRUE(gaps(s).empty());
  EXPECT_EQ(s.counters().errors, 2u);
  const MoldEvent ok = feed(s, data(3, 2));
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.delivered, 2u);

  // After reset() the next packet sets a new session.
  s.reset();
  EXPECT_EQ(s.state(), MoldState::Unsynchronized);
  const MoldEvent fresh = feed(s, data(1, 1, "OTHERSESS1"));
  EXPECT_TRUE(fresh.ok());
  EXPECT_EQ(s.session(), "OTHERSESS1");
  EXPECT_EQ(s.next_expected(), 2u);
}

TEST(MoldUdp64Session, EndOfSession) {
  MoldSession s;
  (void)feed(s, data(1, 2));
  MoldEvent ev = feed(s, end_of_session(3));
  ASSERT_TRUE(ev.ok());
  EXPECT_TRUE(ev.end_of_session);
  EXPECT_FALSE(ev.gap);
  EXPECT_EQ(s.state(), MoldState::Ended);
  // New messages after the end are refused, and so is a later sequence.
  ev = feed(s, data(3, 1));
  EXPECT_EQ(ev.error, MoldSessionError::SessionEnded);
  EXPECT_EQ(ev.delivered, 0u);
  EXPECT_EQ(feed(s, heartbeat(4)).error, MoldSessionError::SessionEnded);
  EXPECT_EQ(feed(s, end_of_session(4)).error, MoldSessionError::SessionEnded);
  EXPECT_EQ(s.next_expected(), 3u);
  // A repeated end of session and old duplicates are fine.
  EXPECT_TRUE(feed(s, end_of_session(3)).ok());
  ev = feed(s, data(1, 2));
  EXPECT_TRUE(ev.ok());
  EXPECT_EQ(ev.duplicates, 2u);
  EXPECT_EQ(ev.delivered, 0u);
  EXPECT_EQ(s.state(), MoldState::Ended);
}

TEST(MoldUdp64Session, EndOfSessionRevealsAGapThatCanStillBeRecovered) {
  MoldSession s;
  (void)feed(s, data(1, 2));
  MoldEvent ev = feed(s, end_of_session(6));
  EXPECT_TRUE(ev.end_of_session);
  EXPECT_TRUE(ev.gap);
  EXPECT_EQ(ev.gap_range, (MoldGap{3, 6}));
  EXPECT_EQ(s.state(), MoldState::Ended);
  ev = feed(s, data(3, 3));  // the retransmission server still serves the ended session
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{3, 0, 3, true}}));
  EXPECT_TRUE(gaps(s).empty());
  EXPECT_EQ(feed(s, data(5, 2)).error, MoldSessionError::SessionEnded);  // 6 is past the end
}

TEST(MoldUdp64Session, HeartbeatRevealsAGap) {
  MoldSession s;
  (void)feed(s, data(1, 2));
  MoldEvent ev = feed(s, heartbeat(3));
  EXPECT_TRUE(ev.ok());
  EXPECT_FALSE(ev.gap);
  EXPECT_EQ(ev.run_count, 0u);
  ev = feed(s, heartbeat(7));
  EXPECT_TRUE(ev.gap);
  EXPECT_EQ(ev.gap_range, (MoldGap{3, 7}));
  EXPECT_EQ(s.next_expected(), 7u);
  EXPECT_EQ(gaps(s), (std::vector<MoldGap>{{3, 7}}));
  ev = feed(s, heartbeat(5));  // stale
  EXPECT_TRUE(ev.ok());
  EXPECT_FALSE(ev.gap);
  EXPECT_EQ(s.next_expected(), 7u);
  ev = feed(s, data(3, 5));  // 3-6 recovered, 7 live
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{3, 0, 4, true}, {7, 4, 1, false}}));
  EXPECT_EQ(s.counters().heartbeats, 3u);

  // A first packet that is a heartbeat only synchronizes.
  MoldSession t;
  ev = feed(t, heartbeat(100));
  EXPECT_TRUE(ev.ok());
  EXPECT_FALSE(ev.gap);
  EXPECT_EQ(t.next_expected(), 100u);
  EXPECT_EQ(t.state(), MoldState::Synchronized);
}

TEST(MoldUdp64Session, ConsecutiveHeartbeatGapsMergeIntoOneRange) {
  MoldSession s;
  (void)feed(s, data(1, 2));
  (void)feed(s, heartbeat(7));  // [3, 7)
  const MoldEvent ev = feed(s, heartbeat(9));
  EXPECT_TRUE(ev.gap);
  EXPECT_EQ(ev.gap_range, (MoldGap{7, 9}));            // what this packet revealed
  EXPECT_EQ(gaps(s), (std::vector<MoldGap>{{3, 9}}));  // kept as one range
  EXPECT_EQ(feed(s, data(12, 1)).gap_range, (MoldGap{9, 12}));
  EXPECT_EQ(gaps(s), (std::vector<MoldGap>{{3, 12}}));
  EXPECT_EQ(s.counters().gaps, 3u);
  EXPECT_EQ(s.counters().missing, 9u);
}

TEST(MoldUdp64Session, SequencesNearTheTopDoNotOverflow) {
  MoldSession s;
  MoldEvent ev = feed(s, data(kMax - 10, 2));
  EXPECT_EQ(s.next_expected(), kMax - 8);
  ev = feed(s, data(kMax - 3, 3));  // the last three messages
  EXPECT_TRUE(ev.gap);
  EXPECT_EQ(ev.gap_range, (MoldGap{kMax - 8, kMax - 3}));
  EXPECT_EQ(s.next_expected(), kMax);
  ev = feed(s, heartbeat(kMax));
  EXPECT_TRUE(ev.ok());
  EXPECT_FALSE(ev.gap);
  ev = feed(s, data(kMax - 5, 2));
  EXPECT_EQ(runs(ev), (std::vector<MoldRun>{{kMax - 5, 0, 2, true}}));
  EXPECT_EQ(gaps(s), (std::vector<MoldGap>{{kMax - 8, kMax - 5}}));
  // A packet whose last message would pass 2^64 - 1 never reaches the receiver.
  EXPECT_EQ(parse_error(Wire().header(kMax, 1).block({1}).b), MoldError::SequenceOverflow);
  // An end of session at the top is fine.
  ev = feed(s, end_of_session(kMax));
  EXPECT_TRUE(ev.end_of_session);
}

// Builds kMoldMaxGaps outstanding ranges: [2, 10), then one-message gaps above it.
void fill_gap_table(MoldSession& s) {
  (void)feed(s, data(1, 1));
  (void)feed(s, data(10, 1));  // [2, 10)
  uint64_t next = 11;
  while (s.outstanding_gaps().size() < m::kMoldMaxGaps) {
    (void)feed(s, data(next + 1, 1));  // [next, next + 1)
    next += 2;
  }
  ASSERT_EQ(s.outstanding_gaps().size(), m::kMoldMaxGaps);
  ASSERT_EQ(s.next_expected(), next);
}

TEST(MoldUdp64Session, GapTableOverflowIsAnErrorState) {
  MoldSession s;
  fill_gap_table(s);
  const uint64_t next = s.next_expected();
  // Filling the edge of a range or a whole range needs no new slot.
  MoldEvent ev = feed(s, data(2, 1));
  EXPECT_TRUE(ev.ok());
  EXPECT_EQ(gaps(s).front(), (MoldGap{3, 10}));
  ev = feed(s, data(next, 1));  // in order: fine with a full table
  EXPECT_TRUE(ev.ok());
  // A new gap does not fit: refused, reported, state Overflowed, nothing changed.
  const auto before = gaps(s);
  ev = feed(s, data(next + 5, 1));
  EXPECT_EQ(ev.error, MoldSessionError::GapTableFull);
  EXPECT_EQ(ev.delivered, 0u);
  EXPECT_FALSE(ev.gap);
  EXPECT_EQ(s.state(), MoldState::Overflowed);
  EXPECT_EQ(gaps(s), before);
  EXPECT_EQ(s.next_expected(), next + 1);
  // Every later packet is refused until resync.
  EXPECT_EQ(feed(s, data(next + 1, 1)).error, MoldSessionError::GapTableFull);
  EXPECT_EQ(feed(s, heartbeat(next + 1)).error, MoldSessionError::GapTableFull);
  s.resync(next + 5);
  EXPECT_EQ(s.state(), MoldState::Synchronized);
  EXPECT_TRUE(gaps(s).empty());
  ev = feed(s, data(next + 5, 1));
  EXPECT_TRUE(ev.ok());
  EXPECT_EQ(ev.delivered, 1u);
}

TEST(MoldUdp64Session, SplitWithAFullTableOverflows) {
  MoldSession s;
  fill_gap_table(s);
  MoldEvent ev = feed(s, data(5, 2));  // strictly inside [2, 10)
  EXPECT_EQ(ev.error, MoldSessionError::GapTableFull);
  EXPECT_EQ(s.state(), MoldState::Overflowed);
  EXPECT_EQ(gaps(s).front(), (MoldGap{2, 10}));

  MoldSession t;
  fill_gap_table(t);
  ev = feed(t, heartbeat(t.next_expected() + 3));  // a heartbeat's gap does not fit either
  EXPECT_EQ(ev.error, MoldSessionError::GapTableFull);
  EXPECT_EQ(t.state(), MoldState::Overflowed);

  // When the newest range ends at next_expected (a heartbeat made it), a further gap extends
  // that range, so it fits a full table.
  MoldSession h;
  (void)feed(h, data(1, 1));
  uint64_t next = 2;
  while (h.outstanding_gaps().size() < m::kMoldMaxGaps - 1) {
    (void)feed(h, data(next + 1, 1));
    next += 2;
  }
  ev = feed(h, heartbeat(next + 3));  // the 32nd range
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(h.outstanding_gaps().size(), m::kMoldMaxGaps);
  ev = feed(h, heartbeat(next + 6));
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev.gap_range, (MoldGap{next + 3, next + 6}));
  ev = feed(h, data(next + 8, 1));
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev.gap_range, (MoldGap{next + 6, next + 8}));
  EXPECT_EQ(gaps(h).back(), (MoldGap{next, next + 8}));
  EXPECT_EQ(h.outstanding_gaps().size(), m::kMoldMaxGaps);
  // Now the newest range ends at a received message: the next gap needs a slot.
  EXPECT_EQ(feed(h, data(next + 10, 1)).error, MoldSessionError::GapTableFull);

  MoldSession u;
  fill_gap_table(u);
  ev = feed(u, data(2, 8));  // the whole first range: one slot freed
  EXPECT_TRUE(ev.ok());
  EXPECT_EQ(u.outstanding_gaps().size(), m::kMoldMaxGaps - 1);
  ev = feed(u, data(u.next_expected() + 2, 1));  // so a new gap fits
  EXPECT_TRUE(ev.ok());
  EXPECT_TRUE(ev.gap);
}

TEST(MoldUdp64Session, ResyncWhileUnsynchronizedSetsTheFirstSequence) {
  MoldSession s;
  s.resync(50);
  EXPECT_EQ(s.state(), MoldState::Unsynchronized);
  EXPECT_EQ(s.next_expected(), 50u);
  const MoldEvent ev = feed(s, data(53, 1));
  EXPECT_TRUE(ev.gap);
  EXPECT_EQ(ev.gap_range, (MoldGap{50, 53}));
}

// The receiver against a model that keeps the set of missing sequence numbers: over a seeded
// run of in-order, late, duplicated, overlapping and early packets and heartbeats, each event
// delivers exactly the messages the model says are new, flags the recovered ones, and the
// outstanding ranges equal the model's missing set.
TEST(MoldUdp64Session, MatchesAReferenceModel) {
  std::mt19937_64 rng(7);
  int overflows = 0;
  for (int round = 0; round < 20; ++round) {
    // Odd rounds lean forward, so gaps pile up past the table and overflow is exercised too.
    const int64_t back = round % 2 == 0 ? 28 : 8;
    MoldSession s(1);
    uint64_t next = 1;
    std::set<uint64_t> missing;
    for (int step = 0; step < 3000; ++step) {
      const int64_t delta = static_cast<int64_t>(rng() % 40) - back;
      const uint64_t seq = static_cast<uint64_t>(std::max<int64_t>(1, int64_t(next) + delta));
      const bool hb = rng() % 10 == 0;
      const unsigned n = hb ? 0 : 1 + static_cast<unsigned>(rng() % 8);
      // The model's outcome.
      std::vector<std::pair<uint64_t, bool>> want;  // delivered (sequence, recovered)
      uint32_t dups = 0;
      std::set<uint64_t> miss2 = missing;
      uint64_t next2 = next;
      if (seq > next) {
        for (uint64_t q = next; q < seq; ++q) miss2.insert(q);
      }
      for (uint64_t q = seq; q < seq + n; ++q) {
        if (q >= next) {
          want.emplace_back(q, false);
        } else if (miss2.erase(q) != 0) {
          want.emplace_back(q, true);
        } else {
          ++dups;
        }
      }
      std::sort(want.begin(), want.end());
      next2 = std::max(next, seq + n);
      std::vector<MoldGap> ranges;
      for (uint64_t q : miss2) {
        if (!ranges.empty() && ranges.back().to == q) {
          ++ranges.back().to;
        } else {
          ranges.push_back({q, q + 1});
        }
      }
      const MoldEvent ev = feed(s, hb ? heartbeat(seq) : data(seq, n));
      if (ranges.size() > m::kMoldMaxGaps) {
        ASSERT_EQ(ev.error, MoldSessionError::GapTableFull);
        ASSERT_EQ(s.state(), MoldState::Overflowed);
        ++overflows;
        s.resync(next);
        missing.clear();
        continue;
      }
      ASSERT_TRUE(ev.ok()) << step;
      std::vector<std::pair<uint64_t, bool>> got;
      for (const MoldRun& r : ev.runs()) {
        for (uint16_t k = 0; k < r.count; ++k) got.emplace_back(r.sequence + k, r.recovered);
      }
      ASSERT_EQ(got, want) << "round " << round << " step " << step;
      EXPECT_EQ(ev.duplicates, dups);
      EXPECT_EQ(ev.gap, seq > next);
      if (ev.gap) {
        EXPECT_EQ(ev.gap_range, (MoldGap{next, seq}));
      }
      missing = std::move(miss2);
      next = next2;
      ASSERT_EQ(s.next_expected(), next);
      ASSERT_EQ(gaps(s), ranges) << "round " << round << " step " << step;
    }
    const auto& c = s.counters();
    EXPECT_LE(c.recovered, c.messages);
    EXPECT_GT(c.recovered, 0u);
  }
  EXPECT_GT(overflows, 0);
}

TEST(MoldUdp64Session, StateNames) {
  std::set<std::string> names;
  for (auto st : {MoldState::Unsynchronized, MoldState::Synchronized, MoldState::GapFill,
                  MoldState::Ended, MoldState::Overflowed}) {
    names.insert(to_string(st));
  }
  EXPECT_EQ(names.size(), 5u);
}

}  // namespace
