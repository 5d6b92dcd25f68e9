// run_pipeline(): the main job's wiring. Three threads, each with its own runtime, pinned by
// configuration (hwloc, runtime/topology.hpp):
//   hot core:      feed handler -> decode -> book + strategy -> gateway, and the ack reader
//                  (stages.hpp); busy-polls when it has its core to itself.
//   feed core:     the MoldUDP64 replayer (replayer.hpp), in the replay mode.
//   exchange core: the exchange simulator (exchange_sim.hpp).
// The calling thread only reports progress. Later stages wire in here: the journal archives
// the feed's chunks and the tapped orders; the bridge runs a GPU decoder in place of decode.
#pragma once

#include <sluice/examples/pipeline/exchange_sim.hpp>
#include <sluice/examples/pipeline/replayer.hpp>
#include <sluice/examples/pipeline/stages.hpp>
#include <sluice/runtime/topology.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>

namespace sluice::pipeline {

enum class FeedKind : uint8_t {
  Replay,     // the built-in replayer sends a day (synthetic or --file) as MoldUDP64 over UDP
  Udp,        // MoldUDP64 from elsewhere, on a UDP port
  File,       // an ITCH file (2-byte length-prefixed, plain or gzip) read directly
  Synthetic,  // the generator inside the feed task (no network)
};

inline const char* to_string(FeedKind k) noexcept {
  switch (k) {
    case FeedKind::Replay:
      return "replay";
    case FeedKind::Udp:
      return "udp";
    case FeedKind::File:
      return "file";
    case FeedKind::Synthetic:
      return "synthetic";
  }
  return "?";
}

enum class IdleMode : uint8_t { Auto, Busy, Park };

struct PipelineConfig {
  FeedKind feed = FeedKind::Replay;
  std::string file;  // Replay: replay this file instead of a synthetic day. File: read it.
  market::FeedConfig synthetic{};
  ReplayConfig replay{};
  std::string udp_host = "127.0.0.1";  // Udp: where to listen (Replay: always loopback)
  uint16_t udp_port = 0;               // Udp: required; Replay: 0 picks a free port
  // CPUs (OS indices). -1: the default: hot 1, feed and exchange 0 on a 2-CPU machine (hot,
  // feed, exchange = 1, 0, 2 with three or more; all 0 on one).
  int hot_core = -1;
  int feed_core = -1;
  int exchange_core = -1;
  // Auto: busy-poll the hot runtime when no other pipeline thread shares its core.
  IdleMode idle = IdleMode::Auto;
  StrategyConfig strategy{};
  // The feed ends after this long without a datagram (replay and udp modes; an end of session
  // ends it at once). Before the first datagram, the wait is first_packet_timeout.
  std::chrono::milliseconds idle_timeout{2000};
  std::chrono::milliseconds first_packet_timeout{10000};
  std::size_t chunk_capacity = 16;
  std::size_t tick_capacity = 16;
  std::size_t order_capacity = 1024;
  uint32_t max_live_orders = 4'000'000;
  std::chrono::milliseconds progress_interval{250};
  // Called once on the hot thread when the feed is open (the UDP socket bound: its port; 0 for
  // a file or the generator), before the first read. A test or a launcher starts its sender
  // here instead of guessing when the pipeline listens. Must not block.
  std::function<void(uint16_t)> on_feed_ready{};
  // MoldUDP64: the sequence the first packet should carry (the built-in replayer starts at 1;
  // a lost first packet is then a gap). 0: the first packet sets it (joining a live feed).
  uint64_t first_sequence = 0;
  // Set from another thread (a SIGINT handler's flag, polled by the reporting loop) to end the
  // feed early; the run then finishes its stages and reports. nullptr: none.
  const std::atomic<bool>* interrupt = nullptr;
};

struct CoreChoice {
  unsigned hot = 0, feed = 0, exchange = 0;
  bool busy = false;
};

struct PipelineReport {
  FeedKind feed = FeedKind::Replay;
  CoreChoice cores{};
  double seconds = 0;  // first chunk's t_rx to the last record through the book (TSC)
  double ticks_per_ns = 1;
  FeedStats feed_stats{};
  DecodeStats decode_stats{};
  BookStageStats book_stats{};
  GatewayStats gateway_stats{};
  AckReaderStats ack_stats{};
  ExchangeStats exchange_stats{};
  ReplayStats replay_stats{};
  uint64_t replay_messages = 0;  // in the replayed day
  uint64_t tap_recorded = 0;
  uint64_t tap_dropped = 0;
  bool tap_in_sequence = true;
  std::unique_ptr<Histograms> hist = std::make_unique<Histograms>();

