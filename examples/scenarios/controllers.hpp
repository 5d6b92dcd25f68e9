// Scenario: controllers at different rates, wired together after start-up.
//
// A 50 Hz trajectory task plans setpoints for a 1 kHz motor task; a safety monitor watches the
// motor's telemetry and can tell the trajectory to limit its amplitude or to stop. Nothing is
// wired when the tasks start: the trajectory makes the setpoint and command channels itself and
// hands the motor a Receiver, and the monitor a Sender, through channels of endpoints. That is
// how a running system re-plumbs itself (a planner replaced, a monitor attached) without
// stopping the fast loop, and it is why endpoints are ordinary move-only values.
//
// The same tasks run in two layouts: all on one runtime (local channels, no atomics), or with
// the motor and its monitor on a second runtime on a thread of their own (spsc for setpoints,
// mpsc for commands, and the endpoints themselves cross the threads through spsc channels).
// The motor loop's jitter (how far each interval strays from its period) goes into a
// LatencyHistogram.
//
// Header-only so that the example (examples/controllers.cpp) and the tests
// (tests/examples/scenarios_test.cpp) run the very same code. Setup failures (a runtime or a
// channel that cannot be built, a thread that cannot start) come back in the result, never as
// an exception or a crash.
#pragma once

#include <sluice/channel/local.hpp>
#include <sluice/channel/mpsc.hpp>
#include <sluice/channel/spsc.hpp>
#include <sluice/runtime/latency.hpp>
#include <sluice/runtime/runtime.hpp>
#include <sluice/runtime/task.hpp>
#include <sluice/runtime/time.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace sluice::scenarios {

enum class ControllerLayout : uint8_t {
  one_runtime,   // trajectory, motor and monitor share one runtime: local channels
  two_runtimes,  // motor and monitor on a second runtime on its own thread: spsc / mpsc
};
inline const char* to_string(ControllerLayout l) noexcept {
  return l == ControllerLayout::one_runtime ? "one runtime" : "two runtimes";
}

struct ControllersConfig {
  ControllerLayout layout = ControllerLayout::one_runtime;
  // The monitor sends Stop this long after it was wired; everything then winds down.
  std::chrono::milliseconds duration{2000};
  std::chrono::microseconds motor_period{1000};        // 1 kHz
  std::chrono::microseconds trajectory_period{20000};  // 50 Hz
  IdlePolicy idle = IdlePolicy::park();                // for every runtime of the scenario
  double amplitude = 1.0;                              // of the planned sine, in position units
  double frequency_hz = 0.5;
  double soft_limit = 0.6;        // the monitor sends Limit when the motor goes past this
  double limit_scale = 0.5;       // Limit multiplies the amplitude by this
  unsigned telemetry_every = 10;  // motor ticks per telemetry sample (100 Hz at 1 kHz)
  // Bumped on every motor and trajectory tick, for a test's watchdog; may be null.
  std::atomic<long>* progress = nullptr;
};

struct Setpoint {
  uint64_t seq;
  int64_t t_ns;  // steady clock, when it was planned
  double position;
  double velocity;  // per second: the motor extrapolates between 50 Hz setpoints
};
enum class CommandKind : uint8_t { Limit, Stop };
struct Command {
  CommandKind kind;
  double scale;  // Limit only
};
struct Telemetry {
  uint64_t tick;
  double position;
};

struct ControllersResult {
  ControllerLayout layout = ControllerLayout::one_runtime;
  std::string error;  // empty, or why the scenario could not be set up

  // The hand-overs: the motor got its Receiver, the monitor its Sender.
  bool motor_wired = false;
  bool monitor_wired = false;

  // Motor (1 kHz).
  uint64_t motor_ticks = 0;
  uint64_t missed_ticks = 0;   // periods skipped because the motor woke too late
  double motor_elapsed_s = 0;  // from its first interval to its last tick
  double motor_period_s = 0;
  LatencySummary jitter_ns;  // |interval - period| of consecutive ticks, in ns
  uint64_t setpoints_received = 0;
  uint64_t setpoint_gaps = 0;  // a setpoint whose sequence number was not the next one
  uint64_t telemetry_sent = 0;
  uint64_t telemetry_dropped = 0;  // monitor behind: the motor never waits for it

  // Trajectory (50 Hz).
  uint64_t trajectory_ticks = 0;
  uint64_t setpoints_sent = 0;
  bool limit_applied = false;
  bool stop_applied = false;  // false: it stopped at its own deadline (the monitor never did)
  double final_amplitude = 0;

