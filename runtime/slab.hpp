// FrameSlab: per-runtime size-class allocator for coroutine frames.
//
// Why: a spawn must not touch the heap. Each class is one contiguous arena carved into equal
// slots with an intrusive free list; alloc and free are a pointer pop/push on the owner thread.
// Requests larger than the biggest class, or a class that is full, fall back to the heap and
// are counted (Runtime::counters().slab_misses), so a user can size the slab from real runs.
//
// A free slot carries kFreeTag in its second word, so the owner can walk every allocated slot
// (for_each_allocated) without keeping a list of them: the runtime finds the tasks still alive
// at teardown this way instead of linking every spawn into a list. The owner must keep that
// word of a live slot different from kFreeTag (TaskHeader's is a pointer; the tag is odd).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace sluice {

struct SlabConfig {
  // Slot sizes (bytes, header included). Frames are rounded up to the first class that fits.
  static constexpr std::size_t kClasses = 5;
  static constexpr std::size_t kClassSize[kClasses] = {128, 256, 512, 1024, 2048};
  // Slots per class; 0 disables the class.
  std::size_t slots[kClasses] = {4096, 2048, 512, 128, 64};
};

class FrameSlab {
 public:
  static constexpr uint16_t kNoClass = 0xFFFF;

  // ok() is false when an arena could not be allocated (Runtime::make reports OutOfMemory).
  explicit FrameSlab(const SlabConfig& cfg = {}) noexcept {
    for (std::size_t c = 0; c < SlabConfig::kClasses; ++c) {
      std::size_t n = cfg.slots[c];
      std::size_t sz = SlabConfig::kClassSize[c];
      if (n == 0) continue;
      if (n > SIZE_MAX / sz) {
        ok_ = false;
        continue;
      }
      // 64-byte alignment: slots start on cache lines, so two frames never share one.
      char* arena = static_cast<char*>(::operator new (n* sz, std::align_val_t{64}, std::nothrow));
      if (arena == nullptr) {
        ok_ = false;
        continue;
      }
      arenas_[c] = arena;
      slots_[c] = n;
      for (std::size_t i = n; i-- > 0;) free(arena + i * sz, static_cast<uint16_t>(c));
    }
  }
  ~FrameSlab() {
    for (char* a : arenas_) free_arena(a);
  }
  static void free_arena(char* a) noexcept {
    if (a) ::operator delete (a, std::align_val_t{64});
  }
  bool ok() const noexcept { return ok_; }

  // Gives up the arenas (the caller frees them with free_arena): frames still allocated in
  // them outlive the slab (a runtime destroyed before an unspawned Task of its own).
  void release_arenas(char* (&out)[SlabConfig::kClasses],
                      std::size_t (&bytes)[SlabConfig::kClasses]) noexcept {
    for (std::size_t c = 0; c < SlabConfig::kClasses; ++c) {
      out[c] = arenas_[c];
      bytes[c] = slots_[c] * SlabConfig::kClassSize[c];
      arenas_[c] = nullptr;
      slots_[c] = 0;
      free_[c] = nullptr;
    }
  }
  FrameSlab(const FrameSlab&) = delete;
  FrameSlab& operator=(const FrameSlab&) = delete;

  static constexpr uint16_t class_for(std::size_t bytes) noexcept {
    for (uint16_t c = 0; c < SlabConfig::kClasses; ++c)
      if (bytes <= SlabConfig::kClassSize[c]) return c;
    return kNoClass;
  }

  // Returns nullptr when the class is full or absent; the caller falls back to the heap.
  void* alloc(uint16_t cls) noexcept {
    FreeNode* n = free_[cls];
    if (n == nullptr) return nullptr;
    free_[cls] = n->next;
    return n;
  }
  void free(void* p, uint16_t cls) noexcept {
    auto* n = ::new (p) FreeNode{free_[cls], kFreeTag};
    free_[cls] = n;
  }

  // Calls f(slot) for every slot that is allocated now. f may free slots (they are skipped
  // if not reached yet) and allocate (the new slot may or may not be visited).
  template <class F>
  void for_each_allocated(F&& f) {
    for (std::size_t c = 0; c < SlabConfig::kClasses; ++c) {
      for (std::size_t i = 0; i < slots_[c]; ++i) {
        void* p = arenas_[c] + i * SlabConfig::kClassSize[c];
        if (static_cast<FreeNode*>(p)->tag != kFreeTag) f(p);
      }
    }
  }

 private:
  static constexpr uint64_t kFreeTag = 0xF5EEF5EEF5EEF5E1u;  // odd: never an aligned pointer
  struct FreeNode {
    FreeNode* next;
    uint64_t tag;
  };
  FreeNode* free_[SlabConfig::kClasses] = {};
  char* arenas_[SlabConfig::kClasses] = {};
  std::size_t slots_[SlabConfig::kClasses] = {};
  bool ok_ = true;
};

}  // namespace sluice
