// TCP on the runtime's ring: echo under every idle policy and ring setup, 256 concurrent
// connections with messages from 1 byte to 1 MiB, a peer closing mid-stream, refused and
// timed-out connects, a listener closed under waiting accepts, accepted connections passed on
// from an aborted waiter, descriptor exhaustion as an error value.
#include <sys/resource.h>

#include "io_test_util.hpp"

using namespace sluice;
using namespace sluice::io;
using namespace sluice::io::test;
using namespace std::chrono_literals;

namespace {

Task<void> echo_conn(TcpStream s) {
  std::vector<std::byte> buf(64 * 1024);
  for (;;) {
    auto r = co_await s.recv(buf);
    if (!r) co_return;
    auto w = co_await s.send_all(std::span<const std::byte>(buf.data(), *r));
    if (!w) co_return;
  }
}

Task<void> echo_server(TcpListener* l, int conns) {
  std::vector<JoinHandle<void>> hs;
  for (int i = 0; i < conns; ++i) {
    auto c = co_await l->accept();
    if (!c) co_return;
    hs.push_back(Runtime::current()->spawn(echo_conn(std::move(*c))));
  }
  for (auto& h : hs) (void)co_await h;
}

// One client: sends each size's pattern and checks the echo byte for byte.
Task<bool> client(SocketAddress at, std::vector<std::size_t> sizes, uint32_t seed) {
  auto c = co_await TcpStream::connect(at, 5s);
  if (!c) {
    ADD_FAILURE() << "connect: " << to_string(c.error());
    co_return false;
  }
  TcpStream s = std::move(*c);
  for (std::size_t n : sizes) {
    auto out = pattern(n, seed++);
    // Send and receive concurrently: a 1 MiB echo does not fit the socket buffers one way.
    auto sender =
        Runtime::current()->spawn([](TcpStream* s, std::span<const std::byte> d) -> Task<bool> {
          co_return static_cast<bool>(co_await s->send_all(d));
        }(&s, out));
    std::vector<std::byte> in(n);
    auto r = co_await s.recv_exact(in);
    auto sent = co_await sender;
    if (!r || !sent || !*sent) {
      ADD_FAILURE() << "echo of " << n << " bytes failed";
      co_return false;
    }
    if (in != out) {
      ADD_FAILURE() << "echo of " << n << " bytes differs";
      co_return false;
    }
  }
  co_return true;
}

class TcpPolicy : public ::testing::TestWithParam<IdlePolicy> {};

TEST_P(TcpPolicy, EchoOneConnectionAllSizes) {
  Watchdog wd(60s);
  auto rt = make_rt(GetParam());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    EXPECT_TRUE(l) << to_string(l.error());
    auto srv = rt->spawn(echo_server(&*l, 1));
    std::vector<std::size_t> sizes = {1, 2, 63, 64, 65, 4096, 65536, 1 << 20};
    EXPECT_TRUE(co_await client(l->local_address(), sizes, 1));
    (void)co_await srv;
  }(rt.get()));
  EXPECT_EQ(rt->io_in_flight(), 0u);
  EXPECT_EQ(rt->counters().io_cq_dropped, 0u);
  EXPECT_GT(rt->counters().io_completed, 0u);
}

TEST_P(TcpPolicy, Echo256ConcurrentConnections) {
  Watchdog wd(120s);
  auto rt = make_rt(GetParam());
  constexpr int kConns = 256;
  int ok = 0;
  rt->block_on([](Runtime* rt, int* ok) -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    EXPECT_TRUE(l);
    auto srv = rt->spawn(echo_server(&*l, kConns));
    std::vector<JoinHandle<bool>> cs;
    for (int i = 0; i < kConns; ++i) {
      std::vector<std::size_t> sizes = {1, 64, static_cast<std::size_t>(1 + i * 37 % 3000)};
      if (i % 64 == 0) sizes.push_back(1 << 20);
      cs.push_back(rt->spawn(client(l->local_address(), sizes, static_cast<uint32_t>(i) * 10)));
    }
    for (auto& c : cs) {
      auto r = co_await c;
      if (r && *r) ++*ok;
    }
    (void)co_await srv;
  }(rt.get(), &ok));
  EXPECT_EQ(ok, kConns);
  EXPECT_EQ(rt->io_in_flight(), 0u);
  EXPECT_EQ(rt->counters().io_cq_dropped, 0u);
}

