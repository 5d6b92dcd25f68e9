// Scenarios: a streaming network with backpressure, and producers behind a throttle.
//
// Streaming: N producers -> transform -> consumer, every channel small, the consumer slow (it
// pauses after every batch, as a sink flushing to disk would). The small capacities are the
// backpressure: a producer that finds its channel full waits in send() until the stages after
// it catch up, so the whole network runs at the consumer's pace and the queues never grow past
// their capacity. Each producer numbers its messages and the consumer checks them: nothing
// lost, duplicated or reordered per producer, and every payload transformed exactly once.
// Two layouts: every stage a task on one runtime (local channels), or each stage on a runtime
// of its own thread (mpsc from the producers, spsc to the consumer).
//
// Throttle: 100 producers share one channel behind a Throttle of 4 tickets. A producer holds
// its ticket (the Receipt) until the consumer acknowledges its request, so at most 4 requests
// are ever in flight, however large the channel, and the consumer takes no part in it.
//
// Header-only so that the example (examples/streaming.cpp) and the tests
// (tests/examples/scenarios_test.cpp) run the very same code. Setup failures come back in the
// result, never as an exception or a crash.
#pragma once

#include <sluice/channel/local.hpp>
#include <sluice/channel/mpsc.hpp>
#include <sluice/channel/spsc.hpp>
#include <sluice/channel/throttle.hpp>
#include <sluice/runtime/runtime.hpp>
#include <sluice/runtime/task.hpp>
#include <sluice/runtime/time.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::scenarios {

// ------------------------------------------------------------------------------ streaming

enum class StreamLayout : uint8_t {
  one_runtime,    // producers, transform and consumer are tasks of one runtime
  three_threads,  // producers, transform and consumer each on a runtime of their own thread
};
inline const char* to_string(StreamLayout l) noexcept {
  return l == StreamLayout::one_runtime ? "one runtime" : "three threads";
}

struct StreamingConfig {
  StreamLayout layout = StreamLayout::one_runtime;
  uint32_t producers = 4;
  uint64_t per_producer = 20000;
  std::size_t capacity = 4;       // of every channel (per producer for mpsc): small on purpose
  uint32_t consumer_batch = 256;  // the consumer pauses after this many...
  std::chrono::microseconds consumer_pause{1000};  // ...for this long: a slow sink
  IdlePolicy idle = IdlePolicy::park();
  std::atomic<long>* progress = nullptr;  // bumped per message consumed (watchdogs); may be null
};

struct Tick {
  uint32_t producer;
  uint64_t seq;
  uint64_t payload;
};
struct Priced {
  uint32_t producer;
  uint64_t seq;
  uint64_t value;  // transform(payload)
};

struct StreamingResult {
  StreamLayout layout = StreamLayout::one_runtime;
  std::string error;  // empty, or why the scenario could not be set up
  uint32_t producers = 0;
  uint64_t per_producer = 0;
  std::size_t capacity = 0;  // as the channels rounded it

  uint64_t produced = 0;
  uint64_t transformed = 0;
  uint64_t consumed = 0;
  // Sends that found their channel full and had to wait: the backpressure, counted.
  uint64_t producer_waits = 0;
  uint64_t transform_waits = 0;
  // Deepest queue seen right after a send (local channels only: the cross-thread senders do not
  // expose a depth; 0 then).
  std::size_t max_depth_in = 0;
  std::size_t max_depth_out = 0;
  bool depth_observed = false;

  // Checked at the consumer, per producer.
  uint64_t gaps = 0;          // sequence numbers skipped (lost messages)
  uint64_t out_of_order = 0;  // a sequence number below the next expected (duplicate/reorder)
  uint64_t missing = 0;       // never arrived by the end
  uint64_t corrupt = 0;       // unknown producer, or a value the transform did not produce

  double producers_done_s = 0;  // when the last producer had sent its last message
  double consumer_done_s = 0;   // when the consumer saw the channel close

