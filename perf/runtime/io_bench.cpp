// sluice_io_bench: network and file I/O on the runtime's io_uring ring (runtime/io.hpp) against
// the plain-socket floor and the peers a trading process would otherwise use, in one binary.
// Names are fixed so results can be compared over time (perf/RESULTS.md).
//
// Threads and pinning. Every network benchmark runs a client and a server, each on its own
// std::thread: the client (the load generator) pinned to CPU 0, the server to CPU 1. The timed
// loop runs on the client thread; the benchmark thread only sets up, waits, and tears down
// (stop the server, join both). Setup (runtimes, listeners, connections) is outside the timed
// loop. Cross-thread benchmarks report real time (UseRealTime: "/real_time" in the names).
//
// Round trips: one 64-byte message there and back per iteration, over one loopback connection.
// Per-iteration time is one round trip; p50_ns / p99_ns are the same round trips taken one by one
// (two steady_clock reads each, included in the time; LatencyHistogram: within 1/16).
//  BM_tcp_echo_rtt_64           sluice on both sides, IdlePolicy::busy_poll: send + recv on the
//                               ring, each runtime polling its ring (one enter per loop turn).
//  BM_tcp_echo_rtt_64_park      the same with IdlePolicy::park: each side sleeps in the kernel
//                               until its completion arrives.
//  BM_tcp_echo_rtt_64_coop      busy_poll on an IoSetup::CoopTaskrun ring, and
//  BM_tcp_echo_rtt_64_plain     on an IoSetup::Plain ring: the ring setups compared.
//  BM_tcp_echo_rtt_64_spin      plain non-blocking sockets, both sides spinning on
//                               recv(MSG_DONTWAIT): the floor. Nobody sleeps and there is no
//                               ring, so this is what the kernel's loopback path costs; the
//                               busy-polling runtime does the same work through the ring.
//  BM_tcp_echo_rtt_64_blocking  blocking sockets, one thread per side: the classic design, each
//                               message a scheduler wake-up. The park variant's natural peer.
//  BM_tcp_echo_rtt_64_asio      Asio 1.22 C++20 coroutines (awaitable/co_spawn), one io_context
//                               per side, io_context::run() on the pinned thread: run() sleeps
//                               in epoll_wait when idle, so this is the park-equivalent peer.
//  BM_tcp_echo_rtt_64_asio_poll the same driven by io_context::poll() in a spin loop (a
//                               non-blocking epoll_wait per turn): the busy-poll-equivalent peer.
//  BM_udp_echo_rtt_64*          the same six over UDP. sluice: the server uses recv_from +
//                               send_to (unconnected), the client a connected socket's send +
//                               recv. The peers mirror that with recvfrom/sendto and send/recv.
//
// Throughput: 256 loopback connections; a load client on CPU 0 keeps one 64-byte message in
// flight on every connection (the next goes as soon as its echo is back, checked) and counts
// echoes; each iteration is 1024 echoes; items_per_second is messages echoed per second. The
// load client is the same for every server (plain epoll, level-triggered, epoll_wait blocking),
// so only the server on CPU 1 differs:
//  BM_tcp_echo_throughput_256conn            sluice (busy_poll): TcpListener::accept and a task
//                                            per connection doing recv + send_all.
//  BM_tcp_echo_throughput_256conn_multishot  sluice, a RecvStream per connection drawing from one
//                                            BufferRing (multishot receive) + send_all.
//  BM_tcp_echo_throughput_256conn_epoll      a plain epoll echo server written straightforwardly
//                                            (level-triggered, non-blocking, recv + send): what
//                                            one thread does with the readiness model and no
//                                            library, the bar the ring has to clear.
//  BM_tcp_echo_throughput_256conn_asio       Asio coroutine echo server (run()): the library
//                                            peer, readiness model plus a coroutine per
//                                            connection, the same shape as sluice's.
//
// Files (benchmark thread, no pinning):
//  BM_file_append_throughput/N        sluice File opened O_WRONLY|O_CREAT|O_TRUNC|O_APPEND in a
//                                     temp dir under /tmp, one append() of N bytes per
//                                     iteration (park runtime), bytes_per_second.
//  BM_file_append_throughput_busy/N   the same on a busy_poll runtime. A buffered append that
//                                     the file system cannot do without blocking (ext4 here)
//                                     goes to an io-wq worker thread; a runtime spinning on the
//                                     same few CPUs competes with that worker (2-vCPU VM:
//                                     several times slower than park).
//  BM_file_append_throughput_write/N  write(2) of N bytes on the same kind of file: the floor of
//                                     a thread that may block on the disk, which the ring's
//                                     version pays a submission, a completion and a task switch
//                                     to avoid. Both write into the page cache (no fsync); the
//                                     file is truncated every 256 MiB, outside the timing.
//
// A benchmark that cannot run here (io_uring refused, a CPU missing) is skipped with the reason.
#include <benchmark/benchmark.h>

#include <sluice/runtime/io.hpp>
#include <sluice/runtime/latency.hpp>
#include <sluice/sluice.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include "../common/bench_common.hpp"

using namespace sluice;
using namespace sluice::io;