TEST_P(TcpPolicy, PeerClosingMidStreamIsEndOfStream) {
  Watchdog wd(30s);
  auto rt = make_rt(GetParam());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    auto peer = rt->spawn([](TcpListener* l) -> Task<void> {
      auto c = co_await l->accept();
      EXPECT_TRUE(c);
      auto r = co_await c->send_all(as_bytes("partial"));
      EXPECT_TRUE(r);
      // c goes out of scope: the connection closes mid-stream.
    }(&*l));
    auto c = co_await TcpStream::connect(l->local_address());
    EXPECT_TRUE(c);
    std::vector<std::byte> buf(100);
    auto r = co_await c->recv_exact(buf);  // wants 100, gets 7 then the end
    CO_ASSERT(!(r));
    EXPECT_TRUE(r.error().is_eof());
    auto again = co_await c->recv(buf);
    CO_ASSERT(!(again));
    EXPECT_TRUE(again.error().is_eof());
    (void)co_await peer;
  }(rt.get()));
}

TEST_P(TcpPolicy, ListenerClosedUnderWaitingAccepts) {
  Watchdog wd(30s);
  auto rt = make_rt(GetParam());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    std::vector<JoinHandle<int>> ws;
    for (int i = 0; i < 5; ++i)
      ws.push_back(rt->spawn([](TcpListener* l) -> Task<int> {
        auto c = co_await l->accept();
        co_return c ? 0 : c.error().errno_value;
      }(&*l)));
    co_await sleep_for(5ms);  // all five are waiting, the multishot accept armed
    EXPECT_EQ(rt->io_in_flight(), 1u);
    l->close();
    EXPECT_EQ(rt->io_in_flight(), 0u);
    for (auto& w : ws) {
      auto r = co_await w;
      EXPECT_EQ(*r, ECANCELED);
    }
    auto late = co_await l->accept();
    CO_ASSERT(!(late));
    EXPECT_EQ(late.error().errno_value, ECANCELED);
  }(rt.get()));
}

INSTANTIATE_TEST_SUITE_P(Policies, TcpPolicy, ::testing::ValuesIn(all_policies()),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

Task<void> one_echo(Runtime* rt) {
  auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
  auto srv = rt->spawn(echo_server(&*l, 1));
  std::vector<std::size_t> sizes = {1, 64, 100000};         // (a braced temporary across co_await
  bool ok = co_await client(l->local_address(), sizes, 7);  // trips g++ 12)
  EXPECT_TRUE(ok);
  (void)co_await srv;
}

TEST(Tcp, EveryRingSetupEchoes) {
  for (IoSetup m : {IoSetup::DeferTaskrun, IoSetup::CoopTaskrun, IoSetup::Plain}) {
    Watchdog wd(30s);
    RuntimeConfig cfg;
    cfg.idle = IdlePolicy::busy_poll();
    cfg.io_setup = m;
    auto made = Runtime::make(std::move(cfg));
    if (!made) {
      std::printf("io setup %s not accepted here: %s\n", to_string(m),
                  std::strerror(made.error().errno_value));
      continue;
    }
    auto& rt = *made;
    EXPECT_EQ(rt->io_setup(), m);
    EXPECT_EQ(rt->counters().io_mode, m);
    rt->block_on(one_echo(rt.get()));
  }
}

TEST(Tcp, ConnectionRefused) {
  auto rt = make_rt(IdlePolicy::park());
  // A port that was just free: bind, read it, close.
  uint16_t port;
  {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    port = l->local_address().port();
  }
  rt->block_on([](uint16_t port) -> Task<void> {
    auto c = co_await TcpStream::connect(SocketAddress::loopback_v4(port), 2s);
    CO_ASSERT(!(c));
    EXPECT_EQ(c.error().errno_value, ECONNREFUSED);
  }(port));
}

TEST(Tcp, ConnectTimesOut) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::park());
  rt->block_on([]() -> Task<void> {
    // A listener whose accept queue is full (backlog 0, never accepted) drops further SYNs,
    // so a connect to it waits for a SYN-ACK that never comes.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    OwnedFd owned(fd);
    auto at = SocketAddress::loopback_v4(0);
    CO_ASSERT((::bind(fd, at.get(), at.size())) == (0));
    CO_ASSERT((::listen(fd, 0)) == (0));
    socklen_t n = SocketAddress::capacity();
    CO_ASSERT((::getsockname(fd, at.get(), &n)) == (0));
    at.set_size(n);
    std::vector<TcpStream> fill;
    bool timed_out = false;
    for (int i = 0; i < 8 && !timed_out; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto c = co_await TcpStream::connect(at, 200ms);
      if (c) {
        fill.push_back(std::move(*c));
        continue;
      }
      EXPECT_EQ(c.error().errno_value, ETIMEDOUT) << to_string(c.error());
      EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
      timed_out = true;
    }
    EXPECT_TRUE(timed_out) << "the kernel accepted every connection";
  }());
}

