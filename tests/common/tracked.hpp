// Tracked: a move-only value that counts its live instances, so a test can prove every value
// put into a ring is destroyed exactly once (taken out, or destroyed with the ring).
#pragma once

#include <atomic>
#include <memory>

namespace sluice::test {

struct Tracked {
  static inline std::atomic<long> live{0};
  long v = 0;
  std::unique_ptr<int> owner;  // makes the type move-only
  explicit Tracked(long x) : v(x), owner(std::make_unique<int>(static_cast<int>(x))) { ++live; }
  Tracked(Tracked&& o) noexcept : v(o.v), owner(std::move(o.owner)) { ++live; }
  Tracked& operator=(Tracked&& o) noexcept {
    v = o.v;
    owner = std::move(o.owner);
    return *this;
  }
  ~Tracked() { --live; }
};

}  // namespace sluice::test