namespace {

using SteadyClock = std::chrono::steady_clock;
using asio::ip::tcp;
using asio::ip::udp;
constexpr auto kAsioTuple = asio::experimental::as_tuple(asio::use_awaitable);

constexpr std::size_t kMsg = 64;                  // bytes per message
constexpr unsigned kClientCpu = 0;                // the client / load generator
constexpr unsigned kServerCpu = 1;                // the server
constexpr int kThroughputConns = 256;             // connections in the throughput benchmarks
constexpr uint64_t kBatch = 1024;                 // echoes per throughput iteration
constexpr auto kStall = std::chrono::seconds(5);  // a client that sees nothing this long fails

// ---------------------------------------------------------------- shared pieces

std::string errno_text(const char* what, int e) {
  return std::string(what) + ": " + std::strerror(e);
}
std::string io_text(const char* what, const IoError& e) {
  return std::string(what) + ": " + to_string(e);
}

// The ring setup every runtime below gets: Auto (DeferTaskrun here) except in the *_coop and
// *_plain round trips, which compare the setups in the same binary (docs/io.md, "The ring").
IoSetup g_setup = IoSetup::Auto;

// A runtime that must have its ring (a benchmark of the ring without one measures nothing).
std::unique_ptr<Runtime> make_runtime(IdlePolicy p, std::string* why) {
  RuntimeConfig cfg;
  cfg.idle = p;
  cfg.io_setup = g_setup;
  cfg.require_io_uring = true;
  auto r = Runtime::make(std::move(cfg));
  if (!r) {
    *why = std::string("Runtime::make: ") + to_string(r.error()) + " (" +
           std::strerror(r.error().errno_value) + ")";
    return nullptr;
  }
  return std::move(*r);
}

// One message: a sequence number in the first 8 bytes, so a stale or mixed-up echo is caught.
struct Msg {
  std::array<std::byte, kMsg> out{};
  std::array<std::byte, kMsg> in{};
  uint64_t seq = 0;
  void next() noexcept {
    ++seq;
    std::memcpy(out.data(), &seq, sizeof seq);
  }
  bool echoed() const noexcept { return std::memcmp(in.data(), out.data(), kMsg) == 0; }
};

// Round-trip times of the client thread; reported as counters once the loop is done.
class RttStats {
 public:
  void add(SteadyClock::time_point t0) noexcept {
    h_.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - t0).count()));
  }
  void report(benchmark::State& st) const {
    if (h_.count() == 0) return;
    st.counters["p50_ns"] = static_cast<double>(h_.percentile(0.50));
    st.counters["p99_ns"] = static_cast<double>(h_.percentile(0.99));
  }

 private:
  LatencyHistogram h_;
};

// Server -> benchmark thread: listening on a port, or failed. Setup only, so a mutex is fine.
class Gate {
 public:
  void ready(uint16_t port) { set(port, {}); }
  void fail(std::string why) { set(0, std::move(why)); }
  // Blocks until ready() or fail(); returns the failure ("" when ready).
  std::string wait(uint16_t* port) {
    std::unique_lock lk(m_);
    cv_.wait(lk, [this] { return done_; });
    *port = port_;
    return err_;
  }

 private:
  void set(uint16_t port, std::string why) {
    {
      std::lock_guard lk(m_);
      if (done_) return;  // the first word counts
      done_ = true;
      port_ = port;
      err_ = std::move(why);
    }
    cv_.notify_all();
  }
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  uint16_t port_ = 0;
  std::string err_;
};

// An echo server run on CPU 1 by run_echo.
class EchoServer {
 public:
  virtual ~EchoServer() = default;
  // Server thread: set up, call gate.ready(port) or gate.fail(why), then serve until the
  // client's connections end or stop() is called.
  virtual void run(Gate& gate) = 0;
  // Benchmark thread, after the client thread ended (its sockets are closed): make run() return.
  // Also called when run() failed or never started: harmless then.
  virtual void stop(uint16_t port) = 0;
  std::string error;  // a failure after ready(): written by run(), read after the join
};

// Starts `srv` on CPU 1, runs `client(state, port)` on CPU 0, then stops and joins both.
template <class Client>
void run_echo(benchmark::State& st, EchoServer& srv, Client client) {
  Gate gate;
  std::thread server([s = &srv, g = &gate] {
    if (auto r = pin_current_thread(kServerCpu); !r)
      g->fail("pin server to CPU " + std::to_string(kServerCpu) + ": " + to_string(r.error()));
    else
      s->run(*g);
    g->fail("server ended before it listened");  // no-op when it did
  });
  uint16_t port = 0;
  const std::string setup_error = gate.wait(&port);
  if (setup_error.empty()) {
    std::thread c([st = &st, port, cl = &client] {
      if (bench::pin_or_skip(*st, kClientCpu)) (*cl)(*st, port);
    });
    c.join();
  }
  srv.stop(port);
  server.join();
  if (!setup_error.empty())
    st.SkipWithError(setup_error.c_str());
  else if (!srv.error.empty() && !st.error_occurred())
    st.SkipWithError(srv.error.c_str());
}

// ---- plain sockets

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A socket of `type` bound to 127.0.0.1 on a free port (listening, for TCP).
OwnedFd plain_bind(int type, bool nonblock, uint16_t* port, std::string* why) {
  OwnedFd fd(::socket(AF_INET, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0));
  if (!fd.valid()) {
    *why = errno_text("socket", errno);
    return {};
  }
  sockaddr_in a = loopback(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    *why = errno_text("bind", errno);
    return {};
  }
  if (type == SOCK_STREAM && ::listen(fd.get(), 4096) != 0) {
    *why = errno_text("listen", errno);
    return {};
  }
  socklen_t n = sizeof a;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &n) != 0) {
    *why = errno_text("getsockname", errno);
    return {};
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// A blocking connect to 127.0.0.1:port, Nagle off.
OwnedFd plain_connect_tcp(uint16_t port, std::string* why) {
  OwnedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    *why = errno_text("socket", errno);
    return {};
  }
  sockaddr_in a = loopback(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    *why = errno_text("connect", errno);
    return {};
  }
  (void)set_nodelay(fd.get());
  return fd;
}

bool set_nonblocking(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  return fl >= 0 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

// A client that hears nothing for kStall gives up instead of hanging the run.
void set_recv_timeout(int fd) {
  timeval tv{};
  tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kStall).count();
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// Every byte; a non-blocking socket whose buffer is full is retried at once (64-byte messages
// one at a time never fill it).
bool plain_send_all(int fd, const std::byte* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Exactly n bytes. spin: recv(MSG_DONTWAIT) until they are there, giving up after kStall.
std::string plain_recv_exact(int fd, std::byte* p, std::size_t n, bool spin) {
  uint32_t spins = 0;
  const auto start = SteadyClock::now();
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, spin ? MSG_DONTWAIT : 0);
    if (r > 0) {
      p += r;
      n -= static_cast<std::size_t>(r);
    } else if (r == 0) {
      return "recv: end of stream";
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!spin) return "recv: timed out";  // SO_RCVTIMEO
      if ((++spins & 0xFFFF) == 0 && SteadyClock::now() - start > kStall)
        return "recv: nothing for 5 s";
    } else if (errno != EINTR) {
      return errno_text("recv", errno);
    }
  }
  return {};
}

