// MpscLanes<T>: many producers, one consumer, with no atomic read-modify-write per item.
//
// Why: on the shared-tail MpscRing every push must win a `lock cmpxchg`, about 10-20 ns per
// item on the VMs we measure on, which is what keeps it at or below the multi-producer peers.
// Here each producer owns a lane, a plain SpscRing, so a push is the SPSC push (a slot load
// and two stores). The consumer visits the lanes round robin. The price, stated plainly:
// * order is FIFO per producer handle only; values of different handles interleave in no
//   promised order (the reliability contract is per producer, DESIGN.md §5). A thread that
//   drops its handle and takes a new one is a new producer: its new values may overtake
//   old ones still queued in its old lane;
// * the capacity is per lane: with n producers up to n * capacity values are buffered;
// * a producer needs a handle (producer(), which allocates its lane the first time that lane
//   is used: not a hot path), and there are at most max_producers handles at once.
//
// Lanes are reused: a handle's destruction retires its lane, and a later producer() takes a
// retired lane over (the SPSC producer role moves between threads through the lane state's
// release/acquire); values still queued there are delivered before the new handle's. The
// ring must outlive its producers.
//
// LaneData: an object kept beside each lane (default: nothing), for a user that needs
// per-lane state; mpsc::channel keeps the wait queue of the sender that owns the lane there.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <utility>

#include "../runtime/result.hpp"
#include "error.hpp"
#include "ring_memory.hpp"
#include "spsc_ring.hpp"

namespace sluice {

struct NoLaneData {};

template <class T, class LaneData = NoLaneData>
class MpscLanes {
 public:
  using value_type = T;
  using Lane = SpscRing<T>;
  // How many values the consumer takes from one lane in a row before it moves on, so a lane
  // that never runs dry cannot starve the others.
  static constexpr uint32_t kBurst = 64;
  static constexpr std::size_t kMaxProducers = 4096;

  // lane_capacity rounds up to a power of two (as every ring). Errors: ZeroCapacity (either
  // argument 0), CapacityTooLarge (lane capacity over 2^31, or more than kMaxProducers),
  // OutOfMemory.
  static Result<std::unique_ptr<MpscLanes>, ChannelError> make(std::size_t lane_capacity,
                                                               std::size_t max_producers = 64,
                                                               RingMemory mem = {}) {
    if (lane_capacity == 0 || max_producers == 0) return err(ChannelError::ZeroCapacity);
    if (max_producers > kMaxProducers) return err(ChannelError::CapacityTooLarge);
    auto cap = detail::ring_capacity(lane_capacity);
    if (!cap) return err(cap.error());
    auto* lanes = new (std::nothrow) Slot[max_producers];
    auto* seen = new (std::nothrow) SeenLine[(max_producers + kPerLine - 1) / kPerLine]();
    MpscLanes* r = nullptr;
    if (lanes != nullptr && seen != nullptr)
      r = new (std::nothrow) MpscLanes(lanes, seen, max_producers, *cap, mem);
    if (r == nullptr) {
      delete[] lanes;
      delete[] seen;
      return err(ChannelError::OutOfMemory);
    }
    return std::unique_ptr<MpscLanes>(r);
  }

  ~MpscLanes() {
    // Values still queued in any lane are destroyed with it (SpscRing's destructor).
    // relaxed: no producer or consumer runs any more (the ring outlives its users).
    for (std::size_t i = 0; i < max_; ++i) delete lanes_[i].ring.load(std::memory_order_relaxed);
    delete[] lanes_;
    delete[] seen_;
  }
  MpscLanes(const MpscLanes&) = delete;
  MpscLanes& operator=(const MpscLanes&) = delete;

  // ---- producers ----

  // A producer's handle: one thread at a time pushes through it (it may be moved to another
  // thread). Destroying it retires its lane; what it pushed is still delivered.
  class Producer {
   public:
    Producer() noexcept = default;
    Producer(Producer&& o) noexcept
        : owner_(std::exchange(o.owner_, nullptr)), lane_(o.lane_), ring_(o.ring_) {}
    Producer& operator=(Producer&& o) noexcept {
      if (this != &o) {
        reset();
        owner_ = std::exchange(o.owner_, nullptr);
        lane_ = o.lane_;
        ring_ = o.ring_;
      }
      return *this;
    }
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;
    ~Producer() { reset(); }

