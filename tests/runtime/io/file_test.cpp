// Files on the runtime's ring: write/read/fsync round trip, append from many tasks at once
// (every record lands whole), fallocate, end of file, and errors as values.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "io_test_util.hpp"

using namespace sluice;
using namespace sluice::io;
using namespace sluice::io::test;
using namespace std::chrono_literals;

namespace {

std::string temp_path(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  std::string p = std::string(dir != nullptr ? dir : "/tmp") + "/sluice_file_test_" +
                  std::to_string(::getpid()) + "_" + name;
  ::unlink(p.c_str());
  return p;
}

class FilePolicy : public ::testing::TestWithParam<IdlePolicy> {};

TEST_P(FilePolicy, WriteReadFsyncRoundTrip) {
  Watchdog wd(30s);
  auto rt = make_rt(GetParam());
  const std::string path = temp_path("rt");
  rt->block_on([](const std::string* path) -> Task<void> {
    auto f = co_await File::open(path->c_str(), O_RDWR | O_CREAT | O_TRUNC);
    CO_ASSERT(f);
    auto data = pattern(1 << 20, 5);
    auto w = co_await f->write_all_at(data, 4096);
    CO_ASSERT(w);
    CO_ASSERT(co_await f->fsync());
    CO_ASSERT(co_await f->fdatasync());
    EXPECT_EQ(*f->size(), (1u << 20) + 4096);
    std::vector<std::byte> back(data.size());
    auto r = co_await f->read_exact_at(back, 4096);
    CO_ASSERT(r);
    EXPECT_EQ(back, data);
    std::vector<std::byte> hole(4096, std::byte{1});
    CO_ASSERT(co_await f->read_exact_at(hole, 0));
    EXPECT_EQ(hole, std::vector<std::byte>(4096, std::byte{0}));
    std::vector<std::byte> past(16);
    auto e = co_await f->read_at(past, (1u << 20) + 4096);
    CO_ASSERT(!e);
    EXPECT_TRUE(e.error().is_eof());
    auto short_read = co_await f->read_exact_at(past, (1u << 20) + 4096 - 8);
    CO_ASSERT(!short_read);
    EXPECT_TRUE(short_read.error().is_eof());
    CO_ASSERT(co_await f->close());
    EXPECT_FALSE(f->valid());
  }(&path));
  ::unlink(path.c_str());
  EXPECT_EQ(rt->io_in_flight(), 0u);
}

TEST_P(FilePolicy, AppendFromManyTasksKeepsEveryRecordWhole) {
  Watchdog wd(60s);
  auto rt = make_rt(GetParam());
  const std::string path = temp_path("append");
  constexpr int kTasks = 32, kEach = 64, kLen = 100;
  rt->block_on([](Runtime* rt, const std::string* path) -> Task<void> {
    auto f = co_await File::open(path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
    CO_ASSERT(f);
    std::vector<JoinHandle<void>> hs;
    for (int t = 0; t < kTasks; ++t)
      hs.push_back(rt->spawn([](File* f, int t) -> Task<void> {
        for (int i = 0; i < kEach; ++i) {
          // A record: [task][seq] then filler: readable back whole or not at all.
          std::array<std::byte, kLen> rec{};
          rec.fill(static_cast<std::byte>('a' + t % 26));
          std::memcpy(rec.data(), &t, 4);
          std::memcpy(rec.data() + 4, &i, 4);
          auto w = co_await f->append(rec);
          CO_ASSERT(w && *w == kLen);
          if (i % 8 == 0) co_await yield_now();
        }
      }(&*f, t)));
    for (auto& h : hs) (void)co_await h;
    CO_ASSERT(co_await f->fdatasync());
  }(rt.get(), &path));
  // Read back with plain syscalls: every record whole, each task's in its own order.
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  OwnedFd owned(fd);
  std::vector<char> all(kTasks * kEach * kLen + 1);
  ssize_t n = ::pread(fd, all.data(), all.size(), 0);
  ASSERT_EQ(n, kTasks * kEach * kLen);
  std::map<int, int> next;
  for (ssize_t off = 0; off < n; off += kLen) {
    int t, i;
    std::memcpy(&t, all.data() + off, 4);
    std::memcpy(&i, all.data() + off + 4, 4);
    ASSERT_TRUE(t >= 0 && t < kTasks);
    ASSERT_EQ(i, next[t]) << "task " << t << " out of order";
    ++next[t];
    for (int k = 8; k < kLen; ++k) ASSERT_EQ(all[off + k], 'a' + t % 26);
  }
  for (int t = 0; t < kTasks; ++t) EXPECT_EQ(next[t], kEach);
  ::unlink(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Policies, FilePolicy, ::testing::ValuesIn(all_policies()),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

// More operations at once than the submission queue holds: it is submitted early and refilled.
TEST(File, FullSubmissionQueueSubmitsAndRetries) {
  Watchdog wd(30s);
  RuntimeConfig cfg;
  cfg.io_entries = 4;
  cfg.require_io_uring = true;
  auto made = Runtime::make(std::move(cfg));
  ASSERT_TRUE(made);
  Runtime* rt = made->get();
  const std::string path = temp_path("sqfull");
  int ok = 0;
  rt->block_on([](Runtime* rt, const std::string* path, int* ok) -> Task<void> {
    auto f = co_await File::open(path->c_str(), O_RDWR | O_CREAT | O_TRUNC);
    CO_ASSERT(f);
    CO_ASSERT(co_await f->write_all_at(pattern(4096, 2), 0));
    std::vector<JoinHandle<bool>> hs;
    for (int i = 0; i < 100; ++i)
      hs.push_back(rt->spawn([](File* f) -> Task<bool> {
        std::array<std::byte, 64> b{};
        auto r = co_await f->read_at(b, 128);
        co_return r&&* r == 64;
      }(&*f)));
    for (auto& h : hs)
      if (*co_await h) ++*ok;
  }(rt, &path, &ok));
  ::unlink(path.c_str());
  EXPECT_EQ(ok, 100);
  EXPECT_GT(rt->counters().io_sq_full, 0u);
  EXPECT_EQ(rt->io_in_flight(), 0u);
}

TEST(File, FallocateReservesSpace) {
  auto rt = make_rt(IdlePolicy::park());
  const std::string path = temp_path("falloc");
  rt->block_on([](const std::string* path) -> Task<void> {
    auto f = co_await File::open(path->c_str(), O_RDWR | O_CREAT | O_TRUNC);
    CO_ASSERT(f);
    auto r = co_await f->fallocate(0, 1 << 20);
    if (!r && r.error().errno_value == EOPNOTSUPP) co_return;  // the file system cannot
    CO_ASSERT(r);
    EXPECT_EQ(*f->size(), 1u << 20);
    auto keep = co_await f->fallocate(1 << 20, 1 << 20, FALLOC_FL_KEEP_SIZE);
    CO_ASSERT(keep);
    EXPECT_EQ(*f->size(), 1u << 20);
  }(&path));
  ::unlink(path.c_str());
}

TEST(File, ErrorsAreValues) {
  auto rt = make_rt(IdlePolicy::park());
  rt->block_on([]() -> Task<void> {
    auto missing = co_await File::open("/nonexistent-dir/x", O_RDONLY);
    CO_ASSERT(!missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
    auto dir = co_await File::open("/", O_WRONLY);
    CO_ASSERT(!dir);
    EXPECT_EQ(dir.error().errno_value, EISDIR);
    // A read-only file written to: EBADF, as a value.
    auto ro = co_await File::open("/proc/self/status", O_RDONLY);
    CO_ASSERT(ro);
    auto w = co_await ro->write_at(as_bytes("x"), 0);
    CO_ASSERT(!w);
    EXPECT_EQ(w.error().errno_value, EBADF);
    File closed;
    std::array<std::byte, 4> b{};
    auto r = co_await closed.read_at(b, 0);  // fd -1
    CO_ASSERT(!r);
    EXPECT_EQ(r.error().errno_value, EBADF);
  }());
}

}  // namespace
