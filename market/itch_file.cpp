// ITCH files on the runtime's ring; gzip through zlib. See itch_file.hpp.
#include "itch_file.hpp"

#include <fcntl.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "itch/decode.hpp"
#include "itch/spec.hpp"

namespace sluice::market {

const char* to_string(FeedError e) noexcept {
  switch (e) {
    case FeedError::Io:
      return "I/O error";
    case FeedError::Corrupt:
      return "corrupt or truncated gzip data";
    case FeedError::Closed:
      return "used after the end";
    case FeedError::InvalidArgument:
      return "invalid argument";
    case FeedError::OutOfMemory:
      return "out of memory";
  }
  return "?";
}

namespace {

// A frame is at most a 2-byte prefix plus 65535 bytes: a buffer this much larger than a chunk
// always holds at least one whole frame when it is full.
constexpr std::size_t kMaxFrame = itch::kPrefixSize + 0xFFFF;
// Chunks larger than this are refused: the buffer is chunk + kMaxFrame, allocated at open().
constexpr std::size_t kMaxChunk = std::size_t{1} << 30;
// zlib counts in 32-bit unsigned: feed it at most this much per call.
constexpr std::size_t kZStep = std::size_t{1} << 30;

std::span<std::byte> as_writable(uint8_t* p, std::size_t n) noexcept {
  return {reinterpret_cast<std::byte*>(p), n};
}
std::span<const std::byte> as_bytes_of(const uint8_t* p, std::size_t n) noexcept {
  return {reinterpret_cast<const std::byte*>(p), n};
}

}  // namespace

void ItchFileReader::ZDeleter::operator()(z_stream_s* z) const noexcept {
  inflateEnd(z);
  delete z;
}
void ItchFileWriter::ZDeleter::operator()(z_stream_s* z) const noexcept {
  deflateEnd(z);
  delete z;
}

// ---------------------------------------------------------------- reader

ItchFileReader::ItchFileReader() noexcept = default;
ItchFileReader::ItchFileReader(ItchFileReader&&) noexcept = default;
ItchFileReader& ItchFileReader::operator=(ItchFileReader&&) noexcept = default;
ItchFileReader::~ItchFileReader() = default;

Task<Result<ItchFileReader, FeedError>> ItchFileReader::open(const char* path,
                                                             ItchFileOptions opts) {
  if (opts.chunk_bytes == 0 || opts.chunk_bytes > kMaxChunk) {
    co_return err(FeedError::InvalidArgument);
  }
  auto f = co_await io::File::open(path, O_RDONLY);
  ItchFileReader r;
  if (!f) {
    r.errno_ = f.error().errno_value;
    co_return err(FeedError::Io);
  }
  r.file_ = std::move(*f);
  r.chunk_ = opts.chunk_bytes;
  try {  // the frame buffer: allocated once, here
    r.buf_.resize(opts.chunk_bytes + kMaxFrame);
  } catch (const std::bad_alloc&) {
    co_return err(FeedError::OutOfMemory);
  }
  // The first bytes decide plain or gzip; read them straight into the frame buffer.
  auto first = co_await r.file_.read_at(as_writable(r.buf_.data(), r.buf_.size()), 0);
  std::size_t n = 0;
  if (first) {
    n = *first;
  } else if (!first.error().is_eof()) {
    r.errno_ = first.error().errno_value;
    co_return err(FeedError::Io);
  }
  r.file_off_ = n;
  const bool magic = n >= 2 && r.buf_[0] == 0x1f && r.buf_[1] == 0x8b;
  r.gzip_ =
      opts.compression == Compression::Gzip || (opts.compression == Compression::Auto && magic);
  if (!r.gzip_) {
    r.have_ = n;
    r.eof_ = n == 0;
    co_return std::move(r);
  }
  try {  // the compressed-input buffer (gzip only): at least the bytes already read
    r.raw_.resize(std::max(r.buf_.size(), std::size_t{64} << 10));
  } catch (const std::bad_alloc&) {
    co_return err(FeedError::OutOfMemory);
  }
  std::memcpy(r.raw_.data(), r.buf_.data(), n);
  r.raw_have_ = n;
  r.z_.reset(new z_stream{});
  if (inflateInit2(r.z_.get(), 15 + 16) != Z_OK) co_return err(FeedError::Corrupt);
  r.z_->next_in = r.raw_.data();
  r.z_->avail_in = static_cast<uInt>(n);
  r.z_member_open_ = n > 0;
  r.eof_ = false;
  if (n == 0) {  // an empty file asked to be gzip: an empty stream
    r.eof_ = true;
  }
  co_return std::move(r);
}

Task<Result<void, FeedError>> ItchFileReader::fill() {
  while (have_ < buf_.size() && !eof_) {
    if (!gzip_) {
      auto r =
          co_await file_.read_at(as_writable(buf_.data() + have_, buf_.size() - have_), file_off_);
      if (!r) {
        if (r.error().is_eof()) {
          eof_ = true;
          break;
        }
        errno_ = r.error().errno_value;
        co_return err(FeedError::Io);
      }
      have_ += *r;
      file_off_ += *r;
      continue;
    }
    z_stream& z = *z_;
    if (z.avail_in == 0) {
      auto r = co_await file_.read_at(as_writable(raw_.data(), raw_.size()), file_off_);
      if (!r && !r.error().is_eof()) {
        errno_ = r.error().errno_value;
        co_return err(FeedError::Io);
      }
      const std::size_t n = r ? *r : 0;
      if (n == 0) {
        eof_ = true;
        if (z_member_open_) {  // the file ends inside a gzip member
          pending_corrupt_ = true;
          error_offset_ = stream_off_ + have_;
        }
        break;
      }
      file_off_ += n;
      z.next_in = raw_.data();
      z.avail_in = static_cast<uInt>(n);
    }
    if (!z_member_open_) {  // bytes after a member's end: the next member (cat a.gz b.gz)
      if (inflateReset(&z) != Z_OK) {
        pending_corrupt_ = eof_ = true;
        error_offset_ = stream_off_ + have_;
        break;
      }
      z_member_open_ = true;
    }
    const std::size_t room = std::min(buf_.size() - have_, kZStep);
    z.next_out = buf_.data() + have_;
    z.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&z, Z_NO_FLUSH);
    have_ += room - z.avail_out;
    if (rc == Z_STREAM_END) {
      z_member_open_ = false;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {  // Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR
      pending_corrupt_ = eof_ = true;
      error_offset_ = stream_off_ + have_;
      break;
    }
  }
  co_return Result<void, FeedError>{};
}

Result<FrameChunk, FeedError> ItchFileReader::cut(bool at_end) {
  // Whole frames from the front of buf_, up to the first frame boundary at or past chunk_.
  std::size_t off = 0;
  while (off < chunk_ && have_ - off >= itch::kPrefixSize) {
    const std::size_t end = off + itch::kPrefixSize + itch::detail::be16(buf_.data() + off);
    if (end > have_) break;
    off = end;
  }
  FrameChunk c;
  c.stream_offset = stream_off_;
  if (at_end && !pending_corrupt_ && off < chunk_) {
    off = have_;  // the incomplete tail goes out too: the decoder reports it Truncated
    c.last = true;
    done_ = true;
  } else if (off == 0 && pending_corrupt_) {
    done_ = true;
    return err(FeedError::Corrupt);
  }
  c.bytes = {buf_.data(), off};
  handed_ = off;
  return c;
}

Task<Result<FrameChunk, FeedError>> ItchFileReader::next() {
  if (done_) co_return err(FeedError::Closed);
  if (!file_.valid()) co_return err(FeedError::Closed);  // default-constructed or moved from
  if (handed_ > 0) {
    std::memmove(buf_.data(), buf_.data() + handed_, have_ - handed_);
    have_ -= handed_;
    stream_off_ += handed_;
    handed_ = 0;
  }
  if (!eof_) {
    auto f = co_await fill();
    if (!f) co_return err(f.error());
  }
  co_return cut(eof_);
}

// ---------------------------------------------------------------- writer

ItchFileWriter::ItchFileWriter() noexcept = default;
ItchFileWriter::ItchFileWriter(ItchFileWriter&&) noexcept = default;
ItchFileWriter& ItchFileWriter::operator=(ItchFileWriter&&) noexcept = default;
ItchFileWriter::~ItchFileWriter() = default;

Task<Result<ItchFileWriter, FeedError>> ItchFileWriter::create(const char* path, bool gzip,
                                                               int level) {
  ItchFileWriter w;
  if (level < 0 || level > 9) co_return err(FeedError::InvalidArgument);
  auto f = co_await io::File::open(path, O_WRONLY | O_CREAT | O_TRUNC);
  if (!f) {
    w.errno_ = f.error().errno_value;
    co_return err(FeedError::Io);
  }
  w.file_ = std::move(*f);
  w.out_.resize(std::size_t{1} << 20);
  if (gzip) {
    w.z_.reset(new z_stream{});
    if (deflateInit2(w.z_.get(), level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      co_return err(FeedError::InvalidArgument);
    }
  }
  co_return std::move(w);
}

Task<Result<void, FeedError>> ItchFileWriter::flush_out() {
  if (out_have_ == 0) co_return Result<void, FeedError>{};
  auto r = co_await file_.write_all_at(as_bytes_of(out_.data(), out_have_), file_off_);
  if (!r) {
    errno_ = r.error().errno_value;
    co_return err(FeedError::Io);
  }
  file_off_ += out_have_;
  out_have_ = 0;
  co_return Result<void, FeedError>{};
}

Task<Result<void, FeedError>> ItchFileWriter::deflate_some(std::span<const uint8_t> in, int flush) {
  z_stream& z = *z_;
  do {
    const std::size_t step = std::min(in.size(), kZStep);
    z.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct
    z.avail_in = static_cast<uInt>(step);
    const int f = step == in.size() ? flush : Z_NO_FLUSH;
    int rc;
    do {
      if (out_have_ == out_.size()) {
        auto r = co_await flush_out();
        if (!r) co_return r;
      }
      const std::size_t room = out_.size() - out_have_;
      z.next_out = out_.data() + out_have_;
      z.avail_out = static_cast<uInt>(room);
      rc = deflate(&z, f);
      out_have_ += room - z.avail_out;
      if (rc == Z_STREAM_ERROR) co_return err(FeedError::Corrupt);
    } while (z.avail_out == 0 || (f == Z_FINISH && rc != Z_STREAM_END));
    in = in.subspan(step);
  } while (!in.empty());
  co_return Result<void, FeedError>{};
}

Task<Result<void, FeedError>> ItchFileWriter::write(std::span<const uint8_t> bytes) {
  if (finished_ || !file_.valid()) co_return err(FeedError::Closed);
  in_ += bytes.size();
  if (z_) co_return co_await deflate_some(bytes, Z_NO_FLUSH);
  while (!bytes.empty()) {
    const std::size_t n = std::min(bytes.size(), out_.size() - out_have_);
    std::memcpy(out_.data() + out_have_, bytes.data(), n);
    out_have_ += n;
    bytes = bytes.subspan(n);
    if (out_have_ == out_.size()) {
      auto r = co_await flush_out();
      if (!r) co_return r;
    }
  }
  co_return Result<void, FeedError>{};
}

Task<Result<void, FeedError>> ItchFileWriter::finish() {
  if (finished_ || !file_.valid()) co_return err(FeedError::Closed);
  finished_ = true;
  if (z_) {
    auto d = co_await deflate_some({}, Z_FINISH);
    if (!d) co_return d;
  }
  auto r = co_await flush_out();
  if (!r) co_return r;
  auto c = co_await file_.close();
  if (!c) {
    errno_ = c.error().errno_value;
    co_return err(FeedError::Io);
  }
  co_return Result<void, FeedError>{};
}

}  // namespace sluice::market
