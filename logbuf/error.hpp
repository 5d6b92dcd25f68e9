// Error values of the byte rings (logbuf). Every failure is a value; nothing is lost on one:
// a refused claim wrote nothing, and an empty read took nothing.
#pragma once

#include <cstdint>

namespace sluice::logbuf {

enum class ClaimError : uint8_t {
  Full,        // not enough free space right now (try again after the reader releases)
  ZeroLength,  // a claim of 0 bytes: a record must carry at least one byte
  TooLarge,    // more than max_payload(capacity): could never fit, so refused up front
};

enum class ReadError : uint8_t {
  Empty,  // no committed record at the read position (a claim ahead of it may be open)
};

// Construction and attach errors.
enum class LogbufError : uint8_t {
  BadCapacity,     // 0, below kMinCapacity rounded up, or above kMaxCapacity
  OutOfMemory,     // the buffer's memory could not be allocated
  RegionTooSmall,  // the caller's region cannot hold region_bytes(capacity)
  Misaligned,      // the caller's region is not aligned to kRegionAlign
  NotALogbuf,      // attach: the region holds no initialised logbuf (magic or version differ)
  WrongKind,       // attach: an SPSC region attached as MPSC, or the other way round
};

inline const char* to_string(ClaimError e) noexcept {
  switch (e) {
    case ClaimError::Full:
      return "full";
    case ClaimError::ZeroLength:
      return "zero length";
    case ClaimError::TooLarge:
      return "too large";
  }
  return "unknown";
}
inline const char* to_string(ReadError) noexcept { return "empty"; }
inline const char* to_string(LogbufError e) noexcept {
  switch (e) {
    case LogbufError::BadCapacity:
      return "bad capacity";
    case LogbufError::OutOfMemory:
      return "out of memory";
    case LogbufError::RegionTooSmall:
      return "region too small";
    case LogbufError::Misaligned:
      return "misaligned region";
    case LogbufError::NotALogbuf:
      return "not a logbuf region";
    case LogbufError::WrongKind:
      return "wrong logbuf kind";
  }
  return "unknown";
}

}  // namespace sluice::logbuf
