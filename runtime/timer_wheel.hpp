// TimerWheel: hierarchical timing wheel, 6 levels x 64 slots, tick = 1024 ns (~1 us).
//
// Why a wheel: insert and cancel are O(1) (intrusive doubly linked entries that live inside
// the awaiting coroutine's frame: no allocation), and the next deadline is found from one
// 64-bit occupancy mask per level. Level L slots span 64^L ticks, so the wheel covers 2^36
// ticks (~19.5 h); later deadlines park in the top level and are re-filed as time advances.
// Owner-thread only.
#pragma once

#include <bit>
#include <chrono>
#include <cstdint>

namespace sluice {

using Clock = std::chrono::steady_clock;

struct TimerEntry {
  TimerEntry* prev = nullptr;
  TimerEntry* next = nullptr;
  uint64_t deadline = 0;  // in ticks
  void (*fire)(TimerEntry*) noexcept = nullptr;
  void* ctx = nullptr;
  uint8_t level = 0;
  uint8_t slot = 0;
  bool linked = false;
};

class TimerWheel {
 public:
  static constexpr unsigned kTickShift = 10;  // 1024 ns per tick
  static constexpr unsigned kLevels = 6;
  static constexpr unsigned kSlotBits = 6;
  static constexpr uint64_t kSlots = 64;
  // Farthest a deadline is filed ahead of now: one top-level slot short of a full revolution,
  // so a clamped entry never lands in the slot now is in (it would be re-filed forever).
  static constexpr uint64_t kMaxSpan =
      (uint64_t{1} << (kLevels * kSlotBits)) - (uint64_t{1} << ((kLevels - 1) * kSlotBits)) - 1;

  static uint64_t to_tick(Clock::time_point t) noexcept {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    if (ns < 0) return 0;
    // Round up: a timer never fires before its deadline.
    return (static_cast<uint64_t>(ns) + (uint64_t{1} << kTickShift) - 1) >> kTickShift;
  }
  static Clock::time_point from_tick(uint64_t t) noexcept {
    return Clock::time_point(std::chrono::nanoseconds(static_cast<int64_t>(t << kTickShift)));
  }

  explicit TimerWheel(uint64_t now_tick = 0) noexcept : elapsed_(now_tick) {}

  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  uint64_t elapsed() const noexcept { return elapsed_; }

  void insert(TimerEntry* e) noexcept {
    if (e->deadline < elapsed_) e->deadline = elapsed_;
    uint64_t when = e->deadline;
    if (when - elapsed_ > kMaxSpan) when = elapsed_ + kMaxSpan;  // re-filed later
    uint64_t masked = (when ^ elapsed_) | (kSlots - 1);
    unsigned level = (63u - static_cast<unsigned>(std::countl_zero(masked))) / kSlotBits;
    if (level >= kLevels) level = kLevels - 1;
    unsigned slot = static_cast<unsigned>((when >> (level * kSlotBits)) & (kSlots - 1));
    e->level = static_cast<uint8_t>(level);
    e->slot = static_cast<uint8_t>(slot);
    TimerEntry*& head = slots_[level][slot];
    e->prev = nullptr;
    e->next = head;
    if (head) head->prev = e;
    head = e;
    occupied_[level] |= uint64_t{1} << slot;
    e->linked = true;
    ++count_;
  }

  void remove(TimerEntry* e) noexcept {
    if (!e->linked) return;
    TimerEntry*& head = slots_[e->level][e->slot];
    if (e->prev)
      e->prev->next = e->next;
    else
      head = e->next;
    if (e->next) e->next->prev = e->prev;
    if (head == nullptr) occupied_[e->level] &= ~(uint64_t{1} << e->slot);
    e->prev = e->next = nullptr;
    e->linked = false;
    --count_;
  }

  // Tick at which the earliest occupied slot starts (<= every deadline in it), or UINT64_MAX.
  uint64_t next_expiration() const noexcept {
    for (unsigned level = 0; level < kLevels; ++level) {
      if (occupied_[level] == 0) continue;
      unsigned shift = level * kSlotBits;
      uint64_t now_slot = (elapsed_ >> shift) & (kSlots - 1);
      uint64_t rotated = std::rotr(occupied_[level], static_cast<int>(now_slot));
      uint64_t slot = (now_slot + static_cast<uint64_t>(std::countr_zero(rotated))) & (kSlots - 1);
      uint64_t level_span = uint64_t{1} << (shift + kSlotBits);
      uint64_t level_start = elapsed_ & ~(level_span - 1);
      uint64_t t = level_start + (slot << shift);
      if (t < (elapsed_ & ~((uint64_t{1} << shift) - 1))) t += level_span;
      return t < elapsed_ ? elapsed_ : t;
    }
    return UINT64_MAX;
  }

  // Fires every entry whose deadline <= now. Returns how many fired.
  std::size_t advance(uint64_t now) noexcept {
    std::size_t fired = 0;
    if (now < elapsed_) return 0;
    while (count_ != 0) {
      uint64_t t = next_expiration();
      if (t > now) break;
      elapsed_ = t;
      // Take the whole slot: every entry either fires or moves to a lower level.
      for (unsigned level = 0; level < kLevels; ++level) {
        unsigned slot = static_cast<unsigned>((t >> (level * kSlotBits)) & (kSlots - 1));
        if (!(occupied_[level] & (uint64_t{1} << slot))) continue;
        TimerEntry* e = slots_[level][slot];
        slots_[level][slot] = nullptr;
        occupied_[level] &= ~(uint64_t{1} << slot);
        while (e) {
          TimerEntry* nx = e->next;
          e->prev = e->next = nullptr;
          e->linked = false;
          --count_;
          if (e->deadline <= now) {
            ++fired;
            e->fire(e);
          } else {
            insert(e);
          }
          e = nx;
        }
        break;
      }
    }
    elapsed_ = now;
    return fired;
  }

 private:
  uint64_t elapsed_;
  std::size_t count_ = 0;
  uint64_t occupied_[kLevels] = {};
  TimerEntry* slots_[kLevels][kSlots] = {};
};

}  // namespace sluice
