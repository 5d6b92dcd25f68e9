// IoError: why an I/O operation did not deliver, as a value. End of stream (a peer's orderly
// close, a read at the end of a file) is its own kind, never confused with an errno.
#pragma once

#include <cstdint>
#include <cstring>

namespace sluice::io {

enum class IoErrc : uint8_t {
  EndOfStream,  // recv/read returned 0 on a non-empty buffer: the peer closed, or end of file
  System,       // the kernel's errno is in errno_value (ECONNREFUSED, ECONNRESET, ETIMEDOUT...)
};

struct IoError {
  IoErrc code = IoErrc::System;
  int errno_value = 0;

  static constexpr IoError eof() noexcept { return {IoErrc::EndOfStream, 0}; }
  static constexpr IoError sys(int e) noexcept { return {IoErrc::System, e}; }
  constexpr bool is_eof() const noexcept { return code == IoErrc::EndOfStream; }
  // The operation was cancelled (ECANCELED: the op's awaiter went away, or IORING cancel).
  constexpr bool is_cancelled() const noexcept {
    return code == IoErrc::System && errno_value == ECANCELED_VALUE;
  }
  friend constexpr bool operator==(const IoError&, const IoError&) = default;

 private:
  static constexpr int ECANCELED_VALUE = 125;  // Linux; checked below
};

inline const char* to_string(const IoError& e) noexcept {
  return e.is_eof() ? "end of stream" : std::strerror(e.errno_value);
}

}  // namespace sluice::io

#include <cerrno>
static_assert(ECANCELED == 125, "IoError::is_cancelled assumes Linux's ECANCELED");
