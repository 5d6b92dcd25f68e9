// Umbrella header: #include <sluice/sluice.hpp>
#pragma once

#include "channel/error.hpp"
#include "channel/local.hpp"
#include "channel/mpsc.hpp"
#include "channel/mpsc_ring.hpp"
#include "channel/ring_memory.hpp"
#include "channel/semaphore.hpp"
#include "channel/spsc.hpp"
#include "channel/spsc_ring.hpp"
#include "channel/throttle.hpp"
#include "runtime/cancellation.hpp"
#include "runtime/notify.hpp"
#include "runtime/result.hpp"
#include "runtime/runtime.hpp"
#include "runtime/task.hpp"
#include "runtime/time.hpp"
#include "runtime/topology.hpp"
