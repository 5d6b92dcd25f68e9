// mpsc::channel<T>: cloneable Senders (each copy another producer, on any thread), one
// Receiver. Each sender pushes into a lane of its own (an SPSC ring, no atomic
// read-modify-write per value); senders beyond max_lanes share one multi-producer ring.
// FIFO per sender; capacity per sender; a sender waiting for room is woken when the receiver
// frees a slot of its own ring. Same close semantics as local::channel. See
// detail/mpsc_state.hpp for the layout and docs/channels.md for the trade-offs.
#pragma once

#include "detail/mpsc_state.hpp"
#include "detail/xchannel.hpp"

namespace sluice::mpsc {

template <class T>
using Sender = detail::MpscSender<T>;
template <class T>
using Receiver = detail::XReceiver<T, detail::MpscState<T>>;

template <class T>
struct Channel {
  Sender<T> tx;
  Receiver<T> rx;
};

// How many senders get a lane of their own by default. Lanes are allocated when first taken.
inline constexpr std::size_t kDefaultLanes = 64;

// Capacity rounds up to a power of two; it is per sender (see above). max_lanes = 0: every
// sender shares one multi-producer ring (one FIFO order across senders, one capacity for
// all). Errors: ZeroCapacity, CapacityTooLarge (capacity over 2^31, or max_lanes over
// MpscLanes::kMaxProducers), OutOfMemory.
template <class T>
Result<Channel<T>, ChannelError> channel(std::size_t capacity, RingMemory mem = {},
                                         std::size_t max_lanes = kDefaultLanes) {
  auto s = detail::MpscState<T>::create(capacity, max_lanes, mem);
  if (!s) return err(s.error());
  auto route = (*s)->route();
  if (!route) {
    delete *s;
    return err(route.error());
  }
  return Channel<T>{Sender<T>(*s, std::move(*route)), Receiver<T>(*s)};
}

}  // namespace sluice::mpsc
