// Regressions for what a hostile review of runtime/io found on 2026-11-29; each failed (ASan
// use-after-free, a hang, a leak or a wrong value) before its fix:
// * RecvStream::reset() while an -ENOBUFS completion waits unreaped (Plain/Coop rings);
// * a RecvStream reset while a task waits in next(): the waiter gets ECANCELED;
// * one empty UDP datagram ended a UDP RecvStream with eof(); now an empty lease, and the
//   stream goes on;
// * an outer timeout around until_cancelled(recv) left the inner recv writing a freed buffer;
// * park() with a full submission queue waited while tasks were ready;
// * File::open aborted after its completion leaked the descriptor;
// * dropping a TcpStream left another task's recv in flight and the peer without a FIN;
// * io_entries = 1 and a connect with a limit spun forever;
// * a busy runtime with an armed accept entered the kernel every turn.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "io_test_util.hpp"

using namespace sluice;
using namespace sluice::io;
using namespace sluice::io::test;
using namespace std::chrono_literals;

namespace {

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

void send_udp(const SocketAddress& to, const void* p, std::size_t n) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::sendto(fd, p, n, 0, to.get(), to.size()), static_cast<ssize_t>(n));
  ::close(fd);
}

TEST(IoReview, ResetWithUnreapedEnobufsInEveryRingMode) {
  Watchdog wd(30s);
  for (IoSetup m : {IoSetup::DeferTaskrun, IoSetup::CoopTaskrun, IoSetup::Plain}) {
    RuntimeConfig cfg;
    cfg.io_setup = m;
    auto made = Runtime::make(std::move(cfg));
    if (!made) continue;
    Runtime* rt = made->get();
    rt->block_on([](Runtime* rt) -> Task<void> {
      auto rx = UdpSocket::bind(SocketAddress::loopback_v4(0));
      auto br = BufferRing::make(*rt, 2, 64, 1);
      CO_ASSERT(br);
      {
        auto rs = rx->recv_multishot(**br);
        auto first = co_await timeout(1ms, [](RecvStream* rs) -> Task<bool> {
          co_return static_cast<bool>(co_await rs->next());
        }(&*rs));
        CO_ASSERT(!first);
        for (uint32_t i = 0; i < 3; ++i) send_udp(rx->local_address(), &i, 4);
        rs->reset();  // the ENOBUFS completion may be reaped inside
        EXPECT_EQ((*br)->available(), 2u);
      }
      co_await yield_now();
      co_await sleep_for(1ms);  // the next turns run deferred work: nothing of the stream's
    }(rt));
    EXPECT_EQ(rt->io_in_flight(), 0u);
  }
}

TEST(IoReview, ResetWakesAWaitingNext) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::park());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto rx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto br = BufferRing::make(*rt, 4, 64, 1);
    auto rs = rx->recv_multishot(**br);
    auto waiter = rt->spawn([](RecvStream* rs) -> Task<int> {
      auto l = co_await rs->next();
      co_return l ? 0 : l.error().errno_value;
    }(&*rs));
    co_await sleep_for(2ms);
    rs->reset();
    auto r = co_await waiter;
    EXPECT_EQ(*r, ECANCELED);
    auto after = co_await rs->next();  // an empty stream answers, never crashes
    EXPECT_TRUE(!after && after.error().errno_value == ECANCELED);
  }(rt.get()));
}

TEST(IoReview, EmptyDatagramIsAMessageNotTheEnd) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::busy_poll());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto rx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto br = BufferRing::make(*rt, 4, 64, 1);
    auto rs = rx->recv_multishot(**br);
    const uint32_t v = 42;
    send_udp(rx->local_address(), "", 0);
    send_udp(rx->local_address(), &v, 4);
    auto a = co_await rs->next();
    CO_ASSERT(a);
    EXPECT_EQ(a->size(), 0u);
    auto b = co_await rs->next();
    CO_ASSERT(b);
    CO_ASSERT(b->size() == 4);
    uint32_t got;
    std::memcpy(&got, b->data().data(), 4);
    EXPECT_EQ(got, 42u);
    // A flood of empty datagrams while nobody reads: bounded, the excess dropped and counted.
    for (int i = 0; i < 200; ++i) send_udp(rx->local_address(), "", 0);
    send_udp(rx->local_address(), &v, 4);
    std::size_t empties = 0;
    for (;;) {
      auto l = co_await rs->next();
      CO_ASSERT(l);
      if (l->size() == 4) break;
      ++empties;
    }
    EXPECT_EQ(empties + rs->dropped(), 200u);
  }(rt.get()));
}

