// Where a synthetic day goes: an ITCH file (plain or gzip) written on the runtime's ring, or
// MoldUDP64 packets as a publisher sends them (each message encoded in place in the packet).
// These are the feed's two outputs in the main job and the tests; they are not hot paths.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "../runtime/result.hpp"
#include "../runtime/task.hpp"
#include "itch/spec.hpp"
#include "itch_file.hpp"
#include "moldudp64.hpp"
#include "synthetic_feed.hpp"

namespace sluice::market {

// Writes the rest of `feed` to `path` (gzip when asked) in 1 MiB pieces; returns the
// messages written. `path` must stay valid until the co_await completes.
[[nodiscard]] inline Task<Result<uint64_t, FeedError>> write_synthetic_file(SyntheticFeed& feed,
                                                                            const char* path,
                                                                            bool gzip) {
  auto w = co_await ItchFileWriter::create(path, gzip);
  if (!w) co_return err(w.error());
  std::vector<uint8_t> buf(std::size_t{1} << 20);
  constexpr std::size_t kMax = itch::kMaxMessageLength + itch::kPrefixSize;
  uint64_t messages = 0;
  for (bool more = true; more;) {
    std::size_t used = 0;
    while (buf.size() - used >= kMax) {
      const std::size_t n = feed.next_encoded(buf.data() + used, buf.size() - used);
      if (n == 0) {
        more = false;
        break;
      }
      used += n;
      ++messages;
    }
    auto r = co_await w->write({buf.data(), used});
    if (!r) co_return err(r.error());
  }
  auto f = co_await w->finish();
  if (!f) co_return err(f.error());
  co_return messages;
}

// Packs the rest of `feed` into MoldUDP64 packets of at most `max_packet` bytes, sequence
// numbers from `first_sequence`, and calls on_packet(std::span<const uint8_t>) for each one,
// then once more with an end-of-session packet. Returns the messages packed. The span is valid
// only during the call.
template <class OnPacket>
uint64_t packetize_synthetic(SyntheticFeed& feed, std::string_view session, uint64_t first_sequence,
                             OnPacket&& on_packet, std::size_t max_packet = kMoldDefaultMaxPacket) {
  std::vector<uint8_t> buf(max_packet);
  MoldPacketWriter w(buf, session, first_sequence, max_packet);
  uint64_t messages = 0;
  for (;;) {
    std::span<uint8_t> room = w.reserve();
    std::size_t n = feed.next_encoded(room.data(), room.size());
    if (n == 0 && !feed.done() && w.pending() > 0) {  // full: send it, start the next packet
      on_packet(std::span<const uint8_t>(w.finish()));
      room = w.reserve();
      n = feed.next_encoded(room.data(), room.size());
    }
    if (n == 0 || !w.commit(n)) break;  // done (or a packet too small for one message)
    ++messages;
  }
  if (w.pending() > 0) on_packet(std::span<const uint8_t>(w.finish()));
  on_packet(std::span<const uint8_t>(w.end_of_session()));
  return messages;
}

}  // namespace sluice::market
