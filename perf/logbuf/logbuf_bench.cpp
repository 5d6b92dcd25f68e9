// sluice_logbuf_bench: the byte rings against their limits, in one run with the same pinning
// (benchmark thread = consumer on CPU 0, producer on CPU 1).
//
//  BM_logbuf_claim_commit_read_64     one 64-byte record claimed, filled, committed, read and
//                                     released on one thread (SPSC; _mpsc_ the MPSC ring)
//  BM_logbuf_spsc_throughput_random   records of random size 8..1024 B (a fixed sequence);
//                                     the producer copies each payload in, the consumer copies
//                                     it out; bytes_per_second counts payload bytes
//  BM_logbuf_mpsc_throughput_1p       the same through the MPSC ring from one producer (the
//                                     SPSC ring's peer: same protocol cost but the CAS)
//  BM_logbuf_mpsc_throughput_2p       the same through the MPSC ring from two producers
//  BM_logbuf_rtt_64                   a 64-byte record there and back over two SPSC buffers
//                                     (_8: an 8-byte record, header and payload in one line)
//  BM_spin_floor_rtt                  one cache line bounced between the two CPUs (the floor)
//  BM_spsc_bytes_claim_commit_recv_64 the byte channel's same-thread round (64 bytes)
//  BM_local_try_send_recv_(un)tapped  a local channel's try pair without and with a Tap
//                                     (_tsc: stamped with the cycle counter)
//  BM_memcpy_bandwidth                the limit: a plain memcpy loop over the same sizes into
//                                     a buffer of the same capacity, one thread
//  BM_spsc_ring_1k_slots              the typed SpscRing carrying fixed 1 KiB slots (len +
//                                     bytes), pushed and popped whole: what a fixed-size
//                                     message type costs
//  BM_spsc_ring_1k_slots_emplace      the same ring at its best: the slot is built in place
//                                     with only the payload's bytes, and the consumer copies
//                                     only those out (the same two copies as the logbuf)
// Both throughput rings get the same memory (1 MiB) and consume in batches of up to 64.
//
// sluice_logbuf_bench --rounds=N runs the three logbuf throughput shapes instead, in N rounds of
// [one-line floor, each shape once in a shuffled order, floor], and prints every round and
// the medians of the rounds whose two floors put the VM in the same placement ("close" below
// 200 ns, "far" 300-1000 ns; perf/RESULTS.md). Rounds whose floor reads 1000 ns or more
// ("contended": another process held a vCPU) and rounds that changed placement are shown but
// kept out of the medians. The VM changes placement between and during runs, so only shapes
// measured in the same round compare.
#include <benchmark/benchmark.h>
#include <sluice/channel/local.hpp>
#include <sluice/channel/spsc_bytes.hpp>
#include <sluice/channel/spsc_ring.hpp>
#include <sluice/channel/tap.hpp>
#include <sluice/logbuf/mpsc_logbuf.hpp>
#include <sluice/logbuf/spsc_logbuf.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <random>
#include <thread>
#include <vector>

#include "../common/bench_common.hpp"

using namespace sluice;
using bench::cpu_relax;
using bench::pin_or_skip;

