// Runtime: a single-thread executor of Tasks. Everything it owns (ready queue, timers, slab,
// io_uring ring) is touched by its own thread only, so none of it needs atomics; the single
// exception is the inbox through which other threads wake its tasks.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <utility>

#include "detail/checked.hpp"
#include "detail/deadline.hpp"
#include "detail/fatal.hpp"
#include "detail/inbox.hpp"
#include "detail/task_header.hpp"
#include "detail/wait_list.hpp"
#include "result.hpp"
#include "slab.hpp"
#include "task.hpp"
#include "timer_wheel.hpp"

struct io_uring_sqe;  // <liburing.h>, kept out of this header (runtime/io/ includes it)

namespace sluice {

// What the runtime does when it has nothing to run.
struct IdlePolicy {
  enum class Kind : uint8_t { busy_poll, spin_then_park, park };
  Kind kind = Kind::park;
  uint32_t spins = 0;
  static constexpr IdlePolicy busy_poll() noexcept { return {Kind::busy_poll, 0}; }
  static constexpr IdlePolicy spin_then_park(uint32_t spins) noexcept {
    return {Kind::spin_then_park, spins};
  }
  static constexpr IdlePolicy park() noexcept { return {Kind::park, 0}; }
};

// The io_uring setup modes, fastest first. Measured on a 2-vCPU VM (docs/io.md, perf/RESULTS.md):
// a busy-polling runtime with Plain saw loopback TCP round trips of ~120 us, because each
// completion's task work arrives by an inter-processor interrupt the guest pays like a wake-up;
// CoopTaskrun and DeferTaskrun run the task work when the runtime enters the kernel itself.
enum class IoSetup : uint8_t {
  Auto,          // DeferTaskrun if the kernel accepts it, else CoopTaskrun, else Plain
  DeferTaskrun,  // SINGLE_ISSUER | DEFER_TASKRUN (6.1+): completions post only when we ask
  CoopTaskrun,   // COOP_TASKRUN | TASKRUN_FLAG (5.19+): no IPI, task work at our next enter
  Plain,         // default flags
  None,          // (reported only) no ring: I/O operations fail with ENOSYS
};
inline const char* to_string(IoSetup m) noexcept {
  switch (m) {
    case IoSetup::Auto:
      return "auto";
    case IoSetup::DeferTaskrun:
      return "defer_taskrun";
    case IoSetup::CoopTaskrun:
      return "coop_taskrun";
    case IoSetup::Plain:
      return "plain";
    case IoSetup::None:
      return "none";
  }
  return "unknown";
}

struct RuntimeConfig {
  IdlePolicy idle = IdlePolicy::park();
  SlabConfig slab{};
  // While tasks keep the ready queue busy, timers and the inbox are checked every this many
  // polls (and whenever the queue runs dry): it bounds how late a timer or remote wake is seen.
  uint32_t event_interval = 64;
  // Called on the runtime's thread when a detached task (its JoinHandle dropped, or never
  // kept) ends with an exception, which nobody could otherwise see. Counted in
  // Counters::detached_exceptions whether or not a handler is set. Must not throw (a throw
  // terminates). Not called on a hot path: only when such a task ends.
  std::function<void(std::exception_ptr)> on_detached_exception{};
  // true: when io_uring cannot be set up (disabled by the kernel or a seccomp policy, as in
  // Docker's default profile; the fd limit), Runtime::make fails with RuntimeErrc::IoUring.
  // false (the default while the ring is only used for parking): park with poll(2) on the
  // eventfd instead; cross-thread wakes and timers work the same. uses_io_uring() tells.
  bool require_io_uring = false;
  // How the io_uring ring is set up (see IoSetup). Auto takes the fastest mode the kernel
  // accepts: DeferTaskrun, then CoopTaskrun, then Plain.
  IoSetup io_setup = IoSetup::Auto;
  // Submission queue entries (a full queue is submitted and refilled, never an error) and
  // completion queue entries (0: 16 times io_entries). Size the completion queue for the
  // worst burst: every multishot receive can post one completion per provided buffer before
  // the runtime reaps. An overflow loses nothing (the kernel holds the completions back and
  // the runtime flushes them; Counters::io_cq_overflows counts it) but costs extra enters.
  uint32_t io_entries = 256;
  uint32_t io_cq_entries = 0;
};

struct Counters {
  uint64_t polls = 0;         // task resumptions
  uint64_t local_wakes = 0;   // schedules from this thread
  uint64_t remote_wakes = 0;  // wakes that arrived through the inbox
  uint64_t polled_wakes = 0;  // cross-thread wakes a busy-polling runtime saw by polling
  uint64_t parks = 0;         // times the thread blocked in the kernel
  uint64_t slab_misses = 0;   // frames that fell back to the heap
  uint64_t timers_fired = 0;
  uint64_t detached_exceptions = 0;  // detached tasks that ended with an exception
  uint64_t frames_handed_back = 0;   // frames freed on another thread, returned to our slab
  // io_uring (runtime/io/). enters counts every io_uring_enter the runtime makes (submits,
  // reaps, parks); cq_overflows counts turns that found the overflow flag set and flushed;
  // cq_dropped is the kernel's count of completions it could not keep (stays 0: the runtime
  // requires IORING_FEAT_NODROP).
  uint64_t io_submitted = 0;  // operations handed to the ring (SQEs, cancels included)
  uint64_t io_completed = 0;  // completions reaped for operations (multishot: each one)
  uint64_t io_enters = 0;
  uint64_t io_cancels = 0;  // operations cancelled because their awaiter went away
  uint64_t io_cq_overflows = 0;
  uint64_t io_cq_dropped = 0;
  uint64_t io_sq_full = 0;  // times the submission queue was full and submitted early
  // The ring setup the kernel accepted (IoSetup::None: no ring; see RuntimeConfig::io_setup).
  IoSetup io_mode = IoSetup::None;
};

// Why a Runtime could not be built (Runtime::make). errno_value is what the failing call set.
enum class RuntimeErrc : uint8_t {
  EventFd,      // eventfd(2) failed (e.g. EMFILE): other threads could never wake it parked
  IoUring,      // io_uring_queue_init failed (EMFILE, ENOMEM, EPERM when disabled)
  OutOfMemory,  // the frame slab or the shutdown token could not be allocated
};
struct RuntimeError {
  RuntimeErrc code;
  int errno_value = 0;
};
inline const char* to_string(RuntimeErrc e) noexcept {
  switch (e) {
    case RuntimeErrc::EventFd:
      return "eventfd failed";
    case RuntimeErrc::IoUring:
      return "io_uring setup failed";
    case RuntimeErrc::OutOfMemory:
      return "out of memory";
  }
  return "unknown";
}
inline const char* to_string(const RuntimeError& e) noexcept { return to_string(e.code); }

struct ShutdownReport {
  std::size_t tasks_alive = 0;  // root tasks still unfinished when the quiesce time ran out
  bool quiesced() const noexcept { return tasks_alive == 0; }
};

enum class JoinError : uint8_t {
  Aborted,      // JoinHandle::abort() (or timeout()) destroyed the task before it finished
  RuntimeGone,  // its runtime was destroyed with the task unfinished (the handle outlived it)
};
inline const char* to_string(JoinError e) noexcept {
  return e == JoinError::Aborted ? "aborted" : "runtime gone";
}

// Why try_spawn could not take a task. The task itself comes back in SpawnError.
enum class SpawnErrc : uint8_t {
  EmptyTask,     // a default-constructed or moved-from Task: nothing to run
  ForeignFrame,  // its frame came from another runtime's slab: only that runtime may run it
  NoRuntime,     // sluice::try_spawn on a thread with no current runtime
};
template <class T>
struct SpawnError {
  SpawnErrc code;
  Task<T> task;  // untouched: spawn it where it belongs, or drop it
};
inline const char* to_string(SpawnErrc e) noexcept {
  switch (e) {
    case SpawnErrc::EmptyTask:
      return "empty task";
    case SpawnErrc::ForeignFrame:
      return "frame belongs to another runtime";
    case SpawnErrc::NoRuntime:
      return "no runtime on this thread";
  }
  return "unknown";
}

namespace detail {
// One io_uring operation: its address is the SQE's user_data. on_cqe runs on the runtime's
// thread for each of its completions (a multishot one gets several; the last comes without
// IORING_CQE_F_MORE), and may only record the result and schedule tasks. in_flight is true from
// submission to the last completion; the memory holding the op (and any buffer the kernel
// writes) must stay alive while it is: Runtime::io_cancel waits for that.
//
// on_deferred (optional) runs after the reap loop for an op that asked with
// Runtime::io_defer from its on_cqe: there it may submit again (re-arm a multishot receive,
// resubmit a partial send), which on_cqe itself must not do.
struct IoOp {
  void (*on_cqe)(IoOp*, int32_t res, uint32_t cqe_flags) noexcept = nullptr;
  void (*on_deferred)(IoOp*) noexcept = nullptr;
  IoOp* deferred_next = nullptr;
  bool in_flight = false;
  bool deferred = false;  // queued for on_deferred
};

// A wait that a busy-polling runtime checks itself instead of being woken (Runtime::add_poll).
// Why: a cross-thread wake through the inbox moves five or six cache lines between the two
// cores (waiter word, task header, inbox head, stub, ...); a runtime that never sleeps can
// instead re-read the one word the other thread writes, which is one line each way.
struct PollNode : WaitNode<PollNode> {
  TaskHeader* poll_task = nullptr;                   // scheduled when poll_ready says so
  bool (*poll_ready)(PollNode*) noexcept = nullptr;  // owner thread; no blocking, no allocation
};
}  // namespace detail

class CancellationToken;

class Runtime {
 public:
  // Stops with a "sluice: ..." message when the runtime cannot be built (see make()): a
  // runtime that other threads could not wake must never exist.
  explicit Runtime(RuntimeConfig cfg = {});
  // The fallible form: an eventfd, io_uring or memory failure is an error value. Runtime does
  // not move (tasks and wakers hold its address), so it comes on the heap.
  static Result<std::unique_ptr<Runtime>, RuntimeError> make(RuntimeConfig cfg = {}) noexcept;
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // The runtime running on this thread (inside block_on, shutdown or its destructor), else
  // nullptr. Frames of tasks created while one runs come from its slab; others from the heap.
  // (Until 2026-11-29 a constructed runtime stayed current on its thread: moved to another
  // thread and destroyed there, it left that pointer dangling.)
  static Runtime* current() noexcept { return detail::tl_ctx.rt; }

