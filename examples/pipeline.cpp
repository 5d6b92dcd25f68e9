// pipeline: the main job. A day of NASDAQ ITCH 5.0 goes feed -> decode -> order book +
// strategy -> order gateway on one pinned runtime; orders cross loopback TCP to an exchange
// simulator that acknowledges each one; tick-to-trade is stamped with RDTSCP from the moment a
// message is read off the socket (or the file) to the moment its order is handed to the
// socket. By default the day is synthetic and arrives as MoldUDP64 over loopback UDP from the
// built-in replayer, so the network path runs. See docs/pipeline.md.
//
//   pipeline                               the demo (scripts/demo): 2 M messages at 1 M msg/s
//   pipeline --feed file --file day.itch.gz
//   pipeline --feed udp --port 30001       MoldUDP64 from elsewhere (e.g. `pipeline replay`)
//   pipeline replay --to 127.0.0.1:30001 [--file day.itch] [--rate 500000]
//
// Exit status: 0 when the run is clean (nothing lost, 0 unresolved references, 0 crossed
// books, every order acknowledged), 1 when not, 2 on bad arguments or a setup error.
#include <sluice/examples/pipeline/report.hpp>

#include <CLI/CLI.hpp>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>
#include <string>

using namespace sluice;
using namespace sluice::pipeline;

namespace {

std::atomic<bool> g_interrupted{false};  // set by SIGINT/SIGTERM; polled by run_pipeline
// The first signal ends the run with a summary; a second one (default action) ends the process.
extern "C" void on_signal(int sig) {
  g_interrupted.store(true, std::memory_order_relaxed);
  std::signal(sig, SIG_DFL);
}

// A rate is 0 (unpaced) or at least kMinReplayRate messages/s, and finite.
std::string check_rate(const std::string& v) {
  char* end = nullptr;
  const double r = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end != '\0' || !std::isfinite(r) || r < 0 || r > 1e9 ||
      (r > 0 && r < kMinReplayRate)) {
    return "a rate is 0 (unpaced) or between 1000 and 1e9 messages per second";
  }
  return "";
}

// HOST:PORT with a whole port number in 1..65535.
std::optional<io::SocketAddress> parse_host_port(const std::string& to) {
  const auto colon = to.rfind(':');
  if (colon == std::string::npos || colon + 1 >= to.size()) return std::nullopt;
  char* end = nullptr;
  const unsigned long port = std::strtoul(to.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port == 0 || port > 65535) return std::nullopt;
  auto at = io::SocketAddress::parse(to.substr(0, colon), static_cast<uint16_t>(port));
  if (!at) return std::nullopt;
  return *at;
}

