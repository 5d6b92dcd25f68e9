// SocketAddress: an IPv4 or IPv6 address and port, held by value (sockaddr_storage), so an
// operation that needs a sockaddr (connect, send_to, recv_from) points into it without any
// allocation.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::io {

class SocketAddress {
 public:
  SocketAddress() noexcept { std::memset(&ss_, 0, sizeof ss_); }

  // "1.2.3.4" or "::1" (no names: resolving is blocking work for the bridge). nullopt when
  // the text is not a literal address.
  static std::optional<SocketAddress> parse(std::string_view ip, uint16_t port) noexcept {
    char buf[INET6_ADDRSTRLEN + 1];
    if (ip.size() >= sizeof buf) return std::nullopt;
    std::memcpy(buf, ip.data(), ip.size());
    buf[ip.size()] = '\0';
    SocketAddress a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.ss_);
    if (::inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(port);
      a.len_ = sizeof(sockaddr_in);
      return a;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.ss_);
    if (::inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(port);
      a.len_ = sizeof(sockaddr_in6);
      return a;
    }
    return std::nullopt;
  }
  static SocketAddress loopback_v4(uint16_t port) noexcept {
    SocketAddress a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.ss_);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  static SocketAddress any_v4(uint16_t port) noexcept {
    SocketAddress a = loopback_v4(port);
    reinterpret_cast<sockaddr_in*>(&a.ss_)->sin_addr.s_addr = htonl(INADDR_ANY);
    return a;
  }
  // From what the kernel wrote (accept, recvmsg, getsockname); a length it did not fill
  // makes an empty address (family() == AF_UNSPEC).
  static SocketAddress from(const sockaddr* sa, socklen_t len) noexcept {
    SocketAddress a;
    if (sa != nullptr && len > 0 && len <= sizeof(sockaddr_storage)) {
      std::memcpy(&a.ss_, sa, len);
      a.len_ = len;
    }
    return a;
  }

  int family() const noexcept { return ss_.ss_family; }
  uint16_t port() const noexcept {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss_)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_port);
    return 0;
  }
  std::string to_string() const {
    char buf[INET6_ADDRSTRLEN + 8] = {};
    if (family() == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr, buf, sizeof buf);
    } else if (family() == AF_INET6) {
      buf[0] = '[';
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr, buf + 1,
                  sizeof buf - 2);
      std::strcat(buf, "]");
    } else {
      return "unspecified";
    }
    return std::string(buf) + ":" + std::to_string(port());
  }

  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&ss_); }
  sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&ss_); }
  socklen_t size() const noexcept { return len_; }
  void set_size(socklen_t n) noexcept { len_ = n; }
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }

 private:
  sockaddr_storage ss_;
  socklen_t len_ = 0;
};

// The address a socket is bound to / connected to (empty when the call fails).
inline SocketAddress local_address_of(int fd) noexcept {
  SocketAddress a;
  socklen_t n = SocketAddress::capacity();
  if (::getsockname(fd, a.get(), &n) == 0) a.set_size(n);
  return a;
}
inline SocketAddress peer_address_of(int fd) noexcept {
  SocketAddress a;
  socklen_t n = SocketAddress::capacity();
  if (::getpeername(fd, a.get(), &n) == 0) a.set_size(n);
  return a;
}

}  // namespace sluice::io
