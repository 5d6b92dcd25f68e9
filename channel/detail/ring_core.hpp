// RingCore<T>: the consumer half shared by SpscRing and MpscRing, plus slot memory.
//
// Protocol: position p lives in slot p & mask. A producer that owns position p constructs
// the value in the slot, then stores the slot's seq = ready_mark(p) (release). The consumer at
// head h polls slot h's seq (acquire) for ready_mark(h); it publishes how far it has read in
// head (release). Stale marks from earlier laps never equal the one awaited, so slots need no
// reset.
// * MpscRing (kFreeMarks = false, ready_mark(p) = p + 1): the consumer never writes a slot;
//   producers check room against head (acquire) through a shared cached copy.
// * SpscRing (kFreeMarks = true): after taking a value the consumer also stores
//   seq = free_mark(p + capacity) (release), and the producer tests the slot it is about to
//   fill instead of reading head. On a full ring that keeps the producer off the consumer's
//   line, which it otherwise re-read per push (measured: per-item u64 throughput 0.5x
//   atomic_queue's with head, ~1x with the marks; perf/RESULTS.md). Marks are doubled
//   positions so "ready for p" and "free for p + 1" differ even at capacity 1.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "../ring_memory.hpp"
#include "ring_slot.hpp"

namespace sluice::detail {

// kFreeMarks: the consumer also marks each slot free after taking its value, so a single
// producer can test the slot itself instead of reading head. The marks are then doubled
// positions (ready for p: 2p + 1; free for p: 2p), which stay distinct even at capacity 1,
// where "ready for p" and "free for p + 1" would otherwise be the same number.
template <class T, bool kFreeMarks = false>
class RingCore {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "sluice: ring element types must be nothrow move constructible (a move that "
                "throws while a value leaves its slot would lose it, or terminate in the "
                "multi-producer ring)");

 public:
  // The seq value that says "the value for position p is here" / "free for position p".
  static constexpr uint64_t ready_mark(uint64_t p) noexcept {
    return kFreeMarks ? 2 * p + 1 : p + 1;
  }
  static constexpr uint64_t free_mark(uint64_t p) noexcept { return 2 * p; }

  using value_type = T;
  using Slot = RingSlot<T>;
  static constexpr bool kNothrowMove = std::is_nothrow_move_constructible_v<T>;

  RingCore(const RingCore&) = delete;
  RingCore& operator=(const RingCore&) = delete;

  // ---- consumer (one thread at a time) ----

  // Moves the oldest value into `out`. False when nothing is ready.
  bool try_pop(T& out) noexcept(kNothrowMove&& std::is_nothrow_move_assignable_v<T>) {
    const uint64_t h = head_.load(std::memory_order_relaxed);  // relaxed: only we write it
    Slot& s = cslots_[detail::slot_index(h, cmask_, cbits_)];
    // acquire: pairs with the producer's release store of seq; the value is visible after it.
    if (s.seq.load(std::memory_order_acquire) != ready_mark(h)) return false;
    T* p = s.ptr();
    out = std::move(*p);
    p->~T();
    mark_free(s, h);
    // release: our read of the slot happens-before a producer reuses it a lap later.
    head_.store(h + 1, std::memory_order_release);
    return true;
  }

  std::optional<T> try_pop() noexcept(kNothrowMove) {
    const uint64_t h = head_.load(std::memory_order_relaxed);  // relaxed: only we write it
    Slot& s = cslots_[detail::slot_index(h, cmask_, cbits_)];
    // acquire: see try_pop(T&).
    if (s.seq.load(std::memory_order_acquire) != ready_mark(h)) return std::nullopt;
    T* p = s.ptr();
    std::optional<T> v(std::move(*p));
    p->~T();
    mark_free(s, h);
    head_.store(h + 1, std::memory_order_release);  // release: see try_pop(T&)
    return v;
  }

  // Calls f(T&) on the oldest value, destroys it and frees its slot. False when nothing is
  // ready. f must not throw (as in consume()).
  template <class F>
  bool try_take(F&& f) noexcept {
    const uint64_t h = head_.load(std::memory_order_relaxed);  // relaxed: only we write it
    Slot& s = cslots_[detail::slot_index(h, cmask_, cbits_)];
    // acquire: pairs with the producer's release store of seq; the value is visible after it.
    if (s.seq.load(std::memory_order_acquire) != ready_mark(h)) return false;
    T* p = s.ptr();
    f(*p);
    p->~T();
    mark_free(s, h);
    // release: our read of the slot happens-before a producer reuses it a lap later.
    head_.store(h + 1, std::memory_order_release);
    return true;
  }

