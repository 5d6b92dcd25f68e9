// mpsc_bytes::channel: variable-length byte records from many writers (Sender is copyable) to
// one reader, on any threads, over an MpscLogbuf. A writer holding an open claim delays the
// records claimed after it (never tears them); keep claims short. Claim n bytes, write them
// in place, commit; receive a read claim, read in place, release. No allocation per record.
// Same close semantics as the typed channels; see detail/xbytes.hpp for wakes and lifetimes.
#pragma once

#include "detail/xbytes.hpp"

namespace sluice::mpsc_bytes {

using Sender = detail::XBytesSender<true>;
using Receiver = detail::XBytesReceiver<true>;
using WriteClaim = detail::XWriteClaim<true>;
using ReadClaim = detail::XReadClaim<true>;
using Channel = detail::XBytesChannel<true>;

// `capacity` bytes, rounded up to a power of two (at least 64); the largest record is
// max_payload() = capacity / 2 - 8. Errors: ZeroCapacity, CapacityTooLarge, OutOfMemory.
inline Result<Channel, ChannelError> channel(std::size_t capacity, RingMemory mem = {}) {
  return detail::make_bytes_channel<true>(capacity, mem);
}

}  // namespace sluice::mpsc_bytes
