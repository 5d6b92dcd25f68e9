// The pipeline's stages, each a task on the hot runtime, joined by local channels:
//
//   feed (UDP MoldUDP64 | ITCH file | synthetic) --Chunk--> decode --Tick--> book + strategy
//        --Order (tapped into a logbuf)--> gateway --TCP--> exchange
//   exchange --TCP--> ack reader --Ack--> book + strategy
//
// Why these seams: a Chunk is a byte range of length-prefixed ITCH frames in the feed's slot
// pool (no copy between feed and decode), so a journal can archive chunks and a GPU decoder
// (through the bridge) can replace `decode` without the feed or the book changing; a Tick is
// one decoded record with its stamps; an Order carries the stamps the gateway needs for
// tick-to-trade. Every channel is bounded: a slow stage holds the ones before it back.
//
// Stamps (TSC, all taken on the hot thread, so no cross-core TSC skew): t_rx when the bytes
// are read off the socket or the file, t_dec when a record is decoded, t_order when the
// strategy creates an order, t_send right before the gateway hands the order to the socket.
// Tick-to-trade = t_send - t_rx, per order.
#pragma once

#include <sluice/examples/pipeline/order_protocol.hpp>
#include <sluice/market/itch/decode.hpp>
#include <sluice/market/itch_file.hpp>
#include <sluice/market/moldudp64.hpp>
#include <sluice/market/order_book.hpp>
#include <sluice/market/synthetic_feed.hpp>
#include <sluice/runtime/io.hpp>
#include <sluice/runtime/latency.hpp>
#include <sluice/sluice.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace sluice::pipeline {

namespace itch = sluice::market::itch;

// ------------------------------------------------------------------ messages between stages

struct Chunk {
  uint64_t t_rx = 0;         // TSC when the bytes were read
  uint64_t stream_base = 0;  // stream offset of slot byte 0 (for Record::offset)
  uint32_t slot = 0;
  uint32_t begin = 0;  // [begin, end): whole 2-byte-prefixed frames (a cut last one decodes
  uint32_t end = 0;    // as Truncated)
};

struct Tick {
  itch::Record rec;
  uint64_t t_rx = 0;
  uint64_t t_dec = 0;
};

struct Order {
  uint64_t client_id = 0;
  uint64_t t_rx = 0;
  uint64_t t_order = 0;
  uint32_t shares = 0;
  uint32_t price = 0;
  uint16_t locate = 0;
  char side = 'B';
};

struct Ack {
  uint64_t client_id = 0;
  uint16_t locate = 0;
  char status = 'A';
};

// ------------------------------------------------------------------ shared state

// Live counters for the progress line. Written by the hot thread only (a load and a store,
// not a read-modify-write); read by the reporting thread. relaxed: they publish counts, not
// data, and a count a few messages stale is fine on a progress line.
struct alignas(64) Progress {  // alignas: its own cache line, away from the stages' state
  std::atomic<uint64_t> decoded{0};
  std::atomic<uint64_t> orders{0};
  std::atomic<uint64_t> acks{0};
  std::atomic<bool> done{false};  // release by the hot thread at its end (acquire: report)

  static void bump(std::atomic<uint64_t>& c, uint64_t by = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
};

// The feed's receive buffers: a Chunk names a slot. Slots are used round-robin; with a chunk
// channel of capacity C, at most C chunks wait, decode holds one and the feed fills one, so
// C + 2 slots are never overwritten while in use (the channel's bound is the proof).
class SlotPool {
 public:
  // Room for any single ITCH frame (2 + 65535 bytes) and any UDP datagram (65507 bytes).
  static constexpr std::size_t kSlotBytes = 65 * 1024 + 64;

  explicit SlotPool(std::size_t chunk_capacity)
      : slots_(chunk_capacity + 2), mem_(slots_ * kSlotBytes) {}
  std::size_t slots() const noexcept { return slots_; }
  uint8_t* data(uint32_t slot) noexcept { return mem_.data() + std::size_t{slot} * kSlotBytes; }
  std::span<std::byte> span(uint32_t slot) noexcept {
    return {reinterpret_cast<std::byte*>(data(slot)), kSlotBytes};
  }

