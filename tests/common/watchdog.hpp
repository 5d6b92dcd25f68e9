// Watchdog for concurrency tests: fails the test (and exits) when a progress counter stops
// moving for `limit`, so a lost wake shows up as a failure instead of a hung CI job.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace sluice::test {

class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, const std::atomic<long>* progress)
      : t_([this, limit, progress] {
          long last = -1;
          auto since = std::chrono::steady_clock::now();
          while (!stop_.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            long p = progress->load();
            if (p != last) {
              last = p;
              since = std::chrono::steady_clock::now();
            } else if (std::chrono::steady_clock::now() - since > limit) {
              ADD_FAILURE() << "watchdog: no progress at " << p;
              std::fprintf(stderr, "watchdog: stalled at %ld\n", p);
              std::_Exit(3);
            }
          }
        }) {}
  ~Watchdog() {
    stop_ = true;
    t_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread t_;
};

// Spin-wait step for test threads: a few pause-spins, then yield. CI machines have two cores
// and ctest runs tests side by side, so a pure spin can wait out a whole time slice for a
// peer thread that shares its core; yielding after a short spin keeps every test's run time
// bounded while both threads still cross the full/empty boundaries often.
class Backoff {
 public:
  void operator()() noexcept {
    if (++n_ < 64) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }
  void reset() noexcept { n_ = 0; }

 private:
  unsigned n_ = 0;
};

// Sanitizer builds run the same tests with fewer iterations where a count is not the point.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace sluice::test