namespace {

constexpr std::size_t kBufBytes = 1 << 20;  // every throughput ring: 1 MiB
constexpr std::size_t kRecords = 1 << 21;   // per throughput iteration (~1 GiB of payload)
constexpr std::size_t kMaxRecord = 1024;

// The size sequence every throughput shape uses: uniform 8..1024, fixed seed.
const std::vector<uint32_t>& sizes() {
  static const std::vector<uint32_t> v = [] {
    std::vector<uint32_t> s(kRecords);
    std::mt19937 rng(12345);
    for (auto& x : s) x = 8 + rng() % (kMaxRecord - 7);
    return s;
  }();
  return v;
}
uint64_t total_bytes() {
  uint64_t t = 0;
  for (uint32_t n : sizes()) t += n;
  return t;
}
// alignas(64): source and scratch buffers start on a cache line, as a real message would.
alignas(64) unsigned char g_src[kMaxRecord];
alignas(64) thread_local unsigned char tl_scratch[kMaxRecord];

// ---- same thread ----

template <class B>
void claim_commit_read_64(benchmark::State& st) {
  auto b = std::move(*B::make(64 * 1024));
  uint64_t seq = 0;
  for (auto _ : st) {
    auto c = b->try_claim(64);
    std::memcpy(c->data(), g_src, 64);
    std::memcpy(c->data(), &seq, 8);
    c->commit();
    auto r = b->try_read();
    uint64_t v;
    std::memcpy(&v, r->data(), 8);
    benchmark::DoNotOptimize(v);
    r->release();
    ++seq;
  }
  st.SetItemsProcessed(st.iterations());
}
void BM_logbuf_claim_commit_read_64(benchmark::State& st) { claim_commit_read_64<SpscLogbuf>(st); }
void BM_logbuf_mpsc_claim_commit_read_64(benchmark::State& st) {
  claim_commit_read_64<MpscLogbuf>(st);
}

// ---- cross-thread throughput ----

template <class B>
void produce(B& b, std::size_t from, std::size_t step) {
  const auto& sz = sizes();
  for (std::size_t i = from; i < sz.size(); i += step) {
    for (;;) {
      auto c = b.try_claim(sz[i]);
      if (c) {
        std::memcpy(c->data(), g_src, sz[i]);
        c->commit();
        break;
      }
      cpu_relax();
    }
  }
}

// One pass of every record through a fresh ring; the calling thread (on CPU 0) consumes.
// Returns the seconds it took, or a negative value if bytes were lost or duplicated.
template <class B>
double logbuf_pass(int producers) {
  const unsigned ncpu = std::thread::hardware_concurrency();
  auto b = std::move(*B::make(kBufBytes));
  std::atomic<bool> go{false};
  std::vector<std::thread> ths;
  for (int p = 0; p < producers; ++p)
    ths.emplace_back([&, p] {
      // With fewer than 3 CPUs the two producers share CPU 1.
      (void)pin_current_thread(ncpu >= 3 ? 1 + static_cast<unsigned>(p) : 1);
      while (!go.load(std::memory_order_acquire)) cpu_relax();
      produce(*b, static_cast<std::size_t>(p), static_cast<std::size_t>(producers));
    });
  auto t0 = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  uint64_t bytes = 0;
  std::size_t got = 0;
  while (got < kRecords) {
    std::size_t k = b->consume(
        [&](std::span<const std::byte> s, uint16_t) {
          std::memcpy(tl_scratch, s.data(), s.size());
          bytes += s.size();
        },
        64);
    if (k == 0) cpu_relax();
    got += k;
  }
  auto t1 = std::chrono::steady_clock::now();
  for (auto& t : ths) t.join();
  if (bytes != total_bytes()) return -1;
  return std::chrono::duration<double>(t1 - t0).count();
}

template <class B>
void logbuf_throughput(benchmark::State& st, int producers) {
  if (!pin_or_skip(st, 0)) return;
  for (auto _ : st) {
    const double secs = logbuf_pass<B>(producers);
    if (secs < 0) {
      st.SkipWithError("lost or duplicated bytes");
      break;
    }
    st.SetIterationTime(secs);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * total_bytes()));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kRecords));
}
void BM_logbuf_spsc_throughput_random(benchmark::State& st) {
  logbuf_throughput<SpscLogbuf>(st, 1);
}
void BM_logbuf_mpsc_throughput_1p(benchmark::State& st) { logbuf_throughput<MpscLogbuf>(st, 1); }
void BM_logbuf_mpsc_throughput_2p(benchmark::State& st) { logbuf_throughput<MpscLogbuf>(st, 2); }

// The typed ring with 1 KiB slots, the same sizes, the same memory and batch size.
struct Slot1k {
  uint32_t len;
  unsigned char data[kMaxRecord - sizeof(uint32_t)];
  Slot1k() noexcept = default;
  Slot1k(const unsigned char* src, uint32_t n) noexcept : len(n) { std::memcpy(data, src, n); }
};
static_assert(sizeof(Slot1k) == 1024);

inline uint32_t slot_len(uint32_t n) {
  // A 1 KiB slot holds at most 1020 payload bytes: larger records are cut to fit (bytes are
  // still counted in full, in this peer's favour).
  return n < sizeof(Slot1k::data) ? n : static_cast<uint32_t>(sizeof(Slot1k::data));
}

