// echo: a TCP echo server and a load client on sluice runtimes (runtime/io.hpp).
//
// Usage:
//   echo server [--host 127.0.0.1] --port P [--busy]
//   echo client [--host 127.0.0.1] --port P [--conns N] [--messages M] [--size S] [--busy]
//   echo demo [--busy]      (the default: both in one process on two threads, a few seconds)
//
// Server: one runtime (pinned to CPU 1 when there is one). TcpListener::accept hands each
// connection to its own task, which echoes what it receives (recv, then send_all) until the peer
// closes. Port 0 picks a free port (printed). SIGINT or SIGTERM stops it: the listener closes,
// and the connection tasks still open are aborted (their pending operations are cancelled).
//
// Client: one runtime (pinned to CPU 0 when there is one), N connections, each sending M messages
// of S bytes one at a time: the next goes once the echo of the last is back, checked byte for
// byte. Prints round-trip percentiles (p50, p90, p99, p99.9, max, in us) and messages/s.
//
// --busy: IdlePolicy::busy_poll (the thread never sleeps; lowest latency, a whole core) instead
// of IdlePolicy::park. Exit status: 0 on success, 1 on any I/O error or a wrong echo, 2 on bad
// arguments.
#include <sluice/runtime/io.hpp>
#include <sluice/runtime/latency.hpp>
#include <sluice/sluice.hpp>

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace sluice;
using namespace sluice::io;
using namespace std::chrono_literals;

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr unsigned kClientCpu = 0;
constexpr unsigned kServerCpu = 1;
// Messages up to this size are sent, then received. Larger ones are sent by a second task while
// the first receives: an echo larger than the socket buffers can hold one way would otherwise
// block both sides (the client's send waits for the server, whose send waits for the client).
constexpr std::size_t kSequentialMax = 16 * 1024;

struct Options {
  std::string mode = "demo";
  std::string host = "127.0.0.1";
  std::optional<uint16_t> port;
  uint32_t conns = 1;
  uint32_t messages = 10000;
  std::size_t size = 64;
  bool busy = false;
};

void usage(FILE* out) {
  std::fprintf(
      out,
      "usage:\n"
      "  echo server [--host 127.0.0.1] --port P [--busy]\n"
      "  echo client [--host 127.0.0.1] --port P [--conns N] [--messages M] [--size S]"
      " [--busy]\n"
      "  echo demo [--busy]   (the default)\n"
      "defaults: --conns 1 --messages 10000 --size 64; server --port 0 picks a free port\n");
}

// A whole decimal number in [lo, hi], or nullopt.
std::optional<uint64_t> parse_number(const char* s, uint64_t lo, uint64_t hi) {
  if (s == nullptr || *s < '0' || *s > '9') return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return std::nullopt;
  return v;
}

// Hand-written (no CLI11 here). false, with a message printed, on anything it does not know.
bool parse_args(int argc, char** argv, Options* o) {
  int i = 1;
  if (argc > 1 && argv[1][0] != '-') {
    o->mode = argv[1];
    i = 2;
  }
  if (o->mode != "server" && o->mode != "client" && o->mode != "demo") {
    std::fprintf(stderr, "echo: unknown mode '%s'\n", o->mode.c_str());
    return false;
  }
  for (; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    auto number = [&](uint64_t lo, uint64_t hi) -> std::optional<uint64_t> {
      auto n = parse_number(v, lo, hi);
      if (!n) {
        std::fprintf(stderr, "echo: %s wants a number in [%llu, %llu]\n", argv[i],
                     static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi));
      } else {
        ++i;
      }
      return n;
    };
    if (a == "--busy") {
      o->busy = true;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (a == "--host") {
      if (v == nullptr) {
        std::fprintf(stderr, "echo: --host wants an address\n");
        return false;
      }
      o->host = v;
      ++i;
    } else if (a == "--port") {
      auto n = number(0, 65535);
      if (!n) return false;
      o->port = static_cast<uint16_t>(*n);
    } else if (a == "--conns") {
      auto n = number(1, 10000);
      if (!n) return false;
      o->conns = static_cast<uint32_t>(*n);
    } else if (a == "--messages") {
      auto n = number(1, 1000000000);
      if (!n) return false;
      o->messages = static_cast<uint32_t>(*n);
    } else if (a == "--size") {
      auto n = number(1, 64u << 20);
      if (!n) return false;
      o->size = static_cast<std::size_t>(*n);
    } else {
      std::fprintf(stderr, "echo: unknown option '%s'\n", argv[i]);
      return false;
    }
  }
  if (o->mode == "client" && !o->port) {
    std::fprintf(stderr, "echo: client needs --port\n");
    return false;
  }
  return true;
}

