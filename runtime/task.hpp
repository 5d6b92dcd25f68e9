// Task<T>: a lazy coroutine. Nothing runs until it is awaited, spawned or passed to block_on.
//
// Why lazy: the awaiter (or the runtime) decides where and when it runs, and the frame can
// come from the runtime's slab instead of the heap. Awaiting a Task transfers control to it
// and its completion transfers back; an exception thrown inside is rethrown to the awaiter.
//
// Transfers go through a per-thread trampoline (ThreadContext::next) instead of returning a
// handle from await_suspend. g++ 12 only turns symmetric transfer into a tail call with
// optimisation on; at -O0 and under ASan/TSan a chain of 10^6 nested awaits overflows the
// stack. The trampoline is constant-stack in every build for the cost of one loop iteration.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "detail/task_header.hpp"

namespace sluice {

class Runtime;
template <class T>
class Task;
template <class T>
class JoinHandle;

namespace detail {

// Per-thread execution context. `rt` is the runtime whose slab new frames use; `current` is
// the root task being resumed; `next` is the trampoline's pending transfer.
struct ThreadContext {
  Runtime* rt = nullptr;
  TaskHeader* current = nullptr;
  std::coroutine_handle<> next{};
};
inline thread_local ThreadContext tl_ctx;

// Defined in runtime.hpp (they need the Runtime's slab).
void* frame_alloc(std::size_t n);
void frame_free(void* frame) noexcept;
// A root task finished and a task awaits its JoinHandle: if the budget allows, make that
// task the next one the trampoline resumes and return true (the caller frees the frame).
bool root_done_handoff(TaskHeader* t) noexcept;
// A detached root (no JoinHandle) ended with an exception: count it and hand it to the
// runtime's handler (RuntimeConfig::on_detached_exception) instead of dropping it silently.
void detached_exception(TaskHeader* t, std::exception_ptr e) noexcept;

// Resume h and run every transfer it requests, on a constant stack.
inline void resume_trampolined(std::coroutine_handle<> h) {
  ThreadContext& c = tl_ctx;
  for (;;) {
    c.next = {};
    h.resume();
    h = c.next;
    if (!h) return;
  }
}

// Where a root task's outcome goes when it finishes: the JoinHandle's own storage. Moving
// the outcome out lets the runtime destroy the frame (and the parameters it holds, such as
// channel endpoints) the moment the task finishes, not when its JoinHandle goes away.
// The part the runtime touches without knowing T: done, and the fate of a task that did not
// finish. A root's promise sets kRuntimeGone when its frame is destroyed unfinished by its
// runtime's destructor (the handle then reports JoinError::RuntimeGone instead of pointing
// into a freed slab); JoinHandle::abort sets kAborted. One byte, so awaiting a handle tests
// one thing for both.
struct JoinStateBase {
  enum Fate : uint8_t { kFinished, kAborted, kRuntimeGone };
  bool done = false;
  Fate fate = kFinished;
};
template <class T>
struct JoinState : JoinStateBase {
  std::exception_ptr exception{};
  bool has_value = false;
  alignas(T) unsigned char storage[sizeof(T)];  // alignas(T): raw storage for one T
  T take() {
    if (exception) std::rethrow_exception(exception);
    return std::move(*std::launder(reinterpret_cast<T*>(storage)));
  }
  // Back to "nothing yet" (a handle assigned over): drops any outcome held.
  void clear() noexcept {
    exception = nullptr;
    if (has_value) std::launder(reinterpret_cast<T*>(storage))->~T();
    has_value = false;
    done = false;
    fate = kFinished;
  }
  ~JoinState() {
    if (has_value) std::launder(reinterpret_cast<T*>(storage))->~T();
  }
};
template <>
struct JoinState<void> : JoinStateBase {
  std::exception_ptr exception{};
  void take() {
    if (exception) std::rethrow_exception(exception);
  }
  void clear() noexcept {
    exception = nullptr;
    done = false;
    fate = kFinished;
  }
};

struct PromiseBase {
  std::coroutine_handle<> continuation{};
  std::exception_ptr exception{};
  // Roots only: the JoinState<T> of the live JoinHandle, if any. Cleared once the outcome is
  // published (and by JoinHandle::abort), so a frame destroyed while it is still set died
  // unfinished at its runtime's teardown: tell the handle.
  JoinStateBase* join_state = nullptr;

