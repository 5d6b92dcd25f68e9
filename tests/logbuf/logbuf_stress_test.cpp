// Byte rings across threads and across processes: random record sizes up to the maximum,
// random aborts, read claims held several at a time and released out of order. Every record
// carries (producer, sequence) and a payload derived from them, so the reader detects a lost,
// duplicated, reordered or torn record. A watchdog fails a stalled run instead of hanging it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sluice/logbuf/mpsc_logbuf.hpp>
#include <sluice/logbuf/shm.hpp>
#include <sluice/logbuf/spsc_logbuf.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "../common/watchdog.hpp"

using namespace sluice;
using namespace sluice::logbuf;
using namespace std::chrono_literals;

namespace {

// Payload: 8 bytes of (producer << 40 | seq), then bytes derived from that word.
inline uint8_t body(uint64_t tag, std::size_t i) {
  uint64_t x = (tag + i) * 0x9E3779B97F4A7C15ull;
  return static_cast<uint8_t>(x >> 57);
}
inline void write_record(std::span<std::byte> s, uint64_t tag) {
  std::memcpy(s.data(), &tag, 8);
  for (std::size_t i = 8; i < s.size(); ++i) s[i] = std::byte{body(tag, i)};
}
// Returns the tag, or UINT64_MAX if the record is torn.
inline uint64_t read_record(std::span<const std::byte> s) {
  if (s.size() < 8) return UINT64_MAX;
  uint64_t tag;
  std::memcpy(&tag, s.data(), 8);
  for (std::size_t i = 8; i < s.size(); ++i)
    if (s[i] != std::byte{body(tag, i)}) return UINT64_MAX;
  return tag;
}
inline std::size_t size_for(std::minstd_rand& rng, std::size_t max) {
  switch (rng() % 16) {
    case 0:
      return max;
    case 1:
    case 2:
      return 8 + rng() % (max - 7);
    default:
      return 8 + rng() % 56;
  }
}
inline uint16_t kind_of(uint64_t tag) { return static_cast<uint16_t>(tag * 31); }

// Produces `per` records tagged (p, seq); aborts some claims along the way (not counted).
template <class B, class Stop>
bool produce(B& b, int p, long per, unsigned seed, Stop&& stalled) {
  std::minstd_rand rng(seed);
  test::Backoff backoff;
  const std::size_t max = b.max_payload();
  for (long seq = 0; seq < per;) {
    const std::size_t n = size_for(rng, max);
    auto c = b.try_claim(n, 0);
    if (!c) {
      if (c.error() != ClaimError::Full) return false;
      if (stalled()) return false;
      backoff();
      continue;
    }
    backoff.reset();
    const uint64_t tag = (uint64_t(p) << 40) | uint64_t(seq);
    write_record(c->span(), tag);
    if (rng() % 32 == 0) {
      c->abort();  // the reader must never see it
      continue;
    }
    c->set_kind(kind_of(tag));
    c->commit();
    ++seq;
  }
  return true;
}

// Reads until every producer's `per` records arrived; checks order and integrity per producer.
template <class B>
void consume_all(B& b, int producers, long per, std::atomic<long>& progress) {
  std::vector<long> next(producers, 0);
  const long total = per * producers;
  long got = 0;
  bool ok = true;
  std::minstd_rand rng(4242);
  test::Backoff backoff;
  std::vector<typename B::ReadClaim> held;
  auto check = [&](std::span<const std::byte> s, uint16_t kind) {
    uint64_t tag = read_record(s);
    int p = static_cast<int>(tag >> 40);
    long seq = static_cast<long>(tag & ((uint64_t{1} << 40) - 1));
    if (tag == UINT64_MAX || p >= producers || seq != next[p] || kind != kind_of(tag)) {
      ok = false;
      return;
    }
    ++next[p];
    ++got;
  };
  while (got < total && ok) {
    bool any = false;
    if (rng() % 4 == 0) {
      any = b.consume(check, 1 + rng() % 16) != 0;
    } else if (auto r = b.try_read()) {
      check(r->span(), r->kind());
      any = true;
      if (held.size() < 3 && rng() % 2 == 0)
        held.push_back(std::move(*r));  // keep it a while: its space stays taken
    }
    if (!held.empty() && (rng() % 3 == 0 || !any)) {
      std::size_t i = rng() % held.size();  // any of them: release order is free
      held.erase(held.begin() + static_cast<long>(i));
    }
    if (any)
      backoff.reset();
    else
      backoff();
    progress.store(got, std::memory_order_relaxed);
  }
  held.clear();
  ASSERT_TRUE(ok) << "lost, duplicated, reordered or torn record after " << got;
  for (int p = 0; p < producers; ++p) EXPECT_EQ(next[p], per) << "producer " << p;
  EXPECT_TRUE(b.empty());
}

template <class B>
void thread_stress(std::size_t cap, int producers, long per) {
  auto b = std::move(*B::make(cap));
  std::atomic<long> progress{0};
  test::Watchdog wd(30s, &progress);
  std::vector<std::thread> ths;
  for (int p = 0; p < producers; ++p)
    ths.emplace_back([&, p] {
      if (!produce(*b, p, per, static_cast<unsigned>(p) + 1, [] { return false; })) std::abort();
    });
  consume_all(*b, producers, per, progress);
  for (auto& t : ths) t.join();
}

constexpr long kRecords = test::kSanitized ? 400'000 : 4'000'000;

TEST(LogbufStress, SpscSmallRing) { thread_stress<SpscLogbuf>(256, 1, kRecords); }
TEST(LogbufStress, SpscLargeRecords) { thread_stress<SpscLogbuf>(64 * 1024, 1, kRecords / 2); }
TEST(LogbufStress, MpscThreeProducersSmallRing) { thread_stress<MpscLogbuf>(256, 3, kRecords / 3); }
TEST(LogbufStress, MpscFourProducersLargeRecords) {
  thread_stress<MpscLogbuf>(64 * 1024, 4, kRecords / 8);
}

// ---------------------------------------------------------------- two processes

// Each child maps the region again (at another address), attaches, produces, and exits with
// 0 on success. A child gives up (exit 3) when the ring stays full for 30 s.
template <class B>
pid_t spawn_producer(const ShmRegion& shm, int p, long per) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int fd = ::dup(shm.fd());
  auto m = ShmRegion::map_fd(fd, shm.size());
  if (!m) ::_exit(4);
  auto b = B::attach(m->data(), m->size());
  if (!b) ::_exit(5);
  auto since = std::chrono::steady_clock::now();
  bool ok = produce(**b, p, per, static_cast<unsigned>(p) + 11, [&] {
    if (std::chrono::steady_clock::now() - since > 30s) return true;
    return false;
  });
  ::_exit(ok ? 0 : 3);
}

