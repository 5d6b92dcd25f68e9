// ITCH files on the runtime's ring: plain and gzip round trips at many chunk sizes (every
// chunk holds whole frames; together they are the stream), multi-member gzip, and the bad
// files: truncated and corrupt gzip (an error after every good byte), a file cut inside a
// frame (a Truncated record at its offset), empty and missing files, bad options.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <sluice/market/itch/encode.hpp>
#include <sluice/market/itch/framing.hpp>
#include <sluice/market/itch_file.hpp>

#include "../runtime/io/io_test_util.hpp"

using namespace sluice;
using namespace sluice::market;
using namespace sluice::io::test;
using namespace std::chrono_literals;
namespace itch = sluice::market::itch;

namespace {

std::string temp_path(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  std::string p = std::string(dir != nullptr ? dir : "/tmp") + "/sluice_itch_file_test_" +
                  std::to_string(::getpid()) + "_" + name;
  ::unlink(p.c_str());
  return p;
}

// A stream of `n` valid messages of random types and contents.
std::vector<uint8_t> random_stream(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out;
  for (std::size_t i = 0; i < n; ++i) {
    itch::Record r{};
    r.type = itch::kAllTypes[rng() % 23];
    r.locate = static_cast<uint16_t>(rng());
    r.timestamp = i;
    r.body.words[0] = rng();
    r.body.words[1] = rng();
    uint8_t buf[64];
    const std::size_t k = itch::encode_message(r, buf, sizeof buf);
    out.insert(out.end(), buf, buf + k);
  }
  return out;
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
void spit(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

Task<Result<void, FeedError>> write_file(const std::string& path, const std::vector<uint8_t>& b,
                                         bool gzip, std::size_t piece) {
  auto w = co_await ItchFileWriter::create(path.c_str(), gzip);
  if (!w) co_return err(w.error());
  for (std::size_t off = 0; off < b.size(); off += piece) {
    const std::size_t n = std::min(piece, b.size() - off);
    auto r = co_await w->write({b.data() + off, n});
    if (!r) co_return r;
  }
  co_return co_await w->finish();
}

struct ReadBack {
  std::vector<uint8_t> bytes;
  std::size_t chunks = 0;
  bool whole_frames = true;  // every chunk but the last ends on a frame boundary
  bool offsets_ok = true;    // each chunk's stream_offset continues the previous one
  bool saw_last = false;
  std::size_t largest = 0;  // largest chunk but the last
  std::optional<FeedError> error;
};

Task<ReadBack> read_file(const std::string& path, ItchFileOptions opts) {
  ReadBack rb;
  auto r = co_await ItchFileReader::open(path.c_str(), opts);
  if (!r) {
    rb.error = r.error();
    co_return rb;
  }
  for (;;) {
    auto c = co_await r->next();
    if (!c) {
      rb.error = c.error();
      break;
    }
    ++rb.chunks;
    rb.offsets_ok &= c->stream_offset == rb.bytes.size();
    if (!c->last) {
      rb.largest = std::max(rb.largest, c->bytes.size());
      // Whole frames: a scan with no limit on count consumes every byte.
      std::vector<uint32_t> offs(c->bytes.size() / 3 + 2);
      const auto s = itch::scan_frames(c->bytes.data(), c->bytes.size(), offs.data(),
                                       static_cast<uint32_t>(offs.size()));
      rb.whole_frames &= s.consumed == c->bytes.size();
    }
    rb.bytes.insert(rb.bytes.end(), c->bytes.begin(), c->bytes.end());
    if (c->last) {
      rb.saw_last = true;
      auto again = co_await r->next();
      if (again || again.error() != FeedError::Closed) rb.offsets_ok = false;
      break;
    }
  }
  co_return rb;
}

class ItchFile : public ::testing::TestWithParam<bool> {};  // param: gzip

TEST_P(ItchFile, RoundTripAtManyChunkSizes) {
  Watchdog wd(120s);
  auto rt = make_rt(IdlePolicy::park());
  const bool gz = GetParam();
  const auto data = random_stream(60000, 1);
  const std::string path = temp_path(gz ? "rt.gz" : "rt");
  auto w = rt->block_on(write_file(path, data, gz, 7777));
  ASSERT_TRUE(w) << to_string(w.error());
  const auto on_disk = slurp(path);
  if (gz) {
    ASSERT_GE(on_disk.size(), 2u);
    EXPECT_EQ(on_disk[0], 0x1f);
    EXPECT_EQ(on_disk[1], 0x8b);
    EXPECT_LT(on_disk.size(), data.size());
  } else {
    EXPECT_EQ(on_disk, data);
  }
  for (std::size_t chunk : {std::size_t{1}, std::size_t{100}, std::size_t{4096},
                            std::size_t{1} << 20, std::size_t{8} << 20}) {
    ItchFileOptions o;
    o.chunk_bytes = chunk;
    const ReadBack rb = rt->block_on(read_file(path, o));
    ASSERT_FALSE(rb.error) << to_string(*rb.error) << " chunk " << chunk;
    EXPECT_TRUE(rb.saw_last);
    EXPECT_TRUE(rb.whole_frames) << chunk;
    EXPECT_TRUE(rb.offsets_ok) << chunk;
    EXPECT_EQ(rb.bytes, data) << chunk;
    // A chunk ends at the first frame boundary at or past chunk_bytes (frames here are <= 52).
    EXPECT_LE(rb.largest, chunk + 51) << chunk;
    if (chunk == 100) {
      EXPECT_GT(rb.chunks, 10u);
    }
  }
  ::unlink(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, ItchFile, ::testing::Bool());

TEST(ItchFileGzip, MultiMemberFileIsOneStream) {
  Watchdog wd(60s);
  auto rt = make_rt(IdlePolicy::park());
  const auto a = random_stream(3000, 2), b = random_stream(5000, 3);
  const std::string pa = temp_path("a.gz"), pb = temp_path("b.gz"), pc = temp_path("ab.gz");
  ASSERT_TRUE(rt->block_on(write_file(pa, a, true, 1 << 20)));
  ASSERT_TRUE(rt->block_on(write_file(pb, b, true, 1 << 20)));
  auto both = slurp(pa);
  const auto second = slurp(pb);
  both.insert(both.end(), second.begin(), second.end());
  spit(pc, both);
  ItchFileOptions o;
  o.chunk_bytes = 5000;
  const ReadBack rb = rt->block_on(read_file(pc, o));
  ASSERT_FALSE(rb.error);
  auto want = a;
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_EQ(rb.bytes, want);
  for (const auto& p : {pa, pb, pc}) ::unlink(p.c_str());
}

// A gzip file cut short: every byte inflated before the cut is handed out (a prefix of the
// stream, in whole frames), then FeedError::Corrupt.
TEST(ItchFileGzip, TruncatedFileIsAnErrorAfterTheGoodBytes) {
  Watchdog wd(60s);
  auto rt = make_rt(IdlePolicy::park());
  const auto data = random_stream(20000, 4);
  const std::string p = temp_path("cut.gz");
  ASSERT_TRUE(rt->block_on(write_file(p, data, true, 1 << 20)));
  auto gz = slurp(p);
  for (double frac : {0.0001, 0.3, 0.9, 0.999}) {
    auto cut = gz;
    cut.resize(static_cast<std::size_t>(static_cast<double>(gz.size()) * frac));
    spit(p, cut);
    ItchFileOptions o;
    o.chunk_bytes = 3000;
    const ReadBack rb = rt->block_on(read_file(p, o));
    ASSERT_TRUE(rb.error) << frac;
    EXPECT_EQ(*rb.error, FeedError::Corrupt);
    EXPECT_FALSE(rb.saw_last);
    EXPECT_TRUE(rb.whole_frames);
    ASSERT_LE(rb.bytes.size(), data.size());
    EXPECT_TRUE(std::equal(rb.bytes.begin(), rb.bytes.end(), data.begin())) << frac;
  }
  ::unlink(p.c_str());
}

TEST(ItchFileGzip, CorruptDataIsAnError) {
  Watchdog wd(60s);
  auto rt = make_rt(IdlePolicy::park());
  const auto data = random_stream(20000, 5);
  const std::string p = temp_path("bad.gz");
  ASSERT_TRUE(rt->block_on(write_file(p, data, true, 1 << 20)));
  auto gz = slurp(p);
  for (std::size_t i = gz.size() / 2; i < gz.size() / 2 + 64; ++i) gz[i] ^= 0x5A;
  spit(p, gz);
  const ReadBack rb = rt->block_on(read_file(p, {}));
  ASSERT_TRUE(rb.error);
  EXPECT_EQ(*rb.error, FeedError::Corrupt);
  // Deflate blocks carry no checksum (the member's CRC-32 is checked at its end), so bytes
  // inflated from the damaged part may be wrong before zlib notices; the ones before the
  // damage (the first half of the compressed data) are right.
  const std::size_t sure = std::min(rb.bytes.size(), data.size() / 4);
  EXPECT_GT(rb.bytes.size(), 0u);
  EXPECT_TRUE(std::equal(rb.bytes.begin(), rb.bytes.begin() + static_cast<std::ptrdiff_t>(sure),
                         data.begin()));
  // A plain file read as gzip by request is corrupt too, not a crash.
  const std::string q = temp_path("plain");
  spit(q, data);
  ItchFileOptions o;
  o.compression = Compression::Gzip;
  const ReadBack rq = rt->block_on(read_file(q, o));
  ASSERT_TRUE(rq.error);
  EXPECT_EQ(*rq.error, FeedError::Corrupt);
  EXPECT_TRUE(rq.bytes.empty());
  ::unlink(p.c_str());
  ::unlink(q.c_str());
}

// A plain file cut inside a frame: the last chunk carries the tail and the decoder reports it
// Truncated at its offset; the frames before it decode.
TEST(ItchFilePlain, CutInsideAFrameEndsInATruncatedRecord) {
  Watchdog wd(60s);
  auto rt = make_rt(IdlePolicy::park());
  auto data = random_stream(1000, 6);
  uint32_t offs[1001];
  const auto s = itch::scan_frames(data.data(), data.size(), offs, 1001);
  ASSERT_EQ(s.count, 1000u);
  const uint32_t last = offs[999];
  data.resize(last + 5);
  const std::string p = temp_path("cutplain");
  spit(p, data);
  ItchFileOptions o;
  o.chunk_bytes = 512;
  rt->block_on([](const std::string* p, ItchFileOptions o, uint32_t last) -> Task<void> {
    auto r = co_await ItchFileReader::open(p->c_str(), o);
    CO_ASSERT(r);
    std::size_t records = 0, errors = 0;
    uint64_t err_off = 0;
    for (;;) {
      auto c = co_await r->next();
      CO_ASSERT(c);
      std::vector<itch::Record> out(c->bytes.size() / 12 + 2);
      const auto d = itch::decode_stream(c->bytes.data(), c->bytes.size(), c->stream_offset,
                                         out.data(), static_cast<uint32_t>(out.size()), c->last);
      EXPECT_EQ(d.consumed, c->bytes.size());
      records += d.count;
      errors += d.errors;
      for (uint32_t i = 0; i < d.count; ++i) {
        if (!out[i].ok()) {
          EXPECT_EQ(out[i].error, itch::DecodeError::Truncated);
          err_off = out[i].offset;
        }
      }
      if (c->last) break;
    }
    EXPECT_EQ(records, 1000u);
    EXPECT_EQ(errors, 1u);
    EXPECT_EQ(err_off, last);
  }(&p, o, last));
  ::unlink(p.c_str());
}

TEST(ItchFilePlain, EmptyMissingAndBadOptions) {
  Watchdog wd(60s);
  auto rt = make_rt(IdlePolicy::park());
  const std::string p = temp_path("empty");
  spit(p, {});
  const ReadBack rb = rt->block_on(read_file(p, {}));
  EXPECT_FALSE(rb.error);
  EXPECT_TRUE(rb.saw_last);
  EXPECT_EQ(rb.chunks, 1u);
  EXPECT_TRUE(rb.bytes.empty());
  rt->block_on([](const std::string* p) -> Task<void> {
    auto missing = co_await ItchFileReader::open("/nonexistent/dir/x.itch");
    CO_ASSERT(!missing);
    EXPECT_EQ(missing.error(), FeedError::Io);
    for (std::size_t chunk :
         {std::size_t{0}, (std::size_t{1} << 30) + 1, SIZE_MAX - 65536, SIZE_MAX}) {
      ItchFileOptions o;
      o.chunk_bytes = chunk;
      auto bad = co_await ItchFileReader::open(p->c_str(), o);
      CO_ASSERT(!bad);
      EXPECT_EQ(bad.error(), FeedError::InvalidArgument) << chunk;
    }
    ItchFileReader none;
    auto c = co_await none.next();
    CO_ASSERT(!c);
    EXPECT_EQ(c.error(), FeedError::Closed);
    auto w = co_await ItchFileWriter::create("/nonexistent/dir/x.itch", false);
    CO_ASSERT(!w);
    EXPECT_EQ(w.error(), FeedError::Io);
    EXPECT_EQ(std::string(to_string(FeedError::Corrupt)), "corrupt or truncated gzip data");
    auto ok = co_await ItchFileWriter::create(p->c_str(), true);
    CO_ASSERT(ok);
    CO_ASSERT(co_await ok->finish());
    auto twice = co_await ok->finish();
    CO_ASSERT(!twice);
    EXPECT_EQ(twice.error(), FeedError::Closed);
    uint8_t b = 0;
    auto late = co_await ok->write({&b, 1});
    CO_ASSERT(!late);
    EXPECT_EQ(late.error(), FeedError::Closed);
  }(&p));
  // An empty gzip stream (a member with no data) reads as an empty stream.
  const ReadBack gz = rt->block_on(read_file(p, {}));
  EXPECT_FALSE(gz.error);
  EXPECT_TRUE(gz.bytes.empty());
  ::unlink(p.c_str());
}

// Random bytes as a plain file and as the body of a gzip file: chunks and errors only.
TEST(ItchFilePlain, RandomBytesNeverCrash) {
  Watchdog wd(60s);
  auto rt = make_rt(IdlePolicy::park());
  std::mt19937_64 rng(9);
  const std::string p = temp_path("random");
  for (int round = 0; round < 20; ++round) {
    std::vector<uint8_t> junk(rng() % 20000);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    if (round % 2 && junk.size() >= 2) {
      junk[0] = 0x1f;
      junk[1] = 0x8b;
    }
    spit(p, junk);
    ItchFileOptions o;
    o.chunk_bytes = 1 + rng() % 3000;
    const ReadBack rb = rt->block_on(read_file(p, o));
    if (!(round % 2 && junk.size() >= 2)) {
      EXPECT_FALSE(rb.error);
      EXPECT_EQ(rb.bytes, junk);
    }
  }
  ::unlink(p.c_str());
}

}  // namespace
