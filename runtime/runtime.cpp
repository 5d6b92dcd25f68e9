#include "runtime.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "cancellation.hpp"
#include "detail/deadline.hpp"

namespace sluice {

namespace {
// user_data values that are not IoOp addresses (an IoOp is at least 8-aligned, never 1 or 2).
constexpr uint64_t kEventfdTag = 1;  // the park's eventfd read
constexpr uint64_t kIgnoreTag = 2;   // cancel requests: their own completions carry nothing
static_assert(sizeof(io_uring) <= 256, "ring_storage_ too small");
io_uring* ring_of(unsigned char* storage) { return reinterpret_cast<io_uring*>(storage); }
// A number no other thread of the process has or will have. Not the address of a thread_local:
// a thread that exits frees its block, and the next thread often gets the same address, so
// a runtime moved from a finished thread to a new one would think it had not moved.
uint64_t this_thread_serial() noexcept {
  static std::atomic<uint64_t> next{1};
  // relaxed: only uniqueness matters, which the atomic increment gives.
  thread_local const uint64_t id = next.fetch_add(1, std::memory_order_relaxed);
  return id;
}
// liburing 2.3 (Debian 12) declares io_uring_enable_rings but does not export it.
int enable_ring(io_uring* ring) noexcept {
  long rc =
      ::syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  return rc < 0 ? -errno : 0;
}
}  // namespace

// ---- frames freed away from their runtime, and orphans: Tasks that outlive the runtime whose
// slab they were carved from ----
//
// The runtime's destructor hands its arenas to an OrphanArenas record when frames are still
// allocated in them; each such frame's rt becomes orphan_runtime(), and the record frees the
// arenas when the last one is released. Rare, and never on a hot path, so one process-wide
// list under one mutex, which also orders the two cross-thread cases: a frame freed on a
// thread where its runtime is not running is handed back to that runtime (free_foreign) under
// the mutex, and a runtime's destructor drains its inbox one last time and orphans what is
// left under the same mutex. So a hand-back either lands before that last drain or sees the
// frame orphaned; it never pushes into a runtime that is gone.
namespace {
struct OrphanArenas {
  char* arena[SlabConfig::kClasses];
  std::size_t bytes[SlabConfig::kClasses];
  std::size_t live;
  OrphanArenas* next;
  bool holds(const void* p) const noexcept {
    for (std::size_t c = 0; c < SlabConfig::kClasses; ++c) {
      auto a = reinterpret_cast<uintptr_t>(arena[c]);
      auto x = reinterpret_cast<uintptr_t>(p);
      if (arena[c] != nullptr && x >= a && x < a + bytes[c]) return true;
    }
    return false;
  }
};
std::mutex g_orphans_mu;
OrphanArenas* g_orphans = nullptr;  // guarded by g_orphans_mu

// Caller holds g_orphans_mu. Returns the record to free (its last frame went), or nullptr.
OrphanArenas* orphan_release_locked(detail::TaskHeader* h) noexcept {
  h->~TaskHeader();
  for (OrphanArenas** pp = &g_orphans; *pp != nullptr; pp = &(*pp)->next) {
    if (!(*pp)->holds(h)) continue;
    OrphanArenas* rec = *pp;
    if (--rec->live != 0) return nullptr;
    *pp = rec->next;
    return rec;
  }
  return nullptr;  // its record could not be allocated: the arena is leaked, never freed
}
void free_record(OrphanArenas* rec) noexcept {
  if (rec == nullptr) return;
  for (char* a : rec->arena) FrameSlab::free_arena(a);
  delete rec;
}
}  // namespace

namespace detail {
void orphan_release(TaskHeader* h) noexcept {
  OrphanArenas* done;
  {
    std::lock_guard<std::mutex> lock(g_orphans_mu);
    done = orphan_release_locked(h);
  }
  free_record(done);
}

void free_foreign(TaskHeader* h) noexcept {
  OrphanArenas* done = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_orphans_mu);
    // acquire: pairs with the orphaning store; under the lock the answer cannot change.
    if (Runtime::is_orphan(h))
      done = orphan_release_locked(h);
    else
      Runtime::hand_back(h);  // its runtime is alive: its last drain takes this lock first
  }
  free_record(done);
}