int run_replay_only(const std::string& to, const std::string& file, const market::FeedConfig& fc,
                    double rate) {
  auto at = parse_host_port(to);
  if (!at) {
    std::fprintf(stderr, "pipeline replay: --to '%s' is not HOST:PORT (an IP address)\n",
                 to.c_str());
    return 2;
  }
  std::string e;
  auto rt = sluice::pipeline::detail::make_runtime(false, &e);
  if (!rt) {
    std::fprintf(stderr, "pipeline replay: %s\n", e.c_str());
    return 2;
  }
  ReplayData data;
  if (file.empty()) {
    auto g = market::SyntheticFeed::make(fc);
    if (!g) {
      std::fprintf(stderr, "pipeline replay: --messages/--symbols: %s\n",
                   market::to_string(g.error()));
      return 2;
    }
    try {
      data = replay_from_synthetic(*g);
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "pipeline replay: not enough memory for the day\n");
      return 2;
    }
  } else {
    auto d = rt->block_on(replay_from_file(file));
    if (!d) {
      std::fprintf(stderr, "pipeline replay: %s: %s\n", file.c_str(), market::to_string(d.error()));
      return 2;
    }
    data = std::move(*d);
  }
  auto sock = io::UdpSocket::bind(*io::SocketAddress::parse("0.0.0.0", 0));
  if (!sock || !sock->connect(*at)) {
    std::fprintf(stderr, "pipeline replay: cannot open a UDP socket to %s\n", to.c_str());
    return 2;
  }
  // No receiver to give credit: the window is open (consumed is effectively infinite).
  std::atomic<uint64_t> consumed{UINT64_MAX / 2};
  ReplayConfig rc;
  rc.messages_per_second = rate;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const ReplayStats st = rt->block_on(replay(&*sock, &data, rc, &consumed, &g_interrupted));
  std::printf("replayed %s messages in %s packets to %s in %.2f s%s\n",
              grouped(st.messages).c_str(), grouped(st.packets).c_str(), to.c_str(), st.seconds,
              st.send_error ? " (send failed)" : "");
  rt->block_on([](io::UdpSocket* s) -> Task<void> { (void)co_await s->close(); }(&*sock));
  return st.send_error ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "sluice pipeline: ITCH 5.0 feed -> decode -> order book + strategy -> order gateway ->\n"
      "exchange simulator, with tick-to-trade latency. Defaults run the demo: a synthetic day\n"
      "replayed as MoldUDP64 over loopback UDP."};
  PipelineConfig cfg;
  cfg.synthetic.messages = 2'000'000;
  cfg.synthetic.symbols = 256;
  std::string feed = "replay";
  std::string idle = "auto";
  std::string json, plot;
  bool quiet = false;
  uint64_t threshold = cfg.strategy.spread_threshold;
  uint64_t idle_ms = static_cast<uint64_t>(cfg.idle_timeout.count());

  app.add_option("--feed", feed,
                 "Where messages come from: replay (the built-in replayer sends the day as "
                 "MoldUDP64 over loopback UDP), udp (MoldUDP64 from elsewhere on --port), file "
                 "(read --file directly), synthetic (generated in the feed task, no network)")
      ->check(CLI::IsMember({"replay", "udp", "file", "synthetic"}))
      ->capture_default_str();
  app.add_option("--file", cfg.file,
                 "An ITCH 5.0 file (2-byte length-prefixed messages, plain or gzip): read by "
                 "--feed file, or replayed by --feed replay instead of a synthetic day");
  app.add_option("--messages", cfg.synthetic.messages,
                 "Messages in the synthetic day (the replay mode holds the day in memory, about "
                 "32 bytes per message)")
      ->check(CLI::Range(uint64_t{1000}, uint64_t{1'000'000'000}))
      ->capture_default_str();
  app.add_option("--symbols", cfg.synthetic.symbols, "Symbols in the synthetic day (1..65535)")
      ->check(CLI::Range(1u, 65535u))
      ->capture_default_str();
  app.add_option("--seed", cfg.synthetic.seed, "Seed of the synthetic day")->capture_default_str();
  app.add_option("--rate", cfg.replay.messages_per_second,
                 "Messages per second of the replayer, and of the file and synthetic feeds (0: "
                 "as fast as the pipeline takes them; else 1000 .. 1e9)")
      ->check(check_rate, "RATE")
      ->capture_default_str();
  app.add_option("--window", cfg.replay.window,
                 "Packets the replayer may run ahead of the feed handler (keeps loopback UDP "
                 "lossless)")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  uint64_t heartbeat_ms = static_cast<uint64_t>(cfg.replay.heartbeat.count());
  app.add_option("--heartbeat-ms", heartbeat_ms,
                 "The replayer sends a MoldUDP64 heartbeat when pacing has held a packet back this "
                 "long")
      ->check(CLI::Range(uint64_t{1}, uint64_t{60000}))
      ->capture_default_str();
  app.add_option("--udp-host", cfg.udp_host, "Address --feed udp listens on")
      ->capture_default_str();
  app.add_option("--port", cfg.udp_port, "UDP port --feed udp listens on")
      ->check(CLI::Range(1, 65535));
  app.add_option("--first-sequence", cfg.first_sequence,
                 "--feed udp: the MoldUDP64 sequence the first packet should carry, so a lost "
                 "first packet is a gap (0: the first packet sets it)")
      ->capture_default_str();
  app.add_option("--hot-core", cfg.hot_core,
                 "CPU of the hot runtime (feed handler, decode, book, strategy, gateway); "
                 "default 1 (0 on a 1-CPU machine)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--feed-core", cfg.feed_core,
                 "CPU of the replayer and the reporting thread; default 0")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--exchange-core", cfg.exchange_core,
                 "CPU of the exchange simulator; default 2 with 3+ CPUs, else 0")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--idle", idle,
                 "Hot runtime when idle: busy (spin; lowest latency, a whole core), park (sleep), "
                 "auto (busy when no other pipeline thread shares its CPU)")
      ->check(CLI::IsMember({"auto", "busy", "park"}))
      ->capture_default_str();
  app.add_option("--spread-threshold", threshold,
                 "The strategy quotes a symbol (one tick inside) when ask - bid reaches this many "
                 "price units (4 implied decimals: 100 = one cent)")
      ->check(CLI::Range(uint64_t{200}, uint64_t{UINT32_MAX}))
      ->capture_default_str();
  app.add_option("--shares", cfg.strategy.shares, "Shares per order")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", idle_ms,
                 "UDP feeds end after this long without a datagram (an end of session ends them "
                 "at once)")
      ->check(CLI::Range(uint64_t{10}, uint64_t{3600000}))
      ->capture_default_str();
  app.add_option("--max-live-orders", cfg.max_live_orders,
                 "Orders the books can hold live at once (the order table is 2x this, rounded up "
                 "to a power of two, 32 bytes a slot, allocated and zeroed at start); an add "
                 "beyond it is a book error (at most 2^28: a 16 GiB table)")
      ->check(CLI::Range(uint32_t{1}, uint32_t{1} << 28))
      ->capture_default_str();
  app.add_option("--chunk-capacity", cfg.chunk_capacity,
                 "Chunks (datagrams, file pieces) queued between the feed handler and decode")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--tick-capacity", cfg.tick_capacity,
                 "Decoded messages queued between decode and the book: smaller interleaves the "
                 "two stages more finely (lower latency), larger batches them")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--json", json, "Write the figures as JSON to this file");
  app.add_option("--plot", plot, "Write a latency percentile plot (PNG, needs gnuplot-nox)");
  app.add_flag("--quiet", quiet, "No progress line");

  std::string replay_to;
  double replay_rate = 1'000'000;
  CLI::App* rp = app.add_subcommand(
      "replay",
      "Send a day (synthetic, or --file) as MoldUDP64 to HOST:PORT, e.g. to a pipeline "
      "running with --feed udp");
  rp->add_option("--to", replay_to, "Destination HOST:PORT")->required();
  rp->add_option("--file", cfg.file, "ITCH file to replay instead of a synthetic day");
  rp->add_option("--messages", cfg.synthetic.messages, "Messages in the synthetic day")
      ->check(CLI::Range(uint64_t{1000}, uint64_t{1'000'000'000}))
      ->capture_default_str();
  rp->add_option("--rate", replay_rate, "Messages per second (0: unpaced; else 1000 .. 1e9)")
      ->check(check_rate, "RATE")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (rp->parsed()) return run_replay_only(replay_to, cfg.file, cfg.synthetic, replay_rate);

  cfg.feed = feed == "udp"         ? FeedKind::Udp
             : feed == "file"      ? FeedKind::File
             : feed == "synthetic" ? FeedKind::Synthetic
                                   : FeedKind::Replay;
  cfg.idle = idle == "busy" ? IdleMode::Busy : idle == "park" ? IdleMode::Park : IdleMode::Auto;
  cfg.strategy.spread_threshold = static_cast<uint32_t>(threshold);
  cfg.idle_timeout = std::chrono::milliseconds(idle_ms);
  cfg.replay.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  if (cfg.feed == FeedKind::Udp) cfg.first_packet_timeout = std::chrono::hours(24);
  // Flags that would be silently ignored are errors.
  if (!cfg.file.empty() && cfg.feed != FeedKind::File && cfg.feed != FeedKind::Replay) {
    std::fprintf(stderr, "pipeline: --file is read by --feed file or replayed by --feed replay\n");
    return 2;
  }
  if (cfg.feed == FeedKind::File && cfg.file.empty()) {
    std::fprintf(stderr, "pipeline: --feed file needs --file\n");
    return 2;
  }
  if (cfg.udp_port != 0 && cfg.feed != FeedKind::Udp) {
    std::fprintf(stderr, "pipeline: --port is for --feed udp (the replayer picks its own)\n");
    return 2;
  }
  if (cfg.feed == FeedKind::Udp && cfg.udp_port == 0) {
    std::fprintf(stderr, "pipeline: --feed udp needs --port\n");
    return 2;
  }
  if (cfg.feed == FeedKind::Udp) {
    cfg.on_feed_ready = [host = cfg.udp_host](uint16_t port) {
      std::printf("  listening for MoldUDP64 on %s:%u (Ctrl-C ends the run with a summary)\n",
                  host.c_str(), port);
      std::fflush(stdout);
    };
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  cfg.interrupt = &g_interrupted;

  const std::string day =
      cfg.file.empty() ? grouped(cfg.synthetic.messages) + " synthetic messages" : cfg.file;
  if (cfg.feed == FeedKind::Replay) {
    std::printf(
        "sluice pipeline: replaying %s as MoldUDP64 over loopback UDP at %s\n", day.c_str(),
        cfg.replay.messages_per_second > 0
            ? (grouped(static_cast<uint64_t>(cfg.replay.messages_per_second)) + " msg/s").c_str()
            : "full speed");
  } else if (cfg.feed == FeedKind::Udp) {
    std::printf("sluice pipeline: MoldUDP64 from %s:%u\n", cfg.udp_host.c_str(), cfg.udp_port);
  } else {
    std::printf("sluice pipeline: %s read %s\n", day.c_str(),
                cfg.feed == FeedKind::File ? "from the file" : "from the generator");
  }
  ProgressPrinter progress(quiet);
  auto r = run_pipeline(cfg, [&](const Progress& p, double t) { progress(p, t); });
  progress.finish();
  if (!r) {
    std::fprintf(stderr, "pipeline: %s\n", r.error().c_str());
    return 2;
  }
  print_summary(cfg, *r);
  if (!json.empty() && !write_json(json, *r)) {
    std::fprintf(stderr, "pipeline: cannot write %s\n", json.c_str());
    return 2;
  }
  if (!plot.empty()) {
    const std::string e = write_plot(plot, *r);
    if (!e.empty()) {
      std::fprintf(stderr, "pipeline: --plot: %s\n", e.c_str());
      return 2;
    }
    std::printf("  plot: %s\n", plot.c_str());
  }
  return r->clean() ? 0 : 1;
}
