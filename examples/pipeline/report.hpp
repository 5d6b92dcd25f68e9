// What the pipeline prints and writes: the progress line, the summary, --json and --plot.
// None of it runs on the hot thread.
#pragma once

#include <sluice/examples/pipeline/pipeline.hpp>

#include <unistd.h>

#include <sys/wait.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace sluice::pipeline {

// 1234567 -> "1,234,567"
inline std::string grouped(uint64_t v) {
  char digits[24];
  const int n = std::snprintf(digits, sizeof digits, "%llu", static_cast<unsigned long long>(v));
  char out[32];
  int o = 0;
  for (int i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out[o++] = ',';
    out[o++] = digits[i];
  }
  return std::string(out, static_cast<std::size_t>(o));
}

// A live line on a terminal (rewritten in place), else a line per `every` seconds.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet, double every = 1.0)
      : tty_(isatty(STDOUT_FILENO) == 1), quiet_(quiet), every_(every) {}
  void operator()(const Progress& p, double elapsed) {
    if (quiet_) return;
    // relaxed: counts for display (see Progress).
    const uint64_t d = p.decoded.load(std::memory_order_relaxed);
    const uint64_t o = p.orders.load(std::memory_order_relaxed);
    const uint64_t a = p.acks.load(std::memory_order_relaxed);
    const double rate =
        elapsed > last_t_ ? static_cast<double>(d - last_d_) / (elapsed - last_t_) : 0;
    if (tty_) {
      std::printf("\r  decoded %13s   orders %9s   acked %9s   %6.1f s   %6.2f M msg/s   ",
                  grouped(d).c_str(), grouped(o).c_str(), grouped(a).c_str(), elapsed, rate / 1e6);
      std::fflush(stdout);
      last_d_ = d;
      last_t_ = elapsed;
      printed_ = true;
    } else if (elapsed - last_t_ >= every_) {
      std::printf("  progress: %.1f s, %s decoded, %s orders, %s acked, %.2f M msg/s\n", elapsed,
                  grouped(d).c_str(), grouped(o).c_str(), grouped(a).c_str(), rate / 1e6);
      std::fflush(stdout);
      last_d_ = d;
      last_t_ = elapsed;
    }
  }
  void finish() {
    if (tty_ && printed_) std::printf("\n");
  }

 private:
  bool tty_;
  bool quiet_;
  double every_;
  uint64_t last_d_ = 0;
  double last_t_ = 0;
  bool printed_ = false;
};

inline void print_row(const char* name, const LatencyHistogram& h, double scale) {
  const LatencySummary s = h.summary(scale);
  std::printf("  %-34s %10s %8.0f %8.0f %8.0f %8.0f %9.0f\n", name, grouped(s.count).c_str(), s.p50,
              s.p90, s.p99, s.p999, s.max);
}

