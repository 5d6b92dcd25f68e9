// SLUICE_CHECKED: misuse checks that cost something on hot paths, so they are compiled in only
// where asked for. The CMake target always defines it, 0 or 1 (option SLUICE_CHECKED, ON by
// default in Debug builds), for the library and every user alike: mixing checked and unchecked
// translation units would give inline functions two bodies. Without CMake it follows NDEBUG.
// Release hot paths carry none of it. Each check stops with a "sluice: ..." message:
// * a runtime-owned object used from a thread that does not run its runtime (spawn,
//   JoinHandle::abort, the ends of a local channel, which would otherwise race or hang);
// * spawn of an empty Task;
// * Result's operator* / operator-> on the wrong alternative (value() always checks).
#pragma once

#ifndef SLUICE_CHECKED
#ifndef NDEBUG
#define SLUICE_CHECKED 1
#else
#define SLUICE_CHECKED 0
#endif
#endif