// Pins the calling thread when the CPU exists; a machine without it runs unpinned.
void try_pin(unsigned cpu, const char* who) {
  if (auto r = pin_current_thread(cpu); !r)
    std::fprintf(stderr, "echo %s: not pinned to CPU %u (%s)\n", who, cpu, to_string(r.error()));
}

std::unique_ptr<Runtime> make_runtime(bool busy, const char* who) {
  RuntimeConfig cfg;
  cfg.idle = busy ? IdlePolicy::busy_poll() : IdlePolicy::park();
  cfg.require_io_uring = true;  // the I/O runs on the ring: without one every operation fails
  auto r = Runtime::make(std::move(cfg));
  if (!r) {
    std::fprintf(stderr, "echo %s: cannot start a runtime: %s (%s)\n", who, to_string(r.error()),
                 std::strerror(r.error().errno_value));
    return nullptr;
  }
  return std::move(*r);
}

// ---------------------------------------------------------------- server

struct ServerStats {  // the server's thread only
  uint64_t accepted = 0;
  uint64_t bytes = 0;
  bool failed = false;
};

Task<void> echo_conn(TcpStream s, ServerStats* stats) {
  std::vector<std::byte> buf(64 * 1024);
  for (;;) {
    auto r = co_await s.recv(buf);
    if (!r) {
      if (!r.error().is_eof())
        std::fprintf(stderr, "echo server: %s: recv: %s\n", s.peer_address().to_string().c_str(),
                     to_string(r.error()));
      co_return;
    }
    auto w = co_await s.send_all(std::span<const std::byte>(buf.data(), *r));
    if (!w) {
      std::fprintf(stderr, "echo server: %s: send: %s\n", s.peer_address().to_string().c_str(),
                   to_string(w.error()));
      co_return;
    }
    stats->bytes += *r;
  }
}

Task<void> close_on_stop(TcpListener* l, Notify* stop) {
  co_await stop->wait();
  l->close();  // the waiting accept() gets ECANCELED
}

// Accepts until the listener is closed (stop) or fails for good, then aborts the connections
// still open: each one's pending receive or send is cancelled and waited for, its socket closed.
Task<void> serve(TcpListener* l, Notify* stop, ServerStats* stats) {
  Runtime* rt = Runtime::current();
  auto watcher = rt->spawn(close_on_stop(l, stop));
  std::vector<JoinHandle<void>> conns;
  for (;;) {
    auto c = co_await l->accept();
    if (!c) {
      if (c.error().is_cancelled()) break;  // stop: the listener was closed
      std::fprintf(stderr, "echo server: accept: %s\n", to_string(c.error()));
      const int e = c.error().errno_value;
      if (e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS) {
        co_await sleep_for(10ms);  // out of descriptors or memory for now: keep serving
        continue;
      }
      stats->failed = true;
      break;
    }
    (void)c->set_nodelay();  // accepted sockets keep Nagle on; an echo should go out at once
    ++stats->accepted;
    // Handles of finished connections go (not a hot path: once per accept).
    std::erase_if(conns, [](const JoinHandle<void>& h) { return h.is_finished(); });
    conns.push_back(rt->spawn(echo_conn(std::move(*c), stats)));
  }
  for (auto& h : conns) h.abort();
  watcher.abort();  // still waiting for stop when accept failed for good
}

