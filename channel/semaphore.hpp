// Semaphore: counting semaphore for tasks of one runtime (no atomics).
//
// acquire() suspends while no permit is free; waiters are served FIFO and a released permit is
// handed straight to the oldest waiter, so a late try_acquire never overtakes it. A Permit
// gives its permit back when destroyed. A waiter destroyed after being handed a permit but
// before resuming (abort, timeout) gives it back too: nothing leaks.
#pragma once

#include <coroutine>
#include <cstddef>
#include <utility>

#include "../runtime/detail/wait_list.hpp"
#include "../runtime/result.hpp"
#include "../runtime/runtime.hpp"

namespace sluice {

enum class AcquireError : uint8_t { NoPermit };
inline const char* to_string(AcquireError) noexcept { return "no permit"; }

class Semaphore {
  struct Waiter : detail::WaitNode<Waiter> {
    detail::TaskHeader* task = nullptr;
    bool granted = false;
  };

 public:
  explicit Semaphore(std::size_t permits) noexcept : permits_(permits) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Owns one permit; releases it on destruction. Must not outlive its Semaphore.
  class Permit {
   public:
    Permit() noexcept = default;
    explicit Permit(Semaphore* s) noexcept : s_(s) {}
    Permit(Permit&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Permit& operator=(Permit&& o) noexcept {
      if (this != &o) {
        release();
        s_ = std::exchange(o.s_, nullptr);
      }
      return *this;
    }
    ~Permit() { release(); }
    void release() noexcept {
      if (Semaphore* s = std::exchange(s_, nullptr)) s->release(1);
    }
    explicit operator bool() const noexcept { return s_ != nullptr; }

   private:
    Semaphore* s_ = nullptr;
  };

  std::size_t available() const noexcept { return permits_; }
  std::size_t waiters() const noexcept { return n_waiters_; }

  Result<Permit, AcquireError> try_acquire() noexcept {
    if (permits_ == 0 || !waiters_.empty()) return err(AcquireError::NoPermit);
    --permits_;
    return Permit(this);
  }

  // Returns n permits: each goes to the oldest waiter, or back to the pool.
  void release(std::size_t n) noexcept {
    while (n > 0) {
      Waiter* w = waiters_.pop_front();
      if (w == nullptr) break;
      --n_waiters_;
      w->granted = true;
      w->task->rt->schedule(w->task);
      --n;
    }
    permits_ += n;
  }

  class [[nodiscard]] Awaiter {
   public:
    explicit Awaiter(Semaphore* s) noexcept : s_(s) {}
    Awaiter(Awaiter&& o) noexcept : s_(o.s_) {}
    ~Awaiter() {
      if (w_.wl_linked) {
        s_->waiters_.remove(&w_);
        --s_->n_waiters_;
      } else if (w_.granted) {
        s_->release(1);  // handed a permit but never resumed
      }
    }
    bool await_ready() noexcept {
      if (s_->permits_ > 0 && s_->waiters_.empty()) {
        --s_->permits_;
        w_.granted = true;
        return true;
      }
      return false;
    }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      w_.task = detail::tl_ctx.current;
      w_.task->leaf = h;
      s_->waiters_.push_back(&w_);
      ++s_->n_waiters_;
    }
    Permit await_resume() noexcept {
      w_.granted = false;  // ownership moves to the Permit
      return Permit(s_);
    }

   private:
    Semaphore* s_;
    Waiter w_{};
  };
  Awaiter acquire() noexcept { return Awaiter(this); }

 private:
  std::size_t permits_;
  std::size_t n_waiters_ = 0;
  detail::WaitList<Waiter> waiters_;
};

}  // namespace sluice