  bool sequences_intact() const noexcept {
    return gaps == 0 && out_of_order == 0 && missing == 0 && corrupt == 0 &&
           consumed == uint64_t{producers} * per_producer;
  }
  bool backpressure_seen() const noexcept {
    return producer_waits > 0 &&
           (!depth_observed || (max_depth_in <= capacity && max_depth_out <= capacity));
  }
  bool passed() const noexcept {
    return error.empty() && produced == consumed && transformed == consumed && sequences_intact() &&
           backpressure_seen();
  }
};

namespace streaming_detail {

// What producer p sends as message seq, and what the transform makes of it: the consumer
// recomputes both, so a value that was mixed up, duplicated or half-written shows.
inline uint64_t payload(uint32_t p, uint64_t seq) noexcept {
  return (uint64_t{p} << 48) ^ (seq * 0x9E3779B97F4A7C15ull);
}
inline uint64_t transform(uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  return x ^ (x >> 33);
}
inline double since(Clock::time_point t0) noexcept {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Deepest queue right after a send, where the sender can tell (local channels).
template <class Tx>
void note_depth(const Tx& tx, std::size_t& max_depth) noexcept {
  if constexpr (requires { tx.size(); }) max_depth = std::max(max_depth, tx.size());
}

struct ProducerOut {
  uint64_t sent = 0;
  uint64_t waits = 0;
  std::size_t max_depth = 0;
};

template <class Tx>
Task<ProducerOut> producer(Tx tx, uint32_t id, uint64_t n) {
  ProducerOut out;
  for (uint64_t seq = 0; seq < n; ++seq) {
    // try_send first, so that a send which has to wait can be counted; then wait for room.
    auto r = tx.try_send(Tick{id, seq, payload(id, seq)});
    if (!r) {
      if (r.error().code == SendErrc::Closed) break;  // the transform is gone
      ++out.waits;
      auto again = co_await tx.send(std::move(r.error().value));
      if (!again) break;
    }
    note_depth(tx, out.max_depth);
    ++out.sent;
  }
  co_return out;
}

struct TransformOut {
  uint64_t forwarded = 0;
  uint64_t waits = 0;
  std::size_t max_depth = 0;
};

template <class Rx, class Tx>
Task<TransformOut> transformer(Rx in, Tx out_tx) {
  TransformOut out;
  for (;;) {
    auto m = co_await in.recv();
    if (!m) break;  // every producer is done and the channel is drained
    auto r = out_tx.try_send(Priced{m->producer, m->seq, transform(m->payload)});
    if (!r) {
      if (r.error().code == SendErrc::Closed) break;
      ++out.waits;
      auto again = co_await out_tx.send(std::move(r.error().value));
      if (!again) break;
    }
    note_depth(out_tx, out.max_depth);
    ++out.forwarded;
  }
  co_return out;  // dropping out_tx closes the consumer's channel
}

struct ConsumerOut {
  uint64_t consumed = 0;
  uint64_t gaps = 0;
  uint64_t out_of_order = 0;
  uint64_t missing = 0;
  uint64_t corrupt = 0;
  double done_s = 0;
};

template <class Rx>
Task<ConsumerOut> consumer(Rx in, const StreamingConfig* cfg, Clock::time_point t0) {
  ConsumerOut out;
  std::vector<uint64_t> next(cfg->producers, 0);
  for (;;) {
    auto m = co_await in.recv();
    if (!m) break;
    ++out.consumed;
    if (cfg->progress != nullptr) cfg->progress->fetch_add(1, std::memory_order_relaxed);
    if (m->producer >= cfg->producers || m->value != transform(payload(m->producer, m->seq))) {
      ++out.corrupt;
      continue;
    }
    uint64_t& want = next[m->producer];
    if (m->seq < want) {
      ++out.out_of_order;
    } else {
      out.gaps += m->seq - want;
      want = m->seq + 1;
    }
    if (cfg->consumer_batch != 0 && out.consumed % cfg->consumer_batch == 0)
      co_await sleep_for(cfg->consumer_pause);  // the slow sink
  }
  for (uint64_t n : next) out.missing += cfg->per_producer - std::min(n, cfg->per_producer);
  out.done_s = since(t0);
  co_return out;
}

struct ProducersOut {
  uint64_t sent = 0;
  uint64_t waits = 0;
  std::size_t max_depth = 0;
  double done_s = 0;
  std::string error;
};

// Spawns one producer per sender (clones of `tx`) and waits for them all.
template <class Tx>
Task<ProducersOut> producers(Tx tx, const StreamingConfig* cfg, Clock::time_point t0) {
  ProducersOut out;
  std::vector<JoinHandle<ProducerOut>> hs;
  hs.reserve(cfg->producers);
  for (uint32_t p = 0; p < cfg->producers; ++p) {
    Tx mine;
    if (p + 1 == cfg->producers) {
      mine = std::move(tx);
    } else if constexpr (requires { tx.try_clone(); }) {
      auto c = tx.try_clone();  // an mpsc sender: a new lane, which may need memory
      if (!c) {
        out.error = "producer sender could not be cloned";
        break;
      }
      mine = std::move(*c);
    } else {
      mine = tx;
    }
    hs.push_back(spawn(producer(std::move(mine), p, cfg->per_producer)));
  }
  { auto gone = std::move(tx); }  // on a clone error: close the channel so the rest ends
  for (auto& h : hs) {
    auto r = co_await h;
    if (!r) continue;
    out.sent += r->sent;
    out.waits += r->waits;
    out.max_depth = std::max(out.max_depth, r->max_depth);
  }
  out.done_s = since(t0);
  co_return out;
}

inline void merge(StreamingResult& r, const ProducersOut& p, const TransformOut& t,
                  const ConsumerOut& c) {
  if (r.error.empty()) r.error = p.error;
  r.produced = p.sent;
  r.producer_waits = p.waits;
  r.max_depth_in = p.max_depth;
  r.transformed = t.forwarded;
  r.transform_waits = t.waits;
  r.max_depth_out = t.max_depth;
  r.consumed = c.consumed;
  r.gaps = c.gaps;
  r.out_of_order = c.out_of_order;
  r.missing = c.missing;
  r.corrupt = c.corrupt;
  r.producers_done_s = p.done_s;
  r.consumer_done_s = c.done_s;
}

struct OneRuntimeOut {
  ProducersOut producers;
  TransformOut transform;
  ConsumerOut consumer;
};

inline Task<OneRuntimeOut> one_runtime(local::Sender<Tick> ptx, local::Receiver<Tick> prx,
                                       local::Sender<Priced> ctx, local::Receiver<Priced> crx,
                                       const StreamingConfig* cfg, Clock::time_point t0) {
  OneRuntimeOut out;
  JoinHandle<TransformOut> th = spawn(transformer(std::move(prx), std::move(ctx)));
  JoinHandle<ConsumerOut> ch = spawn(consumer(std::move(crx), cfg, t0));
  out.producers = co_await producers(std::move(ptx), cfg, t0);
  auto t = co_await th;
  if (t) out.transform = *t;
  auto c = co_await ch;
  if (c) out.consumer = std::move(*c);
  co_return out;
}

inline RuntimeConfig runtime_config(const StreamingConfig& cfg) {
  RuntimeConfig rc;
  rc.idle = cfg.idle;
  return rc;
}

inline StreamingResult run_one_runtime(const StreamingConfig& cfg, StreamingResult r) {
  auto rt = Runtime::make(runtime_config(cfg));
  if (!rt) {
    r.error = std::string("runtime: ") + to_string(rt.error());
    return r;
  }
  auto in = local::channel<Tick>(cfg.capacity);
  auto out = local::channel<Priced>(cfg.capacity);
  if (!in || !out) {
    r.error = "channel could not be built";
    return r;
  }
  r.capacity = in->tx.capacity();
  r.depth_observed = true;
  const auto t0 = Clock::now();
  OneRuntimeOut o = (*rt)->block_on(one_runtime(std::move(in->tx), std::move(in->rx),
                                                std::move(out->tx), std::move(out->rx), &cfg, t0));
  merge(r, o.producers, o.transform, o.consumer);
  return r;
}

// Each stage's runtime is built on its own thread, so its tasks and slab stay there. `make`
// holds the stage's endpoints and makes its task there.
template <class T, class Make>
std::string run_on_thread(std::thread& th, const StreamingConfig& cfg, T* out, std::string* error,
                          Make make) {
  try {
    th = std::thread([&cfg, out, error, make = std::move(make)]() mutable {
      auto rt = Runtime::make(runtime_config(cfg));
      if (!rt) {
        *error = std::string("stage runtime: ") + to_string(rt.error());
        Make gone = std::move(make);  // its neighbours see their channels close and end
        return;
      }
      *out = (*rt)->block_on(make());
    });
  } catch (const std::system_error& e) {
    return std::string("thread: ") + e.what();
  }
  return {};
}

inline StreamingResult run_three_threads(const StreamingConfig& cfg, StreamingResult r) {
  auto in = mpsc::channel<Tick>(cfg.capacity);
  auto out = spsc::channel<Priced>(cfg.capacity);
  if (!in || !out) {
    r.error = "channel could not be built";
    return r;
  }
  r.capacity = in->tx.capacity();
  const auto t0 = Clock::now();
  ProducersOut p;
  TransformOut t;
  std::thread producer_thread;
  std::thread transform_thread;
  // Each stage's task is made inside its thread's runtime (a frame belongs to the runtime
  // that made it), from endpoints moved into the thread.
  struct ProducerStage {
    mpsc::Sender<Tick> tx;
    const StreamingConfig* cfg = nullptr;
    Clock::time_point t0{};
    Task<ProducersOut> operator()() { return producers(std::move(tx), cfg, t0); }
  };
  struct TransformStage {
    mpsc::Receiver<Tick> rx;
    spsc::Sender<Priced> tx;
    Task<TransformOut> operator()() { return transformer(std::move(rx), std::move(tx)); }
  };
  std::string rt1, rt2;  // written by the stage threads, read after they are joined
  std::string e1 =
      run_on_thread(producer_thread, cfg, &p, &rt1, ProducerStage{std::move(in->tx), &cfg, t0});
  std::string e2 = run_on_thread(transform_thread, cfg, &t, &rt2,
                                 TransformStage{std::move(in->rx), std::move(out->tx)});
  ConsumerOut c;
  if (auto rt = Runtime::make(runtime_config(cfg))) {
    c = (*rt)->block_on(consumer(std::move(out->rx), &cfg, t0));
  } else {
    r.error = std::string("consumer runtime: ") + to_string(rt.error());
    auto gone = std::move(out->rx);
  }
  if (producer_thread.joinable()) producer_thread.join();
  if (transform_thread.joinable()) transform_thread.join();
  merge(r, p, t, c);
  for (const std::string* e : {&e1, &e2, &rt1, &rt2})
    if (r.error.empty()) r.error = *e;
  return r;
}

}  // namespace streaming_detail

[[nodiscard]] inline StreamingResult run_streaming(const StreamingConfig& cfg) {
  StreamingResult r;
  r.layout = cfg.layout;
  r.producers = cfg.producers;
  r.per_producer = cfg.per_producer;
  if (cfg.producers == 0) {
    r.error = "no producers";
    return r;
  }
  if (cfg.layout == StreamLayout::one_runtime)
    return streaming_detail::run_one_runtime(cfg, std::move(r));
  return streaming_detail::run_three_threads(cfg, std::move(r));
}

// ------------------------------------------------------------------------------ throttle

struct ThrottleConfig {
  uint32_t producers = 100;
  std::size_t tickets = 4;
  std::size_t capacity = 64;               // the channel alone would let 64 requests queue up
  std::chrono::microseconds service{200};  // the consumer's time per request
  IdlePolicy idle = IdlePolicy::park();
};

struct ThrottleResult {
  std::string error;
  uint32_t producers = 0;
  std::size_t tickets = 0;
  std::size_t capacity = 0;
  uint64_t completed = 0;       // requests acknowledged
  uint64_t failures = 0;        // a send or an acknowledgement that went wrong
  uint64_t max_in_flight = 0;   // Receipts held at once, counted by the producers
  std::size_t max_queued = 0;   // requests the consumer saw outstanding (its own included)
  std::size_t max_waiting = 0;  // producers queued for a ticket at once
  std::size_t tickets_free_after = 0;
  double elapsed_s = 0;