void detached_exception(TaskHeader* t, std::exception_ptr e) noexcept {
  Runtime* rt = t->rt;
  ++rt->counters_.detached_exceptions;
  if (rt->cfg_.on_detached_exception) rt->cfg_.on_detached_exception(std::move(e));
}
}  // namespace detail

Runtime::Runtime(RuntimeConfig cfg, NoAbort) noexcept
    : cfg_(std::move(cfg)), slab_(cfg_.slab), timers_(TimerWheel::to_tick(Clock::now())) {
  if (cfg_.event_interval == 0) cfg_.event_interval = 1;
  owner_ = &detail::tl_ctx;
}

Runtime::Runtime(RuntimeConfig cfg) : Runtime(std::move(cfg), NoAbort{}) {
  auto r = init();
  if (!r) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "%s (%s)", to_string(r.error().code),
                  std::strerror(r.error().errno_value));
    detail::fatal("Runtime cannot be built; Runtime::make reports this as an error value", msg);
  }
}

Result<std::unique_ptr<Runtime>, RuntimeError> Runtime::make(RuntimeConfig cfg) noexcept {
  std::unique_ptr<Runtime> rt(new (std::nothrow) Runtime(std::move(cfg), NoAbort{}));
  if (!rt) return err(RuntimeError{RuntimeErrc::OutOfMemory, ENOMEM});
  auto r = rt->init();
  if (!r) return err(r.error());
  return rt;
}

// Everything that can fail. On failure the destructor copes with what was set up.
Result<void, RuntimeError> Runtime::init() noexcept {
  if (!slab_.ok()) return err(RuntimeError{RuntimeErrc::OutOfMemory, ENOMEM});
  efd_ = ::eventfd(0, EFD_CLOEXEC);
  if (efd_ < 0) return err(RuntimeError{RuntimeErrc::EventFd, errno});
  auto ring = ring_setup();
  if (!ring && cfg_.require_io_uring) return ring;
  try {
    shutdown_token_ = new CancellationToken();
  } catch (const std::bad_alloc&) {
    return err(RuntimeError{RuntimeErrc::OutOfMemory, ENOMEM});
  }
  return {};
}

// Tries the setup modes in order (IoSetup::Auto: fastest first). A mode the kernel does not
// know fails with EINVAL and the next is tried; any other failure (EMFILE, ENOMEM, EPERM under
// a seccomp policy) would fail the same way for every mode. A ring without IORING_FEAT_NODROP
// (before 5.5) could drop completions under overflow: refused.
Result<void, RuntimeError> Runtime::ring_setup() noexcept {
  io_uring* ring = ring_of(ring_storage_);
  // At least 2: a connect with a limit takes two linked entries.
  const unsigned entries = cfg_.io_entries < 2 ? 2 : cfg_.io_entries;
  const unsigned cq = cfg_.io_cq_entries != 0 ? cfg_.io_cq_entries : entries * 16;
  IoSetup order[3] = {IoSetup::DeferTaskrun, IoSetup::CoopTaskrun, IoSetup::Plain};
  std::size_t n = 3;
  if (cfg_.io_setup != IoSetup::Auto) {
    order[0] = cfg_.io_setup;
    n = cfg_.io_setup == IoSetup::None ? 0 : 1;
  }
  int last = ENOSYS;
  for (std::size_t i = 0; i < n; ++i) {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    p.cq_entries = cq;
    if (order[i] == IoSetup::DeferTaskrun)
      // R_DISABLED: the thread that first runs the runtime becomes the single issuer (it is
      // often not the thread that built it). TASKRUN_FLAG: the kernel raises IORING_SQ_TASKRUN
      // when completion work waits, so a busy turn enters only then (io_poll).
      p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
                 IORING_SETUP_TASKRUN_FLAG;
    else if (order[i] == IoSetup::CoopTaskrun)
      p.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    int rc = io_uring_queue_init_params(entries, ring, &p);
    if (rc == -EINVAL && order[i] == IoSetup::DeferTaskrun) {
      // A kernel that takes DEFER_TASKRUN but not with TASKRUN_FLAG: enter every busy turn.
      p = io_uring_params{};
      p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SINGLE_ISSUER |
                IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
      p.cq_entries = cq;
      rc = io_uring_queue_init_params(entries, ring, &p);
    }
    if (rc == 0) {
      if (!(p.features & IORING_FEAT_NODROP)) {
        io_uring_queue_exit(ring);
        last = EOPNOTSUPP;
        break;
      }
      ring_ok_ = true;
      io_mode_ = order[i];
      io_taskrun_flag_ = (p.flags & IORING_SETUP_TASKRUN_FLAG) != 0;
      counters_.io_mode = io_mode_;
      ring_disabled_ = order[i] == IoSetup::DeferTaskrun;
      io_koverflow_seen_ = *ring->cq.koverflow;
      return {};
    }
    last = -rc;
    if (rc != -EINVAL) break;
  }
  ring_ok_ = false;
  io_mode_ = IoSetup::None;
  counters_.io_mode = io_mode_;
  return err(RuntimeError{RuntimeErrc::IoUring, last});
}

