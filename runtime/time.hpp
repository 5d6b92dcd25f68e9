// Timers for tasks: sleep_for / sleep_until, timeout(duration, task), Interval.
//
// Every sleep is an awaiter holding its own TimerEntry, so arming a timer allocates nothing and
// destroying a sleeping task (abort, timeout) unlinks the entry in O(1).
//
// Deadlines saturate (detail/deadline.hpp): sleep_for(nanoseconds::max()) or
// timeout(hours::max(), t) means "forever", and no timer is armed for it.
#pragma once

#include <chrono>
#include <coroutine>

#include "detail/deadline.hpp"
#include "runtime.hpp"
#include "timer_wheel.hpp"

namespace sluice {

namespace detail {
inline void wake_timer_task(TimerEntry* e) noexcept {
  auto* t = static_cast<TaskHeader*>(e->ctx);
  t->rt->schedule(t);
}
}  // namespace detail

class [[nodiscard]] SleepAwaiter {
 public:
  explicit SleepAwaiter(Clock::time_point deadline) noexcept : deadline_(deadline) {}
  SleepAwaiter(const SleepAwaiter&) = delete;
  SleepAwaiter(SleepAwaiter&& o) noexcept : deadline_(o.deadline_) {}  // only before arming
  ~SleepAwaiter() {
    if (entry_.linked) rt_->remove_timer(&entry_);
  }
  bool await_ready() const noexcept { return Clock::now() >= deadline_; }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    detail::TaskHeader* cur = detail::tl_ctx.current;
    cur->leaf = h;
    rt_ = cur->rt;
    if (deadline_ == detail::kNever) return;  // forever: only an abort ends this wait
    entry_.deadline = TimerWheel::to_tick(deadline_);
    entry_.fire = &detail::wake_timer_task;
    entry_.ctx = cur;
    rt_->add_timer(&entry_);
  }
  void await_resume() const noexcept {}

 private:
  Clock::time_point deadline_;
  TimerEntry entry_{};
  Runtime* rt_ = nullptr;
};

[[nodiscard]] inline SleepAwaiter sleep_until(Clock::time_point t) noexcept {
  return SleepAwaiter(t);
}
// Saturating: a duration past what the clock holds sleeps forever (until aborted).
template <class Rep, class Period>
[[nodiscard]] SleepAwaiter sleep_for(std::chrono::duration<Rep, Period> d) noexcept {
  return SleepAwaiter(detail::deadline_after(d));
}

enum class TimeoutError : uint8_t { TimedOut };
inline const char* to_string(TimeoutError) noexcept { return "timed out"; }

namespace detail {
// Aborts a spawned inner task if the task that waits for it is destroyed first (itself
// aborted, timed out by an outer timeout, or its runtime torn down): detaching would leave the
// inner task running, with an I/O operation still writing into a buffer its caller freed.
template <class T>
struct AbortUnfinished {
  JoinHandle<T>* jh;
  ~AbortUnfinished() {
    if (jh->valid() && !jh->is_finished()) (void)jh->abort();
  }
};

// Waits until a spawned task finishes or a deadline passes, whichever is first; on resume it
// unregisters from the other so no stale wake can reach the task later.
template <class T>
struct JoinOrDeadline {
  JoinHandle<T>* jh;
  Clock::time_point deadline;
  TimerEntry entry{};
  TaskHeader* me = nullptr;

  bool await_ready() const noexcept { return jh->is_finished() || Clock::now() >= deadline; }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    me = tl_ctx.current;
    me->leaf = h;
    jh->header()->joiner = me;
    if (deadline == kNever) return;  // no deadline: wait for the task alone
    entry.deadline = TimerWheel::to_tick(deadline);
    entry.fire = &wake_timer_task;
    entry.ctx = me;
    me->rt->add_timer(&entry);
  }
  void await_resume() noexcept { cancel(); }
  ~JoinOrDeadline() { cancel(); }
  void cancel() noexcept {
    if (me == nullptr) return;
    if (entry.linked) me->rt->remove_timer(&entry);
    if (!jh->is_finished() && jh->header()->joiner == me) jh->header()->joiner = nullptr;
    me = nullptr;
  }
};
}  // namespace detail

