// UDP on the runtime's ring: echo under every idle policy, the sender's address, truncation,
// multishot receive of many datagrams in order (re-armed across an empty buffer ring), and
// multicast on loopback where the host routes it (else the test says so and skips).
#include "io_test_util.hpp"

using namespace sluice;
using namespace sluice::io;
using namespace sluice::io::test;
using namespace std::chrono_literals;

namespace {

class UdpPolicy : public ::testing::TestWithParam<IdlePolicy> {};

TEST_P(UdpPolicy, EchoWithSenderAddress) {
  Watchdog wd(30s);
  auto rt = make_rt(GetParam());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto srv = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto cli = UdpSocket::bind(SocketAddress::loopback_v4(0));
    CO_ASSERT(srv && cli);
    auto echo = rt->spawn([](UdpSocket* s) -> Task<void> {
      std::vector<std::byte> buf(2048);
      for (int i = 0; i < 100; ++i) {
        auto d = co_await s->recv_from(buf);
        CO_ASSERT(d);
        auto w = co_await s->send_to(std::span<const std::byte>(buf.data(), d->size), d->from);
        CO_ASSERT(w && *w == d->size);
      }
    }(&*srv));
    for (int i = 0; i < 100; ++i) {
      auto out = pattern(1 + static_cast<std::size_t>(i) * 13, static_cast<uint32_t>(i));
      auto w = co_await cli->send_to(out, srv->local_address());
      CO_ASSERT(w && *w == out.size());
      std::vector<std::byte> in(2048);
      auto d = co_await cli->recv_from(in);
      CO_ASSERT(d);
      EXPECT_EQ(d->size, out.size());
      EXPECT_FALSE(d->truncated);
      EXPECT_EQ(d->from.port(), srv->local_address().port());
      in.resize(d->size);
      EXPECT_EQ(in, out);
    }
    (void)co_await echo;
  }(rt.get()));
  EXPECT_EQ(rt->io_in_flight(), 0u);
}

TEST_P(UdpPolicy, MultishotReceivesEveryDatagramInOrder) {
  Watchdog wd(60s);
  auto rt = make_rt(GetParam());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto rx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto tx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    CO_ASSERT(rx && tx);
    CO_ASSERT(rx->set_recv_buffer(4 << 20));
    // 4 buffers for 2000 datagrams: the ring runs dry again and again (-ENOBUFS); the stream
    // must re-arm each time a lease comes back.
    auto br = BufferRing::make(*rt, 4, 256, 1);
    CO_ASSERT(br);
    auto rs = rx->recv_multishot(**br);
    CO_ASSERT(rs);
    constexpr uint32_t kN = 2000;
    auto sender = rt->spawn([](UdpSocket* tx, SocketAddress to) -> Task<void> {
      for (uint32_t i = 0; i < kN; ++i) {
        std::array<std::byte, 8> msg{};
        std::memcpy(msg.data(), &i, 4);
        auto w = co_await tx->send_to(msg, to);
        CO_ASSERT(w);
        if (i % 16 == 15) co_await yield_now();  // keep within the socket buffer
      }
    }(&*tx, rx->local_address()));
    for (uint32_t i = 0; i < kN; ++i) {
      auto lease = co_await rs->next();
      CO_ASSERT(lease);
      CO_ASSERT(lease->size() == 8);
      uint32_t got;
      std::memcpy(&got, lease->data().data(), 4);
      CO_ASSERT(got == i);
      if (i % 3 == 0) co_await yield_now();  // hold the lease across a turn sometimes
    }
    (void)co_await sender;
    rs->reset();
    EXPECT_EQ((*br)->available(), 4u);
  }(rt.get()));
  EXPECT_EQ(rt->io_in_flight(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Policies, UdpPolicy, ::testing::ValuesIn(all_policies()),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

// A completion queue far smaller than the burst: the kernel holds the overflow back (NODROP),
// the runtime sees the flag and flushes, and every datagram arrives, in order.
TEST(Udp, CompletionQueueOverflowLosesNothing) {
  Watchdog wd(30s);
  for (IoSetup m : {IoSetup::DeferTaskrun, IoSetup::CoopTaskrun, IoSetup::Plain}) {
    RuntimeConfig cfg;
    cfg.idle = IdlePolicy::busy_poll();
    cfg.io_setup = m;
    cfg.io_entries = 4;
    cfg.io_cq_entries = 8;
    auto made = Runtime::make(std::move(cfg));
    if (!made) continue;  // that setup is not accepted here (EveryRingSetupEchoes says so)
    Runtime* rt = made->get();
    rt->block_on([](Runtime* rt) -> Task<void> {
      auto rx = UdpSocket::bind(SocketAddress::loopback_v4(0));
      CO_ASSERT(rx);
      CO_ASSERT(rx->set_recv_buffer(1 << 20));
      auto br = BufferRing::make(*rt, 256, 64, 1);
      CO_ASSERT(br);
      auto rs = rx->recv_multishot(**br);
      CO_ASSERT(rs);
      CO_ASSERT(rs->queued() == 0);
      // Arm the receive (next() with nothing there yet, given up after one turn).
      auto first = co_await timeout(1ms, [](RecvStream* rs) -> Task<bool> {
        co_return static_cast<bool>(co_await rs->next());
      }(&*rs));
      CO_ASSERT(!first);
      // 200 datagrams land while the runtime does not reap: 200 completions for 8 slots.
      int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      OwnedFd tx(fd);
      const SocketAddress to = rx->local_address();
      for (uint32_t i = 0; i < 200; ++i)
        CO_ASSERT(::sendto(fd, &i, 4, 0, to.get(), to.size()) == 4);
      for (uint32_t i = 0; i < 200; ++i) {
        auto l = co_await rs->next();
        CO_ASSERT(l);
        uint32_t got;
        std::memcpy(&got, l->data().data(), 4);
        CO_ASSERT(got == i);
      }
    }(rt));
    EXPECT_GT(rt->counters().io_cq_overflows, 0u) << to_string(m);
    EXPECT_EQ(rt->counters().io_cq_dropped, 0u);
  }
}

// Multishot datagrams carry their sender and say when they were cut to fit the buffer.
TEST(Udp, MultishotLeaseHasSenderAndTruncation) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::busy_poll());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto rx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto tx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto br = BufferRing::make(*rt, 4, 128, 1);  // 128 - 44 = 84 bytes of payload room
    CO_ASSERT(br);
    auto rs = rx->recv_multishot(**br);
    CO_ASSERT(rs);
    auto small = pattern(80, 1);
    auto big = pattern(200, 2);
    CO_ASSERT(co_await tx->send_to(small, rx->local_address()));
    CO_ASSERT(co_await tx->send_to(big, rx->local_address()));
    auto a = co_await rs->next();
    CO_ASSERT(a);
    EXPECT_EQ(a->size(), 80u);
    EXPECT_FALSE(a->truncated());
    EXPECT_EQ(a->from().port(), tx->local_address().port());
    EXPECT_TRUE(std::equal(small.begin(), small.end(), a->data().begin()));
    auto b = co_await rs->next();
    CO_ASSERT(b);
    EXPECT_TRUE(b->truncated());
    EXPECT_EQ(b->size(), 84u);
    EXPECT_TRUE(std::equal(b->data().begin(), b->data().end(), big.begin()));
    EXPECT_EQ(b->from().to_string(), tx->local_address().to_string());
  }(rt.get()));
}