// One empty datagram: how every UDP echo server here is told to stop.
void send_stop_datagram(uint16_t port) {
  OwnedFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || port == 0) return;
  sockaddr_in a = loopback(port);
  (void)::sendto(fd.get(), nullptr, 0, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
}

// ---- Asio

// run(): sleeps in epoll_wait when idle (park-equivalent). poll() in a loop: a non-blocking
// epoll_wait per turn, never sleeping (busy-poll-equivalent). Both end when the context has no
// work left or is stopped.
void drive(asio::io_context& ctx, bool poll) {
  if (!poll) {
    ctx.run();
    return;
  }
  while (!ctx.stopped()) ctx.poll();
}

// ---------------------------------------------------------------- TCP echo servers

// ---- sluice

Task<void> sluice_echo_conn(TcpStream s) {
  std::vector<std::byte> buf(2048);
  for (;;) {
    auto r = co_await s.recv(buf);
    if (!r) co_return;  // end of stream (or a reset): the client is done
    auto w = co_await s.send_all(std::span<const std::byte>(buf.data(), *r));
    if (!w) co_return;
  }
}

Task<void> sluice_echo_conn_multishot(TcpStream s, BufferRing* br) {
  auto rs = RecvStream::make(s.fd(), *br);  // destroyed before s: the socket outlives it
  if (!rs) co_return;
  for (;;) {
    auto lease = co_await rs->next();
    if (!lease) co_return;
    auto w = co_await s.send_all(lease->data());
    if (!w) co_return;
  }  // each lease goes back to the ring at the end of its iteration
}

Task<void> close_on_stop(TcpListener* l, Notify* stop) {
  co_await stop->wait();
  l->close();  // a waiting accept() gets ECANCELED
}

Task<void> sluice_tcp_serve(TcpListener* l, int conns, Notify* stop, BufferRing* br,
                            std::string* error) {
  Runtime* rt = Runtime::current();
  auto watcher = rt->spawn(close_on_stop(l, stop));
  std::vector<JoinHandle<void>> hs;
  hs.reserve(static_cast<std::size_t>(conns));
  for (int i = 0; i < conns; ++i) {
    auto c = co_await l->accept();
    if (!c) {
      if (!c.error().is_cancelled()) {
        *error = io_text("accept", c.error());
        l->close();  // connections queued but not accepted are reset: the client sees it
      }
      break;
    }
    (void)c->set_nodelay();  // accepted sockets keep Nagle on; connect() turns it off
    if (br != nullptr)
      hs.push_back(rt->spawn(sluice_echo_conn_multishot(std::move(*c), br)));
    else
      hs.push_back(rt->spawn(sluice_echo_conn(std::move(*c))));
  }
  for (auto& h : hs) (void)co_await h;
  (void)co_await watcher;  // returns once the harness calls stop()
}

// Inside a task of the runtime that uses it, on its thread, as buffer_ring.hpp asks.
Task<Result<std::unique_ptr<BufferRing>, IoError>> make_buffer_ring(Runtime* rt) {
  co_return BufferRing::make(*rt, 1024, 2048, /*group=*/1);
}

class SluiceTcpServer final : public EchoServer {
 public:
  SluiceTcpServer(IdlePolicy p, int conns, bool multishot)
      : policy_(p), conns_(conns), multishot_(multishot) {}
  void run(Gate& gate) override {
    std::string why;
    auto rt = make_runtime(policy_, &why);
    if (!rt) return gate.fail(why);
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    if (!l) return gate.fail(io_text("bind", l.error()));
    std::unique_ptr<BufferRing> br;  // declared after rt and l: destroyed before them
    if (multishot_) {
      auto made = rt->block_on(make_buffer_ring(rt.get()));
      if (!made) return gate.fail(io_text("BufferRing::make", made.error()));
      br = std::move(*made);
    }
    gate.ready(l->local_address().port());
    rt->block_on(sluice_tcp_serve(&*l, conns_, &stop_, br.get(), &error));
  }
  void stop(uint16_t) override { stop_.notify(); }

 private:
  IdlePolicy policy_;
  int conns_;
  bool multishot_;
  Notify stop_;
};

// ---- plain sockets: one connection, spinning or blocking

class PlainTcpServer final : public EchoServer {
 public:
  explicit PlainTcpServer(bool spin) : spin_(spin) {}
  void run(Gate& gate) override {
    std::string why;
    uint16_t port = 0;
    listener_ = plain_bind(SOCK_STREAM, false, &port, &why);  // published to stop() by the gate
    if (!listener_.valid()) return gate.fail(why);
    gate.ready(port);
    OwnedFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c.valid()) return;  // stop() shut the listener down: no client came
    (void)set_nodelay(c.get());
    if (spin_ && !set_nonblocking(c.get())) {
      error = errno_text("fcntl", errno);
      return;
    }
    std::array<std::byte, 2048> buf;
    for (;;) {
      const ssize_t r = ::recv(c.get(), buf.data(), buf.size(), spin_ ? MSG_DONTWAIT : 0);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (r <= 0) return;  // end of stream: the client is done
      if (!plain_send_all(c.get(), buf.data(), static_cast<std::size_t>(r))) return;
    }
  }
  // Wakes an accept that no client will answer; the connection itself ends with the client's.
  void stop(uint16_t) override {
    if (listener_.valid()) (void)::shutdown(listener_.get(), SHUT_RDWR);
  }

 private:
  bool spin_;
  OwnedFd listener_;  // closed with the server object, after the join
};

