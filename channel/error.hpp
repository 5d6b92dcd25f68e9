// Error values shared by every channel kind. A failed send always hands the value back.
#pragma once

#include <cstdint>
#include <utility>

namespace sluice {

// Construction errors.
enum class ChannelError : uint8_t {
  ZeroCapacity,      // capacity 0: a channel that can never carry anything
  CapacityTooLarge,  // more than 2^31 slots
  OutOfMemory,       // the ring's memory could not be allocated (e.g. on the chosen NUMA node)
  TooManyProducers,  // MpscLanes::producer(): every lane has a live producer
};

enum class SendErrc : uint8_t {
  Full,    // try_send only: no free slot right now
  Closed,  // the receiver is gone; nothing will ever be delivered
};

// The value that could not be sent, returned to the caller with the reason.
template <class T>
struct SendError {
  SendErrc code;
  T value;
};

enum class RecvError : uint8_t {
  Empty,    // try_recv only: nothing queued, senders still alive
  Closed,   // every sender is gone and everything queued was received
  Corrupt,  // byte channels only: the ring's memory was overwritten (a memory-safety bug
            // elsewhere in the process); the receiver has stopped for good
};

// Claims on the byte channels (spsc_bytes, mpsc_bytes).
enum class ClaimError : uint8_t {
  Full,        // try_claim only: not enough free space right now
  ZeroLength,  // a claim of 0 bytes (refused at once, also by the awaitable)
  TooLarge,    // more than max_payload(): could never fit (refused at once)
  Closed,      // the receiver is gone; nothing will ever be read
  Corrupt,     // the ring's cursors were overwritten (a memory-safety bug elsewhere in the
               // process); refused at once, nothing was written
};

inline const char* to_string(ChannelError e) noexcept {
  switch (e) {
    case ChannelError::ZeroCapacity:
      return "zero capacity";
    case ChannelError::CapacityTooLarge:
      return "capacity too large";
    case ChannelError::OutOfMemory:
      return "out of memory";
    case ChannelError::TooManyProducers:
      return "too many producers";
  }
  return "unknown";
}
inline const char* to_string(SendErrc e) noexcept {
  return e == SendErrc::Full ? "full" : "closed";
}
inline const char* to_string(ClaimError e) noexcept {
  switch (e) {
    case ClaimError::Full:
      return "full";
    case ClaimError::ZeroLength:
      return "zero length";
    case ClaimError::TooLarge:
      return "too large";
    case ClaimError::Closed:
      return "closed";
    case ClaimError::Corrupt:
      return "corrupt";
  }
  return "unknown";
}
inline const char* to_string(RecvError e) noexcept {
  switch (e) {
    case RecvError::Empty:
      return "empty";
    case RecvError::Closed:
      return "closed";
    case RecvError::Corrupt:
      return "corrupt";
  }
  return "unknown";
}

}  // namespace sluice