TEST(IoReview, OuterTimeoutAbortsTheInnerOperation) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::park());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    auto pair = co_await accept_pair(&*l);
    CO_ASSERT(pair);
    TcpStream* srv = &pair->first;
    TcpStream* cli = &pair->second;
    CancellationToken tok;
    auto reader = [](TcpStream* s, CancellationToken* tok) -> Task<void> {
      std::vector<std::byte> buf(64);  // dies with this frame
      auto r = co_await until_cancelled(
          *tok, [](TcpStream* s, std::vector<std::byte>* b) -> Task<Result<std::size_t, IoError>> {
            co_return co_await s->recv(*b);
          }(s, &buf));
      (void)r;
    };
    auto t = co_await timeout(2ms, reader(srv, &tok));
    EXPECT_FALSE(t);
    EXPECT_EQ(rt->io_in_flight(), 1u);  // the listener's accept; the recv is gone
    // Data sent now must find no receive armed into the freed buffer.
    CO_ASSERT(co_await cli->send_all(as_bytes("AAAA")));
    std::array<std::byte, 4> got{};
    CO_ASSERT(co_await srv->recv_exact(got));
    EXPECT_EQ(got[0], std::byte{'A'});
  }(rt.get()));
}

TEST(IoReview, ParkWithAFullSubmissionQueueDoesNotSleepOnReadyTasks) {
  Watchdog wd(30s);
  RuntimeConfig cfg;
  cfg.io_entries = 4;
  auto made = Runtime::make(std::move(cfg));
  ASSERT_TRUE(made);
  Runtime* rt = made->get();
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto tx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto rx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    std::vector<JoinHandle<bool>> hs;
    for (int i = 0; i < 4; ++i)
      hs.push_back(rt->spawn([](UdpSocket* tx, SocketAddress to) -> Task<bool> {
        co_return static_cast<bool>(co_await tx->send_to(as_bytes("x"), to));
      }(&*tx, rx->local_address())));
    for (auto& h : hs) EXPECT_TRUE(*co_await h);
  }(rt));
}

TEST(IoReview, AbortedOpenLeaksNoDescriptor) {
  Watchdog wd(60s);
  auto rt = make_rt(IdlePolicy::busy_poll());
  const std::size_t before = open_fds();
  rt->block_on([](Runtime* rt) -> Task<void> {
    for (int i = 0; i < 1000; ++i) {
      auto h = rt->spawn([]() -> Task<void> {
        auto f = co_await File::open("/proc/self/status", O_RDONLY);
        (void)f;
      }());
      for (int y = 0; y < i % 4; ++y) co_await yield_now();
      (void)h.abort();
    }
  }(rt.get()));
  EXPECT_LE(open_fds(), before + 2);
}

TEST(IoReview, DroppingAStreamEndsAnotherTasksRecvAndSendsFin) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::park());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    auto pair = co_await accept_pair(&*l);
    CO_ASSERT(pair);
    TcpStream* srv = &pair->first;
    TcpStream* cli = &pair->second;
    auto stream = std::make_unique<TcpStream>(std::move(*cli));
    auto reader = rt->spawn([](TcpStream* s) -> Task<bool> {
      std::array<std::byte, 16> b{};
      auto r = co_await s->recv(b);
      co_return !r;  // ended, with eof() or an error
    }(stream.get()));
    co_await sleep_for(2ms);
    stream.reset();  // dropped while `reader` waits in recv
    auto ended = co_await timeout(
        1s, [](JoinHandle<bool>* h) -> Task<bool> { co_return *co_await *h; }(&reader));
    CO_ASSERT(ended);
    EXPECT_TRUE(*ended);
    std::array<std::byte, 16> b{};
    auto fin = co_await timeout(
        1s, [](TcpStream* s, std::span<std::byte> b) -> Task<Result<std::size_t, IoError>> {
          co_return co_await s->recv(b);
        }(srv, b));
    CO_ASSERT(fin);
    EXPECT_TRUE(!*fin && fin->error().is_eof());
  }(rt.get()));
}

TEST(IoReview, OneEntryRingStillConnectsWithALimit) {
  Watchdog wd(30s);
  RuntimeConfig cfg;
  cfg.io_entries = 1;
  auto made = Runtime::make(std::move(cfg));
  ASSERT_TRUE(made);
  (*made)->block_on([]() -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    auto c = co_await TcpStream::connect(l->local_address(), 1s);
    EXPECT_TRUE(c);
  }());
}

TEST(IoReview, ArmedAcceptCostsNoEnterPerBusyTurn) {
  auto rt = make_rt(IdlePolicy::busy_poll());
  if (rt->io_setup() == IoSetup::Plain) GTEST_SKIP() << "plain ring";
  uint64_t enters = 0;
  rt->block_on([](Runtime* rt, uint64_t* enters) -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    auto acc = rt->spawn([](TcpListener* l) -> Task<void> { (void)co_await l->accept(); }(&*l));
    co_await yield_now();
    co_await yield_now();
    const uint64_t e0 = rt->counters().io_enters;
    for (int i = 0; i < 100000; ++i) co_await yield_now();
    *enters = rt->counters().io_enters - e0;
    l->close();
    (void)co_await acc;
  }(rt.get(), &enters));
  // 100000 yields make ~1500 loop turns; with TASKRUN_FLAG none of them needs the kernel.
  EXPECT_LT(enters, 10u);
}

