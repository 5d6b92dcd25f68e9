// MoldUDP64, NASDAQ's sequenced UDP framing for ITCH feeds: a packet parser, a receiver that
// tracks sequence numbers, and a packet writer for producers.
//
// Downstream packet, integers big-endian:
//   Session (10 bytes ASCII) | Sequence Number (8) | Message Count (2) |
//   Count blocks of [Message Length (2)][message]
// The sequence is that of the first message in the packet. Count 0 is a heartbeat and Count
// 0xFFFF the end of the session: neither carries blocks, and both give the sequence the sender
// will use next.
//
// Why validate every block up front: a datagram comes from the network, so parse_packet walks
// the whole length chain once and only a packet whose blocks tile it exactly becomes a
// MoldPacket; iterating its blocks afterwards needs no bounds checks. Each block's offset is
// that of its length prefix from the packet start, the convention of itch::decode_message and
// itch::decode_batch, so a block decodes in place.
//
// Why the receiver reports runs: a retransmitted packet can straddle outstanding gaps and
// messages already seen, so what it delivers need not be contiguous. MoldEvent lists the
// delivered block ranges (at most one per outstanding gap plus the live tail), so nothing is
// delivered twice and nothing missing is skipped without a reported gap.
//
// Header-only, allocation-free, no exceptions: a feed handler calls this per datagram.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <span>
#include <string_view>

#include "../runtime/result.hpp"

namespace sluice::market {

inline constexpr std::size_t kMoldHeaderSize = 20;
inline constexpr std::size_t kMoldSessionSize = 10;
inline constexpr std::size_t kMoldLengthSize = 2;  // each block's length prefix
inline constexpr uint16_t kMoldHeartbeatCount = 0;
inline constexpr uint16_t kMoldEndOfSessionCount = 0xFFFF;
inline constexpr uint16_t kMoldMaxBlocks = 0xFFFE;  // the largest Count that means messages
// A payload that fits a 1500-byte Ethernet MTU after IP/UDP headers, with margin for tunnels.
inline constexpr std::size_t kMoldDefaultMaxPacket = 1400;
// Outstanding gaps a MoldSession tracks; one more is an error state, never a silent loss.
inline constexpr std::size_t kMoldMaxGaps = 32;

// Why parse_packet refused a datagram. Checked in this order: size, Count, sequence, blocks.
enum class MoldError : uint8_t {
  TooShort = 1,          // fewer than the 20 header bytes
  TooLarge,              // over 4 GiB: block offsets are 32-bit
  HeartbeatWithData,     // Count 0 (heartbeat) with bytes after the header
  EndOfSessionWithData,  // Count 0xFFFF (end of session) with bytes after the header
  SequenceOverflow,      // Sequence + Count passes 2^64 - 1
  BlockTruncated,        // a block's length prefix or message runs past the packet end
  MissingBlocks,         // the packet ends on a block boundary before Count blocks
  TrailingBytes,         // bytes after the last of Count blocks
};

inline const char* to_string(MoldError e) noexcept {
  switch (e) {
    case MoldError::TooShort:
      return "packet shorter than the MoldUDP64 header";
    case MoldError::TooLarge:
      return "packet larger than 4 GiB";
    case MoldError::HeartbeatWithData:
      return "heartbeat with bytes after the header";
    case MoldError::EndOfSessionWithData:
      return "end of session with bytes after the header";
    case MoldError::SequenceOverflow:
      return "sequence number plus count overflows";
    case MoldError::BlockTruncated:
      return "message block runs past the end of the packet";
    case MoldError::MissingBlocks:
      return "fewer message blocks than the count";
    case MoldError::TrailingBytes:
      return "bytes after the last message block";
  }
  return "?";
}

namespace detail {

inline uint16_t mold_be16(const uint8_t* p) noexcept {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}
inline uint64_t mold_be64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
inline void mold_put16(uint8_t* p, uint16_t v) noexcept {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, 2);
}
inline void mold_put64(uint8_t* p, uint64_t v) noexcept {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

}  // namespace detail

// One message block of a parsed packet.
struct MoldBlock {
  std::span<const uint8_t> message;  // the message bytes, length prefix excluded
  uint32_t offset = 0;               // of the block's length prefix, from the packet start
  uint16_t index = 0;                // position in the packet, from 0
  uint64_t sequence = 0;             // the message's sequence number
};

// Walks the blocks of a validated packet; compares equal to std::default_sentinel at the end.
class MoldBlockIterator {
 public:
  using value_type = MoldBlock;
  using difference_type = std::ptrdiff_t;

