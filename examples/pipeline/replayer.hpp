// The MoldUDP64 replayer: sends a day of ITCH messages (synthetic or from a file) as MoldUDP64
// packets to a UDP address at a chosen message rate. It runs on its own runtime and thread
// (the feed core), so the pipeline's feed handler reads real datagrams off a socket.
//
// Loopback UDP has no retransmission: a datagram that finds the receiver's socket buffer full
// is dropped. The replayer therefore also honours a credit window: packet i is not sent before
// the receiver has taken packet i - window off its socket (`consumed`, published by the feed
// handler). A real exchange does not wait for anyone; the window only keeps the demo lossless
// on a shared 2-core machine, and the feed handler still detects and reports any gap.
#pragma once

#include <sluice/market/itch_file.hpp>
#include <sluice/market/moldudp64.hpp>
#include <sluice/market/synthetic_feed.hpp>
#include <sluice/market/synthetic_outputs.hpp>
#include <sluice/runtime/io.hpp>
#include <sluice/sluice.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sluice::pipeline {

// A whole day as packets in one buffer: packet i is bytes[offsets[i], offsets[i + 1]).
// About 32 bytes per message: a 100 M-message day takes ~3.3 GB (building it can throw
// std::bad_alloc; run_pipeline reports that as an error).
struct ReplayData {
  std::vector<uint8_t> bytes;
  std::vector<uint64_t> offsets{0};
  std::vector<uint16_t> messages;  // per packet
  uint64_t total_messages = 0;
  std::size_t packets() const noexcept { return messages.size(); }
  void add(std::span<const uint8_t> p, uint16_t n) {
    bytes.insert(bytes.end(), p.begin(), p.end());
    offsets.push_back(bytes.size());
    messages.push_back(n);
    total_messages += n;
  }
};

inline constexpr std::string_view kReplaySession = "SLUICE0001";

// Packetizes the rest of a synthetic feed (the last packet is the end of session).
inline ReplayData replay_from_synthetic(market::SyntheticFeed& feed) {
  ReplayData d;
  (void)market::packetize_synthetic(feed, kReplaySession, 1, [&d](std::span<const uint8_t> p) {
    auto parsed = market::parse_packet(p);
    d.add(p, parsed && !parsed->end_of_session() ? parsed->block_count() : 0);
  });
  return d;
}

// Packetizes an ITCH file (plain or gzip): each whole frame becomes a message block. Runs on
// the calling thread's runtime. A cut last frame is left out (MoldUDP64 blocks are whole).
inline Task<Result<ReplayData, market::FeedError>> replay_from_file(std::string path) {
  auto r = co_await market::ItchFileReader::open(path.c_str());
  if (!r) co_return err(r.error());
  ReplayData d;
  std::vector<uint8_t> buf(market::kMoldDefaultMaxPacket);
  market::MoldPacketWriter w(buf, kReplaySession, 1, buf.size());
  auto flush = [&] {
    if (w.pending() == 0) return;
    const uint16_t n = static_cast<uint16_t>(w.pending());
    d.add(w.finish(), n);
  };
  for (;;) {
    auto c = co_await r->next();
    if (!c) {
      if (c.error() == market::FeedError::Closed) break;
      co_return err(c.error());
    }
    const uint8_t* p = c->bytes.data();
    const std::size_t n = c->bytes.size();
    std::size_t pos = 0;
    while (n - pos >= 2) {
      const std::size_t len = (std::size_t{p[pos]} << 8) | p[pos + 1];
      if (len > n - pos - 2) break;  // cut last frame
      std::span<const uint8_t> msg(p + pos + 2, len);
      if (!w.add(msg)) {
        flush();
        if (!w.add(msg)) {  // larger than a packet holds: cannot be sent as MoldUDP64
          co_return err(market::FeedError::Corrupt);
        }
      }
      pos += 2 + len;
    }
    if (c->last) break;
  }
  flush();
  d.add(w.end_of_session(), 0);
  co_return d;
}

struct ReplayStats {
  uint64_t packets = 0;
  uint64_t messages = 0;
  uint64_t credit_waits = 0;  // times the window was full
  uint64_t send_retries = 0;  // ENOBUFS / EAGAIN from the socket, retried
  uint64_t heartbeats = 0;
  int send_error = 0;
  double seconds = 0;
};

