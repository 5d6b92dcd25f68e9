// The pipeline's order-entry protocol: round trips, each malformation's error, and frames cut
// at every byte as TCP may deliver them.
#include <gtest/gtest.h>

#include <sluice/examples/pipeline/order_protocol.hpp>

#include <cstring>
#include <memory>
#include <vector>

using namespace sluice::pipeline;

namespace {

std::vector<uint8_t> order_bytes(const OrderMsg& o) {
  std::vector<uint8_t> v(kOrderFrame);
  EXPECT_EQ(encode_order(o, v), kOrderFrame);
  return v;
}
std::vector<uint8_t> ack_bytes(const AckMsg& a) {
  std::vector<uint8_t> v(kAckFrame);
  EXPECT_EQ(encode_ack(a, v), kAckFrame);
  return v;
}

TEST(OrderProtocol, OrderRoundTripsWithBigEndianFields) {
  const OrderMsg o{0x0102030405060708ull, 300, 1234500, 0xABCD, 'S'};
  const auto b = order_bytes(o);
  EXPECT_EQ(b[0], 0);
  EXPECT_EQ(b[1], kOrderPayload);
  EXPECT_EQ(b[2], 'O');
  EXPECT_EQ(b[3], 'S');
  EXPECT_EQ(b[4], 0xAB);
  EXPECT_EQ(b[5], 0xCD);
  EXPECT_EQ(b[14], 0x01);
  EXPECT_EQ(b[21], 0x08);
  auto f = parse_frame(b);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->type, 'O');
  EXPECT_EQ(f->size, kOrderFrame);
  EXPECT_EQ(f->order, o);
}

TEST(OrderProtocol, AckRoundTrips) {
  const AckMsg a{77, 123456789, 100, 99, 3, 'R'};
  auto f = parse_frame(ack_bytes(a));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->type, 'A');
  EXPECT_EQ(f->ack, a);
}

TEST(OrderProtocol, EncodeRefusesShortBuffers) {
  uint8_t b[kAckFrame];
  EXPECT_EQ(encode_order({}, {b, kOrderFrame - 1}), 0u);
  EXPECT_EQ(encode_ack({}, {b, kAckFrame - 1}), 0u);
}

TEST(OrderProtocol, EachMalformationHasItsError) {
  auto err_of = [](std::vector<uint8_t> v) {
    auto f = parse_frame(v);
    EXPECT_FALSE(f);
    return f ? WireError::NeedMore : f.error();
  };
  EXPECT_EQ(err_of({}), WireError::NeedMore);
  EXPECT_EQ(err_of({0}), WireError::NeedMore);
  EXPECT_EQ(err_of({0, 0}), WireError::ZeroLength);
  EXPECT_EQ(err_of({0, 20}), WireError::NeedMore);
  EXPECT_EQ(err_of({0, 20, 'Q'}), WireError::UnknownType);
  EXPECT_EQ(err_of({0, 28, 'O'}), WireError::BadLength);  // an ack's length on an order
  EXPECT_EQ(err_of({0xFF, 0xFF, 'A'}), WireError::BadLength);
  auto o = order_bytes({1, 1, 1, 1, 'B'});
  o[3] = 'X';
  EXPECT_EQ(err_of(o), WireError::BadField);
  auto a = ack_bytes({1, 1, 1, 1, 1, 'A'});
  a[3] = 'Z';
  EXPECT_EQ(err_of(a), WireError::BadField);
  for (const char* s : {"frame incomplete", "zero-length frame", "unknown message type"}) {
    bool found = false;
    for (WireError e : {WireError::NeedMore, WireError::ZeroLength, WireError::UnknownType}) {
      found = found || std::strcmp(to_string(e), s) == 0;
    }
    EXPECT_TRUE(found) << s;
  }
}

// Every proper prefix of a frame, in a heap block of exactly its size, is NeedMore.
TEST(OrderProtocol, CutFramesNeedMore) {
  for (const auto& full : {order_bytes({5, 10, 20, 30, 'B'}), ack_bytes({5, 6, 10, 20, 30, 'A'})}) {
    for (std::size_t k = 0; k < full.size(); ++k) {
      const std::vector<uint8_t> copy(full.begin(), full.begin() + static_cast<long>(k));
      auto f = parse_frame({copy.data(), k});
      ASSERT_FALSE(f) << k;
      EXPECT_EQ(f.error(), WireError::NeedMore) << k;
    }
  }
}

// 1000 orders and acks through a FrameBuffer in pieces of every size from 1 to 64 bytes: the
// same messages, in order, nothing lost or duplicated.
TEST(OrderProtocol, FrameBufferReassemblesAnyCut) {
  std::vector<uint8_t> stream;
  for (uint64_t i = 0; i < 1000; ++i) {
    const auto b = i % 3 == 0 ? ack_bytes({i, i * 7, 1, 2, 3, 'A'})
                              : order_bytes({i, 1, 2, static_cast<uint16_t>(i), 'B'});
    stream.insert(stream.end(), b.begin(), b.end());
  }
  for (std::size_t piece = 1; piece <= 64; ++piece) {
    auto fb = std::make_unique<FrameBuffer>();
    uint64_t next = 0;
    for (std::size_t pos = 0; pos < stream.size();) {
      fb->compact();
      auto room = fb->room();
      ASSERT_FALSE(room.empty());
      const std::size_t n = std::min({piece, stream.size() - pos, room.size()});
      std::memcpy(room.data(), stream.data() + pos, n);
      fb->commit(n);
      pos += n;
      for (;;) {
        auto f = fb->next();
        if (!f) {
          ASSERT_EQ(f.error(), WireError::NeedMore);
          break;
        }
        const uint64_t id = f->type == 'A' ? f->ack.client_id : f->order.client_id;
        ASSERT_EQ(id, next) << "piece " << piece;
        ASSERT_EQ(f->type, next % 3 == 0 ? 'A' : 'O');
        ++next;
      }
    }
    EXPECT_EQ(next, 1000u) << "piece " << piece;
    EXPECT_EQ(fb->pending(), 0u);
  }
}

// A corrupt frame stops the stream: the frames before it come out, the error is sticky (the
// length cannot be trusted to find the next frame).
TEST(OrderProtocol, CorruptFrameStopsTheStream) {
  auto fb = std::make_unique<FrameBuffer>();
  std::vector<uint8_t> s = order_bytes({1, 1, 1, 1, 'B'});
  const std::vector<uint8_t> bad{0, 5, 'Q', 1, 2, 3, 4};
  s.insert(s.end(), bad.begin(), bad.end());
  const auto tail = order_bytes({2, 1, 1, 1, 'B'});
  s.insert(s.end(), tail.begin(), tail.end());
  std::memcpy(fb->room().data(), s.data(), s.size());
  fb->commit(s.size());
  auto f = fb->next();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->order.client_id, 1u);
  auto g = fb->next();
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error(), WireError::UnknownType);
  auto h = fb->next();
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error(), WireError::UnknownType);
}

TEST(OrderProtocol, CommitNeverPassesTheCapacity) {
  auto fb = std::make_unique<FrameBuffer>();
  fb->commit(FrameBuffer::kCapacity + 100);
  EXPECT_EQ(fb->pending(), FrameBuffer::kCapacity);
  EXPECT_TRUE(fb->room().empty());
}

}  // namespace