  MoldBlockIterator() = default;

  MoldBlock operator*() const noexcept {
    const uint16_t len = detail::mold_be16(data_ + off_);
    return MoldBlock{{data_ + off_ + kMoldLengthSize, len}, off_, index_, first_seq_ + index_};
  }
  MoldBlockIterator& operator++() noexcept {
    off_ += static_cast<uint32_t>(kMoldLengthSize + detail::mold_be16(data_ + off_));
    ++index_;
    --left_;
    return *this;
  }
  MoldBlockIterator operator++(int) noexcept {
    MoldBlockIterator old = *this;
    ++*this;
    return old;
  }
  friend bool operator==(const MoldBlockIterator& it, std::default_sentinel_t) noexcept {
    return it.left_ == 0;
  }

 private:
  friend class MoldPacket;
  MoldBlockIterator(const uint8_t* data, uint32_t off, uint16_t index, uint32_t left,
                    uint64_t first_seq) noexcept
      : data_(data), first_seq_(first_seq), off_(off), left_(left), index_(index) {}

  const uint8_t* data_ = nullptr;
  uint64_t first_seq_ = 0;  // the packet's sequence: block i is first_seq_ + i
  uint32_t off_ = 0;
  uint32_t left_ = 0;
  uint16_t index_ = 0;
};

static_assert(std::input_iterator<MoldBlockIterator> &&
              std::sentinel_for<std::default_sentinel_t, MoldBlockIterator>);

// A run of blocks, for range-for.
class MoldBlockRange {
 public:
  MoldBlockIterator begin() const noexcept { return first_; }
  std::default_sentinel_t end() const noexcept { return {}; }
  uint32_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  friend class MoldPacket;
  MoldBlockRange(MoldBlockIterator first, uint32_t size) noexcept : first_(first), size_(size) {}
  MoldBlockIterator first_;
  uint32_t size_;
};

class MoldPacket;
inline Result<MoldPacket, MoldError> parse_packet(std::span<const uint8_t> bytes) noexcept;

// A packet that passed parse_packet: its blocks tile it exactly. It views the caller's bytes
// (no copy), which must outlive it.
class MoldPacket {
 public:
  std::span<const uint8_t> bytes() const noexcept { return {data_, size_}; }
  const uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

  // The 10 session bytes as on the wire (ASCII, usually space-padded).
  std::string_view session() const noexcept {
    return {reinterpret_cast<const char*>(data_), kMoldSessionSize};
  }
  // Of the first message; for a heartbeat or end of session, the sender's next sequence.
  uint64_t sequence() const noexcept { return sequence_; }
  // Message Count as on the wire (0xFFFF for the end of the session).
  uint16_t count() const noexcept { return count_; }
  bool heartbeat() const noexcept { return count_ == kMoldHeartbeatCount; }
  bool end_of_session() const noexcept { return count_ == kMoldEndOfSessionCount; }
  // Message blocks carried: 0 for a heartbeat and the end of the session.
  uint16_t block_count() const noexcept { return end_of_session() ? 0 : count_; }
  // The sequence after the packet's last message (never overflows: parse_packet checked it).
  uint64_t next_sequence() const noexcept { return sequence_ + block_count(); }

  // Every block, in order.
  MoldBlockRange blocks() const noexcept { return blocks(0, block_count()); }
  // Blocks [first, first + n), clipped to the packet; walks the length chain up to `first`.
  MoldBlockRange blocks(uint16_t first, uint32_t n) const noexcept {
    const uint16_t total = block_count();
    if (first >= total) return {MoldBlockIterator(data_, size_, total, 0, sequence_), 0};
    MoldBlockIterator it(data_, static_cast<uint32_t>(kMoldHeaderSize), 0, total, sequence_);
    for (uint16_t i = 0; i < first; ++i) ++it;
    n = std::min<uint32_t>(n, total - first);
    it.left_ = n;
    return {it, n};
  }

