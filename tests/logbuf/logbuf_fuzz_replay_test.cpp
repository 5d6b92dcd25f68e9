// Replays the logbuf region fuzzer's inputs through its body (fuzz/logbuf/region_fuzz.hpp) in
// every build: the seeds built in memory, every file committed under fuzz/logbuf/corpus/ (the
// seeds as fuzz/logbuf/make_corpus.cpp wrote them, and inputs the fuzzer found worth keeping),
// and mutations of the seeds (tests/common/corpus.hpp). A broken rule aborts with
// "sluice-fuzz: ...".
#include <gtest/gtest.h>

#include "../../fuzz/logbuf/region_fuzz.hpp"
#include "../common/corpus.hpp"

namespace {

TEST(LogbufFuzzReplay, SeedsBuiltInMemory) {
  sluice::test::replay_seeds(sluice::fuzz::logbuf_region, sluice::fuzz::logbuf_region_seeds(), 40);
}

TEST(LogbufFuzzReplay, CommittedCorpus) {
  sluice::test::replay_corpus(sluice::fuzz::logbuf_region, SLUICE_LOGBUF_CORPUS,
                              sluice::fuzz::logbuf_region_seeds().size());
}

TEST(LogbufFuzzReplay, MutatedSeeds) {
  sluice::test::replay_mutations(sluice::fuzz::logbuf_region, sluice::fuzz::logbuf_region_seeds(),
                                 20000, 12);
}

}  // namespace
