// The floor under sluice's task paths: g++ 12 coroutines with no runtime at all.
//
// Why: the runtime targets (spawn + join, a capacity-1 ping-pong between two tasks) are
// absolute times, and on a given machine part of each is the price of the coroutine itself
// (the frame, the resume call, the state machine's dispatch, saving registers). These two
// shapes do the least a coroutine can do for the same work, so a figure can be read as
// "floor + what the runtime adds":
// * `await_child`: a frame from a free list, started and finished by symmetric transfer,
//   its value read back. What `co_await spawn(task)` does, minus the runtime.
// * `pingpong`: two coroutines and a one-slot mailbox; a blocked sender's value is admitted
//   by the receiver (as local::channel does at capacity 1), and the side that blocks
//   transfers straight to the one it woke. No ready queue, no waiter lists, no abort safety.
//
// Symmetric transfer nests frames on the stack unless the compiler turns it into a tail call,
// which g++ does only when optimising (docs/ARCHITECTURE.md), so these floors refuse to run
// in unoptimised builds (`kRawCoroUsable`).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

namespace rawco {

#if defined(__OPTIMIZE__)
inline constexpr bool kRawCoroUsable = true;
#else
inline constexpr bool kRawCoroUsable = false;
#endif

// Frames of up to kBlock bytes come from a per-thread free list; larger ones from the heap.
// Trivially destructible, so reaching it costs no thread_local init guard; the drivers below
// empty it when they finish.
inline constexpr std::size_t kBlock = 256;
struct FreeList {
  void* head = nullptr;
};
inline thread_local FreeList tl_free;
inline void drain_free_list() noexcept {
  while (tl_free.head != nullptr)
    std::free(std::exchange(tl_free.head, *static_cast<void**>(tl_free.head)));
}

inline void* alloc_frame(std::size_t n) {
  if (n <= kBlock && tl_free.head != nullptr)
    return std::exchange(tl_free.head, *static_cast<void**>(tl_free.head));
  void* p = std::malloc(n <= kBlock ? kBlock : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
inline void free_frame(void* p, std::size_t n) noexcept {
  if (n > kBlock) return std::free(p);
  *static_cast<void**>(p) = tl_free.head;
  tl_free.head = p;
}

// A lazy coroutine whose completion transfers back to its awaiter (or to `then`, if set).
struct Co {
  struct promise_type {
    std::coroutine_handle<> cont = std::noop_coroutine();
    uint64_t value = 0;
    static void* operator new(std::size_t n) { return alloc_frame(n); }
    static void operator delete(void* p, std::size_t n) noexcept { free_frame(p, n); }
    Co get_return_object() noexcept {
      return Co{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct Final {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        return h.promise().cont;
      }
      void await_resume() noexcept {}
    };
    Final final_suspend() noexcept { return {}; }
    void return_value(uint64_t v) noexcept { value = v; }
    void unhandled_exception() noexcept { std::abort(); }
  };
  explicit Co(std::coroutine_handle<promise_type> h) noexcept : h(h) {}
  Co(Co&& o) noexcept : h(std::exchange(o.h, {})) {}
  Co& operator=(Co&&) = delete;
  ~Co() {
    if (h) h.destroy();
  }
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
    h.promise().cont = caller;
    return h;
  }
  uint64_t await_resume() const noexcept { return h.promise().value; }

  std::coroutine_handle<promise_type> h;
};

inline Co one() { co_return 1; }

// One-slot mailbox between exactly one sender and one receiver coroutine.
struct Mailbox {
  uint64_t slot = 0;
  bool full = false;
  const uint64_t* pending = nullptr;   // the parked sender's value
  std::coroutine_handle<> parked{};    // the side that waits (never both: full vs empty)
  std::coroutine_handle<> runnable{};  // woken and not yet resumed: a one-entry ready queue
  std::coroutine_handle<> take_runnable() noexcept {
    auto r = std::exchange(runnable, {});
    return r ? r : std::noop_coroutine();
  }
};

struct Send {
  Mailbox* m;
  uint64_t v;
  bool await_ready() noexcept {
    if (m->full) return false;
    m->slot = v;
    m->full = true;
    if (m->parked) m->runnable = std::exchange(m->parked, {});  // the receiver waited
    return true;
  }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> me) noexcept {
    m->pending = &v;
    m->parked = me;
    return m->take_runnable();
  }
  void await_resume() noexcept {}
};

struct Recv {
  Mailbox* m;
  bool await_ready() noexcept { return m->full; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> me) noexcept {
    m->parked = me;
    return m->take_runnable();
  }
  uint64_t await_resume() noexcept {
    uint64_t v = m->slot;
    if (m->pending != nullptr) {  // admit the blocked sender's value and wake it
      m->slot = *std::exchange(m->pending, nullptr);
      m->runnable = std::exchange(m->parked, {});
    } else {
      m->full = false;
    }
    return v;
  }
};

// Sends 0, 1, 2, ... until destroyed.
inline Co sender(Mailbox* m) {
  for (uint64_t i = 0;; ++i) co_await Send{m, i};
}

// Receives once per step of `loop` (a benchmark::State, or Count below) and returns the sum of
// what it saw: after k messages, k (k - 1) / 2.
template <class Loop>
Co receiver(Mailbox* m, Loop* loop) {
  uint64_t sum = 0;
  for ([[maybe_unused]] auto _ : *loop) sum += co_await Recv{m};
  co_return sum;
}

// A range of n steps, for callers without a benchmark::State.
struct Count {
  uint64_t n;
  struct It {
    uint64_t i;
    uint64_t operator*() const noexcept { return i; }
    It& operator++() noexcept {
      ++i;
      return *this;
    }
    bool operator!=(const It& o) const noexcept { return i != o.i; }
  };
  It begin() const noexcept { return {0}; }
  It end() const noexcept { return {n}; }
};

// A capacity-1 ping-pong, one message per step of `loop`; returns the receiver's sum.
template <class Loop>
uint64_t pingpong(Loop* loop) {
  Mailbox m;
  uint64_t sum;
  {
    Co rx = receiver(&m, loop);
    Co tx = sender(&m);
    rx.h.resume();  // parks at once on the empty mailbox
    tx.h.resume();  // returns when the receiver has finished; the sender is then left parked
    sum = rx.h.done() ? rx.h.promise().value : ~uint64_t{0};
  }
  drain_free_list();
  return sum;
}

// Awaits one child per step of `loop`, each frame from the free list; returns the sum of
// their values (the number of steps).
template <class Loop>
Co await_children(Loop* loop) {
  uint64_t s = 0;
  for ([[maybe_unused]] auto _ : *loop) s += co_await one();
  co_return s;
}
template <class Loop>
uint64_t await_child(Loop* loop) {
  uint64_t v;
  {
    Co c = await_children(loop);
    c.h.resume();
    v = c.h.promise().value;
  }
  drain_free_list();
  return v;
}

}  // namespace rawco