  // Runs the loop until `t` finishes; returns its value or rethrows its exception.
  template <class T>
  T block_on(Task<T> t);

  // Queues `t` to run on this runtime. Allocation-free: the frame already exists.
  // Preconditions: `t` is not empty, and its frame is this runtime's (created on this
  // runtime's thread, or outside any runtime). A foreign frame prints a message and aborts: it
  // may only be run and freed on its own runtime's thread. spawn checks nothing else, to stay
  // a few instructions long (checked builds, SLUICE_CHECKED, also stop when it is called from
  // a thread that is not the runtime's). try_spawn checks both and hands the task back
  // instead; a task handed back may be dropped on any thread: its frame travels back to its
  // own runtime to be freed (hand_back).
  //
  // A coroutine lambda's captures live in the lambda object, not in the frame: spawning
  // `[&x]() -> Task<> { ... }()` is only safe while that lambda object lives, and the
  // temporary dies at the end of the statement. Pass what the task needs as parameters
  // (`[](X* x) -> Task<> { ... }(&x)`): parameters are copied into the frame.
  template <class T>
  JoinHandle<T> spawn(Task<T> t) noexcept;
  template <class T>
  Result<JoinHandle<T>, SpawnError<T>> try_spawn(Task<T> t) noexcept;
  // Can this runtime run (and later free) the task? False for an empty task too.
  template <class T>
  bool can_spawn(const Task<T>& t) const noexcept {
    if (!t.valid()) return false;
    const detail::TaskHeader* h = detail::TaskHeader::of(t.handle());
    return owns_frame(h) || is_orphan(h);
  }

