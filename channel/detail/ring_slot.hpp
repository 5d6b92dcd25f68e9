// Shared pieces of the typed rings: the slot (sequence word next to the value) and capacity
// validation.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "../../runtime/result.hpp"
#include "../error.hpp"

namespace sluice::detail {

template <class T>
struct SlotBody {
  // The ready signal: equals pos + 1 once the value for position `pos` is in this slot. It
  // shares the value's cache line, so the consumer's poll and the data travel together (one
  // line transfer per hand-off instead of two).
  std::atomic<uint64_t> seq{0};
  alignas(T) unsigned char storage[sizeof(T)];
};

// A slot never straddles two cache lines: sizes up to 64 round up to a power of two and align
// to it, larger ones align to 64.
template <class T>
inline constexpr std::size_t kSlotAlign = std::max<std::size_t>(
    alignof(SlotBody<T>), sizeof(SlotBody<T>) >= 64 ? 64 : std::bit_ceil(sizeof(SlotBody<T>)));

template <class T>
struct alignas(kSlotAlign<T>) RingSlot : SlotBody<T> {
  T* ptr() noexcept { return std::launder(reinterpret_cast<T*>(this->storage)); }
};

// Optional (-DSLUICE_RING_MIX): spreading consecutive positions over different cache lines:
// position bits [0, b) and [b, 2b) swap, where 2^b slots share a line, so the producer writing
// p + 1 does not invalidate the line the consumer reads p from. Off by default: measured on
// the 2-vCPU EPYC VMs with the consumer's free marks, it cut u64 throughput (SPSC 267-280 ->
// 225-239 M/s, MPSC 103 -> 53 M/s; perf/RESULTS.md). Never used for rings smaller than
// (2^b)^2 slots, where the swap would leave the ring.
template <class T>
inline constexpr unsigned kMixBits =
    sizeof(RingSlot<T>) >= 64 ? 0u
                              : static_cast<unsigned>(std::countr_zero(64 / sizeof(RingSlot<T>)));

template <class T>
constexpr unsigned mix_bits_for(uint64_t cap) noexcept {
#ifdef SLUICE_RING_MIX
  return cap >= (uint64_t{1} << (2 * kMixBits<T>)) ? kMixBits<T> : 0u;
#else
  (void)cap;
  return 0;
#endif
}

inline uint64_t slot_index(uint64_t pos, uint64_t mask, unsigned bits) noexcept {
#ifdef SLUICE_RING_MIX
  const uint64_t i = pos & mask;
  const uint64_t mix = (i ^ (i >> bits)) & ((uint64_t{1} << bits) - 1);
  return i ^ mix ^ (mix << bits);
#else
  // Without mixing the index is the masked position: no shifts on the hot path (the swap
  // above costs 12 instructions per push and per pop even when bits is 0).
  (void)bits;
  return pos & mask;
#endif
}

inline constexpr std::size_t kMaxRingCapacity = std::size_t{1} << 31;

// Rounds up to a power of two; 0 and more than 2^31 are errors.
inline Result<uint64_t, ChannelError> ring_capacity(std::size_t capacity) noexcept {
  if (capacity == 0) return err(ChannelError::ZeroCapacity);
  if (capacity > kMaxRingCapacity) return err(ChannelError::CapacityTooLarge);
  return std::bit_ceil(static_cast<uint64_t>(capacity));
}

}  // namespace sluice::detail
