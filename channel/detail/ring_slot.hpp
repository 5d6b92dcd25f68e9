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

inline constexpr std::size_t kMaxRingCapacity = std::size_t{1} << 31;

// Rounds up to a power of two; 0 and more than 2^31 are errors.
inline Result<uint64_t, ChannelError> ring_capacity(std::size_t capacity) noexcept {
  if (capacity == 0) return err(ChannelError::ZeroCapacity);
  if (capacity > kMaxRingCapacity) return err(ChannelError::CapacityTooLarge);
  return std::bit_ceil(static_cast<uint64_t>(capacity));
}

}  // namespace sluice::detail
