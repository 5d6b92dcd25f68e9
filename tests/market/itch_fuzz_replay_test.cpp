// Replays the ITCH decoder fuzzer's inputs through its body (fuzz/market/itch_decode_fuzz.hpp)
// in every build: the seeds built in memory, every file committed under
// fuzz/market/itch_decode_corpus/, and mutations of the seeds (tests/common/corpus.hpp). A
// broken rule aborts with "sluice-fuzz: ...".
#include <gtest/gtest.h>

#include "../../fuzz/market/itch_decode_fuzz.hpp"
#include "../common/corpus.hpp"

namespace {

TEST(ItchFuzzReplay, SeedsBuiltInMemory) {
  sluice::test::replay_seeds(sluice::fuzz::itch_decode, sluice::fuzz::itch_decode_seeds(), 30);
}

TEST(ItchFuzzReplay, CommittedCorpus) {
  sluice::test::replay_corpus(sluice::fuzz::itch_decode, SLUICE_ITCH_CORPUS,
                              sluice::fuzz::itch_decode_seeds().size());
}

TEST(ItchFuzzReplay, MutatedSeeds) {
  sluice::test::replay_mutations(sluice::fuzz::itch_decode, sluice::fuzz::itch_decode_seeds(),
                                 20000, 11);
}

}  // namespace