// ---- Asio

asio::awaitable<void> asio_echo_conn(tcp::socket s) {
  std::array<char, 2048> buf;
  for (;;) {
    auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), kAsioTuple);
    if (rec) co_return;  // eof or reset: the client is done
    auto [wec, m] = co_await asio::async_write(s, asio::buffer(buf.data(), n), kAsioTuple);
    (void)m;
    if (wec) co_return;
  }
}

asio::awaitable<void> asio_accept_loop(tcp::acceptor* acc, int conns) {
  for (int i = 0; i < conns; ++i) {
    auto [ec, s] = co_await acc->async_accept(kAsioTuple);
    if (ec) co_return;
    asio::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(acc->get_executor(), asio_echo_conn(std::move(s)), asio::detached);
  }
}

class AsioTcpServer final : public EchoServer {
 public:
  AsioTcpServer(int conns, bool poll) : conns_(conns), poll_(poll) {}
  void run(Gate& gate) override {
    asio::error_code ec;
    tcp::acceptor acc(ctx_);
    const tcp::endpoint at(asio::ip::address_v4::loopback(), 0);
    acc.open(at.protocol(), ec);
    if (!ec) acc.bind(at, ec);
    if (!ec) acc.listen(4096, ec);
    if (ec) return gate.fail("asio acceptor: " + ec.message());
    gate.ready(acc.local_endpoint().port());
    asio::co_spawn(ctx_, asio_accept_loop(&acc, conns_), asio::detached);
    drive(ctx_, poll_);
  }
  void stop(uint16_t) override { ctx_.stop(); }  // thread-safe; frames left go with ctx_

 private:
  asio::io_context ctx_{1};
  int conns_;
  bool poll_;
};

// ---- plain epoll: level-triggered, non-blocking, one thread

class EpollTcpServer final : public EchoServer {
 public:
  EpollTcpServer() : stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  void run(Gate& gate) override {
    if (!stop_fd_.valid()) return gate.fail(errno_text("eventfd", errno));
    std::string why;
    uint16_t port = 0;
    OwnedFd l = plain_bind(SOCK_STREAM, true, &port, &why);
    if (!l.valid()) return gate.fail(why);
    OwnedFd ep(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep.valid()) return gate.fail(errno_text("epoll_create1", errno));
    if (!watch(ep.get(), l.get()) || !watch(ep.get(), stop_fd_.get()))
      return gate.fail(errno_text("epoll_ctl", errno));
    gate.ready(port);
    std::vector<OwnedFd> conns;  // by fd number: closed when served or when run() ends
    std::array<std::byte, 2048> buf;
    std::array<epoll_event, 512> evs;
    for (;;) {
      const int k = ::epoll_wait(ep.get(), evs.data(), static_cast<int>(evs.size()), -1);
      if (k < 0) {
        if (errno == EINTR) continue;
        error = errno_text("epoll_wait", errno);
        return;
      }
      for (int i = 0; i < k; ++i) {
        const int fd = evs[static_cast<std::size_t>(i)].data.fd;
        if (fd == stop_fd_.get()) return;
        if (fd == l.get()) {
          for (;;) {
            const int c = ::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c < 0) break;  // EAGAIN: all taken
            (void)set_nodelay(c);
            if (conns.size() <= static_cast<std::size_t>(c))
              conns.resize(static_cast<std::size_t>(c) + 1);
            conns[static_cast<std::size_t>(c)].reset(c);
            if (!watch(ep.get(), c)) conns[static_cast<std::size_t>(c)].reset();
          }
          continue;
        }
        const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
        if (r > 0 && plain_send_all(fd, buf.data(), static_cast<std::size_t>(r))) continue;
        (void)::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);  // end of stream, or an error
        conns[static_cast<std::size_t>(fd)].reset();
      }
    }
  }
  void stop(uint16_t) override {
    const uint64_t one = 1;
    if (stop_fd_.valid()) (void)!::write(stop_fd_.get(), &one, sizeof one);
  }

 private:
  static bool watch(int ep, int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
  }
  OwnedFd stop_fd_;
};

// ---------------------------------------------------------------- TCP round trip clients

Task<void> sluice_tcp_rtt_client(benchmark::State* st, uint16_t port, RttStats* stats) {
  auto c = co_await TcpStream::connect(SocketAddress::loopback_v4(port), std::chrono::seconds(5));
  if (!c) {
    st->SkipWithError(io_text("connect", c.error()).c_str());
    co_return;
  }
  TcpStream s = std::move(*c);
  Msg m;
  for (auto _ : *st) {
    const auto t0 = SteadyClock::now();
    m.next();
    const char* failed = nullptr;
    IoError e{};
    std::span<const std::byte> out(m.out);
    while (!out.empty()) {
      auto w = co_await s.send(out);
      if (!w) {
        failed = "send";
        e = w.error();
        break;
      }
      out = out.subspan(*w);
    }
    for (std::size_t got = 0; failed == nullptr && got < kMsg;) {
      auto r = co_await s.recv(std::span<std::byte>(m.in).subspan(got));
      if (!r) {
        failed = "recv";
        e = r.error();
        break;
      }
      got += *r;
    }
    if (failed != nullptr) {
      st->SkipWithError(io_text(failed, e).c_str());
      break;
    }
    if (!m.echoed()) {
      st->SkipWithError("the echo differs from the message");
      break;
    }
    stats->add(t0);
  }
}

void sluice_tcp_rtt(benchmark::State& st, IdlePolicy p) {
  SluiceTcpServer srv(p, 1, false);
  run_echo(st, srv, [p](benchmark::State& st, uint16_t port) {
    std::string why;
    auto rt = make_runtime(p, &why);
    if (!rt) return st.SkipWithError(why.c_str());
    RttStats stats;
    const uint64_t e0 = rt->counters().io_enters;
    rt->block_on(sluice_tcp_rtt_client(&st, port, &stats));
    stats.report(st);
    // Where the time goes: the client's io_uring_enter calls per round trip.
    st.counters["client_enters_per_rtt"] =
        static_cast<double>(rt->counters().io_enters - e0) /
        static_cast<double>(st.iterations() > 0 ? st.iterations() : 1);
  });
}