// Runs `inner` as a separate task; returns its value, or TimedOut after `d`, in which case the
// inner task is aborted (its destructors run, its waiters unregister; so it is when the task
// running timeout() is itself destroyed first). If both are ready when
// the caller resumes, completion wins. An exception from `inner` propagates. A duration past
// what the clock holds means no deadline.
template <class T, class Rep, class Period>
Task<Result<T, TimeoutError>> timeout(std::chrono::duration<Rep, Period> d, Task<T> inner) {
  const auto deadline = detail::deadline_after(d);
  JoinHandle<T> jh = Runtime::current()->spawn(std::move(inner));
  detail::AbortUnfinished<T> guard{&jh};  // this task destroyed first: the inner one goes too
  // Named, not a braced temporary inside co_await (g++ 12 may destroy that twice).
  detail::JoinOrDeadline<T> wait{&jh, deadline};
  co_await wait;
  if (!jh.is_finished()) {
    jh.abort();
    co_return err(TimeoutError::TimedOut);
  }
  auto r = co_await jh;  // finished: does not suspend; rethrows the task's exception
  if constexpr (std::is_void_v<T>) {
    co_return Result<void, TimeoutError>{};
  } else {
    co_return std::move(*r);
  }
}

// What an Interval does when the consumer fell behind by one or more periods.
enum class MissedTick : uint8_t {
  burst,  // fire the missed ticks back to back until caught up (keeps the long-run rate)
  delay,  // next tick one period after the late one (keeps the spacing)
  skip,   // drop missed ticks; next tick on the original grid after now
};

enum class IntervalError : uint8_t {
  NonPositivePeriod,  // a period of zero or less: ticks could never advance (and skip divides)
};
inline const char* to_string(IntervalError) noexcept { return "period not positive"; }

// Ticks every `period`. Built through make(), which refuses a period that is not positive:
// with such a period `burst` would fire forever without advancing and `skip` would divide by
// zero.
class Interval {
 public:
  // First tick one period from now. Any duration type; a period past what the clock holds
  // (hours::max()) saturates: such an interval ticks once at most, then never again.
  template <class Rep, class Period>
  static Result<Interval, IntervalError> make(std::chrono::duration<Rep, Period> period,
                                              MissedTick policy = MissedTick::burst) noexcept {
    return make(period, policy, detail::deadline_after(period));
  }
  // First tick at `first` (in the past: it fires at once, then `policy` applies).
  template <class Rep, class Period>
  static Result<Interval, IntervalError> make(std::chrono::duration<Rep, Period> period,
                                              MissedTick policy, Clock::time_point first) noexcept {
    if (!(period > period.zero())) return err(IntervalError::NonPositivePeriod);  // NaN too
    return Interval(detail::sat_duration(period), policy, first);
  }

  Clock::duration period() const noexcept { return period_; }
  Clock::time_point next_deadline() const noexcept { return next_; }

  // Completes at the next tick; returns the tick's scheduled time.
  struct [[nodiscard]] Awaiter {
    Interval* iv;
    SleepAwaiter sleep;
    bool await_ready() const noexcept { return sleep.await_ready(); }
    void await_suspend(std::coroutine_handle<> h) noexcept { sleep.await_suspend(h); }
    Clock::time_point await_resume() noexcept { return iv->advance(Clock::now()); }
  };
  [[nodiscard]] Awaiter tick() noexcept { return Awaiter{this, SleepAwaiter(next_)}; }

 private:
  Interval(Clock::duration period, MissedTick policy, Clock::time_point first) noexcept
      : period_(period), next_(first), policy_(policy) {}

  // Saturating: a tick past what the clock holds never comes (kNever), for any period.
  Clock::time_point advance(Clock::time_point now) noexcept {
    Clock::time_point fired = next_;
    switch (policy_) {
      case MissedTick::burst:
        next_ = detail::sat_add(next_, period_);
        break;
      case MissedTick::delay:
        next_ = detail::sat_add(now > next_ ? now : next_, period_);
        break;
      case MissedTick::skip:
        next_ = detail::sat_add(next_, period_);
        if (next_ <= now) {
          // The next tick on the grid after now: now + period - (now - next) % period. How far
          // behind is counted unsigned: with a first tick far in the past (time_point::min())
          // now - next_ does not fit a signed count, and a product of periods could overflow.
          const uint64_t behind = static_cast<uint64_t>(now.time_since_epoch().count()) -
                                  static_cast<uint64_t>(next_.time_since_epoch().count());
          const auto into =
              static_cast<Clock::rep>(behind % static_cast<uint64_t>(period_.count()));
          next_ = detail::sat_add(now, period_ - Clock::duration(into));
        }
        break;
    }
    return fired;
  }
  Clock::duration period_;
  Clock::time_point next_;
  MissedTick policy_;
};

}  // namespace sluice