 private:
  std::size_t slots_;
  std::vector<uint8_t> mem_;
};

// What each stage saw. Histograms are in TSC ticks.
struct FeedStats {
  uint64_t packets = 0;      // datagrams or file reads or synthetic batches
  uint64_t bad_packets = 0;  // not MoldUDP64 (parse_packet refused), or truncated datagrams
  uint64_t refused = 0;      // refused by the MoldUDP64 session (mismatch, ended, overflow)
  uint64_t recv_errors = 0;
  uint64_t chunks = 0;
  bool ended_by_idle = false;  // no end-of-session seen: the idle watchdog stopped the feed
  bool interrupted = false;    // stopped from outside (SIGINT) before its end
  bool idle_fired = false;     // set by the idle watchdog before it stops the feed
  // The watchdog's view: true while the feed task waits in recv (only that time is idle; a
  // feed held back by a slow stage is not silent).
  bool in_recv = false;
  market::MoldCounters mold{};
  int io_error = 0;                  // errno of a socket failure that ended the feed, else 0
  const char* feed_error = nullptr;  // a file's FeedError (to_string), else nullptr
};

struct DecodeStats {
  uint64_t records = 0;
  uint64_t errors = 0;      // records that did not decode (Truncated, UnknownType, BadLength)
  uint64_t first_t_rx = 0;  // t_rx of the first chunk (start of the measured span)
};

struct StrategyConfig {
  // Quote when ask - bid reaches this many price units (4 implied decimals: 100 = one cent).
  // Below two ticks (200) a quote one tick inside would cross: the strategy never goes lower.
  uint32_t spread_threshold = 2000;
  uint32_t shares = 100;
  // Once the feed has ended: how long to wait for the next ack before giving the rest up
  // (counted as missing). The exchange closing its side ends the wait at once.
  std::chrono::milliseconds ack_timeout{5000};
};

struct BookStageStats {
  uint64_t crossed = 0;         // book changes after which the symbol's book was crossed
  uint64_t orders_sent = 0;     // handed to the gateway
  uint64_t acks = 0;            // accepted
  uint64_t rejects = 0;         // rejected by the exchange
  uint64_t unmatched_acks = 0;  // an ack for no pending order (locate out of range, wrong id)
  uint64_t missing_acks = 0;    // orders whose ack never came (the ack stream ended first)
  uint64_t last_t = 0;          // TSC when the last record went through (end of the span)
  market::BookStats book{};
};

struct GatewayStats {
  uint64_t orders = 0;  // handed to the socket
  uint64_t batches = 0;
  uint64_t slow_sends = 0;  // writes the socket could not take at once (sent on the ring)
  int send_error = 0;
};

struct AckReaderStats {
  uint64_t acks = 0;
  uint64_t wire_errors = 0;  // a corrupt frame (the connection is dropped)
  int recv_error = 0;
};

struct Histograms {
  LatencyHistogram tick_to_trade;        // t_send - t_rx, per order
  LatencyHistogram decode;               // t_dec - t_rx, per record (feed + queue + decode)
  LatencyHistogram book;                 // book applied (+ strategy) - t_dec, per record
  LatencyHistogram strategy_to_gateway;  // t_send - t_order, per order
  LatencyHistogram send_call;            // the gateway's send(2) itself, per write
};

// ------------------------------------------------------------------ feed stages

// Holds a feed that produces on its own (a file, the generator) to a message rate, so that
// tick-to-trade measures the pipeline and not a queue the feed built up by running ahead.
// A paced chunk is stamped when the pacer releases it: that is its arrival in the replayed
// day. 0: no pacing (throughput; t_rx is the read, and queueing is part of every stamp).
class Pacer {
 public:
  explicit Pacer(double messages_per_second) noexcept
      : rate_(messages_per_second), t0_(Clock::now()) {}
  // Waits until `sent` messages are due (an awaitable: no coroutine frame per chunk).
  [[nodiscard]] SleepAwaiter wait(uint64_t sent) const noexcept {
    if (rate_ <= 0) return sleep_until(Clock::time_point::min());  // ready at once
    return sleep_until(t0_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(sent) / rate_)));
  }
  bool active() const noexcept { return rate_ > 0; }

 private:
  double rate_;
  Clock::time_point t0_;
};

