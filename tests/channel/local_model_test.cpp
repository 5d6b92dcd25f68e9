// Randomized: local channels driven with random operations against a std::deque model,
// >= 10^6 steps over many capacities and sender counts.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <deque>
#include <optional>
#include <random>
#include <vector>

using namespace sluice;

TEST(LocalModel, RandomOpsMatchDeque) {
  std::mt19937_64 rng(20261121);
  long steps = 0;
  int rounds = 0;
  while (steps < 1'200'000) {
    ++rounds;
    std::size_t cap = std::size_t{1} << (rng() % 8);  // 1 .. 128
    auto ch = local::channel<uint64_t>(cap).value();
    std::vector<local::Sender<uint64_t>> senders;
    senders.push_back(std::move(ch.tx));
    std::optional<local::Receiver<uint64_t>> rx(std::move(ch.rx));
    std::deque<uint64_t> model;
    bool rx_alive = true;
    uint64_t next = 0;
    for (int i = 0; i < 20000; ++i, ++steps) {
      int op = static_cast<int>(rng() % 100);
      if (op < 45 && !senders.empty()) {
        auto& tx = senders[rng() % senders.size()];
        uint64_t v = next++;
        auto r = tx.try_send(v);
        if (!rx_alive) {
          ASSERT_FALSE(r);
          ASSERT_EQ(r.error().code, SendErrc::Closed);
          ASSERT_EQ(r.error().value, v);
        } else if (model.size() >= cap) {
          ASSERT_FALSE(r);
          ASSERT_EQ(r.error().code, SendErrc::Full);
          ASSERT_EQ(r.error().value, v);
        } else {
          ASSERT_TRUE(r);
          model.push_back(v);
        }
      } else if (op < 90 && rx_alive) {
        auto r = rx->try_recv();
        if (!model.empty()) {
          ASSERT_TRUE(r);
          ASSERT_EQ(*r, model.front());
          model.pop_front();
        } else {
          ASSERT_FALSE(r);
          ASSERT_EQ(r.error(), senders.empty() ? RecvError::Closed : RecvError::Empty);
        }
        ASSERT_EQ(rx->size(), model.size());
      } else if (op < 94 && !senders.empty()) {
        senders.push_back(senders[rng() % senders.size()]);  // clone
      } else if (op < 98 && !senders.empty()) {
        senders.erase(senders.begin() + static_cast<long>(rng() % senders.size()));
        if (rx_alive) {
          ASSERT_EQ(rx->is_closed(), senders.empty());
        }
      } else if (op == 99 && rx_alive && rng() % 8 == 0) {
        rx.reset();
        rx_alive = false;
        model.clear();
      }
      if (senders.empty() && !rx_alive) break;
    }
  }
  EXPECT_GE(steps, 1'000'000);
  EXPECT_GT(rounds, 10);
}
