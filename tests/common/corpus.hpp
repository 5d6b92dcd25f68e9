// Replays a fuzz target's inputs through its body in every ctest build, so CI checks what the
// fuzzer checks even where clang and libFuzzer are absent. A fuzz body returns 0 and aborts
// with "sluice-fuzz: ..." when a rule breaks; these helpers feed it the in-memory seeds, the
// committed corpus, and a seeded stream of mutations of the seeds.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace sluice::test {

using FuzzBody = int (*)(const uint8_t*, std::size_t);
using FuzzSeeds = std::vector<std::vector<uint8_t>>;

inline void replay_seeds(FuzzBody body, const FuzzSeeds& seeds, std::size_t at_least) {
  ASSERT_GE(seeds.size(), at_least) << "fewer seeds than the fuzz target is known to build";
  for (const auto& s : seeds) EXPECT_EQ(body(s.data(), s.size()), 0);
}

// Every regular file under `dir`. The generated seeds are committed there, so fewer files than
// seeds means a missing corpus, which would make the replay vacuous.
inline void replay_corpus(FuzzBody body, const std::filesystem::path& dir, std::size_t at_least) {
  namespace fs = std::filesystem;
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    ASSERT_TRUE(f) << e.path();
    const std::vector<uint8_t> in((std::istreambuf_iterator<char>(f)),
                                  std::istreambuf_iterator<char>());
    SCOPED_TRACE(e.path().string());
    EXPECT_EQ(body(in.data(), in.size()), 0);
    ++n;
  }
  EXPECT_GE(n, at_least) << dir;
}

// Byte flips, insertions and cuts of the seeds: a small fuzzer that runs everywhere, with a
// fixed seed so a failure reproduces.
inline void replay_mutations(FuzzBody body, const FuzzSeeds& seeds, int count, uint64_t rng_seed) {
  ASSERT_FALSE(seeds.empty());
  std::mt19937_64 rng(rng_seed);
  for (int i = 0; i < count; ++i) {
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
    ASSERT_EQ(body(in.data(), in.size()), 0) << "mutation " << i << " of seed " << rng_seed;
  }
}

}  // namespace sluice::test