// A single-issuer ring accepts submissions from one thread: the one that enabled it. A runtime
// run from another thread later (block_on there) gets a fresh ring when nothing is in flight;
// with operations or buffer rings bound to the old ring it cannot move, and says so.
void Runtime::ring_claim_thread() noexcept {
  if (!ring_ok_ || io_mode_ != IoSetup::DeferTaskrun) return;
  io_uring* ring = ring_of(ring_storage_);
  if (ring_disabled_) {
    if (enable_ring(ring) == 0) {
      ring_disabled_ = false;
      io_issuer_ = this_thread_serial();
      return;
    }
  } else if (io_issuer_ == this_thread_serial()) {
    return;
  }
  if (io_inflight_ != 0 || io_buf_rings_ != 0)
    detail::fatal(
        "a runtime with I/O in flight or a registered buffer ring cannot run on another thread",
        "its io_uring ring is single-issuer; finish or drop the I/O first, or use "
        "RuntimeConfig::io_setup = IoSetup::CoopTaskrun");
  io_uring_queue_exit(ring);  // cancels the park's eventfd read, if armed
  efd_armed_ = false;
  ring_ok_ = false;
  if (ring_setup() && ring_disabled_ && enable_ring(ring) == 0) {
    ring_disabled_ = false;
    io_issuer_ = this_thread_serial();
  }
}

void Runtime::check_issuer(const char* what) const noexcept {
  if (io_mode_ == IoSetup::DeferTaskrun && !ring_disabled_ && io_issuer_ != this_thread_serial())
    detail::fatal(what,
                  "called on a thread that is not the one running the runtime (its io_uring ring "
                  "is single-issuer)");
}

// Every SQE a loop turn leaves queued belongs to an op counted in io_inflight_ (io_prepare;
// cancels and the park's eventfd read are submitted where they are made), so this reads no
// ring memory: a turn with no I/O touches nothing the kernel writes.
bool Runtime::io_pending() const noexcept {
  return ring_ok_ && (io_inflight_ != 0 || io_deferred_ != nullptr);
}

