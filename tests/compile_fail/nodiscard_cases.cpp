// Discarding an awaitable or a Result must not compile under -Werror: `tx.send(v);` without
// co_await builds the operation and drops it, so the message is never sent and nothing says
// so. run.cmake compiles this file once per case with -DCASE=N (-fsyntax-only -Wall -Wextra
// -Werror): CASE=0 uses every API correctly and must compile; every other case discards one
// value and must fail with a diagnostic that mentions nodiscard.
//
// Adding a case: a new `#elif CASE == N  // label` block (run.cmake finds the cases from
// these lines; the label is what it prints).
//
// Nothing here runs: the objects are reached through a reference to Env, never built. use()
// and task() have external linkage so that no case trips -Wunused-function.
#include <sluice/sluice.hpp>

#include <chrono>

#ifndef CASE
#error "compile with -DCASE=N (0: the control, which must compile)"
#endif

using namespace sluice;
using namespace std::chrono_literals;

using Log = logbuf::SpscLogbuf;
using LocalTap = Tap<Log>;

struct Env {
  local::Sender<int> ltx;
  local::Receiver<int> lrx;
  spsc::Sender<int> stx;
  spsc::Receiver<int> srx;
  mpsc::Sender<int> mtx;
  mpsc::Receiver<int> mrx;
  spsc_bytes::Sender sbtx;
  spsc_bytes::Receiver sbrx;
  mpsc_bytes::Sender mbtx;
  mpsc_bytes::Receiver mbrx;
  Semaphore* sem;
  Notify* notify;
  CancellationToken token;
  Interval* interval;
  Throttle<int>* throttle;
  TappedSender<local::Sender<int>, LocalTap>* ttx;
  Runtime* rt;
};

Task<int> task() { co_return 1; }

// [[maybe_unused]]: some cases do not use e.
Task<> use([[maybe_unused]] Env& e) {
#if CASE == 0  // control: every API used correctly
  if (!co_await e.ltx.send(1)) co_return;
  if (auto v = co_await e.lrx.recv(); !v) co_return;
  if (!co_await e.stx.send(1)) co_return;
  if (auto v = co_await e.srx.recv(); !v) co_return;
  if (!co_await e.mtx.send(1)) co_return;
  if (auto v = co_await e.mrx.recv(); !v) co_return;
  if (auto c = co_await e.sbtx.claim(8); c) c->commit();
  if (auto r = co_await e.sbrx.recv(); !r) co_return;
  if (auto c = co_await e.mbtx.claim(8); c) c->commit();
  if (auto r = co_await e.mbrx.recv(); !r) co_return;
  if (!e.ltx.try_send(1)) co_return;
  if (!e.lrx.try_recv()) co_return;
  if (!e.stx.send_blocking(1)) co_return;
  co_await sleep_for(1ms);
  co_await sleep_until(Clock::now() + 1ms);
  if (!co_await timeout(1ms, task())) co_return;
  co_await yield_now();
  {
    auto permit = co_await e.sem->acquire();
    if (!permit) co_return;
  }
  co_await e.notify->wait();
  co_await e.token.cancelled();
  auto jh = spawn(task());
  if (!co_await jh) co_return;
  spawn(task()).detach();  // the explicit form of "run it, I do not wait for it"
  if (auto t = co_await e.interval->tick(); t == Clock::time_point{}) co_return;
  if (auto r = co_await e.throttle->send(1); !r) co_return;
  if (!co_await e.ttx->send(1)) co_return;
  if (auto h = e.rt->try_spawn(task()); h) (void)co_await *h;
  if (auto h = try_spawn(task()); h) (void)co_await *h;
  if (auto iv = Interval::make(1ms); !iv) co_return;
  (void)co_await e.rt->spawn(task());
  (void)co_await task();
#elif CASE == 1   // local::Sender::send without co_await
  e.ltx.send(1);
#elif CASE == 2   // local::Receiver::recv without co_await
  e.lrx.recv();
#elif CASE == 3   // spsc::Sender::send without co_await
  e.stx.send(1);
#elif CASE == 4   // spsc::Receiver::recv without co_await
  e.srx.recv();
#elif CASE == 5   // mpsc::Sender::send without co_await
  e.mtx.send(1);
#elif CASE == 6   // mpsc::Receiver::recv without co_await
  e.mrx.recv();
#elif CASE == 7   // spsc_bytes::Sender::claim without co_await
  e.sbtx.claim(8);
#elif CASE == 8   // spsc_bytes::Receiver::recv without co_await
  e.sbrx.recv();
#elif CASE == 9   // mpsc_bytes::Sender::claim without co_await
  e.mbtx.claim(8);
#elif CASE == 10  // mpsc_bytes::Receiver::recv without co_await
  e.mbrx.recv();
#elif CASE == 11  // local::Sender::try_send result ignored
  e.ltx.try_send(1);
#elif CASE == 12  // local::Receiver::try_recv result ignored
  e.lrx.try_recv();
#elif CASE == 13  // sleep_for without co_await
  sleep_for(1ms);
#elif CASE == 14  // timeout without co_await
  timeout(1ms, task());
#elif CASE == 15  // yield_now without co_await
  yield_now();
#elif CASE == 16  // Semaphore::acquire without co_await
  e.sem->acquire();
#elif CASE == 17  // Notify::wait without co_await
  e.notify->wait();
#elif CASE == 18  // CancellationToken::cancelled without co_await
  e.token.cancelled();
#elif CASE == 19  // JoinHandle from spawn dropped (detach() says so explicitly)
  spawn(task());
#elif CASE == 20  // Interval::tick without co_await
  e.interval->tick();
#elif CASE == 21  // Throttle::send without co_await
  e.throttle->send(1);
#elif CASE == 22  // Runtime::try_spawn result ignored
  e.rt->try_spawn(task());
#elif CASE == 23  // Interval::make result ignored
  Interval::make(1ms);
#elif CASE == 24  // sleep_until without co_await
  sleep_until(Clock::now() + 1ms);
#elif CASE == 25  // free try_spawn result ignored
  try_spawn(task());
#elif CASE == 26  // Runtime::spawn's JoinHandle dropped
  e.rt->spawn(task());
#elif CASE == 27  // a Task created and dropped (never runs)
  task();
#elif CASE == 28  // spsc::Sender::send_blocking result ignored
  e.stx.send_blocking(1);
#elif CASE == 29  // TappedSender::send without co_await
  e.ttx->send(1);
#elif CASE == 30  // Throttle::try_send result ignored
  e.throttle->try_send(1);
#elif CASE == 31  // Semaphore::try_acquire result ignored
  e.sem->try_acquire();
#else
#error "no such CASE"
#endif
  co_return;
}
