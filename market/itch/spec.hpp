// The NASDAQ TotalView-ITCH 5.0 message table: every type byte and its total length on the
// wire (type byte included, the 2-byte length prefix of files and MoldUDP64 blocks excluded).
// Lengths are the sums of the specification's field sizes; they are checked against each
// wire layout in decode.hpp and encode.hpp by static_asserts. C++17 (shared with the kernel).
#pragma once

#include <cstdint>

#include "../detail/hd.hpp"

namespace sluice::market::itch {

// Type bytes as on the wire (ASCII).
enum class MsgType : uint8_t {
  SystemEvent = 'S',
  StockDirectory = 'R',
  StockTradingAction = 'H',
  RegShoRestriction = 'Y',
  MarketParticipantPosition = 'L',
  MwcbDeclineLevel = 'V',
  MwcbStatus = 'W',
  IpoQuotingPeriodUpdate = 'K',
  LuldAuctionCollar = 'J',
  OperationalHalt = 'h',
  AddOrder = 'A',
  AddOrderMpid = 'F',
  OrderExecuted = 'E',
  OrderExecutedWithPrice = 'C',
  OrderCancel = 'X',
  OrderDelete = 'D',
  OrderReplace = 'U',
  Trade = 'P',
  CrossTrade = 'Q',
  BrokenTrade = 'B',
  Noii = 'I',
  Rpii = 'N',
  Dlcr = 'O',
};

// All 23 types, in the specification's order (tests and the generator iterate it).
inline constexpr uint8_t kAllTypes[23] = {'S', 'R', 'H', 'Y', 'L', 'V', 'W', 'K',
                                          'J', 'h', 'A', 'F', 'E', 'C', 'X', 'D',
                                          'U', 'P', 'Q', 'B', 'I', 'N', 'O'};

// Total length of a message of type `t`, or 0 for a byte that is no ITCH 5.0 type.
SLUICE_HD constexpr uint16_t message_length(uint8_t t) noexcept {
  switch (t) {
    case 'S':
      return 12;
    case 'R':
      return 39;
    case 'H':
      return 25;
    case 'Y':
      return 20;
    case 'L':
      return 26;
    case 'V':
      return 35;
    case 'W':
      return 12;
    case 'K':
      return 28;
    case 'J':
      return 35;
    case 'h':
      return 21;
    case 'A':
      return 36;
    case 'F':
      return 40;
    case 'E':
      return 31;
    case 'C':
      return 36;
    case 'X':
      return 23;
    case 'D':
      return 19;
    case 'U':
      return 35;
    case 'P':
      return 44;
    case 'Q':
      return 40;
    case 'B':
      return 19;
    case 'I':
      return 50;
    case 'N':
      return 20;
    case 'O':
      return 48;
    default:
      return 0;
  }
}

// Every message starts with the same 11 bytes: type, stock locate (2), tracking number (2),
// timestamp (6, nanoseconds since midnight). Bodies start at kHeaderSize.
inline constexpr uint32_t kHeaderSize = 11;
// Files and MoldUDP64 blocks put a 2-byte big-endian length before each message.
inline constexpr uint32_t kPrefixSize = 2;
// The longest message (I, NOII).
inline constexpr uint32_t kMaxMessageLength = 50;

}  // namespace sluice::market::itch
