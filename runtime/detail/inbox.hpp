// Inbox: intrusive multi-producer single-consumer queue (Vyukov's design) through which other
// threads hand woken tasks to a runtime. Push is wait-free (one exchange); pop is consumer-only.
#pragma once

#include <atomic>

#include "task_header.hpp"

namespace sluice::detail {

class Inbox {
 public:
  Inbox() noexcept : head_(&stub_), tail_(&stub_) {}
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Any thread. seq_cst on the exchange: it is the "store" half of the park handshake (the
  // waker then loads `parked`; the runtime stores `parked` then loads head_ in maybe_nonempty).
  void push(InboxNode* n) noexcept {
    // relaxed: n is private to this thread until the exchange publishes it.
    n->inbox_next.store(nullptr, std::memory_order_relaxed);
    InboxNode* prev = head_.exchange(n, std::memory_order_seq_cst);
    // release: the consumer's acquire load of prev->inbox_next must see n's fields.
    prev->inbox_next.store(n, std::memory_order_release);
  }

  // Consumer only. Returns nullptr when empty or when a producer is between its exchange and
  // its link store (maybe_nonempty() then stays true, so the runtime will not park on it).
  InboxNode* pop() noexcept {
    InboxNode* tail = tail_;
    // acquire: pairs with the release link store in push.
    InboxNode* next = tail->inbox_next.load(std::memory_order_acquire);
    if (tail == &stub_) {
      if (next == nullptr) return nullptr;
      tail_ = next;
      tail = next;
      next = next->inbox_next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail_ = next;
      return tail;
    }
    // acquire: see the producer's writes if head_ still equals tail.
    if (tail != head_.load(std::memory_order_acquire)) return nullptr;  // producer mid-push
    push(&stub_);
    next = tail->inbox_next.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail_ = next;
      return tail;
    }
    return nullptr;
  }

  // Consumer only. seq_cst: the "load" half of the park handshake (see push).
  bool maybe_nonempty() const noexcept {
    return tail_ != &stub_ || head_.load(std::memory_order_seq_cst) != &stub_;
  }

 private:
  // alignas(64): producers hammer head_; keep it off the consumer's line.
  alignas(64) std::atomic<InboxNode*> head_;
  // alignas(64): the consumer's own line, so producers' writes to head_ do not evict it.
  alignas(64) InboxNode* tail_;
  InboxNode stub_;
};

}  // namespace sluice::detail