  // Writes the offsets of blocks first, first + 1, ... into `out` (as many as fit and exist)
  // for itch::decode_batch; returns how many.
  uint32_t block_offsets(std::span<uint32_t> out, uint16_t first = 0) const noexcept {
    uint32_t n = 0;
    for (MoldBlock b : blocks(first, static_cast<uint32_t>(std::min<std::size_t>(
                                         out.size(), std::numeric_limits<uint32_t>::max())))) {
      out[n++] = b.offset;
    }
    return n;
  }

 private:
  friend Result<MoldPacket, MoldError> parse_packet(std::span<const uint8_t> bytes) noexcept;
  MoldPacket(const uint8_t* data, uint32_t size, uint64_t sequence, uint16_t count) noexcept
      : data_(data), sequence_(sequence), size_(size), count_(count) {}

  const uint8_t* data_;
  uint64_t sequence_;
  uint32_t size_;
  uint16_t count_;
};

// Validates the header and every block of a datagram. Reads nothing outside `bytes`.
inline Result<MoldPacket, MoldError> parse_packet(std::span<const uint8_t> bytes) noexcept {
  const std::size_t size = bytes.size();
  if (size < kMoldHeaderSize) return err(MoldError::TooShort);
  if (size > std::numeric_limits<uint32_t>::max()) return err(MoldError::TooLarge);
  const uint8_t* p = bytes.data();
  const uint64_t seq = detail::mold_be64(p + kMoldSessionSize);
  const uint16_t count = detail::mold_be16(p + kMoldSessionSize + 8);
  const MoldPacket packet(p, static_cast<uint32_t>(size), seq, count);
  if (count == kMoldHeartbeatCount || count == kMoldEndOfSessionCount) {
    if (size != kMoldHeaderSize) {
      return err(count == kMoldHeartbeatCount ? MoldError::HeartbeatWithData
                                              : MoldError::EndOfSessionWithData);
    }
    return packet;
  }
  if (count > std::numeric_limits<uint64_t>::max() - seq) return err(MoldError::SequenceOverflow);
  std::size_t off = kMoldHeaderSize;
  for (uint16_t i = 0; i < count; ++i) {
    const std::size_t left = size - off;
    if (left == 0) return err(MoldError::MissingBlocks);
    if (left < kMoldLengthSize) return err(MoldError::BlockTruncated);
    const std::size_t len = detail::mold_be16(p + off);
    if (len > left - kMoldLengthSize) return err(MoldError::BlockTruncated);
    off += kMoldLengthSize + len;
  }
  if (off != size) return err(MoldError::TrailingBytes);
  return packet;
}

// ---------------------------------------------------------------------------------------------
// Receiver

// A missing range of sequence numbers, [from, to).
struct MoldGap {
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t size() const noexcept { return to - from; }
  friend bool operator==(const MoldGap&, const MoldGap&) = default;
};

// Blocks [first_block, first_block + count) of the packet, to be delivered.
struct MoldRun {
  uint64_t sequence = 0;  // of the run's first message
  uint16_t first_block = 0;
  uint16_t count = 0;
  bool recovered = false;  // the messages fill an outstanding gap (a retransmission)
  friend bool operator==(const MoldRun&, const MoldRun&) = default;
};

// Why a MoldSession refused a packet (it delivered nothing and its state is unchanged, except
// for GapTableFull, which leaves it Overflowed).
enum class MoldSessionError : uint8_t {
  None = 0,
  SessionMismatch,  // the packet's session is not the one the first packet set
  SessionEnded,     // new messages (or a later sequence) after the end of the session
  GapTableFull,     // a new gap or a split one needs more than kMoldMaxGaps ranges
};

inline const char* to_string(MoldSessionError e) noexcept {
  switch (e) {
    case MoldSessionError::None:
      return "none";
    case MoldSessionError::SessionMismatch:
      return "packet from another MoldUDP64 session";
    case MoldSessionError::SessionEnded:
      return "new messages after the end of the session";
    case MoldSessionError::GapTableFull:
      return "too many outstanding gaps";
  }
  return "?";
}

enum class MoldState : uint8_t {
  Unsynchronized,  // no packet yet: the first one sets the session and the sequence
  Synchronized,    // in sequence, nothing outstanding
  GapFill,         // live, with outstanding gaps awaiting retransmission
  Ended,           // end of session seen: only retransmissions into gaps are taken
  Overflowed,      // the gap table overflowed: every packet is refused until resync or reset
};

inline const char* to_string(MoldState s) noexcept {
  switch (s) {
    case MoldState::Unsynchronized:
      return "unsynchronized";
    case MoldState::Synchronized:
      return "synchronized";
    case MoldState::GapFill:
      return "gap fill";
    case MoldState::Ended:
      return "ended";
    case MoldState::Overflowed:
      return "overflowed";
  }
  return "?";
}

// What one packet did. Deliver the blocks of runs() in order; everything else is information.
struct MoldEvent {
  // One run per outstanding gap the packet fills, plus the live tail.
  static constexpr std::size_t kMaxRuns = kMoldMaxGaps + 1;

