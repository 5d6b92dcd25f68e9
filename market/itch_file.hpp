// ITCH day files: 2-byte big-endian length-prefixed messages (NASDAQ's BinaryFILE layout),
// plain or gzip-compressed, read and written on the runtime's io_uring ring (runtime/io/).
//
// ItchFileReader hands out chunks of whole frames, so a consumer decodes each chunk with
// itch::decode_stream or scan_frames + decode_batch and never sees a message cut in two; the
// bytes of a frame that straddles a read are carried into the next chunk. Gzip is detected
// from the magic bytes and inflated with zlib (multi-member files included, as `cat a.gz b.gz`
// makes). At the end of the file an incomplete last frame is handed out in the last chunk,
// where the decoder reports it Truncated with its offset: nothing is dropped silently.
//
// Untrusted input: a file of any content ends in chunks and error values, never in a read
// past a buffer or a hang. Corrupt or truncated gzip data is an error (FeedError::Corrupt)
// after every frame inflated before it has been handed out; error_offset() says where.
// Deflate blocks carry no checksum (a member's CRC-32 is checked at its end), so damaged data
// can inflate to wrong bytes before zlib notices: those reach the decoder, which treats every
// byte as untrusted anyway, and the error still follows. Bytes after the last gzip member must
// be another member: trailing padding (which gzip -d ignores with a warning) is Corrupt here.
//
// Not a hot path of the feed (one read per chunk, 1 MiB by default): the reader allocates its
// buffers once at open().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "../runtime/io/file.hpp"
#include "../runtime/result.hpp"
#include "../runtime/task.hpp"

struct z_stream_s;  // zlib's stream state; only itch_file.cpp includes <zlib.h>

namespace sluice::market {

enum class FeedError : uint8_t {
  Io,               // the file could not be opened, read or written (io_error() has the errno)
  Corrupt,          // gzip data that does not inflate, or a gzip stream cut short
  Closed,           // next() after the last chunk, or a writer used after finish()
  InvalidArgument,  // a chunk size of 0 or above 1 GiB, a compression level above 9
  OutOfMemory,      // the buffers could not be allocated at open()
};

const char* to_string(FeedError e) noexcept;

enum class Compression : uint8_t { Auto, Plain, Gzip };

struct ItchFileOptions {
  // Bytes per chunk: a chunk ends at the first frame boundary at or past chunk_bytes, so it
  // holds at most chunk_bytes + 65536 bytes (one frame more). 1 .. 1 GiB. The reader's buffer
  // is chunk_bytes + 65537 bytes, allocated at open().
  std::size_t chunk_bytes = std::size_t{1} << 20;
  Compression compression = Compression::Auto;  // Auto: gzip when the file starts 1f 8b
};

// A run of whole frames; valid until the next call on the reader.
struct FrameChunk {
  std::span<const uint8_t> bytes;
  uint64_t stream_offset = 0;  // offset of bytes[0] in the (decompressed) message stream
  bool last = false;           // no chunk follows; an incomplete final frame may end it
};

class ItchFileReader {
 public:
  ItchFileReader() noexcept;
  ItchFileReader(ItchFileReader&&) noexcept;
  ItchFileReader& operator=(ItchFileReader&&) noexcept;
  ~ItchFileReader();

  // Opens `path` on the runtime's ring. `path` must stay valid until the co_await completes.
  [[nodiscard]] static Task<Result<ItchFileReader, FeedError>> open(const char* path,
                                                                    ItchFileOptions opts = {});

  // The next chunk of whole frames. After the chunk marked last: FeedError::Closed.
  [[nodiscard]] Task<Result<FrameChunk, FeedError>> next();

  bool gzip() const noexcept { return gzip_; }
  // errno of the last FeedError::Io.
  int io_error() const noexcept { return errno_; }
  // Stream offset where decompression failed (FeedError::Corrupt).
  uint64_t error_offset() const noexcept { return error_offset_; }
  // Compressed (file) bytes read so far.
  uint64_t file_bytes_read() const noexcept { return file_off_; }

 private:
  struct ZDeleter {
    void operator()(z_stream_s* z) const noexcept;
  };
  Task<Result<void, FeedError>> fill();  // reads (and inflates) until buf_ is full or eof
  Result<FrameChunk, FeedError> cut(bool at_end);

  io::File file_;
  std::unique_ptr<z_stream_s, ZDeleter> z_;
  std::vector<uint8_t> buf_;  // decompressed bytes: [0, have_) are valid
  std::vector<uint8_t> raw_;  // compressed bytes read from the file (gzip only)
  std::size_t chunk_ = 0;
  std::size_t have_ = 0;
  std::size_t handed_ = 0;  // bytes of buf_ handed out in the last chunk (dropped next call)
  std::size_t raw_have_ = 0;
  uint64_t stream_off_ = 0;  // stream offset of buf_[0]
  uint64_t file_off_ = 0;
  uint64_t error_offset_ = 0;
  int errno_ = 0;
  bool gzip_ = false;
  bool eof_ = false;            // the file is exhausted (and, for gzip, inflated to the end)
  bool done_ = false;           // the last chunk was handed out
  bool z_member_open_ = false;  // inside a gzip member (its end not yet seen)
  bool pending_corrupt_ = false;
};

// Writes a message stream to a file, plain or gzip (zlib, level 1 by default: day files are
// large and the writer is usually a generator or a capture, not an archive).
class ItchFileWriter {
 public:
  ItchFileWriter() noexcept;
  ItchFileWriter(ItchFileWriter&&) noexcept;
  ItchFileWriter& operator=(ItchFileWriter&&) noexcept;
  ~ItchFileWriter();

  // Creates or truncates `path` (valid until the co_await completes).
  [[nodiscard]] static Task<Result<ItchFileWriter, FeedError>> create(const char* path, bool gzip,
                                                                      int level = 1);
  // Appends bytes (whole frames or not: the file is a byte stream). `bytes` may be reused as
  // soon as the co_await completes.
  [[nodiscard]] Task<Result<void, FeedError>> write(std::span<const uint8_t> bytes);
  // Flushes, ends the gzip member, and closes the file. The writer is spent afterwards.
  [[nodiscard]] Task<Result<void, FeedError>> finish();

  int io_error() const noexcept { return errno_; }
  uint64_t bytes_in() const noexcept { return in_; }
  uint64_t file_bytes() const noexcept { return file_off_; }

 private:
  struct ZDeleter {
    void operator()(z_stream_s* z) const noexcept;
  };
  Task<Result<void, FeedError>> flush_out();
  Task<Result<void, FeedError>> deflate_some(std::span<const uint8_t> in, int flush);

  io::File file_;
  std::unique_ptr<z_stream_s, ZDeleter> z_;
  std::vector<uint8_t> out_;
  std::size_t out_have_ = 0;
  uint64_t file_off_ = 0;
  uint64_t in_ = 0;
  int errno_ = 0;
  bool finished_ = false;
};

}  // namespace sluice::market