    bool try_push(T&& v) noexcept(Lane::kNothrowMove) { return ring_->try_push(std::move(v)); }
    bool try_push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
      return ring_->try_push(v);
    }
    template <class... A>
    bool try_emplace(A&&... a) noexcept(std::is_nothrow_constructible_v<T, A&&...>) {
      return ring_->try_emplace(std::forward<A>(a)...);
    }
    // Moves up to n values from in[0..n) with one publication per slot line; returns how
    // many went in.
    std::size_t try_push_n(T* in, std::size_t n) noexcept(Lane::kNothrowMove) {
      return ring_->try_push_n(in, n);
    }
    // Producer side of the lane: no room for another value now.
    bool full() const noexcept { return ring_->full(); }
    // The lane's ring itself (valid while the MpscLanes lives).
    Lane* ring() const noexcept { return ring_; }
    explicit operator bool() const noexcept { return owner_ != nullptr; }
    std::size_t lane() const noexcept { return lane_; }
    LaneData& lane_data() const noexcept { return owner_->lanes_[lane_].data; }

   private:
    friend class MpscLanes;
    Producer(MpscLanes* owner, std::size_t lane, Lane* ring) noexcept
        : owner_(owner), lane_(lane), ring_(ring) {}
    void reset() noexcept {
      if (MpscLanes* o = std::exchange(owner_, nullptr)) o->retire(lane_);
    }
    MpscLanes* owner_ = nullptr;
    std::size_t lane_ = 0;
    Lane* ring_ = nullptr;
  };

  // Any thread. A handle on a lane of its own: a retired lane (its earlier producer's values
  // still queued there come first, so per-producer order holds for both), or a lane never
  // used, allocated now. TooManyProducers while max_producers handles are alive; OutOfMemory
  // when a new lane cannot be allocated.
  Result<Producer, ChannelError> producer() {
    for (std::size_t i = 0; i < max_; ++i) {
      Slot& l = lanes_[i];
      uint8_t st = l.state.load(std::memory_order_relaxed);  // relaxed: the CAS decides
      if (st == kRetired) {
        // acquire: pairs with retire()'s release, so the lane's tail and every slot write of
        // the producer before us are visible: the SPSC producer role moves to this thread.
        if (l.state.compare_exchange_strong(st, kActive, std::memory_order_acquire,
                                            std::memory_order_relaxed))
          // relaxed: set before the lane was first active, ordered by the acquire above.
          return Producer(this, i, l.ring.load(std::memory_order_relaxed));
      } else if (st == kUnused) {
        // acquire: another producer() may be setting this lane up; we then move on.
        if (!l.state.compare_exchange_strong(st, kSettingUp, std::memory_order_acquire,
                                             std::memory_order_relaxed))
          continue;
        auto made = Lane::make(cap_, mem_);
        if (!made) {
          l.state.store(kUnused, std::memory_order_release);  // release: nothing was set up
          return err(made.error());
        }
        Lane* r = made->release();
        l.ring.store(r, std::memory_order_release);  // release: the consumer sees a built ring
        l.state.store(kActive, std::memory_order_release);
        // Let the consumer scan this far. acq_rel on the CAS: keeps the ring store above
        // before any reader that sees the new count.
        std::size_t n = published_.load(std::memory_order_relaxed);
        while (n < i + 1 && !published_.compare_exchange_weak(n, i + 1, std::memory_order_acq_rel,
                                                              std::memory_order_relaxed)) {
        }
        return Producer(this, i, r);
      }
    }
    return err(ChannelError::TooManyProducers);
  }

  // ---- consumer (one thread at a time) ----

  // Moves one value into `out`, taking lanes in turn. False when every lane is empty.
  bool try_pop(T& out) noexcept(Lane::kNothrowMove&& std::is_nothrow_move_assignable_v<T>) {
    return visit([&out](Lane* r) { return r->try_pop(out); });
  }
  // Calls f(T&) on one value (then destroys it), taking lanes in turn. False when every lane
  // is empty. The value is handed over in place: no optional to build and move.
  template <class F>
  bool try_consume_one(F&& f) noexcept {
    return visit([&f](Lane* r) { return r->try_take(f); });
  }
  std::optional<T> try_pop() noexcept(Lane::kNothrowMove) {
    std::optional<T> v;
    visit([&v](Lane* r) {
      v = r->try_pop();
      return v.has_value();
    });
    return v;
  }
  // Up to n values into out[0..k) from the current lane (then the next ones while n is not
  // reached), each lane's batch published with one head store. Returns k.
  std::size_t try_pop_n(T* out, std::size_t n) noexcept {
    std::size_t k = 0;
    const std::size_t lanes = known_lanes();
    for (std::size_t visited = 0; visited < lanes && k < n; ++visited) {
      if (Lane* r = lane_at(cursor_)) k += r->try_pop_n(out + k, n - k);
      advance();  // the next call starts at the next lane
    }
    return k;
  }

  // Consumer's view: no lane has a value ready.
  bool empty() noexcept {
    const std::size_t lanes = known_lanes();
    for (std::size_t i = 0; i < lanes; ++i)
      if (Lane* r = lane_at(i); r != nullptr && !r->empty()) return false;
    return true;
  }

  std::size_t lane_capacity() const noexcept { return static_cast<std::size_t>(cap_); }
  std::size_t max_producers() const noexcept { return max_; }

