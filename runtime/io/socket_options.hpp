// Socket options a trading process sets, as error values. Plain setsockopt(2): these are
// set once at connection set-up, never on a hot path.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include "../result.hpp"
#include "error.hpp"

namespace sluice::io {

inline Result<void, IoError> set_option(int fd, int level, int name, int value) noexcept {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) return err(IoError::sys(errno));
  return {};
}
inline Result<int, IoError> get_option(int fd, int level, int name) noexcept {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, level, name, &v, &len) != 0) return err(IoError::sys(errno));
  return v;
}
// Nagle off: a 64-byte order goes out now, not after the previous one's ACK.
inline Result<void, IoError> set_nodelay(int fd, bool on = true) noexcept {
  return set_option(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}
// SO_BUSY_POLL: the kernel spins this many microseconds on the device queue on a blocking
// receive (needs a NIC driver with NAPI; CAP_NET_ADMIN to raise it above the sysctl).
inline Result<void, IoError> set_busy_poll(int fd, std::chrono::microseconds us) noexcept {
  return set_option(fd, SOL_SOCKET, SO_BUSY_POLL, static_cast<int>(us.count()));
}
// Kernel buffer sizes (the kernel doubles the value and caps it at net.core.[rw]mem_max).
inline Result<void, IoError> set_recv_buffer(int fd, int bytes) noexcept {
  return set_option(fd, SOL_SOCKET, SO_RCVBUF, bytes);
}
inline Result<void, IoError> set_send_buffer(int fd, int bytes) noexcept {
  return set_option(fd, SOL_SOCKET, SO_SNDBUF, bytes);
}
inline Result<void, IoError> set_reuse_addr(int fd, bool on = true) noexcept {
  return set_option(fd, SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0);
}
inline Result<void, IoError> set_reuse_port(int fd, bool on = true) noexcept {
  return set_option(fd, SOL_SOCKET, SO_REUSEPORT, on ? 1 : 0);
}

}  // namespace sluice::io