void BM_spsc_ring_1k_slots(benchmark::State& st) {
  if (!pin_or_skip(st, 0)) return;
  for (auto _ : st) {
    auto r = std::move(*SpscRing<Slot1k>::make(kBufBytes / sizeof(Slot1k)));
    std::atomic<bool> go{false};
    // By value: captured by reference, every push would re-read r from this thread's stack.
    std::thread producer([rp = r.get(), &go] {
      (void)pin_current_thread(1);
      Slot1k msg;
      while (!go.load(std::memory_order_acquire)) cpu_relax();
      for (uint32_t n : sizes()) {
        msg.len = slot_len(n);
        std::memcpy(msg.data, g_src, msg.len);   // the application fills its message
        while (!rp->try_push(msg)) cpu_relax();  // and the ring copies the whole slot
      }
    });
    auto t0 = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    uint64_t bytes = 0;
    std::size_t got = 0;
    Slot1k out;
    while (got < kRecords) {
      if (r->try_pop(out)) {
        std::memcpy(tl_scratch, out.data, out.len);
        bytes += out.len;
        ++got;
      } else {
        cpu_relax();
      }
    }
    auto t1 = std::chrono::steady_clock::now();
    producer.join();
    benchmark::DoNotOptimize(bytes);
    st.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * total_bytes()));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kRecords));
}

void BM_spsc_ring_1k_slots_emplace(benchmark::State& st) {
  if (!pin_or_skip(st, 0)) return;
  for (auto _ : st) {
    auto r = std::move(*SpscRing<Slot1k>::make(kBufBytes / sizeof(Slot1k)));
    std::atomic<bool> go{false};
    std::thread producer([rp = r.get(), &go] {  // by value: see above
      (void)pin_current_thread(1);
      while (!go.load(std::memory_order_acquire)) cpu_relax();
      for (uint32_t n : sizes())
        while (!rp->try_emplace(g_src, slot_len(n))) cpu_relax();
    });
    auto t0 = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    uint64_t bytes = 0;
    std::size_t got = 0;
    while (got < kRecords) {
      std::size_t k = r->consume(
          [&](Slot1k& s) {
            std::memcpy(tl_scratch, s.data, s.len);
            bytes += s.len;
          },
          64);
      if (k == 0) cpu_relax();
      got += k;
    }
    auto t1 = std::chrono::steady_clock::now();
    producer.join();
    benchmark::DoNotOptimize(bytes);
    st.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * total_bytes()));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kRecords));
}

// The limit: the same sizes copied into a 1 MiB buffer at advancing 8-aligned offsets.
void BM_memcpy_bandwidth(benchmark::State& st) {
  std::vector<unsigned char> dst(kBufBytes + kMaxRecord);
  for (auto _ : st) {
    auto t0 = std::chrono::steady_clock::now();
    std::size_t off = 0;
    for (uint32_t n : sizes()) {
      std::memcpy(dst.data() + off, g_src, n);
      off = (off + ((n + 15) & ~std::size_t{7})) & (kBufBytes - 1);
    }
    benchmark::ClobberMemory();
    auto t1 = std::chrono::steady_clock::now();
    st.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * total_bytes()));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kRecords));
}

// ---- byte channel and tap, same thread ----

// The byte channel's claim + commit + recv + release of one 64-byte record: the raw ring's
// round plus the channel's close check and the two wake checks (fence + load each).
void BM_spsc_bytes_claim_commit_recv_64(benchmark::State& st) {
  auto [tx, rx] = std::move(*spsc_bytes::channel(64 * 1024));
  uint64_t seq = 0;
  for (auto _ : st) {
    auto c = tx.try_claim(64);
    std::memcpy(c->data(), g_src, 64);
    std::memcpy(c->data(), &seq, 8);
    c->commit();
    auto r = rx.try_recv();
    uint64_t v;
    std::memcpy(&v, r->data(), 8);
    benchmark::DoNotOptimize(v);
    r->release();
    ++seq;
  }
  st.SetItemsProcessed(st.iterations());
}

struct Quote {
  uint64_t id;
  int64_t px;
};

