// Throttle<T>: bounds how many producers are in flight on a local channel, without the
// consumer taking part. send() first takes a ticket (a Semaphore permit), then sends; it
// returns a Receipt that holds the ticket. The ticket is released when the Receipt is
// destroyed, so the producer decides what "in flight" means: drop the Receipt at once, keep
// it until an acknowledgement, or move it into the message so the consumer releases it.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
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
  // Movable while receipts are out (they point at the semaphore, which stays where it is),
  // but not while a send() is waiting: it resumes through this object. A moved-from Throttle
  // is empty and must not be used.
  Throttle(Throttle&&) noexcept = default;
  Throttle& operator=(Throttle&&) noexcept = default;

  using SendResult = Result<Receipt, SendError<T>>;

  // Never waits: a ticket and a slot now, or the value back (Full when either is missing,
  // Closed when the receiver is gone). A producer already waiting for a ticket keeps its turn.
  SendResult try_send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    auto p = sem_->try_acquire();
    if (!p) return err(SendError<T>{SendErrc::Full, std::move(v)});
    auto r = tx_.try_send(std::move(v));
    if (!r) return err(std::move(r.error()));  // the ticket goes back with p
    return Receipt(std::move(*p));
  }

  // `co_await send(v)`: waits for a ticket, then for channel space. On Closed the value comes
  // back and the ticket is released. The Throttle must outlive every Receipt it issued.
  // When a ticket and a slot are free the send completes inside await_ready, with no
  // coroutine frame; only a wait starts one.
  class [[nodiscard]] SendOp {
   public:
    SendOp(Throttle* th, T&& v) noexcept(std::is_nothrow_move_constructible_v<T>)
        : th_(th), v_(std::move(v)) {}
    bool await_ready() noexcept(std::is_nothrow_move_constructible_v<T>) {
      auto p = th_->sem_->try_acquire();
      if (!p) return false;  // no ticket: the slow path queues for one (FIFO)
      auto r = th_->tx_.try_send(std::move(v_));
      if (r) {
        done_.emplace(Receipt(std::move(*p)));
        return true;
      }
      if (r.error().code == SendErrc::Closed) {
        done_.emplace(err(std::move(r.error())));  // p gives the ticket back
        return true;
      }
      v_ = std::move(r.error().value);  // Full: keep the ticket and wait for room
      permit_ = std::move(*p);
      return false;
    }
    void await_suspend(std::coroutine_handle<> h) {
      slow_ = slow(th_, std::move(permit_), std::move(v_));
      std::move(slow_).operator co_await().await_suspend(h);
    }
    SendResult await_resume() {
      if (done_) return std::move(*done_);
      return std::move(slow_).operator co_await().await_resume();
    }

   private:
    Throttle* th_;
    T v_;
    Semaphore::Permit permit_;  // held when a ticket was taken but the channel was full
    std::optional<SendResult> done_;
    Task<SendResult> slow_;
  };
  SendOp send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return SendOp(this, std::move(v));
  }

  std::size_t tickets_free() const noexcept { return sem_->available(); }
  std::size_t producers_waiting() const noexcept { return sem_->waiters(); }
  local::Sender<T>& sender() noexcept { return tx_; }

 private:
  Throttle(local::Sender<T>&& tx, std::unique_ptr<Semaphore> sem) noexcept
      : tx_(std::move(tx)), sem_(std::move(sem)) {}

  // The waiting path: a ticket first (unless await_ready already holds one), then room.
  static Task<SendResult> slow(Throttle* th, Semaphore::Permit p, T v) {
    if (!p) p = co_await th->sem_->acquire();
    auto r = co_await th->tx_.send(std::move(v));
    if (!r) co_return err(std::move(r.error()));
    co_return Receipt(std::move(p));
  }

  local::Sender<T> tx_;
  // On the heap so the Throttle can move while receipts and waiters point at the semaphore.
  std::unique_ptr<Semaphore> sem_;
};

}  // namespace sluice
