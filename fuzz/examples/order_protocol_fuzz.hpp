// The order-entry protocol fuzzer's body (examples/pipeline/order_protocol.hpp), shared by the
// libFuzzer target (order_protocol_fuzz.cpp, clang) and the GoogleTest that replays the
// committed corpus in every build (tests/examples/order_protocol_fuzz_replay_test.cpp).
//
// An input is [cut: 1 byte] then a TCP byte stream as a hostile peer could send it. The stream
// goes through a FrameBuffer twice: all at once, and in pieces of (cut % 37) + 1 bytes (as
// receives would cut it). Rules (a broken one prints "sluice-fuzz: ..." and aborts): both
// ways yield the same frames and stop at the same error; each frame re-encodes to exactly the
// bytes it came from; parse_frame on an exact-size heap copy of each prefix of a frame is
// NeedMore until the whole frame is there (ASan sees any read past it); a piece never
// overflows the buffer's room.
#pragma once

#include <sluice/examples/pipeline/order_protocol.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace sluice::fuzz {

inline void order_fail(const char* what) {
  std::fprintf(stderr, "sluice-fuzz: order protocol: %s\n", what);
  std::abort();
}

struct OrderParse {
  std::vector<pipeline::Frame> frames;
  std::vector<std::vector<uint8_t>> raw;  // each frame's bytes
  bool error = false;
  pipeline::WireError err = pipeline::WireError::NeedMore;
};

// Feeds `data` in pieces of `piece` bytes (0: all at once) until an error or the end.
inline OrderParse order_parse(const uint8_t* data, std::size_t size, std::size_t piece) {
  OrderParse out;
  auto fb = std::make_unique<pipeline::FrameBuffer>();
  std::size_t pos = 0;
  while (pos < size) {
    fb->compact();
    auto room = fb->room();
    if (room.empty()) order_fail("no room after compact");
    std::size_t n = piece == 0 ? size - pos : piece;
    if (n > size - pos) n = size - pos;
    if (n > room.size()) n = room.size();
    std::memcpy(room.data(), data + pos, n);
    fb->commit(n);
    pos += n;
    for (;;) {
      const std::size_t before = fb->pending();
      auto f = fb->next();
      if (!f) {
        if (f.error() == pipeline::WireError::NeedMore) break;
        out.error = true;
        out.err = f.error();
        return out;
      }
      if (before - fb->pending() != f->size) order_fail("consumed size differs from frame size");
      out.frames.push_back(*f);
    }
  }
  return out;
}

inline int order_protocol(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = data[0] % 37 + 1;
  ++data;
  --size;
  const OrderParse whole = order_parse(data, size, 0);
  const OrderParse cut = order_parse(data, size, piece);
  if (whole.error != cut.error || whole.err != cut.err) order_fail("error differs with cuts");
  if (whole.frames.size() != cut.frames.size()) order_fail("frame count differs with cuts");
  std::size_t off = 0;
  for (std::size_t i = 0; i < whole.frames.size(); ++i) {
    const pipeline::Frame& a = whole.frames[i];
    const pipeline::Frame& b = cut.frames[i];
    if (a.type != b.type || a.size != b.size || !(a.order == b.order) || !(a.ack == b.ack)) {
      order_fail("frames differ with cuts");
    }
    uint8_t enc[pipeline::kMaxFrame];
    const std::size_t n =
        a.type == 'O' ? pipeline::encode_order(a.order, enc) : pipeline::encode_ack(a.ack, enc);
    if (n != a.size || off + n > size || std::memcmp(enc, data + off, n) != 0) {
      order_fail("a frame does not re-encode to its bytes");
    }
    // Every proper prefix of the frame, in a heap block of exactly its size: NeedMore.
    for (std::size_t k = 0; k < n; ++k) {
      const std::vector<uint8_t> copy(data + off, data + off + k);
      auto f = pipeline::parse_frame({copy.data(), k});
      if (f || f.error() != pipeline::WireError::NeedMore) order_fail("a cut frame parsed");
    }
    off += n;
  }
  return 0;
}

// Seeds: valid streams of orders and acks, each error kind, cuts inside frames.
inline std::vector<std::vector<uint8_t>> order_protocol_seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  auto order = [](uint64_t id, char side) {
    std::vector<uint8_t> v(pipeline::kOrderFrame);
    (void)pipeline::encode_order({id, 100, 1234500, 7, side}, v);
    return v;
  };
  auto ack = [](uint64_t id, char status) {
    std::vector<uint8_t> v(pipeline::kAckFrame);
    (void)pipeline::encode_ack({id, id + 1000, 100, 1234500, 7, status}, v);
    return v;
  };
  auto cat = [](uint8_t cut, std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> s;
    s.push_back(cut);
    for (const auto& p : parts) {
      for (uint8_t b : p) s.push_back(b);
    }
    return s;
  };
  seeds.push_back(cat(0, {order(1, 'B')}));
  seeds.push_back(cat(5, {order(1, 'B'), order(2, 'S'), ack(1, 'A'), ack(2, 'R')}));
  seeds.push_back(cat(36, {ack(9, 'A'), ack(10, 'A'), ack(11, 'A')}));
  seeds.push_back(cat(1, {order(3, 'X')}));       // bad side
  seeds.push_back(cat(2, {ack(3, 'Q')}));         // bad status
  seeds.push_back(cat(3, {{0, 0, 'O'}}));         // zero length
  seeds.push_back(cat(4, {{0, 20, 'Z', 0, 0}}));  // unknown type
  seeds.push_back(cat(6, {{0, 21, 'O', 'B'}}));   // bad length
  seeds.push_back(cat(7, {{0xFF, 0xFF, 'A'}}));   // huge length
  const auto whole = order(4, 'B');
  const std::vector<uint8_t> o(whole.begin(), whole.end() - 3);
  seeds.push_back(cat(8, {order(5, 'S'), o}));  // cut inside the last frame
  return seeds;
}

}  // namespace sluice::fuzz
