// local::channel: send/recv, backpressure, FIFO wake, close semantics, errors, cancellation,
// endpoints sent through channels.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace sluice;
using namespace std::chrono_literals;

namespace {
// A task that receives one value.
Task<int> recv_one(local::Receiver<int>* rx) { co_return (co_await rx->recv()).value(); }
}  // namespace

TEST(Local, ZeroCapacityIsAnError) {
  auto r = local::channel<int>(0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ChannelError::ZeroCapacity);
  auto big = local::channel<int>((std::size_t{1} << 31) + 1);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), ChannelError::CapacityTooLarge);
}

TEST(Local, CapacityRoundsUpToPowerOfTwo) {
  auto [tx, rx] = local::channel<int>(3).value();
  EXPECT_EQ(tx.capacity(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(tx.try_send(i));
  auto full = tx.try_send(99);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, SendErrc::Full);
  EXPECT_EQ(full.error().value, 99);  // the value comes back
  for (int i = 0; i < 4; ++i) EXPECT_EQ(rx.try_recv().value(), i);
  auto e = rx.try_recv();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), RecvError::Empty);
}

TEST(Local, DrainThenClosedAfterLastSender) {
  auto [tx, rx] = local::channel<std::string>(4).value();
  auto tx2 = tx;
  EXPECT_TRUE(tx.try_send("a"));
  EXPECT_TRUE(tx2.try_send("b"));
  { auto gone = std::move(tx); }
  EXPECT_FALSE(rx.is_closed());  // tx2 still alive
  { auto gone = std::move(tx2); }
  EXPECT_TRUE(rx.is_closed());
  EXPECT_EQ(rx.try_recv().value(), "a");  // queued values survive the close
  EXPECT_EQ(rx.try_recv().value(), "b");
  EXPECT_EQ(rx.try_recv().error(), RecvError::Closed);
}

TEST(Local, SendAfterReceiverGoneReturnsValue) {
  auto ch = local::channel<std::unique_ptr<int>>(2).value();
  auto tx = std::move(ch.tx);
  { auto rx = std::move(ch.rx); }
  EXPECT_TRUE(tx.is_closed());
  auto r = tx.try_send(std::make_unique<int>(5));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, SendErrc::Closed);
  ASSERT_TRUE(r.error().value);
  EXPECT_EQ(*r.error().value, 5);
  Runtime rt;
  auto f = [&]() -> Task<int> {
    auto s = co_await tx.send(std::make_unique<int>(6));
    co_return s ? -1 : *s.error().value;
  };
  EXPECT_EQ(rt.block_on(f()), 6);
}

TEST(Local, QueuedValuesDestroyedWithReceiver) {
  auto p = std::make_shared<int>(1);
  {
    auto [tx, rx] = local::channel<std::shared_ptr<int>>(4).value();
    EXPECT_TRUE(tx.try_send(p));
    EXPECT_TRUE(tx.try_send(p));
    EXPECT_EQ(p.use_count(), 3);
  }
  EXPECT_EQ(p.use_count(), 1);
}

TEST(Local, ProducerConsumerWithBackpressure) {
  Runtime rt;
  auto [tx, rx] = local::channel<int>(2).value();
  int max_len = 0;
  auto producer = [](local::Sender<int> tx) -> Task<> {
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(co_await tx.send(i));
  };
  auto consumer = [](local::Receiver<int>* rx, int* max_len) -> Task<long> {
    long sum = 0;
    int expect = 0;
    for (;;) {
      auto v = co_await rx->recv();
      if (!v) {
        EXPECT_EQ(v.error(), RecvError::Closed);
        break;
      }
      EXPECT_EQ(*v, expect++);
      *max_len = std::max<int>(*max_len, static_cast<int>(rx->size()) + 1);
      sum += *v;
      if (expect % 3 == 0) co_await yield_now();
    }
    co_return sum;
  };
  auto main = [&]() -> Task<long> {
    auto p = spawn(producer(std::move(tx)));
    auto c = spawn(consumer(&rx, &max_len));
    (void)co_await p;
    co_return (co_await c).value();
  };
  EXPECT_EQ(rt.block_on(main()), 999L * 1000 / 2);
  EXPECT_LE(max_len, 3);  // never more than capacity queued (+ the one just taken)
}

