// Cancellation of every kind of I/O operation at random moments, racing its completion:
// JoinHandle::abort(), timeout(...) and until_cancelled(...). Each operation's buffer and
// frame are counted; at the end none is alive, nothing is in flight, no completion was
// dropped, and under ASan nothing was written after free. Also: TCP multishot receive of a
// stream in order through a tiny buffer ring, and a RecvStream::next() that is cancelled loses
// nothing (the message stays queued for the next call).
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <random>

#include "io_test_util.hpp"

using namespace sluice;
using namespace sluice::io;
using namespace sluice::io::test;
using namespace std::chrono_literals;

namespace {

long g_buffers = 0;  // owner thread only
long g_frames = 0;
struct Buffer {
  std::vector<std::byte> v;
  explicit Buffer(std::size_t n) : v(n) { ++g_buffers; }
  ~Buffer() { --g_buffers; }
};
struct FrameMark {
  FrameMark() { ++g_frames; }
  ~FrameMark() { --g_frames; }
};

int rounds() {
#if defined(__SANITIZE_THREAD__)
  return 20000;
#else
  return 100000;
#endif
}

struct Rig {
  TcpListener listener;
  TcpStream a, b;  // a connected pair
  UdpSocket ua, ub;
  File file;
  std::unique_ptr<BufferRing> br;
  RecvStream ms;  // multishot on ua
};

Task<void> op_task(Rig* rig, int kind) {
  FrameMark mark;
  Buffer buf(4096);
  switch (kind) {
    case 0:
      (void)co_await rig->a.recv(buf.v);
      break;
    case 1:
      (void)co_await rig->a.send(std::span<const std::byte>(buf.v.data(), 64));
      break;
    case 2:
      (void)co_await rig->ua.recv_from(buf.v);
      break;
    case 3:
      (void)co_await rig->file.read_at(buf.v, 0);
      break;
    case 4:
      (void)co_await rig->listener.accept();
      break;
    case 5: {
      auto l = co_await rig->ms.next();
      break;
    }
    case 6: {
      auto c = co_await TcpStream::connect(rig->listener.local_address(), 50ms);
      break;
    }
  }
}

TEST(IoCancel, RandomMomentsEveryOperation) {
  Watchdog wd(600s);
  for (IdlePolicy policy : all_policies()) {
    auto rt = make_rt(policy);
    const std::string path = "/tmp/sluice_io_cancel_" + std::to_string(::getpid());
    long cancels_seen = 0, completed = 0;
    rt->block_on([](Runtime* rt, const std::string* path, long* cancels_seen,
                    long* completed) -> Task<void> {
      Rig rig;
      auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
      CO_ASSERT(l);
      rig.listener = std::move(*l);
      auto pair = co_await accept_pair(&rig.listener);
      CO_ASSERT(pair);
      rig.a = std::move(pair->second);
      rig.b = std::move(pair->first);
      auto ua = UdpSocket::bind(SocketAddress::loopback_v4(0));
      auto ub = UdpSocket::bind(SocketAddress::loopback_v4(0));
      CO_ASSERT(ua && ub);
      rig.ua = std::move(*ua);
      rig.ub = std::move(*ub);
      auto f = co_await File::open(path->c_str(), O_RDWR | O_CREAT | O_TRUNC);
      CO_ASSERT(f);
      rig.file = std::move(*f);
      CO_ASSERT(co_await rig.file.write_all_at(pattern(8192, 1), 0));
      auto br = BufferRing::make(*rt, 8, 2048, 3);
      CO_ASSERT(br);
      rig.br = std::move(*br);
      auto ms = rig.ua.recv_multishot(*rig.br);
      CO_ASSERT(ms);
      rig.ms = std::move(*ms);

      std::mt19937 rng(12345);
      std::array<std::byte, 64> junk{};
      CancellationToken token;
      const int n = rounds() / 2;
      for (int i = 0; i < n; ++i) {
        const int kind = static_cast<int>(rng() % 7);
        const int how = static_cast<int>(rng() % 3);
        const int delay = static_cast<int>(rng() % 4);
        const bool feed = rng() % 2 == 0;
        JoinHandle<void> h;
        CancellationToken tok = token.child();
        JoinHandle<Result<void, TimeoutError>> th;
        JoinHandle<Result<void, CancelError>> ch;
        if (how == 0) h = rt->spawn(op_task(&rig, kind));
        if (how == 1)
          th = rt->spawn(timeout(std::chrono::microseconds(delay * 20), op_task(&rig, kind)));
        if (how == 2) ch = rt->spawn(until_cancelled(tok, op_task(&rig, kind)));
        for (int y = 0; y < delay; ++y) {
          if (feed && y == delay / 2) {  // the completion races the cancellation
            if (kind == 0) (void)co_await rig.b.send(junk);
            if (kind == 2 || kind == 5) (void)co_await rig.ub.send_to(junk, rig.ua.local_address());
          }
          co_await yield_now();
        }
        if (how == 0) {
          if (h.abort())
            ++*cancels_seen;
          else
            ++*completed;
        } else if (how == 1) {
          auto r = co_await th;
          if (*r)
            ++*completed;
          else
            ++*cancels_seen;
        } else {
          tok.cancel();
          auto r = co_await ch;
          if (*r)
            ++*completed;
          else
            ++*cancels_seen;
        }
        // Keep the socket buffers from filling: drain what the pair holds now and then.
        if (i % 64 == 63) {
          for (;;) {
            std::array<std::byte, 65536> sink{};
            ssize_t k = ::recv(rig.b.fd(), sink.data(), sink.size(), MSG_DONTWAIT);
            ssize_t k2 = ::recv(rig.a.fd(), sink.data(), sink.size(), MSG_DONTWAIT);
            if (k <= 0 && k2 <= 0) break;
          }
          while (rig.ms.queued() > 0) (void)co_await rig.ms.next();
        }
        if (i % 256 == 255) {  // connections queued by cancelled accepts: close them
          auto at = rig.listener.local_address();
          rig.listener.close();
          auto nl = TcpListener::bind(at);
          CO_ASSERT(nl);
          rig.listener = std::move(*nl);
        }
        CO_ASSERT(g_frames == 0);
        CO_ASSERT(g_buffers == 0);
      }
      rig.ms.reset();
      rig.listener.close();
      CO_ASSERT(rt->io_in_flight() == 0);
    }(rt.get(), &path, &cancels_seen, &completed));
    ::unlink(path.c_str());
    EXPECT_EQ(g_frames, 0);
    EXPECT_EQ(g_buffers, 0);
    EXPECT_EQ(rt->io_in_flight(), 0u);
    EXPECT_EQ(rt->counters().io_cq_dropped, 0u);
    EXPECT_GT(rt->counters().io_cancels, 1000u);
    EXPECT_GT(cancels_seen, 1000);
    EXPECT_GT(completed, 100);
    std::printf("%s: %ld cancelled, %ld completed, %lu io_uring cancels\n", policy_name(policy),
                cancels_seen, completed, static_cast<unsigned long>(rt->counters().io_cancels));
  }
}

TEST(IoCancel, TcpMultishotStreamInOrderThroughATinyRing) {
  Watchdog wd(60s);
  for (IdlePolicy policy : all_policies()) {
    auto rt = make_rt(policy);
    rt->block_on([](Runtime* rt) -> Task<void> {
      auto l = TcpListener::bind(SocketAddress::loopback_v4(0));
      auto pair = co_await accept_pair(&*l);
      CO_ASSERT(pair);
      TcpStream* srv = &pair->first;
      TcpStream* cli = &pair->second;
      auto br = BufferRing::make(*rt, 2, 4096, 5);
      CO_ASSERT(br);
      auto rs = RecvStream::make(srv->fd(), **br);
      CO_ASSERT(rs);
      const auto data = pattern(4 << 20, 11);
      auto sender = rt->spawn([](TcpStream* s, const std::vector<std::byte>* d) -> Task<void> {
        CO_ASSERT(co_await s->send_all(*d));
        CO_ASSERT(co_await s->shutdown());
      }(cli, &data));
      std::size_t got = 0;
      bool same = true;
      for (;;) {
        auto lease = co_await rs->next();
        if (!lease) {
          EXPECT_TRUE(lease.error().is_eof()) << to_string(lease.error());
          break;
        }
        same = same && std::memcmp(lease->data().data(), data.data() + got, lease->size()) == 0;
        got += lease->size();
        if (got % 3 == 0) co_await yield_now();
      }
      EXPECT_TRUE(same);
      EXPECT_EQ(got, data.size());
      auto again = co_await rs->next();  // the end stays the end
      EXPECT_TRUE(!again && again.error().is_eof());
      EXPECT_GT(rs->rearms(), 0u);  // two buffers for 4 MiB: it ran dry and was re-armed
      (void)co_await sender;
    }(rt.get()));
    EXPECT_EQ(rt->io_in_flight(), 0u);
  }
}

// A next() cancelled while it waits loses nothing: the message that arrives later is still
// there for the next call.
TEST(IoCancel, CancelledNextLosesNothing) {
  Watchdog wd(30s);
  auto rt = make_rt(IdlePolicy::park());
  rt->block_on([](Runtime* rt) -> Task<void> {
    auto rx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto tx = UdpSocket::bind(SocketAddress::loopback_v4(0));
    auto br = BufferRing::make(*rt, 4, 256, 2);
    CO_ASSERT(br);
    auto rs = rx->recv_multishot(**br);
    CO_ASSERT(rs);
    for (int i = 0; i < 50; ++i) {
      auto t = co_await timeout(100us, [](RecvStream* rs) -> Task<std::size_t> {
        auto l = co_await rs->next();
        co_return l ? l->size() : 0;
      }(&*rs));
      EXPECT_FALSE(t);  // nothing sent yet: timed out
      std::array<std::byte, 10> msg{};
      msg[0] = static_cast<std::byte>(i);
      CO_ASSERT(co_await tx->send_to(msg, rx->local_address()));
      auto l = co_await rs->next();
      CO_ASSERT(l);
      EXPECT_EQ(l->data()[0], static_cast<std::byte>(i));
    }
  }(rt.get()));
}

}  // namespace