// Byte range [begin, end) of the blocks of a MoldUDP64 run inside the packet.
inline void run_range(const market::MoldPacket& p, const market::MoldRun& run, uint32_t* begin,
                      uint32_t* end) noexcept {
  bool first = true;
  for (market::MoldBlock b : p.blocks(run.first_block, run.count)) {
    if (first) *begin = b.offset;
    first = false;
    *end = b.offset + static_cast<uint32_t>(itch::kPrefixSize + b.message.size());
  }
  if (first) *begin = *end = 0;
}

// MoldUDP64 on a UDP socket. `consumed` counts datagrams taken off the socket: the loopback
// replayer's credit (relaxed: a count, no data travels with it). Ends at the end of session,
// when the socket is closed (stop), or on a socket error.
inline Task<void> feed_udp(io::UdpSocket* sock, SlotPool* pool, local::Sender<Chunk> out,
                           FeedStats* st, std::atomic<uint64_t>* consumed,
                           const std::atomic<bool>* stop, uint64_t first_sequence) {
  market::MoldSession session =
      first_sequence ? market::MoldSession(first_sequence) : market::MoldSession();
  uint64_t taken = 0;
  uint32_t slot = 0;
  for (;;) {
    st->in_recv = true;
    auto r = co_await sock->recv(pool->span(slot));
    st->in_recv = false;
    const uint64_t t_rx = tsc_now();
    // relaxed: a flag; the watchdog closes the socket (which ends the receive) after setting it.
    const bool stopping = stop->load(std::memory_order_relaxed);
    if (stopping && (!r || *r == 0)) {  // the receive ended because the socket was closed
      (st->idle_fired ? st->ended_by_idle : st->interrupted) = true;
      break;
    }
    if (!r) {
      ++st->recv_errors;
      st->io_error = r.error().errno_value;
      break;
    }
    ++st->packets;
    // A UDP payload is at most 65507 bytes and a slot holds more: never cut.
    auto p = market::parse_packet({pool->data(slot), *r});
    // The replayer's credit counts its data packets (heartbeats are extra): relaxed, a count.
    if (!p || !p->heartbeat()) consumed->store(++taken, std::memory_order_relaxed);
    if (!p) {
      ++st->bad_packets;
    } else {
      const market::MoldEvent ev = session.on_packet(*p);
      if (!ev.ok()) {
        ++st->refused;
      } else {
        bool used = false;
        for (const market::MoldRun& run : ev.runs()) {
          Chunk c;
          c.t_rx = t_rx;
          c.slot = slot;
          c.stream_base = 0;
          run_range(*p, run, &c.begin, &c.end);
          if (c.begin == c.end) continue;
          used = true;
          ++st->chunks;
          if (!co_await out.send(c)) {
            st->mold = session.counters();
            co_return;
          }
        }
        if (used) slot = static_cast<uint32_t>((slot + 1) % pool->slots());
        if (ev.end_of_session) break;
      }
    }
    if (stopping) {  // a datagram that completed as the stop came was still taken
      (st->idle_fired ? st->ended_by_idle : st->interrupted) = true;
      break;
    }
  }
  st->mold = session.counters();
}

