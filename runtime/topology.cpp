#include "topology.hpp"

#include <hwloc.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>

namespace sluice {

const char* to_string(TopologyError e) noexcept {
  switch (e) {
    case TopologyError::BadCpu:
      return "no such cpu (or not allowed for this process)";
    case TopologyError::PinFailed:
      return "the kernel refused the affinity change";
    case TopologyError::NoSuchNode:
      return "no such NUMA node";
    case TopologyError::Unavailable:
      return "hwloc could not load the topology";
  }
  return "unknown";
}

Result<void, TopologyError> pin_current_thread(unsigned cpu) noexcept {
  // No pre-check against this thread's current mask: a thread created by a pinned thread
  // inherits that one CPU and must still be able to move. The kernel says EINVAL when the CPU
  // does not exist, is offline, or is outside the cgroup's cpuset.
  if (cpu >= CPU_SETSIZE) return err(TopologyError::BadCpu);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  const int rc = pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
  if (rc == EINVAL) return err(TopologyError::BadCpu);
  if (rc != 0) return err(TopologyError::PinFailed);
  return {};
}

int current_cpu() noexcept { return sched_getcpu(); }

struct Topology::Impl {
  hwloc_topology_t topo = nullptr;
};

// Context handed to RingMemory: which topology and node to bind to.
struct NodeMemory {
  hwloc_topology_t topo = nullptr;
  hwloc_nodeset_t nodeset = nullptr;
  bool bind = false;
  ~NodeMemory() {
    if (nodeset) hwloc_bitmap_free(nodeset);
  }
};

namespace {
int ancestor_index(hwloc_topology_t t, hwloc_obj_type_t type, hwloc_obj_t pu) {
  hwloc_obj_t o = hwloc_get_ancestor_obj_by_type(t, type, pu);
  return o ? static_cast<int>(o->logical_index) : -1;
}
std::size_t cache_size(hwloc_topology_t t, hwloc_obj_type_t type, hwloc_obj_t pu) {
  hwloc_obj_t o = hwloc_get_ancestor_obj_by_type(t, type, pu);
  return o && o->attr ? static_cast<std::size_t>(o->attr->cache.size) : 0;
}

void* node_alloc(std::size_t bytes, std::size_t align, void* ctx) {
  auto* nm = static_cast<NodeMemory*>(ctx);
  (void)align;  // hwloc allocations are page-aligned, more than any ring asks for
  if (nm->bind) {
    void* p = hwloc_alloc_membind(nm->topo, bytes, nm->nodeset, HWLOC_MEMBIND_BIND,
                                  HWLOC_MEMBIND_BYNODESET);
    if (p != nullptr) return p;
  }
  return hwloc_alloc(nm->topo, bytes);
}
void node_free(void* p, std::size_t bytes, void* ctx) {
  hwloc_free(static_cast<NodeMemory*>(ctx)->topo, p, bytes);
}
}  // namespace

Result<std::unique_ptr<Topology>, TopologyError> Topology::load() {
  hwloc_topology_t t;
  if (hwloc_topology_init(&t) != 0) return err(TopologyError::Unavailable);
  if (hwloc_topology_load(t) != 0) {
    hwloc_topology_destroy(t);
    return err(TopologyError::Unavailable);
  }
  std::unique_ptr<Topology> topo(new Topology);
  topo->impl_ = new Impl{t};
  const int nodes = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
  topo->nodes_ = std::max(nodes, 1);
  const int pus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
  for (int i = 0; i < pus; ++i) {
    hwloc_obj_t pu = hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, static_cast<unsigned>(i));
    CpuInfo c;
    c.cpu = pu->os_index;
    c.core = ancestor_index(t, HWLOC_OBJ_CORE, pu);
    c.l1d = ancestor_index(t, HWLOC_OBJ_L1CACHE, pu);
    c.l2 = ancestor_index(t, HWLOC_OBJ_L2CACHE, pu);
    c.l3 = ancestor_index(t, HWLOC_OBJ_L3CACHE, pu);
    c.l2_bytes = cache_size(t, HWLOC_OBJ_L2CACHE, pu);
    c.l3_bytes = cache_size(t, HWLOC_OBJ_L3CACHE, pu);
    for (int n = 0; n < nodes; ++n) {
      hwloc_obj_t node = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(n));
      if (node->cpuset && hwloc_bitmap_isset(node->cpuset, pu->os_index)) {
        c.numa_node = n;
        break;
      }
    }
    topo->cpus_.push_back(c);
  }
  return topo;
}

Topology::~Topology() {
  node_mem_.clear();
  if (impl_) {
    hwloc_topology_destroy(impl_->topo);
    delete impl_;
  }
}

Result<CpuInfo, TopologyError> Topology::cpu(unsigned os_index) const noexcept {
  for (const CpuInfo& c : cpus_)
    if (c.cpu == os_index) return c;
  return err(TopologyError::BadCpu);
}

bool Topology::share_l2(unsigned a, unsigned b) const noexcept {
  auto x = cpu(a), y = cpu(b);
  return x && y && x->l2 >= 0 && x->l2 == y->l2;
}
bool Topology::share_l3(unsigned a, unsigned b) const noexcept {
  auto x = cpu(a), y = cpu(b);
  return x && y && x->l3 >= 0 && x->l3 == y->l3;
}

Result<RingMemory, TopologyError> Topology::memory_on_node(int node) {
  if (node < 0 || node >= nodes_) return err(TopologyError::NoSuchNode);
  auto nm = std::make_unique<NodeMemory>();
  nm->topo = impl_->topo;
  nm->nodeset = hwloc_bitmap_alloc();
  hwloc_obj_t obj =
      hwloc_get_obj_by_type(impl_->topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(node));
  if (obj != nullptr) hwloc_bitmap_set(nm->nodeset, obj->os_index);
  // Binding is only worth (and only possible) with more than one node and kernel support.
  const hwloc_topology_support* sup = hwloc_topology_get_support(impl_->topo);
  nm->bind =
      obj != nullptr && nodes_ > 1 && sup->membind->alloc_membind && sup->membind->bind_membind;
  bound_last_ = nm->bind;
  RingMemory m{node_alloc, node_free, nm.get()};
  node_mem_.push_back(std::move(nm));
  return m;
}

}  // namespace sluice
