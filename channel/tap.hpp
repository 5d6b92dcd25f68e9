// Tap: mirrors every message a typed channel delivers into a logbuf, so traffic between tasks
// stays traceable (a journal or a monitor reads the log).
//
// Why an adaptor: a sender that is not tapped is the plain Sender and pays nothing at all; a
// tapped one is TappedSender<Sender, Tap>, which forwards to the Sender and, for each message
// the channel accepted, appends one record to the log:
//
//   TapHeader { channel_id, message bytes, sequence, timestamp } + message
//
// Only accepted messages are recorded (a Full or Closed send is not). The tap never blocks
// the sender: when the log has no room the record is dropped and counted (dropped()), and the
// reader sees the gap in the sequence numbers. Messages are copied byte for byte, so T must be
// trivially copyable. With an MpscLogbuf, senders on several threads may share one Tap;
// records of different threads may then appear slightly out of sequence order.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace sluice {

struct TapHeader {
  uint32_t channel_id;
  uint32_t bytes;     // size of the message that follows
  uint64_t sequence;  // per Tap, from 0
  int64_t timestamp;  // from the Tap's clock: steady-clock ns, or TSC ticks
};
static_assert(sizeof(TapHeader) == 24);

inline constexpr uint16_t kTapKind = 0x7A70;  // default record kind of tap records

// Timestamp sources. SteadyNs is comparable across threads and processes (CLOCK_MONOTONIC);
// Tsc is the cycle counter (invariant TSC on current x86), cheaper where clock_gettime is
// slow (on the VMs measured here: ~29 ns against ~12 ns), converted with cycles_per_ns().
struct TapSteadyNs {
  static int64_t now() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};
struct TapTsc {
  static int64_t now() noexcept {
#if defined(__x86_64__)
    return static_cast<int64_t>(__builtin_ia32_rdtsc());
#else
    return TapSteadyNs::now();
#endif
  }
};

// Log: SpscLogbuf (one sending thread) or MpscLogbuf (senders on several threads).
template <class Log, class Clock = TapSteadyNs>
class Tap {
 public:
  Tap(Log& log, uint32_t channel_id, uint16_t kind = kTapKind) noexcept
      : log_(&log), id_(channel_id), kind_(kind) {}
  Tap(const Tap&) = delete;
  Tap& operator=(const Tap&) = delete;

  template <class T>
  void record(const T& v) noexcept {
    static_assert(std::is_trivially_copyable_v<T>, "a tap copies messages byte for byte");
    const uint64_t seq = next_sequence();
    auto c = log_->try_claim(sizeof(TapHeader) + sizeof(T), kind_);
    if (!c) [[unlikely]] {
      // relaxed: a statistic; nothing is ordered by it.
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const TapHeader h{id_, static_cast<uint32_t>(sizeof(T)), seq, Clock::now()};
    std::memcpy(c->data(), &h, sizeof h);
    std::memcpy(c->data() + sizeof h, &v, sizeof(T));
    c->commit();
  }

  uint32_t channel_id() const noexcept { return id_; }
  uint64_t sequenced() const noexcept {
    if constexpr (Log::kMulti)
      return seq_.load(std::memory_order_relaxed);  // relaxed: a statistic
    else
      return seq_;
  }
  uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);  // relaxed: a statistic
  }

 private:
  uint64_t next_sequence() noexcept {
    if constexpr (Log::kMulti)
      return seq_.fetch_add(1, std::memory_order_relaxed);  // relaxed: only uniqueness matters
    else
      return seq_++;
  }

  Log* log_;
  uint32_t id_;
  uint16_t kind_;
  // One writer thread with an SPSC log: a plain counter; several with an MPSC log: atomic.
  std::conditional_t<Log::kMulti, std::atomic<uint64_t>, uint64_t> seq_{0};
  std::atomic<uint64_t> dropped_{0};
};

// A sender that records what it delivers. Sender is any typed channel's sender
// (local::Sender<T>, spsc::Sender<T>, mpsc::Sender<T>); copyable where Sender is.
template <class Sender, class TapT>
class TappedSender {
 public:
  using value_type = typename Sender::value_type;
  static_assert(std::is_trivially_copyable_v<value_type>, "a tap copies messages byte for byte");

  TappedSender(Sender s, TapT& tap) noexcept : s_(std::move(s)), tap_(&tap) {}

  auto try_send(value_type v) noexcept {
    const value_type copy = v;
    auto r = s_.try_send(std::move(v));
    if (r) tap_->record(copy);
    return r;
  }

  // The inner send's awaitable, recording on success when it completes.
  template <class Op>
  class [[nodiscard]] SendOp {
   public:
    SendOp(Op op, const value_type& v, TapT* tap) noexcept
        : op_(std::move(op)), copy_(v), tap_(tap) {}
    bool await_ready() { return op_.await_ready(); }
    decltype(auto) await_suspend(std::coroutine_handle<> h) { return op_.await_suspend(h); }
    auto await_resume() {
      auto r = op_.await_resume();
      if (r) tap_->record(copy_);
      return r;
    }

   private:
    Op op_;
    value_type copy_;
    TapT* tap_;
  };
  auto send(value_type v) noexcept {
    const value_type copy = v;
    return SendOp<decltype(s_.send(std::move(v)))>(s_.send(std::move(v)), copy, tap_);
  }

  // Plain threads (cross-thread senders only).
  auto send_blocking(value_type v) {
    const value_type copy = v;
    auto r = s_.send_blocking(std::move(v));
    if (r) tap_->record(copy);
    return r;
  }

  Sender& inner() noexcept { return s_; }
  TapT& tap() noexcept { return *tap_; }

 private:
  Sender s_;
  TapT* tap_;
};

template <class Sender, class Log, class Clock>
TappedSender<Sender, Tap<Log, Clock>> tapped(Sender s, Tap<Log, Clock>& tap) noexcept {
  return TappedSender<Sender, Tap<Log, Clock>>(std::move(s), tap);
}

}  // namespace sluice