void plain_tcp_rtt(benchmark::State& st, bool spin) {
  PlainTcpServer srv(spin);
  run_echo(st, srv, [spin](benchmark::State& st, uint16_t port) {
    std::string why;
    OwnedFd fd = plain_connect_tcp(port, &why);
    if (!fd.valid()) return st.SkipWithError(why.c_str());
    if (spin && !set_nonblocking(fd.get()))
      return st.SkipWithError(errno_text("fcntl", errno).c_str());
    if (!spin) set_recv_timeout(fd.get());
    RttStats stats;
    Msg m;
    for (auto _ : st) {
      const auto t0 = SteadyClock::now();
      m.next();
      if (!plain_send_all(fd.get(), m.out.data(), kMsg)) {
        st.SkipWithError(errno_text("send", errno).c_str());
        break;
      }
      if (auto e = plain_recv_exact(fd.get(), m.in.data(), kMsg, spin); !e.empty()) {
        st.SkipWithError(e.c_str());
        break;
      }
      if (!m.echoed()) {
        st.SkipWithError("the echo differs from the message");
        break;
      }
      stats.add(t0);
    }
    stats.report(st);
  });
}

asio::awaitable<void> asio_tcp_rtt_client(benchmark::State* st, uint16_t port, RttStats* stats) {
  tcp::socket s(co_await asio::this_coro::executor);
  const tcp::endpoint at(asio::ip::address_v4::loopback(), port);
  auto [cec] = co_await s.async_connect(at, kAsioTuple);
  if (cec) {
    st->SkipWithError(("asio connect: " + cec.message()).c_str());
    co_return;
  }
  asio::error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
  Msg m;
  for (auto _ : *st) {
    const auto t0 = SteadyClock::now();
    m.next();
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(m.out), kAsioTuple);
    (void)wn;
    if (wec) {
      st->SkipWithError(("asio write: " + wec.message()).c_str());
      break;
    }
    auto [rec, rn] = co_await asio::async_read(s, asio::buffer(m.in), kAsioTuple);
    (void)rn;
    if (rec) {
      st->SkipWithError(("asio read: " + rec.message()).c_str());
      break;
    }
    if (!m.echoed()) {
      st->SkipWithError("the echo differs from the message");
      break;
    }
    stats->add(t0);
  }
}

void asio_tcp_rtt(benchmark::State& st, bool poll) {
  AsioTcpServer srv(1, poll);
  run_echo(st, srv, [poll](benchmark::State& st, uint16_t port) {
    asio::io_context ctx(1);
    RttStats stats;
    asio::co_spawn(ctx, asio_tcp_rtt_client(&st, port, &stats), asio::detached);
    drive(ctx, poll);
    stats.report(st);
  });
}

// ---------------------------------------------------------------- UDP echo servers

Task<void> sluice_udp_serve(UdpSocket* s, std::string* error) {
  std::array<std::byte, 2048> buf;
  for (;;) {
    auto d = co_await s->recv_from(buf);
    if (!d) {
      *error = io_text("recv_from", d.error());
      co_return;
    }
    if (d->size == 0) co_return;  // the harness's stop datagram
    auto w = co_await s->send_to(std::span<const std::byte>(buf.data(), d->size), d->from);
    if (!w) {
      *error = io_text("send_to", w.error());
      co_return;
    }
  }
}

class SluiceUdpServer final : public EchoServer {
 public:
  explicit SluiceUdpServer(IdlePolicy p) : policy_(p) {}
  void run(Gate& gate) override {
    std::string why;
    auto rt = make_runtime(policy_, &why);
    if (!rt) return gate.fail(why);
    auto s = UdpSocket::bind(SocketAddress::loopback_v4(0));
    if (!s) return gate.fail(io_text("bind", s.error()));
    gate.ready(s->local_address().port());
    rt->block_on(sluice_udp_serve(&*s, &error));
  }
  void stop(uint16_t port) override { send_stop_datagram(port); }

 private:
  IdlePolicy policy_;
};

class PlainUdpServer final : public EchoServer {
 public:
  explicit PlainUdpServer(bool spin) : spin_(spin) {}
  void run(Gate& gate) override {
    std::string why;
    uint16_t port = 0;
    OwnedFd s = plain_bind(SOCK_DGRAM, false, &port, &why);
    if (!s.valid()) return gate.fail(why);
    gate.ready(port);
    std::array<std::byte, 2048> buf;
    for (;;) {
      sockaddr_storage from{};
      socklen_t flen = sizeof from;
      const ssize_t r = ::recvfrom(s.get(), buf.data(), buf.size(), spin_ ? MSG_DONTWAIT : 0,
                                   reinterpret_cast<sockaddr*>(&from), &flen);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (r < 0) {
        error = errno_text("recvfrom", errno);
        return;
      }
      if (r == 0) return;  // the stop datagram
      if (::sendto(s.get(), buf.data(), static_cast<std::size_t>(r), MSG_NOSIGNAL,
                   reinterpret_cast<sockaddr*>(&from), flen) < 0) {
        error = errno_text("sendto", errno);
        return;
      }
    }
  }
  void stop(uint16_t port) override { send_stop_datagram(port); }

 private:
  bool spin_;
};

asio::awaitable<void> asio_udp_serve(udp::socket* s, std::string* error) {
  std::array<char, 2048> buf;
  udp::endpoint from;
  for (;;) {
    auto [rec, n] = co_await s->async_receive_from(asio::buffer(buf), from, kAsioTuple);
    if (rec) {
      if (rec != asio::error::operation_aborted) *error = "asio receive_from: " + rec.message();
      co_return;
    }
    if (n == 0) co_return;  // the stop datagram
    auto [wec, m] = co_await s->async_send_to(asio::buffer(buf.data(), n), from, kAsioTuple);
    (void)m;
    if (wec) {
      *error = "asio send_to: " + wec.message();
      co_return;
    }
  }
}