// local::channel try_send + try_recv without a tap (the plain Sender: nothing added) and with
// one (a TappedSender over an SpscLogbuf); the log is drained outside the timing when full.
void BM_local_try_send_recv_untapped(benchmark::State& st) {
  auto [tx, rx] = std::move(*local::channel<Quote>(1024));
  uint64_t i = 0;
  for (auto _ : st) {
    (void)tx.try_send(Quote{i++, 100});
    auto r = rx.try_recv();
    benchmark::DoNotOptimize(r);
  }
  st.SetItemsProcessed(st.iterations());
}
template <class Clock>
void local_tapped(benchmark::State& st) {
  auto log = std::move(*SpscLogbuf::make(std::size_t{1} << 26));
  Tap<SpscLogbuf, Clock> tap(*log, 1);
  auto [tx0, rx] = std::move(*local::channel<Quote>(1024));
  auto tx = tapped(std::move(tx0), tap);
  uint64_t i = 0, n = 0;
  for (auto _ : st) {
    (void)tx.try_send(Quote{i++, 100});
    auto r = rx.try_recv();
    benchmark::DoNotOptimize(r);
    if (++n == (1 << 20)) {  // 48-byte records: 2^20 of them use 48 MiB of the 64
      st.PauseTiming();
      while (log->consume([](std::span<const std::byte>, uint16_t) {}, SIZE_MAX) != 0) {
      }
      n = 0;
      st.ResumeTiming();
    }
  }
  if (tap.dropped() != 0) st.SkipWithError("tap dropped records");
  st.SetItemsProcessed(st.iterations());
}
void BM_local_try_send_recv_tapped(benchmark::State& st) { local_tapped<TapSteadyNs>(st); }
void BM_local_try_send_recv_tapped_tsc(benchmark::State& st) { local_tapped<TapTsc>(st); }

// ---- round trip ----

template <std::size_t kBytes>
void logbuf_rtt(benchmark::State& st) {
  if (!pin_or_skip(st, 0)) return;
  auto ping = std::move(*SpscLogbuf::make(64 * 1024));
  auto pong = std::move(*SpscLogbuf::make(64 * 1024));
  constexpr uint64_t kStop = ~uint64_t{0};
  auto send = [](SpscLogbuf& b, uint64_t v) {
    for (;;) {
      if (auto c = b.try_claim(kBytes)) {
        std::memcpy(c->data(), &v, 8);
        c->commit();
        return;
      }
      cpu_relax();
    }
  };
  auto recv = [](SpscLogbuf& b) {
    for (;;) {
      if (auto r = b.try_read()) {
        uint64_t v;
        std::memcpy(&v, r->data(), 8);
        return v;
      }
      cpu_relax();
    }
  };
  // By value: captured by reference, the helper would re-read ping and pong from this thread's
  // stack on every message (a line this thread writes).
  std::thread helper([in = ping.get(), out = pong.get(), send, recv] {
    (void)pin_current_thread(1);
    for (;;) {
      uint64_t v = recv(*in);
      if (v == kStop) return;
      send(*out, v + 1);
    }
  });
  uint64_t i = 0;
  for (auto _ : st) {
    send(*ping, i);
    if (recv(*pong) != i + 1) st.SkipWithError("wrong reply");
    ++i;
  }
  send(*ping, kStop);
  helper.join();
}
void BM_logbuf_rtt_64(benchmark::State& st) { logbuf_rtt<64>(st); }
void BM_logbuf_rtt_8(benchmark::State& st) { logbuf_rtt<8>(st); }

void BM_spin_floor_rtt(benchmark::State& st) { bench::spin_floor_rtt(st); }

// ---- --rounds=N ----

