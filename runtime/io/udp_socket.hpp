// UdpSocket: a UDP socket on the runtime's ring: send_to / recv_from (one datagram each),
// multishot receive into a BufferRing (recv_stream.hpp: the market-data path), and multicast
// group membership. Errors are IoError values; operations follow the rules of tcp_stream.hpp
// (cancellable, buffer alive until the last completion).
#pragma once

#include <liburing.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <span>

#include "../result.hpp"
#include "address.hpp"
#include "buffer_ring.hpp"
#include "detail/op.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "recv_stream.hpp"
#include "socket_options.hpp"
#include "tcp_stream.hpp"

namespace sluice::io {

struct Datagram {
  std::size_t size = 0;    // bytes written to the buffer
  bool truncated = false;  // the datagram was longer than the buffer (MSG_TRUNC)
  SocketAddress from;
};

class UdpSocket {
 public:
  UdpSocket() noexcept = default;
  explicit UdpSocket(OwnedFd fd) noexcept : fd_(std::move(fd)) {}
  // Dropping it shuts the socket down first (SocketFd): an operation another task still has
  // in flight on it completes, and a TCP peer sees the end of the stream.

  // A socket bound to `at` (port 0: any free port). reuse: SO_REUSEADDR and SO_REUSEPORT,
  // so several receivers can join one multicast group and port.
  static Result<UdpSocket, IoError> bind(SocketAddress at, bool reuse = false) noexcept {
    OwnedFd fd(::socket(at.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return err(IoError::sys(errno));
    if (reuse) {
      if (auto r = set_reuse_addr(fd.get()); !r) return err(r.error());
      if (auto r = set_reuse_port(fd.get()); !r) return err(r.error());
    }
    if (::bind(fd.get(), at.get(), at.size()) != 0) return err(IoError::sys(errno));
    return UdpSocket(std::move(fd));
  }
  // Fixes the peer: send()/recv() without addresses, and datagrams from others are dropped.
  Result<void, IoError> connect(const SocketAddress& to) noexcept {
    if (::connect(fd(), to.get(), to.size()) != 0) return err(IoError::sys(errno));
    return {};
  }

  // One datagram to `to`. The whole buffer goes or nothing (EMSGSIZE when too large).
  [[nodiscard]] auto send_to(std::span<const std::byte> buf, const SocketAddress& to) noexcept {
    struct Prep {
      int fd;
      std::span<const std::byte> buf;
      SocketAddress to;
      iovec iov{};
      msghdr msg{};
      void operator()(io_uring_sqe* sqe, Runtime*) noexcept {
        iov.iov_base = const_cast<std::byte*>(buf.data());
        iov.iov_len = buf.size();
        msg.msg_name = to.get();
        msg.msg_namelen = to.size();
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        io_uring_prep_sendmsg(sqe, fd, &msg, MSG_NOSIGNAL);
      }
    };
    return detail::make_op(Prep{fd(), buf, to},
                           [](int32_t res) noexcept -> Result<std::size_t, IoError> {
                             if (res < 0) return err(IoError::sys(-res));
                             return static_cast<std::size_t>(res);
                           });
  }
  // One datagram and its sender.
  [[nodiscard]] auto recv_from(std::span<std::byte> buf) noexcept {
    struct Prep {
      int fd;
      std::span<std::byte> buf;
      SocketAddress from;
      iovec iov{};
      msghdr msg{};
      void operator()(io_uring_sqe* sqe, Runtime*) noexcept {
        iov.iov_base = buf.data();
        iov.iov_len = buf.size();
        msg.msg_name = from.get();
        msg.msg_namelen = SocketAddress::capacity();
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        io_uring_prep_recvmsg(sqe, fd, &msg, 0);
      }
    };
    return detail::make_op(Prep{fd(), buf, {}},
                           [](int32_t res, Prep& p) noexcept -> Result<Datagram, IoError> {
                             if (res < 0) return err(IoError::sys(-res));
                             Datagram d;
                             d.size = static_cast<std::size_t>(res);
                             d.truncated = (p.msg.msg_flags & MSG_TRUNC) != 0;
                             p.from.set_size(p.msg.msg_namelen);
                             d.from = p.from;
                             return d;
                           });
  }
  // Connected socket: one datagram to the peer / from the peer.
  [[nodiscard]] auto send(std::span<const std::byte> buf) noexcept {
    const int f = fd();
    return detail::make_op(
        [f, buf](io_uring_sqe* sqe, Runtime*) noexcept {
          io_uring_prep_send(sqe, f, buf.data(), buf.size(), MSG_NOSIGNAL);
        },
        [](int32_t res) noexcept -> Result<std::size_t, IoError> {
          if (res < 0) return err(IoError::sys(-res));
          return static_cast<std::size_t>(res);
        });
  }
  [[nodiscard]] auto recv(std::span<std::byte> buf) noexcept {
    const int f = fd();
    return detail::make_op(
        [f, buf](io_uring_sqe* sqe, Runtime*) noexcept {
          io_uring_prep_recv(sqe, f, buf.data(), buf.size(), 0);
        },
        [](int32_t res) noexcept -> Result<std::size_t, IoError> {  // 0: an empty datagram
          if (res < 0) return err(IoError::sys(-res));
          return static_cast<std::size_t>(res);
        });
  }
  // Multishot receive of datagrams into `br` (see recv_stream.hpp).
  Result<RecvStream, IoError> recv_multishot(BufferRing& br) noexcept {
    return RecvStream::make(fd(), br, /*stream=*/false);
  }

  // IPv4 multicast: join `group` on the interface with address `iface` (INADDR_ANY: the
  // kernel's choice by route; 127.0.0.1 for loopback).
  Result<void, IoError> join_multicast_v4(in_addr group, in_addr iface) noexcept {
    return membership(IP_ADD_MEMBERSHIP, group, iface);
  }
  Result<void, IoError> leave_multicast_v4(in_addr group, in_addr iface) noexcept {
    return membership(IP_DROP_MEMBERSHIP, group, iface);
  }
  // Outgoing multicast: the interface, whether our own host hears it, and the hop limit.
  Result<void, IoError> set_multicast_interface_v4(in_addr iface) noexcept {
    if (::setsockopt(fd(), IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) != 0)
      return err(IoError::sys(errno));
    return {};
  }
  Result<void, IoError> set_multicast_loop(bool on) noexcept {
    return set_option(fd(), IPPROTO_IP, IP_MULTICAST_LOOP, on ? 1 : 0);
  }
  Result<void, IoError> set_multicast_ttl(int hops) noexcept {
    return set_option(fd(), IPPROTO_IP, IP_MULTICAST_TTL, hops);
  }
  Result<void, IoError> set_recv_buffer(int bytes) noexcept {
    return io::set_recv_buffer(fd(), bytes);
  }
  Result<void, IoError> set_busy_poll(std::chrono::microseconds us) noexcept {
    return io::set_busy_poll(fd(), us);
  }

  SocketAddress local_address() const noexcept { return local_address_of(fd()); }
  int fd() const noexcept { return fd_.get(); }
  bool valid() const noexcept { return fd_.valid(); }
  // Ends operations still in flight on the socket (see the destructor), then closes on the
  // ring and reports close's error; the object is empty afterwards.
  [[nodiscard]] auto close() noexcept { return detail::close_op(fd_.shut_and_release()); }

 private:
  Result<void, IoError> membership(int opt, in_addr group, in_addr iface) noexcept {
    ip_mreq m{};
    m.imr_multiaddr = group;
    m.imr_interface = iface;
    if (::setsockopt(fd(), IPPROTO_IP, opt, &m, sizeof m) != 0) return err(IoError::sys(errno));
    return {};
  }
  SocketFd fd_;
};

}  // namespace sluice::io
