// TcpStream: a connected TCP socket whose operations run on the runtime's io_uring ring.
//
// Every operation is an awaitable (or a Task for the composed ones) returning a Result with an
// IoError: end of stream is IoError::eof(), never an errno; a send to a closed peer is EPIPE,
// never SIGPIPE. Usable under timeout(...), JoinHandle::abort() and until_cancelled(...): an
// operation whose awaiter goes away is cancelled and waited for (detail/op.hpp), so the
// caller's buffer may be freed as soon as the awaiting task is gone.
//
// At most one send and one receive in flight per stream keeps bytes in order; the stream does
// not check this (a checked build would cost a flag per op).
#pragma once

#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <span>

#include "../detail/deadline.hpp"
#include "../result.hpp"
#include "../task.hpp"
#include "address.hpp"
#include "detail/op.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "recv_stream.hpp"
#include "socket_options.hpp"

namespace sluice::io {

class TcpStream {
 public:
  TcpStream() noexcept = default;
  explicit TcpStream(OwnedFd fd) noexcept : fd_(std::move(fd)) {}
  // Dropping it shuts the socket down first (SocketFd): an operation another task still has
  // in flight on it completes, and a TCP peer sees the end of the stream.

  // Connects to `to` (a fresh socket, TCP_NODELAY on). `limit` bounds the handshake (an
  // io_uring link timeout; ETIMEDOUT when it fires); a duration past the clock's range means
  // none. Refused: ECONNREFUSED.
  template <class Rep = int64_t, class Period = std::nano>
  static Task<Result<TcpStream, IoError>> connect(
      SocketAddress to,
      std::chrono::duration<Rep, Period> limit = std::chrono::nanoseconds::max()) {
    OwnedFd fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) co_return err(IoError::sys(errno));
    (void)io::set_nodelay(fd.get());
    const bool bounded = sluice::detail::deadline_after(limit) != sluice::detail::kNever;
    __kernel_timespec ts{};
    if (bounded) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(limit).count();
      ts.tv_sec = ns <= 0 ? 0 : ns / 1000000000;
      ts.tv_nsec = ns <= 0 ? 1 : ns % 1000000000;
    }
    const int f = fd.get();
    auto r = co_await detail::make_op(
        [f, &to, &ts, bounded](io_uring_sqe* sqe, Runtime* rt) noexcept {
          io_uring_prep_connect(sqe, f, to.get(), to.size());
          if (bounded) {
            sqe->flags |= IOSQE_IO_LINK;
            io_uring_prep_link_timeout(rt->io_linked_sqe(), &ts, 0);
          }
        },
        [bounded](int32_t res) noexcept -> Result<void, IoError> {
          if (res == -ECANCELED && bounded) return err(IoError::sys(ETIMEDOUT));  // the limit
          if (res < 0) return err(IoError::sys(-res));
          return {};
        },
        bounded ? 1u : 0u);
    if (!r) co_return err(r.error());
    co_return TcpStream(std::move(fd));
  }

  // Up to buf.size() bytes as soon as any arrive. eof() when the peer closed.
  [[nodiscard]] auto recv(std::span<std::byte> buf, int flags = 0) noexcept {
    const int f = fd_.get();
    return detail::make_op(
        [f, buf, flags](io_uring_sqe* sqe, Runtime*) noexcept {
          io_uring_prep_recv(sqe, f, buf.data(), buf.size(), flags);
        },
        detail::MapSize{buf.size()});
  }
  // Exactly buf.size() bytes (MSG_WAITALL): eof() if the peer closed before they all came.
  Task<Result<void, IoError>> recv_exact(std::span<std::byte> buf) {
    while (!buf.empty()) {
      auto r = co_await recv(buf, MSG_WAITALL);
      if (!r) co_return err(r.error());
      buf = buf.subspan(*r);
    }
    co_return Result<void, IoError>{};
  }
  // One send: may write fewer bytes than asked (the count comes back).
  [[nodiscard]] auto send(std::span<const std::byte> buf, int flags = 0) noexcept {
    const int f = fd_.get();
    return detail::make_op(
        [f, buf, flags](io_uring_sqe* sqe, Runtime*) noexcept {
          io_uring_prep_send(sqe, f, buf.data(), buf.size(), flags | MSG_NOSIGNAL);
        },
        [n = buf.size()](int32_t res) noexcept -> Result<std::size_t, IoError> {
          if (res < 0) return err(IoError::sys(-res));
          (void)n;
          return static_cast<std::size_t>(res);
        });
  }
  // Every byte, finishing partial writes (MSG_WAITALL lets the kernel do it in one op).
  Task<Result<void, IoError>> send_all(std::span<const std::byte> buf) {
    while (!buf.empty()) {
      auto r = co_await send(buf, MSG_WAITALL);
      if (!r) co_return err(r.error());
      buf = buf.subspan(*r);
    }
    co_return Result<void, IoError>{};
  }
  // shutdown(2) on the ring: SHUT_WR sends FIN after what was sent (the peer sees eof()).
  [[nodiscard]] auto shutdown(int how = SHUT_WR) noexcept {
    const int f = fd_.get();
    return detail::make_op(
        [f, how](io_uring_sqe* sqe, Runtime*) noexcept { io_uring_prep_shutdown(sqe, f, how); },
        detail::MapVoid{});
  }
  // Closes on the ring and reports close's error; the stream is empty afterwards.
  // Ends operations still in flight on the socket (see the destructor), then closes on the
  // ring and reports close's error; the object is empty afterwards.
  [[nodiscard]] auto close() noexcept { return detail::close_op(fd_.shut_and_release()); }

  Result<void, IoError> set_nodelay(bool on = true) noexcept { return io::set_nodelay(fd(), on); }
  Result<void, IoError> set_busy_poll(std::chrono::microseconds us) noexcept {
    return io::set_busy_poll(fd(), us);
  }
  Result<void, IoError> set_recv_buffer(int bytes) noexcept {
    return io::set_recv_buffer(fd(), bytes);
  }
  Result<void, IoError> set_send_buffer(int bytes) noexcept {
    return io::set_send_buffer(fd(), bytes);
  }
  // Multishot receive of this stream into `br` (recv_stream.hpp); drop it before the stream.
  Result<RecvStream, IoError> recv_multishot(BufferRing& br) noexcept {
    return RecvStream::make(fd(), br, /*stream=*/true);
  }
  SocketAddress local_address() const noexcept { return local_address_of(fd()); }
  SocketAddress peer_address() const noexcept { return peer_address_of(fd()); }

  int fd() const noexcept { return fd_.get(); }
  bool valid() const noexcept { return fd_.valid(); }
  OwnedFd release() noexcept { return fd_.release(); }

 private:
  SocketFd fd_;
};

}  // namespace sluice::io