// A busy turn's I/O: enter only when there is something to submit or the kernel says
// completion work waits (IORING_SQ_TASKRUN, or an overflow backlog); completions already
// posted are reaped without a syscall. So a server whose accept or multishot receive sits
// armed spins without entering the kernel until a packet arrives. Without TASKRUN_FLAG a
// deferred-taskrun ring must enter every turn while anything is in flight.
bool Runtime::io_poll() noexcept {
  if (!ring_ok_) return false;
  io_run_deferred();
  io_uring* ring = ring_of(ring_storage_);
  // The kernel's flags word: read once (it changes under us; a stale read costs a turn).
  const unsigned kflags = __atomic_load_n(ring->sq.kflags, __ATOMIC_RELAXED);
  const bool enter = io_uring_sq_ready(ring) != 0 ||
                     (kflags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0 ||
                     (io_inflight_ != 0 && !io_taskrun_flag_ && io_mode_ != IoSetup::Plain);
  if (enter) return io_step();
  if (io_uring_cq_ready(ring) != 0) return io_reap() != 0;
  return false;
}

io_uring_sqe* Runtime::io_sqe_or_flush(unsigned need) noexcept {
  io_uring* ring = ring_of(ring_storage_);
  io_uring_sqe* sqe = io_uring_sq_space_left(ring) >= need ? io_uring_get_sqe(ring) : nullptr;
  while (sqe == nullptr) [[unlikely]] {
      // Full: submit what is queued (the kernel takes it all unless the completion queue has
      // an overflow backlog, EBUSY, which reaping clears) and take the freed entry.
      ++counters_.io_sq_full;
      ++counters_.io_enters;
      (void)io_uring_submit_and_get_events(ring);
      io_reap();
      sqe = io_uring_sq_space_left(ring) >= need ? io_uring_get_sqe(ring) : nullptr;
    }
  return sqe;
}

io_uring_sqe* Runtime::io_linked_sqe() noexcept {
  io_uring_sqe* sqe = io_uring_get_sqe(ring_of(ring_storage_));  // reserved by io_prepare
  io_uring_sqe_set_data64(sqe, kIgnoreTag);
  ++counters_.io_submitted;
  return sqe;
}

io_uring_sqe* Runtime::io_prepare(detail::IoOp* op, unsigned linked) noexcept {
  if (!ring_ok_) [[unlikely]]
    return nullptr;
#if SLUICE_CHECKED
  check_issuer("an I/O operation");
#endif
  io_uring_sqe* sqe = io_sqe_or_flush(1 + linked);
  io_uring_sqe_set_data(sqe, op);
  op->in_flight = true;
  ++io_inflight_;
  ++counters_.io_submitted;
  return sqe;
}

void Runtime::io_cancel(detail::IoOp* op) noexcept {
  if (!op->in_flight) return;
  check_issuer("cancelling an I/O operation (its awaiter destroyed)");
  io_uring* ring = ring_of(ring_storage_);
  io_reap();  // its last completion may already be here
  if (!op->in_flight) return;
  io_uring_sqe* sqe = io_sqe_or_flush();
  io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(op), 0);
  io_uring_sqe_set_data64(sqe, kIgnoreTag);
  ++counters_.io_submitted;
  ++counters_.io_cancels;
  while (op->in_flight) {
    ++counters_.io_enters;
    (void)io_uring_submit_and_wait(ring, 1);
    io_reap();
  }
}

// Every operation still in flight when the runtime goes (owned by objects outside its tasks,
// or whose cancel raced teardown) is cancelled and waited for, so the kernel writes nothing
// after the ring is gone and no object that outlives us finds its operation in flight.
void Runtime::io_cancel_all() noexcept {
  if (!ring_ok_ || io_inflight_ == 0) return;
  check_issuer("destroying a runtime with I/O operations in flight");
  io_uring* ring = ring_of(ring_storage_);
  io_uring_sqe* sqe = io_sqe_or_flush();
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(sqe, kIgnoreTag);
  ++counters_.io_submitted;
  while (io_inflight_ != 0) {
    ++counters_.io_enters;
    __kernel_timespec ts{0, 10 * 1000 * 1000};
    io_uring_cqe* cqe = nullptr;
    (void)io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, nullptr);
    // Nothing came in 10 ms: an op armed after the cancel (a re-arm) may be waiting on a
    // peer; cancel again. (A file op in a kernel worker just takes its time; re-cancelling
    // after every completion would spin.)
    if (io_reap() == 0 && io_inflight_ != 0) {
      sqe = io_sqe_or_flush();
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data64(sqe, kIgnoreTag);
    }
  }
}

int Runtime::io_register_buf_ring(void* ring_mem, uint32_t entries, uint16_t group) noexcept {
  if (!ring_ok_) return -ENOSYS;
  check_issuer("registering a buffer ring");
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(ring_mem);
  reg.ring_entries = entries;
  reg.bgid = group;
  const int rc = io_uring_register_buf_ring(ring_of(ring_storage_), &reg, 0);
  if (rc == 0) ++io_buf_rings_;
  return rc;
}

void Runtime::io_unregister_buf_ring(uint16_t group) noexcept {
  if (!ring_ok_ || io_buf_rings_ == 0) return;
  check_issuer("unregistering a buffer ring (destroying a BufferRing)");
  if (io_uring_unregister_buf_ring(ring_of(ring_storage_), group) == 0) --io_buf_rings_;
}

void Runtime::io_submit_queued() noexcept {
  if (!ring_ok_ || ring_disabled_) return;
  io_uring* ring = ring_of(ring_storage_);
  if (io_uring_sq_ready(ring) == 0) return;
  ++counters_.io_enters;
  (void)io_uring_submit(ring);
}

