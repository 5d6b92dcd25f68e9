// TaskHeader: the bookkeeping every coroutine frame carries in front of itself.
//
// Why a prefix and not a member of the promise: a frame's memory must sometimes outlive the
// coroutine (an aborted task that still sits in the ready queue, or whose cross-thread wake is
// still travelling through the inbox). The prefix lets operator delete run the coroutine's
// destructors now and hand the memory back later, on the owning runtime thread only.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

namespace sluice {
class Runtime;
}

namespace sluice::detail {

// A node of a runtime's cross-thread inbox (intrusive Vyukov MPSC queue).
struct InboxNode {
  std::atomic<InboxNode*> inbox_next{nullptr};
};

enum TaskFlags : uint32_t {
  kRemoteArmed = 1u << 1,  // a cross-thread waker may hold this task (see Notify)
  kSpawned = 1u << 2,      // a root task owned by a runtime (spawn or block_on)
  kDone = 1u << 3,         // root finished (value, exception or abort)
  kDead = 1u << 5,         // coroutine destroyed; memory freed when no queue holds it
  kAborted = 1u << 6,      // destroyed by JoinHandle::abort()
  kBlockOnRoot = 1u << 7,  // the task block_on waits for
  // An orphan (below) that a runtime adopted to run it: it now looks like a heap frame of that
  // runtime, except that freeing it releases it to its orphan arena (detail::orphan_release).
  kOrphaned = 1u << 9,
};

// Orphans. When a runtime is destroyed while frames from its slab are still alive (unspawned
// Tasks held elsewhere), it keeps their arenas in an orphan record and stores this value in
// each such frame's `rt` (and writes nothing else of the header, which another thread may be
// reading to drop the Task at that very moment). Freeing an orphan on any thread releases it
// to its record; a runtime that spawns one marks it kOrphaned first. Never dereferenced.
inline Runtime* orphan_runtime() noexcept { return reinterpret_cast<Runtime*>(uintptr_t{1}); }

// A frame freed on a thread that does not run its runtime travels to that runtime's inbox, which
// frees it there (Runtime::hand_back). It is told apart from a woken task by this value in
// `joiner` (a frame handed back is never a root, so the field is otherwise unused): not a flag,
// because the owner's teardown walk reads the flags of every allocated frame while another
// thread may be handing one back.
struct TaskHeader;
inline TaskHeader* hand_back_mark() noexcept { return reinterpret_cast<TaskHeader*>(uintptr_t{1}); }

inline constexpr uint16_t kHeapClass = 0xFFFF;

// 64 bytes, 16-aligned so the frame that follows keeps the alignment operator new promises.
struct alignas(16) TaskHeader : InboxNode {
  // Ready queue link (owner thread only). Second word of the slot: a pointer, so never the
  // slab's free tag (FrameSlab::for_each_allocated tells live slots by it).
  TaskHeader* next = nullptr;
  std::coroutine_handle<> leaf{};  // innermost suspended coroutine: what a wake resumes
  // Live root tasks whose frame came from the heap (slab roots are found by walking the slab).
  TaskHeader* all_prev = nullptr;
  TaskHeader* all_next = nullptr;
  Runtime* rt = nullptr;             // owner; set when allocated on a runtime thread
  TaskHeader* joiner = nullptr;      // task awaiting this one's JoinHandle
  uint32_t flags = 0;                // TaskFlags, owner thread only
  uint16_t slab_class = kHeapClass;  // where the memory came from
  // Linked in the runtime's ready queue (owner thread only). A byte of its own, not a flag
  // bit: the run loop clears it on every pop, and a byte store is one instruction where
  // clearing a bit is a load, a mask and a store. bool, not uint8_t: a store through an
  // unsigned char may alias anything, which made callers reload pointers after schedule().
  bool queued = false;
  uint8_t pad_ = 0;

  void* frame() noexcept { return reinterpret_cast<char*>(this) + sizeof(TaskHeader); }
  // The coroutine whose frame follows this header (g++: handle address == frame start).
  std::coroutine_handle<> handle() noexcept {
    return std::coroutine_handle<>::from_address(frame());
  }
  static TaskHeader* of(void* frame) noexcept {
    return reinterpret_cast<TaskHeader*>(static_cast<char*>(frame) - sizeof(TaskHeader));
  }
  static TaskHeader* of(std::coroutine_handle<> h) noexcept { return of(h.address()); }
};
static_assert(sizeof(TaskHeader) == 64, "header is one cache line");

}  // namespace sluice::detail