class AsioUdpServer final : public EchoServer {
 public:
  explicit AsioUdpServer(bool poll) : poll_(poll) {}
  void run(Gate& gate) override {
    asio::error_code ec;
    udp::socket s(ctx_);
    const udp::endpoint at(asio::ip::address_v4::loopback(), 0);
    s.open(at.protocol(), ec);
    if (!ec) s.bind(at, ec);
    if (ec) return gate.fail("asio udp socket: " + ec.message());
    gate.ready(s.local_endpoint().port());
    asio::co_spawn(ctx_, asio_udp_serve(&s, &error), asio::detached);
    drive(ctx_, poll_);
  }
  void stop(uint16_t port) override { send_stop_datagram(port); }

 private:
  asio::io_context ctx_{1};
  bool poll_;
};

// ---------------------------------------------------------------- UDP round trip clients

Task<void> sluice_udp_rtt_client(benchmark::State* st, uint16_t port, RttStats* stats) {
  auto s = UdpSocket::bind(SocketAddress::loopback_v4(0));
  if (!s) {
    st->SkipWithError(io_text("bind", s.error()).c_str());
    co_return;
  }
  if (auto c = s->connect(SocketAddress::loopback_v4(port)); !c) {
    st->SkipWithError(io_text("connect", c.error()).c_str());
    co_return;
  }
  Msg m;
  for (auto _ : *st) {
    const auto t0 = SteadyClock::now();
    m.next();
    auto w = co_await s->send(m.out);
    if (!w || *w != kMsg) {
      st->SkipWithError(w ? "send: short datagram" : io_text("send", w.error()).c_str());
      break;
    }
    auto r = co_await s->recv(m.in);
    if (!r || *r != kMsg || !m.echoed()) {
      st->SkipWithError(r ? "the echo differs from the message"
                          : io_text("recv", r.error()).c_str());
      break;
    }
    stats->add(t0);
  }
}

void sluice_udp_rtt(benchmark::State& st, IdlePolicy p) {
  SluiceUdpServer srv(p);
  run_echo(st, srv, [p](benchmark::State& st, uint16_t port) {
    std::string why;
    auto rt = make_runtime(p, &why);
    if (!rt) return st.SkipWithError(why.c_str());
    RttStats stats;
    rt->block_on(sluice_udp_rtt_client(&st, port, &stats));
    stats.report(st);
  });
}

void plain_udp_rtt(benchmark::State& st, bool spin) {
  PlainUdpServer srv(spin);
  run_echo(st, srv, [spin](benchmark::State& st, uint16_t port) {
    std::string why;
    uint16_t mine = 0;
    OwnedFd fd = plain_bind(SOCK_DGRAM, spin, &mine, &why);
    if (!fd.valid()) return st.SkipWithError(why.c_str());
    sockaddr_in to = loopback(port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
      return st.SkipWithError(errno_text("connect", errno).c_str());
    if (!spin) set_recv_timeout(fd.get());
    RttStats stats;
    Msg m;
    for (auto _ : st) {
      const auto t0 = SteadyClock::now();
      m.next();
      if (::send(fd.get(), m.out.data(), kMsg, MSG_NOSIGNAL) != static_cast<ssize_t>(kMsg)) {
        st.SkipWithError(errno_text("send", errno).c_str());
        break;
      }
      if (auto e = plain_recv_exact(fd.get(), m.in.data(), kMsg, spin); !e.empty()) {
        st.SkipWithError(e.c_str());
        break;
      }
      if (!m.echoed()) {
        st.SkipWithError("the echo differs from the message");
        break;
      }
      stats.add(t0);
    }
    stats.report(st);
  });
}

asio::awaitable<void> asio_udp_rtt_client(benchmark::State* st, uint16_t port, RttStats* stats) {
  udp::socket s(co_await asio::this_coro::executor);
  asio::error_code ec;
  const udp::endpoint mine(asio::ip::address_v4::loopback(), 0);
  const udp::endpoint server(asio::ip::address_v4::loopback(), port);
  s.open(mine.protocol(), ec);
  if (!ec) s.bind(mine, ec);
  if (!ec) s.connect(server, ec);
  if (ec) {
    st->SkipWithError(("asio udp socket: " + ec.message()).c_str());
    co_return;
  }
  Msg m;
  for (auto _ : *st) {
    const auto t0 = SteadyClock::now();
    m.next();
    auto [wec, wn] = co_await s.async_send(asio::buffer(m.out), kAsioTuple);
    if (wec || wn != kMsg) {
      st->SkipWithError(("asio send: " + wec.message()).c_str());
      break;
    }
    auto [rec, rn] = co_await s.async_receive(asio::buffer(m.in), kAsioTuple);
    if (rec || rn != kMsg || !m.echoed()) {
      st->SkipWithError(rec ? ("asio receive: " + rec.message()).c_str()
                            : "the echo differs from the message");
      break;
    }
    stats->add(t0);
  }
}

void asio_udp_rtt(benchmark::State& st, bool poll) {
  AsioUdpServer srv(poll);
  run_echo(st, srv, [poll](benchmark::State& st, uint16_t port) {
    asio::io_context ctx(1);
    RttStats stats;
    asio::co_spawn(ctx, asio_udp_rtt_client(&st, port, &stats), asio::detached);
    drive(ctx, poll);
    stats.report(st);
  });
}

// ---------------------------------------------------------------- throughput: the load client

// Plain epoll on CPU 0, the same for every server: one 64-byte message in flight per
// connection, the next sent as soon as the echo of the last is back (checked).
class LoadClient {
 public:
  std::string open(uint16_t port, int n) {
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_.valid()) return errno_text("epoll_create1", errno);
    conns_.resize(static_cast<std::size_t>(n));
    cold_ = conns_.size();
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      std::string why;
      conns_[i].fd = plain_connect_tcp(port, &why);
      if (!conns_[i].fd.valid()) return why;
      if (!set_nonblocking(conns_[i].fd.get())) return errno_text("fcntl", errno);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, conns_[i].fd.get(), &ev) != 0)
        return errno_text("epoll_ctl", errno);
    }
    for (Conn& c : conns_)
      if (!send_next(c)) return errno_text("send", errno);
    return {};
  }
  // Until every connection has had one echo: the server has accepted them all.
  std::string warm_up() {
    while (cold_ > 0)
      if (auto e = pump(1); !e.empty()) return e;
    return {};
  }
  // Until `n` more echoes have come back.
  std::string pump(uint64_t n) {
    const uint64_t target = echoes_ + n;
    auto last = SteadyClock::now();
    while (echoes_ < target) {
      const int k = ::epoll_wait(ep_.get(), evs_.data(), static_cast<int>(evs_.size()), 1000);
      if (k < 0) {
        if (errno == EINTR) continue;
        return errno_text("epoll_wait", errno);
      }
      if (k == 0) {
        if (SteadyClock::now() - last > kStall) return "no echo for 5 s";
        continue;
      }
      last = SteadyClock::now();
      for (int i = 0; i < k; ++i)
        if (auto e = on_readable(conns_[evs_[static_cast<std::size_t>(i)].data.u64]); !e.empty())
          return e;
    }
    return {};
  }
  uint64_t echoes() const noexcept { return echoes_; }

 private:
  struct Conn {
    OwnedFd fd;
    std::size_t got = 0;
    uint8_t seq = 0;
    bool warm = false;
    std::array<std::byte, kMsg> in{};
  };
  bool send_next(Conn& c) {
    std::array<std::byte, kMsg> out;
    out.fill(std::byte{c.seq});
    return plain_send_all(c.fd.get(), out.data(), out.size());
  }
  std::string on_readable(Conn& c) {
    const ssize_t r = ::recv(c.fd.get(), c.in.data() + c.got, kMsg - c.got, 0);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return {};
      return errno_text("recv", errno);
    }
    if (r == 0) return "the server closed a connection";
    c.got += static_cast<std::size_t>(r);
    if (c.got < kMsg) return {};
    if (c.in[0] != std::byte{c.seq} || c.in[kMsg - 1] != std::byte{c.seq})
      return "an echo differs from its message";
    c.got = 0;
    ++c.seq;
    ++echoes_;
    if (!c.warm) {
      c.warm = true;
      --cold_;
    }
    if (!send_next(c)) return errno_text("send", errno);
    return {};
  }
  OwnedFd ep_;
  std::vector<Conn> conns_;
  std::array<epoll_event, 512> evs_{};
  uint64_t echoes_ = 0;
  std::size_t cold_ = 0;  // connections with no echo yet
};