  // Cancels shutdown_token(), then runs until every spawned task has finished or `quiesce`
  // elapsed (any duration type; one past what the clock holds waits forever). Tasks still
  // alive are reported (and destroyed when the Runtime is).
  template <class Rep, class Period>
  ShutdownReport shutdown(std::chrono::duration<Rep, Period> quiesce) {
    return shutdown_until(detail::deadline_after(quiesce));
  }
  ShutdownReport shutdown_until(Clock::time_point deadline);
  CancellationToken& shutdown_token() noexcept;

  const Counters& counters() const noexcept { return counters_; }
  std::size_t live_tasks() const noexcept { return live_; }
  const RuntimeConfig& config() const noexcept { return cfg_; }
  TimerWheel& timers() noexcept { return timers_; }
  bool uses_io_uring() const noexcept { return ring_ok_; }
  // The io_uring setup the kernel accepted (IoSetup::None without a ring).
  IoSetup io_setup() const noexcept { return io_mode_; }
  // Operations submitted whose last completion has not arrived.
  std::size_t io_in_flight() const noexcept { return io_inflight_; }

  // ---- io_uring operations (runtime/io/; owner thread) ----
  // An SQE for `op`, its user_data set and the op counted in flight; the caller fills in the
  // rest before it next yields to the runtime, which submits every SQE of a loop turn with one
  // enter. A full submission queue is submitted at once to make room. nullptr: no ring
  // (uses_io_uring() is false); the operation should fail with ENOSYS.
  io_uring_sqe* io_prepare(detail::IoOp* op, unsigned linked = 0) noexcept;
  // Cancels `op` (IORING_OP_ASYNC_CANCEL) and waits, in the kernel, until its last completion
  // arrives; completions of other operations reaped meanwhile are delivered as usual. Used by
  // an awaiter destroyed while its operation is in flight (abort, timeout, cancellation): its
  // buffer and frame are still alive until this returns, so the kernel never writes freed
  // memory. Not a hot path: one or two enters.
  void io_cancel(detail::IoOp* op) noexcept;
  // Run op->on_deferred at the next safe point: the end of the current reap loop (from
  // on_cqe), or before the next submit (from a task). See IoOp.
  void io_defer(detail::IoOp* op) noexcept {
    if (op->deferred) return;
    op->deferred = true;
    op->deferred_next = io_deferred_;
    io_deferred_ = op;
  }
  // An op's owner going away takes it off the deferred list (a short list: a linear walk).
  void io_undefer(detail::IoOp* op) noexcept {
    if (!op->deferred) return;
    for (detail::IoOp** pp = &io_deferred_; *pp != nullptr; pp = &(*pp)->deferred_next)
      if (*pp == op) {
        *pp = op->deferred_next;
        break;
      }
    op->deferred = false;
  }
  // A second SQE right after the one io_prepare returned, for a linked request (a link
  // timeout); io_prepare(op, 1) reserved room for it. Its completion is ignored.
  io_uring_sqe* io_linked_sqe() noexcept;
  // Submits the SQEs queued this turn now (one enter; no reaping). A synchronous close of an
  // fd calls it first, so nothing queued for that fd is issued after the number is reused.
  void io_submit_queued() noexcept;
  // Provided-buffer rings (runtime/io/buffer_ring.hpp): registered with this runtime's ring.
  // Returns 0 or -errno.
  int io_register_buf_ring(void* ring_mem, uint32_t entries, uint16_t group) noexcept;
  void io_unregister_buf_ring(uint16_t group) noexcept;