  MoldSessionError error = MoldSessionError::None;
  bool gap = false;             // the packet revealed a new missing range: gap_range
  bool end_of_session = false;  // the packet is an end of session
  MoldGap gap_range;
  uint32_t delivered = 0;   // messages in runs()
  uint32_t recovered = 0;   // of which fill outstanding gaps
  uint32_t duplicates = 0;  // messages dropped as already delivered
  uint32_t run_count = 0;
  MoldRun run_list[kMaxRuns];

  bool ok() const noexcept { return error == MoldSessionError::None; }
  std::span<const MoldRun> runs() const noexcept { return {run_list, run_count}; }
};

// Totals over the receiver's life (reset() and resync() keep them).
struct MoldCounters {
  uint64_t packets = 0;     // accepted (heartbeats and end of session included)
  uint64_t heartbeats = 0;  // of which heartbeats
  uint64_t messages = 0;    // delivered, recovered ones included
  uint64_t duplicates = 0;  // messages dropped as already delivered
  uint64_t gaps = 0;        // gap events (MoldEvent::gap): a heartbeat that extends the newest
                            // outstanding range counts as one more
  uint64_t missing = 0;     // messages in those ranges
  uint64_t recovered = 0;   // messages delivered into outstanding gaps
  uint64_t errors = 0;      // packets refused
};

// Sequence tracking for one MoldUDP64 stream (one session, one line or an A/B arbitrated pair).
// A packet ahead of the expected sequence opens a gap (reported once, then kept outstanding
// until retransmitted messages fill it); a packet behind it delivers only what fills gaps.
class MoldSession {
 public:
  // The first packet sets the session and the expected sequence.
  MoldSession() noexcept = default;
  // The first packet sets the session; messages from `first_sequence` on are expected (a
  // first packet beyond it reports the gap in front of it).
  explicit MoldSession(uint64_t first_sequence) noexcept
      : first_(first_sequence), has_first_(true) {}

  // Classifies the packet's messages (delivered, recovered, duplicate) and updates the gaps.
  MoldEvent on_packet(const MoldPacket& p) noexcept {
    MoldEvent ev;  // one return of the named object: no copy of the run array
    apply(ev, p);
    return ev;
  }

