// The MoldUDP64 fuzzer's body, shared by the libFuzzer target (moldudp64_fuzz.cpp, clang) and
// the GoogleTest that replays the committed corpus in every build (tests/market/
// moldudp64_fuzz_replay_test.cpp, g++).
//
// An input is a stream of datagrams as a hostile network could deliver them:
//   [flags: 1 byte] then chunks of [length: u16 big-endian][datagram: up to length bytes]
// flags bit 0 makes the receiver expect sequence 1 first (otherwise the first packet sets
// it). Each datagram is copied into a heap block of exactly its size (so ASan sees any read
// past it) and goes through parse_packet; every packet that parses goes through one
// MoldSession, and every block the session delivers is decoded with itch::decode_message.
//
// Rules checked (a broken one prints "sluice-fuzz: ..." and aborts): a parsed packet's blocks
// tile it exactly and block_offsets agrees with the iteration; a refused packet changes
// nothing but the error count (and Overflowed for GapTableFull); delivered plus duplicate
// messages equal the block count; runs are ascending, disjoint and inside the packet; a
// recovered run lies inside a gap that was outstanding; the live run starts at the expected
// sequence; a new gap is [expected, packet sequence); next_expected never decreases; the
// outstanding gaps stay sorted, disjoint, non-empty, below next_expected and at most
// kMoldMaxGaps, and their total changes by exactly the new gap minus the recovered messages.
//
// moldudp64_seeds() builds the seed inputs; fuzz/market/moldudp64_make_corpus.cpp writes them
// to fuzz/market/moldudp64_corpus/.
#pragma once

#include <sluice/market/itch/decode.hpp>
#include <sluice/market/itch/encode.hpp>
#include <sluice/market/moldudp64.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace sluice::fuzz {