  // ---- used by awaiters (sluice internals and extension points) ----

  // Owner thread: make `t` runnable (no-op if already queued).
  void schedule(detail::TaskHeader* t) noexcept {
    if (t->queued) return;
    t->queued = true;
    t->next = nullptr;
    if (ready_tail_)
      ready_tail_->next = t;
    else
      ready_head_ = t;
    ready_tail_ = t;
    ++counters_.local_wakes;
  }

  // Owner thread: `t` may now be held by a waker on another thread (Notify, cross-thread
  // channels). Its memory, and this runtime, stay alive until the inbox delivers the claim or
  // the owner takes the registration back with disarm_remote.
  static void arm_remote(detail::TaskHeader* t) noexcept {
    t->flags |= detail::kRemoteArmed;
    ++t->rt->armed_;
  }
  static void disarm_remote(detail::TaskHeader* t) noexcept {
    t->flags &= ~detail::kRemoteArmed;
    --t->rt->armed_;
  }

  // Any thread but t's runtime's: a frame freed here that belongs to that runtime's slab goes
  // back through its inbox, and the runtime frees it (a slab is touched by its owner only).
  // Called by detail::free_foreign under the orphan lock, which the runtime's destructor takes
  // for its last drain: so the runtime is alive and will drain this push.
  static void hand_back(detail::TaskHeader* t) noexcept {
    t->joiner = detail::hand_back_mark();
    wake_remote(t);
  }

  // Any thread: wake `t` (armed by its owner, and claimed by the caller) through its runtime's
  // inbox; writes the runtime's eventfd only if it announced it is parking.
  static void wake_remote(detail::TaskHeader* t) noexcept {
    Runtime* rt = t->rt;  // read first: once t is in the inbox its memory may be reclaimed
    // relaxed: the push below (release) orders it before the owner can see the claim; the
    // runtime's destructor waits for this count to drop before freeing what we touch next.
    rt->remote_refs_.fetch_add(1, std::memory_order_relaxed);
    rt->inbox_.push(t);
    // seq_cst: pairs with the parker's seq_cst store of parked_ (store-then-load on both sides:
    // either the parker sees our push, or we see its parked_ == true).
    if (rt->parked_.load(std::memory_order_seq_cst)) rt->unpark();
    rt->remote_refs_.fetch_sub(1, std::memory_order_release);  // release: our last touch of rt
  }

  // True when this runtime never parks (IdlePolicy::busy_poll): cross-thread waits may then
  // register as polled (add_poll) and skip the inbox and the parking handshake entirely. A
  // runtime that never sleeps cannot miss a wake, so no store-then-load fence is needed.
  bool polls_waits() const noexcept { return cfg_.idle.kind == IdlePolicy::Kind::busy_poll; }