  MoldState state() const noexcept {
    switch (state_) {
      case State::Unsynchronized:
        return MoldState::Unsynchronized;
      case State::Live:
        return gap_count_ == 0 ? MoldState::Synchronized : MoldState::GapFill;
      case State::Ended:
        return MoldState::Ended;
      case State::Overflowed:
        return MoldState::Overflowed;
    }
    return MoldState::Overflowed;
  }
  // The 10 session bytes the first packet set; empty while unsynchronized.
  std::string_view session() const noexcept {
    return state_ == State::Unsynchronized ? std::string_view{}
                                           : std::string_view{session_, kMoldSessionSize};
  }
  // The sequence of the next live message; 0 while unsynchronized without a first sequence.
  uint64_t next_expected() const noexcept {
    return state_ == State::Unsynchronized ? (has_first_ ? first_ : 0) : next_;
  }
  // Missing ranges not yet filled: ascending, disjoint, never adjacent, below next_expected().
  std::span<const MoldGap> outstanding_gaps() const noexcept { return {gaps_, gap_count_}; }
  uint64_t outstanding_messages() const noexcept {
    uint64_t n = 0;
    for (std::size_t i = 0; i < gap_count_; ++i) n += gaps_[i].size();
    return n;
  }
  const MoldCounters& counters() const noexcept { return counters_; }

  // After a snapshot: forget outstanding gaps and expect `next_sequence`. Clears Overflowed;
  // an ended session stays ended. While unsynchronized, the first packet keeps setting the
  // session and `next_sequence` is expected first.
  void resync(uint64_t next_sequence) noexcept {
    gap_count_ = 0;
    if (state_ == State::Unsynchronized) {
      first_ = next_sequence;
      has_first_ = true;
      return;
    }
    next_ = next_sequence;
    if (state_ == State::Overflowed) state_ = State::Live;
  }
  // Back to unsynchronized (a new session follows); a first sequence given at construction or
  // by resync() while unsynchronized is expected again. Counters are kept.
  void reset() noexcept {
    state_ = State::Unsynchronized;
    gap_count_ = 0;
    next_ = 0;
  }

 private:
  enum class State : uint8_t { Unsynchronized, Live, Ended, Overflowed };

  void apply(MoldEvent& ev, const MoldPacket& p) noexcept {
    if (state_ == State::Overflowed) return refuse(ev, MoldSessionError::GapTableFull);
    if (state_ == State::Unsynchronized) {
      std::memcpy(session_, p.data(), kMoldSessionSize);
      next_ = has_first_ ? first_ : p.sequence();
      state_ = State::Live;
    } else if (std::memcmp(session_, p.data(), kMoldSessionSize) != 0) {
      return refuse(ev, MoldSessionError::SessionMismatch);
    }
    const uint64_t s = p.sequence();
    if (p.block_count() == 0) {  // heartbeat or end of session: s is the sender's next sequence
      if (s > next_) {
        if (state_ == State::Ended) return refuse(ev, MoldSessionError::SessionEnded);
        if (gap_count_ == kMoldMaxGaps && new_gap_needs_slot()) return overflow(ev);
        open_gap(ev, s);
      }
      ev.end_of_session = p.end_of_session();
      if (ev.end_of_session) state_ = State::Ended;
      ++counters_.packets;
      counters_.heartbeats += p.heartbeat();
      return;
    }
    const uint64_t e = p.next_sequence();  // parse_packet guaranteed s + count fits
    if (state_ == State::Ended && e > next_) return refuse(ev, MoldSessionError::SessionEnded);
    if (gap_count_ == kMoldMaxGaps && needs_gap_slot(s, e)) return overflow(ev);
    ++counters_.packets;
    if (s < next_) fill(ev, s, std::min(e, next_));
    if (s > next_) open_gap(ev, s);
    if (e > next_) {  // the live tail; next_ >= s here
      push_run(ev, next_, static_cast<uint16_t>(next_ - s), static_cast<uint16_t>(e - next_),
               false);
      next_ = e;
    }
    counters_.messages += ev.delivered;
    counters_.duplicates += ev.duplicates;
    counters_.recovered += ev.recovered;
  }

  void refuse(MoldEvent& ev, MoldSessionError e) noexcept {
    ev.error = e;
    ++counters_.errors;
  }
  void overflow(MoldEvent& ev) noexcept {
    state_ = State::Overflowed;
    refuse(ev, MoldSessionError::GapTableFull);
  }

