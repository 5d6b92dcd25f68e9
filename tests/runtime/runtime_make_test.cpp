// A runtime that cannot be woken is never created. When eventfd or io_uring setup fails (here:
// RLIMIT_NOFILE lowered so the next descriptor cannot be had), Runtime::make returns the error
// and the constructor stops with a message. Before 2026-11-29 construction succeeded and a
// parked runtime then slept through every cross-thread wake. Each case runs in a child
// process, so the lowered limit does not leak into other tests.
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sluice/sluice.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <thread>

using namespace sluice;

// The slab test's huge allocation must come back as nullptr under ASan and TSan too.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
extern "C" const char* __tsan_default_options() { return "allocator_may_return_null=1"; }

namespace {

// The lowest descriptor number not open now: with RLIMIT_NOFILE set to it, the next open fails.
int next_fd() {
  int fd = ::dup(0);
  if (fd >= 0) ::close(fd);
  return fd;
}

// Lowers the soft limit only, so restore_fds can raise it again.
rlim_t limit_fds(rlim_t n) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) std::_Exit(90);
  const rlim_t old = rl.rlim_cur;
  rl.rlim_cur = n;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) std::_Exit(90);
  return old;
}
void restore_fds(rlim_t old) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) std::_Exit(91);
  rl.rlim_cur = old;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) std::_Exit(91);
}

// Runs f in a child; returns its exit status (or -signal).
template <class F>
int in_child(F f) {
  pid_t pid = ::fork();
  if (pid == 0) std::_Exit(f());
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

TEST(RuntimeMake, SucceedsAndWorks) {
  auto rt = Runtime::make();
  ASSERT_TRUE(rt);
  EXPECT_TRUE((*rt)->uses_io_uring());
  EXPECT_EQ((*rt)->block_on([]() -> Task<int> { co_return 3; }()), 3);
}

TEST(RuntimeMake, NoDescriptorForTheEventfdIsAnError) {
  const int code = in_child([] {
    (void)limit_fds(static_cast<rlim_t>(next_fd()));  // not even one more
    auto rt = Runtime::make();
    if (rt) return 1;
    if (rt.error().code != RuntimeErrc::EventFd) return 2;
    if (rt.error().errno_value != EMFILE) return 3;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(RuntimeMake, NoDescriptorForTheRingIsAnErrorWhenTheRingIsRequired) {
  const int code = in_child([] {
    (void)limit_fds(static_cast<rlim_t>(next_fd() + 1));  // the eventfd, but not the ring
    RuntimeConfig cfg;
    cfg.require_io_uring = true;
    auto rt = Runtime::make(cfg);
    if (rt) return 1;
    if (rt.error().code != RuntimeErrc::IoUring) return 2;
    if (rt.error().errno_value != EMFILE) return 3;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

// require_io_uring = false: without the ring the runtime parks in poll(2) on its eventfd, and a
// wake from another thread still reaches it.
TEST(RuntimeMake, WithoutTheRingWhenAllowedItStillWakes) {
  const int code = in_child([] {
    const rlim_t old = limit_fds(static_cast<rlim_t>(next_fd() + 1));
    RuntimeConfig cfg;
    cfg.require_io_uring = false;
    auto made = Runtime::make(cfg);
    restore_fds(old);  // a thread and the sanitizers may want descriptors of their own
    if (!made) return 1;
    Runtime& rt = **made;
    if (rt.uses_io_uring()) return 2;
    Notify n;
    std::thread t([&n] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      n.notify();
    });
    rt.block_on([](Notify* n) -> Task<> { co_await n->wait(); }(&n));
    t.join();
    return rt.counters().parks > 0 ? 0 : 3;
  });
  EXPECT_EQ(code, 0);
}

// io_uring refused by a seccomp policy (as Docker's default profile does): the default
// configuration parks in poll(2) and works; one that requires the ring gets IoUring / EPERM.
void block_io_uring_setup() {
  sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) std::_Exit(92);
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) std::_Exit(93);
}
TEST(RuntimeMake, IoUringRefusedBySeccomp) {
  const int code = in_child([] {
    block_io_uring_setup();
    Runtime rt;  // the default: a poll(2) park instead of the ring
    if (rt.uses_io_uring()) return 1;
    if (rt.block_on([]() -> Task<int> { co_return 4; }()) != 4) return 2;
    RuntimeConfig cfg;
    cfg.require_io_uring = true;
    auto r = Runtime::make(cfg);
    if (r) return 3;
    if (r.error().code != RuntimeErrc::IoUring || r.error().errno_value != EPERM) return 4;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(RuntimeMakeDeathTest, TheConstructorStopsWithAMessage) {
  EXPECT_DEATH(
      {
        (void)limit_fds(static_cast<rlim_t>(next_fd()));
        Runtime rt;
      },
      "sluice: Runtime cannot be built.*eventfd failed");
}

TEST(RuntimeMake, OutOfMemoryForTheSlabIsAnError) {
  RuntimeConfig cfg;
  cfg.slab.slots[4] = SIZE_MAX / 4096;  // cannot be allocated (and does not overflow)
  auto rt = Runtime::make(cfg);
  ASSERT_FALSE(rt);
  EXPECT_EQ(rt.error().code, RuntimeErrc::OutOfMemory);
}

}  // namespace
