// spsc::channel<T>: one Sender, one Receiver, any two threads (tasks on runtimes or plain
// threads), over an SpscRing. Same vocabulary and close semantics as local::channel; plain
// threads use send_blocking / recv_blocking. See detail/xchannel.hpp for the wake protocol.
#pragma once

#include "detail/xchannel.hpp"
#include "spsc_ring.hpp"

namespace sluice::spsc {

template <class T>
using Sender = detail::XSender<T, SpscRing<T>, false>;
template <class T>
using Receiver = detail::XReceiver<T, detail::XState<T, SpscRing<T>>>;
template <class T>
using Channel = detail::XChannel<T, SpscRing<T>, false>;

// Capacity rounds up to a power of two. Errors: ZeroCapacity, CapacityTooLarge, OutOfMemory.
template <class T>
Result<Channel<T>, ChannelError> channel(std::size_t capacity, RingMemory mem = {}) {
  return detail::make_xchannel<T, SpscRing<T>, false>(capacity, mem);
}

}  // namespace sluice::spsc
