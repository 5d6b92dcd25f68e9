// The ITCH decoder fuzzer's body, shared by the libFuzzer target (itch_decode_fuzz.cpp, clang)
// and the GoogleTest that replays the seed corpus in every build
// (tests/market/itch_fuzz_replay_test.cpp, g++).
//
// An input is a byte stream as a file or a MoldUDP64 block run would carry it. It is copied
// into a heap block of exactly its size (ASan sees any read past it) and decoded three ways:
// decode_stream in one call, decode_stream in pieces as a reader would hand them out
// (carrying the tail), and scan_frames_final + decode_batch. The rules: all three give the
// same records byte for byte; each record's offset lies in the input and the records tile it
// (each starts where the previous frame ended); a record without error has its type's length
// and encodes back to exactly the input bytes at its offset; an error record names one of the
// listed errors. A broken rule prints "sluice-fuzz: ..." and aborts.
//
// itch_decode_seeds() builds the seed inputs: one valid message of every type, a mixed
// stream, and each malformation once. fuzz/market/itch_make_corpus.cpp writes them to
// fuzz/market/itch_decode_corpus/ (scripts/fuzz --seeds).
#pragma once

#include <sluice/market/itch/decode.hpp>
#include <sluice/market/itch/encode.hpp>
#include <sluice/market/itch/framing.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace sluice::fuzz {

[[noreturn]] inline void itch_fail(const char* what) {
  std::fprintf(stderr, "sluice-fuzz: itch decode: %s\n", what);
  std::abort();
}

inline int itch_decode(const uint8_t* input, std::size_t size) {
  namespace itch = sluice::market::itch;
  if (size > (std::size_t{1} << 20)) return 0;
  std::unique_ptr<uint8_t[]> data(new uint8_t[size == 0 ? 1 : size]);
  if (size > 0) std::memcpy(data.get(), input, size);
  const uint8_t* d = data.get();

  // 1. One call.
  std::vector<itch::Record> one(size / 2 + 2);
  const auto s1 =
      itch::decode_stream(d, size, 0, one.data(), static_cast<uint32_t>(one.size()), true);
  if (s1.consumed != size) itch_fail("decode_stream did not consume the whole final input");

  // 2. Offsets, then a batch.
  std::vector<uint32_t> offs(size / 2 + 2);
  const auto sc = itch::scan_frames_final(d, size, offs.data(), static_cast<uint32_t>(offs.size()));
  if (sc.count != s1.count || sc.consumed != size) itch_fail("scan and stream disagree on count");
  std::vector<itch::Record> batch(sc.count + 1);
  const uint32_t be = itch::decode_batch(d, size, offs.data(), sc.count, 0, batch.data());
  if (be != s1.errors) itch_fail("batch and stream disagree on errors");
  if (sc.count > 0 && std::memcmp(one.data(), batch.data(), sc.count * sizeof(itch::Record)) != 0)
    itch_fail("batch and stream records differ");

  // 3. In pieces of a size taken from the input, carrying the tail like a file reader.
  const std::size_t piece = size == 0 ? 1 : 1 + input[0] % 97;
  std::vector<uint8_t> carry;
  std::vector<itch::Record> pieces;
  uint64_t base = 0;
  for (std::size_t off = 0; off < size || !carry.empty();) {
    const std::size_t n = off < size ? std::min(piece, size - off) : 0;
    carry.insert(carry.end(), d + off, d + off + n);
    off += n;
    const bool final = off >= size;
    std::vector<itch::Record> out(carry.size() / 2 + 2);
    const auto s = itch::decode_stream(carry.data(), carry.size(), base, out.data(),
                                       static_cast<uint32_t>(out.size()), final);
    pieces.insert(pieces.end(), out.begin(), out.begin() + s.count);
    carry.erase(carry.begin(), carry.begin() + static_cast<std::ptrdiff_t>(s.consumed));
    base += s.consumed;
    if (final) {
      if (!carry.empty()) itch_fail("final piece left bytes");
      break;
    }
  }
  if (pieces.size() != s1.count) itch_fail("pieces and one call disagree on count");
  if (s1.count > 0 && std::memcmp(pieces.data(), one.data(), s1.count * sizeof(itch::Record)) != 0)
    itch_fail("pieces and one call records differ");

  // 4. Record rules.
  uint64_t expect_off = 0;
  for (uint32_t i = 0; i < s1.count; ++i) {
    const itch::Record& r = one[i];
    if (r.offset != expect_off || r.offset >= size) itch_fail("records do not tile the input");
    const uint64_t frame_end = r.offset + itch::kPrefixSize + r.length;
    expect_off = frame_end > size ? size : frame_end;
    switch (r.error) {
      case itch::DecodeError::None: {
        if (r.length != itch::message_length(r.type)) itch_fail("ok record with a wrong length");
        uint8_t buf[64];
        const std::size_t k = itch::encode_message(r, buf, sizeof buf);
        if (k != itch::kPrefixSize + r.length || frame_end > size ||
            std::memcmp(buf, d + r.offset, k) != 0)
          itch_fail("ok record does not encode back to its input bytes");
        break;
      }
      case itch::DecodeError::Truncated:
        if (frame_end <= size && size - r.offset >= itch::kPrefixSize)
          itch_fail("truncated record for a frame that fits");
        break;
      case itch::DecodeError::UnknownType:
        if (r.length != 0 && itch::message_length(r.type) != 0)
          itch_fail("known type reported unknown");
        break;
      case itch::DecodeError::BadLength:
        if (r.length == itch::message_length(r.type)) itch_fail("bad length at the right length");
        break;
      default:
        itch_fail("an error value the API does not list");
    }
  }
  if (expect_off != size) itch_fail("records do not cover the input");
  return 0;
}

inline std::vector<std::vector<uint8_t>> itch_decode_seeds() {
  namespace itch = sluice::market::itch;
  std::vector<std::vector<uint8_t>> seeds;
  std::vector<uint8_t> all;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&x] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  for (uint8_t t : itch::kAllTypes) {
    itch::Record r{};
    r.type = t;
    r.locate = static_cast<uint16_t>(next());
    r.timestamp = next() & 0xFFFFFFFFFFFFull;
    for (auto& w : r.body.words) w = next();
    uint8_t buf[64];
    const std::size_t k = itch::encode_message(r, buf, sizeof buf);
    seeds.emplace_back(buf, buf + k);
    all.insert(all.end(), buf, buf + k);
  }
  seeds.push_back(all);
  auto bad = [&](std::vector<uint8_t> v) { seeds.push_back(std::move(v)); };
  bad({0x00, 0x05, 'Z', 1, 2, 3, 4});                                               // unknown type
  bad({0x00, 0x00});                                                                // empty block
  bad({0x00, 0x13, 'D', 0, 1});                                                     // truncated D
  bad({0x00});                                                                      // half a prefix
  bad({0x00, 0x14, 'D', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});  // D at 20
  bad({0xFF, 0xFF, 'A'});  // longest prefix, nothing behind
  std::vector<uint8_t> mixed(all.begin(), all.begin() + 100);
  mixed.insert(mixed.end(), {0x00, 0x03, 'x', 'y', 'z'});
  mixed.insert(mixed.end(), all.begin(), all.end() - 7);
  bad(mixed);
  return seeds;
}

}  // namespace sluice::fuzz
