// Controllers at different rates (examples/scenarios/controllers.hpp): a 50 Hz trajectory hands
// a 1 kHz motor its setpoint Receiver, and a safety monitor its command Sender, through
// channels; the motor's interval jitter is reported. Runs on one runtime, then with the motor
// on a runtime of its own thread.
//
// Usage: controllers [--duration-ms N] [--layout one|two|both] [--busy]
// Exits 1 when a check fails (a lost hand-over, a setpoint gap, a command not obeyed, or a
// motor that lost more than half of its ticks).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "scenarios/controllers.hpp"

using namespace sluice;
using namespace sluice::scenarios;

namespace {

const char* yes(bool b) { return b ? "yes" : "NO"; }

void report(const ControllersConfig& cfg, const ControllersResult& r) {
  std::printf("== controllers, %s (%s)\n", to_string(r.layout),
              r.layout == ControllerLayout::one_runtime ? "local channels"
                                                        : "motor thread; spsc/mpsc channels");
  if (!r.error.empty()) {
    std::printf("  setup failed: %s\n", r.error.c_str());
    return;
  }
  std::printf("  hand-overs     motor got its Receiver: %s; monitor got its Sender: %s\n",
              yes(r.motor_wired), yes(r.monitor_wired));
  std::printf("  motor 1 kHz    %llu ticks in %.3f s (expected %.0f), %llu missed\n",
              static_cast<unsigned long long>(r.motor_ticks), r.motor_elapsed_s,
              r.expected_motor_ticks(), static_cast<unsigned long long>(r.missed_ticks));
  std::printf("  jitter         |interval - %lld us|: p50 %.1f us  p99 %.1f us  max %.1f us\n",
              static_cast<long long>(cfg.motor_period.count()), r.jitter_ns.p50 / 1e3,
              r.jitter_ns.p99 / 1e3, r.jitter_ns.max / 1e3);
  std::printf("  setpoints      %llu sent at 50 Hz, %llu received, %llu gaps\n",
              static_cast<unsigned long long>(r.setpoints_sent),
              static_cast<unsigned long long>(r.setpoints_received),
              static_cast<unsigned long long>(r.setpoint_gaps));
  std::printf("  telemetry      %llu sent, %llu dropped, %llu seen by the monitor\n",
              static_cast<unsigned long long>(r.telemetry_sent),
              static_cast<unsigned long long>(r.telemetry_dropped),
              static_cast<unsigned long long>(r.telemetry_received));
  std::printf("  monitor        limit sent/applied: %s/%s (amplitude now %.2f, peak |pos| %.2f)\n",
              yes(r.limit_sent), yes(r.limit_applied), r.final_amplitude, r.max_abs_position);
  std::printf("                 stop sent/applied: %s/%s after %llu trajectory ticks\n",
              yes(r.stop_sent), yes(r.stop_applied),
              static_cast<unsigned long long>(r.trajectory_ticks));
  std::printf("  result         %s\n", r.passed() ? "pass" : "FAIL");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Controllers at different rates, wired by sending endpoints through channels"};
  long duration_ms = 2000;
  std::string layout = "both";
  bool busy = false;
  app.add_option("--duration-ms", duration_ms, "run time until the monitor sends Stop")
      ->check(CLI::Range(300L, 600000L));  // the limit fires ~0.2 s in
  app.add_option("--layout", layout, "one (one runtime), two (motor on its own thread), both")
      ->check(CLI::IsMember({"one", "two", "both"}));
  app.add_flag("--busy", busy, "busy-poll the runtimes instead of parking (lower jitter)");
  CLI11_PARSE(app, argc, argv);

  ControllersConfig cfg;
  cfg.duration = std::chrono::milliseconds(duration_ms);
  cfg.idle = busy ? IdlePolicy::busy_poll() : IdlePolicy::park();
  bool ok = true;
  if (layout != "two") {
    cfg.layout = ControllerLayout::one_runtime;
    const ControllersResult r = run_controllers(cfg);
    report(cfg, r);
    ok = ok && r.passed();
  }
  if (layout != "one") {
    cfg.layout = ControllerLayout::two_runtimes;
    const ControllersResult r = run_controllers(cfg);
    report(cfg, r);
    ok = ok && r.passed();
  }
  return ok ? 0 : 1;
}