void Runtime::io_run_deferred() noexcept {
  while (detail::IoOp* op = io_deferred_) {
    io_deferred_ = op->deferred_next;
    op->deferred = false;
    op->on_deferred(op);
  }
}

bool Runtime::io_step() noexcept {
  io_run_deferred();
  ++counters_.io_enters;
  (void)io_uring_submit_and_get_events(ring_of(ring_storage_));
  return io_reap() != 0;
}

// Delivers every completion in the queue. on_cqe only records and schedules, so nothing here
// re-enters. An overflow flag means the kernel holds completions back (NODROP): flush them now,
// so no completion waits for a later turn.
unsigned Runtime::io_reap() noexcept {
  io_uring* ring = ring_of(ring_storage_);
  unsigned total = 0;
  for (int round = 0; round < 8; ++round) {
    unsigned head;
    unsigned n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
      ++n;
      const uint64_t ud = cqe->user_data;
      if (ud == kEventfdTag) {
        efd_armed_ = false;
        continue;
      }
      if (ud == kIgnoreTag || ud == LIBURING_UDATA_TIMEOUT || ud == 0) continue;
      auto* op = reinterpret_cast<detail::IoOp*>(ud);
      ++counters_.io_completed;
      if (!(cqe->flags & IORING_CQE_F_MORE)) {
        op->in_flight = false;
        --io_inflight_;
      }
      op->on_cqe(op, cqe->res, cqe->flags);
    }
    io_uring_cq_advance(ring, n);
    total += n;
    io_run_deferred();  // out of the loop now: they may submit (a full queue reaps, nested)
    if (!io_uring_cq_has_overflow(ring)) break;
    ++counters_.io_cq_overflows;
    ++counters_.io_enters;
    (void)io_uring_get_events(ring);
  }
  const unsigned ko = *ring->cq.koverflow;
  if (ko != io_koverflow_seen_) [[unlikely]] {
    counters_.io_cq_dropped += ko - io_koverflow_seen_;
    io_koverflow_seen_ = ko;
  }
  return total;
}

void Runtime::adopt_orphan_or_die(detail::TaskHeader* t) noexcept {
  if (!is_orphan(t))
    detail::fatal(
        "spawn/block_on: the task's frame belongs to another runtime's slab; create the task "
        "on the thread of the runtime that runs it, or check with try_spawn");
  // Its first runtime is gone and no other thread holds it now (the Task was moved here):
  // from now on it is a heap-like frame of the runtime that runs it, released to its orphan
  // record when freed.
  t->flags |= detail::kOrphaned;
  t->slab_class = detail::kHeapClass;
  t->rt = nullptr;
}

Runtime::~Runtime() {
  Runtime* saved = detail::tl_ctx.rt;
  detail::tl_ctx.rt = this;
  // Destroy tasks still alive (detached or never joined). Their destructors unregister
  // waiters; frames still queued are reclaimed by the drain below. A destructor may spawn,
  // so walk again until a walk finds nothing.
  while (destroy_live_roots()) {
  }
  if (io_buf_rings_ != 0)
    detail::fatal("Runtime destroyed while a BufferRing is still registered with it",
                  "destroy BufferRings (and the RecvStreams and leases that use them) first");
  io_cancel_all();
  // Claims of cross-thread wakes: release the frames they kept alive. A waker that claimed a
  // task (it stays armed) may still be on its way, or may still be writing our eventfd after
  // its push: wait for both, so a channel closed by another thread while this runtime goes
  // away never touches freed memory. Every armed task left here was claimed, so this ends.
  for (;;) {
    drain_inbox();
    // acquire: pairs with wake_remote's release decrement.
    if (armed_ == 0 && remote_refs_.load(std::memory_order_acquire) == 0) break;
    __builtin_ia32_pause();
  }
  while (detail::TaskHeader* t = ready_head_) {
    ready_head_ = t->next;
    t->queued = false;
    if ((t->flags & detail::kDead) && !(t->flags & detail::kRemoteArmed)) release_frame(t);
  }
  ready_tail_ = nullptr;
  orphan_remaining_frames();
  delete shutdown_token_;
  if (ring_ok_) io_uring_queue_exit(ring_of(ring_storage_));
  if (efd_ >= 0) ::close(efd_);
  detail::tl_ctx.rt = saved;
}

