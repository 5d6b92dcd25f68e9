// Replays the order-protocol fuzzer's inputs through its body (fuzz/examples/
// order_protocol_fuzz.hpp) in every build: the seeds built in memory, every file committed
// under fuzz/examples/order_protocol_corpus/, and mutations of the seeds
// (tests/common/corpus.hpp). A broken rule aborts with "sluice-fuzz: ...".
#include <gtest/gtest.h>

#include "../../fuzz/examples/order_protocol_fuzz.hpp"
#include "../common/corpus.hpp"

namespace {

TEST(OrderProtocolFuzzReplay, SeedsBuiltInMemory) {
  sluice::test::replay_seeds(sluice::fuzz::order_protocol, sluice::fuzz::order_protocol_seeds(),
                             10);
}

TEST(OrderProtocolFuzzReplay, CommittedCorpus) {
  sluice::test::replay_corpus(sluice::fuzz::order_protocol, SLUICE_ORDER_CORPUS,
                              sluice::fuzz::order_protocol_seeds().size());
}

TEST(OrderProtocolFuzzReplay, MutatedSeeds) {
  sluice::test::replay_mutations(sluice::fuzz::order_protocol, sluice::fuzz::order_protocol_seeds(),
                                 20000, 13);
}

}  // namespace