  // The lane the last successful try_pop took its value from (consumer only): who to tell
  // that the lane has room again.
  std::size_t last_lane() const noexcept { return last_; }
  LaneData& lane_data(std::size_t lane) noexcept { return lanes_[lane].data; }
  // Lanes that may have been handed out so far (any thread; acquire: their data is built).
  std::size_t lanes_in_use() const noexcept { return published_.load(std::memory_order_acquire); }

 private:
  static constexpr uint8_t kUnused = 0, kSettingUp = 1, kActive = 2, kRetired = 3;
  // alignas(kFalseShareBytes): each lane's state is written by its producer's thread at
  // handle creation and destruction; keep neighbours' states off each other's lines.
  struct alignas(kFalseShareBytes) Slot {
    std::atomic<uint8_t> state{kUnused};
    std::atomic<Lane*> ring{nullptr};  // set once, before the lane is first active
    [[no_unique_address]] LaneData data{};
  };

  // The consumer's cached lane pointers, in whole lines of their own. alignas: the lanes'
  // rings are allocated later, and the heap might otherwise put a producer-written field on
  // the line the consumer reads on every pop.
  static constexpr std::size_t kPerLine = kFalseShareBytes / sizeof(Lane*);
  struct alignas(kFalseShareBytes) SeenLine {
    Lane* lane[kPerLine];
  };

  MpscLanes(Slot* lanes, SeenLine* seen, std::size_t max, uint64_t cap, RingMemory mem) noexcept
      : lanes_(lanes), seen_(seen), max_(max), cap_(cap), mem_(mem) {}

  void retire(std::size_t i) noexcept {
    // release: every push through the handle happens-before a producer() that takes over.
    lanes_[i].state.store(kRetired, std::memory_order_release);
  }

  // The consumer's cached copy of lane i's ring pointer (never changes once set).
  Lane* lane_at(std::size_t i) noexcept {
    Lane*& cached = seen_[i / kPerLine].lane[i % kPerLine];
    Lane* r = cached;
    if (r == nullptr) [[unlikely]] {
      // acquire: pairs with producer()'s release store; the ring is fully built.
      r = lanes_[i].ring.load(std::memory_order_acquire);
      cached = r;
    }
    return r;
  }
  std::size_t known_lanes() noexcept {
    // acquire: lanes below the count have their ring published (or are being set up, in
    // which case lane_at sees null and skips them).
    return known_ = published_.load(std::memory_order_acquire);
  }
  // Moves to the next known lane and caches its ring (null while it is being set up).
  void advance() noexcept {
    burst_left_ = kBurst;
    if (++cursor_ >= known_) cursor_ = 0;
    cur_ = known_ != 0 ? lane_at(cursor_) : nullptr;
  }
  // Tries pop(lane) on the current lane, then on the others in turn, until one succeeds. The
  // current lane's ring is cached in cur_, so a poll of a quiet ring is one pointer and the
  // lane's own loads: a longer chain here lengthens every poll, and on a round trip that
  // showed as ~15 ns (measured in an A/B harness).
  template <class Pop>
  bool visit(Pop pop) noexcept {
    if (Lane* r = cur_; r != nullptr && pop(r)) [[likely]] {
      last_ = cursor_;
      if (--burst_left_ == 0) [[unlikely]]
        advance();
      return true;
    }
    for (;;) {
      const std::size_t lanes = known_;
      for (std::size_t visited = 1; visited < lanes; ++visited) {
        advance();
        if (cur_ != nullptr && pop(cur_)) {
          last_ = cursor_;
          burst_left_ = kBurst - 1;
          return true;
        }
      }
      // Nothing in the lanes we knew: look again only if more lanes appeared since.
      // relaxed: a hint; known_lanes() acquires.
      if (published_.load(std::memory_order_relaxed) == lanes) return false;
      known_lanes();
      if (cur_ == nullptr) cur_ = lane_at(cursor_);
      if (cur_ != nullptr && pop(cur_)) {
        last_ = cursor_;
        burst_left_ = kBurst - 1;
        return true;
      }
    }
  }

  Slot* const lanes_;
  SeenLine* const seen_;  // consumer only
  const std::size_t max_;
  const uint64_t cap_;
  const RingMemory mem_;
  // alignas(kFalseShareBytes): written by producer() when a lane is first used, read by the
  // consumer when its lanes look empty; off the consumer's own fields below.
  alignas(kFalseShareBytes) std::atomic<std::size_t> published_{0};
  // Consumer only. alignas(kFalseShareBytes): its own line.
  alignas(kFalseShareBytes) std::size_t cursor_ = 0;
  std::size_t known_ = 0;
  Lane* cur_ = nullptr;           // lane_at(cursor_), cached
  std::size_t last_ = 0;          // lane of the last successful pop
  uint32_t burst_left_ = kBurst;  // values the current lane may still give in a row
};

}  // namespace sluice