// An ITCH file (plain or gzip) read on the ring; each read chunk is split into slot-sized
// chunks of whole frames, all stamped with the read's completion.
inline Task<void> feed_file(market::ItchFileReader* reader, SlotPool* pool,
                            local::Sender<Chunk> out, FeedStats* st, double rate,
                            const std::atomic<bool>* stop) {
  uint32_t slot = 0;
  Pacer pacer(rate);
  uint64_t frames = 0;
  for (;;) {
    if (stop->load(std::memory_order_relaxed)) {  // relaxed: a flag (SIGINT)
      st->interrupted = true;
      break;
    }
    auto c = co_await reader->next();
    uint64_t t_rx = tsc_now();
    if (!c) {
      if (c.error() != market::FeedError::Closed) st->feed_error = market::to_string(c.error());
      break;
    }
    ++st->packets;
    const uint8_t* p = c->bytes.data();
    const std::size_t n = c->bytes.size();
    std::size_t pos = 0;
    while (pos < n) {
      // Whole frames up to the slot's size (one frame always fits); a cut last frame too.
      std::size_t end = pos;
      while (end < n) {
        std::size_t f = n - end < itch::kPrefixSize
                            ? n - end
                            : itch::kPrefixSize + ((std::size_t{p[end]} << 8) | p[end + 1]);
        if (f > n - end) f = n - end;
        if (end + f - pos > SlotPool::kSlotBytes) break;
        end += f;
        ++frames;
        if (pacer.active() && end - pos >= market::kMoldDefaultMaxPacket) break;  // ~a packet
      }
      if (pacer.active()) {
        co_await pacer.wait(frames);
        t_rx = tsc_now();  // released now: its arrival in the replayed day
      }
      std::memcpy(pool->data(slot), p + pos, end - pos);
      Chunk ch;
      ch.t_rx = t_rx;
      ch.slot = slot;
      ch.begin = 0;
      ch.end = static_cast<uint32_t>(end - pos);
      ch.stream_base = c->stream_offset + pos;
      ++st->chunks;
      if (!co_await out.send(ch)) co_return;
      slot = static_cast<uint32_t>((slot + 1) % pool->slots());
      pos = end;
    }
    if (c->last) break;
  }
}

// The synthetic generator in the feed task itself (no network): batches of about one packet
// (1400 bytes) of encoded messages, stamped when the batch is complete.
inline Task<void> feed_synthetic(market::SyntheticFeed* gen, SlotPool* pool,
                                 local::Sender<Chunk> out, FeedStats* st, double rate,
                                 const std::atomic<bool>* stop) {
  uint32_t slot = 0;
  uint64_t base = 0;
  uint64_t messages = 0;
  Pacer pacer(rate);
  constexpr std::size_t kBatch = market::kMoldDefaultMaxPacket;
  while (!gen->done()) {
    if (stop->load(std::memory_order_relaxed)) {  // relaxed: a flag (SIGINT)
      st->interrupted = true;
      break;
    }
    uint8_t* d = pool->data(slot);
    std::size_t used = 0;
    while (used + itch::kPrefixSize + itch::kMaxMessageLength <= kBatch) {
      const std::size_t n = gen->next_encoded(d + used, kBatch - used);
      if (n == 0) break;
      used += n;
      ++messages;
    }
    if (used == 0) break;
    co_await pacer.wait(messages);
    Chunk ch;
    ch.t_rx = tsc_now();
    ch.slot = slot;
    ch.end = static_cast<uint32_t>(used);
    ch.stream_base = base;
    base += used;
    ++st->packets;
    ++st->chunks;
    if (!co_await out.send(ch)) co_return;
    slot = static_cast<uint32_t>((slot + 1) % pool->slots());
  }
}

// ------------------------------------------------------------------ decode

inline Task<void> decode(local::Receiver<Chunk> in, SlotPool* pool, local::Sender<Tick> out,
                         DecodeStats* st, Histograms* h, Progress* progress) {
  Tick t;
  while (auto c = co_await in.recv()) {
    if (st->first_t_rx == 0) st->first_t_rx = c->t_rx;
    const uint8_t* d = pool->data(c->slot);
    uint64_t off = c->begin;
    while (off < c->end) {
      const itch::DecodeError e = itch::decode_message(d, c->end, off, c->stream_base, t.rec);
      ++st->records;
      if (e != itch::DecodeError::None) ++st->errors;
      t.t_rx = c->t_rx;
      t.t_dec = tsc_now();
      h->decode.record(t.t_dec - t.t_rx);
      Progress::bump(progress->decoded);
      if (!co_await out.send(t)) co_return;
      if (e == itch::DecodeError::Truncated) break;  // the rest of the chunk is that message
      off += itch::kPrefixSize + t.rec.length;
    }
  }
}

