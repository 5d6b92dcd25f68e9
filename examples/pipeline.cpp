// A three-stage pipeline on one pinned-able runtime, joined by local channels:
//   feed (synthetic quotes) -> strategy (signal) -> gateway (orders)
// Each quote carries its creation timestamp; the gateway records quote-to-order latency in
// cycles and prints p50/p99/p99.9/max. The strategy's sender is tapped: every order it hands
// the gateway is also recorded (channel id, sequence, TSC stamp) in a logbuf, which is read
// back at the end, as an archiver would. Later issues replace the stages with the ITCH
// decoder, order book and journal.
//
// Usage: pipeline [messages=1000000] [capacity=1] [busy|park]
// Capacity 1 shows the per-message latency of the stages; a larger capacity shows throughput
// with queueing delay included (the feed runs ahead by up to `capacity` quotes).
#include <sluice/runtime/latency.hpp>
#include <sluice/sluice.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace sluice;

namespace {
struct Quote {
  uint64_t t0;  // cycles at creation
  uint32_t seq;
  int32_t px;
};
struct Order {
  uint64_t t0;
  uint32_t seq;
  int32_t side;
};

Task<> feed(local::Sender<Quote> out, uint32_t n) {
  uint32_t px = 10000;
  for (uint32_t i = 0; i < n; ++i) {
    px += (i * 2654435761u >> 28) % 3 - 1;  // a cheap deterministic random walk
    if (!co_await out.send(Quote{cycles_now(), i, static_cast<int32_t>(px)})) co_return;
  }
}

using OrderTap = Tap<SpscLogbuf, TapTsc>;

Task<> strategy(local::Receiver<Quote> in, TappedSender<local::Sender<Order>, OrderTap> out) {
  int32_t last = 0;
  while (auto q = co_await in.recv()) {
    int32_t side = q->px > last ? 1 : -1;
    last = q->px;
    if (!co_await out.send(Order{q->t0, q->seq, side})) co_return;
  }
}

Task<long> gateway(local::Receiver<Order> in, LatencyHistogram* h) {
  long orders = 0;
  uint32_t expect = 0;
  while (auto o = co_await in.recv()) {
    h->record(cycles_now() - o->t0);
    if (o->seq != expect++) {
      std::fprintf(stderr, "order %u out of sequence\n", o->seq);
      std::exit(1);
    }
    ++orders;
  }
  co_return orders;
}
}  // namespace

int main(int argc, char** argv) {
  uint32_t n = argc > 1 ? static_cast<uint32_t>(std::strtoul(argv[1], nullptr, 10)) : 1000000;
  std::size_t cap = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1;
  bool busy = argc > 3 && std::strcmp(argv[3], "busy") == 0;

  auto quotes = local::channel<Quote>(cap);
  auto orders = local::channel<Order>(cap);
  if (!quotes || !orders) {
    std::fprintf(stderr, "bad capacity %zu: %s\n", cap, to_string(quotes.error()));
    return 2;
  }
  // The tap's log: room for every order (a 48-byte record each) so none is dropped.
  auto log = SpscLogbuf::make(std::size_t{n} * 48 + 4096);
  if (!log) {
    std::fprintf(stderr, "tap log: %s\n", logbuf::to_string(log.error()));
    return 2;
  }
  OrderTap tap(**log, /*channel_id=*/2);

  RuntimeConfig cfg;
  cfg.idle = busy ? IdlePolicy::busy_poll() : IdlePolicy::park();
  Runtime rt(cfg);
  LatencyHistogram hist;
  auto main_task = [&]() -> Task<long> {
    auto f = spawn(feed(std::move(quotes->tx), n));
    auto s = spawn(strategy(std::move(quotes->rx), tapped(std::move(orders->tx), tap)));
    auto g = spawn(gateway(std::move(orders->rx), &hist));
    (void)co_await f;
    (void)co_await s;
    co_return (co_await g).value();
  };
  auto t0 = Clock::now();
  long got = rt.block_on(main_task());
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpn = cycles_per_ns();

  std::printf("sluice pipeline: %ld orders from %u quotes, capacity %zu, %s policy\n", got, n, cap,
              busy ? "busy_poll" : "park");
  std::printf("throughput: %.1f M msg/s (3 stages, one runtime)\n", got / secs / 1e6);
  std::printf("quote->order latency (cycles; TSC %.2f GHz):\n", cpn);
  for (double q : {0.5, 0.99, 0.999}) {
    uint64_t c = hist.percentile(q);
    std::printf("  p%-6g %8lu cycles  %9.1f ns\n", q * 100, static_cast<unsigned long>(c),
                static_cast<double>(c) / cpn);
  }
  std::printf("  max     %8lu cycles  %9.1f ns\n", static_cast<unsigned long>(hist.max()),
              static_cast<double>(hist.max()) / cpn);
  // The archiver's side of the tap: every order once, in sequence, none dropped.
  uint64_t recorded = 0;
  bool in_order = true;
  (*log)->consume(
      [&](std::span<const std::byte> rec, uint16_t) {
        TapHeader h;
        std::memcpy(&h, rec.data(), sizeof h);
        in_order = in_order && h.channel_id == 2 && h.sequence == recorded;
        ++recorded;
      },
      SIZE_MAX);
  std::printf("tap: %lu orders recorded in the logbuf, %s, %lu dropped\n",
              static_cast<unsigned long>(recorded), in_order ? "in sequence" : "OUT OF SEQUENCE",
              static_cast<unsigned long>(tap.dropped()));
  const auto& c = rt.counters();
  std::printf("runtime: %lu polls, %lu local wakes, %lu parks, %lu slab misses\n",
              static_cast<unsigned long>(c.polls), static_cast<unsigned long>(c.local_wakes),
              static_cast<unsigned long>(c.parks), static_cast<unsigned long>(c.slab_misses));
  return got == static_cast<long>(n) && recorded == n && in_order ? 0 : 1;
}