  // Monitor.
  uint64_t telemetry_received = 0;
  bool limit_sent = false;
  bool stop_sent = false;
  double max_abs_position = 0;  // largest |position| in the telemetry

  // Ticks the motor had time for: elapsed / period.
  double expected_motor_ticks() const noexcept {
    return motor_period_s > 0 ? motor_elapsed_s / motor_period_s : 0;
  }
  // The motor neither ran fast nor lost more than half of its ticks: generous on purpose, a
  // shared 2-vCPU VM can stall a thread for many milliseconds.
  bool ticks_in_bounds() const noexcept {
    const double e = expected_motor_ticks();
    const double t = static_cast<double>(motor_ticks);
    return motor_ticks > 0 && t <= e + 2 && t >= 0.5 * e;
  }
  bool passed() const noexcept {
    return error.empty() && motor_wired && monitor_wired && ticks_in_bounds() &&
           jitter_ns.count + 1 == motor_ticks && setpoints_sent > 0 &&
           setpoints_received == setpoints_sent && setpoint_gaps == 0 && limit_sent &&
           limit_applied && stop_sent && stop_applied;
  }
};

namespace controllers_detail {

using std::chrono::duration_cast;
using std::chrono::nanoseconds;

inline int64_t now_ns() noexcept {
  return duration_cast<nanoseconds>(Clock::now().time_since_epoch()).count();
}
inline void bump(std::atomic<long>* p) noexcept {
  if (p != nullptr) p->fetch_add(1, std::memory_order_relaxed);
}

// Which channel kinds carry what, per layout. The wires carry endpoints (a Receiver of
// setpoints, a Sender of commands); capacity 1 is enough for a single hand-over.
struct LocalLinks {
  using SetpointTx = local::Sender<Setpoint>;
  using SetpointRx = local::Receiver<Setpoint>;
  using CommandTx = local::Sender<Command>;
  using CommandRx = local::Receiver<Command>;
  using SetpointWireTx = local::Sender<SetpointRx>;
  using SetpointWireRx = local::Receiver<SetpointRx>;
  using CommandWireTx = local::Sender<CommandTx>;
  using CommandWireRx = local::Receiver<CommandTx>;
  static auto setpoints(std::size_t n) { return local::channel<Setpoint>(n); }
  static auto commands(std::size_t n) { return local::channel<Command>(n); }
  static auto setpoint_wire() { return local::channel<SetpointRx>(1); }
  static auto command_wire() { return local::channel<CommandTx>(1); }
};
// Commands go over mpsc: more monitors could each hold a copy of the Sender.
struct CrossLinks {
  using SetpointTx = spsc::Sender<Setpoint>;
  using SetpointRx = spsc::Receiver<Setpoint>;
  using CommandTx = mpsc::Sender<Command>;
  using CommandRx = mpsc::Receiver<Command>;
  using SetpointWireTx = spsc::Sender<SetpointRx>;
  using SetpointWireRx = spsc::Receiver<SetpointRx>;
  using CommandWireTx = spsc::Sender<CommandTx>;
  using CommandWireRx = spsc::Receiver<CommandTx>;
  static auto setpoints(std::size_t n) { return spsc::channel<Setpoint>(n); }
  static auto commands(std::size_t n) { return mpsc::channel<Command>(n); }
  static auto setpoint_wire() { return spsc::channel<SetpointRx>(1); }
  static auto command_wire() { return spsc::channel<CommandTx>(1); }
};

struct TrajectoryOut {
  std::string error;
  bool motor_wired = false;
  bool monitor_wired = false;
  uint64_t ticks = 0;
  uint64_t setpoints_sent = 0;
  bool limit_applied = false;
  bool stop_applied = false;
  double amplitude = 0;
};

// 50 Hz planner: makes the channels, hands their far ends over, then plans a sine and obeys
// the monitor's commands. It stops on Stop, when the motor is gone, or at its own deadline
// (twice the run plus a second) so that a lost monitor cannot keep it running forever.
template <class L>
Task<TrajectoryOut> trajectory(typename L::SetpointWireTx to_motor,
                               typename L::CommandWireTx to_monitor, const ControllersConfig* cfg) {
  TrajectoryOut out;
  auto sp = L::setpoints(4);
  auto cmd = L::commands(4);
  if (!sp || !cmd) {
    out.error = "trajectory: channel could not be built";
    co_return out;
  }
  // The hand-overs: the motor and the monitor are already running, waiting on these wires.
  auto to_motor_r = co_await to_motor.send(std::move(sp->rx));
  out.motor_wired = static_cast<bool>(to_motor_r);
  auto to_monitor_r = co_await to_monitor.send(std::move(cmd->tx));
  out.monitor_wired = static_cast<bool>(to_monitor_r);
  {
    auto done_a = std::move(to_motor);  // the wires have done their job
    auto done_b = std::move(to_monitor);
  }
  typename L::SetpointTx setpoints = std::move(sp->tx);
  typename L::CommandRx commands = std::move(cmd->rx);
  if (!out.motor_wired) co_return out;  // the motor's side is gone (its runtime failed)

  auto ivr = Interval::make(cfg->trajectory_period, MissedTick::skip);
  if (!ivr) {
    out.error = "trajectory: bad period";
    co_return out;
  }
  Interval iv = *ivr;
  const auto t0 = Clock::now();
  const auto deadline = t0 + 2 * cfg->duration + std::chrono::seconds(1);
  const double w = 2 * 3.14159265358979323846 * cfg->frequency_hz;
  double amplitude = cfg->amplitude;
  uint64_t seq = 0;
  for (;;) {
    (void)co_await iv.tick();
    ++out.ticks;
    bump(cfg->progress);
    bool stop = false;
    for (;;) {
      auto c = commands.try_recv();
      if (!c) break;
      if (c->kind == CommandKind::Limit) {
        amplitude *= c->scale;
        out.limit_applied = true;
      } else {
        stop = true;
        out.stop_applied = true;
      }
    }
    const auto now = Clock::now();
    if (stop || now >= deadline) break;
    const double t = std::chrono::duration<double>(now - t0).count();
    const Setpoint s{seq++, duration_cast<nanoseconds>(now.time_since_epoch()).count(),
                     amplitude * std::sin(w * t), amplitude * w * std::cos(w * t)};
    auto sent = co_await setpoints.send(s);  // waits only if the motor stalls
    if (!sent) break;                        // the motor is gone
    ++out.setpoints_sent;
  }
  out.amplitude = amplitude;
  co_return out;  // dropping `setpoints` closes the motor's channel: it drains, then stops
}

struct MotorOut {
  bool wired = false;
  uint64_t ticks = 0;
  uint64_t missed = 0;
  double elapsed_s = 0;
  uint64_t setpoints_received = 0;
  uint64_t setpoint_gaps = 0;
  uint64_t telemetry_sent = 0;
  uint64_t telemetry_dropped = 0;
};

// 1 kHz loop: waits for its Receiver, then every period takes whatever setpoints arrived
// (never waiting for them), extrapolates the position and samples telemetry for the monitor.
// It runs until the trajectory closes the setpoint channel.
template <class L>
Task<MotorOut> motor(typename L::SetpointWireRx wire, local::Sender<Telemetry> telemetry,
                     const ControllersConfig* cfg, LatencyHistogram* jitter) {
  MotorOut out;
  auto got = co_await wire.recv();
  if (!got) co_return out;
  typename L::SetpointRx setpoints = std::move(*got);
  out.wired = true;

  auto ivr = Interval::make(cfg->motor_period, MissedTick::skip);
  if (!ivr) co_return out;
  Interval iv = *ivr;
  const auto period = iv.period();
  auto prev_sched = iv.next_deadline() - period;
  const auto t0 = Clock::now();
  auto prev = t0;
  Setpoint cur{};
  bool have = false;
  uint64_t next_seq = 0;
  for (;;) {
    const auto sched = co_await iv.tick();
    const auto now = Clock::now();
    ++out.ticks;
    bump(cfg->progress);
    if (out.ticks > 1) {
      const auto dev = (now - prev) - period;
      jitter->record(static_cast<uint64_t>(std::abs(duration_cast<nanoseconds>(dev).count())));
    }
    out.missed += static_cast<uint64_t>((sched - prev_sched) / period) - 1;
    prev = now;
    prev_sched = sched;

    bool closed = false;
    for (;;) {
      auto r = setpoints.try_recv();
      if (!r) {
        closed = r.error() == RecvError::Closed;
        break;
      }
      if (r->seq != next_seq) ++out.setpoint_gaps;
      next_seq = r->seq + 1;
      cur = *r;
      have = true;
      ++out.setpoints_received;
    }
    if (closed) break;
    if (!have) continue;
    const double since = static_cast<double>(now_ns() - cur.t_ns) * 1e-9;
    const double position = cur.position + cur.velocity * since;
    if (out.ticks % cfg->telemetry_every == 0) {
      auto r = telemetry.try_send(Telemetry{out.ticks, position});
      if (r)
        ++out.telemetry_sent;
      else
        ++out.telemetry_dropped;
    }
  }
  out.elapsed_s = std::chrono::duration<double>(prev - t0).count();
  co_return out;  // dropping `telemetry` tells the monitor the motor is done
}

struct MonitorOut {
  bool wired = false;
  uint64_t telemetry_received = 0;
  bool limit_sent = false;
  bool stop_sent = false;
  double max_abs_position = 0;
};

// Waits for its Sender into the trajectory, then watches the motor's telemetry: past the soft
// limit it sends Limit (once); after the configured run time, Stop. It ends when the motor
// does (the telemetry channel closes).
template <class L>
Task<MonitorOut> monitor(typename L::CommandWireRx wire, local::Receiver<Telemetry> telemetry,
                         const ControllersConfig* cfg) {
  MonitorOut out;
  auto got = co_await wire.recv();
  if (!got) co_return out;
  typename L::CommandTx commands = std::move(*got);
  out.wired = true;
  const auto t0 = Clock::now();
  for (;;) {
    auto t = co_await telemetry.recv();
    if (!t) break;
    ++out.telemetry_received;
    const double a = std::abs(t->position);
    if (a > out.max_abs_position) out.max_abs_position = a;
    if (!out.limit_sent && a > cfg->soft_limit) {
      const Command limit{CommandKind::Limit, cfg->limit_scale};
      auto r = co_await commands.send(limit);
      out.limit_sent = static_cast<bool>(r);
    }
    if (!out.stop_sent && Clock::now() - t0 >= cfg->duration) {
      const Command stop{CommandKind::Stop, 0};
      auto r = co_await commands.send(stop);
      out.stop_sent = static_cast<bool>(r);
    }
  }
  co_return out;
}

struct MotorSideOut {
  std::string error;
  MotorOut motor;
  MonitorOut monitor;
};

// The fast side: the motor and its monitor, joined by a local telemetry channel.
template <class L>
Task<MotorSideOut> motor_side(typename L::SetpointWireRx sp_wire,
                              typename L::CommandWireRx cmd_wire, const ControllersConfig* cfg,
                              LatencyHistogram* jitter) {
  MotorSideOut out;
  auto tel = local::channel<Telemetry>(16);
  if (!tel) {
    out.error = "motor side: telemetry channel could not be built";
    co_return out;  // the wires go with this frame: the trajectory sees its hand-over fail
  }
  JoinHandle<MonitorOut> mon = spawn(monitor<L>(std::move(cmd_wire), std::move(tel->rx), cfg));
  out.motor = co_await motor<L>(std::move(sp_wire), std::move(tel->tx), cfg, jitter);
  auto m = co_await mon;
  if (m) out.monitor = std::move(*m);
  co_return out;
}

inline void merge(ControllersResult& r, const TrajectoryOut& t, const MotorSideOut& s,
                  const ControllersConfig& cfg, const LatencyHistogram& jitter) {
  if (r.error.empty()) r.error = t.error;
  if (r.error.empty()) r.error = s.error;
  r.motor_wired = t.motor_wired && s.motor.wired;
  r.monitor_wired = t.monitor_wired && s.monitor.wired;
  r.motor_ticks = s.motor.ticks;
  r.missed_ticks = s.motor.missed;
  r.motor_elapsed_s = s.motor.elapsed_s;
  r.motor_period_s = std::chrono::duration<double>(cfg.motor_period).count();
  r.jitter_ns = jitter.summary();
  r.setpoints_received = s.motor.setpoints_received;
  r.setpoint_gaps = s.motor.setpoint_gaps;
  r.telemetry_sent = s.motor.telemetry_sent;
  r.telemetry_dropped = s.motor.telemetry_dropped;
  r.trajectory_ticks = t.ticks;
  r.setpoints_sent = t.setpoints_sent;
  r.limit_applied = t.limit_applied;
  r.stop_applied = t.stop_applied;
  r.final_amplitude = t.amplitude;
  r.telemetry_received = s.monitor.telemetry_received;
  r.limit_sent = s.monitor.limit_sent;
  r.stop_sent = s.monitor.stop_sent;
  r.max_abs_position = s.monitor.max_abs_position;
}

struct OneRuntimeOut {
  TrajectoryOut trajectory;
  MotorSideOut side;
};

template <class L>
Task<OneRuntimeOut> one_runtime(typename L::SetpointWireTx sp_tx, typename L::SetpointWireRx sp_rx,
                                typename L::CommandWireTx cmd_tx, typename L::CommandWireRx cmd_rx,
                                const ControllersConfig* cfg, LatencyHistogram* jitter) {
  OneRuntimeOut out;
  JoinHandle<MotorSideOut> side =
      spawn(motor_side<L>(std::move(sp_rx), std::move(cmd_rx), cfg, jitter));
  out.trajectory = co_await trajectory<L>(std::move(sp_tx), std::move(cmd_tx), cfg);
  auto s = co_await side;
  if (s)
    out.side = std::move(*s);
  else
    out.side.error = "motor side did not finish";
  co_return out;
}

inline RuntimeConfig runtime_config(const ControllersConfig& cfg) {
  RuntimeConfig rc;
  rc.idle = cfg.idle;
  return rc;
}

inline ControllersResult run_one_runtime(const ControllersConfig& cfg) {
  using L = LocalLinks;
  ControllersResult r;
  r.layout = cfg.layout;
  auto rt = Runtime::make(runtime_config(cfg));
  if (!rt) {
    r.error = std::string("runtime: ") + to_string(rt.error());
    return r;
  }
  auto sp = L::setpoint_wire();
  auto cmd = L::command_wire();
  if (!sp || !cmd) {
    r.error = "wire channel could not be built";
    return r;
  }
  auto jitter = std::make_unique<LatencyHistogram>();
  OneRuntimeOut o =
      (*rt)->block_on(one_runtime<L>(std::move(sp->tx), std::move(sp->rx), std::move(cmd->tx),
                                     std::move(cmd->rx), &cfg, jitter.get()));
  merge(r, o.trajectory, o.side, cfg, *jitter);
  return r;
}

// The motor's runtime lives on its own thread and is built there, so its tasks, timers and
// slab are that thread's alone; only the spsc/mpsc channels (and the endpoints sent through
// them) cross.
inline ControllersResult run_two_runtimes(const ControllersConfig& cfg) {
  using L = CrossLinks;
  ControllersResult r;
  r.layout = cfg.layout;
  auto sp = L::setpoint_wire();
  auto cmd = L::command_wire();
  if (!sp || !cmd) {
    r.error = "wire channel could not be built";
    return r;
  }
  auto jitter = std::make_unique<LatencyHistogram>();
  MotorSideOut side;  // written by the motor thread, read after join
  std::thread motor_thread;
  try {
    motor_thread = std::thread(
        [&cfg, &side, h = jitter.get()](L::SetpointWireRx sp_rx, L::CommandWireRx cmd_rx) {
          auto rt = Runtime::make(runtime_config(cfg));
          if (!rt) {
            side.error = std::string("motor runtime: ") + to_string(rt.error());
            return;  // the wires close: the trajectory's hand-over fails and it stops
          }
          side = (*rt)->block_on(motor_side<L>(std::move(sp_rx), std::move(cmd_rx), &cfg, h));
        },
        std::move(sp->rx), std::move(cmd->rx));
  } catch (const std::system_error& e) {
    r.error = std::string("motor thread: ") + e.what();
    return r;
  }
  TrajectoryOut traj;
  if (auto rt = Runtime::make(runtime_config(cfg))) {
    traj = (*rt)->block_on(trajectory<L>(std::move(sp->tx), std::move(cmd->tx), &cfg));
  } else {
    traj.error = std::string("trajectory runtime: ") + to_string(rt.error());
    auto gone_a = std::move(sp->tx);  // the motor side sees its wires close and stops
    auto gone_b = std::move(cmd->tx);
  }
  motor_thread.join();
  merge(r, traj, side, cfg, *jitter);
  return r;
}

}  // namespace controllers_detail

// Runs the scenario in the configured layout; the result carries the figures and the facts
// (ControllersResult::passed()).
[[nodiscard]] inline ControllersResult run_controllers(const ControllersConfig& cfg) {
  if (cfg.layout == ControllerLayout::one_runtime) return controllers_detail::run_one_runtime(cfg);
  return controllers_detail::run_two_runtimes(cfg);
}

}  // namespace sluice::scenarios