// Frames still allocated now belong to Tasks that were never spawned (a Task object held
// somewhere else). They keep their memory: the arenas go to an OrphanArenas record, and each
// frame becomes an orphan that any thread may free, or any runtime run (see task_header.hpp).
// Under the orphan lock (see the top of this file): frames handed back meanwhile are drained
// first; only rt is written in each orphan, since the thread that holds its Task may be reading
// the rest of the header this very moment (frame_free).
void Runtime::orphan_remaining_frames() noexcept {
  std::lock_guard<std::mutex> lock(g_orphans_mu);
  drain_inbox();
  std::size_t n = 0;
  slab_.for_each_allocated([&n](void* slot) {
    auto* t = static_cast<detail::TaskHeader*>(slot);
    // release: a thread that sees it (frame_free, spawn) sees the record published below
    // too, since it then takes this lock.
    std::atomic_ref<Runtime*>(t->rt).store(detail::orphan_runtime(), std::memory_order_release);
    ++n;
  });
  if (n == 0) return;  // the common teardown: nothing to keep, nothing allocated
  auto* rec = new (std::nothrow) OrphanArenas{};
  char* arenas[SlabConfig::kClasses];
  std::size_t bytes[SlabConfig::kClasses];
  slab_.release_arenas(arenas, bytes);
  if (rec == nullptr) return;  // no memory to track them: the arenas are leaked, never freed
  for (std::size_t c = 0; c < SlabConfig::kClasses; ++c) {
    rec->arena[c] = arenas[c];
    rec->bytes[c] = bytes[c];
  }
  rec->live = n;
  rec->next = g_orphans;
  g_orphans = rec;
}

CancellationToken& Runtime::shutdown_token() noexcept { return *shutdown_token_; }

void Runtime::link_heap_root(detail::TaskHeader* t) noexcept {
  t->all_prev = nullptr;
  t->all_next = all_head_;
  if (all_head_) all_head_->all_prev = t;
  all_head_ = t;
}

void Runtime::unlink_heap_root(detail::TaskHeader* t) noexcept {
  if (t->all_prev)
    t->all_prev->all_next = t->all_next;
  else if (all_head_ == t)
    all_head_ = t->all_next;
  if (t->all_next) t->all_next->all_prev = t->all_prev;
  t->all_prev = t->all_next = nullptr;
}

bool Runtime::destroy_live_roots() noexcept {
  bool found = false;
  auto destroy = [&](detail::TaskHeader* t) {
    found = true;
    unlink_root(t);
    t->flags |= detail::kDone | detail::kAborted;
    t->handle().destroy();
  };
  while (all_head_ != nullptr) destroy(all_head_);
  slab_.for_each_allocated([&](void* slot) {
    auto* t = static_cast<detail::TaskHeader*>(slot);
    if (t->flags & detail::kSpawned) destroy(t);
  });
  return found;
}

void Runtime::on_root_done(detail::TaskHeader* t) noexcept {
  unlink_root(t);
  if (t->joiner) {
    schedule(t->joiner);
    t->joiner = nullptr;
  }
  t->handle().destroy();  // the outcome already moved to the JoinHandle (if any)
}

// The hot loop: pop, resume, repeat, for at most event_interval tasks; then the caller checks
// the inbox and timers. Returns true as soon as `root` (may be null) has finished.
bool Runtime::run_batch(detail::TaskHeader* root) noexcept {
  detail::ThreadContext& c = detail::tl_ctx;
  // One budget for queue pops and direct transfers (take_budget): the poll count, which both
  // bump anyway, may not pass batch_end_.
  const uint64_t end = counters_.polls + cfg_.event_interval;
  batch_end_ = end;
  while (counters_.polls < end) {
    detail::TaskHeader* t = ready_head_;
    if (t == nullptr) break;
    detail::TaskHeader* nx = t->next;
    ready_head_ = nx;
    if (nx == nullptr) ready_tail_ = nullptr;
    t->queued = false;
    if (t->flags & detail::kDead) [[unlikely]] {
      if (!(t->flags & detail::kRemoteArmed)) release_frame(t);
      continue;
    }
    c.current = t;
    ++counters_.polls;
    std::coroutine_handle<> h = t->leaf;
    for (;;) {  // the trampoline (see task.hpp)
      c.next = {};
      h.resume();
      h = c.next;
      if (!h) break;
    }
    // The task that suspended last (direct transfers change it). c.current stays set until
    // the batch ends: nothing between polls reads it (frames destroyed below keep their
    // waiters' task pointers), and one store per batch is cheaper than one per poll.
    t = c.current;
    if (t->flags & detail::kDone) [[unlikely]] {
      bool was_root = t == root;
      on_root_done(t);
      if (was_root) {
        batch_end_ = 0;
        c.current = nullptr;
        return true;
      }
    }
  }
  batch_end_ = 0;  // no direct transfers outside a batch
  c.current = nullptr;
  return false;
}