inline void print_summary(const PipelineConfig& cfg, const PipelineReport& r) {
  const double scale = 1.0 / r.ticks_per_ns;
  const auto& b = r.book_stats;
  std::printf("\nsluice pipeline: feed %s, hot core %u (%s), feed core %u, exchange core %u\n",
              to_string(r.feed), r.cores.hot, r.cores.busy ? "busy-poll" : "park", r.cores.feed,
              r.cores.exchange);
  std::printf("  messages    %s decoded in %.2f s: %.2f M msg/s (%s decode errors)\n",
              grouped(r.decode_stats.records).c_str(), r.seconds, r.messages_per_second() / 1e6,
              grouped(r.decode_stats.errors).c_str());
  if (r.feed == FeedKind::Replay || r.feed == FeedKind::Udp) {
    const auto& m = r.feed_stats.mold;
    std::printf(
        "  feed        %s datagrams, %s messages, %s gaps (%s missing), %s duplicates, %s bad"
        " packets, %s refused by the session%s\n",
        grouped(r.feed_stats.packets).c_str(), grouped(m.messages).c_str(), grouped(m.gaps).c_str(),
        grouped(m.missing).c_str(), grouped(m.duplicates).c_str(),
        grouped(r.feed_stats.bad_packets).c_str(), grouped(r.feed_stats.refused).c_str(),
        r.feed_stats.ended_by_idle ? "; ended by the idle timeout (no end of session)" : "");
  }
  if (r.feed == FeedKind::Replay) {
    std::printf(
        "  replayer    %s of %s messages sent in %.2f s (rate %s msg/s, window %u packets,"
        " %s credit waits)\n",
        grouped(r.replay_stats.messages).c_str(), grouped(r.replay_messages).c_str(),
        r.replay_stats.seconds,
        cfg.replay.messages_per_second > 0
            ? grouped(static_cast<uint64_t>(cfg.replay.messages_per_second)).c_str()
            : "unpaced",
        cfg.replay.window, grouped(r.replay_stats.credit_waits).c_str());
  }
  if (r.feed_stats.interrupted) std::printf("  feed        interrupted before its end\n");
  if (r.feed_stats.feed_error != nullptr) {
    std::printf("  feed        stopped by a file error: %s\n", r.feed_stats.feed_error);
  }
  if (r.feed_stats.io_error != 0) {
    std::printf("  feed        stopped by a socket error: %s\n",
                std::strerror(r.feed_stats.io_error));
  }
  std::printf("  book        %s unresolved references, %s crossed books, %s other book errors\n",
              grouped(b.book.unresolved()).c_str(), grouped(b.crossed).c_str(),
              grouped(b.book.failed() - b.book.unresolved()).c_str());
  if (const uint64_t full = b.book.of(market::BookError::Capacity); full != 0) {
    // Later references to the refused orders show as unresolved: name the cause.
    std::printf("  book        %s adds refused because %s orders were live (--max-live-orders)\n",
                grouped(full).c_str(), grouped(cfg.max_live_orders).c_str());
  }
  std::printf(
      "  orders      %s sent, %s acknowledged (%s accepted, %s rejected), exchange saw %s"
      "%s%s\n",
      grouped(b.orders_sent).c_str(), grouped(b.acks + b.rejects).c_str(), grouped(b.acks).c_str(),
      grouped(b.rejects).c_str(), grouped(r.exchange_stats.orders).c_str(),
      b.missing_acks ? ", MISSING ACKS: " : "",
      b.missing_acks ? grouped(b.missing_acks).c_str() : "");
  std::printf("  tap         %s orders recorded in the logbuf, %s, %s dropped\n",
              grouped(r.tap_recorded).c_str(),
              r.tap_in_sequence ? "in sequence" : "OUT OF SEQUENCE",
              grouped(r.tap_dropped).c_str());
  std::printf("\n  %-34s %10s %8s %8s %8s %8s %9s\n", "latency in ns", "count", "p50", "p90", "p99",
              "p99.9", "max");
  std::printf("  (RDTSCP at %.2f GHz)\n", r.ticks_per_ns);
  print_row("tick-to-trade (per order)", r.hist->tick_to_trade, scale);
  print_row("  feed + decode (per message)", r.hist->decode, scale);
  print_row("  book + strategy (per message)", r.hist->book, scale);
  print_row("  order -> socket (per order)", r.hist->strategy_to_gateway, scale);
  print_row("send(2) of the orders (per write)", r.hist->send_call, scale);
  std::printf("\n  result: %s\n",
              r.clean() ? "clean (nothing lost, 0 unresolved, 0 crossed, every order acknowledged)"
                        : "NOT CLEAN (see the counts above)");
}

inline void json_summary(std::FILE* f, const char* name, const LatencyHistogram& h, double scale,
                         bool last, const char* indent = "    ") {
  const LatencySummary s = h.summary(scale);
  std::fprintf(f,
               "%s\"%s\": {\"count\": %llu, \"min\": %.1f, \"mean\": %.1f, \"p50\": %.1f, "
               "\"p90\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"p9999\": %.1f, \"max\": %.1f}%s\n",
               indent, name, static_cast<unsigned long long>(s.count), s.min, s.mean, s.p50, s.p90,
               s.p99, s.p999, s.p9999, s.max, last ? "" : ",");
}