  // Whether a new gap [next_, s) takes a slot: not when it extends the newest one (a
  // heartbeat moved next_ without any message arriving at it).
  bool new_gap_needs_slot() const noexcept {
    return gap_count_ == 0 || gaps_[gap_count_ - 1].to != next_;
  }

  // [next_, s) is missing: record it (the caller checked there is room) and move past it.
  void open_gap(MoldEvent& ev, uint64_t s) noexcept {
    if (new_gap_needs_slot()) {
      gaps_[gap_count_++] = MoldGap{next_, s};
    } else {
      gaps_[gap_count_ - 1].to = s;
    }
    ev.gap = true;
    ev.gap_range = MoldGap{next_, s};
    ++counters_.gaps;
    counters_.missing += s - next_;
    next_ = s;
  }

  // Whether a packet [s, e) needs one more gap range: a new gap in front of it (unless it
  // extends the newest), or an outstanding gap that it falls strictly inside (split in two).
  // Filling several gaps or the edge of one never needs more.
  bool needs_gap_slot(uint64_t s, uint64_t e) const noexcept {
    if (s > next_) return new_gap_needs_slot();
    const uint64_t end = std::min(e, next_);
    for (std::size_t i = 0; i < gap_count_; ++i) {
      if (gaps_[i].from < s && end < gaps_[i].to) return true;
    }
    return false;
  }

  void push_run(MoldEvent& ev, uint64_t seq, uint16_t first_block, uint16_t n,
                bool recovered) noexcept {
    if (ev.run_count < MoldEvent::kMaxRuns) {  // bounded by construction; never drops
      ev.run_list[ev.run_count++] = MoldRun{seq, first_block, n, recovered};
    }
    ev.delivered += n;
    if (recovered) ev.recovered += n;
  }

  // The packet's messages [s, end), all below next_: those inside outstanding gaps are
  // delivered (and cut out of the gaps), the rest are duplicates.
  void fill(MoldEvent& ev, uint64_t s, uint64_t end) noexcept {
    uint64_t cur = s;  // first sequence not yet classified
    std::size_t i = 0;
    while (i < gap_count_ && cur < end) {
      MoldGap& g = gaps_[i];
      if (g.to <= cur) {
        ++i;
        continue;
      }
      if (g.from >= end) break;
      const uint64_t a = std::max(cur, g.from);
      const uint64_t b = std::min(end, g.to);
      ev.duplicates += static_cast<uint32_t>(a - cur);
      push_run(ev, a, static_cast<uint16_t>(a - s), static_cast<uint16_t>(b - a), true);
      if (a == g.from && b == g.to) {
        std::copy(gaps_ + i + 1, gaps_ + gap_count_, gaps_ + i);
        --gap_count_;
      } else if (a == g.from) {
        g.from = b;
        ++i;
      } else if (b == g.to) {
        g.to = a;
        ++i;
      } else {  // strictly inside: split (needs_gap_slot made room)
        std::copy_backward(gaps_ + i + 1, gaps_ + gap_count_, gaps_ + gap_count_ + 1);
        gaps_[i + 1] = MoldGap{b, g.to};
        g.to = a;
        ++gap_count_;
        i += 2;
      }
      cur = b;
    }
    ev.duplicates += static_cast<uint32_t>(end - cur);
  }

  MoldGap gaps_[kMoldMaxGaps];
  std::size_t gap_count_ = 0;
  uint64_t next_ = 0;
  uint64_t first_ = 0;
  MoldCounters counters_;
  char session_[kMoldSessionSize] = {};
  bool has_first_ = false;
  State state_ = State::Unsynchronized;
};

// ---------------------------------------------------------------------------------------------
// Writer

// Builds packets in a caller's buffer: add messages, then finish() writes the header and
// returns the packet. A returned packet stays valid until the next call that writes.
class MoldPacketWriter {
 public:
  // `session` is right-padded with spaces to 10 bytes (longer is cut to 10). Packets are at
  // most min(buffer.size(), max_packet) bytes; below 20 bytes nothing can be written (add()
  // refuses, the packet calls return an empty span).
  MoldPacketWriter(std::span<uint8_t> buffer, std::string_view session, uint64_t first_sequence,
                   std::size_t max_packet = kMoldDefaultMaxPacket) noexcept
      : buf_(buffer.data()), cap_(std::min(buffer.size(), max_packet)), seq_(first_sequence) {
    if (cap_ < kMoldHeaderSize) cap_ = 0;
    std::memset(session_, ' ', kMoldSessionSize);
    if (!session.empty()) {
      std::memcpy(session_, session.data(), std::min(session.size(), kMoldSessionSize));
    }
  }

