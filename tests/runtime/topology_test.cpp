// Topology: CPU listing with NUMA node and caches, pinning (and its error values), and a ring
// whose slots are placed with memory_on_node.
#include <gtest/gtest.h>

#include <sluice/channel/spsc_ring.hpp>
#include <sluice/runtime/topology.hpp>

#include <set>
#include <thread>

using namespace sluice;

namespace {

TEST(Topology, ListsEveryAllowedCpuWithItsNodeAndCaches) {
  auto t = Topology::load();
  ASSERT_TRUE(t.has_value());
  const auto& cpus = (*t)->cpus();
  ASSERT_FALSE(cpus.empty());
  EXPECT_GE(cpus.size(), std::thread::hardware_concurrency() > 0 ? 1u : 0u);
  std::set<unsigned> seen;
  for (const CpuInfo& c : cpus) {
    EXPECT_TRUE(seen.insert(c.cpu).second) << "cpu listed twice: " << c.cpu;
    EXPECT_GE(c.numa_node, 0);
    EXPECT_LT(c.numa_node, (*t)->numa_nodes());
    EXPECT_GE(c.core, 0);
    auto again = (*t)->cpu(c.cpu);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->core, c.core);
  }
  const unsigned first = cpus.front().cpu;
  EXPECT_EQ((*t)->share_l2(first, first), cpus.front().l2 >= 0);
  EXPECT_FALSE((*t)->share_l3(first, 1u << 20));
  EXPECT_EQ((*t)->cpu(1u << 20).error(), TopologyError::BadCpu);
}

TEST(Topology, PinsTheCallingThread) {
  auto t = Topology::load();
  ASSERT_TRUE(t.has_value());
  for (const CpuInfo& c : (*t)->cpus()) {
    std::thread th([&] {
      auto r = pin_current_thread(c.cpu);
      ASSERT_TRUE(r.has_value()) << to_string(r.error());
      EXPECT_EQ(current_cpu(), static_cast<int>(c.cpu));
    });
    th.join();
  }
}

// A thread started by a pinned thread inherits its single CPU and must still be able to move.
TEST(Topology, ThreadOfAPinnedThreadCanMove) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs 2 CPUs";
  auto t = Topology::load();
  ASSERT_TRUE(t.has_value());
  ASSERT_GE((*t)->cpus().size(), 2u);
  const unsigned a = (*t)->cpus()[0].cpu, b = (*t)->cpus()[1].cpu;
  std::thread outer([&] {
    ASSERT_TRUE(pin_current_thread(a).has_value());
    std::thread inner([&] {
      auto r = pin_current_thread(b);
      ASSERT_TRUE(r.has_value()) << to_string(r.error());
      EXPECT_EQ(current_cpu(), static_cast<int>(b));
    });
    inner.join();
  });
  outer.join();
}

TEST(Topology, BadCpuIsAnErrorValue) {
  EXPECT_EQ(pin_current_thread(1u << 20).error(), TopologyError::BadCpu);
  EXPECT_EQ(pin_current_thread(CPU_SETSIZE - 1).error(), TopologyError::BadCpu);
  EXPECT_STREQ(to_string(TopologyError::BadCpu), "no such cpu (or not allowed for this process)");
}

TEST(Topology, RingOnANumaNode) {
  auto t = Topology::load();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ((*t)->memory_on_node(-1).error(), TopologyError::NoSuchNode);
  EXPECT_EQ((*t)->memory_on_node((*t)->numa_nodes()).error(), TopologyError::NoSuchNode);
  auto mem = (*t)->memory_on_node(0);
  ASSERT_TRUE(mem.has_value());
  auto r = SpscRing<uint64_t>::make(1024, *mem);
  ASSERT_TRUE(r.has_value());
  for (uint64_t lap = 0; lap < 3; ++lap) {
    for (uint64_t i = 0; i < 1024; ++i) ASSERT_TRUE((*r)->try_push(i + lap));
    for (uint64_t i = 0; i < 1024; ++i) {
      uint64_t v = 0;
      ASSERT_TRUE((*r)->try_pop(v));
      ASSERT_EQ(v, i + lap);
    }
  }
}

}  // namespace