double floor_ns() {
  constexpr int kSteps = 20000;
  bench::Floor1Line f;
  for (int i = 0; i < 1000; ++i) f.step();  // the helper is up and the line is warm
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kSteps; ++i) f.step();
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / kSteps;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int run_rounds(int rounds) {
  if (auto r = pin_current_thread(0); !r) {
    std::fprintf(stderr, "pin: %s\n", to_string(r.error()));
    return 1;
  }
  struct Shape {
    const char* name;
    double (*pass)();
  };
  const Shape shapes[] = {
      {"spsc", [] { return logbuf_pass<SpscLogbuf>(1); }},
      {"mpsc_1p", [] { return logbuf_pass<MpscLogbuf>(1); }},
      {"mpsc_2p", [] { return logbuf_pass<MpscLogbuf>(2); }},
  };
  constexpr std::size_t kShapes = std::size(shapes);
  const double gb = static_cast<double>(total_bytes()) / 1e9;
  std::vector<double> close[kShapes], far[kShapes];
  std::mt19937 rng(2026);
  std::printf("round  floor0  floor1");
  for (const auto& s : shapes) std::printf(" %9s", s.name);
  std::printf("   GB/s\n");
  for (int r = 0; r < rounds; ++r) {
    const double f0 = floor_ns();
    std::size_t order[kShapes];
    for (std::size_t i = 0; i < kShapes; ++i) order[i] = i;
    std::shuffle(order, order + kShapes, rng);
    double gbps[kShapes];
    for (std::size_t i : order) {
      const double secs = shapes[i].pass();
      if (secs < 0) {
        std::fprintf(stderr, "%s: lost or duplicated bytes\n", shapes[i].name);
        return 1;
      }
      gbps[i] = gb / secs;
    }
    const double f1 = floor_ns();
    std::printf("%5d %7.0f %7.0f", r, f0, f1);
    for (double g : gbps) std::printf(" %9.2f", g);
    const double lo = std::min(f0, f1), hi = std::max(f0, f1);
    const bool is_close = hi < 200;
    const bool is_far = lo > 300 && hi < 1000;
    const char* verdict = is_close ? "close" : is_far ? "far" : "mixed (dropped)";
    if (hi >= 1000) verdict = "contended (dropped)";
    std::printf("   %s\n", verdict);
    if (is_close || is_far)
      for (std::size_t i = 0; i < kShapes; ++i) (is_close ? close : far)[i].push_back(gbps[i]);
    std::fflush(stdout);
  }
  for (auto [name, v] : {std::pair{"close", close}, std::pair{"far", far}}) {
    std::printf("median of %zu %s rounds:", v[0].size(), name);
    for (std::size_t i = 0; i < kShapes; ++i) std::printf(" %s %.2f", shapes[i].name, median(v[i]));
    std::printf(" GB/s\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--rounds=", 9) == 0) return run_rounds(std::atoi(argv[i] + 9));
  benchmark::Initialize(&argc, argv);
  auto tput = [](const char* name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, fn)->UseManualTime()->Iterations(1)->Unit(
        benchmark::kMillisecond);
  };
  benchmark::RegisterBenchmark("BM_logbuf_claim_commit_read_64", BM_logbuf_claim_commit_read_64);
  benchmark::RegisterBenchmark("BM_logbuf_mpsc_claim_commit_read_64",
                               BM_logbuf_mpsc_claim_commit_read_64);
  benchmark::RegisterBenchmark("BM_spsc_bytes_claim_commit_recv_64",
                               BM_spsc_bytes_claim_commit_recv_64);
  benchmark::RegisterBenchmark("BM_local_try_send_recv_untapped", BM_local_try_send_recv_untapped);
  benchmark::RegisterBenchmark("BM_local_try_send_recv_tapped", BM_local_try_send_recv_tapped);
  benchmark::RegisterBenchmark("BM_local_try_send_recv_tapped_tsc",
                               BM_local_try_send_recv_tapped_tsc);
  benchmark::RegisterBenchmark("BM_spin_floor_rtt", BM_spin_floor_rtt);
  benchmark::RegisterBenchmark("BM_logbuf_rtt_64", BM_logbuf_rtt_64);
  benchmark::RegisterBenchmark("BM_logbuf_rtt_8", BM_logbuf_rtt_8);
  tput("BM_memcpy_bandwidth", BM_memcpy_bandwidth);
  tput("BM_logbuf_spsc_throughput_random", BM_logbuf_spsc_throughput_random);
  tput("BM_spsc_ring_1k_slots", BM_spsc_ring_1k_slots);
  tput("BM_spsc_ring_1k_slots_emplace", BM_spsc_ring_1k_slots_emplace);
  tput("BM_logbuf_mpsc_throughput_1p", BM_logbuf_mpsc_throughput_1p);
  tput("BM_logbuf_mpsc_throughput_2p", BM_logbuf_mpsc_throughput_2p);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
