// Streaming with backpressure, and producers behind a throttle
// (examples/scenarios/streaming.hpp).
//
// 1. N producers -> transform -> slow consumer over small channels: the producers are held to
//    the consumer's pace (sends that had to wait are counted; queues never pass capacity), and
//    the consumer checks every producer's sequence numbers. On one runtime, then with each
//    stage on a runtime of its own thread.
// 2. 100 producers behind a 4-ticket Throttle: never more than 4 requests in flight.
//
// Usage: streaming [--producers N] [--messages PER_PRODUCER] [--capacity C]
//                  [--layout one|three|both] [--throttle-producers N] [--tickets T]
// Exits 1 when a check fails.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "scenarios/streaming.hpp"

using namespace sluice;
using namespace sluice::scenarios;

namespace {

using ull = unsigned long long;

void report(const StreamingResult& r) {
  std::printf("== streaming, %s (%s)\n", to_string(r.layout),
              r.layout == StreamLayout::one_runtime ? "local channels" : "mpsc in, spsc out");
  if (!r.error.empty()) {
    std::printf("  setup failed: %s\n", r.error.c_str());
    return;
  }
  std::printf("  network        %u producers x %llu -> transform -> consumer, capacity %zu\n",
              r.producers, static_cast<ull>(r.per_producer), r.capacity);
  std::printf("  messages       %llu produced, %llu transformed, %llu consumed\n",
              static_cast<ull>(r.produced), static_cast<ull>(r.transformed),
              static_cast<ull>(r.consumed));
  std::printf("  backpressure   %llu producer sends and %llu transform sends had to wait\n",
              static_cast<ull>(r.producer_waits), static_cast<ull>(r.transform_waits));
  if (r.depth_observed)
    std::printf("                 deepest queue: %zu in, %zu out (capacity %zu)\n", r.max_depth_in,
                r.max_depth_out, r.capacity);
  std::printf("                 producers done at %.3f s, consumer at %.3f s\n", r.producers_done_s,
              r.consumer_done_s);
  std::printf("  sequences      %llu gaps, %llu out of order, %llu missing, %llu corrupt\n",
              static_cast<ull>(r.gaps), static_cast<ull>(r.out_of_order),
              static_cast<ull>(r.missing), static_cast<ull>(r.corrupt));
  std::printf("  result         %s\n", r.passed() ? "pass" : "FAIL");
}

void report(const ThrottleResult& r) {
  std::printf("== throttle, %u producers behind %zu tickets (channel capacity %zu)\n", r.producers,
              r.tickets, r.capacity);
  if (!r.error.empty()) {
    std::printf("  setup failed: %s\n", r.error.c_str());
    return;
  }
  std::printf("  requests       %llu acknowledged in %.3f s, %llu failures\n",
              static_cast<ull>(r.completed), r.elapsed_s, static_cast<ull>(r.failures));
  std::printf("  in flight      max %llu (producers' count), max %zu queued at the consumer\n",
              static_cast<ull>(r.max_in_flight), r.max_queued);
  std::printf("  waiting        up to %zu producers queued for a ticket; %zu tickets free after\n",
              r.max_waiting, r.tickets_free_after);
  std::printf("  result         %s\n", r.passed() ? "pass" : "FAIL");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Streaming with backpressure, and producers behind a throttle"};
  StreamingConfig cfg;
  ThrottleConfig tcfg;
  std::string layout = "both";
  app.add_option("--producers", cfg.producers, "streaming producers")->check(CLI::Range(1u, 60u));
  app.add_option("--messages", cfg.per_producer, "messages per producer")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  app.add_option("--capacity", cfg.capacity, "capacity of every streaming channel")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  app.add_option("--layout", layout, "one (one runtime), three (a thread per stage), both")
      ->check(CLI::IsMember({"one", "three", "both"}));
  app.add_option("--throttle-producers", tcfg.producers, "producers behind the throttle")
      ->check(CLI::Range(1u, 100000u));
  app.add_option("--tickets", tcfg.tickets, "throttle tickets")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 16));
  CLI11_PARSE(app, argc, argv);

  bool ok = true;
  if (layout != "three") {
    cfg.layout = StreamLayout::one_runtime;
    const StreamingResult r = run_streaming(cfg);
    report(r);
    ok = ok && r.passed();
  }
  if (layout != "one") {
    cfg.layout = StreamLayout::three_threads;
    const StreamingResult r = run_streaming(cfg);
    report(r);
    ok = ok && r.passed();
  }
  const ThrottleResult t = run_throttle(tcfg);
  report(t);
  ok = ok && t.passed();
  return ok ? 0 : 1;
}
