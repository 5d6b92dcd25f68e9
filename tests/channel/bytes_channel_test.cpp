// spsc_bytes and mpsc_bytes: every error value, close semantics (drain then Closed, Closed for
// writers once the reader is gone, the record committed just before a close), claim and recv
// awaitables that suspend and wake, an abort that unblocks later records, timeouts of
// suspended claims and receives, and cross-thread stress (tasks and plain threads, random
// sizes up to the maximum, per-producer sequence numbers, checksummed payloads, watchdog).
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "../common/watchdog.hpp"

using namespace sluice;
using namespace std::chrono_literals;

namespace {

template <class C>
class BytesChan : public ::testing::Test {};
struct SpscB {
  static auto make(std::size_t cap) { return spsc_bytes::channel(cap); }
  static auto make_in(std::size_t cap, RingMemory m) { return spsc_bytes::channel(cap, m); }
  static constexpr bool kMulti = false;
};
struct MpscB {
  static auto make(std::size_t cap) { return mpsc_bytes::channel(cap); }
  static auto make_in(std::size_t cap, RingMemory m) { return mpsc_bytes::channel(cap, m); }
  static constexpr bool kMulti = true;
};
using Kinds = ::testing::Types<SpscB, MpscB>;
TYPED_TEST_SUITE(BytesChan, Kinds);

template <class Tx>
void put(Tx& tx, const char* s, uint16_t kind = 0) {
  auto c = tx.try_claim(std::strlen(s), kind);
  ASSERT_TRUE(c) << to_string(c.error());
  std::memcpy(c->data(), s, std::strlen(s));
  c->commit();
}
template <class Claim>
std::string str(const Claim& c) {
  return std::string(reinterpret_cast<const char*>(c.data()), c.size());
}

TYPED_TEST(BytesChan, ConstructionAndClaimErrorsAreValues) {
  EXPECT_EQ(TypeParam::make(0).error(), ChannelError::ZeroCapacity);
  EXPECT_EQ(TypeParam::make((std::size_t{1} << 31) + 1).error(), ChannelError::CapacityTooLarge);
  RingMemory failing{[](std::size_t, std::size_t, void*) -> void* { return nullptr; }, nullptr,
                     nullptr};
  EXPECT_EQ(TypeParam::make_in(1024, failing).error(), ChannelError::OutOfMemory);
  auto [tx, rx] = std::move(*TypeParam::make(200));
  EXPECT_EQ(tx.capacity(), 256u);
  EXPECT_EQ(tx.max_payload(), 120u);
  EXPECT_EQ(tx.try_claim(0).error(), ClaimError::ZeroLength);
  EXPECT_EQ(tx.try_claim(121).error(), ClaimError::TooLarge);
  EXPECT_EQ(rx.try_recv().error(), RecvError::Empty);
  put(tx, "abc", 5);
  for (;;) {
    auto c = tx.try_claim(100);
    if (!c) {
      EXPECT_EQ(c.error(), ClaimError::Full);
      break;
    }
    c->commit();
  }
  // The awaitable refuses bad sizes at once even while the buffer is full.
  Runtime rt;
  auto errs = rt.block_on([&]() -> Task<std::pair<ClaimError, ClaimError>> {
    auto a = co_await tx.claim(0);
    auto b = co_await tx.claim(121);
    co_return std::make_pair(a.error(), b.error());
  }());
  EXPECT_EQ(errs.first, ClaimError::ZeroLength);
  EXPECT_EQ(errs.second, ClaimError::TooLarge);
  auto r = rx.try_recv();
  ASSERT_TRUE(r);
  EXPECT_EQ(str(*r), "abc");
  EXPECT_EQ(r->kind(), 5);
  EXPECT_STREQ(to_string(ClaimError::TooLarge), "too large");
}

TYPED_TEST(BytesChan, SendersGoneDrainThenClosed) {
  auto ch = std::move(*TypeParam::make(1024));
  auto rx = std::move(ch.rx);
  {
    auto tx = std::move(ch.tx);
    put(tx, "one");
    put(tx, "two");
  }
  EXPECT_TRUE(rx.is_closed());
  EXPECT_EQ(str(*rx.try_recv()), "one");
  EXPECT_EQ(str(*rx.try_recv()), "two");
  EXPECT_EQ(rx.try_recv().error(), RecvError::Closed);
  Runtime rt;
  auto e = rt.block_on([&]() -> Task<RecvError> {
    auto r = co_await rx.recv();
    co_return r.error();
  }());
  EXPECT_EQ(e, RecvError::Closed);
}

TYPED_TEST(BytesChan, ReceiverGoneIsClosedForWriters) {
  auto ch = std::move(*TypeParam::make(1024));
  auto tx = std::move(ch.tx);
  put(tx, "lost with the channel");
  { auto rx = std::move(ch.rx); }
  EXPECT_TRUE(tx.is_closed());
  EXPECT_EQ(tx.try_claim(4).error(), ClaimError::Closed);
  EXPECT_EQ(tx.claim_blocking(4).error(), ClaimError::Closed);
}

// A task suspended in claim() while full resumes when the reader releases, and a task
// suspended in recv() resumes when a record is committed.
TYPED_TEST(BytesChan, ClaimWaitsForRoomAndRecvWaitsForData) {
  auto [tx, rx] = std::move(*TypeParam::make(64));  // max payload 24
  Runtime rt;
  std::vector<std::string> got;
  rt.block_on([&]() -> Task<> {
    auto writer = spawn([](decltype(tx)& tx) -> Task<int> {
      int suspended = 0;
      for (int i = 0; i < 20; ++i) {
        auto c = co_await tx.claim(20, static_cast<uint16_t>(i));
        if (!c) co_return -1;
        std::memset(c->data(), 'a' + i, 20);
        c->commit();
        ++suspended;
      }
      co_return suspended;
    }(tx));
    for (int i = 0; i < 20; ++i) {
      auto r = co_await rx.recv();
      if (!r) break;
      got.push_back(str(*r));
    }
    auto w = co_await writer;
    EXPECT_EQ(w.value(), 20);
  }());
  ASSERT_EQ(got.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[i], std::string(20, static_cast<char>('a' + i)));
}

// A claim that is aborted while the reader waits behind it lets the later records through.
TEST(MpscBytes, AbortedClaimUnblocksTheReader) {
  auto [tx, rx] = std::move(*mpsc_bytes::channel(1024));
  auto tx2 = tx;
  Runtime rt(RuntimeConfig{IdlePolicy::park()});
  std::atomic<bool> reading{false};
  auto open = std::move(*tx.try_claim(8));
  std::thread other([&] {
    while (!reading.load()) std::this_thread::yield();
    std::this_thread::sleep_for(10ms);
    put(tx2, "behind");
    std::this_thread::sleep_for(10ms);
    open.abort();  // wakes the reader: "behind" is readable now
  });
  auto s = rt.block_on([&]() -> Task<std::string> {
    reading = true;
    auto r = co_await rx.recv();
    co_return r ? str(*r) : std::string("error");
  }());
  other.join();
  EXPECT_EQ(s, "behind");
}

// The record committed just before the last writer goes is always delivered.
TYPED_TEST(BytesChan, LastRecordBeforeCloseIsDelivered) {
  const int rounds = test::kSanitized ? 300 : 3000;
  for (int round = 0; round < rounds; ++round) {
    auto ch = std::move(*TypeParam::make(64));
    std::thread w([tx = std::move(ch.tx)]() mutable {
      for (const char* s : {"x", "y"}) {
        auto c = tx.claim_blocking(1);
        if (!c) std::abort();
        std::memcpy(c->data(), s, 1);
        c->commit();
      }
    });
    Runtime rt(RuntimeConfig{round % 2 ? IdlePolicy::park() : IdlePolicy::busy_poll()});
    std::string seen = rt.block_on([&]() -> Task<std::string> {
      std::string s;
      for (;;) {
        auto r = co_await ch.rx.recv();
        if (!r) break;
        s += str(*r);
      }
      co_return s;
    }());
    w.join();
    ASSERT_EQ(seen, "xy") << "round " << round;
  }
}

// Timed-out claim and recv unregister their waiters; the channel keeps working.
TYPED_TEST(BytesChan, TimeoutOfSuspendedClaimAndRecvIsSafe) {
  auto [tx, rx] = std::move(*TypeParam::make(64));
  Runtime rt;
  rt.block_on([&]() -> Task<> {
    auto r = co_await timeout(5ms, [](decltype(rx)& rx) -> Task<int> {
      auto c = co_await rx.recv();
      co_return c ? 1 : 0;
    }(rx));
    EXPECT_FALSE(r);
    put(tx, "fill-this-up-to-24-bytes");  // 24 bytes: a 32-byte record; 24 + 8 left
    auto w = co_await timeout(5ms, [](decltype(tx)& tx) -> Task<int> {
      auto c = co_await tx.claim(24);
      co_return c ? 1 : 0;
    }(tx));
    EXPECT_FALSE(w);
    auto got = rx.try_recv();
    EXPECT_TRUE(got);
    got->release();
    auto c = co_await tx.claim(24);
    EXPECT_TRUE(c);
  }());
}

// ---------------------------------------------------------------- across threads

inline uint8_t body(uint64_t tag, std::size_t i) {
  return static_cast<uint8_t>(((tag + i) * 0x9E3779B97F4A7C15ull) >> 57);
}
inline std::size_t size_for(std::minstd_rand& rng, std::size_t max) {
  return rng() % 8 == 0 ? max : 8 + rng() % 40;
}
enum class End { busy, park, thread };

template <class Kind>
void bytes_stress(std::size_t cap, std::vector<End> ends, End rx_end, long per) {
  auto ch = std::move(*Kind::make(cap));
  std::atomic<long> progress{0};
  test::Watchdog wd(30s, &progress);
  const int np = static_cast<int>(ends.size());
  std::vector<std::thread> threads;
  {
    std::vector<decltype(ch.tx)> txs;
    if constexpr (Kind::kMulti)
      for (int p = 1; p < np; ++p) txs.push_back(ch.tx);
    txs.insert(txs.begin(), std::move(ch.tx));
    for (int p = 0; p < np; ++p) {
      threads.emplace_back([p, per, end = ends[p], tx = std::move(txs[p])]() mutable {
        std::minstd_rand rng(static_cast<unsigned>(p) + 3);
        const std::size_t max = tx.max_payload();
        auto fill = [&](auto& c, long seq) {
          uint64_t tag = (uint64_t(p) << 40) | uint64_t(seq);
          std::memcpy(c.data(), &tag, 8);
          for (std::size_t i = 8; i < c.size(); ++i) c.data()[i] = std::byte{body(tag, i)};
        };
        if (end == End::thread) {
          for (long i = 0; i < per; ++i) {
            auto c = tx.claim_blocking(size_for(rng, max));
            if (!c) std::abort();
            fill(*c, i);
            c->commit();
          }
          return;
        }
        Runtime rt(RuntimeConfig{end == End::busy ? IdlePolicy::busy_poll() : IdlePolicy::park()});
        rt.block_on([&]() -> Task<> {
          for (long i = 0; i < per; ++i) {
            auto c = co_await tx.claim(size_for(rng, max));
            if (!c) std::abort();
            fill(*c, i);
            if (rng() % 32 == 0) c->abort();  // never seen: send it again
            if (!c->valid()) {
              --i;
              continue;
            }
            c->commit();
            if ((rng() & 63) == 0) co_await yield_now();
          }
        }());
      });
    }
  }
  std::vector<long> next(np, 0);
  long got = 0;
  bool ok = true;
  auto check = [&](std::span<const std::byte> s) {
    uint64_t tag;
    std::memcpy(&tag, s.data(), 8);
    for (std::size_t i = 8; i < s.size(); ++i)
      if (s[i] != std::byte{body(tag, i)}) ok = false;
    int p = static_cast<int>(tag >> 40);
    long seq = static_cast<long>(tag & ((uint64_t{1} << 40) - 1));
    if (p >= np || seq != next[p])
      ok = false;
    else
      ++next[p];
    progress.store(++got, std::memory_order_relaxed);
  };
  auto rx = std::move(ch.rx);
  if (rx_end == End::thread) {
    for (;;) {
      auto r = rx.recv_blocking();
      if (!r) {
        EXPECT_EQ(r.error(), RecvError::Closed);
        break;
      }
      check(r->span());
    }
  } else {
    Runtime rt(RuntimeConfig{rx_end == End::busy ? IdlePolicy::busy_poll() : IdlePolicy::park()});
    rt.block_on([&]() -> Task<> {
      for (;;) {
        auto r = co_await rx.recv();
        if (!r) {
          EXPECT_EQ(r.error(), RecvError::Closed);
          break;
        }
        check(r->span());
      }
    }());
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(ok) << "lost, duplicated, reordered or torn record near " << got;
  for (int p = 0; p < np; ++p) EXPECT_EQ(next[p], per) << "producer " << p;
}

constexpr long kBig = test::kSanitized ? 60'000 : 600'000;

TEST(SpscBytesStress, ThreadToParkedTask) {
  bytes_stress<SpscB>(256, {End::thread}, End::park, kBig);
}
TEST(SpscBytesStress, BusyTaskToThread) {
  bytes_stress<SpscB>(128, {End::busy}, End::thread, kBig);
}
TEST(SpscBytesStress, ParkedTaskToBusyTask) {
  bytes_stress<SpscB>(256, {End::park}, End::busy, kBig / 2);
}
TEST(MpscBytesStress, MixedWritersToParkedTask) {
  bytes_stress<MpscB>(256, {End::thread, End::busy, End::park}, End::park, kBig / 3);
}
TEST(MpscBytesStress, ThreeThreadsToThread) {
  bytes_stress<MpscB>(128, {End::thread, End::thread, End::thread}, End::thread, kBig / 3);
}

}  // namespace