  PromiseBase() noexcept = default;
  PromiseBase(const PromiseBase&) = delete;
  PromiseBase& operator=(const PromiseBase&) = delete;
  ~PromiseBase() {
    if (join_state != nullptr) [[unlikely]] {
      join_state->done = true;
      join_state->fate = JoinStateBase::kRuntimeGone;
    }
  }

  static void* operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void* p) noexcept { frame_free(p); }
  static void operator delete(void* p, std::size_t) noexcept { frame_free(p); }

  std::suspend_always initial_suspend() noexcept { return {}; }

  // A child task suspends at its end and the trampoline goes back to its awaiter, which takes
  // the outcome out of the promise. A root hands its outcome to the JoinHandle; then, if a
  // task awaits that handle and the batch budget allows, await_ready says "don't suspend": the
  // coroutine runs off its end, which destroys the frame right there (no indirect destroy()
  // call and no second trip through the state machine), and the trampoline resumes the joiner.
  // Otherwise the root suspends and the run loop completes it.
  template <class P>
  struct FinalAwaiter {
    P* p;
    bool await_ready() noexcept {
      if (p->continuation) return false;
      if (p->join_state) {
        p->publish(p->join_state);
        p->join_state = nullptr;
      } else if (p->exception) [[unlikely]] {
        detached_exception(TaskHeader::of(std::coroutine_handle<P>::from_promise(*p)),
                           std::move(p->exception));
      }
      TaskHeader* t = TaskHeader::of(std::coroutine_handle<P>::from_promise(*p));
      t->flags |= kDone;
      // Nothing may touch *p after a true return: the frame is gone.
      return t->joiner != nullptr && root_done_handoff(t);
    }
    void await_suspend(std::coroutine_handle<>) noexcept {
      if (p->continuation) tl_ctx.next = p->continuation;  // back to the awaiter
    }
    void await_resume() noexcept {}
  };
  void unhandled_exception() noexcept { exception = std::current_exception(); }
  void rethrow_if_failed() {
    if (exception) std::rethrow_exception(exception);
  }
};

template <class T>
struct Promise : PromiseBase {
  Task<T> get_return_object() noexcept;
  FinalAwaiter<Promise> final_suspend() noexcept { return {this}; }
  template <class U>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    ::new (static_cast<void*>(storage)) T(std::forward<U>(v));
    has_value = true;
  }
  T take() {
    rethrow_if_failed();
    return std::move(*std::launder(reinterpret_cast<T*>(storage)));
  }
  void publish(JoinStateBase* js) noexcept {
    auto* j = static_cast<JoinState<T>*>(js);
    j->done = true;
    if (exception) {
      j->exception = std::move(exception);
    } else if (has_value) {
      // A move constructor that throws here has nowhere to go: terminate, as std::thread does.
      ::new (static_cast<void*>(j->storage))
          T(std::move(*std::launder(reinterpret_cast<T*>(storage))));
      j->has_value = true;
    }
  }
  ~Promise() {
    if (has_value) std::launder(reinterpret_cast<T*>(storage))->~T();
  }
  alignas(T) unsigned char storage[sizeof(T)];  // alignas(T): raw storage for one T
  bool has_value = false;
};

template <>
struct Promise<void> : PromiseBase {
  Task<void> get_return_object() noexcept;
  FinalAwaiter<Promise> final_suspend() noexcept { return {this}; }
  void return_void() noexcept {}
  void take() { rethrow_if_failed(); }
  void publish(JoinStateBase* js) noexcept {
    auto* j = static_cast<JoinState<void>*>(js);
    j->done = true;
    j->exception = std::move(exception);
  }
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(handle_type h) noexcept : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  handle_type release() noexcept { return std::exchange(h_, {}); }
  handle_type handle() const noexcept { return h_; }  // still owned by this Task

  struct Awaiter {
    handle_type h;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> caller) noexcept {
      h.promise().continuation = caller;
      detail::tl_ctx.next = h;  // the trampoline starts the child
    }
    T await_resume() { return h.promise().take(); }
  };
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }

 private:
  handle_type h_{};
};

namespace detail {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace sluice

#include "runtime.hpp"
