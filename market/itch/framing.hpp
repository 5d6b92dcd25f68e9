// Framing of a byte stream of 2-byte big-endian length-prefixed messages (NASDAQ's BinaryFILE
// day files; the blocks of a MoldUDP64 packet use the same prefix).
//
// scan_frames walks the length chain and writes the offset of each complete frame; it stops
// at a frame that runs past the input (more bytes needed) and says how far it got, so a
// reader carries the tail into its next buffer. At the end of the input, scan_frames_final
// also emits that incomplete tail as one frame: decode_message reports it Truncated, with its
// offset, instead of dropping it. A zero length advances by the prefix alone (the decoder
// reports it), so no input makes the walk stall.
// Host only (the stream walk is sequential; the GPU gets offsets). C++17, allocation-free.
#pragma once

#include <cstdint>

#include "decode.hpp"
#include "spec.hpp"

namespace sluice::market::itch {

struct FrameScan {
  uint32_t count = 0;     // offsets written
  uint64_t consumed = 0;  // bytes covered by those frames (where the next scan starts)
};

// Offsets (relative to data) of the complete frames in data[0, size), at most `max`. A batch
// spans at most 4 GiB (32-bit offsets): a larger `size` is scanned up to 4 GiB.
inline FrameScan scan_frames(const uint8_t* data, uint64_t size, uint32_t* offsets,
                             uint32_t max) noexcept {
  if (size > 0xFFFFFFFFull) size = 0xFFFFFFFFull;
  FrameScan s;
  uint64_t off = 0;
  while (s.count < max && size - off >= kPrefixSize) {
    const uint64_t end = off + kPrefixSize + detail::be16(data + off);
    if (end > size) break;
    offsets[s.count++] = static_cast<uint32_t>(off);
    off = end;
  }
  s.consumed = off;
  return s;
}

// As scan_frames, and when the input ends inside a frame (and room is left), that tail is
// emitted too and consumed: the decoder turns it into a Truncated error record.
inline FrameScan scan_frames_final(const uint8_t* data, uint64_t size, uint32_t* offsets,
                                   uint32_t max) noexcept {
  FrameScan s = scan_frames(data, size, offsets, max);
  if (s.count < max && s.consumed < size && size <= 0xFFFFFFFFull) {
    offsets[s.count++] = static_cast<uint32_t>(s.consumed);
    s.consumed = size;
  }
  return s;
}

struct StreamDecode {
  uint32_t count = 0;     // records written
  uint32_t errors = 0;    // of which error records
  uint64_t consumed = 0;  // input bytes covered
};

// Framing and decoding in one pass (the CPU path needs no offsets array): up to `max` records
// into out. With `final`, an incomplete tail becomes a Truncated record; otherwise it is left
// for the caller to carry into the next buffer (consumed stops before it).
//
// Two ways to the same records. Into a destination that stays in cache (up to
// kInOrderAbove records, 512 KiB: the batches a feed handler decodes and consumes), a block
// at a time by type: the length walk classifies each frame, then one loop per type (110 M
// messages/s against 74 M message by message on an L2-resident batch). Into a larger one,
// message by message in order: by-type writes land out of order within a block, and over an
// array far larger than the caches the hardware prefetcher then stops running ahead of the
// stores (0.60x of memcpy's bandwidth in order, 0.46x by type, on a 256 MiB array).
// decode_batch follows the same rule (detail::kInOrderAbove).
inline StreamDecode decode_stream(const uint8_t* data, uint64_t size, uint64_t base, Record* out,
                                  uint32_t max, bool final) noexcept {
  StreamDecode s;
  uint64_t off = 0;
  if (max > detail::kInOrderAbove) {
    while (s.count < max && size - off >= kPrefixSize) {
      const uint64_t end = off + kPrefixSize + detail::be16(data + off);
      if (end > size) break;
      s.errors += decode_message(data, size, off, base, out[s.count++]) != DecodeError::None;
      off = end;
    }
    if (final && s.count < max && off < size) {
      s.errors += decode_message(data, size, off, base, out[s.count++]) != DecodeError::None;
      off = size;
    }
    s.consumed = off;
    return s;
  }
  uint64_t offs[detail::kBucketBlock];
  bool more = true;
  while (more && s.count < max) {
    // Walk the length chain for a block, then decode the block by type (decode_batch).
    const uint32_t want =
        max - s.count < detail::kBucketBlock ? max - s.count : detail::kBucketBlock;
    // The walk reads each length anyway: classify the frame there (no second pass).
    uint32_t k = 0;
    detail::BlockLists lists;
    while (k < want && size - off >= kPrefixSize) {
      const uint16_t len = detail::be16(data + off);
      const uint64_t end = off + kPrefixSize + len;
      if (end > size) break;
      const uint8_t t = len != 0 ? data[off + kPrefixSize] : 0;
      lists.add(detail::kTypeTables.len[t] == len ? detail::kTypeTables.cls[t] : 0, k);
      offs[k++] = off;
      off = end;
    }
    more = k == want;
    if (k == 0) break;
    s.errors += detail::decode_lists(data, size, offs, lists, base, out + s.count);
    s.count += k;
  }
  if (final && s.count < max && off < size) {
    s.errors += decode_message(data, size, off, base, out[s.count++]) != DecodeError::None;
    off = size;
  }
  s.consumed = off;
  return s;
}

}  // namespace sluice::market::itch
