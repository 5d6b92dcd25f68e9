// SpscRing<T>: bounded single-producer single-consumer ring for plain threads (no runtime).
//
// Why this shape (see detail/ring_core.hpp for the protocol):
// * The ready signal is a sequence word inside each slot, next to the value, so a hand-off
//   costs one cache-line transfer: the consumer never reads the producer's index at all.
// * The consumer marks each slot free after taking its value, and the producer tests the slot
//   it is about to fill, so neither side ever reads the other's index (ring_core.hpp).
// * No read-modify-write anywhere: one thread writes each word.
// * Each side's fields sit on their own kFalseShareBytes (128-byte) line, with private copies
//   of the constants they need. Slots are dense; a slot never straddles two lines.
#pragma once

#include <memory>

#include "detail/ring_core.hpp"

namespace sluice {

template <class T>
class SpscRing : public detail::RingCore<T, true> {
  using Core = detail::RingCore<T, true>;
  using Slot = typename Core::Slot;
  friend Core;  // make_ring constructs us through the protected constructor

 public:
  // Capacity rounds up to a power of two. Errors: ZeroCapacity, CapacityTooLarge, OutOfMemory.
  static Result<std::unique_ptr<SpscRing>, ChannelError> make(std::size_t capacity,
                                                              RingMemory mem = {}) {
    return Core::template make_ring<SpscRing>(capacity, mem);
  }

  // ---- producer (one thread at a time) ----

  // False when full; the value is moved from only on success.
  bool try_push(T&& v) noexcept(Core::kNothrowMove) { return try_emplace(std::move(v)); }
  bool try_push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    return try_emplace(v);
  }

  template <class... A>
  bool try_emplace(A&&... a) noexcept(std::is_nothrow_constructible_v<T, A&&...>) {
    const uint64_t t = tail_.load(std::memory_order_relaxed);  // relaxed: only we write it
    Slot& s = pslots_[detail::slot_index(t, pmask_, pbits_)];
    // acquire: pairs with the consumer's free mark; its read of the old value came first.
    if (s.seq.load(std::memory_order_acquire) != Core::free_mark(t)) return false;
    ::new (static_cast<void*>(s.storage)) T(std::forward<A>(a)...);
    // release: the value is complete before the consumer can see it marked ready.
    s.seq.store(Core::ready_mark(t), std::memory_order_release);
    tail_.store(t + 1, std::memory_order_relaxed);  // relaxed: read by size() only
    return true;
  }

  // Moves up to n values from in[0..k) into the ring. Returns k (0 when full).
  std::size_t try_push_n(T* in, std::size_t n) noexcept(Core::kNothrowMove) {
    const uint64_t t = tail_.load(std::memory_order_relaxed);  // relaxed: only we write it
    std::size_t k = 0;
    for (; k < n; ++k) {
      Slot& s = pslots_[detail::slot_index((t + k), pmask_, pbits_)];
      // acquire: as in try_emplace. The consumer frees in order: the first slot still
      // taken ends the batch.
      if (s.seq.load(std::memory_order_acquire) != Core::free_mark(t + k)) break;
    }
    for (std::size_t i = 0; i < k; ++i) {
      Slot& s = pslots_[detail::slot_index((t + i), pmask_, pbits_)];
      ::new (static_cast<void*>(s.storage)) T(std::move(in[i]));
      // release: as in try_emplace (a plain store on x86: no fence per item).
      s.seq.store(Core::ready_mark(t + i), std::memory_order_release);
    }
    tail_.store(t + k, std::memory_order_relaxed);  // relaxed: read by size() only
    return k;
  }

  // Producer side: the next push would fail (the slot at the tail is not free yet). The same
  // test try_emplace makes, so a sender that waits for room waits on exactly this.
  bool full() const noexcept {
    const uint64_t t = tail_.load(std::memory_order_relaxed);  // relaxed: only we write it
    // acquire: as in try_emplace.
    return pslots_[detail::slot_index(t, pmask_, pbits_)].seq.load(std::memory_order_acquire) !=
           Core::free_mark(t);
  }

  // Approximate when called concurrently with either side; exact when both are quiet.
  std::size_t size() const noexcept {
    // relaxed: a snapshot for statistics and the async channels' room hint, never a hand-off.
    const uint64_t h = this->head_.load(std::memory_order_relaxed);
    const uint64_t t = tail_.load(std::memory_order_relaxed);
    return t > h ? static_cast<std::size_t>(t - h) : 0;
  }

 protected:
  // For the async channels' shared state, which embeds the ring (make() is the public way).
  SpscRing(Slot* slots, uint64_t cap, RingMemory mem) noexcept
      : Core(slots, cap, mem),
        pslots_(slots),
        pmask_(cap - 1),
        pbits_(detail::mix_bits_for<T>(cap)) {}

 private:
  // The producer's line. alignas(kFalseShareBytes): written on every push, never read by the
  // consumer's hot path. Atomic only so size() may read it from another thread; the producer's
  // own relaxed load and store compile to plain moves.
  alignas(kFalseShareBytes) std::atomic<uint64_t> tail_{0};
  Slot* const pslots_;
  const uint64_t pmask_;
  const unsigned pbits_;
};

}  // namespace sluice
