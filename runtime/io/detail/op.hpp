// The awaiter every single-shot I/O operation is built from.
//
// await_suspend takes an SQE from the runtime's ring and lets `Prep` fill it; the runtime
// submits it with the rest of the loop turn's SQEs in one enter. The completion records the
// result and schedules the task. If the awaiter is destroyed while the operation is in flight
// (the task aborted, timed out, cancelled), its destructor cancels the operation and waits for
// the final completion (Runtime::io_cancel): the buffer and the frame it lives in are still
// alive until then, so the kernel never writes freed memory and nothing leaks.
#pragma once

#include <liburing.h>
#include <unistd.h>

#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../../result.hpp"
#include "../../runtime.hpp"
#include "../error.hpp"

namespace sluice::io::detail {

template <class Prep, class Map>
class [[nodiscard]] Op : sluice::detail::IoOp {
 public:
  Op(Prep p, Map m, unsigned linked = 0) noexcept
      : prep_(std::move(p)), map_(std::move(m)), linked_(linked) {
    on_cqe = &complete;
  }
  // Not movable: the ring holds its address from submission to the last completion.
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;
  ~Op() {
    if (in_flight) {
      task_ = nullptr;  // being destroyed: nobody to wake
      rt_->io_cancel(this);
    }
    // An operation whose result is a new descriptor (open) that completed but was never
    // resumed (aborted in between, or the cancel lost the race): close it, or it leaks.
    if constexpr (requires { Map::kOwnsFd; }) {
      if (done_ && !taken_ && res_ >= 0) ::close(res_);
    }
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    sluice::detail::TaskHeader* cur = sluice::detail::tl_ctx.current;
    rt_ = cur->rt;
    io_uring_sqe* sqe = rt_->io_prepare(this, linked_);
    if (sqe == nullptr) [[unlikely]] {
      res_ = -ENOSYS;  // the runtime has no ring (RuntimeConfig::require_io_uring)
      done_ = true;
      return false;
    }
    prep_(sqe, rt_);
    cur->leaf = h;
    task_ = cur;
    return true;
  }
  // Map sees the result (and Prep, for operations that kept an address or a message there).
  auto await_resume() noexcept {
    task_ = nullptr;
    taken_ = true;
    if constexpr (std::is_invocable_v<Map&, int32_t, Prep&>)
      return map_(res_, prep_);
    else
      return map_(res_);
  }

 private:
  static void complete(sluice::detail::IoOp* o, int32_t res, uint32_t) noexcept {
    auto* self = static_cast<Op*>(o);
    self->res_ = res;
    self->done_ = true;
    if (self->task_ != nullptr) self->rt_->schedule(self->task_);
  }
  Prep prep_;
  Map map_;
  Runtime* rt_ = nullptr;
  sluice::detail::TaskHeader* task_ = nullptr;
  int32_t res_ = 0;
  unsigned linked_;
  bool done_ = false;
  bool taken_ = false;
};

// res < 0 is -errno; 0 on a non-empty buffer is the end of the stream.
struct MapSize {
  std::size_t asked;
  Result<std::size_t, IoError> operator()(int32_t res) const noexcept {
    if (res > 0) return static_cast<std::size_t>(res);
    if (res == 0) {
      if (asked == 0) return std::size_t{0};
      return err(IoError::eof());
    }
    return err(IoError::sys(-res));
  }
};
struct MapVoid {
  Result<void, IoError> operator()(int32_t res) const noexcept {
    if (res < 0) return err(IoError::sys(-res));
    return {};
  }
};

template <class Prep, class Map>
Op<Prep, Map> make_op(Prep p, Map m, unsigned linked = 0) noexcept {
  return Op<Prep, Map>(std::move(p), std::move(m), linked);
}

// close(2) on the ring, its error as a value.
inline auto close_op(int fd) noexcept {
  return make_op([fd](io_uring_sqe* sqe, Runtime*) noexcept { io_uring_prep_close(sqe, fd); },
                 MapVoid{});
}

}  // namespace sluice::io::detail
