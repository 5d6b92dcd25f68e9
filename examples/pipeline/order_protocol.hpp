// The order-entry wire protocol between the pipeline's gateway and the exchange simulator.
//
// A small binary protocol in the style of OUCH over SoupBinTCP: each frame is a 2-byte
// big-endian payload length, then the payload, whose first byte is the message type. Fields
// are big-endian. Two messages:
//   'O' enter order   (20 bytes): type, side 'B'/'S', locate u16, shares u32, price u32
//                                 (4 implied decimals), client order id u64
//   'A' order ack     (28 bytes): type, status 'A' accepted / 'R' rejected, locate u16,
//                                 shares u32, price u32, client order id u64, exchange id u64
// Frames come off a TCP stream, so they are untrusted: parse_frame() checks every length and
// type and returns an error value for each malformation (never reads past the input); a frame
// cut at the end of the input is NeedMore, not an error. Encoding writes in place (no heap).
#pragma once

#include <sluice/runtime/result.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace sluice::pipeline {

inline constexpr std::size_t kFramePrefix = 2;
inline constexpr std::size_t kOrderPayload = 20;
inline constexpr std::size_t kAckPayload = 28;
inline constexpr std::size_t kOrderFrame = kFramePrefix + kOrderPayload;
inline constexpr std::size_t kAckFrame = kFramePrefix + kAckPayload;
inline constexpr std::size_t kMaxFrame = kAckFrame;

enum class WireError : uint8_t {
  NeedMore,     // the input ends inside a frame: read more and parse again (not a fault)
  ZeroLength,   // a frame with no payload (no type byte)
  UnknownType,  // the payload's type byte is neither 'O' nor 'A'
  BadLength,    // the payload length is not the one its type has
  BadField,     // a side other than 'B'/'S' or a status other than 'A'/'R'
};

inline const char* to_string(WireError e) noexcept {
  switch (e) {
    case WireError::NeedMore:
      return "frame incomplete";
    case WireError::ZeroLength:
      return "zero-length frame";
    case WireError::UnknownType:
      return "unknown message type";
    case WireError::BadLength:
      return "payload length does not match the message type";
    case WireError::BadField:
      return "bad side or status field";
  }
  return "?";
}

struct OrderMsg {
  uint64_t client_id = 0;
  uint32_t shares = 0;
  uint32_t price = 0;
  uint16_t locate = 0;
  char side = 'B';
  bool operator==(const OrderMsg&) const = default;
};

struct AckMsg {
  uint64_t client_id = 0;
  uint64_t exchange_id = 0;
  uint32_t shares = 0;
  uint32_t price = 0;
  uint16_t locate = 0;
  char status = 'A';
  bool operator==(const AckMsg&) const = default;
};

// One parsed frame: `size` bytes of input (prefix included) and the message it holds.
struct Frame {
  std::size_t size = 0;
  char type = 0;  // 'O' or 'A'
  OrderMsg order{};
  AckMsg ack{};
};

namespace wire {
inline void put16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v) noexcept {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
inline void put64(uint8_t* p, uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
inline uint16_t get16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t get32(const uint8_t* p) noexcept {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t get64(const uint8_t* p) noexcept {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
}  // namespace wire

// Writes one order frame at out[0..kOrderFrame); returns the bytes written (0: no room).
inline std::size_t encode_order(const OrderMsg& o, std::span<uint8_t> out) noexcept {
  if (out.size() < kOrderFrame) return 0;
  uint8_t* p = out.data();
  wire::put16(p, kOrderPayload);
  p[2] = 'O';
  p[3] = static_cast<uint8_t>(o.side);
  wire::put16(p + 4, o.locate);
  wire::put32(p + 6, o.shares);
  wire::put32(p + 10, o.price);
  wire::put64(p + 14, o.client_id);
  return kOrderFrame;
}

inline std::size_t encode_ack(const AckMsg& a, std::span<uint8_t> out) noexcept {
  if (out.size() < kAckFrame) return 0;
  uint8_t* p = out.data();
  wire::put16(p, kAckPayload);
  p[2] = 'A';
  p[3] = static_cast<uint8_t>(a.status);
  wire::put16(p + 4, a.locate);
  wire::put32(p + 6, a.shares);
  wire::put32(p + 10, a.price);
  wire::put64(p + 14, a.client_id);
  wire::put64(p + 22, a.exchange_id);
  return kAckFrame;
}

// Parses the frame at the start of `in`. Errors other than NeedMore mean the stream is
// corrupt from here on: the reader should drop the connection (a length it cannot trust leaves
// no way to find the next frame).
[[nodiscard]] inline Result<Frame, WireError> parse_frame(std::span<const uint8_t> in) noexcept {
  if (in.size() < kFramePrefix) return err(WireError::NeedMore);
  const uint16_t len = wire::get16(in.data());
  if (len == 0) return err(WireError::ZeroLength);
  if (in.size() < kFramePrefix + 1) return err(WireError::NeedMore);
  const uint8_t* p = in.data() + kFramePrefix;
  const char type = static_cast<char>(p[0]);
  std::size_t want = 0;
  if (type == 'O') {
    want = kOrderPayload;
  } else if (type == 'A') {
    want = kAckPayload;
  } else {
    return err(WireError::UnknownType);
  }
  if (len != want) return err(WireError::BadLength);
  if (in.size() < kFramePrefix + want) return err(WireError::NeedMore);
  Frame f;
  f.size = kFramePrefix + want;
  f.type = type;
  if (type == 'O') {
    f.order.side = static_cast<char>(p[1]);
    if (f.order.side != 'B' && f.order.side != 'S') return err(WireError::BadField);
    f.order.locate = wire::get16(p + 2);
    f.order.shares = wire::get32(p + 4);
    f.order.price = wire::get32(p + 8);
    f.order.client_id = wire::get64(p + 12);
  } else {
    f.ack.status = static_cast<char>(p[1]);
    if (f.ack.status != 'A' && f.ack.status != 'R') return err(WireError::BadField);
    f.ack.locate = wire::get16(p + 2);
    f.ack.shares = wire::get32(p + 4);
    f.ack.price = wire::get32(p + 8);
    f.ack.client_id = wire::get64(p + 12);
    f.ack.exchange_id = wire::get64(p + 20);
  }
  return f;
}

// Receive buffer for a frame stream: bytes arrive in any cut; whole frames come out one at a
// time. compact() moves the tail of a cut frame (at most kMaxFrame - 1 bytes) to the front
// before the next receive, so a frame can never overflow the buffer.
class FrameBuffer {
 public:
  static constexpr std::size_t kCapacity = 16 * 1024;
  static_assert(kCapacity > kMaxFrame);

  // Where the next receive writes, and how much it may write (never 0 after compact()).
  std::span<std::byte> room() noexcept {
    return {reinterpret_cast<std::byte*>(buf_ + end_), kCapacity - end_};
  }
  void commit(std::size_t n) noexcept { end_ += n < kCapacity - end_ ? n : kCapacity - end_; }

  // The next whole frame; NeedMore when the rest is an incomplete frame (kept); any other
  // error: the stream is corrupt (the frame is not consumed).
  [[nodiscard]] Result<Frame, WireError> next() noexcept {
    auto f = parse_frame({buf_ + pos_, end_ - pos_});
    if (f) pos_ += f->size;
    return f;
  }
  void compact() noexcept {
    std::memmove(buf_, buf_ + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  std::size_t pending() const noexcept { return end_ - pos_; }

 private:
  uint8_t buf_[kCapacity];
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
};

}  // namespace sluice::pipeline
