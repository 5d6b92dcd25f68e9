// Shared by sluice_itch_bench's files: the generated day, and the peer parser.
//
// The peer follows the design of the fastest published callback parser (CppTrader's
// ITCHHandler: 24 ns/message on its reference machine): walk the length chain, switch on the
// type byte, byte-swap the fields into a struct per message type, and call a virtual handler
// with it. Written here from that description, not copied; it parses every field of the
// message types a book needs and the header plus stock of the rest.
#pragma once

#include <sluice/market/itch/decode.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

namespace sluice::bench::itchb {

struct Day {
  std::vector<uint8_t> bytes;     // the framed stream
  std::vector<uint32_t> offsets;  // of every frame
};
const Day& day();  // itch_bench.cpp: 4 M messages, 256 symbols, fixed seed

namespace peer {
using market::itch::detail::be16;
using market::itch::detail::be32;
using market::itch::detail::be48;
using market::itch::detail::be64;

struct Header {
  char type;
  uint16_t locate, tracking;
  uint64_t timestamp;
};
struct AddOrder : Header {
  uint64_t ref;
  char side;
  uint32_t shares;
  char stock[8];
  uint32_t price;
  char mpid[4];
};
struct Executed : Header {
  uint64_t ref;
  uint32_t shares;
  uint64_t match;
  char printable;
  uint32_t price;
};
struct Cancel : Header {
  uint64_t ref;
  uint32_t shares;
};
struct Delete : Header {
  uint64_t ref;
};
struct Replace : Header {
  uint64_t ref, new_ref;
  uint32_t shares, price;
};
struct Trade : Header {
  uint64_t ref;
  char side;
  uint32_t shares;
  char stock[8];
  uint32_t price;
  uint64_t match;
};
struct Other : Header {
  char stock[8];
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void on(const AddOrder&) = 0;
  virtual void on(const Executed&) = 0;
  virtual void on(const Cancel&) = 0;
  virtual void on(const Delete&) = 0;
  virtual void on(const Replace&) = 0;
  virtual void on(const Trade&) = 0;
  virtual void on(const Other&) = 0;
  virtual void on_error(uint64_t offset) = 0;
};

inline void header(Header& h, const uint8_t* p) {
  h.type = static_cast<char>(p[0]);
  h.locate = be16(p + 1);
  h.tracking = be16(p + 3);
  h.timestamp = be48(p + 5);
}

}  // namespace peer

// Returns messages parsed.
inline uint64_t peer_parse(const uint8_t* data, uint64_t size, peer::Handler& h) {
  using namespace peer;
  uint64_t off = 0, n = 0;
  while (size - off >= 2) {
    const uint16_t len = be16(data + off);
    if (len == 0 || off + 2 + len > size) break;
    const uint8_t* p = data + off + 2;
    if (len != market::itch::message_length(p[0])) {
      h.on_error(off);
    } else {
      switch (p[0]) {
        case 'A':
        case 'F': {
          AddOrder m;
          header(m, p);
          m.ref = be64(p + 11);
          m.side = static_cast<char>(p[19]);
          m.shares = be32(p + 20);
          std::memcpy(m.stock, p + 24, 8);
          m.price = be32(p + 32);
          if (p[0] == 'F') std::memcpy(m.mpid, p + 36, 4);
          h.on(m);
          break;
        }
        case 'E':
        case 'C': {
          Executed m;
          header(m, p);
          m.ref = be64(p + 11);
          m.shares = be32(p + 19);
          m.match = be64(p + 23);
          m.printable = p[0] == 'C' ? static_cast<char>(p[31]) : 'Y';
          m.price = p[0] == 'C' ? be32(p + 32) : 0;
          h.on(m);
          break;
        }
        case 'X': {
          Cancel m;
          header(m, p);
          m.ref = be64(p + 11);
          m.shares = be32(p + 19);
          h.on(m);
          break;
        }
        case 'D': {
          Delete m;
          header(m, p);
          m.ref = be64(p + 11);
          h.on(m);
          break;
        }
        case 'U': {
          Replace m;
          header(m, p);
          m.ref = be64(p + 11);
          m.new_ref = be64(p + 19);
          m.shares = be32(p + 27);
          m.price = be32(p + 31);
          h.on(m);
          break;
        }
        case 'P': {
          Trade m;
          header(m, p);
          m.ref = be64(p + 11);
          m.side = static_cast<char>(p[19]);
          m.shares = be32(p + 20);
          std::memcpy(m.stock, p + 24, 8);
          m.price = be32(p + 32);
          m.match = be64(p + 36);
          h.on(m);
          break;
        }
        default: {
          Other m;
          header(m, p);
          std::memcpy(m.stock, len >= 19 ? p + 11 : p, 8);
          h.on(m);
          break;
        }
      }
    }
    off += 2 + len;
    ++n;
  }
  return n;
}

// Touches each message's fields so the parse cannot be optimised away.
class CountingHandler final : public peer::Handler {
 public:
  uint64_t sum = 0;
  void on(const peer::AddOrder& m) override { sum += m.ref + m.shares + m.price + m.timestamp; }
  void on(const peer::Executed& m) override { sum += m.ref + m.shares + m.match; }
  void on(const peer::Cancel& m) override { sum += m.ref + m.shares; }
  void on(const peer::Delete& m) override { sum += m.ref; }
  void on(const peer::Replace& m) override { sum += m.ref + m.new_ref + m.price; }
  void on(const peer::Trade& m) override { sum += m.ref + m.price; }
  void on(const peer::Other& m) override { sum += m.locate + m.timestamp; }
  void on_error(uint64_t offset) override { sum += offset; }
};

}  // namespace sluice::bench::itchb
