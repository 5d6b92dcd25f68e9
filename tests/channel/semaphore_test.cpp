// Semaphore and Throttle: FIFO grants, no permit leaks on abort, bounded producers in flight.
#include <gtest/gtest.h>

#include <sluice/sluice.hpp>

#include <vector>

using namespace sluice;

namespace {
// Acquires one permit and releases it on return.
Task<> hold_briefly(Semaphore* s) { auto p = co_await s->acquire(); }
}  // namespace

TEST(Semaphore, TryAcquireAndRelease) {
  Semaphore s(2);
  auto a = s.try_acquire();
  auto b = s.try_acquire();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  auto c = s.try_acquire();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), AcquireError::NoPermit);
  a.value().release();
  EXPECT_EQ(s.available(), 1u);
}

TEST(Semaphore, WaitersGrantedFifo) {
  Runtime rt;
  Semaphore s(1);
  std::vector<int> order;
  auto w = [](Semaphore* s, std::vector<int>* o, int id) -> Task<> {
    auto p = co_await s->acquire();
    o->push_back(id);
    co_await yield_now();
  };
  auto main = [&]() -> Task<> {
    auto held = s.try_acquire();
    std::vector<JoinHandle<void>> hs;
    for (int i = 0; i < 5; ++i) hs.push_back(spawn(w(&s, &order, i)));
    co_await yield_now();
    EXPECT_EQ(s.waiters(), 5u);
    EXPECT_FALSE(s.try_acquire());  // must not overtake waiters
    held.value().release();
    for (auto& h : hs) (void)co_await h;
  };
  rt.block_on(main());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(s.available(), 1u);
}

TEST(Semaphore, AbortedWaiterLeaksNoPermit) {
  Runtime rt;
  Semaphore s(1);
  auto main = [&]() -> Task<> {
    auto held = s.try_acquire();
    auto a = spawn(hold_briefly(&s));
    auto b = spawn(hold_briefly(&s));
    co_await yield_now();
    a.abort();               // aborted while waiting
    held.value().release();  // granted to b
    co_await yield_now();
    auto c = spawn(hold_briefly(&s));
    co_await yield_now();
    held = s.try_acquire();
    (void)co_await b;
    (void)co_await c;
  };
  rt.block_on(main());
  EXPECT_EQ(s.available(), 1u);
}

TEST(Semaphore, GrantedButAbortedBeforeResumeReturnsPermit) {
  Runtime rt;
  Semaphore s(1);
  auto main = [&]() -> Task<> {
    auto held = s.try_acquire();
    auto a = spawn(hold_briefly(&s));
    co_await yield_now();
    held.value().release();  // handed to a, which is queued but has not run
    a.abort();
    EXPECT_EQ(s.available(), 1u);
    co_return;
  };
  rt.block_on(main());
}

TEST(Throttle, HundredProducersFourTicketsNeverMoreThanFourInFlight) {
  Runtime rt;
  auto [tx, rx] = local::channel<int>(64).value();
  auto th = std::move(*Throttle<int>::make(std::move(tx), 4));
  int in_flight = 0, max_in_flight = 0, sent = 0;
  auto producer = [&](int id) -> Task<> {
    auto r = co_await th.send(id);
    EXPECT_TRUE(r);
    ++sent;
    ++in_flight;
    max_in_flight = std::max(max_in_flight, in_flight);
    for (int i = 0; i < id % 5 + 1; ++i) co_await yield_now();  // work while holding the ticket
    --in_flight;
  };  // the Receipt is destroyed here: the ticket is released
  auto main = [&]() -> Task<long> {
    std::vector<JoinHandle<void>> hs;
    for (int i = 0; i < 100; ++i) hs.push_back(spawn(producer(i)));
    long sum = 0;
    for (int i = 0; i < 100; ++i) sum += (co_await rx.recv()).value();
    for (auto& h : hs) (void)co_await h;
    co_return sum;
  };
  EXPECT_EQ(rt.block_on(main()), 4950);
  EXPECT_EQ(sent, 100);
  EXPECT_EQ(max_in_flight, 4);
  EXPECT_EQ(th.tickets_free(), 4u);
}

TEST(Throttle, ClosedChannelReturnsValueAndTicket) {
  Runtime rt;
  auto ch = local::channel<int>(1).value();
  auto th = std::move(*Throttle<int>::make(std::move(ch.tx), 2));
  { auto rx = std::move(ch.rx); }
  auto main = [&]() -> Task<int> {
    auto r = co_await th.send(9);
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error().code, SendErrc::Closed);
    co_return r.error().value;
  };
  EXPECT_EQ(rt.block_on(main()), 9);
  EXPECT_EQ(th.tickets_free(), 2u);
}