namespace mold_detail {

using market::MoldError;
using market::MoldEvent;
using market::MoldGap;
using market::MoldPacket;
using market::MoldSession;
using market::MoldSessionError;
using market::MoldState;

[[noreturn]] inline void fail(const char* what, unsigned long long a = 0,
                              unsigned long long b = 0) {
  std::fprintf(stderr, "sluice-fuzz: %s (%llu, %llu)\n", what, a, b);
  std::fflush(stderr);
  std::abort();
}

inline void check_parsed(const MoldPacket& p, std::span<const uint8_t> bytes) {
  if (p.data() != bytes.data() || p.size() != bytes.size()) fail("packet does not view input");
  if (p.session() != std::string_view(reinterpret_cast<const char*>(bytes.data()), 10))
    fail("session bytes");
  if (p.heartbeat() || p.end_of_session()) {
    if (p.size() != market::kMoldHeaderSize) fail("control packet with data", p.size());
    if (p.block_count() != 0 || !p.blocks().empty()) fail("control packet with blocks");
    return;
  }
  if (p.count() == 0 || p.block_count() != p.count()) fail("block count", p.block_count());
  if (p.next_sequence() < p.sequence()) fail("next_sequence wrapped", p.sequence());
  std::size_t end = market::kMoldHeaderSize;
  uint32_t n = 0;
  uint32_t offsets[64];
  const uint32_t got = p.block_offsets(offsets);
  for (market::MoldBlock b : p.blocks()) {
    if (b.offset != end || b.index != n || b.sequence != p.sequence() + n) fail("block walk", n);
    if (b.message.data() != p.data() + b.offset + 2) fail("block message pointer", n);
    end += 2 + b.message.size();
    if (end > p.size()) fail("block past the end", end, p.size());
    if (n < 64 && (n >= got || offsets[n] != b.offset)) fail("block_offsets", n);
    ++n;
  }
  if (n != p.block_count() || end != p.size()) fail("blocks do not tile the packet", n, end);
  if (got != (n < 64 ? n : 64)) fail("block_offsets count", got, n);
}

inline bool inside(const MoldGap* gaps, std::size_t n, uint64_t from, uint64_t to) {
  for (std::size_t i = 0; i < n; ++i) {
    if (gaps[i].from <= from && to <= gaps[i].to) return true;
  }
  return false;
}

inline uint64_t total(std::span<const MoldGap> gaps) {
  uint64_t t = 0;
  for (const MoldGap& g : gaps) t += g.size();
  return t;
}

inline void check_gaps(const MoldSession& s) {
  const auto gaps = s.outstanding_gaps();
  if (gaps.size() > market::kMoldMaxGaps) fail("too many gaps", gaps.size());
  for (std::size_t i = 0; i < gaps.size(); ++i) {
    if (gaps[i].from >= gaps[i].to) fail("empty gap", gaps[i].from, gaps[i].to);
    if (gaps[i].to > s.next_expected()) fail("gap above next_expected", gaps[i].to);
    if (i > 0 && gaps[i - 1].to >= gaps[i].from) fail("gaps unsorted or adjacent", i);
  }
}

inline void check_event(const MoldSession& s, const MoldPacket& p, const MoldEvent& ev,
                        const MoldGap* before, std::size_t before_n, uint64_t before_total,
                        uint64_t next_before, bool was_synced, MoldState state_before) {
  if (ev.run_count > MoldEvent::kMaxRuns) fail("run count", ev.run_count);
  if (!ev.ok()) {
    if (ev.delivered != 0 || ev.run_count != 0 || ev.gap || ev.recovered != 0)
      fail("a refused packet delivered");
    if (s.next_expected() != next_before) fail("a refused packet moved next_expected");
    if (s.outstanding_gaps().size() != before_n || total(s.outstanding_gaps()) != before_total)
      fail("a refused packet changed the gaps");
    if ((ev.error == MoldSessionError::GapTableFull) != (s.state() == MoldState::Overflowed))
      fail("GapTableFull without Overflowed");
    if (ev.error == MoldSessionError::GapTableFull && state_before != MoldState::Overflowed &&
        before_n != market::kMoldMaxGaps)
      fail("GapTableFull with room left", before_n);
    if (ev.error == MoldSessionError::SessionEnded && state_before != MoldState::Ended)
      fail("SessionEnded before the end");
    if (ev.error != MoldSessionError::SessionMismatch &&
        ev.error != MoldSessionError::SessionEnded && ev.error != MoldSessionError::GapTableFull)
      fail("error out of range", static_cast<unsigned>(ev.error));
    return;
  }
  if (state_before == MoldState::Overflowed) fail("an overflowed session accepted a packet");
  if (s.next_expected() < next_before && was_synced)
    fail("next_expected decreased", s.next_expected(), next_before);
  uint32_t delivered = 0;
  uint32_t recovered = 0;
  uint32_t end = 0;
  for (std::size_t i = 0; i < ev.run_count; ++i) {
    const market::MoldRun& r = ev.run_list[i];
    if (r.count == 0) fail("empty run", i);
    if (r.first_block < end) fail("runs overlap or go backwards", i);
    end = uint32_t{r.first_block} + r.count;
    if (end > p.block_count()) fail("run past the packet", end, p.block_count());
    if (r.sequence != p.sequence() + r.first_block) fail("run sequence", r.sequence);
    delivered += r.count;
    if (r.recovered) {
      recovered += r.count;
      if (!inside(before, before_n, r.sequence, r.sequence + r.count))
        fail("recovered run outside the outstanding gaps", r.sequence, r.count);
    } else {
      if (i + 1 != ev.run_count) fail("live run not last", i);
      if (r.sequence + r.count != s.next_expected()) fail("live run does not end at next");
    }
  }
  if (delivered != ev.delivered || recovered != ev.recovered) fail("event totals", delivered);
  if (delivered + ev.duplicates != p.block_count())
    fail("delivered + duplicates != blocks", delivered + ev.duplicates, p.block_count());
  uint64_t grown = 0;
  if (ev.gap) {
    if (ev.gap_range.from >= ev.gap_range.to) fail("empty gap reported");
    if (ev.gap_range.to != p.sequence()) fail("gap does not end at the packet", ev.gap_range.to);
    if (was_synced && ev.gap_range.from != next_before) fail("gap does not start at next");
    grown = ev.gap_range.size();
  }
  const uint64_t after = total(s.outstanding_gaps());
  if (after != before_total + grown - recovered) fail("gap total", after, before_total);
  if (ev.end_of_session != p.end_of_session()) fail("end_of_session flag");
  if (p.end_of_session() && s.state() != MoldState::Ended) fail("not Ended after end of session");
}

// Decodes every delivered block in place, as a feed handler would.
inline void decode_delivered(const MoldPacket& p, const MoldEvent& ev) {
  for (const market::MoldRun& r : ev.runs()) {
    for (market::MoldBlock b : p.blocks(r.first_block, r.count)) {
      market::itch::Record rec;
      const auto e = market::itch::decode_message(p.data(), p.size(), b.offset, 0, rec);
      if (rec.offset != b.offset) fail("record offset", rec.offset, b.offset);
      if (e == market::itch::DecodeError::None && rec.length != b.message.size())
        fail("record length", rec.length, b.message.size());
      if (e == market::itch::DecodeError::Truncated) fail("a validated block decoded truncated");
    }
  }
}

}  // namespace mold_detail

