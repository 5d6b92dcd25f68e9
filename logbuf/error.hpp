// Error values of the byte rings (logbuf). Every failure is a value; nothing is lost on one:
// a refused claim wrote nothing, and an empty read took nothing.
//
// Corrupt: a region shared with another process is input from a peer that need not be trusted
// (docs/logbuf.md, "Trust model"). Whatever that peer writes into the region, a logbuf never
// reads or writes outside it, never loops without bound and never crashes: a header or cursor
// that breaks the format is reported as Corrupt, and the reader stops there.
#pragma once

#include <cstdint>

namespace sluice::logbuf {

enum class ClaimError : uint8_t {
  Full,        // not enough free space right now (try again after the reader releases)
  ZeroLength,  // a claim of 0 bytes: a record must carry at least one byte
  TooLarge,    // more than max_payload(capacity): could never fit, so refused up front
  Corrupt,     // a cursor in the region breaks the rules (misaligned, moved backwards, or
               // further from the other than the capacity allows); nothing was written
};

enum class ReadError : uint8_t {
  Empty,    // no committed record at the read position (a claim ahead of it may be open)
  Corrupt,  // the reader found a header that breaks the format and stopped for good;
            // corruption() says where and why
};

// Construction and attach errors.
enum class LogbufError : uint8_t {
  BadCapacity,     // 0, below kMinCapacity rounded up, or above kMaxCapacity
  OutOfMemory,     // the buffer's memory could not be allocated
  RegionTooSmall,  // the caller's region cannot hold region_bytes(capacity)
  Misaligned,      // the caller's region is not aligned to kRegionAlign
  NotALogbuf,      // attach: the region holds no initialised logbuf (magic or version differ)
  WrongKind,       // attach: an SPSC region attached as MPSC, or the other way round
  Corrupt,         // attach: the published cursors break the rules (misaligned, head past
                   // tail, or further apart than the capacity)
};

// Which rule a corrupt region broke (Corruption::what).
enum class Violation : uint8_t {
  BadLength,   // a record's length is 0 or above max_payload
  PastEnd,     // a record runs past the end of the buffer (records never wrap)
  BadPadding,  // padding that neither ends at the buffer end nor has an aborted claim's size
  Overrun,     // a record ends further past the released position than any writer may claim
  BadRelease,  // a released-record mark behind the read position was overwritten
};

// Where the reader stopped: the byte offset, from the start of the region (the control block
// included), of the header word that broke the rule, and its stream position.
struct Corruption {
  uint64_t offset;
  uint64_t position;
  Violation what;
};

inline const char* to_string(ClaimError e) noexcept {
  switch (e) {
    case ClaimError::Full:
      return "full";
    case ClaimError::ZeroLength:
      return "zero length";
    case ClaimError::TooLarge:
      return "too large";
    case ClaimError::Corrupt:
      return "corrupt region";
  }
  return "unknown";
}
inline const char* to_string(ReadError e) noexcept {
  return e == ReadError::Empty ? "empty" : "corrupt region";
}
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
    case LogbufError::Corrupt:
      return "corrupt region";
  }
  return "unknown";
}
inline const char* to_string(Violation v) noexcept {
  switch (v) {
    case Violation::BadLength:
      return "record length out of range";
    case Violation::PastEnd:
      return "record past the end of the buffer";
    case Violation::BadPadding:
      return "padding of an impossible size";
    case Violation::Overrun:
      return "record beyond what a writer may claim";
    case Violation::BadRelease:
      return "released-record mark overwritten";
  }
  return "unknown";
}

}  // namespace sluice::logbuf
