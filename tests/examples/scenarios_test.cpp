// The scenarios of examples/scenarios/ run as tests: controllers wired by sending endpoints
// through channels (one runtime, and the motor on a thread of its own), a streaming network
// with backpressure and per-producer sequence checks (one runtime, and a thread per stage), and
// 100 producers behind a 4-ticket throttle. The scenario functions return their facts; the
// assertions live here, outside any coroutine. Bounds on timing are generous: the CI machine is
// a shared 2-vCPU VM. The Controllers* and *AcrossThreads suites run serially
// (tests/examples/scenarios.cmake).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "../../examples/scenarios/controllers.hpp"
#include "../../examples/scenarios/streaming.hpp"
#include "../common/watchdog.hpp"

using namespace sluice;
using namespace sluice::scenarios;
using namespace std::chrono_literals;

namespace {

using test::Watchdog;

// The figures behind a failed passed(), for the failure message.
std::string describe(const ControllersResult& r) {
  return "ticks " + std::to_string(r.motor_ticks) + " of " +
         std::to_string(r.expected_motor_ticks()) + " expected (missed " +
         std::to_string(r.missed_ticks) + "), jitter samples " + std::to_string(r.jitter_ns.count) +
         ", setpoints " + std::to_string(r.setpoints_sent) + "/" +
         std::to_string(r.setpoints_received) + " gaps " + std::to_string(r.setpoint_gaps) +
         ", limit " + std::to_string(r.limit_sent) + "/" + std::to_string(r.limit_applied) +
         ", stop " + std::to_string(r.stop_sent) + "/" + std::to_string(r.stop_applied);
}

ControllersConfig controllers_config(ControllerLayout layout) {
  ControllersConfig cfg;
  cfg.layout = layout;
  cfg.duration = 800ms;  // the limit fires ~0.2 s in (sine at 0.5 Hz past 0.6)
  return cfg;
}

void expect_controllers(const ControllersResult& r) {
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_TRUE(r.motor_wired);
  EXPECT_TRUE(r.monitor_wired);
  // The motor ran at its rate: not faster than its period allows, and it kept at least half
  // of its ticks (skipped ones are counted apart).
  EXPECT_GT(r.motor_elapsed_s, 0.7);
  EXPECT_LE(static_cast<double>(r.motor_ticks), r.expected_motor_ticks() + 2);
  EXPECT_GE(static_cast<double>(r.motor_ticks), 0.5 * r.expected_motor_ticks());
  EXPECT_LE(static_cast<double>(r.motor_ticks + r.missed_ticks), r.expected_motor_ticks() + 2);
  // Jitter is recorded for every interval between two ticks; its median stays well under a
  // period even here (the tail is the VM's).
  EXPECT_EQ(r.jitter_ns.count + 1, r.motor_ticks);
  EXPECT_GT(r.jitter_ns.max, 0.0);
  EXPECT_LT(r.jitter_ns.p50, 500e3);
  // The 50 Hz trajectory: about 40 setpoints in 0.8 s, every one delivered in order.
  EXPECT_GE(r.setpoints_sent, 20u);
  EXPECT_LE(r.setpoints_sent, 60u);
  EXPECT_EQ(r.setpoints_received, r.setpoints_sent);
  EXPECT_EQ(r.setpoint_gaps, 0u);
  // The monitor's commands, sent through the Sender it was handed, were obeyed.
  EXPECT_GT(r.telemetry_received, 0u);
  EXPECT_TRUE(r.limit_sent);
  EXPECT_TRUE(r.limit_applied);
  EXPECT_DOUBLE_EQ(r.final_amplitude, 0.5);
  EXPECT_TRUE(r.stop_sent);
  EXPECT_TRUE(r.stop_applied);
  EXPECT_TRUE(r.passed()) << describe(r);
}

TEST(Controllers, OneRuntimeWiresByEndpointsAndHoldsTheRate) {
  expect_controllers(run_controllers(controllers_config(ControllerLayout::one_runtime)));
}

TEST(ControllersAcrossThreads, MotorOnItsOwnRuntimeGetsItsReceiverThroughAChannel) {
  std::atomic<long> progress{0};
  Watchdog wd(5s, &progress);
  ControllersConfig cfg = controllers_config(ControllerLayout::two_runtimes);
  cfg.progress = &progress;
  expect_controllers(run_controllers(cfg));
}

TEST(ControllersAcrossThreads, BusyPollingRuntimesAlsoPass) {
  std::atomic<long> progress{0};
  Watchdog wd(5s, &progress);
  ControllersConfig cfg = controllers_config(ControllerLayout::two_runtimes);
  cfg.duration = 400ms;
  cfg.idle = IdlePolicy::busy_poll();
  cfg.progress = &progress;
  const ControllersResult r = run_controllers(cfg);
  // Two busy threads fill both vCPUs of the CI machine (more with the watchdog and under a
  // sanitizer), so only the wiring and the values are checked here, not the rate: the point
  // is the other wait path (busy runtimes poll their channel waits instead of parking).
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_TRUE(r.motor_wired);
  EXPECT_TRUE(r.monitor_wired);
  EXPECT_GT(r.motor_ticks, 0u);
  EXPECT_LE(static_cast<double>(r.motor_ticks), r.expected_motor_ticks() + 2);
  EXPECT_GT(r.setpoints_sent, 0u);
  EXPECT_EQ(r.setpoints_received, r.setpoints_sent);
  EXPECT_EQ(r.setpoint_gaps, 0u);
  EXPECT_TRUE(r.limit_applied);
  EXPECT_TRUE(r.stop_applied);
}

StreamingConfig streaming_config(StreamLayout layout) {
  StreamingConfig cfg;
  cfg.layout = layout;
  cfg.producers = 3;
  cfg.per_producer = test::kSanitized ? 2000 : 10000;
  cfg.capacity = 2;
  cfg.consumer_batch = 128;
  cfg.consumer_pause = 200us;
  return cfg;
}

void expect_streaming(const StreamingResult& r) {
  ASSERT_TRUE(r.error.empty()) << r.error;
  const uint64_t total = uint64_t{r.producers} * r.per_producer;
  EXPECT_EQ(r.produced, total);
  EXPECT_EQ(r.transformed, total);
  EXPECT_EQ(r.consumed, total);
  EXPECT_EQ(r.gaps, 0u);
  EXPECT_EQ(r.out_of_order, 0u);
  EXPECT_EQ(r.missing, 0u);
  EXPECT_EQ(r.corrupt, 0u);
  // The slow consumer held the producers back: their sends had to wait, and they could only
  // finish shortly before the consumer did.
  EXPECT_GT(r.producer_waits, 0u);
  EXPECT_LE(r.producers_done_s, r.consumer_done_s);
  EXPECT_TRUE(r.passed());
}

TEST(Streaming, OneRuntimeBackpressureKeepsEveryProducersSequence) {
  const StreamingResult r = run_streaming(streaming_config(StreamLayout::one_runtime));
  expect_streaming(r);
  // Local channels show their depth: it never passed the capacity, and was reached.
  ASSERT_TRUE(r.depth_observed);
  EXPECT_EQ(r.capacity, 2u);
  EXPECT_EQ(r.max_depth_in, r.capacity);
  EXPECT_EQ(r.max_depth_out, r.capacity);
  EXPECT_GT(r.transform_waits, 0u);
}

TEST(StreamingAcrossThreads, ThreadPerStageBackpressureKeepsEveryProducersSequence) {
  std::atomic<long> progress{0};
  Watchdog wd(5s, &progress);
  StreamingConfig cfg = streaming_config(StreamLayout::three_threads);
  cfg.progress = &progress;
  const StreamingResult r = run_streaming(cfg);
  expect_streaming(r);
  EXPECT_FALSE(r.depth_observed);
}

TEST(StreamingAcrossThreads, CapacityOneEverywhere) {
  std::atomic<long> progress{0};
  Watchdog wd(5s, &progress);
  StreamingConfig cfg = streaming_config(StreamLayout::three_threads);
  cfg.capacity = 1;
  cfg.per_producer = test::kSanitized ? 1000 : 5000;
  cfg.progress = &progress;
  expect_streaming(run_streaming(cfg));
}

TEST(ThrottleScenario, HundredProducersFourTicketsAtMostFourInFlight) {
  ThrottleConfig cfg;  // 100 producers, 4 tickets, a channel of 64
  const ThrottleResult r = run_throttle(cfg);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.completed, 100u);
  EXPECT_EQ(r.failures, 0u);
  EXPECT_EQ(r.max_in_flight, 4u);  // reached, never passed
  EXPECT_LE(r.max_queued, 4u);     // the consumer never saw more, with room for 64
  EXPECT_EQ(r.capacity, 64u);
  EXPECT_GT(r.max_waiting, 50u);        // the rest queued for tickets
  EXPECT_EQ(r.tickets_free_after, 4u);  // every ticket came back
  EXPECT_TRUE(r.passed());
}

TEST(ThrottleScenario, OneTicketSerialisesTheProducers) {
  ThrottleConfig cfg;
  cfg.producers = 20;
  cfg.tickets = 1;
  cfg.service = 50us;
  const ThrottleResult r = run_throttle(cfg);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.completed, 20u);
  EXPECT_EQ(r.max_in_flight, 1u);
  EXPECT_EQ(r.max_queued, 1u);
  EXPECT_TRUE(r.passed());
}

TEST(ThrottleScenario, ZeroTicketsIsASetupError) {
  ThrottleConfig cfg;
  cfg.tickets = 0;
  const ThrottleResult r = run_throttle(cfg);
  EXPECT_EQ(r.error, "throttle: zero tickets");
  EXPECT_FALSE(r.passed());
}

TEST(Streaming, ZeroCapacityIsASetupError) {
  StreamingConfig cfg;
  cfg.capacity = 0;
  const StreamingResult r = run_streaming(cfg);
  EXPECT_EQ(r.error, "channel could not be built");
  EXPECT_FALSE(r.passed());
}

}  // namespace
