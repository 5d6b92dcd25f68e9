// Replays the logbuf region fuzzer's inputs through its body (fuzz/logbuf/region_fuzz.hpp) in
// every build, so CI runs what the fuzzer checks even where clang and libFuzzer are absent:
// the seeds built in memory, and every file committed under fuzz/logbuf/corpus/ (the seeds as
// fuzz/logbuf/make_corpus.cpp wrote them, and inputs the fuzzer found worth keeping). A broken
// rule aborts with "sluice-fuzz: ...".
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "../../fuzz/logbuf/region_fuzz.hpp"

namespace {

TEST(LogbufFuzzReplay, SeedsBuiltInMemory) {
  const auto seeds = sluice::fuzz::logbuf_region_seeds();
  ASSERT_GE(seeds.size(), 40u);
  for (const auto& s : seeds) EXPECT_EQ(sluice::fuzz::logbuf_region(s.data(), s.size()), 0);
}

TEST(LogbufFuzzReplay, CommittedCorpus) {
  namespace fs = std::filesystem;
  const fs::path dir = SLUICE_LOGBUF_CORPUS;
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    const std::vector<uint8_t> in((std::istreambuf_iterator<char>(f)),
                                  std::istreambuf_iterator<char>());
    SCOPED_TRACE(e.path().string());
    EXPECT_EQ(sluice::fuzz::logbuf_region(in.data(), in.size()), 0);
    ++n;
  }
  // The generated seeds are committed; a missing corpus would make this test vacuous.
  EXPECT_GE(n, sluice::fuzz::logbuf_region_seeds().size());
}

}  // namespace
