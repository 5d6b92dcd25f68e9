// CancellationToken: a cooperative "please stop" signal for tasks of one runtime, with child
// tokens (cancelling a parent cancels its children, never the other way round).
//
// Why single-thread: tokens are checked on hot loops (is_cancelled() is one load of a plain
// bool); cross-thread stop requests go through a channel or Notify to the owning runtime.
#pragma once

#include <coroutine>
#include <memory>
#include <vector>

#include "detail/wait_list.hpp"
#include "runtime.hpp"
#include "time.hpp"

namespace sluice {

class CancellationToken {
  struct Waiter : detail::WaitNode<Waiter> {
    detail::TaskHeader* task = nullptr;
  };
  struct State {
    bool cancelled = false;
    std::vector<std::weak_ptr<State>> children;
    detail::WaitList<Waiter> waiters;
  };

 public:
  CancellationToken() : s_(std::make_shared<State>()) {}

  bool is_cancelled() const noexcept { return s_->cancelled; }

  // A token cancelled when this one is (immediately, if this one already is).
  CancellationToken child() {
    CancellationToken c;
    if (s_->cancelled)
      c.s_->cancelled = true;
    else {
      std::erase_if(s_->children, [](const std::weak_ptr<State>& w) { return w.expired(); });
      s_->children.push_back(c.s_);
    }
    return c;
  }

  // Idempotent. Wakes every task awaiting cancelled() on this token and its descendants.
  void cancel() noexcept { cancel_state(s_.get()); }

  struct [[nodiscard]] Awaiter : Waiter {
    std::shared_ptr<State> s;
    bool await_ready() const noexcept { return s->cancelled; }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      task = detail::tl_ctx.current;
      task->leaf = h;
      s->waiters.push_back(this);
    }
    void await_resume() const noexcept {}
    ~Awaiter() {
      if (s) s->waiters.remove(this);
    }
  };
  // Completes once the token is cancelled.
  Awaiter cancelled() const noexcept {
    Awaiter a;
    a.s = s_;
    return a;
  }

 private:
  static void cancel_state(State* s) noexcept {
    if (s->cancelled) return;
    s->cancelled = true;
    while (Waiter* w = s->waiters.pop_front()) w->task->rt->schedule(w->task);
    for (auto& c : s->children)
      if (auto sp = c.lock()) cancel_state(sp.get());
    s->children.clear();
  }
  std::shared_ptr<State> s_;
};

enum class CancelError : uint8_t { Cancelled };
inline const char* to_string(CancelError) noexcept { return "cancelled"; }

namespace detail {
// Waits until a spawned task finishes or a token is cancelled; unregisters from both after.
template <class T>
struct JoinOrCancel {
  JoinHandle<T>* jh;
  CancellationToken::Awaiter tok;
  TaskHeader* me = nullptr;
  bool await_ready() const noexcept { return jh->is_finished() || tok.await_ready(); }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    me = tl_ctx.current;
    tok.await_suspend(h);  // sets me->leaf and links the token waiter
    jh->header()->joiner = me;
  }
  void await_resume() noexcept { unlink(); }
  ~JoinOrCancel() { unlink(); }
  void unlink() noexcept {
    if (me == nullptr) return;
    if (tok.s) tok.s->waiters.remove(&tok);
    if (!jh->is_finished() && jh->header()->joiner == me) jh->header()->joiner = nullptr;
    me = nullptr;
  }
};
}  // namespace detail

// Runs `inner` as its own task until it finishes or `token` is cancelled, whichever is first;
// on cancellation the inner task is aborted (its destructors run: an I/O operation it awaits is
// cancelled and waited for) and Cancelled comes back. If both happened, completion wins.
template <class T>
Task<Result<T, CancelError>> until_cancelled(const CancellationToken& token, Task<T> inner) {
  if (token.is_cancelled()) co_return err(CancelError::Cancelled);
  JoinHandle<T> jh = Runtime::current()->spawn(std::move(inner));
  detail::AbortUnfinished<T> guard{&jh};  // this task destroyed first: the inner one goes too
  // A named awaiter, not a braced temporary inside co_await: g++ 12 destroys such a temporary
  // twice, releasing the token's state early.
  detail::JoinOrCancel<T> wait{&jh, token.cancelled()};
  co_await wait;
  if (!jh.is_finished()) {
    jh.abort();
    co_return err(CancelError::Cancelled);
  }
  auto r = co_await jh;
  if constexpr (std::is_void_v<T>) {
    co_return Result<void, CancelError>{};
  } else {
    co_return std::move(*r);
  }
}

}  // namespace sluice
