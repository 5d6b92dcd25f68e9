// RingMemory: where a ring's slots live. The default is the process heap (aligned operator
// new); runtime/topology.hpp hands out RingMemory that binds the slots to a NUMA node. Kept as
// two function pointers so the raw rings depend on nothing else in sluice.
#pragma once

#include <cstddef>
#include <new>

namespace sluice {

// Separation between data written by different threads. 128, not 64: x86's adjacent-line
// prefetcher pulls 64-byte lines in pairs, so two hot fields 64 bytes apart still share
// traffic on Intel parts; the cost is only memory.
inline constexpr std::size_t kFalseShareBytes = 128;

struct RingMemory {
  // Both null: aligned operator new/delete. allocate returns nullptr on failure.
  void* (*allocate)(std::size_t bytes, std::size_t align, void* ctx) = nullptr;
  void (*deallocate)(void* p, std::size_t bytes, void* ctx) = nullptr;
  void* ctx = nullptr;

  void* alloc(std::size_t bytes, std::size_t align) const noexcept {
    if (allocate != nullptr) return allocate(bytes, align, ctx);
    return ::operator new (bytes, std::align_val_t{align}, std::nothrow);
  }
  void free(void* p, std::size_t bytes, std::size_t align) const noexcept {
    if (p == nullptr) return;
    if (deallocate != nullptr)
      deallocate(p, bytes, ctx);
    else
      ::operator delete (p, std::align_val_t{align});
  }
};

}  // namespace sluice