// The figures for scripts (scripts/bench reads tick_to_trade_ns).
inline bool write_json(const std::string& path, const PipelineReport& r) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const double scale = 1.0 / r.ticks_per_ns;
  const auto& b = r.book_stats;
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::fprintf(f,
               "{\n  \"feed\": \"%s\",\n  \"cores\": {\"hot\": %u, \"feed\": %u, \"exchange\": %u, "
               "\"hot_busy_poll\": %s},\n",
               to_string(r.feed), r.cores.hot, r.cores.feed, r.cores.exchange,
               r.cores.busy ? "true" : "false");
  std::fprintf(f,
               "  \"messages\": %llu,\n  \"decode_errors\": %llu,\n  \"seconds\": %.4f,\n"
               "  \"messages_per_second\": %.0f,\n  \"tsc_ghz\": %.4f,\n",
               u(r.decode_stats.records), u(r.decode_stats.errors), r.seconds,
               r.messages_per_second(), r.ticks_per_ns);
  std::fprintf(f,
               "  \"orders\": {\"sent\": %llu, \"acknowledged\": %llu, \"accepted\": %llu, "
               "\"rejected\": %llu, \"missing_acks\": %llu, \"exchange_received\": %llu},\n",
               u(b.orders_sent), u(b.acks + b.rejects), u(b.acks), u(b.rejects), u(b.missing_acks),
               u(r.exchange_stats.orders));
  std::fprintf(f, "  \"book\": {\"unresolved\": %llu, \"crossed\": %llu, \"errors\": %llu},\n",
               u(b.book.unresolved()), u(b.crossed), u(b.book.failed()));
  std::fprintf(f,
               "  \"feed_stats\": {\"datagrams\": %llu, \"gaps\": %llu, \"missing\": %llu, "
               "\"duplicates\": %llu, \"bad_packets\": %llu, \"refused\": %llu, "
               "\"ended_by_idle\": %s, \"interrupted\": %s},\n",
               u(r.feed_stats.packets), u(r.feed_stats.mold.gaps), u(r.feed_stats.mold.missing),
               u(r.feed_stats.mold.duplicates), u(r.feed_stats.bad_packets),
               u(r.feed_stats.refused), r.feed_stats.ended_by_idle ? "true" : "false",
               r.feed_stats.interrupted ? "true" : "false");
  std::fprintf(f, "  \"tap\": {\"recorded\": %llu, \"dropped\": %llu, \"in_sequence\": %s},\n",
               u(r.tap_recorded), u(r.tap_dropped), r.tap_in_sequence ? "true" : "false");
  std::fprintf(f, "  \"clean\": %s,\n", r.clean() ? "true" : "false");
  json_summary(f, "tick_to_trade_ns", r.hist->tick_to_trade, scale, false, "  ");
  std::fprintf(f, "  \"stages_ns\": {\n");
  json_summary(f, "feed_decode", r.hist->decode, scale, false);
  json_summary(f, "book_strategy", r.hist->book, scale, false);
  json_summary(f, "order_to_socket", r.hist->strategy_to_gateway, scale, false);
  json_summary(f, "send_call", r.hist->send_call, scale, true);
  std::fprintf(f, "  }\n}\n");
  return std::fclose(f) == 0;
}

// Percentile curves of tick-to-trade and the stages through gnuplot (gnuplot-nox). The CSVs
// are written beside the image (FILE.png -> FILE.csv for tick-to-trade). Returns an error
// message, or "" on success.
inline std::string write_plot(const std::string& png, const PipelineReport& r) {
  // The paths go into a gnuplot script between single quotes.
  if (png.find_first_of("'\n\r") != std::string::npos) {
    return "the plot's file name may not contain quotes or line breaks";
  }
  const double scale = 1.0 / r.ticks_per_ns;
  const std::string stem =
      png.size() > 4 && png.substr(png.size() - 4) == ".png" ? png.substr(0, png.size() - 4) : png;
  struct Curve {
    const char* suffix;
    const char* title;
    const LatencyHistogram* h;
  } curves[] = {{".csv", "tick-to-trade", &r.hist->tick_to_trade},
                {".decode.csv", "feed + decode", &r.hist->decode},
                {".book.csv", "book + strategy", &r.hist->book},
                {".gateway.csv", "order -> socket", &r.hist->strategy_to_gateway}};
  std::string plot;
  for (const Curve& c : curves) {
    const std::string path = stem + c.suffix;
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr || !c.h->write_csv(f, scale, "ns", 20)) {
      if (f != nullptr) std::fclose(f);
      return "cannot write " + path;
    }
    std::fclose(f);
    if (c.h->count() == 0) continue;
    plot += (plot.empty() ? "plot " : ", ") + std::string("'") + path +
            "' using (1/(1-$1/100.0001)):2 with lines lw 2 title '" + c.title + "'";
  }
  if (plot.empty()) return "no samples to plot";
  const std::string script =
      "set terminal png size 1000,600\nset output '" + png +
      "'\nset datafile separator ','\nset key autotitle columnhead\nset key left top\n"
      "set logscale x\nset logscale y\nset grid\nset xlabel 'percentile'\nset ylabel 'ns'\n"
      "set title 'sluice pipeline latency'\n"
      // '%%': gnuplot reads tic labels as formats.
      "set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, "
      "'99.999%%' 100000)\n" +
      plot + "\n";
  std::FILE* g = popen("gnuplot 2>&1", "w");
  if (g == nullptr) return "cannot run gnuplot (Debian package gnuplot-nox)";
  std::fputs(script.c_str(), g);
  const int rc = pclose(g);
  if (rc != 0) return "gnuplot failed (is gnuplot-nox installed?)";
  return "";
}

}  // namespace sluice::pipeline