void Runtime::poll_events() noexcept {
  if (inbox_.maybe_nonempty()) drain_inbox();
  fire_timers();
  // Polled waits last: a busy runtime spends its idle time here, and a wait that fires goes
  // straight back to the run loop with nothing else checked in between.
  if (!polls_.empty()) check_polls();
  // I/O: one enter submits this turn's SQEs and reaps what completed. A parking runtime with
  // nothing to run skips it: its park submits and waits in the same enter.
  if (io_pending() && (ready_head_ != nullptr || cfg_.idle.kind != IdlePolicy::Kind::park))
    io_poll();
}

void Runtime::check_polls() noexcept {
  detail::PollNode* n = polls_.front();
  while (n != nullptr) {
    detail::PollNode* next = n->wl_next;  // n may be unlinked below
    if (n->poll_ready(n)) {
      remove_poll(n);
      ++counters_.polled_wakes;
      schedule(n->poll_task);
    }
    n = next;
  }
}

void Runtime::drain_inbox() noexcept {
  while (detail::InboxNode* n = inbox_.pop()) {
    auto* t = static_cast<detail::TaskHeader*>(n);
    if (t->joiner == detail::hand_back_mark()) [[unlikely]] {
      ++counters_.frames_handed_back;
      release_frame(t);  // a frame of ours freed on another thread (hand_back)
      continue;
    }
    disarm_remote(t);
    ++counters_.remote_wakes;
    if (t->flags & detail::kDead) {
      if (!t->queued) release_frame(t);
    } else {
      schedule(t);
    }
  }
}

void Runtime::fire_timers() noexcept {
  if (timers_.empty()) return;
  // Floor of now: deadlines were rounded up, so nothing fires early.
  auto ns = Clock::now().time_since_epoch().count();
  counters_.timers_fired += timers_.advance(static_cast<uint64_t>(ns) >> TimerWheel::kTickShift);
}

void Runtime::run_until(detail::TaskHeader* root) {
  detail::ThreadContext& c = detail::tl_ctx;
  Runtime* saved = c.rt;
  detail::TaskHeader* saved_cur = c.current;
  if (running_)
    detail::fatal(
        "block_on: this runtime is already running (block_on or shutdown called "
        "from one of its own tasks)");
  running_ = true;
  c.rt = this;
  owner_ = &c;
  ring_claim_thread();
  if (root != nullptr) {
    while (!run_batch(root)) {
      poll_events();
      if (ready_head_ == nullptr) idle();
    }
  }
  // SQEs that tasks prepared in the root's last batch: into the kernel now, not at the next
  // run (a send must not sit in the queue while nobody runs the runtime).
  if (ring_ok_ && io_uring_sq_ready(ring_of(ring_storage_)) != 0) io_step();
  running_ = false;
  c.rt = saved;
  c.current = saved_cur;
}

ShutdownReport Runtime::shutdown_until(Clock::time_point deadline) {
  shutdown_token_->cancel();
  detail::ThreadContext& c = detail::tl_ctx;
  Runtime* saved = c.rt;
  if (running_)
    detail::fatal("shutdown: this runtime is running (called from one of its own tasks)");
  running_ = true;
  c.rt = this;
  owner_ = &c;
  ring_claim_thread();
  // A timer bounds the park so the quiesce deadline is honoured under the park policy (none
  // for "never": the loop then ends only when every task has).
  struct Wake {
    static void fire(TimerEntry*) noexcept {}
  };
  TimerEntry guard;
  guard.deadline = TimerWheel::to_tick(deadline);
  guard.fire = &Wake::fire;
  if (deadline != detail::kNever) timers_.insert(&guard);
  while (live_ > 0 && Clock::now() < deadline) {
    run_batch(nullptr);
    poll_events();
    if (ready_head_ == nullptr && live_ > 0) idle();
  }
  timers_.remove(&guard);
  running_ = false;
  c.rt = saved;
  return ShutdownReport{live_};
}