TEST(Local, BlockedSendersAreAdmittedFifo) {
  Runtime rt;
  auto [tx, rx] = local::channel<int>(1).value();
  std::vector<int> got;
  auto sender = [](local::Sender<int> tx, int v) -> Task<> { EXPECT_TRUE(co_await tx.send(v)); };
  auto main = [&]() -> Task<> {
    EXPECT_TRUE(tx.try_send(0));  // full now
    std::vector<JoinHandle<void>> hs;
    for (int i = 1; i <= 5; ++i) hs.push_back(spawn(sender(tx, i)));
    co_await yield_now();  // all five are blocked, in order
    // A late try_send must not overtake the blocked senders.
    EXPECT_EQ(tx.try_send(100).error().code, SendErrc::Full);
    for (int i = 0; i < 6; ++i) got.push_back((co_await rx.recv()).value());
    for (auto& h : hs) (void)co_await h;
  };
  rt.block_on(main());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(Local, ReceiverDropWakesBlockedSendersWithValue) {
  Runtime rt;
  auto ch = local::channel<std::string>(1).value();
  auto tx = std::move(ch.tx);
  auto rx = std::make_unique<local::Receiver<std::string>>(std::move(ch.rx));
  auto main = [&]() -> Task<std::string> {
    EXPECT_TRUE(tx.try_send("first"));
    auto h = spawn([](local::Sender<std::string> tx) -> Task<std::string> {
      auto r = co_await tx.send("second");
      co_return r ? std::string("sent") : r.error().value;
    }(tx));
    co_await yield_now();
    rx.reset();
    co_return (co_await h).value();
  };
  EXPECT_EQ(rt.block_on(main()), "second");
}

TEST(Local, RecvWakesOnLastSenderDrop) {
  Runtime rt;
  auto ch = local::channel<int>(4).value();
  auto rx = std::move(ch.rx);
  auto tx = std::make_unique<local::Sender<int>>(std::move(ch.tx));
  auto main = [&]() -> Task<bool> {
    auto h = spawn([](local::Receiver<int>* rx) -> Task<bool> {
      auto r = co_await rx->recv();
      co_return !r && r.error() == RecvError::Closed;
    }(&rx));
    co_await yield_now();
    tx.reset();
    co_return (co_await h).value();
  };
  EXPECT_TRUE(rt.block_on(main()));
}

TEST(Local, AbortSuspendedRecvThenNextRecvStillWoken) {
  Runtime rt;
  auto [tx, rx] = local::channel<int>(2).value();
  auto main = [&]() -> Task<int> {
    auto h = spawn(recv_one(&rx));
    co_await yield_now();
    h.abort();  // its waiter unlinks
    auto h2 = spawn(recv_one(&rx));
    co_await yield_now();
    EXPECT_TRUE(tx.try_send(11));
    co_return (co_await h2).value();
  };
  EXPECT_EQ(rt.block_on(main()), 11);
}

TEST(Local, AbortReceiverAfterWakeLosesNothing) {
  Runtime rt;
  auto [tx, rx] = local::channel<int>(2).value();
  auto main = [&]() -> Task<int> {
    auto h = spawn(recv_one(&rx));
    co_await yield_now();
    EXPECT_TRUE(tx.try_send(21));  // wakes h (queued, not yet resumed)
    h.abort();
    co_return (co_await rx.recv()).value();  // the value is still there
  };
  EXPECT_EQ(rt.block_on(main()), 21);
}

TEST(Local, AbortBlockedSenderKeepsOrderOfOthers) {
  Runtime rt;
  auto [tx, rx] = local::channel<int>(1).value();
  auto main = [&]() -> Task<std::vector<int>> {
    EXPECT_TRUE(tx.try_send(0));
    auto s = [](local::Sender<int> tx, int v) -> Task<> { (void)co_await tx.send(v); };
    auto a = spawn(s(tx, 1));
    auto b = spawn(s(tx, 2));
    auto c = spawn(s(tx, 3));
    co_await yield_now();
    b.abort();  // its value is dropped, the others keep their turn
    std::vector<int> got;
    for (int i = 0; i < 3; ++i) got.push_back((co_await rx.recv()).value());
    co_return got;
  };
  EXPECT_EQ(rt.block_on(main()), (std::vector<int>{0, 1, 3}));
}

TEST(Local, ReceiverSentThroughChannelToRunningTask) {
  // A controller hands a data Receiver to an already-running worker through a control channel.
  Runtime rt;
  auto [ctl_tx, ctl_rx] = local::channel<local::Receiver<int>>(1).value();
  auto worker = [](local::Receiver<local::Receiver<int>> ctl) -> Task<long> {
    auto data = (co_await ctl.recv()).value();  // wired after start-up
    long sum = 0;
    while (auto v = co_await data.recv()) sum += *v;
    co_return sum;
  };
  auto main = [&]() -> Task<long> {
    auto w = spawn(worker(std::move(ctl_rx)));
    co_await yield_now();  // the worker is running and waiting for its input
    auto [tx, rx] = local::channel<int>(8).value();
    EXPECT_TRUE(co_await ctl_tx.send(std::move(rx)));
    for (int i = 1; i <= 100; ++i) EXPECT_TRUE(co_await tx.send(i));
    { auto done = std::move(tx); }
    co_return (co_await w).value();
  };
  EXPECT_EQ(rt.block_on(main()), 5050);
}

TEST(Local, SenderSentThroughChannel) {
  Runtime rt;
  auto [ctl_tx, ctl_rx] = local::channel<local::Sender<int>>(1).value();
  auto [tx, rx] = local::channel<int>(4).value();
  auto main = [&]() -> Task<int> {
    auto w = spawn([](local::Receiver<local::Sender<int>> ctl) -> Task<> {
      auto out = (co_await ctl.recv()).value();
      (void)co_await out.send(77);
    }(std::move(ctl_rx)));
    EXPECT_TRUE(ctl_tx.try_send(std::move(tx)));
    auto v = co_await rx.recv();
    (void)co_await w;
    co_return v.value();
  };
  EXPECT_EQ(rt.block_on(main()), 77);
}
