// spsc_bytes::channel: variable-length byte records from one writer to one reader, any two
// threads (tasks on runtimes or plain threads), over an SpscLogbuf. Claim n bytes, write them
// in place, commit; receive a read claim, read in place, release. No allocation per record.
// Same close semantics as the typed channels; see detail/xbytes.hpp for wakes and lifetimes.
#pragma once

#include "detail/xbytes.hpp"

namespace sluice::spsc_bytes {

using Sender = detail::XBytesSender<false>;
using Receiver = detail::XBytesReceiver<false>;
using WriteClaim = detail::XWriteClaim<false>;
using ReadClaim = detail::XReadClaim<false>;
using Channel = detail::XBytesChannel<false>;

// `capacity` bytes, rounded up to a power of two (at least 64); the largest record is
// max_payload() = capacity / 2 - 8. Errors: ZeroCapacity, CapacityTooLarge, OutOfMemory.
inline Result<Channel, ChannelError> channel(std::size_t capacity, RingMemory mem = {}) {
  return detail::make_bytes_channel<false>(capacity, mem);
}

}  // namespace sluice::spsc_bytes