inline int moldudp64(const uint8_t* data, std::size_t size) {
  using namespace mold_detail;
  if (size == 0) return 0;
  MoldSession session = (data[0] & 1) ? MoldSession(1) : MoldSession();
  std::size_t i = 1;
  while (i + 2 <= size) {
    std::size_t len = (std::size_t{data[i]} << 8) | data[i + 1];
    i += 2;
    if (len > size - i) len = size - i;
    // Exactly sized, so a read past the datagram is a heap overflow ASan reports.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len == 0 ? 1 : len]);
    if (len != 0) std::memcpy(buf.get(), data + i, len);
    i += len;
    const std::span<const uint8_t> bytes(buf.get(), len);
    auto r = market::parse_packet(bytes);
    if (!r) {
      const MoldError e = r.error();
      if (static_cast<unsigned>(e) < 1 || static_cast<unsigned>(e) > 8)
        fail("parse error out of range", static_cast<unsigned>(e));
      if ((e == MoldError::TooShort) != (len < market::kMoldHeaderSize)) fail("TooShort", len);
      if (to_string(e)[0] == '?') fail("unnamed error");
      continue;
    }
    const MoldPacket& p = *r;
    check_parsed(p, bytes);

    MoldGap before[market::kMoldMaxGaps];
    const auto gaps = session.outstanding_gaps();
    std::copy(gaps.begin(), gaps.end(), before);
    const std::size_t before_n = gaps.size();
    const uint64_t before_total = total(gaps);
    const MoldState state_before = session.state();
    const bool was_synced = state_before != MoldState::Unsynchronized;
    const uint64_t next_before = session.next_expected();
    const uint64_t errors_before = session.counters().errors;

    const MoldEvent ev = session.on_packet(p);
    if (!was_synced && !ev.ok()) fail("the first packet was refused");
    if (session.counters().errors != errors_before + !ev.ok()) fail("error counter");
    check_event(session, p, ev, before, before_n, before_total, next_before, was_synced,
                state_before);
    check_gaps(session);
    if (to_string(session.state())[0] == '?') fail("unnamed state");
    decode_delivered(p, ev);
  }
  const auto& c = session.counters();
  if (c.recovered > c.messages) fail("recovered > messages", c.recovered, c.messages);
  return 0;
}

// ---- seeds

namespace mold_detail {

struct Stream {
  std::vector<uint8_t> bytes;
  explicit Stream(uint8_t flags) { bytes.push_back(flags); }
  Stream& packet(std::span<const uint8_t> p) {
    bytes.push_back(static_cast<uint8_t>(p.size() >> 8));
    bytes.push_back(static_cast<uint8_t>(p.size()));
    bytes.insert(bytes.end(), p.begin(), p.end());
    return *this;
  }
};

// A valid ITCH message of type t (prefix included) for sequence `seq`.
inline std::size_t itch_message(uint8_t t, uint64_t seq, uint8_t* out, std::size_t cap) {
  market::itch::Record r;
  std::memset(&r, 0, sizeof r);
  r.type = t;
  r.locate = static_cast<uint16_t>(seq);
  r.tracking = 7;
  r.timestamp = 34200000000000ull + seq;
  if (t == 'A') {
    r.body.add.order_ref = seq;
    r.body.add.side = 'B';
    r.body.add.shares = 100;
    std::memcpy(r.body.add.stock, "MSFT    ", 8);
    r.body.add.price = 1234500;
  } else if (t == 'S') {
    r.body.system_event.event_code = 'O';
  } else if (t == 'D') {
    r.body.del.order_ref = seq;
  }
  return market::itch::encode_message(r, out, cap);
}

// A packet of n ITCH messages (cycling A, D, S) from sequence seq.
inline std::vector<uint8_t> data_packet(std::string_view session, uint64_t seq, unsigned n) {
  std::vector<uint8_t> buf(1400);
  market::MoldPacketWriter w(buf, session, seq);
  static constexpr uint8_t kTypes[3] = {'A', 'D', 'S'};
  for (unsigned k = 0; k < n; ++k) {
    const auto room = w.reserve();
    if (!w.commit(itch_message(kTypes[k % 3], seq + k, room.data(), room.size()))) break;
  }
  const auto out = w.finish();
  return {out.begin(), out.end()};
}

inline std::vector<uint8_t> control_packet(std::string_view session, uint64_t seq, bool end) {
  std::vector<uint8_t> buf(64);
  market::MoldPacketWriter w(buf, session, seq);
  const auto out = end ? w.end_of_session() : w.heartbeat();
  return {out.begin(), out.end()};
}

}  // namespace mold_detail