// A second review: reset() after the waiter was woken but before it ran freed the state the
// waiter then read.
TEST(IoReview, ResetBetweenWakeAndResume) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::busy_poll());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto rx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto br = BufferRing::make(*rt, 4, 128, 1);
    auto rs = rx->recv_multishot(**br);
    auto consumer = rt->spawn([](RecvStream* rs) -> Task<int> {
      auto l = co_await rs->next();
      co_return l ? 0 : l.error().errno_value;
    }(&*rs));
    co_await yield_now();
    co_await yield_now();  // the consumer waits, the receive is armed
    const uint64_t base = rt->counters().io_completed;
    send_udp(rx->local_address(), "x", 1);
    // The reap that delivers the datagram wakes the consumer behind this task.
    while (rt->counters().io_completed == base) co_await yield_now();
    EXPECT_FALSE(consumer.is_finished());
    rs->reset();
    auto r = co_await consumer;
    EXPECT_EQ(*r, ECANCELED);
    EXPECT_EQ((*br)->available(), 4u);
  }(rt.get()));
}

// A second review: a send prepared this turn on a socket another task then dropped went out
// on whatever socket took the number next. The drop submits the queue first.
TEST(IoReview, QueuedSendNeverReachesASocketThatReusedTheNumber) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::busy_poll());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
    auto conns = co_await accept_pair(&*l);  // the accepted side stays open: the peer
    CO_ASSERT(conns);
    auto stream = std::make_unique<TcpStream>(std::move(conns->second));
    const int old_fd = stream->fd();
    int pair[2] = {-1, -1};
    auto a = rt->spawn([](TcpStream* s) -> Task<void> {
      (void)co_await s->send(as_bytes("SECRET-FOR-OLD-PEER"));
    }(stream.get()));
    auto b = rt->spawn([](std::unique_ptr<TcpStream>* s, int* pair) -> Task<void> {
      s->reset();  // same batch: a's send is still in the submission queue
      (void)::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
      co_return;
    }(&stream, pair));
    (void)co_await b;
    (void)co_await a;
    OwnedFd p0(pair[0]), p1(pair[1]);
    if (pair[0] != old_fd && pair[1] != old_fd) co_return;  // the number was not reused
    std::array<char, 64> got{};
    const int other = pair[0] == old_fd ? pair[1] : pair[0];
    EXPECT_LT(::recv(other, got.data(), got.size(), MSG_DONTWAIT), 1);
  }(rt.get()));
}

// A UDP socket dropped while its RecvStream lives: the stream ends (or waits), it does not
// spin re-arming.
TEST(IoReview, UdpSocketDroppedUnderItsStreamDoesNotSpin) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::busy_poll());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto rx = std::make_unique<UdpSocket>(*UdpSocket::bind(SocketAddress::loopback_v4(0)));
    auto br = BufferRing::make(*rt, 4, 128, 1);
    auto rs = rx->recv_multishot(**br);
    auto first = co_await timeout(1ms, [](RecvStream* rs) -> Task<bool> {
      co_return static_cast<bool>(co_await rs->next());
    }(&*rs));
    CO_ASSERT(!first);
    rx.reset();
    const uint64_t c0 = rt->counters().io_completed;
    co_await sleep_for(20ms);
    const uint64_t done = rt->counters().io_completed - c0;
    EXPECT_LT(done, 100u) << "re-armed in a loop";
    std::size_t taken = 0;
    for (int i = 0; i < 100; ++i) {
      auto t = co_await timeout(1ms, [](RecvStream* rs) -> Task<bool> {
        co_return static_cast<bool>(co_await rs->next());
      }(&*rs));
      if (!t || !*t) break;
      ++taken;
    }
    EXPECT_LT(taken, 100u);
  }(rt.get()));
}

TEST(IoReviewDeathTest, BufferRingOutlivingItsRuntimeStops) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        std::unique_ptr<BufferRing> br;
        {
          auto rt = make_rt(IdlePolicy::park());
          rt->block_on([](Runtime* rt, std::unique_ptr<BufferRing>* br) -> Task<void> {
            auto r = BufferRing::make(*rt, 4, 64, 1);
            if (r) *br = std::move(*r);
            co_return;
          }(rt.get(), &br));
        }
      },
      "BufferRing is still registered");
}

}  // namespace