  // Owner thread: check n->poll_ready(n) between task batches (and continuously while idle);
  // when it returns true, unlink n and schedule n->poll_task. remove_poll is a no-op for a
  // node that is not linked (already fired).
  void add_poll(detail::PollNode* n) noexcept { polls_.push_back(n); }
  void remove_poll(detail::PollNode* n) noexcept { polls_.remove(n); }

  void add_timer(TimerEntry* e) noexcept { timers_.insert(e); }
  void remove_timer(TimerEntry* e) noexcept { timers_.remove(e); }

  // Slab access for frame allocation (owner thread).
  void* slab_alloc(uint16_t cls) noexcept { return slab_.alloc(cls); }
  // True when a runtime's destructor has orphaned t's frame (see task_header.hpp).
  static bool is_orphan(const detail::TaskHeader* t) noexcept {
    // acquire: pairs with the orphaning runtime's release store of rt.
    return std::atomic_ref<Runtime*>(const_cast<Runtime*&>(t->rt))
               .load(std::memory_order_acquire) == detail::orphan_runtime();
  }
  void slab_free(void* p, uint16_t cls) noexcept { slab_.free(p, cls); }
  void count_slab_miss() noexcept { ++counters_.slab_misses; }
  void release_frame(detail::TaskHeader* h) noexcept;

  // Completion of a root task whose frame is suspended at final_suspend (or aborted).
  void on_root_done(detail::TaskHeader* t) noexcept;
  // A root task finished or is being destroyed: it no longer counts as live.
  void unlink_root(detail::TaskHeader* t) noexcept {
    if (!(t->flags & detail::kSpawned)) return;
    t->flags &= ~detail::kSpawned;
    --live_;
    if (t->slab_class == detail::kHeapClass) [[unlikely]]
      unlink_heap_root(t);
  }

 private:
  template <class T>
  friend class JoinHandle;

  struct NoAbort {};
  Runtime(RuntimeConfig cfg, NoAbort) noexcept;
  Result<void, RuntimeError> init() noexcept;

  // A frame carved from another runtime's slab must run (and be freed) there.
  bool owns_frame(const detail::TaskHeader* t) const noexcept {
    return t->rt == nullptr || t->rt == this || t->slab_class == detail::kHeapClass;
  }
  // Checked builds: while this runtime runs, is the calling thread the one it runs on? (A
  // runtime that is not running may be handed between threads: not checked.)
  void check_owner_thread(const char* what) const noexcept {
    if (running_ && owner_ != &detail::tl_ctx)
      detail::fatal(what, "called from a thread that is not the running runtime's");
  }
  // An orphaned frame (its runtime destroyed first) becomes a heap-like frame of whichever
  // runtime runs it; anything else foreign cannot run here.
  static void adopt_orphan_or_die(detail::TaskHeader* t) noexcept;
  void adopt(detail::TaskHeader* t) noexcept {
    if (!owns_frame(t)) [[unlikely]]
      adopt_orphan_or_die(t);
    t->flags |= detail::kSpawned;
    t->rt = this;
    t->leaf = t->handle();
    if (t->slab_class == detail::kHeapClass) [[unlikely]]
      link_heap_root(t);
    ++live_;
    schedule(t);
  }
  // Roots on heap frames are kept in a list; roots on slab frames are found by walking the
  // slab (destroy_live_roots), so the common spawn links nothing.
  void link_heap_root(detail::TaskHeader* t) noexcept;
  void unlink_heap_root(detail::TaskHeader* t) noexcept;
  bool destroy_live_roots() noexcept;
  void orphan_remaining_frames() noexcept;
  friend bool detail::root_done_handoff(detail::TaskHeader* t) noexcept;
  friend void detail::detached_exception(detail::TaskHeader* t, std::exception_ptr e) noexcept;