  bool passed() const noexcept {
    return error.empty() && failures == 0 && completed == producers && max_in_flight == tickets &&
           max_queued <= tickets && tickets_free_after == tickets;
  }
};

namespace throttle_detail {

struct Request {
  uint32_t producer;
  local::Sender<uint32_t> reply;  // the consumer acknowledges here
};

struct Shared {
  uint64_t in_flight = 0;
  ThrottleResult* r;
};

// A producer is in flight from the moment it holds a ticket until its request is acknowledged;
// only then does it give the ticket back.
inline Task<void> requester(Throttle<Request>* th, uint32_t id, Shared* s) {
  ThrottleResult& r = *s->r;
  auto ack = local::channel<uint32_t>(1);
  if (!ack) {
    ++r.failures;
    co_return;
  }
  Request req{id, std::move(ack->tx)};  // named: g++ 12 mishandles a braced temporary here
  auto sent = co_await th->send(std::move(req));
  if (!sent) {
    ++r.failures;
    co_return;
  }
  Receipt receipt = std::move(*sent);
  ++s->in_flight;
  r.max_in_flight = std::max(r.max_in_flight, s->in_flight);
  r.max_waiting = std::max(r.max_waiting, th->producers_waiting());
  auto got = co_await ack->rx.recv();
  if (!got || *got != id) ++r.failures;
  --s->in_flight;
  receipt.release();  // the next producer waiting for a ticket goes now
  ++r.completed;
}

// Serves requests one at a time; knows nothing of the throttle.
inline Task<void> server(local::Receiver<Request> rx, std::chrono::microseconds service,
                         ThrottleResult* r) {
  for (;;) {
    auto req = co_await rx.recv();
    if (!req) break;  // the throttle (the last Sender) is gone
    r->max_queued = std::max(r->max_queued, rx.size() + 1);
    co_await sleep_for(service);
    auto ok = req->reply.try_send(req->producer);  // capacity 1, used once: never full
    if (!ok) ++r->failures;
  }
}

inline Task<void> root(const ThrottleConfig* cfg, ThrottleResult* r) {
  auto ch = local::channel<Request>(cfg->capacity);
  if (!ch) {
    r->error = "channel could not be built";
    co_return;
  }
  r->capacity = ch->tx.capacity();
  JoinHandle<void> srv;
  {
    auto th = Throttle<Request>::make(std::move(ch->tx), cfg->tickets);
    if (!th) {
      r->error = std::string("throttle: ") + to_string(th.error());
      co_return;
    }
    srv = spawn(server(std::move(ch->rx), cfg->service, r));
    Shared s{0, r};
    std::vector<JoinHandle<void>> hs;
    hs.reserve(cfg->producers);
    for (uint32_t i = 0; i < cfg->producers; ++i) hs.push_back(spawn(requester(&*th, i, &s)));
    for (auto& h : hs) (void)co_await h;
    r->tickets_free_after = th->tickets_free();
  }  // the Throttle, and with it the last Sender, goes: the server drains and ends
  (void)co_await srv;
}

}  // namespace throttle_detail

[[nodiscard]] inline ThrottleResult run_throttle(const ThrottleConfig& cfg) {
  ThrottleResult r;
  r.producers = cfg.producers;
  r.tickets = cfg.tickets;
  RuntimeConfig rc;
  rc.idle = cfg.idle;
  auto rt = Runtime::make(rc);
  if (!rt) {
    r.error = std::string("runtime: ") + to_string(rt.error());
    return r;
  }
  const auto t0 = Clock::now();
  (*rt)->block_on(throttle_detail::root(&cfg, &r));
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

}  // namespace sluice::scenarios
