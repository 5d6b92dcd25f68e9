// Randomized: local channels driven with random operations against a std::deque model,
// >= 10^6 steps over many capacities and sender counts.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <random>
#include <vector>

#include "../common/watchdog.hpp"

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

// Blocked senders too: tasks suspended in send() while the ring is full, admitted in FIFO
// order by receives, aborted at random, and closed out when the receiver goes. Checks every
// result, size(), and that a try_send never overtakes a blocked sender.
TEST(LocalModel, RandomOpsWithBlockedSendersMatchModel) {
  std::mt19937_64 rng(7741);
  long steps = 0;
  std::atomic<long> progress{0};  // a lost wake or a drain that never ends fails, not hangs
  test::Watchdog dog(std::chrono::seconds(20), &progress);
  while (steps < 300'000) {
    Runtime rt;
    std::size_t cap = std::size_t{1} << (rng() % 4);  // 1 .. 8
    auto ch = local::channel<uint64_t>(cap).value();
    auto tx = std::move(ch.tx);
    std::optional<local::Receiver<uint64_t>> rx(std::move(ch.rx));
    struct Pending {
      uint64_t v;
      JoinHandle<int> h;  // 1 sent, 2 closed with the value back
    };
    auto blocked_send = [](local::Sender<uint64_t> tx, uint64_t v) -> Task<int> {
      auto r = co_await tx.send(v);
      if (r) co_return 1;
      co_return r.error().code == SendErrc::Closed&& r.error().value == v ? 2 : 0;
    };
    auto driver = [&]() -> Task<> {
      std::deque<uint64_t> ring;              // values in the channel
      std::deque<Pending> waiting;            // blocked senders, oldest first
      std::vector<JoinHandle<int>> admitted;  // sent, completion to check
      bool alive = true;
      uint64_t next = 0;
      for (int i = 0; i < 5000; ++i, ++steps) {
        int op = static_cast<int>(rng() % 100);
        if (op < 30) {  // try_send
          uint64_t v = next++;
          auto r = tx.try_send(v);
          if (!alive) {
            EXPECT_EQ(r.error().code, SendErrc::Closed);
          } else if (ring.size() >= cap) {
            EXPECT_FALSE(r);
            EXPECT_EQ(r.error().code, SendErrc::Full);
            EXPECT_EQ(r.error().value, v);
          } else {
            EXPECT_TRUE(r);
            EXPECT_TRUE(waiting.empty());
            ring.push_back(v);
          }
        } else if (op < 50) {  // a task that sends and may block
          uint64_t v = next++;
          auto h = spawn(blocked_send(tx, v));
          co_await yield_now();  // it runs up to its first suspension
          if (!alive) {
            EXPECT_TRUE(h.is_finished());
            EXPECT_EQ((co_await h).value(), 2);
          } else if (ring.size() < cap && waiting.empty()) {
            ring.push_back(v);
            EXPECT_TRUE(h.is_finished());
            EXPECT_EQ((co_await h).value(), 1);
          } else {
            EXPECT_FALSE(h.is_finished());
            waiting.push_back(Pending{v, std::move(h)});
          }
        } else if (op < 85 && alive) {  // try_recv, or recv when something is there
          auto r = rx->try_recv();
          if (ring.empty()) {
            EXPECT_FALSE(r);
            EXPECT_EQ(r.error(), RecvError::Empty);
          } else {
            EXPECT_TRUE(r);
            if (r) {
              EXPECT_EQ(*r, ring.front());
            }
            ring.pop_front();
            if (!waiting.empty()) {  // the oldest blocked sender moves in
              ring.push_back(waiting.front().v);
              admitted.push_back(std::move(waiting.front().h));
              waiting.pop_front();
            }
          }
        } else if (op < 92 && !waiting.empty()) {  // abort a blocked sender: its value is gone
          std::size_t k = rng() % waiting.size();
          EXPECT_TRUE(waiting[k].h.abort());
          waiting.erase(waiting.begin() + static_cast<long>(k));
        } else if (op < 97) {  // let admitted senders finish
          co_await yield_now();
          for (auto& h : admitted) {
            EXPECT_TRUE(h.is_finished());
            EXPECT_EQ((co_await h).value(), 1);
          }
          admitted.clear();
        } else if (op == 99 && alive && rng() % 4 == 0) {  // receiver goes: waiters get Closed
          rx.reset();
          alive = false;
          ring.clear();
          co_await yield_now();
          for (auto& p : waiting) {
            EXPECT_TRUE(p.h.is_finished());
            EXPECT_EQ((co_await p.h).value(), 2);
          }
          waiting.clear();
        }
        progress.store(steps, std::memory_order_relaxed);  // relaxed: a counter for the dog
        if (alive) {
          EXPECT_EQ(rx->size(), ring.size());
          EXPECT_EQ(tx.size(), ring.size());
        }
        if (testing::Test::HasFailure()) co_return;
      }
      if (alive) {  // drain: every queued and blocked value, in order, then nothing lost
        for (;;) {
          progress.fetch_add(1, std::memory_order_relaxed);  // relaxed: a counter for the dog
          auto r = rx->try_recv();
          if (!r) break;
          EXPECT_FALSE(ring.empty());
          if (ring.empty()) break;
          EXPECT_EQ(*r, ring.front());
          ring.pop_front();
          if (!waiting.empty()) {
            ring.push_back(waiting.front().v);
            admitted.push_back(std::move(waiting.front().h));
            waiting.pop_front();
          }
        }
        EXPECT_TRUE(ring.empty());
        EXPECT_TRUE(waiting.empty());
      }
      co_await yield_now();
      for (auto& h : admitted) EXPECT_EQ((co_await h).value(), 1);
    };
    rt.block_on(driver());
    ASSERT_FALSE(testing::Test::HasFailure());
  }
}