  // Direct transfers between tasks, without a trip through the ready queue. Each one costs a
  // unit of the current batch's budget, the same budget that bounds run_batch's queue pops,
  // so a chain of them cannot keep timers and the inbox waiting past event_interval polls.
  bool take_budget() noexcept {
    if (counters_.polls >= batch_end_) return false;
    ++counters_.polls;
    return true;
  }
  // The awaited task `t` is next in the ready queue: run it now, in place of going back to
  // run_batch only to pop it. The order of the queue is unchanged.
  void start_if_next(detail::TaskHeader* t) noexcept {
    if (ready_head_ != t || !take_budget()) return;
    detail::TaskHeader* nx = t->next;
    ready_head_ = nx;
    if (nx == nullptr) ready_tail_ = nullptr;
    t->queued = false;
    detail::tl_ctx.current = t;
    detail::tl_ctx.next = t->leaf;
  }
  void run_until(detail::TaskHeader* root);  // root may be null (shutdown)
  bool run_batch(detail::TaskHeader* root) noexcept;
  void poll_events() noexcept;
  void drain_inbox() noexcept;
  void check_polls() noexcept;
  void fire_timers() noexcept;
  void idle() noexcept;
  void park(int64_t timeout_ns) noexcept;
  void unpark() noexcept;
  Result<void, RuntimeError> ring_setup() noexcept;
  void ring_claim_thread() noexcept;
  bool io_step() noexcept;  // submit and reap (one enter); true if anything completed
  bool io_poll() noexcept;  // a busy turn's I/O: enter only if needed
  unsigned io_reap() noexcept;
  bool io_pending() const noexcept;
  io_uring_sqe* io_sqe_or_flush(unsigned need = 1) noexcept;
  void io_cancel_all() noexcept;
  void io_run_deferred() noexcept;
  void check_issuer(const char* what) const noexcept;

  RuntimeConfig cfg_;
  FrameSlab slab_;
  detail::TaskHeader* ready_head_ = nullptr;
  detail::TaskHeader* ready_tail_ = nullptr;
  detail::TaskHeader* all_head_ = nullptr;  // heap-frame roots (link_heap_root)
  uint64_t batch_end_ = 0;  // counters_.polls where this batch ends (0 outside run_batch)
  detail::WaitList<detail::PollNode> polls_;  // polled waits (busy_poll runtimes only)
  std::size_t live_ = 0;
  Counters counters_{};
  TimerWheel timers_;
  bool running_ = false;
  CancellationToken* shutdown_token_ = nullptr;
  // The thread that runs (or last ran) this runtime: its ThreadContext's address. Read by the
  // SLUICE_CHECKED owner checks while running_.
  const void* owner_ = nullptr;

  // io_uring park (opaque storage keeps <liburing.h> out of user headers). alignas(64): at
  // least io_uring's own alignment, and its ring pointers start on their own cache line.
  alignas(64) unsigned char ring_storage_[256];
  bool ring_ok_ = false;
  bool ring_disabled_ = false;    // created IORING_SETUP_R_DISABLED: enabled by the first run
  bool io_taskrun_flag_ = false;  // the kernel raises IORING_SQ_TASKRUN for us
  IoSetup io_mode_ = IoSetup::None;
  std::size_t io_inflight_ = 0;  // operations (not the eventfd read) awaiting their last CQE
  unsigned io_koverflow_seen_ = 0;
  uint64_t io_issuer_ = 0;        // thread (this_thread_serial) that enabled a single-issuer ring
  std::size_t io_buf_rings_ = 0;  // provided-buffer rings registered (they pin the ring)
  detail::IoOp* io_deferred_ = nullptr;  // ops waiting for on_deferred (io_defer)
  bool efd_armed_ = false;
  int efd_ = -1;
  uint64_t efd_buf_ = 0;

  detail::Inbox inbox_;
  std::size_t armed_ = 0;  // tasks flagged kRemoteArmed (owner thread only)
  // alignas(64): written by parker and wakers; keep it apart from the owner's hot fields.
  alignas(64) std::atomic<bool> parked_{false};
  std::atomic<uint32_t> remote_refs_{0};  // wake_remote calls still touching this runtime
};

// Handle to a spawned task. Await it for the result; destroying it detaches the task.
// The task's frame is destroyed as soon as it finishes; its outcome is moved into the handle.
template <class T>
class [[nodiscard]] JoinHandle {
 public:
  using handle_type = std::coroutine_handle<detail::Promise<T>>;
  JoinHandle() noexcept = default;
  explicit JoinHandle(handle_type h) noexcept : h_(h) { h_.promise().join_state = &st_; }
  JoinHandle(JoinHandle&& o) noexcept { steal(o); }
  JoinHandle& operator=(JoinHandle&& o) noexcept {
    if (this != &o) {
      reset();
      st_.clear();  // whatever this handle held (an outcome, an abort) is not o's
      steal(o);
    }
    return *this;
  }
  ~JoinHandle() { reset(); }

  bool valid() const noexcept { return h_ || st_.done; }
  // Finished, aborted, or destroyed unfinished with its runtime: nothing more will happen.
  bool is_finished() const noexcept { return st_.done; }
  bool is_aborted() const noexcept { return st_.fate == detail::JoinStateBase::kAborted; }

