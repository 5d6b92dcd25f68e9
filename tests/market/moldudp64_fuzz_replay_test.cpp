// Replays the MoldUDP64 fuzzer's inputs through its body (fuzz/market/moldudp64_fuzz.hpp) in
// every build, so CI checks what the fuzzer checks even where clang and libFuzzer are absent:
// the seeds built in memory, and every file committed under fuzz/market/moldudp64_corpus/ (the
// seeds as moldudp64_make_corpus wrote them, and inputs the fuzzer found worth keeping). A
// broken rule aborts with "sluice-fuzz: ...".
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "../../fuzz/market/moldudp64_fuzz.hpp"

namespace {

TEST(MoldUdp64FuzzReplay, SeedsBuiltInMemory) {
  const auto seeds = sluice::fuzz::moldudp64_seeds();
  ASSERT_GE(seeds.size(), 12u);
  for (const auto& s : seeds) EXPECT_EQ(sluice::fuzz::moldudp64(s.data(), s.size()), 0);
}

TEST(MoldUdp64FuzzReplay, CommittedCorpus) {
  namespace fs = std::filesystem;
  const fs::path dir = SLUICE_MOLD_CORPUS;
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    const std::vector<uint8_t> in((std::istreambuf_iterator<char>(f)),
                                  std::istreambuf_iterator<char>());
    SCOPED_TRACE(e.path().string());
    EXPECT_EQ(sluice::fuzz::moldudp64(in.data(), in.size()), 0);
    ++n;
  }
  // The generated seeds are committed; a missing corpus would make this test vacuous.
  EXPECT_GE(n, sluice::fuzz::moldudp64_seeds().size());
}

}  // namespace