// Runs the server on the calling thread until `stop` is notified. `port_out` (if given) gets
// the port once listening, or 0 when the server could not start. Returns the exit status.
int run_server(const Options& o, Notify* stop, std::promise<uint16_t>* port_out) {
  auto fail = [port_out](int rc) {
    if (port_out != nullptr) port_out->set_value(0);
    return rc;
  };
  try_pin(kServerCpu, "server");
  auto rt = make_runtime(o.busy, "server");
  if (!rt) return fail(1);
  auto at = SocketAddress::parse(o.host, o.port.value_or(0));
  if (!at) {
    std::fprintf(stderr, "echo server: '%s' is not an IP address\n", o.host.c_str());
    return fail(2);
  }
  auto l = TcpListener::bind(*at);
  if (!l) {
    std::fprintf(stderr, "echo server: bind %s: %s\n", at->to_string().c_str(),
                 to_string(l.error()));
    return fail(1);
  }
  std::printf("echo server: listening on %s (%s)\n", l->local_address().to_string().c_str(),
              o.busy ? "busy_poll" : "park");
  std::fflush(stdout);
  if (port_out != nullptr) port_out->set_value(l->local_address().port());
  ServerStats stats;
  rt->block_on(serve(&*l, stop, &stats));
  std::printf("echo server: %llu connections, %llu bytes echoed\n",
              static_cast<unsigned long long>(stats.accepted),
              static_cast<unsigned long long>(stats.bytes));
  return stats.failed ? 1 : 0;
}

// ---------------------------------------------------------------- client

struct ClientStats {  // the client's thread only
  LatencyHistogram rtt_ns;
  uint64_t messages = 0;
  bool failed = false;
};

// A pattern unique to the connection and the message, so a misplaced echo is caught.
void fill(std::vector<std::byte>& out, uint32_t conn, uint32_t msg) {
  uint32_t x = conn * 2654435761u ^ msg * 40503u;
  for (auto& b : out) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::byte>(x >> 24);
  }
}

Task<bool> send_task(TcpStream* s, std::span<const std::byte> out) {
  auto w = co_await s->send_all(out);
  if (!w) std::fprintf(stderr, "echo client: send: %s\n", to_string(w.error()));
  co_return static_cast<bool>(w);
}

Task<void> client_conn(SocketAddress at, const Options* o, uint32_t id, ClientStats* cs) {
  auto c = co_await TcpStream::connect(at, 5s);
  if (!c) {
    std::fprintf(stderr, "echo client: connect to %s: %s\n", at.to_string().c_str(),
                 to_string(c.error()));
    cs->failed = true;
    co_return;
  }
  TcpStream s = std::move(*c);
  std::vector<std::byte> out(o->size);
  std::vector<std::byte> in(o->size);
  for (uint32_t i = 0; i < o->messages && !cs->failed; ++i) {
    fill(out, id, i);
    const auto t0 = SteadyClock::now();
    bool sent = true;
    Result<void, IoError> got{};
    if (o->size <= kSequentialMax) {
      auto w = co_await s.send_all(out);
      if (!w) std::fprintf(stderr, "echo client: send: %s\n", to_string(w.error()));
      sent = static_cast<bool>(w);
      if (sent) got = co_await s.recv_exact(in);
    } else {
      auto sender = Runtime::current()->spawn(send_task(&s, out));
      got = co_await s.recv_exact(in);
      if (!got) sender.abort();  // the echo will not come: stop sending too
      auto r = co_await sender;
      sent = r && *r;
    }
    if (!got) {
      std::fprintf(stderr, "echo client: recv: %s\n", to_string(got.error()));
      cs->failed = true;
      break;
    }
    if (!sent) {  // the send's error was printed where it happened
      cs->failed = true;
      break;
    }
    cs->rtt_ns.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - t0).count()));
    if (in != out) {
      std::fprintf(stderr, "echo client: connection %u message %u: the echo differs\n", id, i);
      cs->failed = true;
      break;
    }
    ++cs->messages;
  }
}

