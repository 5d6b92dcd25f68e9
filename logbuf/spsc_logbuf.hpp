// SpscLogbuf: a byte ring of variable-length records for one writer thread and one reader
// thread (or process, with the buffer in a shared mapping). Claim n bytes, write them in
// place, commit; read in place, release. No allocation, lock or syscall on any of these.
// The format, the capacity rules and the memory ordering are in detail/logbuf_core.hpp.
#pragma once

#include "detail/logbuf_core.hpp"

namespace sluice {
namespace logbuf {
using SpscLogbuf = detail::Logbuf<false>;
}  // namespace logbuf
using logbuf::SpscLogbuf;
}  // namespace sluice