template <class B>
void process_stress(int producers, long per) {
  const std::size_t cap = 64 * 1024;
  auto shm = ShmRegion::create(B::region_bytes(cap));
  ASSERT_TRUE(shm) << "memfd: " << shm.error().errno_value;
  auto b = B::create_in(shm->data(), shm->size(), cap);
  ASSERT_TRUE(b);
  std::vector<pid_t> kids;
  for (int p = 0; p < producers; ++p) kids.push_back(spawn_producer<B>(*shm, p, per));
  std::atomic<long> progress{0};
  {
    test::Watchdog wd(60s, &progress);
    consume_all(**b, producers, per, progress);
  }
  for (pid_t k : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(k, &status, 0), k);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
}

TEST(LogbufShm, SpscAcrossTwoProcesses) { process_stress<SpscLogbuf>(1, kRecords / 4); }
TEST(LogbufShm, MpscTwoProducerProcesses) { process_stress<MpscLogbuf>(2, kRecords / 8); }

TEST(LogbufShm, RegionErrorsAreValues) {
  auto bad = ShmRegion::map_fd(-1, 4096);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().errno_value, 0);
  auto shm = ShmRegion::create(SpscLogbuf::region_bytes(1024));
  ASSERT_TRUE(shm);
  // Nothing initialised yet: attach refuses, in either kind.
  EXPECT_EQ(SpscLogbuf::attach(shm->data(), shm->size()).error(), LogbufError::NotALogbuf);
  EXPECT_EQ(MpscLogbuf::attach(shm->data(), shm->size()).error(), LogbufError::NotALogbuf);
  auto b = SpscLogbuf::create_in(shm->data(), shm->size(), 1024);
  ASSERT_TRUE(b);
  EXPECT_EQ(MpscLogbuf::attach(shm->data(), shm->size()).error(), LogbufError::WrongKind);
  EXPECT_EQ(SpscLogbuf::create_in(shm->data(), shm->size(), 4096).error(),
            LogbufError::RegionTooSmall);
}

}  // namespace