struct ReplayConfig {
  double messages_per_second = 1'000'000;  // 0: as fast as the window allows
  uint32_t window = 64;                    // packets ahead of the receiver, at most
  // While the pacing holds a packet back this long or more, a MoldUDP64 heartbeat goes out
  // every heartbeat interval, so the receiver's idle watchdog knows the session is alive.
  std::chrono::milliseconds heartbeat{500};
};

// Rates below this are refused: one message per millisecond is the slowest useful replay,
// and smaller ones overflow the pacing arithmetic.
inline constexpr double kMinReplayRate = 1000.0;

// Sends every packet of `d` on the connected socket, paced to the rate and the credit window.
// Waits are slices of at most 10 ms that check `stop` (relaxed: a flag), so a stopped run is
// never held by a slow rate; a long pacing wait sends heartbeats. The end-of-session packet
// goes once the receiver has taken everything before it, so it cannot be dropped for lack of
// buffer.
inline Task<ReplayStats> replay(io::UdpSocket* s, const ReplayData* d, ReplayConfig cfg,
                                const std::atomic<uint64_t>* consumed,
                                const std::atomic<bool>* stop) {
  using namespace std::chrono;
  ReplayStats st;
  const auto t0 = Clock::now();
  uint64_t sent_messages = 0;
  uint8_t hb[market::kMoldHeaderSize];
  auto last_send = Clock::now();
  auto send_bytes = [&](std::span<const std::byte> p) -> Task<bool> {
    for (uint32_t tries = 0;; ++tries) {
      auto r = co_await s->send(p);
      if (r) {
        last_send = Clock::now();
        co_return true;
      }
      const int e = r.error().errno_value;
      if ((e == ENOBUFS || e == EAGAIN || e == ECONNREFUSED) && tries < 10000) {  // 1 s
        ++st.send_retries;  // receiver not bound yet or a full queue: retry shortly
        co_await sleep_for(microseconds(100));
        continue;
      }
      st.send_error = e;
      co_return false;
    }
  };
  auto finish = [&] {
    st.messages = sent_messages;
    st.seconds = duration<double>(Clock::now() - t0).count();
    return st;
  };
  for (std::size_t i = 0; i < d->packets(); ++i) {
    if (stop->load(std::memory_order_relaxed)) co_return finish();
    const bool last = i + 1 == d->packets();
    const uint64_t need = last ? i : (i >= cfg.window ? i - cfg.window + 1 : 0);
    while (consumed->load(std::memory_order_relaxed) < need) {  // relaxed: a count only
      ++st.credit_waits;
      if (stop->load(std::memory_order_relaxed)) co_return finish();
      co_await sleep_for(microseconds(20));
    }
    if (cfg.messages_per_second > 0) {
      const auto due = t0 + duration_cast<Clock::duration>(duration<double>(
                                static_cast<double>(sent_messages) / cfg.messages_per_second));
      while (due > Clock::now() + microseconds(50)) {
        if (stop->load(std::memory_order_relaxed)) co_return finish();
        if (Clock::now() - last_send >= cfg.heartbeat) {  // the session is alive: say so
          std::memcpy(hb, d->bytes.data() + d->offsets[i], market::kMoldSessionSize);
          uint64_t seq = 0;  // the next sequence: that of the packet held back
          for (int k = 0; k < 8; ++k) seq = (seq << 8) | d->bytes[d->offsets[i] + 10 + k];
          for (int k = 7; k >= 0; --k, seq >>= 8) hb[10 + k] = static_cast<uint8_t>(seq);
          hb[18] = 0;
          hb[19] = 0;
          if (!co_await send_bytes({reinterpret_cast<const std::byte*>(hb), sizeof hb})) {
            co_return finish();
          }
          ++st.heartbeats;
        }
        co_await sleep_until(std::min(due, Clock::now() + milliseconds(10)));
      }
    }
    std::span<const std::byte> p(
        reinterpret_cast<const std::byte*>(d->bytes.data()) + d->offsets[i],
        d->offsets[i + 1] - d->offsets[i]);
    if (!co_await send_bytes(p)) co_return finish();
    ++st.packets;
    sent_messages += d->messages[i];
  }
  co_return finish();
}

}  // namespace sluice::pipeline