  // Calls f(T&) on up to `max` ready values in order, destroys each, then publishes the new
  // head once: one store for the whole batch. Returns how many were consumed. f must not throw
  // (a throw here would leave a value half-consumed, so it terminates instead).
  template <class F>
  std::size_t consume(F&& f, std::size_t max = SIZE_MAX) noexcept {
    const uint64_t h = head_.load(std::memory_order_relaxed);  // relaxed: only we write it
    std::size_t k = 0;
    while (k < max) {
      Slot& s = cslots_[detail::slot_index((h + k), cmask_, cbits_)];
      // acquire: pairs with the producer's release store of seq.
      if (s.seq.load(std::memory_order_acquire) != ready_mark(h + k)) break;
      T* p = s.ptr();
      f(*p);
      p->~T();
      ++k;
    }
    // Free marks after the batch, so the loop above only reads the lines it walks.
    for (std::size_t i = 0; i < k; ++i)
      mark_free(cslots_[detail::slot_index((h + i), cmask_, cbits_)], h + i);
    // release: every read above happens-before the producers reuse these slots.
    if (k != 0) head_.store(h + k, std::memory_order_release);
    return k;
  }

  // Moves up to n ready values into out[0..k) with one head publication. Returns k.
  std::size_t try_pop_n(T* out, std::size_t n) noexcept {
    return consume([&out](T& v) { *out++ = std::move(v); }, n);
  }

  // Consumer's view: nothing ready at the head.
  bool empty() const noexcept {
    const uint64_t h = head_.load(std::memory_order_relaxed);
    // acquire: a caller that sees "not empty" may go on to read the value.
    return cslots_[detail::slot_index(h, cmask_, cbits_)].seq.load(std::memory_order_acquire) !=
           ready_mark(h);
  }

  std::size_t capacity() const noexcept { return static_cast<std::size_t>(cap_); }

 protected:
  // The raw rings' make(): validate, allocate the slots, then the ring object itself.
  template <class Ring>
  static Result<std::unique_ptr<Ring>, ChannelError> make_ring(std::size_t capacity,
                                                               RingMemory mem) {
    auto cap = ring_capacity(capacity);
    if (!cap) return err(cap.error());
    Slot* slots = alloc_slots(*cap, mem);
    if (slots == nullptr) return err(ChannelError::OutOfMemory);
    auto* r = new (std::nothrow) Ring(slots, *cap, mem);
    if (r == nullptr) {
      free_slots(slots, *cap, mem);
      return err(ChannelError::OutOfMemory);
    }
    return std::unique_ptr<Ring>(r);
  }

  static Slot* alloc_slots(uint64_t cap, const RingMemory& mem) noexcept {
    void* p = mem.alloc(cap * sizeof(Slot), kFalseShareBytes);
    if (p == nullptr) return nullptr;
    Slot* s = static_cast<Slot*>(p);
    for (uint64_t i = 0; i < cap; ++i) ::new (static_cast<void*>(s + i)) Slot;
    if constexpr (kFreeMarks) {
      // Lap 0: the slot of position p starts free for p. relaxed: published with the ring.
      const unsigned bits = mix_bits_for<T>(cap);
      for (uint64_t pos = 0; pos < cap; ++pos)
        s[slot_index(pos, cap - 1, bits)].seq.store(free_mark(pos), std::memory_order_relaxed);
    }
    return s;
  }

  void mark_free(Slot& s, uint64_t pos) noexcept {
    // release: our read of the value happens-before the producer's reuse of the slot.
    if constexpr (kFreeMarks) s.seq.store(free_mark(pos + cap_), std::memory_order_release);
  }
  static void free_slots(Slot* s, uint64_t cap, const RingMemory& mem) noexcept {
    for (uint64_t i = 0; i < cap; ++i) s[i].~Slot();
    mem.free(s, cap * sizeof(Slot), kFalseShareBytes);
  }

  RingCore(Slot* slots, uint64_t cap, RingMemory mem) noexcept
      : cslots_(slots), cmask_(cap - 1), cbits_(mix_bits_for<T>(cap)), cap_(cap), mem_(mem) {}

  // Values still queued are destroyed exactly once, in order.
  ~RingCore() {
    // relaxed: whoever destroys the ring already synchronised with the last consumer.
    uint64_t h = head_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& s = cslots_[detail::slot_index(h, cmask_, cbits_)];
      // acquire: the owner thread may differ from the last producer.
      if (s.seq.load(std::memory_order_acquire) != ready_mark(h)) break;
      s.ptr()->~T();
      ++h;
    }
    free_slots(cslots_, cap_, mem_);
  }

  // The consumer's cache line. alignas(kFalseShareBytes): written on every pop; producers read
  // it only on apparent full, so keep it away from their line.
  alignas(kFalseShareBytes) std::atomic<uint64_t> head_{0};
  Slot* const cslots_;
  const uint64_t cmask_;
  const unsigned cbits_;
  const uint64_t cap_;
  const RingMemory mem_;
};

}  // namespace sluice::detail