void tcp_throughput(benchmark::State& st, EchoServer& srv) {
  run_echo(st, srv, [](benchmark::State& st, uint16_t port) {
    auto lc = std::make_unique<LoadClient>();
    if (auto e = lc->open(port, kThroughputConns); !e.empty()) return st.SkipWithError(e.c_str());
    if (auto e = lc->warm_up(); !e.empty()) return st.SkipWithError(e.c_str());
    const uint64_t start = lc->echoes();
    for (auto _ : st) {
      if (auto e = lc->pump(kBatch); !e.empty()) {
        st.SkipWithError(e.c_str());
        break;
      }
    }
    st.SetItemsProcessed(static_cast<int64_t>(lc->echoes() - start));
  });  // lc closes every connection here: the server's connections end
}

// ---------------------------------------------------------------- files

constexpr uint64_t kTruncateEvery = uint64_t{256} << 20;

// A fresh directory under /tmp, removed (with the file named by file()) at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sluice_io_bench.XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~TempDir() {
    if (dir_.empty()) return;
    (void)::unlink(file().c_str());
    (void)::rmdir(dir_.c_str());
  }
  bool ok() const noexcept { return !dir_.empty(); }
  std::string file() const { return dir_ + "/append.dat"; }

 private:
  std::string dir_;
};

Task<void> sluice_file_append(benchmark::State* st, const char* path, std::size_t n) {
  auto f = co_await File::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  if (!f) {
    st->SkipWithError(io_text("open", f.error()).c_str());
    co_return;
  }
  std::vector<std::byte> buf(n, std::byte{0x5a});
  uint64_t written = 0;
  for (auto _ : *st) {
    auto w = co_await f->append(buf);
    if (!w || *w != n) {
      st->SkipWithError(w ? "append: short write" : io_text("append", w.error()).c_str());
      break;
    }
    if ((written += n) >= kTruncateEvery) {
      st->PauseTiming();
      if (::ftruncate(f->fd(), 0) != 0) {
        st->SkipWithError(errno_text("ftruncate", errno).c_str());
        break;
      }
      written = 0;
      st->ResumeTiming();
    }
  }
  st->SetBytesProcessed(static_cast<int64_t>(st->iterations()) * static_cast<int64_t>(n));
  (void)co_await f->close();
}

void sluice_file_append_throughput(benchmark::State& st, IdlePolicy p) {
  TempDir dir;
  if (!dir.ok()) return st.SkipWithError(errno_text("mkdtemp", errno).c_str());
  std::string why;
  auto rt = make_runtime(p, &why);
  if (!rt) return st.SkipWithError(why.c_str());
  const std::string path = dir.file();
  rt->block_on(sluice_file_append(&st, path.c_str(), static_cast<std::size_t>(st.range(0))));
}