// A waiter handed a connection and aborted before it ran passes it on: nothing is lost.
TEST(Tcp, AcceptHandedToAbortedWaiterPassesOn) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::busy_poll());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    auto a = rt->spawn([](TcpListener* l) -> Task<bool> {
      co_return static_cast<bool>(co_await l->accept());
    }(&*l));
    auto b = rt->spawn([](TcpListener* l) -> Task<bool> {
      co_return static_cast<bool>(co_await l->accept());
    }(&*l));
    co_await yield_now();  // both waiting (a first)
    const uint64_t base = rt->counters().io_completed;
    auto c = rt->spawn(TcpStream::connect(l->local_address()));
    // The reap that delivers the accept (and the connect) schedules `a` behind this task,
    // which yielded before that reap: so `a` is handed the connection and has not run yet.
    while (rt->counters().io_completed < base + 2) co_await yield_now();
    EXPECT_FALSE(a.is_finished());
    EXPECT_TRUE(a.abort());
    auto rb = co_await b;
    EXPECT_TRUE(*rb);
    auto rc = co_await c;
    EXPECT_TRUE(*rc);
  }(rt.get()));
}

TEST(Tcp, DescriptorExhaustionIsAnErrorValue) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::park());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    auto at = l->local_address();
    rlimit old{};
    ::getrlimit(RLIMIT_NOFILE, &old);
    // Use up the descriptors, leaving none for connect's socket.
    std::vector<OwnedFd> hog;
    rlimit low = old;
    low.rlim_cur = 64;
    CO_ASSERT((::setrlimit(RLIMIT_NOFILE, &low)) == (0));
    for (;;) {
      int fd = ::dup(0);
      if (fd < 0) break;
      hog.emplace_back(fd);
    }
    auto c = co_await TcpStream::connect(at);
    CO_ASSERT(!(c));
    EXPECT_EQ(c.error().errno_value, EMFILE);
    // An accept with no descriptor left: the completion is EMFILE, as a value. Free one for
    // the client socket, none for the accepted one.
    hog.pop_back();
    int cfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CO_ASSERT((cfd) >= (0));
    OwnedFd client(cfd);
    CO_ASSERT((::connect(cfd, at.get(), at.size())) == (0));
    auto a = co_await l->accept();
    CO_ASSERT(!(a));
    EXPECT_EQ(a.error().errno_value, EMFILE);
    hog.clear();
    CO_ASSERT((::setrlimit(RLIMIT_NOFILE, &old)) == (0));
    auto again = co_await l->accept();  // armed again: the waiting connection arrives
    EXPECT_TRUE(again) << to_string(again.error());
    (void)rt;
  }(rt.get()));
}

// No enter in a busy turn with nothing submitted and nothing in flight.
TEST(Tcp, NoEnterWhenNothingInFlight) {
  auto rt = make_rt(IdlePolicy::busy_poll());
  rt->block_on([]() -> Task<void> {
    for (int i = 0; i < 10000; ++i) co_await yield_now();
  }());
  EXPECT_EQ(rt->counters().io_enters, 0u);
}

// A runtime run from a second thread: with nothing in flight it gets a fresh single-issuer
// ring and I/O works there; with a receive still in flight it cannot move, and says so.
TEST(Tcp, RunOnAnotherThreadGetsAFreshRing) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::park());
  for (int round = 0; round < 3; ++round) {
    std::thread t([&] { rt->block_on(one_echo(rt.get())); });
    t.join();
  }
  EXPECT_EQ(rt->io_in_flight(), 0u);
}

TEST(TcpDeathTest, MovingARuntimeWithIoInFlightStops) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto rt = make_rt(IdlePolicy::park());
        if (rt->io_setup() != IoSetup::DeferTaskrun) {
          std::fprintf(stderr, "cannot run on another thread\n");  // nothing to check here
          std::abort();
        }
        auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
        rt->block_on([](Runtime* rt, TcpListener* l) -> Task<void> {
          // Left waiting in accept() when block_on returns.
          rt->spawn([](TcpListener* l) -> Task<void> { (void)co_await l->accept(); }(l)).detach();
          co_await yield_now();
        }(rt.get(), &*l));
        std::thread t([&] { rt->block_on([]() -> Task<void> { co_return; }()); });
        t.join();
      },
      "cannot run on another thread");
}

TEST(Tcp, NoRingMeansEnosys) {
  RuntimeConfig cfg;
  cfg.io_setup = IoSetup::None;
  auto rt = Runtime::make(std::move(cfg));
  ASSERT_TRUE(rt);
  EXPECT_FALSE((*rt)->uses_io_uring());
  (*rt)->block_on([]() -> Task<void> {
    auto c = co_await TcpStream::connect(SocketAddress::loopback_v4(1));
    CO_ASSERT(!(c));
    EXPECT_EQ(c.error().errno_value, ENOSYS);
  }());
}

}  // namespace