// ------------------------------------------------------------------ book + strategy

// Applies every record to the books; after a book change, if the symbol has no order pending
// and its spread reaches the threshold, sends one order improving the bid (even client ids)
// or the ask (odd) by one tick. Acks clear the pending order; they are drained without waiting
// before each decision, and waited for once the feed has ended.
inline Task<std::optional<Ack>> next_ack(local::Receiver<Ack>* acks) {
  auto a = co_await acks->recv();
  if (!a) co_return std::nullopt;
  co_return *a;
}

class BookStrategy {
 public:
  BookStrategy(market::OrderBooks* books, StrategyConfig cfg, uint16_t max_locate)
      : books_(books), cfg_(cfg), pending_(std::size_t{max_locate} + 1, 0) {}

  template <class OrderSender>
  Task<void> run(local::Receiver<Tick> in, OrderSender out, local::Receiver<Ack> acks,
                 BookStageStats* st, Histograms* h, Progress* progress) {
    uint64_t next_id = 1;
    uint64_t outstanding = 0;
    while (auto t = co_await in.recv()) {
      auto r = books_->apply(t->rec);
      if (r && *r == market::Applied::Book) {
        const uint16_t loc = t->rec.locate;
        if (books_->crossed(loc)) ++st->crossed;
        while (auto a = acks.try_recv()) on_ack(*a, st, progress, &outstanding);
        if (pending_[loc] == 0) {
          const auto bid = books_->best_bid(loc);
          const auto ask = books_->best_ask(loc);
          if (bid && ask && ask->price > bid->price &&
              ask->price - bid->price >= std::max<uint32_t>(cfg_.spread_threshold, 200)) {
            Order o;
            o.client_id = next_id++;
            o.locate = loc;
            o.shares = cfg_.shares;
            o.side = (o.client_id & 1) ? 'S' : 'B';
            o.price = o.side == 'B' ? bid->price + 100 : ask->price - 100;
            o.t_rx = t->t_rx;
            o.t_order = tsc_now();
            pending_[loc] = o.client_id;
            ++outstanding;
            ++st->orders_sent;
            if (!co_await out.send(o)) break;
            // Let the gateway (woken by the send, queued behind us) put the order on the
            // socket now, not after the rest of the packet's records: tick-to-trade first.
            co_await yield_now();
          }
        }
      }
      st->last_t = tsc_now();
      h->book.record(st->last_t - t->t_dec);
    }
    // The feed has ended. Close the order channel first: the gateway then ends its side of
    // the connection, the exchange answers what it got and closes, and the ack stream ends,
    // so a lost or withheld ack cannot keep this wait (and the run) open. A peer that keeps
    // the connection open without answering is given up after ack_timeout per ack.
    { auto closing = std::move(out); }
    while (outstanding > 0) {
      if (auto q = acks.try_recv()) {  // already here: no deadline can make it missing
        on_ack(*q, st, progress, &outstanding);
        continue;
      }
      auto a = co_await timeout(cfg_.ack_timeout, next_ack(&acks));
      if (!a || !*a) break;
      on_ack(**a, st, progress, &outstanding);
    }
    st->missing_acks = outstanding;
    st->book = books_->counters();
  }

 private:
  void on_ack(const Ack& a, BookStageStats* st, Progress* progress, uint64_t* outstanding) {
    // The ack came off a socket: its locate and id are checked before they index anything.
    if (a.locate >= pending_.size() || pending_[a.locate] != a.client_id || a.client_id == 0) {
      ++st->unmatched_acks;
      return;
    }
    pending_[a.locate] = 0;
    --*outstanding;
    if (a.status == 'A') {
      ++st->acks;
    } else {
      ++st->rejects;
    }
    Progress::bump(progress->acks);
  }

