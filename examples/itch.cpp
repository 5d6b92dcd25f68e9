// itch: the market-data front end from the command line.
//
//   itch gen FILE [--messages N] [--symbols S] [--seed X] [--gzip]
//       a synthetic ITCH 5.0 day (book-consistent) written to FILE on the runtime's ring
//   itch read FILE [--chunk BYTES] [--max-locate L]
//       reads FILE (plain or gzip, detected), decodes every message, applies it to order
//       books, and prints counts by type, error records, unresolved references, crossed
//       books and the rate
//   itch demo
//       gen + read of a gzip day in /tmp, then the same day as MoldUDP64 packets with one
//       packet dropped: the gap is reported with its range and the retransmission fills it
#include <CLI/CLI.hpp>
#include <sluice/market/itch/framing.hpp>
#include <sluice/market/itch_file.hpp>
#include <sluice/market/moldudp64.hpp>
#include <sluice/market/order_book.hpp>
#include <sluice/market/synthetic_feed.hpp>
#include <sluice/market/synthetic_outputs.hpp>
#include <sluice/sluice.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace sluice;
using namespace sluice::market;
namespace itch = sluice::market::itch;

namespace {

struct ReadReport {
  uint64_t messages = 0, errors = 0, bytes = 0;
  uint64_t by_type[256] = {};
  double seconds = 0;
};

Task<int> gen(std::string path, FeedConfig cfg, bool gzip) {
  auto feed = SyntheticFeed::make(cfg);
  if (!feed) {
    std::fprintf(stderr, "itch gen: %s\n", to_string(feed.error()));
    co_return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto n = co_await write_synthetic_file(*feed, path.c_str(), gzip);
  if (!n) {
    std::fprintf(stderr, "itch gen: %s: %s\n", path.c_str(), to_string(n.error()));
    co_return 1;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "wrote %llu messages to %s%s in %.2f s (%.1f M messages/s); %llu live orders at the "
      "close\n",
      static_cast<unsigned long long>(*n), path.c_str(), gzip ? " (gzip)" : "", s,
      static_cast<double>(*n) / s / 1e6,
      static_cast<unsigned long long>(feed->stats().live_orders));
  co_return 0;
}

Task<int> read(std::string path, std::size_t chunk, uint16_t max_locate) {
  BookConfig bc;
  bc.max_locate = max_locate;
  auto books = OrderBooks::make(bc);
  if (!books) {
    std::fprintf(stderr, "itch read: books: %s\n", to_string(books.error()));
    co_return 2;
  }
  ItchFileOptions o;
  o.chunk_bytes = chunk;
  auto r = co_await ItchFileReader::open(path.c_str(), o);
  if (!r) {
    std::fprintf(stderr, "itch read: %s: %s\n", path.c_str(), to_string(r.error()));
    co_return 1;
  }
  ReadReport rep;
  std::vector<itch::Record> recs(chunk / 12 + 16);
  int shown = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    auto c = co_await r->next();
    if (!c) {
      std::fprintf(stderr, "itch read: %s: %s at stream offset %llu\n", path.c_str(),
                   to_string(c.error()), static_cast<unsigned long long>(r->error_offset()));
      co_return 1;
    }
    uint64_t off = 0;
    while (off < c->bytes.size()) {
      const auto d =
          itch::decode_stream(c->bytes.data() + off, c->bytes.size() - off, c->stream_offset + off,
                              recs.data(), static_cast<uint32_t>(recs.size()), c->last);
      for (uint32_t i = 0; i < d.count; ++i) {
        ++rep.by_type[recs[i].type];
        if (!recs[i].ok() && shown++ < 5) {
          std::printf("  error record at offset %llu: %s (type 0x%02x, length %u)\n",
                      static_cast<unsigned long long>(recs[i].offset),
                      itch::to_string(recs[i].error), recs[i].type, recs[i].length);
        }
      }
      (void)books->apply_batch(recs.data(), d.count);
      rep.messages += d.count;
      rep.errors += d.errors;
      off += d.consumed;
      if (d.count == 0) break;
    }
    rep.bytes += c->bytes.size();
    if (c->last) break;
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t crossed = 0;
  for (uint32_t loc = 0; loc <= max_locate; ++loc)
    crossed += books->crossed(static_cast<uint16_t>(loc));
  std::printf(
      "%s: %s, %llu messages, %.1f MB of messages, %.2f s (%.1f M messages/s, decode + "
      "book)\n",
      path.c_str(), r->gzip() ? "gzip" : "plain", static_cast<unsigned long long>(rep.messages),
      static_cast<double>(rep.bytes) / 1e6, rep.seconds,
      static_cast<double>(rep.messages) / rep.seconds / 1e6);
  std::printf("  by type:");
  for (uint8_t t : itch::kAllTypes) {
    if (rep.by_type[t] != 0)
      std::printf(" %c=%llu", t, static_cast<unsigned long long>(rep.by_type[t]));
  }
  std::printf(
      "\n  error records %llu; book: %llu live orders, %llu unresolved references, %llu "
      "other book errors, %llu crossed books\n",
      static_cast<unsigned long long>(rep.errors),
      static_cast<unsigned long long>(books->live_orders()),
      static_cast<unsigned long long>(books->counters().unresolved()),
      static_cast<unsigned long long>(books->counters().failed() - books->counters().unresolved()),
      static_cast<unsigned long long>(crossed));
  for (uint16_t loc = 1; loc <= 3 && loc <= max_locate; ++loc) {
    const auto bid = books->best_bid(loc);
    const auto ask = books->best_ask(loc);
    if (!bid && !ask) continue;
    std::printf("  locate %u: bid %u x %.4f  ask %u x %.4f\n", loc,
                bid ? static_cast<unsigned>(bid->shares) : 0u, bid ? bid->price / 1e4 : 0.0,
                ask ? static_cast<unsigned>(ask->shares) : 0u, ask ? ask->price / 1e4 : 0.0);
  }
  co_return rep.errors == 0 && books->counters().failed() == 0 && crossed == 0 ? 0 : 3;
}

int packets_demo(const FeedConfig& cfg) {
  auto feed = SyntheticFeed::make(cfg);
  if (!feed) return 2;
  std::vector<std::vector<uint8_t>> packets;
  const uint64_t n = packetize_synthetic(*feed, "DEMO000001", 1, [&](std::span<const uint8_t> p) {
    packets.emplace_back(p.begin(), p.end());
  });
  const std::size_t lost = packets.size() / 3;
  std::printf("MoldUDP64: %llu messages in %zu packets; packet %zu is dropped on the way\n",
              static_cast<unsigned long long>(n), packets.size(), lost);
  MoldSession session;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i == lost) continue;
    auto p = parse_packet(packets[i]);
    if (!p) return 1;
    const MoldEvent ev = session.on_packet(*p);
    if (ev.gap) {
      std::printf("  gap reported at packet %zu: sequences [%llu, %llu) missing\n", i,
                  static_cast<unsigned long long>(ev.gap_range.from),
                  static_cast<unsigned long long>(ev.gap_range.to));
    }
  }
  std::printf("  delivered %llu, outstanding gaps %zu\n",
              static_cast<unsigned long long>(session.counters().messages),
              session.outstanding_gaps().size());
  auto again = parse_packet(packets[lost]);
  if (!again) return 1;
  const MoldEvent ev = session.on_packet(*again);
  std::printf(
      "  retransmission: %u messages recovered, outstanding gaps %zu, delivered %llu of "
      "%llu\n",
      ev.recovered, session.outstanding_gaps().size(),
      static_cast<unsigned long long>(session.counters().messages),
      static_cast<unsigned long long>(n));
  return session.counters().messages == n && session.outstanding_gaps().empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ITCH 5.0 files, books and MoldUDP64 with sluice"};
  app.require_subcommand(1);
  FeedConfig cfg;
  cfg.messages = 2'000'000;
  cfg.symbols = 256;
  std::string path;
  bool gzip = false;
  std::size_t chunk = std::size_t{1} << 20;
  uint16_t max_locate = 16383;
  auto* g = app.add_subcommand("gen", "write a synthetic day to FILE");
  g->add_option("file", path, "output file")->required();
  g->add_option("--messages", cfg.messages, "messages in the day");
  g->add_option("--symbols", cfg.symbols, "symbols (stock locates 1..N)");
  g->add_option("--seed", cfg.seed, "generator seed");
  g->add_flag("--gzip", gzip, "gzip the file");
  auto* rd = app.add_subcommand("read", "decode FILE into order books");
  rd->add_option("file", path, "input file (plain or gzip)")->required();
  rd->add_option("--chunk", chunk, "bytes per read")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
  rd->add_option("--max-locate", max_locate, "largest stock locate the books hold");
  auto* demo = app.add_subcommand("demo", "gen + read of a gzip day, then MoldUDP64 with a loss");
  CLI11_PARSE(app, argc, argv);

  auto rt = Runtime::make(RuntimeConfig{IdlePolicy::park()});
  if (!rt) {
    std::fprintf(stderr, "itch: runtime: %s\n", to_string(rt.error()));
    return 1;
  }
  if (*g) return (*rt)->block_on(gen(path, cfg, gzip));
  if (*rd) return (*rt)->block_on(read(path, chunk, max_locate));
  if (*demo) {
    const std::string tmp = "/tmp/sluice_itch_demo_" + std::to_string(::getpid()) + ".itch.gz";
    int rc = (*rt)->block_on(gen(tmp, cfg, true));
    if (rc == 0) rc = (*rt)->block_on(read(tmp, chunk, max_locate));
    ::unlink(tmp.c_str());
    FeedConfig small = cfg;
    small.messages = 200'000;
    if (rc == 0) rc = packets_demo(small);
    return rc;
  }
  return 0;
}