void BM_file_append_throughput_write(benchmark::State& st) {
  TempDir dir;
  if (!dir.ok()) return st.SkipWithError(errno_text("mkdtemp", errno).c_str());
  const std::string path = dir.file();
  OwnedFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) return st.SkipWithError(errno_text("open", errno).c_str());
  const auto n = static_cast<std::size_t>(st.range(0));
  std::vector<std::byte> buf(n, std::byte{0x5a});
  uint64_t written = 0;
  for (auto _ : st) {
    const ssize_t w = ::write(fd.get(), buf.data(), n);
    if (w != static_cast<ssize_t>(n)) {
      st.SkipWithError(w < 0 ? errno_text("write", errno).c_str() : "write: short write");
      break;
    }
    if ((written += n) >= kTruncateEvery) {
      st.PauseTiming();
      if (::ftruncate(fd.get(), 0) != 0) {
        st.SkipWithError(errno_text("ftruncate", errno).c_str());
        break;
      }
      written = 0;
      st.ResumeTiming();
    }
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(n));
}

// ---------------------------------------------------------------- the benchmarks

void BM_tcp_echo_rtt_64(benchmark::State& st) { sluice_tcp_rtt(st, IdlePolicy::busy_poll()); }
void BM_tcp_echo_rtt_64_park(benchmark::State& st) { sluice_tcp_rtt(st, IdlePolicy::park()); }
// The same busy round trip on a CoopTaskrun ring and on a Plain ring (default flags).
void BM_tcp_echo_rtt_64_coop(benchmark::State& st) {
  g_setup = IoSetup::CoopTaskrun;
  sluice_tcp_rtt(st, IdlePolicy::busy_poll());
  g_setup = IoSetup::Auto;
}
void BM_tcp_echo_rtt_64_plain(benchmark::State& st) {
  g_setup = IoSetup::Plain;
  sluice_tcp_rtt(st, IdlePolicy::busy_poll());
  g_setup = IoSetup::Auto;
}
void BM_tcp_echo_rtt_64_spin(benchmark::State& st) { plain_tcp_rtt(st, true); }
void BM_tcp_echo_rtt_64_blocking(benchmark::State& st) { plain_tcp_rtt(st, false); }
void BM_tcp_echo_rtt_64_asio(benchmark::State& st) { asio_tcp_rtt(st, false); }
void BM_tcp_echo_rtt_64_asio_poll(benchmark::State& st) { asio_tcp_rtt(st, true); }

void BM_udp_echo_rtt_64(benchmark::State& st) { sluice_udp_rtt(st, IdlePolicy::busy_poll()); }
void BM_udp_echo_rtt_64_park(benchmark::State& st) { sluice_udp_rtt(st, IdlePolicy::park()); }
void BM_udp_echo_rtt_64_spin(benchmark::State& st) { plain_udp_rtt(st, true); }
void BM_udp_echo_rtt_64_blocking(benchmark::State& st) { plain_udp_rtt(st, false); }
void BM_udp_echo_rtt_64_asio(benchmark::State& st) { asio_udp_rtt(st, false); }
void BM_udp_echo_rtt_64_asio_poll(benchmark::State& st) { asio_udp_rtt(st, true); }

void BM_file_append_throughput(benchmark::State& st) {
  sluice_file_append_throughput(st, IdlePolicy::park());
}
void BM_file_append_throughput_busy(benchmark::State& st) {
  sluice_file_append_throughput(st, IdlePolicy::busy_poll());
}

void BM_tcp_echo_throughput_256conn(benchmark::State& st) {
  SluiceTcpServer srv(IdlePolicy::busy_poll(), kThroughputConns, false);
  tcp_throughput(st, srv);
}
void BM_tcp_echo_throughput_256conn_multishot(benchmark::State& st) {
  SluiceTcpServer srv(IdlePolicy::busy_poll(), kThroughputConns, true);
  tcp_throughput(st, srv);
}
void BM_tcp_echo_throughput_256conn_epoll(benchmark::State& st) {
  EpollTcpServer srv;
  tcp_throughput(st, srv);
}
void BM_tcp_echo_throughput_256conn_asio(benchmark::State& st) {
  AsioTcpServer srv(kThroughputConns, false);
  tcp_throughput(st, srv);
}

}  // namespace

// Default run length: --benchmark_min_time (0.5 s unless given), so the whole binary takes
// well under a minute and `--benchmark_min_time=0.2` shortens it.
BENCHMARK(BM_tcp_echo_rtt_64)->UseRealTime();
BENCHMARK(BM_tcp_echo_rtt_64_park)->UseRealTime();
BENCHMARK(BM_tcp_echo_rtt_64_coop)->UseRealTime();
BENCHMARK(BM_tcp_echo_rtt_64_plain)->UseRealTime();
BENCHMARK(BM_tcp_echo_rtt_64_spin)->UseRealTime();
BENCHMARK(BM_tcp_echo_rtt_64_blocking)->UseRealTime();
BENCHMARK(BM_tcp_echo_rtt_64_asio)->UseRealTime();
BENCHMARK(BM_tcp_echo_rtt_64_asio_poll)->UseRealTime();
BENCHMARK(BM_udp_echo_rtt_64)->UseRealTime();
BENCHMARK(BM_udp_echo_rtt_64_park)->UseRealTime();
BENCHMARK(BM_udp_echo_rtt_64_spin)->UseRealTime();
BENCHMARK(BM_udp_echo_rtt_64_blocking)->UseRealTime();
BENCHMARK(BM_udp_echo_rtt_64_asio)->UseRealTime();
BENCHMARK(BM_udp_echo_rtt_64_asio_poll)->UseRealTime();
BENCHMARK(BM_tcp_echo_throughput_256conn)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_tcp_echo_throughput_256conn_multishot)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_tcp_echo_throughput_256conn_epoll)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_tcp_echo_throughput_256conn_asio)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_file_append_throughput)->Arg(4096)->Arg(65536)->UseRealTime();
BENCHMARK(BM_file_append_throughput_busy)->Arg(4096)->Arg(65536)->UseRealTime();
BENCHMARK(BM_file_append_throughput_write)->Arg(4096)->Arg(65536)->UseRealTime();

BENCHMARK_MAIN();
