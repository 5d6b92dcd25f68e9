// Channel and ring element types must be nothrow move constructible: a move that throws while a
// value leaves its slot lost the value (spsc try_recv) or called std::terminate (mpsc) before
// 2026-11-29. Each case below instantiates one of them with a type whose move may throw and
// must fail with the static_assert's message; CASE=0 (the same with a nothrow type) must
// compile. Run by run.cmake with -DEXPECT="nothrow move constructible".
#include <sluice/sluice.hpp>

#include <string>

#ifndef CASE
#error "compile with -DCASE=N (0: the control, which must compile)"
#endif

using namespace sluice;

struct MayThrow {
  MayThrow() = default;
  MayThrow(MayThrow&&) noexcept(false) {}
  MayThrow& operator=(MayThrow&&) noexcept(false) { return *this; }
};

#if CASE != 0
using E = MayThrow;
#else
using E = std::string;  // the control: a nothrow element type
#endif

void use() {
#if CASE == 0  // control: every kind with a nothrow type
  (void)local::channel<E>(1);
  (void)spsc::channel<E>(1);
  (void)mpsc::channel<E>(1);
  (void)SpscRing<E>::make(1);
  (void)MpscRing<E>::make(1);
  (void)MpscLanes<E>::make(1);
#elif CASE == 1  // local::channel
  (void)local::channel<E>(1);
#elif CASE == 2  // spsc::channel
  (void)spsc::channel<E>(1);
#elif CASE == 3  // mpsc::channel
  (void)mpsc::channel<E>(1);
#elif CASE == 4  // SpscRing
  (void)SpscRing<E>::make(1);
#elif CASE == 5  // MpscRing
  (void)MpscRing<E>::make(1);
#elif CASE == 6  // MpscLanes
  (void)MpscLanes<E>::make(1);
#endif
}