void Runtime::idle() noexcept {
  switch (cfg_.idle.kind) {
    case IdlePolicy::Kind::busy_poll:
      return;  // the loop checks the inbox and timers again right away
    case IdlePolicy::Kind::spin_then_park:
      for (uint32_t i = 0; i < cfg_.idle.spins; ++i) {
        if (inbox_.maybe_nonempty()) return;
        // Every 64 spins, completions: one enter (the ring posts them only when asked).
        if ((i & 63) == 0 && io_pending() && io_poll() && ready_head_ != nullptr) return;
        if (!timers_.empty() && (i & 63) == 0 &&
            timers_.next_expiration() <=
                (static_cast<uint64_t>(Clock::now().time_since_epoch().count()) >>
                 TimerWheel::kTickShift))
          return;
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      break;
    case IdlePolicy::Kind::park:
      break;
  }
  int64_t timeout_ns = -1;
  if (!timers_.empty()) {
    uint64_t next = timers_.next_expiration();
    int64_t now_ns = Clock::now().time_since_epoch().count();
    int64_t at_ns = static_cast<int64_t>(next << TimerWheel::kTickShift);
    timeout_ns = at_ns > now_ns ? at_ns - now_ns : 0;
    if (timeout_ns == 0) return;
  }
  park(timeout_ns);
}

void Runtime::park(int64_t timeout_ns) noexcept {
  // seq_cst store then seq_cst load of the inbox head: the parker's half of the handshake.
  parked_.store(true, std::memory_order_seq_cst);
  if (inbox_.maybe_nonempty()) {
    parked_.store(false, std::memory_order_relaxed);  // relaxed: only this thread acts on it
    return;
  }
  ++counters_.parks;
  if (ring_ok_) {
    io_uring* ring = ring_of(ring_storage_);
    io_run_deferred();
    if (!efd_armed_) {
      io_uring_sqe* sqe = io_sqe_or_flush();
      io_uring_prep_read(sqe, efd_, &efd_buf_, sizeof(efd_buf_), 0);
      io_uring_sqe_set_data64(sqe, kEventfdTag);
      efd_armed_ = true;
    }
    if (ready_head_ != nullptr) [[unlikely]] {
      // A deferred re-arm or a full submission queue reaped on the way here and woke tasks:
      // submit without waiting.
      io_step();
      parked_.store(false, std::memory_order_relaxed);  // relaxed: only this thread acts on it
      return;
    }
    __kernel_timespec ts{};
    __kernel_timespec* tsp = nullptr;
    if (timeout_ns >= 0) {
      ts.tv_sec = timeout_ns / 1000000000;
      ts.tv_nsec = timeout_ns % 1000000000;
      tsp = &ts;
    }
    io_uring_cqe* cqe = nullptr;
    // One enter: submits this turn's SQEs, waits for I/O, a cross-thread wake (the eventfd
    // read) or the nearest timer, and runs the deferred task work that posts completions.
    ++counters_.io_enters;
    (void)io_uring_submit_and_wait_timeout(ring, &cqe, 1, tsp, nullptr);
    io_reap();
  } else {
    pollfd p{efd_, POLLIN, 0};
    int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999999) / 1000000);
    if (::poll(&p, 1, ms) > 0 && (p.revents & POLLIN)) {
      uint64_t v;
      (void)!::read(efd_, &v, sizeof(v));
    }
  }
  parked_.store(false, std::memory_order_relaxed);  // relaxed: wakers only read it as a hint
}

void Runtime::unpark() noexcept {
  // Only the waker that flips parked_ writes the eventfd; the others see false and skip.
  if (parked_.exchange(false, std::memory_order_seq_cst)) {
    uint64_t one = 1;
    (void)!::write(efd_, &one, sizeof(one));
  }
}

}  // namespace sluice