// Bad input comes back as a value and takes nothing: the sender stays with the caller, and
// the channel stays open and usable.
TEST(Throttle, ZeroTicketsOrNoSenderIsAnErrorAndKeepsTheSender) {
  Runtime rt;
  auto ch = local::channel<int>(4).value();
  auto zero = Throttle<int>::make(std::move(ch.tx), 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error(), ThrottleError::ZeroTickets);
  EXPECT_STREQ(to_string(ThrottleError::ZeroTickets), "zero tickets");
  ASSERT_TRUE(static_cast<bool>(ch.tx));  // not moved from
  EXPECT_TRUE(ch.tx.try_send(5));
  EXPECT_EQ(ch.rx.try_recv().value(), 5);

  local::Sender<int> empty;
  auto none = Throttle<int>::make(std::move(empty), 2);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), ThrottleError::NoSender);

  // The same sender then makes a working throttle, which can be moved while a receipt lives.
  auto th = std::move(*Throttle<int>::make(std::move(ch.tx), 1));
  auto r = rt.block_on([](Throttle<int>* th) -> Task<Throttle<int>::SendResult> {
    co_return co_await th->send(6);
  }(&th));
  ASSERT_TRUE(r);
  EXPECT_EQ(th.tickets_free(), 0u);
  Throttle<int> moved = std::move(th);
  EXPECT_EQ(moved.tickets_free(), 0u);
  r->release();
  EXPECT_EQ(moved.tickets_free(), 1u);
  EXPECT_EQ(ch.rx.try_recv().value(), 6);
}

// A producer that got a ticket but found the channel full keeps the ticket while it waits for
// room (so at most `tickets` producers are ever in flight), and its value lands in order.
TEST(Throttle, TicketHeldWhileWaitingForRoom) {
  Runtime rt;
  auto ch = local::channel<int>(1).value();
  auto th = std::move(*Throttle<int>::make(std::move(ch.tx), 2));
  auto main = [&]() -> Task<std::vector<int>> {
    auto a = co_await th.send(1);  // ticket and slot free: completes inline
    EXPECT_TRUE(a);
    EXPECT_EQ(th.tickets_free(), 1u);
    auto b = spawn([](Throttle<int>* th) -> Task<bool> {
      auto r = co_await th->send(2);  // takes the last ticket, then waits for room
      co_return static_cast<bool>(r);
    }(&th));
    co_await yield_now();  // b runs: ticket taken, channel full
    EXPECT_FALSE(b.is_finished());
    EXPECT_EQ(th.tickets_free(), 0u);
    std::vector<int> got;
    got.push_back((co_await ch.rx.recv()).value());  // frees the slot: b's value goes in
    EXPECT_TRUE((co_await b).value());
    got.push_back((co_await ch.rx.recv()).value());
    co_return got;
  };
  EXPECT_EQ(rt.block_on(main()), (std::vector<int>{1, 2}));
  EXPECT_EQ(th.tickets_free(), 2u);  // both receipts dropped
}

TEST(Throttle, TrySendGivesTheValueBackWhenItCannotSend) {
  Runtime rt;
  auto ch = local::channel<int>(1).value();
  auto th = std::move(*Throttle<int>::make(std::move(ch.tx), 2));
  auto first = th.try_send(1);
  ASSERT_TRUE(first);
  auto no_room = th.try_send(2);  // a ticket is free but the channel is full
  ASSERT_FALSE(no_room);
  EXPECT_EQ(no_room.error().code, SendErrc::Full);
  EXPECT_EQ(no_room.error().value, 2);
  EXPECT_EQ(th.tickets_free(), 1u);  // the ticket it took went back
  EXPECT_EQ(ch.rx.try_recv().value(), 1);
  auto second = th.try_send(3);
  ASSERT_TRUE(second);
  auto no_ticket = th.try_send(4);  // room, but both tickets are held
  ASSERT_FALSE(no_ticket);
  EXPECT_EQ(no_ticket.error().code, SendErrc::Full);
  EXPECT_EQ(no_ticket.error().value, 4);
  first->release();
  { auto rx = std::move(ch.rx); }  // receiver gone
  auto closed = th.try_send(5);
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error().code, SendErrc::Closed);
  EXPECT_EQ(closed.error().value, 5);
  EXPECT_EQ(th.tickets_free(), 1u);  // only `second` still holds one
}
