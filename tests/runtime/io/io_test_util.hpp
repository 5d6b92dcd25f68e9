// Shared by the io tests: a runtime per idle policy, byte helpers, a watchdog.
#pragma once

#include <gtest/gtest.h>

#include <sluice/runtime/io.hpp>
#include <sluice/sluice.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// ASSERT_* return from the function, which a coroutine cannot: these co_return instead.
#define CO_ASSERT(cond)                            \
  do {                                             \
    if (!(cond)) {                                 \
      ADD_FAILURE() << "assertion failed: " #cond; \
      co_return;                                   \
    }                                              \
  } while (0)

namespace sluice::io::test {

inline const char* policy_name(IdlePolicy p) {
  switch (p.kind) {
    case IdlePolicy::Kind::busy_poll:
      return "busy_poll";
    case IdlePolicy::Kind::spin_then_park:
      return "spin_then_park";
    case IdlePolicy::Kind::park:
      return "park";
  }
  return "?";
}

inline std::vector<IdlePolicy> all_policies() {
  return {IdlePolicy::busy_poll(), IdlePolicy::spin_then_park(2000), IdlePolicy::park()};
}

inline std::unique_ptr<Runtime> make_rt(IdlePolicy p, IoSetup setup = IoSetup::Auto) {
  RuntimeConfig cfg;
  cfg.idle = p;
  cfg.io_setup = setup;
  cfg.require_io_uring = true;
  auto r = Runtime::make(std::move(cfg));
  if (!r) {
    std::fprintf(stderr, "Runtime::make: %s (%d)\n", to_string(r.error()), r.error().errno_value);
    std::abort();
  }
  return std::move(*r);
}

// Aborts the process if a test hangs (a lost completion would hang, never fail).
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit)
      : t_([this, limit] {
          auto end = std::chrono::steady_clock::now() + limit;
          while (!done_.load(std::memory_order_acquire)) {  // acquire: pairs with the release below
            if (std::chrono::steady_clock::now() > end) {
              std::fprintf(stderr, "watchdog: test hung\n");
              std::abort();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~Watchdog() {
    done_.store(true, std::memory_order_release);  // release: the watchdog may stop now
    t_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread t_;
};

inline std::vector<std::byte> pattern(std::size_t n, uint32_t seed) {
  std::vector<std::byte> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::byte>(x >> 24);
  }
  return v;
}

// A connected loopback pair through `l`: {the accepted side, the connecting side}.
inline Task<Result<std::pair<TcpStream, TcpStream>, IoError>> accept_pair(TcpListener* l) {
  auto conn = Runtime::current()->spawn(TcpStream::connect(l->local_address()));
  auto srv = co_await l->accept();
  auto cli = co_await conn;
  if (!srv) co_return err(srv.error());
  if (!cli) co_return err(IoError::sys(ECANCELED));
  if (!*cli) co_return err(cli->error());
  std::pair<TcpStream, TcpStream> p(std::move(*srv), std::move(**cli));
  co_return p;
}

inline std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace sluice::io::test
