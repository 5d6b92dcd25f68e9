// The wheel against a sorted model: random inserts/cancels/advances, every level.
#include <gtest/gtest.h>

#include <sluice/runtime/timer_wheel.hpp>

#include <map>
#include <random>
#include <vector>

using namespace sluice;

namespace {
struct Fired {
  std::vector<std::pair<uint64_t, int>> log;  // (tick fired at, id)
  uint64_t now = 0;
};
Fired* g_fired = nullptr;
struct Entry : TimerEntry {
  int id = 0;
};
void on_fire(TimerEntry* e) noexcept {
  g_fired->log.emplace_back(g_fired->now, static_cast<Entry*>(e)->id);
}
}  // namespace

TEST(TimerWheel, FiresAtDeadlineNeverEarly) {
  Fired f;
  g_fired = &f;
  TimerWheel w(1000);
  Entry a, b, c;
  a.id = 1, a.deadline = 1005, a.fire = on_fire;
  b.id = 2, b.deadline = 1000 + 70, b.fire = on_fire;      // level 1
  c.id = 3, c.deadline = 1000 + 300000, c.fire = on_fire;  // level 3
  w.insert(&a), w.insert(&b), w.insert(&c);
  EXPECT_EQ(w.next_expiration(), 1005u);
  f.now = 1004;
  EXPECT_EQ(w.advance(1004), 0u);
  f.now = 1005;
  EXPECT_EQ(w.advance(1005), 1u);
  f.now = 1069;
  EXPECT_EQ(w.advance(1069), 0u);
  f.now = 1070;
  EXPECT_EQ(w.advance(1070), 1u);
  f.now = 1000 + 300000;
  EXPECT_EQ(w.advance(1000 + 300000), 1u);
  EXPECT_TRUE(w.empty());
}

TEST(TimerWheel, RandomAgainstModel) {
  std::mt19937_64 rng(12345);
  Fired f;
  g_fired = &f;
  TimerWheel w(0);
  std::vector<Entry> entries(2000);
  std::map<int, uint64_t> armed;  // id -> deadline
  uint64_t now = 0;
  for (int step = 0; step < 200000; ++step) {
    int op = static_cast<int>(rng() % 10);
    int id = static_cast<int>(rng() % entries.size());
    Entry& e = entries[id];
    if (op < 5 && !e.linked) {
      // Spread over every level, including beyond the wheel's span.
      uint64_t span = uint64_t{1} << (rng() % 40);
      e.id = id;
      e.fire = on_fire;
      e.deadline = now + rng() % span;
      w.insert(&e);
      armed[id] = e.deadline;
    } else if (op < 7 && e.linked) {
      w.remove(&e);
      armed.erase(id);
    } else {
      uint64_t jump = (rng() % 4 == 0) ? (uint64_t{1} << (rng() % 34)) : rng() % 100;
      now += jump;
      f.now = now;
      f.log.clear();
      w.advance(now);
      std::vector<int> expect;
      for (auto it = armed.begin(); it != armed.end();) {
        if (it->second <= now) {
          expect.push_back(it->first);
          it = armed.erase(it);
        } else {
          ++it;
        }
      }
      std::vector<int> got;
      for (auto& [t, i] : f.log) {
        got.push_back(i);
        ASSERT_GE(t, entries[i].deadline);
      }
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, expect) << "step " << step;
      ASSERT_EQ(w.size(), armed.size());
    }
  }
}
