// Replays the order-protocol fuzzer's inputs through its body (fuzz/examples/
// order_protocol_fuzz.hpp) in every build: the seeds built in memory and every file committed
// under fuzz/examples/order_protocol_corpus/. A broken rule aborts with "sluice-fuzz: ...".
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "../../fuzz/examples/order_protocol_fuzz.hpp"

namespace {

TEST(OrderProtocolFuzzReplay, SeedsBuiltInMemory) {
  const auto seeds = sluice::fuzz::order_protocol_seeds();
  ASSERT_GE(seeds.size(), 10u);
  for (const auto& s : seeds) EXPECT_EQ(sluice::fuzz::order_protocol(s.data(), s.size()), 0);
}

TEST(OrderProtocolFuzzReplay, CommittedCorpus) {
  namespace fs = std::filesystem;
  const fs::path dir = SLUICE_ORDER_CORPUS;
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    const std::vector<uint8_t> in((std::istreambuf_iterator<char>(f)),
                                  std::istreambuf_iterator<char>());
    SCOPED_TRACE(e.path().string());
    EXPECT_EQ(sluice::fuzz::order_protocol(in.data(), in.size()), 0);
    ++n;
  }
  EXPECT_GE(n, sluice::fuzz::order_protocol_seeds().size());
}

}  // namespace
