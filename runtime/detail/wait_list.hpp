// WaitList: intrusive FIFO of waiters (doubly linked so a cancelled waiter unlinks in O(1)).
// Owner-thread only; used by local channels, semaphores, tokens. W must derive WaitNode<W>.
#pragma once

namespace sluice::detail {

// Links start null so a waiter can be copied or moved before it parks (cancellation's
// awaiter is returned by value) without reading indeterminate pointers.
template <class W>
struct WaitNode {
  W* wl_prev = nullptr;
  W* wl_next = nullptr;
  bool wl_linked = false;
};

template <class W>
class WaitList {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  W* front() const noexcept { return head_; }

  void push_back(W* w) noexcept {
    w->wl_prev = tail_;
    w->wl_next = nullptr;
    w->wl_linked = true;
    if (tail_)
      tail_->wl_next = w;
    else
      head_ = w;
    tail_ = w;
  }
  void remove(W* w) noexcept {
    if (!w->wl_linked) return;
    if (w->wl_prev)
      w->wl_prev->wl_next = w->wl_next;
    else
      head_ = w->wl_next;
    if (w->wl_next)
      w->wl_next->wl_prev = w->wl_prev;
    else
      tail_ = w->wl_prev;
    w->wl_prev = w->wl_next = nullptr;
    w->wl_linked = false;
  }
  // The common wake path: the front has no predecessor, so only its successor is relinked.
  W* pop_front() noexcept {
    W* w = head_;
    if (w == nullptr) return nullptr;
    head_ = w->wl_next;
    if (head_)
      head_->wl_prev = nullptr;
    else
      tail_ = nullptr;
    w->wl_next = nullptr;
    w->wl_linked = false;
    return w;
  }

 private:
  W* head_ = nullptr;
  W* tail_ = nullptr;
};

}  // namespace sluice::detail
