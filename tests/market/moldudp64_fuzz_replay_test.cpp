// Replays the MoldUDP64 fuzzer's inputs through its body (fuzz/market/moldudp64_fuzz.hpp) in
// every build: the seeds built in memory, every file committed under
// fuzz/market/moldudp64_corpus/ (the seeds as moldudp64_make_corpus wrote them, and inputs the
// fuzzer found worth keeping), and mutations of the seeds (tests/common/corpus.hpp). A broken
// rule aborts with "sluice-fuzz: ...".
#include <gtest/gtest.h>

#include "../../fuzz/market/moldudp64_fuzz.hpp"
#include "../common/corpus.hpp"

namespace {

TEST(MoldUdp64FuzzReplay, SeedsBuiltInMemory) {
  sluice::test::replay_seeds(sluice::fuzz::moldudp64, sluice::fuzz::moldudp64_seeds(), 12);
}

TEST(MoldUdp64FuzzReplay, CommittedCorpus) {
  sluice::test::replay_corpus(sluice::fuzz::moldudp64, SLUICE_MOLD_CORPUS,
                              sluice::fuzz::moldudp64_seeds().size());
}

TEST(MoldUdp64FuzzReplay, MutatedSeeds) {
  sluice::test::replay_mutations(sluice::fuzz::moldudp64, sluice::fuzz::moldudp64_seeds(), 20000,
                                 14);
}

}  // namespace