  // Destroys the task's frame (running destructors, which unregister any waiters) unless it
  // already finished. A task cannot abort itself. Returns true if this call aborted it.
  bool abort() noexcept {
    if (!h_ || is_finished()) return false;
    detail::TaskHeader* t = header();
    if (t == detail::tl_ctx.current) return false;
    Runtime* rt = t->rt;
#if SLUICE_CHECKED
    rt->check_owner_thread("JoinHandle::abort");
#endif
    detail::TaskHeader* joiner = t->joiner;
    t->flags |= detail::kDone | detail::kAborted;
    rt->unlink_root(t);
    h_.promise().join_state = nullptr;  // aborted, not gone: this handle reports it itself
    std::exchange(h_, {}).destroy();
    st_.done = true;
    st_.fate = detail::JoinStateBase::kAborted;
    if (joiner) rt->schedule(joiner);
    return true;
  }

  // Detach explicitly: the task keeps running; its outcome is dropped when it finishes.
  void detach() noexcept { reset(); }

  struct [[nodiscard]] Awaiter {
    JoinHandle* jh;
    detail::TaskHeader* waiting = nullptr;
    bool await_ready() const noexcept { return jh->is_finished(); }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      detail::TaskHeader* cur = detail::tl_ctx.current;
      cur->leaf = h;
      detail::TaskHeader* t = jh->header();
      t->joiner = cur;
      waiting = cur;
      cur->rt->start_if_next(t);  // a task spawned and awaited at once starts right here
    }
    Result<T, JoinError> await_resume() {
      waiting = nullptr;
      if (jh->st_.fate != detail::JoinStateBase::kFinished) [[unlikely]]
        return err(jh->st_.fate == detail::JoinStateBase::kAborted ? JoinError::Aborted
                                                                   : JoinError::RuntimeGone);
      if constexpr (std::is_void_v<T>) {
        jh->st_.take();
        return {};
      } else {
        return jh->st_.take();
      }
    }
    ~Awaiter() {
      // Destroyed while still suspended (the awaiting task was aborted): unregister.
      if (waiting && !jh->is_finished() && jh->header()->joiner == waiting)
        jh->header()->joiner = nullptr;
    }
  };
  Awaiter operator co_await() & noexcept { return Awaiter{this}; }
  Awaiter operator co_await() && noexcept { return Awaiter{this}; }

  // Valid only while the task is unfinished.
  detail::TaskHeader* header() const noexcept { return detail::TaskHeader::of(h_); }

 private:
  friend class Runtime;
  void steal(JoinHandle& o) noexcept {
    if (o.st_.done) {
      st_.done = true;
      st_.fate = o.st_.fate;
      st_.exception = std::move(o.st_.exception);
      if constexpr (!std::is_void_v<T>) {
        if (o.st_.has_value) {
          ::new (static_cast<void*>(st_.storage)) T(o.st_.take());
          st_.has_value = true;
        }
      }
      o.h_ = {};
    } else if (o.h_) {
      h_ = std::exchange(o.h_, {});
      h_.promise().join_state = &st_;
    }
  }
  void reset() noexcept {
    if (h_ && !is_finished()) h_.promise().join_state = nullptr;
    h_ = {};
  }
  handle_type h_{};
  detail::JoinState<T> st_{};
};

// ---------------------------------------------------------------- inline definitions