  market::OrderBooks* books_;
  StrategyConfig cfg_;
  std::vector<uint64_t> pending_;  // per locate: the client id of the pending order, or 0
};

// ------------------------------------------------------------------ gateway

// Encodes orders and hands them to the socket. Orders already queued behind the first are
// sent in the same write (up to kBatch), all stamped with the same t_send.
//
// Why a direct send(2) and not the ring: an io_uring send is only issued when the runtime
// next submits (after up to event_interval task polls, several microseconds in this
// pipeline), so a stamp taken at the co_await would not be when the kernel got the bytes. A
// non-blocking send(2) hands them over at the stamp; only what the socket cannot take now
// (a full send buffer) goes through the ring, awaited. At the end (the strategy closed its
// sender) the write side is shut down so the exchange sees end of stream; on a send error
// both sides are, so the ack reader ends too.
inline Task<void> gateway(local::Receiver<Order> in, io::TcpStream* conn, GatewayStats* st,
                          Histograms* h, Progress* progress) {
  constexpr std::size_t kBatch = 32;
  uint8_t buf[kBatch * kOrderFrame];
  Order batch[kBatch];
  while (auto o = co_await in.recv()) {
    std::size_t n = 0;
    batch[n++] = *o;
    while (n < kBatch) {
      auto more = in.try_recv();
      if (!more) break;
      batch[n++] = *more;
    }
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
      OrderMsg m{batch[i].client_id, batch[i].shares, batch[i].price, batch[i].locate,
                 batch[i].side};
      bytes += encode_order(m, {buf + bytes, sizeof buf - bytes});
    }
    const uint64_t t_send = tsc_now();
    const ssize_t now = ::send(conn->fd(), buf, bytes, MSG_DONTWAIT | MSG_NOSIGNAL);
    h->send_call.record(tsc_now() - t_send);
    std::size_t done = 0;
    if (now > 0) {
      done = static_cast<std::size_t>(now);
    } else if (now < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      st->send_error = errno;
      (void)co_await conn->shutdown(SHUT_RDWR);
      co_return;
    }
    std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(buf) + done, bytes - done);
    while (!rest.empty()) {  // the socket's buffer is full: wait on the ring
      ++st->slow_sends;
      auto w = co_await conn->send(rest);
      if (!w) {
        st->send_error = w.error().errno_value;
        (void)co_await conn->shutdown(SHUT_RDWR);
        co_return;
      }
      rest = rest.subspan(*w);
    }
    for (std::size_t i = 0; i < n; ++i) {  // sent: their stamps count
      h->tick_to_trade.record(t_send - batch[i].t_rx);
      h->strategy_to_gateway.record(t_send - batch[i].t_order);
    }
    st->orders += n;
    ++st->batches;
    Progress::bump(progress->orders, n);
  }
  (void)co_await conn->shutdown(SHUT_WR);
}

// Reads acks off the exchange connection and passes them to the strategy. A corrupt frame
// drops the connection (the stream cannot be resynchronised); end of stream ends the task.
inline Task<void> ack_reader(io::TcpStream* conn, local::Sender<Ack> out, AckReaderStats* st) {
  FrameBuffer fb;
  for (;;) {
    fb.compact();
    auto r = co_await conn->recv(fb.room());
    if (!r) {
      if (!r.error().is_eof()) st->recv_error = r.error().errno_value;
      co_return;
    }
    fb.commit(*r);
    for (;;) {
      auto f = fb.next();
      if (!f) {
        if (f.error() == WireError::NeedMore) break;
        ++st->wire_errors;
        (void)co_await conn->shutdown(SHUT_RDWR);  // drop the connection: it cannot resync
        co_return;
      }
      if (f->type != 'A') {  // the exchange sends acks only
        ++st->wire_errors;
        (void)co_await conn->shutdown(SHUT_RDWR);
        co_return;
      }
      ++st->acks;
      Ack a{f->ack.client_id, f->ack.locate, f->ack.status};
      if (!co_await out.send(a)) co_return;
    }
  }
}

}  // namespace sluice::pipeline
