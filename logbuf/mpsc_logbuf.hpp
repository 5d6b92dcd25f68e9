// MpscLogbuf: a byte ring of variable-length records for any number of writer threads (or
// processes) and one reader. Writers claim with one CAS on a shared cursor; the reader sees
// records in claim order and stops at the first one not yet committed, so a slow writer holds
// back the records claimed after it, but nobody ever sees a half-written record.
//
// Hazard: a writer that dies (or stalls forever) holding a claim blocks the reader at that
// record: try_read() keeps returning Empty and later records stay invisible; nothing is torn
// or lost, and writers see Full once the ring fills behind it. Keep claims short and never
// hold one across a blocking call.
#pragma once

#include "detail/logbuf_core.hpp"

namespace sluice {
namespace logbuf {
using MpscLogbuf = detail::Logbuf<true>;
}  // namespace logbuf
using logbuf::MpscLogbuf;
}  // namespace sluice