inline std::vector<std::vector<uint8_t>> moldudp64_seeds() {
  using namespace mold_detail;
  constexpr std::string_view kS = "NASDAQ0001";
  std::vector<std::vector<uint8_t>> seeds;
  const auto one = [&](std::span<const uint8_t> p, uint8_t flags = 0) {
    seeds.push_back(Stream(flags).packet(p).bytes);
  };
  one(data_packet(kS, 1, 3));              // a valid packet
  one(control_packet(kS, 1, false));       // heartbeat
  one(control_packet(kS, 42, true));       // end of session
  auto truncated = data_packet(kS, 1, 2);  // last block cut short
  truncated.erase(truncated.end() - 5, truncated.end());
  one(truncated);
  auto missing = data_packet(kS, 1, 2);  // Count says 3
  missing[19] = 3;
  one(missing);
  auto trailing = data_packet(kS, 1, 2);
  trailing.push_back(0);
  one(trailing);
  auto overflow = data_packet(kS, ~uint64_t{0} - 1, 2);  // fits; then the count is raised
  overflow[19] = 3;
  overflow.insert(overflow.end(), {0, 1, 'S'});
  one(overflow);
  auto hb_data = control_packet(kS, 5, false);
  hb_data.push_back('x');
  one(hb_data);
  const auto whole = data_packet(kS, 1, 1);
  one(std::span<const uint8_t>(whole).first(15));  // cut inside the header
  {                                                // garbage
    std::vector<uint8_t> g(300);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (auto& b : g) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b = static_cast<uint8_t>(x);
    }
    seeds.push_back(g);
  }
  {  // a day in miniature: in order, a gap, retransmissions filling it in pieces, duplicates,
     // a heartbeat revealing a gap, end of session, then a packet past the end
    Stream s(1);
    s.packet(data_packet(kS, 1, 4));
    s.packet(data_packet(kS, 5, 3));
    s.packet(data_packet(kS, 20, 2));         // gap [8, 20)
    s.packet(data_packet(kS, 12, 3));         // splits it: [8, 12) and [15, 20)
    s.packet(data_packet(kS, 6, 4));          // 6, 7 duplicates; 8, 9 recovered
    s.packet(data_packet(kS, 10, 12));        // fills [10, 12), [15, 20); 12-14 and 20, 21 dups; 22
    s.packet(control_packet(kS, 30, false));  // gap [23, 30)
    s.packet(data_packet(kS, 23, 7));
    s.packet(control_packet(kS, 30, true));
    s.packet(data_packet(kS, 30, 1));  // refused: ended
    seeds.push_back(s.bytes);
  }
  {  // session mismatch
    Stream s(0);
    s.packet(data_packet(kS, 100, 2));
    s.packet(data_packet("OTHER00001", 102, 2));
    s.packet(data_packet(kS, 102, 2));
    seeds.push_back(s.bytes);
  }
  {  // more gaps than the table holds
    Stream s(0);
    for (uint64_t k = 0; k < market::kMoldMaxGaps + 2; ++k) s.packet(data_packet(kS, 1 + 3 * k, 1));
    s.packet(data_packet(kS, 2, 1));
    seeds.push_back(s.bytes);
  }
  return seeds;
}

}  // namespace sluice::fuzz