Task<void> run_clients(SocketAddress at, const Options* o, ClientStats* cs) {
  std::vector<JoinHandle<void>> hs;
  hs.reserve(o->conns);
  for (uint32_t i = 0; i < o->conns; ++i)
    hs.push_back(Runtime::current()->spawn(client_conn(at, o, i, cs)));
  for (auto& h : hs) (void)co_await h;
}

int run_client(const Options& o, uint16_t port) {
  try_pin(kClientCpu, "client");
  auto at = SocketAddress::parse(o.host, port);
  if (!at) {
    std::fprintf(stderr, "echo client: '%s' is not an IP address\n", o.host.c_str());
    return 2;
  }
  auto rt = make_runtime(o.busy, "client");
  if (!rt) return 1;
  std::printf("echo client: %u connections x %u messages x %zu B to %s (%s)\n", o.conns, o.messages,
              o.size, at->to_string().c_str(), o.busy ? "busy_poll" : "park");
  auto cs = std::make_unique<ClientStats>();
  const auto t0 = SteadyClock::now();
  rt->block_on(run_clients(*at, &o, cs.get()));
  const double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  const auto us = [&](double q) { return static_cast<double>(cs->rtt_ns.percentile(q)) / 1e3; };
  if (cs->messages > 0)
    std::printf("  %llu messages in %.3f s: %.0f messages/s, %.1f MB/s each way\n",
                static_cast<unsigned long long>(cs->messages), secs,
                static_cast<double>(cs->messages) / secs,
                static_cast<double>(cs->messages) * static_cast<double>(o.size) / secs / 1e6);
  if (cs->rtt_ns.count() > 0)
    std::printf("  round trip (us): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", us(0.5),
                us(0.9), us(0.99), us(0.999), static_cast<double>(cs->rtt_ns.max()) / 1e3);
  const uint64_t want = uint64_t{o.conns} * o.messages;
  if (cs->failed || cs->messages != want) {
    std::fprintf(stderr, "echo client: FAILED (%llu of %llu messages echoed)\n",
                 static_cast<unsigned long long>(cs->messages),
                 static_cast<unsigned long long>(want));
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------- modes

Notify g_stop;  // static storage: the signal thread may touch it while main returns

int server_mode(const Options& o) {
  // SIGINT/SIGTERM go to a thread of their own (blocked everywhere else, so they queue for it),
  // which wakes the runtime through the Notify: nothing runs in a signal handler.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (int e = pthread_sigmask(SIG_BLOCK, &set, nullptr); e != 0) {
    std::fprintf(stderr, "echo server: pthread_sigmask: %s\n", std::strerror(e));
    return 1;
  }
  std::thread([set] {
    int sig = 0;
    if (sigwait(&set, &sig) == 0) g_stop.notify();
  }).detach();  // a server that fails ends the process with this thread still waiting
  return run_server(o, &g_stop, nullptr);
}

int demo_mode(Options o) {
  o.conns = 8;
  o.messages = 5000;
  o.size = 64;
  o.host = "127.0.0.1";
  o.port = 0;
  std::printf("echo demo: server and client in one process, on two threads\n");
  std::promise<uint16_t> port_promise;
  auto port_future = port_promise.get_future();
  Notify stop;
  int server_rc = 0;
  std::thread server(
      [&o, &stop, &port_promise, &server_rc] { server_rc = run_server(o, &stop, &port_promise); });
  const uint16_t port = port_future.get();
  int client_rc = 1;
  if (port != 0) {
    client_rc = run_client(o, port);
    if (client_rc == 0) {  // and once more with messages larger than the socket buffers
      Options big = o;
      big.conns = 2;
      big.messages = 20;
      big.size = 1 << 20;
      client_rc = run_client(big, port);
    }
  }
  stop.notify();
  server.join();
  return client_rc != 0 ? client_rc : server_rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, &o)) {
    usage(stderr);
    return 2;
  }
  if (o.mode == "server") return server_mode(o);
  if (o.mode == "client") return run_client(o, *o.port);
  return demo_mode(o);
}
