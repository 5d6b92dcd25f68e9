// Topology: which CPUs exist, which NUMA node and caches each one sits under, pinning a thread
// to a CPU, and RingMemory that places a ring's slots on a chosen NUMA node (hwloc).
//
// Why: a ring between two pinned threads is only as fast as the path between their cores.
// Benchmarks and pipelines pin the producer and consumer (cores 0 and 1 in perf/) and put the
// ring's memory on the consumer's node. Nothing here is on a hot path; errors are values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "../channel/ring_memory.hpp"
#include "result.hpp"

namespace sluice {

enum class TopologyError : uint8_t {
  BadCpu,       // no such CPU, or not in this process's allowed set
  PinFailed,    // the kernel refused the affinity change
  NoSuchNode,   // NUMA node index out of range
  Unavailable,  // hwloc could not load the machine's topology
};
const char* to_string(TopologyError e) noexcept;

struct NodeMemory;  // hwloc binding context behind a RingMemory (topology.cpp)

// One logical CPU (hwloc PU). Caches are identified by their hwloc logical index per level:
// two CPUs with the same l3 share an L3. -1: no such cache level.
struct CpuInfo {
  unsigned cpu = 0;   // OS index: what pin_current_thread and taskset take
  int core = -1;      // physical core (hyperthread siblings share it)
  int numa_node = 0;  // NUMA node (logical index)
  int l1d = -1, l2 = -1, l3 = -1;
  std::size_t l2_bytes = 0, l3_bytes = 0;
};

// Pins the calling thread to one CPU (OS index). BadCpu when it does not exist or is outside
// the process's allowed set (taskset, cgroups); PinFailed if the kernel refuses.
Result<void, TopologyError> pin_current_thread(unsigned cpu) noexcept;

// The CPU the calling thread is running on right now.
int current_cpu() noexcept;

class Topology {
 public:
  static Result<std::unique_ptr<Topology>, TopologyError> load();
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  const std::vector<CpuInfo>& cpus() const noexcept { return cpus_; }
  int numa_nodes() const noexcept { return nodes_; }
  Result<CpuInfo, TopologyError> cpu(unsigned os_index) const noexcept;
  // Same physical core / same L2 / same L3 (false when either CPU does not exist).
  bool share_l2(unsigned a, unsigned b) const noexcept;
  bool share_l3(unsigned a, unsigned b) const noexcept;

  Result<void, TopologyError> pin_current_thread(unsigned cpu) const noexcept {
    return sluice::pin_current_thread(cpu);
  }

  // Memory bound to NUMA node `node` (page-granular, hwloc_alloc_membind). On a machine whose
  // kernel cannot bind (one node, or no NUMA support) the memory is plain pages from the same
  // allocator and `bound_last()` says so. The Topology must outlive every ring using it.
  Result<RingMemory, TopologyError> memory_on_node(int node);
  bool bound_last() const noexcept { return bound_last_; }

  struct Impl;

 private:
  Topology() = default;
  Impl* impl_ = nullptr;
  std::vector<CpuInfo> cpus_;
  int nodes_ = 1;
  bool bound_last_ = false;
  std::deque<std::unique_ptr<NodeMemory>> node_mem_;
};

}  // namespace sluice
