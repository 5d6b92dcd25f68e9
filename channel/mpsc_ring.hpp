// MpscRing<T>: bounded multi-producer single-consumer ring for plain threads (no runtime).
//
// Producers take positions with one compare-exchange on a shared tail and then publish each
// slot through its own sequence word (detail/ring_core.hpp), so producers never touch the
// consumer's line and the consumer never touches theirs. A producer that has taken position p
// but not yet published it holds back later positions from the consumer (per-producer order
// and global position order are both kept); it never lets the consumer read a half-built
// value.
//
// Why compare-exchange and not fetch_add: try_push must be able to fail with Full without
// owning a position it cannot fill, so the claim is conditional on room. With one producer
// the exchange never retries; the tail's line stays in the producer's cache.
#pragma once

#include <memory>

#include "detail/ring_core.hpp"

namespace sluice {

template <class T>
class MpscRing : public detail::RingCore<T> {
  using Core = detail::RingCore<T>;
  using Slot = typename Core::Slot;
  friend Core;  // make_ring constructs us through the protected constructor

 public:
  // Capacity rounds up to a power of two. Errors: ZeroCapacity, CapacityTooLarge, OutOfMemory.
  static Result<std::unique_ptr<MpscRing>, ChannelError> make(std::size_t capacity,
                                                              RingMemory mem = {}) {
    return Core::template make_ring<MpscRing>(capacity, mem);
  }

  // ---- producers (any number of threads) ----

  // False when full; the value is moved from only on success.
  bool try_push(T&& v) noexcept(Core::kNothrowMove) { return try_emplace(std::move(v)); }
  bool try_push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    return try_emplace(v);
  }

  template <class... A>
  bool try_emplace(A&&... a) noexcept(std::is_nothrow_constructible_v<T, A&&...>) {
    uint64_t t;
    if (claim(1, t) == 0) return false;
    Slot& s = pslots_[detail::slot_index(t, pmask_, pbits_)];
    ::new (static_cast<void*>(s.storage)) T(std::forward<A>(a)...);
    // release: the value is complete before the consumer can see seq == t + 1.
    s.seq.store(t + 1, std::memory_order_release);
    return true;
  }

  // Claims up to n consecutive positions with one exchange and moves in[0..k) into them.
  // Returns k (0 when full). The k values stay consecutive in the ring.
  std::size_t try_push_n(T* in, std::size_t n) noexcept(Core::kNothrowMove) {
    uint64_t t;
    const std::size_t k = claim(n, t);
    for (std::size_t i = 0; i < k; ++i) {
      Slot& s = pslots_[detail::slot_index((t + i), pmask_, pbits_)];
      ::new (static_cast<void*>(s.storage)) T(std::move(in[i]));
      // release: as in try_emplace (a plain store on x86).
      s.seq.store(t + i + 1, std::memory_order_release);
    }
    return k;
  }

  // Approximate when called concurrently; exact when every side is quiet. Counts claimed
  // positions whose values may not be published yet.
  std::size_t size() const noexcept {
    // relaxed: a snapshot for statistics and the async channels' room hint, never a hand-off.
    const uint64_t h = this->head_.load(std::memory_order_relaxed);
    const uint64_t t = tail_.load(std::memory_order_relaxed);
    return t > h ? static_cast<std::size_t>(t - h) : 0;
  }

 protected:
  // For the async channels' shared state, which embeds the ring (make() is the public way).
  MpscRing(Slot* slots, uint64_t cap, RingMemory mem) noexcept
      : Core(slots, cap, mem),
        pslots_(slots),
        pmask_(cap - 1),
        pbits_(detail::mix_bits_for<T>(cap)),
        pcap_(cap) {}

 private:
  // Takes min(n, free room) positions starting at `first`. Returns how many (0 when full).
  std::size_t claim(std::size_t n, uint64_t& first) noexcept {
    // relaxed: the exchange below only arbitrates positions; the slot's availability is
    // established through head (acquire), its contents through seq.
    uint64_t t = tail_.load(std::memory_order_relaxed);
    for (;;) {
      // acquire: pairs with the release below (and, transitively, with the consumer's release
      // of head), so the consumer's reads of freed slots happen-before our writes.
      uint64_t h = head_cache_.load(std::memory_order_acquire);
      int64_t room = static_cast<int64_t>(pcap_) - static_cast<int64_t>(t - h);
      if (room <= 0 || static_cast<uint64_t>(room) < n) {
        // acquire: the consumer's reads of the slots it released happen-before our writes.
        const uint64_t fresh = this->head_.load(std::memory_order_acquire);
        if (fresh != h) {
          h = fresh;
          // release: hands the acquired view on to producers that read the cache. Racing
          // producers may store an older head; that only looks fuller, never emptier.
          head_cache_.store(h, std::memory_order_release);
          room = static_cast<int64_t>(pcap_) - static_cast<int64_t>(t - h);
        }
        if (room <= 0) {
          // Our tail may be stale (another producer moved it): only a current tail says Full.
          // relaxed: only compared with t; the exchange below is what claims.
          const uint64_t now = tail_.load(std::memory_order_relaxed);
          if (now == t) return 0;
          t = now;
          continue;
        }
      }
      const std::size_t k = static_cast<uint64_t>(room) < n ? static_cast<std::size_t>(room) : n;
      // relaxed: see above. On failure t is reloaded and the room recomputed.
      if (tail_.compare_exchange_weak(t, t + k, std::memory_order_relaxed,
                                      std::memory_order_relaxed)) {
        first = t;
        return k;
      }
    }
  }

  // The producers' line. alignas(kFalseShareBytes): shared by producers only.
  alignas(kFalseShareBytes) std::atomic<uint64_t> tail_{0};
  std::atomic<uint64_t> head_cache_{0};  // head as last seen by some producer; never ahead
  Slot* const pslots_;
  const uint64_t pmask_;
  const unsigned pbits_;
  const uint64_t pcap_;
};

}  // namespace sluice
