// Throttle<T>: bounds how many producers are in flight on a local channel, without the
// consumer taking part. send() first takes a ticket (a Semaphore permit), then sends; it
// returns a Receipt that holds the ticket. The ticket is released when the Receipt is
// destroyed, so the producer decides what "in flight" means: drop the Receipt at once, keep
// it until an acknowledgement, or move it into the message so the consumer releases it.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
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

enum class ThrottleError : uint8_t {
  ZeroTickets,  // nobody could ever send: every send() would wait forever
  NoSender,     // the Sender is empty (default-constructed or moved from)
  OutOfMemory,  // the ticket semaphore could not be allocated
};
inline const char* to_string(ThrottleError e) noexcept {
  switch (e) {
    case ThrottleError::ZeroTickets:
      return "zero tickets";
    case ThrottleError::NoSender:
      return "no sender";
    case ThrottleError::OutOfMemory:
      return "out of memory";
  }
  return "unknown";
}

template <class T>
class Throttle {
 public:
  // `tickets` producers may hold a Receipt at once. On an error `tx` is left untouched, so the
  // caller still holds its sender (and the channel stays open).
  static Result<Throttle, ThrottleError> make(local::Sender<T>&& tx, std::size_t tickets) noexcept {
    if (tickets == 0) return err(ThrottleError::ZeroTickets);
    if (!tx) return err(ThrottleError::NoSender);
    std::unique_ptr<Semaphore> sem(new (std::nothrow) Semaphore(tickets));
    if (!sem) return err(ThrottleError::OutOfMemory);
    return Throttle(std::move(tx), std::move(sem));
  }
  // Movable: receipts point at the semaphore, which stays where it is. A moved-from Throttle
  // is empty and must not be used.
  Throttle(Throttle&&) noexcept = default;
  Throttle& operator=(Throttle&&) noexcept = default;

  // Waits for a ticket, then for channel space. On Closed the value comes back and the
  // ticket is released. The Throttle must outlive every Receipt it issued.
  Task<Result<Receipt, SendError<T>>> send(T v) {
    Semaphore::Permit p = co_await sem_->acquire();
    auto r = co_await tx_.send(std::move(v));
    if (!r) co_return err(std::move(r.error()));
    co_return Receipt(std::move(p));
  }

  std::size_t tickets_free() const noexcept { return sem_->available(); }
  std::size_t producers_waiting() const noexcept { return sem_->waiters(); }
  local::Sender<T>& sender() noexcept { return tx_; }

 private:
  Throttle(local::Sender<T>&& tx, std::unique_ptr<Semaphore> sem) noexcept
      : tx_(std::move(tx)), sem_(std::move(sem)) {}

  local::Sender<T> tx_;
  // On the heap so the Throttle can move while receipts and waiters point at the semaphore.
  std::unique_ptr<Semaphore> sem_;
};

}  // namespace sluice
