// sluice_itch_bench: ITCH 5.0 decode, order book and feed-to-book, each beside a peer or a
// floor measured in the same binary and run. One thread, pinned to CPU 0.
//
//  BM_itch_decode_cpu            decode_batch over precomputed offsets, a 2048-message batch
//                                of a generated day (66 KiB in, 128 KiB of records: L2)
//  BM_itch_decode_cpu_fused      decode_stream on the same batch (framing + decode, 1 pass)
//  BM_itch_parse_callback_peer   a CppTrader-style parser on the same batch: a switch on the
//                                type, fields byte-swapped into a struct per type, a virtual
//                                handler call per message (the published 24 ns/message design)
//  BM_itch_decode_cpu_stream     decode_stream over a whole generated day far larger than the
//                                caches (4 M messages: 130 MiB in, 256 MiB of records)
//  BM_itch_parse_callback_peer_stream  the peer over the same day
//  BM_memcpy_bandwidth           memcpy of as many bytes as the stream decode reads plus
//                                writes: its bytes_per_second (read + written) is the bound
//                                the streaming decode is compared with
// bytes_per_second of the decode benchmarks counts input bytes read plus record bytes
// written, so BM_itch_decode_cpu_stream / BM_memcpy_bandwidth is the fraction of the memcpy
// bound reached.
#include <benchmark/benchmark.h>
#include <sluice/market/itch/decode.hpp>
#include <sluice/market/itch/framing.hpp>
#include <sluice/market/synthetic_feed.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "../common/bench_common.hpp"
#include "itch_bench_common.hpp"

namespace itch = sluice::market::itch;
using sluice::bench::pin_or_skip;

namespace sluice::bench::itchb {

const Day& day() {
  static const Day d = [] {
    Day x;
    market::FeedConfig cfg;
    cfg.seed = 20261130;
    cfg.symbols = 256;
    cfg.messages = 4'000'000;
    x.bytes = market::generate_day(cfg).value();
    x.offsets.resize(cfg.messages + 1);
    const auto s = itch::scan_frames(x.bytes.data(), x.bytes.size(), x.offsets.data(),
                                     static_cast<uint32_t>(x.offsets.size()));
    x.offsets.resize(s.count);
    return x;
  }();
  return d;
}

}  // namespace sluice::bench::itchb

namespace {

using sluice::bench::itchb::day;

constexpr uint32_t kBatch = 2048;

// A batch from the middle of the day (past the opening directory messages: the day's mix).
struct Batch {
  const uint8_t* data;
  uint64_t size;
  std::vector<uint32_t> offsets;  // relative to data
};
Batch l2_batch() {
  const auto& d = day();
  const uint32_t first = static_cast<uint32_t>(d.offsets.size() / 2);
  Batch b;
  b.data = d.bytes.data() + d.offsets[first];
  b.size = d.offsets[first + kBatch] - d.offsets[first];
  for (uint32_t i = 0; i < kBatch; ++i)
    b.offsets.push_back(d.offsets[first + i] - d.offsets[first]);
  return b;
}

void BM_itch_decode_cpu(benchmark::State& state) {
  if (!pin_or_skip(state, 0)) return;
  const Batch b = l2_batch();
  std::vector<itch::Record> out(kBatch);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        itch::decode_batch(b.data, b.size, b.offsets.data(), kBatch, 0, out.data()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(b.size + kBatch * sizeof(itch::Record)));
}
BENCHMARK(BM_itch_decode_cpu);

void BM_itch_decode_cpu_fused(benchmark::State& state) {
  if (!pin_or_skip(state, 0)) return;
  const Batch b = l2_batch();
  std::vector<itch::Record> out(kBatch);
  for (auto _ : state) {
    auto s = itch::decode_stream(b.data, b.size, 0, out.data(), kBatch, true);
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(b.size + kBatch * sizeof(itch::Record)));
}
BENCHMARK(BM_itch_decode_cpu_fused);

void BM_itch_parse_callback_peer(benchmark::State& state) {
  if (!pin_or_skip(state, 0)) return;
  const Batch b = l2_batch();
  sluice::bench::itchb::CountingHandler h;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sluice::bench::itchb::peer_parse(b.data, b.size, h));
  }
  benchmark::DoNotOptimize(h.sum);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(b.size));
}
BENCHMARK(BM_itch_parse_callback_peer);

void BM_itch_decode_cpu_stream(benchmark::State& state) {
  if (!pin_or_skip(state, 0)) return;
  const auto& d = day();
  const uint32_t n = static_cast<uint32_t>(d.offsets.size());
  std::unique_ptr<itch::Record[]> out(new itch::Record[n]);
  std::memset(out.get(), 0, sizeof(itch::Record) * n);  // fault the pages in before timing
  for (auto _ : state) {
    auto s = itch::decode_stream(d.bytes.data(), d.bytes.size(), 0, out.get(), n, true);
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(d.bytes.size() + sizeof(itch::Record) * n));
}
BENCHMARK(BM_itch_decode_cpu_stream)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_itch_parse_callback_peer_stream(benchmark::State& state) {
  if (!pin_or_skip(state, 0)) return;
  const auto& d = day();
  sluice::bench::itchb::CountingHandler h;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sluice::bench::itchb::peer_parse(d.bytes.data(), d.bytes.size(), h));
  }
  benchmark::DoNotOptimize(h.sum);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.offsets.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(d.bytes.size()));
}
BENCHMARK(BM_itch_parse_callback_peer_stream)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_memcpy_bandwidth(benchmark::State& state) {
  if (!pin_or_skip(state, 0)) return;
  const auto& d = day();
  // As many bytes as the stream decode moves (input read + records written), copied once:
  // memcpy reads and writes each byte, so bytes moved = 2 x the copy size.
  const std::size_t moved = d.bytes.size() + sizeof(itch::Record) * d.offsets.size();
  const std::size_t n = moved / 2;
  std::unique_ptr<uint8_t[]> src(new uint8_t[n]), dst(new uint8_t[n]);
  std::memset(src.get(), 1, n);
  std::memset(dst.get(), 0, n);
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(2 * n));
}
BENCHMARK(BM_memcpy_bandwidth)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
