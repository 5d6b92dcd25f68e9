// Replays the ITCH decoder fuzzer's inputs through its body (fuzz/market/itch_decode_fuzz.hpp)
// in every build: the seeds built in memory, every file committed under
// fuzz/market/itch_decode_corpus/, and a seeded stream of mutated inputs. A broken rule
// aborts with "sluice-fuzz: ...".
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "../../fuzz/market/itch_decode_fuzz.hpp"

namespace {

TEST(ItchFuzzReplay, SeedsBuiltInMemory) {
  const auto seeds = sluice::fuzz::itch_decode_seeds();
  ASSERT_GE(seeds.size(), 30u);
  for (const auto& s : seeds) EXPECT_EQ(sluice::fuzz::itch_decode(s.data(), s.size()), 0);
}

TEST(ItchFuzzReplay, CommittedCorpus) {
  namespace fs = std::filesystem;
  const fs::path dir = SLUICE_ITCH_CORPUS;
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    const std::vector<uint8_t> in((std::istreambuf_iterator<char>(f)),
                                  std::istreambuf_iterator<char>());
    SCOPED_TRACE(e.path().string());
    EXPECT_EQ(sluice::fuzz::itch_decode(in.data(), in.size()), 0);
    ++n;
  }
  EXPECT_GE(n, sluice::fuzz::itch_decode_seeds().size());
}

// Byte flips, insertions and cuts of the seeds: a poor man's fuzzer that runs everywhere.
TEST(ItchFuzzReplay, MutatedSeeds) {
  const auto seeds = sluice::fuzz::itch_decode_seeds();
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> in = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !in.empty(); ++e) {
      const std::size_t at = rng() % in.size();
      switch (rng() % 3) {
        case 0:
          in[at] = static_cast<uint8_t>(rng());
          break;
        case 1:
          in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(rng()));
          break;
        default:
          in.resize(at);
          break;
      }
    }
    ASSERT_EQ(sluice::fuzz::itch_decode(in.data(), in.size()), 0);
  }
}

}  // namespace
