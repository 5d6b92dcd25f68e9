// Throttle<T>: bounds how many producers are in flight on a local channel, without the
// consumer taking part. send() first takes a ticket (a Semaphore permit), then sends; it
// returns a Receipt that holds the ticket. The ticket is released when the Receipt is
// destroyed, so the producer decides what "in flight" means: drop the Receipt at once, keep
// it until an acknowledgement, or move it into the message so the consumer releases it.
#pragma once

#include <cstddef>
#include <utility>

#include "../runtime/task.hpp"
#include "local.hpp"
#include "semaphore.hpp"

namespace sluice {

class Receipt {
 public:
  Receipt() noexcept = default;
  explicit Receipt(Semaphore::Permit p) noexcept : p_(std::move(p)) {}
  // Releases the ticket now (otherwise on destruction).
  void release() noexcept { p_.release(); }
  explicit operator bool() const noexcept { return static_cast<bool>(p_); }

 private:
  Semaphore::Permit p_;
};

template <class T>
class Throttle {
 public:
  // `tickets` producers may hold a Receipt at once. Must outlive every Receipt it issued.
  Throttle(local::Sender<T> tx, std::size_t tickets) : tx_(std::move(tx)), sem_(tickets) {}

  // Waits for a ticket, then for channel space. On Closed the value comes back and the
  // ticket is released.
  Task<Result<Receipt, SendError<T>>> send(T v) {
    Semaphore::Permit p = co_await sem_.acquire();
    auto r = co_await tx_.send(std::move(v));
    if (!r) co_return err(std::move(r.error()));
    co_return Receipt(std::move(p));
  }

  std::size_t tickets_free() const noexcept { return sem_.available(); }
  std::size_t producers_waiting() const noexcept { return sem_.waiters(); }
  local::Sender<T>& sender() noexcept { return tx_; }

 private:
  local::Sender<T> tx_;
  Semaphore sem_;
};

}  // namespace sluice