  // Appends one message (1 to 65535 bytes). False, with nothing written, when it does not fit,
  // the count is at 0xFFFE, or its sequence number would overflow.
  bool add(std::span<const uint8_t> message) noexcept {
    const std::size_t len = message.size();
    if (len == 0 || len > 0xFFFF || !can_add() || cap_ - size_ < kMoldLengthSize + len) {
      return false;
    }
    detail::mold_put16(buf_ + size_, static_cast<uint16_t>(len));
    std::memcpy(buf_ + size_ + kMoldLengthSize, message.data(), len);
    size_ += kMoldLengthSize + len;
    ++count_;
    return true;
  }

  // Room for the next block, length prefix included, to encode into in place (e.g. with
  // itch::encode_message, which writes the prefix); empty when no block can be added.
  std::span<uint8_t> reserve() noexcept {
    if (!can_add()) return {};
    return {buf_ + size_, std::min(cap_ - size_, kMoldLengthSize + 0xFFFF)};
  }
  // Takes the `framed` bytes written at reserve() as one block. False, with nothing taken, when
  // the prefix does not say framed - 2, the message is empty, or it overruns reserve().
  bool commit(std::size_t framed) noexcept {
    if (framed <= kMoldLengthSize || !can_add() || framed > cap_ - size_) return false;
    if (detail::mold_be16(buf_ + size_) != framed - kMoldLengthSize) return false;
    size_ += framed;
    ++count_;
    return true;
  }

  // The packet of the messages added since the last one (a heartbeat if none), then the
  // sequence moves past them.
  std::span<const uint8_t> finish() noexcept {
    if (cap_ == 0) return {};
    const std::span<const uint8_t> out = write_header(count_, size_);
    seq_ += count_;
    count_ = 0;
    size_ = kMoldHeaderSize;
    return out;
  }
  // Heartbeat and end of session carry the next sequence. Empty span (nothing written) while
  // messages are pending: finish() them first.
  std::span<const uint8_t> heartbeat() noexcept {
    if (cap_ == 0 || count_ != 0) return {};
    return write_header(kMoldHeartbeatCount, kMoldHeaderSize);
  }
  std::span<const uint8_t> end_of_session() noexcept {
    if (cap_ == 0 || count_ != 0) return {};
    return write_header(kMoldEndOfSessionCount, kMoldHeaderSize);
  }

  uint16_t pending() const noexcept { return count_; }  // messages added since the last packet
  std::size_t size() const noexcept { return cap_ == 0 ? 0 : size_; }  // header included
  std::size_t capacity() const noexcept { return cap_; }
  uint64_t next_sequence() const noexcept { return seq_; }  // of the packet being built
  std::string_view session() const noexcept { return {session_, kMoldSessionSize}; }

 private:
  bool can_add() const noexcept {
    return cap_ != 0 && count_ < kMoldMaxBlocks &&
           uint64_t{count_} < std::numeric_limits<uint64_t>::max() - seq_;
  }
  std::span<const uint8_t> write_header(uint16_t count, std::size_t size) noexcept {
    std::memcpy(buf_, session_, kMoldSessionSize);
    detail::mold_put64(buf_ + kMoldSessionSize, seq_);
    detail::mold_put16(buf_ + kMoldSessionSize + 8, count);
    return {buf_, size};
  }

  uint8_t* buf_;
  std::size_t cap_;
  std::size_t size_ = kMoldHeaderSize;
  uint64_t seq_;
  uint16_t count_ = 0;
  char session_[kMoldSessionSize];
};

}  // namespace sluice::market
