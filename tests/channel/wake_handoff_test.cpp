// A wake is never lost when the waiter it was handed to goes away before it runs.
//
// Every wait list hands a wake to one waiter (the oldest). If that waiter is cancelled
// (abort, timeout, destruction) after it was chosen but before it ran, the wake must pass to
// the next waiter; otherwise a slot (or a value) sits free while another waiter sleeps on it
// forever. The deterministic tests below build exactly that order on one runtime: two tasks
// park, a wake claims the first, the first is aborted before the inbox delivers; the second
// must still complete. They failed before 2026-11-29 (the second waiter timed out). The
// stress test races random timeouts and aborts against the wakes across threads and runtimes
// and checks that every value arrives exactly once, in order per producer, with a watchdog.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "../common/watchdog.hpp"

using namespace sluice;
using namespace std::chrono_literals;

namespace {

// ---------------------------------------------------------------- senders on one queue

template <class Tx>
Task<bool> send_one(Tx* tx, int v) {
  auto r = co_await tx->send(v);
  co_return bool(r);
}

// The shape from the report: capacity 1, two parked senders, one pop, and the sender the pop
// woke is cancelled before it runs. The other sender must be woken and its value delivered.
void cancelled_woken_sender_passes_the_wake(std::size_t max_lanes) {
  Runtime rt;  // park policy: waits register in the queue and wakes go through the inbox
  auto ch = std::move(*mpsc::channel<int>(1, {}, max_lanes));
  // With max_lanes = 1 the channel's own sender has the lane; these two share the ring.
  auto a = ch.tx;
  auto b = ch.tx;
  ASSERT_FALSE(a.has_lane());
  ASSERT_FALSE(b.has_lane());
  ASSERT_TRUE(a.try_send(0));  // the shared ring is full
  rt.block_on([](mpsc::Sender<int>* a, mpsc::Sender<int>* b, mpsc::Receiver<int>* rx) -> Task<> {
    auto first = spawn(send_one(a, 1));
    auto second = spawn(send_one(b, 2));
    co_await yield_now();           // both park on the shared ring's queue, first in line first
    EXPECT_EQ(*rx->try_recv(), 0);  // frees the slot: the wake claims `first`
    EXPECT_TRUE(first.abort());     // cancelled before its runtime delivered that wake
    auto r = co_await timeout(2s, [](JoinHandle<bool>* h) -> Task<bool> {
      auto v = co_await *h;
      co_return v&&* v;
    }(&second));
    EXPECT_TRUE(r) << "the second sender was never woken: the wake died with the first";
    if (!r) co_return;
    EXPECT_TRUE(*r);
    EXPECT_EQ(*rx->try_recv(), 2);
    EXPECT_EQ(rx->try_recv().error(), RecvError::Empty);  // the aborted value never went in
  }(&a, &b, &ch.rx));
}

TEST(WakeHandoff, MpscSharedRingCancelledWokenSenderPassesTheWake) {
  cancelled_woken_sender_passes_the_wake(0);
}
TEST(WakeHandoff, MpscSendersBeyondTheLanesCancelledWokenSenderPassesTheWake) {
  cancelled_woken_sender_passes_the_wake(1);
}

// The same through a timeout instead of an abort: the first sender's deadline passes in the
// window between its wake and its run.
TEST(WakeHandoff, MpscSharedRingTimedOutWokenSenderPassesTheWake) {
  Runtime rt;
  auto ch = std::move(*mpsc::channel<int>(1, {}, 0));
  auto a = ch.tx;
  auto b = ch.tx;
  ASSERT_TRUE(a.try_send(0));
  rt.block_on([](mpsc::Sender<int>* a, mpsc::Sender<int>* b, mpsc::Receiver<int>* rx) -> Task<> {
    auto first = spawn(timeout(1ms, send_one(a, 1)));
    auto second = spawn(send_one(b, 2));
    co_await yield_now();
    co_await yield_now();  // both parked
    // Spin past the first sender's deadline without yielding, then free the slot: the wake
    // and the timer are both due when the runtime next looks; the timeout aborts the sender.
    auto until = Clock::now() + 3ms;
    while (Clock::now() < until) {
    }
    EXPECT_EQ(*rx->try_recv(), 0);
    auto r1 = co_await first;
    EXPECT_TRUE(r1);
    if (!r1) co_return;
    auto r2 = co_await timeout(2s, [](JoinHandle<bool>* h) -> Task<bool> {
      auto v = co_await *h;
      co_return v&&* v;
    }(&second));
    EXPECT_TRUE(r2) << "the second sender was never woken";
    if (!r2) co_return;
    // Either the first sender timed out (and its value never went in) or it won the race.
    std::vector<int> got;
    while (auto v = rx->try_recv()) got.push_back(*v);
    if (*r1) {
      EXPECT_EQ(got, (std::vector<int>{1, 2}));
    } else {
      EXPECT_EQ(got, (std::vector<int>{2}));
    }
  }(&a, &b, &ch.rx));
}

// ---------------------------------------------------------------- receivers on one queue

// Two tasks wait on one Receiver (a reference shared by two tasks of one runtime). A value
// wakes the first; it is aborted before it runs; the second must get the value.
template <class Rx>
Task<int> recv_int(Rx* rx) {
  auto r = co_await rx->recv();
  co_return r ? *r : -1;
}

template <class Ch, class Send>
void cancelled_woken_receiver_passes_the_wake(Ch& ch, Send send) {
  Runtime rt;
  rt.block_on([](Ch* ch, Send send) -> Task<> {
    auto first = spawn(recv_int(&ch->rx));
    auto second = spawn(recv_int(&ch->rx));
    co_await yield_now();  // both wait
    send(ch->tx, 7);       // wakes the first
    EXPECT_TRUE(first.abort());
    auto r = co_await timeout(2s, [](JoinHandle<int>* h) -> Task<int> {
      auto v = co_await *h;
      co_return v ? *v : -2;
    }(&second));
    EXPECT_TRUE(r) << "the second receiver was never woken";
    if (!r) co_return;
    EXPECT_EQ(*r, 7);
  }(&ch, send));
}

TEST(WakeHandoff, LocalCancelledWokenReceiverPassesTheWake) {
  auto ch = std::move(*local::channel<int>(4));
  cancelled_woken_receiver_passes_the_wake(ch,
                                           [](auto& tx, int v) { EXPECT_TRUE(tx.try_send(v)); });
}
TEST(WakeHandoff, SpscCancelledWokenReceiverPassesTheWake) {
  auto ch = std::move(*spsc::channel<int>(4));
  cancelled_woken_receiver_passes_the_wake(ch,
                                           [](auto& tx, int v) { EXPECT_TRUE(tx.try_send(v)); });
}
TEST(WakeHandoff, MpscCancelledWokenReceiverPassesTheWake) {
  auto ch = std::move(*mpsc::channel<int>(4));
  cancelled_woken_receiver_passes_the_wake(ch,
                                           [](auto& tx, int v) { EXPECT_TRUE(tx.try_send(v)); });
}

template <class Ch>
void bytes_cancelled_woken_receiver_passes_the_wake() {
  auto ch = std::move(*Ch::make(256));
  Runtime rt;
  rt.block_on([](decltype(ch)* ch) -> Task<> {
    auto rx_task = [](auto* rx) -> Task<int> {
      auto r = co_await rx->recv();
      if (!r) co_return -1;
      int v = 0;
      std::memcpy(&v, r->data(), sizeof v);
      co_return v;
    };
    auto first = spawn(rx_task(&ch->rx));
    auto second = spawn(rx_task(&ch->rx));
    co_await yield_now();
    auto c = ch->tx.try_claim(sizeof(int));
    EXPECT_TRUE(c);
    int v = 7;
    std::memcpy(c->data(), &v, sizeof v);
    c->commit();  // wakes the first
    EXPECT_TRUE(first.abort());
    auto r = co_await timeout(2s, [](JoinHandle<int>* h) -> Task<int> {
      auto x = co_await *h;
      co_return x ? *x : -2;
    }(&second));
    EXPECT_TRUE(r) << "the second receiver was never woken";
    if (!r) co_return;
    EXPECT_EQ(*r, 7);
  }(&ch));
}
struct SpscBytes {
  static auto make(std::size_t n) { return spsc_bytes::channel(n); }
};
struct MpscBytes {
  static auto make(std::size_t n) { return mpsc_bytes::channel(n); }
};
TEST(WakeHandoff, SpscBytesCancelledWokenReceiverPassesTheWake) {
  bytes_cancelled_woken_receiver_passes_the_wake<SpscBytes>();
}
TEST(WakeHandoff, MpscBytesCancelledWokenReceiverPassesTheWake) {
  bytes_cancelled_woken_receiver_passes_the_wake<MpscBytes>();
}

// ---------------------------------------------------------------- Notify, Semaphore

// The notify that claimed a waiter aborted before it ran stays a permit for the next wait.
TEST(WakeHandoff, NotifyClaimedWaiterAbortedLeavesThePermit) {
  Runtime rt;
  Notify n;
  rt.block_on([](Notify* n) -> Task<> {
    auto w = spawn([](Notify* n) -> Task<> { co_await n->wait(); }(n));
    co_await yield_now();                      // registered (park policy)
    std::thread([n] { n->notify(); }).join();  // claims the waiter: its wake is in the inbox
    EXPECT_TRUE(w.abort());
    EXPECT_TRUE(n->try_acquire()) << "the notify died with the aborted waiter";
    EXPECT_FALSE(n->try_acquire());
  }(&n));
}

TEST(WakeHandoff, SemaphoreGrantedWaiterAbortedPassesThePermit) {
  Runtime rt;
  Semaphore sem(1);
  rt.block_on([](Semaphore* sem) -> Task<> {
    auto held = sem->try_acquire();
    EXPECT_TRUE(held);
    auto acquire = [](Semaphore* s) -> Task<bool> {
      auto p = co_await s->acquire();
      co_return bool(p);
    };
    auto first = spawn(acquire(sem));
    auto second = spawn(acquire(sem));
    co_await yield_now();
    held->release();  // granted to the first
    EXPECT_TRUE(first.abort());
    auto r = co_await timeout(2s, [](JoinHandle<bool>* h) -> Task<bool> {
      auto v = co_await *h;
      co_return v&&* v;
    }(&second));
    EXPECT_TRUE(r);
    if (!r) co_return;
    EXPECT_TRUE(*r);
    EXPECT_EQ(sem->available(), 1u);
  }(&sem));
}

// ---------------------------------------------------------------- stress

// Producers on two runtimes (one parking, one spinning then parking) and on a plain thread
// send per-producer sequence numbers into one mpsc channel of capacity 1, so most of them wait
// in one queue. Each send is, at random, a plain send, a send under a short timeout, or a
// send that is aborted after a few yields; a cancelled send is retried with the same number.
// Three receive tasks on a third runtime share the Receiver, each under random timeouts too.
// A cancelled operation never delivered its value (its push, or its pop, and its completion
// happen in one run of the task), so the receiver must see every number exactly once. A wake
// that dies with a cancelled waiter shows up as a stall (the watchdog).
// Three receive tasks share the Receiver, so the order in which they *record* values is not
// the order in which they took them (a task that took a value under a timeout may resume
// after another one): the tally counts each (producer, sequence) instead, and order per
// producer is left to the single-consumer stress tests.
struct Tally {
  std::vector<std::vector<uint8_t>> seen;  // per producer, per sequence number: times received
  long received = 0;
  long bad = 0;  // duplicates or numbers never sent
};

constexpr int kTasksPerRuntime = 4;
constexpr int kProducers = 2 * kTasksPerRuntime + 1;

Task<bool> send_value(mpsc::Sender<uint64_t>* tx, uint64_t v) {
  auto r = co_await tx->send(v);
  co_return bool(r);
}

Task<> producer(mpsc::Sender<uint64_t> tx, uint64_t id, long n, unsigned seed,
                std::atomic<long>* progress) {
  std::minstd_rand rng(seed);
  for (long seq = 0; seq < n;) {
    const uint64_t v = (id << 32) | static_cast<uint64_t>(seq);
    bool sent = false;
    switch (rng() % 3) {
      case 0:
        sent = co_await send_value(&tx, v);
        EXPECT_TRUE(sent);
        break;
      case 1: {
        auto r = co_await timeout(std::chrono::microseconds(rng() % 200), send_value(&tx, v));
        sent = r && *r;
        break;
      }
      default: {
        auto h = spawn(send_value(&tx, v));
        for (unsigned i = rng() % 4; i > 0; --i) co_await yield_now();
        if (!h.is_finished()) h.abort();
        auto r = co_await h;
        sent = r && *r;
        break;
      }
    }
    if (sent) {
      ++seq;
      progress->fetch_add(1, std::memory_order_relaxed);
    }
  }
}

Task<> receiver_task(mpsc::Receiver<uint64_t>* rx, Tally* t, unsigned seed,
                     std::atomic<long>* progress) {
  std::minstd_rand rng(seed);
  for (;;) {
    auto one = [](mpsc::Receiver<uint64_t>* rx) -> Task<Result<uint64_t, RecvError>> {
      co_return co_await rx->recv();
    };
    Result<uint64_t, RecvError> r = err(RecvError::Empty);
    if (rng() % 2 == 0) {
      r = co_await one(rx);
    } else {
      auto tr = co_await timeout(std::chrono::microseconds(rng() % 300), one(rx));
      if (!tr) continue;  // timed out: nothing was taken
      r = std::move(*tr);
    }
    if (!r) {
      EXPECT_EQ(r.error(), RecvError::Closed);
      co_return;
    }
    const auto id = static_cast<std::size_t>(*r >> 32);
    const auto seq = static_cast<std::size_t>(*r & 0xffffffffu);
    if (id >= t->seen.size() || seq >= t->seen[id].size() || t->seen[id][seq]++ != 0) {
      if (t->bad++ < 5) ADD_FAILURE() << "producer " << id << ": " << seq << " twice or unsent";
    }
    ++t->received;
    progress->fetch_add(1, std::memory_order_relaxed);
    if (rng() % 8 == 0) co_await yield_now();
  }
}

void stress(std::size_t max_lanes) {
  const long per = test::kSanitized ? 300 : 3000;
  auto ch = std::move(*mpsc::channel<uint64_t>(1, {}, max_lanes));
  std::atomic<long> progress{0};
  test::Watchdog dog(20s, &progress);
  Tally tally;
  tally.seen.assign(kProducers, std::vector<uint8_t>(static_cast<std::size_t>(per), 0));

  std::thread consumer([&, rx = std::move(ch.rx)]() mutable {
    Runtime rt;
    rt.block_on([](mpsc::Receiver<uint64_t>* rx, Tally* t, std::atomic<long>* p) -> Task<> {
      auto a = spawn(receiver_task(rx, t, 11, p));
      auto b = spawn(receiver_task(rx, t, 12, p));
      auto c = spawn(receiver_task(rx, t, 13, p));
      (void)co_await a;
      (void)co_await b;
      (void)co_await c;
    }(&rx, &tally, &progress));
  });

  auto run_producers = [&](IdlePolicy policy, uint64_t first_id,
                           std::vector<mpsc::Sender<uint64_t>> txs) {
    return std::thread([&progress, policy, first_id, per, txs = std::move(txs)]() mutable {
      Runtime rt(RuntimeConfig{policy});
      rt.block_on([](std::vector<mpsc::Sender<uint64_t>>* txs, uint64_t first, long per,
                     std::atomic<long>* p) -> Task<> {
        std::vector<JoinHandle<void>> hs;
        for (std::size_t i = 0; i < txs->size(); ++i)
          hs.push_back(spawn(producer(std::move((*txs)[i]), first + i, per,
                                      static_cast<unsigned>(first + i + 1), p)));
        for (auto& h : hs) (void)co_await h;
      }(&txs, first_id, per, &progress));
    });
  };
  std::vector<mpsc::Sender<uint64_t>> left, right;
  for (int i = 0; i < kTasksPerRuntime; ++i) {
    left.push_back(ch.tx);
    right.push_back(ch.tx);
  }
  std::thread p1 = run_producers(IdlePolicy::park(), 0, std::move(left));
  std::thread p2 =
      run_producers(IdlePolicy::spin_then_park(200), kTasksPerRuntime, std::move(right));
  std::thread p3([&progress, per, tx = ch.tx]() mutable {
    for (long seq = 0; seq < per; ++seq) {
      const uint64_t v = (uint64_t{2 * kTasksPerRuntime} << 32) | static_cast<uint64_t>(seq);
      EXPECT_TRUE(tx.send_blocking(v));
      progress.fetch_add(1, std::memory_order_relaxed);
    }
  });
  { auto gone = std::move(ch.tx); }  // only the producers' senders keep the channel open
  p1.join();
  p2.join();
  p3.join();
  consumer.join();  // every sender is gone: the receive tasks drain, then see Closed

  EXPECT_EQ(tally.bad, 0);
  EXPECT_EQ(tally.received, per * kProducers);
  for (int id = 0; id < kProducers; ++id) {
    long missing = 0;
    for (uint8_t n : tally.seen[id]) missing += n == 0;
    EXPECT_EQ(missing, 0) << "producer " << id;
  }
}

TEST(WakeHandoffStress, SharedRingTimeoutsAndAbortsRaceTheWakes) { stress(0); }
TEST(WakeHandoffStress, LanesAndSharedRingTimeoutsAndAbortsRaceTheWakes) { stress(2); }

}  // namespace
