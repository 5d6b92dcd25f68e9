// CPU/GPU parity: the CUDA kernel and the CPU decode_batch produce byte-identical records
// (memcmp) on valid streams of every type, on malformed input (unknown types, bad lengths,
// truncation, offsets past the end, random bytes), and on a large batch. Without a CUDA
// device (or in a build without CUDA) the test exits 77, which ctest reports as skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <sluice/market/gpu/gpu_decoder.hpp>
#include <sluice/market/itch/encode.hpp>
#include <sluice/market/itch/framing.hpp>
#include <vector>

namespace itch = sluice::market::itch;
namespace gpu = sluice::market::gpu;

namespace {

std::vector<uint8_t> random_stream(std::size_t n, uint64_t seed, bool malformed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out;
  for (std::size_t i = 0; i < n; ++i) {
    itch::Record r{};
    r.type = itch::kAllTypes[rng() % 23];
    r.locate = static_cast<uint16_t>(rng());
    r.tracking = static_cast<uint16_t>(rng());
    r.timestamp = rng() & 0xFFFFFFFFFFFFull;
    for (auto& w : r.body.words) w = rng();
    uint8_t buf[64];
    std::size_t k = itch::encode_message(r, buf, sizeof buf);
    if (malformed && rng() % 5 == 0) {
      switch (rng() % 3) {
        case 0:
          buf[2] = static_cast<uint8_t>('a' + rng() % 3);
          break;  // unknown type ('a'..'c')
        case 1:
          buf[1] = static_cast<uint8_t>(buf[1] - 1), --k;
          break;  // one byte short
        default:
          buf[1] = 0, buf[0] = 0, k = 2;
          break;  // empty block
      }
    }
    out.insert(out.end(), buf, buf + k);
  }
  return out;
}

void expect_parity(const std::vector<uint8_t>& stream, uint64_t base, bool final) {
  std::vector<uint32_t> offs(stream.size() / 2 + 2);
  const auto s = final ? itch::scan_frames_final(stream.data(), stream.size(), offs.data(),
                                                 static_cast<uint32_t>(offs.size()))
                       : itch::scan_frames(stream.data(), stream.size(), offs.data(),
                                           static_cast<uint32_t>(offs.size()));
  std::vector<itch::Record> cpu(s.count + 1), dev(s.count + 1);
  std::memset(dev.data(), 0xAB, dev.size() * sizeof(itch::Record));
  const uint32_t cpu_errors =
      itch::decode_batch(stream.data(), stream.size(), offs.data(), s.count, base, cpu.data());
  auto dec = gpu::GpuDecoder::create(stream.size() + 1, s.count + 1);
  ASSERT_TRUE(dec) << gpu::to_string(dec.error());
  auto r = dec->decode(stream.data(), stream.size(), offs.data(), s.count, base, dev.data());
  ASSERT_TRUE(r) << gpu::to_string(r.error()) << " cuda error " << dec->cuda_error();
  EXPECT_EQ(*r, cpu_errors);
  EXPECT_EQ(std::memcmp(cpu.data(), dev.data(), s.count * sizeof(itch::Record)), 0);
  // The host's by-type path (batches that fit in cache) against the device too.
  std::vector<itch::Record> pieces(s.count + 1);
  for (uint32_t i = 0; i < s.count; i += 1000) {
    (void)itch::decode_batch(stream.data(), stream.size(), offs.data() + i,
                             std::min(1000u, s.count - i), base, pieces.data() + i);
  }
  EXPECT_EQ(std::memcmp(pieces.data(), dev.data(), s.count * sizeof(itch::Record)), 0);
}

TEST(GpuDecode, ValidStreamOfEveryType) { expect_parity(random_stream(100000, 1, false), 0, true); }

TEST(GpuDecode, MalformedMessagesGiveTheSameErrorRecords) {
  auto s = random_stream(50000, 2, true);
  for (int i = 0; i < 3; ++i) s.pop_back();  // and a truncated tail
  expect_parity(s, 12345, true);
}

TEST(GpuDecode, RandomBytes) {
  std::mt19937_64 rng(3);
  std::vector<uint8_t> junk(1 << 20);
  for (auto& b : junk) b = static_cast<uint8_t>(rng());
  expect_parity(junk, 0, true);
}

TEST(GpuDecode, OffsetsPastTheEndAndEmptyBatch) {
  const auto s = random_stream(100, 4, false);
  std::vector<uint32_t> offs = {0, static_cast<uint32_t>(s.size()),
                                static_cast<uint32_t>(s.size() + 1000), 0xFFFFFFFFu};
  std::vector<itch::Record> cpu(4), dev(4);
  const uint32_t ce = itch::decode_batch(s.data(), s.size(), offs.data(), 4, 0, cpu.data());
  auto dec = gpu::GpuDecoder::create(s.size(), 16);
  ASSERT_TRUE(dec);
  auto r = dec->decode(s.data(), s.size(), offs.data(), 4, 0, dev.data());
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, ce);
  EXPECT_EQ(ce, 3u);
  EXPECT_EQ(std::memcmp(cpu.data(), dev.data(), sizeof(itch::Record) * 4), 0);
  auto none = dec->decode(s.data(), s.size(), offs.data(), 0, 0, dev.data());
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  auto big = dec->decode(s.data(), s.size() + 1, offs.data(), 4, 0, dev.data());
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), gpu::GpuError::InvalidArgument);
}

}  // namespace

int main(int argc, char** argv) {
  if (!gpu::available()) {
    std::printf("skipped: %s\n", gpu::device_description());
    return 77;  // ctest SKIP_RETURN_CODE
  }
  std::printf("device: %s\n", gpu::device_description());
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