TEST(Udp, TruncatedDatagramIsFlagged) {
  auto rt = make_rt(IdlePolicy::park());
  rt->block_on([]() -> Task<void> {
    auto rx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto tx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto out = pattern(100, 3);
    auto w = co_await tx->send_to(out, rx->local_address());
    CO_ASSERT(w);
    std::vector<std::byte> small(10);
    auto d = co_await rx->recv_from(small);
    CO_ASSERT(d);
    EXPECT_EQ(d->size, 10u);
    EXPECT_TRUE(d->truncated);
  }());
}

TEST(Udp, OversizedDatagramIsAnError) {
  auto rt = make_rt(IdlePolicy::park());
  rt->block_on([]() -> Task<void> {
    auto tx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    std::vector<std::byte> big(70000);
    auto w = co_await tx->send_to(big, SocketAddress::loopback_v4(9));
    CO_ASSERT(!w);
    EXPECT_EQ(w.error().errno_value, EMSGSIZE);
  }());
}

TEST(Udp, BadBufferRingArgumentsAreErrors) {
  auto rt = make_rt(IdlePolicy::park());
  rt->block_on([](Runtime* rt) -> Task<void> {
    EXPECT_EQ(BufferRing::make(*rt, 3, 64, 1).error().errno_value, EINVAL);  // not 2^n
    EXPECT_EQ(BufferRing::make(*rt, 0, 64, 1).error().errno_value, EINVAL);
    EXPECT_EQ(BufferRing::make(*rt, 4, 0, 1).error().errno_value, EINVAL);
    auto a = BufferRing::make(*rt, 4, 64, 7);
    CO_ASSERT(a);
    auto b = BufferRing::make(*rt, 4, 64, 7);  // the same group twice
    CO_ASSERT(!b);
    EXPECT_EQ(b.error().errno_value, EEXIST);
    co_return;
  }(rt.get()));
}

// Multicast on loopback: join 239.255.77.x on 127.0.0.1 and send to it with loopback on.
// Hosts (and containers) without a multicast route on lo never deliver it: skip, saying so.
TEST(Udp, MulticastJoinReceiveLeave) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::park());
  std::string skip;
  rt->block_on([](std::string* skip) -> Task<void> {
    in_addr group{}, lo{};
    ::inet_pton(AF_INET, "239.255.77.1", &group);
    ::inet_pton(AF_INET, "127.0.0.1", &lo);
    auto rx = UdpSocket::bind(SocketAddress::any_v4(0), /*reuse=*/true);
    CO_ASSERT(rx);
    if (auto j = rx->join_multicast_v4(group, lo); !j) {
      *skip = std::string("join on 127.0.0.1 refused: ") + to_string(j.error());
      co_return;
    }
    auto tx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    CO_ASSERT(tx->set_multicast_interface_v4(lo));
    CO_ASSERT(tx->set_multicast_loop(true));
    char ip[] = "239.255.77.1";
    auto to = SocketAddress::parse(ip, rx->local_address().port());
    CO_ASSERT(to);
    auto msg = pattern(64, 9);
    auto w = co_await tx->send_to(msg, *to);
    if (!w) {
      *skip = std::string("multicast send refused: ") + to_string(w.error());
      co_return;
    }
    auto got = co_await timeout(500ms, [](UdpSocket* rx) -> Task<Result<Datagram, IoError>> {
      std::vector<std::byte> buf(256);
      co_return co_await rx->recv_from(buf);
    }(&*rx));
    if (!got) {
      *skip = "multicast on loopback is not routed on this host (nothing arrived in 500 ms)";
      co_return;
    }
    CO_ASSERT(*got);
    EXPECT_EQ((*got)->size, 64u);
    CO_ASSERT(rx->leave_multicast_v4(group, lo));
    EXPECT_FALSE(rx->leave_multicast_v4(group, lo));  // not a member any more
  }(&skip));
  EXPECT_EQ(rt->io_in_flight(), 0u);  // the timed-out receive was cancelled and reaped
  if (!skip.empty()) GTEST_SKIP() << skip;
}

}  // namespace