namespace detail {

inline void* frame_alloc(std::size_t n) {
  const std::size_t total = n + sizeof(TaskHeader);
  Runtime* rt = tl_ctx.rt;
  void* mem = nullptr;
  uint16_t cls = kHeapClass;
  if (rt != nullptr) {
    uint16_t c = FrameSlab::class_for(total);
    if (c != FrameSlab::kNoClass) mem = rt->slab_alloc(c);
    if (mem != nullptr)
      cls = c;
    else
      rt->count_slab_miss();
  }
  if (mem == nullptr) mem = ::operator new (total, std::align_val_t{alignof(TaskHeader)});
  auto* h = ::new (mem) TaskHeader;
  h->slab_class = cls;
  h->rt = rt;
  return h->frame();
}

// Releases an orphaned frame's memory (runtime.cpp): the arena it lives in is freed with the
// last such frame.
void orphan_release(TaskHeader* h) noexcept;
// A slab frame freed on a thread where its runtime is not running (runtime.cpp): handed back to
// that runtime, or released as an orphan if the runtime is gone.
void free_foreign(TaskHeader* h) noexcept;

inline void frame_free(void* frame) noexcept {
  TaskHeader* h = TaskHeader::of(frame);
  // Still referenced by the ready queue or by a cross-thread wake in flight: the queue that
  // holds it frees it when it lets go (Runtime::release_frame). Orphaned and adopted by a
  // runtime: its arena outlived its first runtime. One test for all three (rare) cases.
  if (h->queued || (h->flags & (kRemoteArmed | kOrphaned))) [[unlikely]] {
    if (h->queued || (h->flags & kRemoteArmed))
      h->flags |= kDead;
    else
      orphan_release(h);
    return;
  }
  if (h->slab_class == kHeapClass) {
    // Heap frames may have no runtime (created outside one): no slab to return them to.
    h->~TaskHeader();
    ::operator delete (static_cast<void*>(h), std::align_val_t{alignof(TaskHeader)});
    return;
  }
  // acquire: the runtime's destructor may orphan this frame from its own thread (a release
  // store of orphan_runtime()) while a Task holding it is dropped here; a plain load on x86.
  Runtime* rt = std::atomic_ref<Runtime*>(h->rt).load(std::memory_order_acquire);
  if (rt != tl_ctx.rt) [[unlikely]] {
    // A slab is its runtime's alone: a frame freed on another thread (say, a Task handed back
    // by try_spawn and dropped there) is freed by its own runtime instead.
    free_foreign(h);
    return;
  }
  const uint16_t cls = h->slab_class;
  h->~TaskHeader();
  rt->slab_free(h, cls);  // the rare cases release_frame tests for were excluded above
}

// Called at the final suspend of root `t`, which has a joiner: unless the batch budget is
// spent (then run_batch completes t and queues the joiner), t stops counting as live and the
// trampoline resumes the joiner next; the caller lets t's frame be destroyed as its coroutine
// ends. The joiner is suspended in JoinHandle::Awaiter, never queued.
inline bool root_done_handoff(TaskHeader* t) noexcept {
  Runtime* rt = t->rt;
  TaskHeader* j = t->joiner;
  if (j->queued || !rt->take_budget()) return false;
  rt->unlink_root(t);
  tl_ctx.current = j;
  tl_ctx.next = j->leaf;
  return true;
}

}  // namespace detail

inline void Runtime::release_frame(detail::TaskHeader* h) noexcept {
  if (h->flags & detail::kOrphaned) [[unlikely]] {
    detail::orphan_release(h);
    return;
  }
  uint16_t cls = h->slab_class;
  if (cls == detail::kHeapClass) {
    h->flags = 0;  // no queue or waker holds it any more: frame_free releases it now
    h->queued = false;
    detail::frame_free(h->frame());
    return;
  }
  h->~TaskHeader();
  slab_.free(h, cls);
}

template <class T>
JoinHandle<T> Runtime::spawn(Task<T> t) noexcept {
#if SLUICE_CHECKED
  check_owner_thread("spawn");
  if (!t.valid()) detail::fatal("spawn: the Task is empty (default-constructed or moved from)");
#endif
  auto h = t.release();
  adopt(detail::TaskHeader::of(h));
  return JoinHandle<T>(h);
}

template <class T>
Result<JoinHandle<T>, SpawnError<T>> Runtime::try_spawn(Task<T> t) noexcept {
  if (!t.valid()) return err(SpawnError<T>{SpawnErrc::EmptyTask, std::move(t)});
  if (!can_spawn(t)) return err(SpawnError<T>{SpawnErrc::ForeignFrame, std::move(t)});
  return spawn(std::move(t));
}

template <class T>
T Runtime::block_on(Task<T> t) {
  auto h = t.release();
  if (!h) detail::fatal("block_on: the Task is empty (default-constructed or moved from)");
  detail::TaskHeader* root = detail::TaskHeader::of(h);
  adopt(root);
  root->flags |= detail::kBlockOnRoot;
  JoinHandle<T> jh(h);  // receives the outcome
  run_until(root);
  return jh.st_.take();
}

// Free function forms: act on Runtime::current(). spawn requires one (inside a task there
// always is) and does not check: a null check here cost 6-10 instructions per spawn in
// g++ 12's code for the spawn-and-join loop. try_spawn reports NoRuntime instead.
template <class T>
JoinHandle<T> spawn(Task<T> t) noexcept {
  return Runtime::current()->spawn(std::move(t));
}
template <class T>
Result<JoinHandle<T>, SpawnError<T>> try_spawn(Task<T> t) noexcept {
  Runtime* rt = Runtime::current();
  if (rt == nullptr) return err(SpawnError<T>{SpawnErrc::NoRuntime, std::move(t)});
  return rt->try_spawn(std::move(t));
}

// Suspends the current task and puts it at the back of the ready queue.
struct [[nodiscard]] YieldAwaiter {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const noexcept {
    detail::TaskHeader* cur = detail::tl_ctx.current;
    cur->leaf = h;
    cur->rt->schedule(cur);
  }
  void await_resume() const noexcept {}
};
inline YieldAwaiter yield_now() noexcept { return {}; }

}  // namespace sluice
