// mpsc::channel<T>: cloneable Senders (each copy another producer, on any thread), one
// Receiver, over an MpscRing. Per-producer FIFO; blocked senders are woken oldest first.
// Same vocabulary and close semantics as local::channel. See detail/xchannel.hpp.
#pragma once

#include "detail/xchannel.hpp"
#include "mpsc_ring.hpp"

namespace sluice::mpsc {

template <class T>
using Sender = detail::XSender<T, MpscRing<T>, true>;
template <class T>
using Receiver = detail::XReceiver<T, MpscRing<T>>;
template <class T>
using Channel = detail::XChannel<T, MpscRing<T>, true>;

// Capacity rounds up to a power of two. Errors: ZeroCapacity, CapacityTooLarge, OutOfMemory.
template <class T>
Result<Channel<T>, ChannelError> channel(std::size_t capacity, RingMemory mem = {}) {
  return detail::make_xchannel<T, MpscRing<T>, true>(capacity, mem);
}

}  // namespace sluice::mpsc
