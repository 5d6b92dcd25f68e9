// Saturating deadline arithmetic. `now + d` overflows a signed 64-bit nanosecond count for
// durations such as nanoseconds::max() or hours::max(), which made sleep_for(max),
// timeout(max, t) and shutdown(max) return at once. Here a deadline past what the clock can
// represent is Clock::time_point::max(), and the timer code treats that as "never": no timer
// is armed for it at all.
#pragma once

#include <chrono>

#include "../timer_wheel.hpp"

namespace sluice::detail {

inline constexpr Clock::time_point kNever = Clock::time_point::max();

// t + d, saturated to [time_point::min(), kNever]. Any duration type; the range check is made
// in long double (a 64-bit mantissa holds every nanosecond count exactly), so neither the
// conversion of d nor the addition can overflow. Within 1 ms of either end of the clock's range
// (the year 2262) counts as past it: a floating-point d converts with a rounding error of up
// to a few microseconds there, which must not carry it over the edge. A NaN counts as "never".
template <class Rep, class Period>
Clock::time_point sat_add(Clock::time_point t, std::chrono::duration<Rep, Period> d) noexcept {
  using LD = std::chrono::duration<long double, std::nano>;
  const LD lim = LD(Clock::duration::max()) - LD(std::chrono::milliseconds(1));
  const LD dl = std::chrono::duration_cast<LD>(d);
  const LD at = std::chrono::duration_cast<LD>(t.time_since_epoch());
  if (!(dl.count() < 0)) {  // also NaN
    if (!(dl < lim) || !(at + dl < lim)) return kNever;
  } else if (!(dl > -lim) || !(at + dl > -lim)) {
    return Clock::time_point::min();
  }
  return t + std::chrono::duration_cast<Clock::duration>(d);
}

// d as a Clock::duration, saturated to Clock::duration::max() (NaN too) and min().
template <class Rep, class Period>
Clock::duration sat_duration(std::chrono::duration<Rep, Period> d) noexcept {
  using LD = std::chrono::duration<long double, std::nano>;
  const LD lim = LD(Clock::duration::max()) - LD(std::chrono::milliseconds(1));
  const LD dl = std::chrono::duration_cast<LD>(d);
  if (!(dl.count() < 0))
    return dl < lim ? std::chrono::duration_cast<Clock::duration>(d) : Clock::duration::max();
  return dl > -lim ? std::chrono::duration_cast<Clock::duration>(d) : Clock::duration::min();
}

// The deadline `d` from now.
template <class Rep, class Period>
Clock::time_point deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  return sat_add(Clock::now(), d);
}

}  // namespace sluice::detail