  double messages_per_second() const noexcept {
    return seconds > 0 ? static_cast<double>(decode_stats.records) / seconds : 0;
  }
  // The correctness bar of the run: everything the feed sent decoded and went through the
  // book without an unresolved reference or a crossed book, and every order was acknowledged.
  bool clean() const noexcept {
    return decode_stats.records > 0 && decode_stats.errors == 0 && feed_stats.bad_packets == 0 &&
           feed_stats.refused == 0 && !feed_stats.ended_by_idle && !feed_stats.interrupted &&
           feed_stats.feed_error == nullptr && book_stats.missing_acks == 0 &&
           book_stats.book.unresolved() == 0 && book_stats.book.failed() == 0 &&
           book_stats.crossed == 0 && book_stats.orders_sent == gateway_stats.orders &&
           exchange_stats.orders == gateway_stats.orders &&
           book_stats.acks + book_stats.rejects == book_stats.orders_sent &&
           book_stats.unmatched_acks == 0 && ack_stats.wire_errors == 0 &&
           exchange_stats.wire_errors == 0 && feed_stats.mold.gaps == 0 &&
           feed_stats.io_error == 0 && gateway_stats.send_error == 0 &&
           tap_recorded == gateway_stats.orders && tap_in_sequence && tap_dropped == 0 &&
           (feed != FeedKind::Replay || decode_stats.records == replay_messages);
  }
};

// Resolves the core defaults and checks each CPU exists (a clear message when not).
inline Result<CoreChoice, std::string> choose_cores(const PipelineConfig& cfg) {
  auto topo = Topology::load();
  if (!topo) return err(std::string("cannot read the CPU topology: ") + to_string(topo.error()));
  const auto& cpus = (*topo)->cpus();
  if (cpus.empty()) return err(std::string("no CPUs found"));
  // The CPUs this process may use (taskset, cgroups): a default never leaves them, and an
  // explicit choice outside them is an error.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  const bool have_mask = sched_getaffinity(0, sizeof allowed, &allowed) == 0;
  std::vector<unsigned> ids;
  for (const CpuInfo& c : cpus) {
    if (!have_mask || (c.cpu < CPU_SETSIZE && CPU_ISSET(c.cpu, &allowed))) ids.push_back(c.cpu);
  }
  if (ids.empty())
    return err(std::string("no CPU of this machine is in the process's allowed set"));
  std::string have;
  for (unsigned id : ids) {
    if (!have.empty()) have += ',';
    have += std::to_string(id);
  }
  auto pick = [&](int want, std::size_t fallback_index,
                  const char* flag) -> Result<unsigned, std::string> {
    if (want < 0) return ids[fallback_index < ids.size() ? fallback_index : 0];
    for (unsigned id : ids) {
      if (id == static_cast<unsigned>(want)) return id;
    }
    return err(std::string(flag) + " " + std::to_string(want) +
               ": no such CPU, or not in this process's allowed set (CPUs: " + have + ")");
  };
  CoreChoice c;
  auto h = pick(cfg.hot_core, 1, "--hot-core");
  if (!h) return err(h.error());
  auto f = pick(cfg.feed_core, 0, "--feed-core");
  if (!f) return err(f.error());
  auto x = pick(cfg.exchange_core, ids.size() > 2 ? 2 : 0, "--exchange-core");
  if (!x) return err(x.error());
  c.hot = *h;
  c.feed = *f;
  c.exchange = *x;
  const bool shared = c.hot == c.exchange || (cfg.feed == FeedKind::Replay && c.hot == c.feed);
  c.busy = cfg.idle == IdleMode::Busy || (cfg.idle == IdleMode::Auto && !shared);
  return c;
}

namespace detail {

inline std::unique_ptr<Runtime> make_runtime(bool busy, std::string* error) {
  RuntimeConfig rc;
  rc.idle = busy ? IdlePolicy::busy_poll() : IdlePolicy::park();
  rc.require_io_uring = true;  // sockets and files run on the ring
  auto r = Runtime::make(std::move(rc));
  if (!r) {
    *error = std::string("cannot start a runtime: ") + to_string(r.error()) + " (" +
             std::strerror(r.error().errno_value) + ")";
    return nullptr;
  }
  return std::move(*r);
}

// Closes the feed's socket when no datagram has come for the idle timeout while the feed
// waits in recv, or when the run is interrupted: the pending receive returns and the feed
// task sees `stop`.
inline Task<void> idle_watchdog(io::UdpSocket* sock, FeedStats* st, std::atomic<bool>* stop,
                                std::chrono::milliseconds idle, std::chrono::milliseconds first) {
  uint64_t seen = st->packets;
  auto last = Clock::now();
  for (;;) {
    co_await sleep_for(std::chrono::milliseconds(20));
    // relaxed: a flag set by the reporting thread on SIGINT.
    if (stop->load(std::memory_order_relaxed)) break;  // interrupted: the feed records it
    // Idle only while the feed waits in recv: a feed held back by a slow stage is not silent.
    if (st->packets != seen || !st->in_recv) {
      seen = st->packets;
      last = Clock::now();
      continue;
    }
    if (Clock::now() - last >= (seen == 0 ? first : idle)) {
      st->idle_fired = true;  // before the stop: the feed tells an idle end from an interrupt
      break;
    }
  }
  stop->store(true, std::memory_order_relaxed);  // relaxed: a flag; the close is what wakes
  (void)co_await sock->close();
}

// The hot runtime's side, drained as it goes: an archiver reading the orders' tap live (the
// journal takes this place), checking that every order is there once and in sequence.
inline Task<void> tap_archiver(SpscLogbuf* log, PipelineReport* rep, const bool* done) {
  for (;;) {
    const bool last = *done;  // read before the drain: what was written before is drained
    (void)log->consume(
        [rep](std::span<const std::byte> r, uint16_t) {
          TapHeader th;
          std::memcpy(&th, r.data(), sizeof th);
          rep->tap_in_sequence =
              rep->tap_in_sequence && th.channel_id == 4 && th.sequence == rep->tap_recorded;
          ++rep->tap_recorded;
        },
        SIZE_MAX);
    if (last) co_return;
    co_await sleep_for(std::chrono::microseconds(500));
  }
}

// The hot thread failed before it connected: the exchange still waits in accept(). A
// connection opened and closed here ends its wait (it sees end of stream at once).
inline void release_exchange(uint16_t port) noexcept {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::close(fd);
}

struct HotShared {
  const PipelineConfig* cfg;
  PipelineReport* rep;
  Progress* progress;
  uint16_t exchange_port = 0;
  std::promise<uint16_t>* udp_port;  // Replay: the port the replayer sends to
  std::atomic<uint64_t>* consumed;
  std::atomic<bool>* stop;
  std::string error;
};

inline Task<void> hot_main(HotShared* s) {
  const PipelineConfig& cfg = *s->cfg;
  PipelineReport& rep = *s->rep;
  Histograms& h = *rep.hist;
  bool port_published = false;
  auto publish = [&](uint16_t p) {
    if (!port_published) s->udp_port->set_value(p);
    port_published = true;
  };
  struct Publisher {  // any early return still releases the replayer thread
    decltype(publish)* f;
    ~Publisher() { (*f)(0); }
  } publisher{&publish};

  // The feed first: a UDP socket must be bound before anything slow (the books take their
  // memory up front), or an outside sender's first datagrams are lost.
  std::optional<io::UdpSocket> sock;
  std::optional<market::ItchFileReader> reader;
  std::optional<market::SyntheticFeed> gen;
  if (cfg.feed == FeedKind::Replay || cfg.feed == FeedKind::Udp) {
    const std::string host = cfg.feed == FeedKind::Replay ? "127.0.0.1" : cfg.udp_host;
    auto at = io::SocketAddress::parse(host, cfg.feed == FeedKind::Replay ? 0 : cfg.udp_port);
    if (!at) {
      s->error = "'" + host + "' is not an IP address";
      co_return;
    }
    auto u = io::UdpSocket::bind(*at);
    if (!u) {
      s->error = "bind UDP " + at->to_string() + ": " + to_string(u.error());
      co_return;
    }
    (void)io::set_recv_buffer(u->fd(), 8 << 20);  // capped by net.core.rmem_max
    sock.emplace(std::move(*u));
  } else if (cfg.feed == FeedKind::File) {
    market::ItchFileOptions fo;
    fo.chunk_bytes = 64 * 1024;  // small reads: a read's stamp is close to its messages
    auto r = co_await market::ItchFileReader::open(cfg.file.c_str(), fo);
    if (!r) {
      s->error = "open " + cfg.file + ": " + market::to_string(r.error());
      co_return;
    }
    reader.emplace(std::move(*r));
  } else {
    auto g = market::SyntheticFeed::make(cfg.synthetic);
    if (!g) {
      s->error =
          std::string("synthetic feed (--messages, --symbols): ") + market::to_string(g.error());
      co_return;
    }
    gen.emplace(std::move(*g));
  }
  if (cfg.on_feed_ready) cfg.on_feed_ready(sock ? sock->local_address().port() : 0);

  auto ex_at = io::SocketAddress::parse("127.0.0.1", s->exchange_port);
  auto conn = co_await io::TcpStream::connect(*ex_at, std::chrono::seconds(5));
  if (!conn) {
    s->error = std::string("connect to the exchange simulator: ") + to_string(conn.error());
    co_return;
  }
  // A day from elsewhere (a file, the network) may use any stock locate; the generator's
  // are 1..symbols. Wide tables keep a smaller level reserve per symbol (it grows on demand).
  const bool known =
      cfg.feed == FeedKind::Synthetic || (cfg.feed == FeedKind::Replay && cfg.file.empty());
  const uint16_t max_locate =
      known ? static_cast<uint16_t>(std::min<uint32_t>(65535, cfg.synthetic.symbols)) : 65535;
  market::BookConfig bc;
  bc.max_locate = max_locate;
  bc.max_live_orders = cfg.max_live_orders;
  bc.levels_per_side = known ? 64 : 16;
  auto books = market::OrderBooks::make(bc);
  if (!books) {
    s->error = std::string("order books: ") + market::to_string(books.error());
    co_return;
  }

  auto chunks = local::channel<Chunk>(cfg.chunk_capacity);
  auto ticks = local::channel<Tick>(cfg.tick_capacity);
  auto orders = local::channel<Order>(cfg.order_capacity);
  // Outstanding orders are at most one per locate: the ack channel never fills.
  auto acks = local::channel<Ack>(std::size_t{max_locate} + 1);
  if (!chunks || !ticks || !orders || !acks) {
    s->error = "channels: out of memory or bad capacity";
    co_return;
  }
  // Sized from the channel's real capacity (it may round the request up): the C + 2 rule.
  SlotPool pool(chunks->tx.capacity());
  // The orders' tap, drained live by tap_archiver: 16 MiB holds ~250 000 orders, far more
  // than arrive between two drains.
  auto log = SpscLogbuf::make(16u << 20);
  if (!log) {
    s->error = std::string("tap log: ") + logbuf::to_string(log.error());
    co_return;
  }
  Tap<SpscLogbuf, TapTsc> tap(**log, /*channel_id=*/4);

  Runtime* rt = Runtime::current();
  BookStrategy strat(&*books, cfg.strategy, max_locate);
  JoinHandle<void> feed_h;
  JoinHandle<void> watchdog;
  if (sock) {
    publish(sock->local_address().port());
    feed_h = rt->spawn(feed_udp(&*sock, &pool, std::move(chunks->tx), &rep.feed_stats, s->consumed,
                                s->stop, cfg.first_sequence));
    watchdog = rt->spawn(idle_watchdog(&*sock, &rep.feed_stats, s->stop, cfg.idle_timeout,
                                       cfg.first_packet_timeout));
  } else if (reader) {
    feed_h = rt->spawn(feed_file(&*reader, &pool, std::move(chunks->tx), &rep.feed_stats,
                                 cfg.replay.messages_per_second, s->stop));
  } else {
    feed_h = rt->spawn(feed_synthetic(&*gen, &pool, std::move(chunks->tx), &rep.feed_stats,
                                      cfg.replay.messages_per_second, s->stop));
  }
  bool book_done = false;
  auto archiver = rt->spawn(tap_archiver(&**log, &rep, &book_done));
  auto dec_h = rt->spawn(decode(std::move(chunks->rx), &pool, std::move(ticks->tx),
                                &rep.decode_stats, &h, s->progress));
  auto book_h = rt->spawn(strat.run(std::move(ticks->rx), tapped(std::move(orders->tx), tap),
                                    std::move(acks->rx), &rep.book_stats, &h, s->progress));
  auto gw_h =
      rt->spawn(gateway(std::move(orders->rx), &*conn, &rep.gateway_stats, &h, s->progress));
  auto ack_h = rt->spawn(ack_reader(&*conn, std::move(acks->tx), &rep.ack_stats));

  co_await feed_h;
  if (watchdog.valid() && !watchdog.is_finished()) watchdog.abort();
  co_await dec_h;
  co_await book_h;
  co_await gw_h;
  co_await ack_h;
  book_done = true;  // every order is in the tap: the archiver's next drain is its last
  co_await archiver;
  const uint64_t t0 = rep.decode_stats.first_t_rx;
  const uint64_t t1 = rep.book_stats.last_t;
  rep.seconds = t0 != 0 && t1 > t0 ? static_cast<double>(t1 - t0) / rep.ticks_per_ns / 1e9 : 0;
  if (sock && !s->stop->load(std::memory_order_relaxed)) (void)co_await sock->close();
  (void)co_await conn->close();
  rep.tap_dropped = tap.dropped();
}

}  // namespace detail

// Runs the whole pipeline; `on_progress(const Progress&, double elapsed_s)` is called on the
// calling thread every progress_interval until the hot runtime is done. Errors (a missing
// CPU, a port in use, an unreadable file) come back as a message.
inline Result<PipelineReport, std::string> run_pipeline(
    const PipelineConfig& cfg, const std::function<void(const Progress&, double)>& on_progress) {
  auto cores = choose_cores(cfg);
  if (!cores) return err(cores.error());
  if ((cfg.feed == FeedKind::File) && cfg.file.empty()) {
    return err(std::string("the file feed needs a file"));
  }
  if (cfg.feed == FeedKind::Udp && cfg.udp_port == 0) {
    return err(std::string("the udp feed needs a port"));
  }
  PipelineReport rep;
  rep.feed = cfg.feed;
  rep.cores = *cores;
  rep.ticks_per_ns = TscClock::global().ticks_per_ns();

  // The day to replay, built before anything is timed.
  ReplayData data;
  if (cfg.feed == FeedKind::Replay) try {
      if (cfg.file.empty()) {
        auto g = market::SyntheticFeed::make(cfg.synthetic);
        if (!g) return err(std::string("synthetic feed: ") + market::to_string(g.error()));
        data = replay_from_synthetic(*g);
      } else {
        std::string e;
        auto rt = detail::make_runtime(false, &e);
        if (!rt) return err(e);
        auto d = rt->block_on(replay_from_file(cfg.file));
        if (!d) return err("replay " + cfg.file + ": " + market::to_string(d.error()));
        data = std::move(*d);
      }
      rep.replay_messages = data.total_messages;
    } catch (const std::bad_alloc&) {
      return err(
          "not enough memory to hold the replayed day (about 32 bytes per message); use "
          "fewer --messages, or --feed synthetic / --feed file, which stream");
    }

  PipelineConfig hot_cfg = cfg;  // the replayer's packets start at sequence 1
  if (cfg.feed == FeedKind::Replay && hot_cfg.first_sequence == 0) hot_cfg.first_sequence = 1;
  Progress progress;
  std::atomic<uint64_t> consumed{0};
  std::atomic<bool> stop{false};
  std::string ex_error, replay_error;

  // Exchange simulator.
  std::promise<uint16_t> ex_port;
  auto ex_port_f = ex_port.get_future();
  std::thread ex_thread([&] {
    auto pin = pin_current_thread(cores->exchange);
    auto rt = detail::make_runtime(false, &ex_error);
    if (!pin || !rt) {
      if (!pin) ex_error = std::string("pin the exchange thread: ") + to_string(pin.error());
      ex_port.set_value(0);
      return;
    }
    auto l = io::TcpListener::bind(*io::SocketAddress::parse("127.0.0.1", 0));
    if (!l) {
      ex_error = std::string("exchange listen: ") + to_string(l.error());
      ex_port.set_value(0);
      return;
    }
    ex_port.set_value(l->local_address().port());
    rt->block_on(exchange_serve(&*l, &rep.exchange_stats));
  });
  const uint16_t exchange_port = ex_port_f.get();
  if (exchange_port == 0) {
    ex_thread.join();
    return err(ex_error);
  }

  // Hot runtime.
  std::promise<uint16_t> udp_port;
  auto udp_port_f = udp_port.get_future();
  detail::HotShared hs{&hot_cfg, &rep, &progress, exchange_port, &udp_port, &consumed, &stop, {}};
  std::thread hot_thread([&] {
    auto pin = pin_current_thread(cores->hot);
    auto rt = detail::make_runtime(cores->busy, &hs.error);
    if (!pin || !rt) {
      if (!pin) hs.error = std::string("pin the hot thread: ") + to_string(pin.error());
      udp_port.set_value(0);
    } else {
      rt->block_on(detail::hot_main(&hs));
    }
    stop.store(true, std::memory_order_relaxed);  // relaxed: a flag the replayer polls
    // release: the report's fields written on this thread are visible to whoever acquires.
    progress.done.store(true, std::memory_order_release);
  });

  // Replayer.
  std::thread replay_thread;
  if (cfg.feed == FeedKind::Replay) {
    replay_thread = std::thread([&] {
      const uint16_t port = udp_port_f.get();
      if (port == 0) return;
      (void)pin_current_thread(cores->feed);
      auto rt = detail::make_runtime(false, &replay_error);
      if (!rt) {
        stop.store(true, std::memory_order_relaxed);
        return;
      }
      auto sock = io::UdpSocket::bind(*io::SocketAddress::parse("127.0.0.1", 0));
      if (!sock || !sock->connect(*io::SocketAddress::parse("127.0.0.1", port))) {
        replay_error = "replayer socket";
        stop.store(true, std::memory_order_relaxed);  // relaxed: a flag; the hot side ends
        return;
      }
      (void)io::set_send_buffer(sock->fd(), 4 << 20);
      rep.replay_stats = rt->block_on(replay(&*sock, &data, cfg.replay, &consumed, &stop));
      rt->block_on([](io::UdpSocket* s) -> Task<void> { (void)co_await s->close(); }(&*sock));
    });
  }

  // Progress on this thread, pinned away from the hot core while the run lasts.
  cpu_set_t caller_mask;
  const bool restore = sched_getaffinity(0, sizeof caller_mask, &caller_mask) == 0;
  (void)pin_current_thread(cores->feed);
  const auto start = std::chrono::steady_clock::now();
  while (!progress.done.load(std::memory_order_acquire)) {
    std::this_thread::sleep_for(cfg.progress_interval);
    // relaxed: flags. The feed tasks and the replayer poll `stop`; the UDP watchdog also
    // closes the socket so a waiting receive returns.
    if (cfg.interrupt != nullptr && cfg.interrupt->load(std::memory_order_relaxed)) {
      stop.store(true, std::memory_order_relaxed);
    }
    if (on_progress) {
      on_progress(progress,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  if (restore) (void)sched_setaffinity(0, sizeof caller_mask, &caller_mask);
  hot_thread.join();
  if (replay_thread.joinable()) replay_thread.join();
  if (!hs.error.empty()) detail::release_exchange(exchange_port);
  ex_thread.join();
  if (!hs.error.empty()) return err(hs.error);
  if (!replay_error.empty()) return err(replay_error);
  if (!ex_error.empty()) return err(ex_error);
  return rep;
}

}  // namespace sluice::pipeline
