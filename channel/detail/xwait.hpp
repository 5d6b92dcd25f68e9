// XWaitQueue: where one side of a cross-thread channel parks, whether it is a task on some
// runtime or a plain thread, and how the other side wakes it.
//
// The hot path of the other side is one relaxed load of `count_` after its own seq_cst fence
// (see XChannel). Registering, unregistering and waking take a small spinlock: they happen only
// when a side has nothing to do, so they are not hot paths.
//
// Lost-wake freedom is the classic store-then-load handshake, with a seq_cst fence on both
// sides: the waiter increments count_ and fences, then re-checks the ring; the other side
// publishes to the ring and fences, then loads count_. At least one of them sees the other.
//
// Tasks are woken through their runtime's inbox (Runtime::wake_remote); while a waker may hold
// a task, the task is flagged kRemoteArmed so its memory outlives an abort. Threads wait on
// `epoch_` with std::atomic::wait, so a waker never touches a thread's stack.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

#include "../../runtime/runtime.hpp"

namespace sluice::detail {

// The seq_cst fence of the handshake. GCC rejects std::atomic_thread_fence under
// -fsanitize=thread, so TSan builds use a seq_cst read-modify-write on a thread-local word
// instead: a full barrier on x86 (lock-prefixed), and thread-local so TSan sees no
// synchronisation that would hide a real race.
inline void full_fence() noexcept {
#if defined(__SANITIZE_THREAD__)
  static thread_local std::atomic<int> word{0};
  word.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

class XWaitQueue {
 public:
  struct Node {
    Node* prev = nullptr;
    Node* next = nullptr;
    TaskHeader* task = nullptr;
    bool linked = false;  // guarded by the queue's lock
  };

  // After the caller's seq_cst fence: is anybody (task or thread) parked here?
  bool any() const noexcept {
    return count_.load(std::memory_order_relaxed) != 0;  // relaxed: ordered by the fence
  }

  // Owner thread of `t`: park t (FIFO). The caller then fences and re-checks its condition.
  void add_task(Node* n, TaskHeader* t) noexcept {
    Runtime::arm_remote(t);  // a waker may hold t from now on
    n->task = t;
    lock();
    n->prev = tail_;
    n->next = nullptr;
    if (tail_)
      tail_->next = n;
    else
      head_ = n;
    tail_ = n;
    n->linked = true;
    count_.fetch_add(1, std::memory_order_relaxed);  // relaxed: the caller's fence orders it
    unlock();
  }

  // Owner thread: take n back. True if it was still parked (no wake will come); false if a
  // waker already claimed it (its wake is on the way through the inbox: a caller that will
  // never act on it passes it on with wake_one).
  bool remove_task(Node* n) noexcept {
    lock();
    const bool was = n->linked;
    if (was) {
      unlink(n);
      count_.fetch_sub(1, std::memory_order_relaxed);  // relaxed: under the lock
    }
    unlock();
    if (was) Runtime::disarm_remote(n->task);
    return was;
  }

  // A plain thread parks: returns the epoch to wait on. Then fence, re-check, wait_thread.
  uint32_t add_thread() noexcept {
    lock();
    ++threads_;
    count_.fetch_add(1, std::memory_order_relaxed);  // relaxed: the caller's fence orders it
    // relaxed: read under the lock; a bump after this is seen by wait_thread.
    const uint32_t e = epoch_.load(std::memory_order_relaxed);
    unlock();
    return e;
  }
  void remove_thread() noexcept {
    lock();
    --threads_;
    count_.fetch_sub(1, std::memory_order_relaxed);  // relaxed: under the lock
    unlock();
  }
  // Blocks until a wake bumps the epoch past e (returns at once if that already happened).
  void wait_thread(uint32_t e) noexcept {
    epoch_.wait(e, std::memory_order_acquire);  // acquire: pairs with the waker's release
  }

  // Any thread: wake the oldest parked task, or else every parked thread.
  void wake_one() noexcept {
    lock();
    Node* n = head_;
    TaskHeader* t = nullptr;
    bool threads = false;
    if (n != nullptr) {
      unlink(n);
      count_.fetch_sub(1, std::memory_order_relaxed);  // relaxed: under the lock
      t = n->task;  // n may die as soon as we unlock; t is kept alive by kRemoteArmed
    } else {
      threads = threads_ != 0;
    }
    unlock();
    if (t != nullptr)
      Runtime::wake_remote(t);
    else if (threads)
      bump();
  }

  // Any thread: wake everybody (close).
  void wake_all() noexcept {
    for (;;) {
      lock();
      Node* n = head_;
      TaskHeader* t = nullptr;
      if (n != nullptr) {
        unlink(n);
        count_.fetch_sub(1, std::memory_order_relaxed);  // relaxed: under the lock
        t = n->task;
      }
      const bool threads = threads_ != 0;
      unlock();
      if (t == nullptr) {
        if (threads) bump();
        return;
      }
      Runtime::wake_remote(t);
    }
  }

 private:
  void bump() noexcept {
    epoch_.fetch_add(1, std::memory_order_release);  // release: the waker's writes come first
    epoch_.notify_all();
  }
  void unlink(Node* n) noexcept {
    if (n->prev)
      n->prev->next = n->next;
    else
      head_ = n->next;
    if (n->next)
      n->next->prev = n->prev;
    else
      tail_ = n->prev;
    n->prev = n->next = nullptr;
    n->linked = false;
  }
  void lock() noexcept {
    // acquire: the critical section sees the previous holder's writes.
    while (lock_.exchange(true, std::memory_order_acquire)) {
      while (lock_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  void unlock() noexcept {
    lock_.store(false, std::memory_order_release);  // release: publish the critical section
  }

  std::atomic<uint32_t> count_{0};  // parked tasks + threads: the other side's hot-path check
  std::atomic<uint32_t> epoch_{0};  // threads wait on it
  std::atomic<bool> lock_{false};
  uint32_t threads_ = 0;  // guarded by lock_
  Node* head_ = nullptr;  // guarded by lock_
  Node* tail_ = nullptr;  // guarded by lock_
};

// Suspends the current task in q until woken, unless `ready()` holds after registering.
// Destroyed while suspended (abort, timeout): takes its registration back.
//
// On a busy-polling runtime (Runtime::polls_waits) the task does not register in q at all:
// its runtime re-evaluates ready() between task batches (a PollNode). The other side then sees
// no parked peer and never wakes anyone, and the wait ends as soon as the ring line changes
// hands: no lock, no inbox, no task-header traffic. A runtime that never sleeps cannot miss
// the change, so the fence-and-recheck handshake is not needed on this path.
template <class Ready>
class XWaitAwaiter : PollNode {
 public:
  XWaitAwaiter(XWaitQueue* q, Ready ready) noexcept : q_(q), ready_(ready) {}
  XWaitAwaiter(const XWaitAwaiter&) = delete;
  XWaitAwaiter& operator=(const XWaitAwaiter&) = delete;
  ~XWaitAwaiter() {
    // Destroyed while parked (abort, timeout). If a waker already claimed us, its wake must
    // not die with us: hand it to the next waiter (a spurious wake at worst: every waiter
    // re-checks its condition), or a value could sit in the ring with its sender or receiver
    // parked forever.
    if (parked_ && !q_->remove_task(&node_)) q_->wake_one();
    if (poll_task != nullptr) poll_task->rt->remove_poll(this);  // no-op once it fired
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    TaskHeader* me = tl_ctx.current;
    me->leaf = h;
    if (me->rt->polls_waits()) {
      if (ready_()) return false;
      poll_task = me;
      poll_ready = &XWaitAwaiter::poll;
      me->rt->add_poll(this);
      return true;
    }
    q_->add_task(&node_, me);
    // seq_cst: registration (store) before the re-check (load); pairs with the other side's
    // fence between its ring publication and its load of the queue's count.
    full_fence();
    if (ready_() && q_->remove_task(&node_)) return false;  // no need to sleep
    parked_ = true;  // wait for the wake (possibly already claimed and on its way)
    return true;
  }
  void await_resume() noexcept { parked_ = false; }

 private:
  static bool poll(PollNode* n) noexcept { return static_cast<XWaitAwaiter*>(n)->ready_(); }

  XWaitQueue* q_;
  Ready ready_;
  XWaitQueue::Node node_{};
  bool parked_ = false;
};

}  // namespace sluice::detail
