#!/usr/bin/env python3
"""Runs sluice's benchmark binaries and writes one table of medians and of ratios.

Every binary in perf/bench_peers.json is run with repetitions (Google Benchmark's random
interleaving on), the median of each benchmark is taken over its repetitions, and each sluice
benchmark is divided by the peers and floors that the mapping names for it, all measured in the
same run of the same binary. The one-line round-trip floor is also measured before and after
every binary, so that each ratio comes with the VM's placement (close or far) it was taken in.

Writes OUT/bench.json (everything, with every repetition) and OUT/bench.md (the table); with
--results, also the generated part of perf/RESULTS.md (between the generated markers).
Normally started through scripts/bench, which builds the binaries first. docs/BENCHMARKS.md
explains the method and how to read the ratios.

Python 3 standard library only.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS_FILE = ROOT / "perf" / "bench_peers.json"
RESULTS_FILE = ROOT / "perf" / "RESULTS.md"
BEGIN = "<!-- generated:begin -->"
END = "<!-- generated:end -->"

QUICK_REPS = 2
QUICK_MIN_TIME = 0.01
BINARY_TIMEOUT_S = 900

# Google Benchmark's suffixes that are settings, not arguments of the benchmark.
_SUFFIX = re.compile(r"/(iterations:\d+|repeats:\d+|threads:\d+|manual_time|real_time|"
                     r"process_time|min_time:[0-9.]+s?|min_warmup_time:[0-9.]+s?)")
_TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# Metrics where a smaller figure is the better one.
_LOWER_IS_BETTER = {"time", "ns_per_item", "p50_ns", "p99_ns"}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def norm_name(name: str) -> str:
    return _SUFFIX.sub("", name)


# ---------------------------------------------------------------- the machine and the tree


def run_text(cmd: list[str], timeout: float = 30) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_info() -> dict:
    info = {"model": "unknown", "cpus": os.cpu_count(), "hypervisor": None,
            "kernel": os.uname().release}
    for line in run_text(["lscpu"]).splitlines():
        key, _, val = line.partition(":")
        key, val = key.strip(), val.strip()
        if key == "Model name":
            info["model"] = val
        elif key == "CPU(s)":
            info["cpus"] = int(val) if val.isdigit() else info["cpus"]
        elif key == "Hypervisor vendor":
            info["hypervisor"] = val
    return info


def git_info() -> dict:
    commit = run_text(["git", "-C", str(ROOT), "rev-parse", "--short=7", "HEAD"]).strip()
    # Changes that can move a figure: anything tracked but the prose, this script and its map.
    changed = run_text(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no",
                        "--", ".", ":(exclude)*.md", ":(exclude)perf/bench_peers.json",
                        ":(exclude)scripts/bench", ":(exclude)scripts/bench.py"]).splitlines()
    return {"commit": commit or "unknown", "uncommitted": [c[3:] for c in changed]}


def load_avg() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


# ---------------------------------------------------------------- placement


class Placement:
    def __init__(self, cfg: dict):
        self.modes = [(m, b) for m, b in cfg["modes"]]
        self.probe = cfg["probe"]
        self.within = cfg.get("same_mode_within", 0.25)

    def mode_of(self, ns: float | None) -> str:
        if ns is None:
            return "unknown"
        for name, bound in self.modes:
            if bound is None or ns < bound:
                return name
        return self.modes[-1][0]

    def verdict(self, readings: list[float]) -> str:
        """One mode for a set of floor readings, or 'mixed' when they disagree."""
        readings = [r for r in readings if r is not None]
        if not readings:
            return "unknown"
        modes = {self.mode_of(r) for r in readings}
        if len(modes) > 1:
            return "mixed"
        if max(readings) > (1 + self.within) * min(readings):
            return modes.pop() + " (floor moved)"
        return modes.pop()


# ---------------------------------------------------------------- Google Benchmark runs


def median_stats(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "spread": None, "n": 0}
    med = statistics.median(values)
    lo, hi = min(values), max(values)
    return {"median": med, "min": lo, "max": hi, "n": len(values),
            "spread": (hi - lo) / med if med else None}


def metric_of(entry: dict, metric: str) -> float | None:
    if metric == "time":
        return entry["real_time"] * _TIME_UNIT_NS.get(entry.get("time_unit", "ns"), 1.0)
    if metric == "cpu_time":
        return entry["cpu_time"] * _TIME_UNIT_NS.get(entry.get("time_unit", "ns"), 1.0)
    if metric == "ns_per_item":
        ips = entry.get("items_per_second")
        return 1e9 / ips if ips else None
    v = entry.get(metric)
    return float(v) if isinstance(v, (int, float)) else None


def parse_gbench_json(path: Path) -> tuple[dict, list[str]]:
    """{normalized name: [iteration entries in run order]} and the names in first-seen order."""
    data = json.loads(path.read_text())
    runs: dict[str, list[dict]] = {}
    order: list[str] = []
    for e in data.get("benchmarks", []):
        if e.get("run_type", "iteration") != "iteration":
            continue
        name = norm_name(e.get("run_name", e["name"]))
        if name not in runs:
            runs[name] = []
            order.append(name)
        runs[name].append(e)
    return runs, order


def list_tests(exe: Path) -> list[str]:
    out = run_text([str(exe), "--benchmark_list_tests=true"], timeout=60)
    return [norm_name(line.strip()) for line in out.splitlines() if line.startswith("BM_")]


def gbench_filter(names: list[str]) -> str:
    return "^(" + "|".join(re.escape(n).replace("\\_", "_").replace("\\/", "/")
                           for n in names) + ")(/.*)?$"


def run_logged(cmd: list[str], stdout_path: Path, timeout: float) -> tuple[int, str]:
    """Runs cmd with its stdout to a file; returns the exit status and the tail of stderr."""
    with open(stdout_path, "w") as out:
        try:
            p = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True,
                               timeout=timeout, check=False)
            return p.returncode, p.stderr[-4000:]
        except subprocess.TimeoutExpired as e:
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else ""
            return 124, (err or "")[-4000:] + f"\ntimed out after {timeout:.0f} s"


def floor_probe(build: Path, placement: Placement, raw: Path, tag: str, quick: bool) -> dict:
    """One reading of the one-line floor (median of a few short repetitions)."""
    p = placement.probe
    exe = build / "perf" / p["binary"]
    if not exe.exists():
        return {"ns": None, "mode": "unknown", "note": f"{p['binary']} not built"}
    out = raw / f"floor_{tag}.json"
    out.unlink(missing_ok=True)
    cmd = [str(exe), f"--benchmark_filter=^{p['benchmark']}$",
           f"--benchmark_repetitions={2 if quick else p['reps']}",
           f"--benchmark_min_time={QUICK_MIN_TIME if quick else p['min_time']}",
           f"--benchmark_out={out}", "--benchmark_out_format=json"]
    rc, err = run_logged(cmd, raw / f"floor_{tag}.txt", 120)
    if rc != 0 or not out.exists():
        return {"ns": None, "mode": "unknown", "note": f"floor probe failed (exit {rc})"}
    runs, _ = parse_gbench_json(out)
    vals = [metric_of(e, "time") for e in runs.get(p["benchmark"], []) if not e.get("error_occurred")]
    st = median_stats(vals)
    return {"ns": st["median"], "mode": placement.mode_of(st["median"]), "reps": vals}


# ---------------------------------------------------------------- ratios and targets


def parse_bound(text: str) -> tuple[str, float]:
    m = re.fullmatch(r"\s*(<=|>=|<|>)\s*([0-9.]+)\s*", text)
    if not m:
        raise ValueError(f"bad target '{text}' in {PEERS_FILE.name}")
    return m.group(1), float(m.group(2))


def check(op: str, value: float | None, bound: float) -> str | None:
    if value is None:
        return None
    ok = {"<=": value <= bound, ">=": value >= bound, "<": value < bound, ">": value > bound}[op]
    return "met" if ok else "miss"


_UNIT_SCALE = {"ns": 1.0, "ns/item": 1.0, "M/s": 1e6, "GB/s": 1e9, "x": 1.0}


def fmt_metric(v: float | None, metric: str) -> str:
    if v is None:
        return "–"
    if metric in ("time", "p50_ns", "p99_ns", "cpu_time"):
        suffix = " p50" if metric == "p50_ns" else (" p99" if metric == "p99_ns" else "")
        if v >= 1e6:
            return f"{v / 1e6:.3g} ms{suffix}"
        if v >= 1e3:
            return f"{v / 1e3:.3g} µs{suffix}"
        return f"{v:.3g} ns{suffix}"
    if metric == "ns_per_item":
        return f"{v:.3g} ns/item"
    if metric == "items_per_second":
        return f"{v / 1e6:.4g} M/s" if v >= 1e6 else f"{v / 1e3:.3g} k/s"
    if metric == "bytes_per_second":
        return f"{v / 1e9:.3g} GB/s" if v >= 1e9 else f"{v / 1e6:.3g} MB/s"
    return f"{v:.4g}"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "–"
    return f"{r:.3g}×" if r >= 10 or r < 0.1 else f"{r:.2f}×"


def fmt_bound(op: str, v: float, unit: str = "x") -> str:
    sym = {"<=": "≤", ">=": "≥", "<": "<", ">": ">"}[op]
    return f"{sym} {v:g}×" if unit == "x" else f"{sym} {v:g} {unit}"


def compute_binary(bin_name: str, spec: dict, runs: dict, order: list[str]) -> dict:
    """Medians of every benchmark of one binary, then its comparisons and targets."""
    rows: dict[str, dict] = {}
    unmapped = []
    for name in order:
        m = spec.get(name)
        if m is None:
            unmapped.append(name)
            m = {"metric": "time"}
        metric = m.get("metric", "time")
        entries = runs[name]
        errors = [e.get("error_message", "error") for e in entries if e.get("error_occurred")]
        good = [e for e in entries if not e.get("error_occurred")]
        vals = [metric_of(e, metric) for e in good]
        row = {"role": m.get("role", "sluice"), "metric": metric, "about": m.get("about", ""),
               **median_stats(vals), "reps": vals,
               "real_time_ns": median_stats([metric_of(e, "time") for e in good])["median"]}
        # Every counter the benchmark reported, as medians (items/bytes per second, p99, ...).
        extra = {}
        for key in ("items_per_second", "bytes_per_second", "p50_ns", "p99_ns",
                    "client_enters_per_rtt", "slab_misses", "failed", "live_at_end"):
            if good and key in good[0] and key != metric:
                extra[key] = median_stats([metric_of(e, key) for e in good])["median"]
        if extra:
            row["counters"] = extra
        if errors:
            row["error"] = errors[0]
        rows[name] = row

    comparisons, targets = [], []
    for name, row in rows.items():
        m = spec.get(name, {})
        for t in m.get("targets", []):
            scale = _UNIT_SCALE.get(t["unit"], 1.0)
            v = row["median"]
            shown = None if v is None else v / scale
            targets.append({"binary": bin_name, "benchmark": name, "issue": t.get("issue"),
                            "target": fmt_bound(t["op"], t["value"], t["unit"]),
                            "value": shown, "shown": fmt_metric(v, row["metric"]),
                            "verdict": check(t["op"], shown, t["value"])})
        for c in m.get("compare", []):
            refs = c["to"] if isinstance(c["to"], list) else [c["to"]]
            have = [(r, rows[r]["median"]) for r in refs if r in rows and rows[r]["median"]]
            ratio, ref_used = None, None
            if have and row["median"]:
                if c.get("pick", "best") == "best" and len(have) > 1:
                    lower = row["metric"] in _LOWER_IS_BETTER
                    ref_used, ref_v = (min if lower else max)(have, key=lambda x: x[1])
                else:
                    ref_used, ref_v = have[0]
                ratio = (ref_v / row["median"] if c.get("ratio", "this/ref") == "ref/this"
                         else row["median"] / ref_v)
            entry = {"binary": bin_name, "benchmark": name, "to": ref_used or refs[0],
                     "to_declared": refs, "label": c.get("label", refs[0]),
                     "role": c.get("role", "peer"), "ratio_of": c.get("ratio", "this/ref"),
                     "better": c.get("better"), "means": c.get("means", ""), "ratio": ratio}
            if "target" in c:
                op, bound = parse_bound(c["target"])
                entry.update(target=fmt_bound(op, bound), issue=c.get("issue"),
                             verdict=check(op, ratio, bound))
                targets.append({"binary": bin_name, "benchmark": name, "issue": c.get("issue"),
                                "target": f"{fmt_bound(op, bound)} {c.get('label', refs[0])}",
                                "value": ratio, "shown": fmt_ratio(ratio),
                                "verdict": entry["verdict"]})
            comparisons.append(entry)
    return {"benchmarks": rows, "comparisons": comparisons, "targets": targets,
            "unmapped": unmapped}


# ---------------------------------------------------------------- the other harnesses


_RTT_MODE = re.compile(r"^(\w+) mode: (\d+) rounds, one-line floor ([0-9.]+) ns, "
                       r"two-line floor ([0-9.]+) ns")
_RTT_ROW = re.compile(r"^\s{2}(\S.*?)\s{2,}([0-9.]+)x \[\s*([0-9.]+)\.\.\s*([0-9.]+)\]\s+"
                      r"([0-9.]+)x \[\s*([0-9.]+)\.\.\s*([0-9.]+)\]")
_RTT_HEAD = re.compile(r"^(\d+) rounds of (\d+) round trips each; (\d+) dropped")


def parse_rtt_rounds(text: str, cfg: dict, placement: Placement) -> dict:
    res = {"modes": {}, "rounds": None, "trips": None, "dropped": None}
    mode = None
    for line in text.splitlines():
        if m := _RTT_HEAD.match(line):
            res["rounds"], res["trips"], res["dropped"] = (int(m.group(i)) for i in (1, 2, 3))
        elif m := _RTT_MODE.match(line):
            mode = m.group(1)
            res["modes"][mode] = {"rounds": int(m.group(2)), "floor_ns": float(m.group(3)),
                                  "floor2_ns": float(m.group(4)), "rows": {},
                                  "placement": placement.mode_of(float(m.group(3)))}
        elif (m := _RTT_ROW.match(line)) and mode:
            label = m.group(1)
            info = cfg["rows"].get(label, {"name": label, "role": "sluice"})
            row = {"label": label, "role": info.get("role", "sluice"),
                   "by_floor": float(m.group(2)), "by_floor_iqr": [float(m.group(3)), float(m.group(4))],
                   "by_floor2": float(m.group(5)), "by_floor2_iqr": [float(m.group(6)), float(m.group(7))]}
            if "target" in info:
                op, bound = parse_bound(info["target"])
                row.update(target=fmt_bound(op, bound), issue=info.get("issue"),
                           verdict=check(op, row["by_floor"], bound))
            res["modes"][mode]["rows"][info["name"]] = row
    return res


_LB_ROUND = re.compile(r"^\s*(\d+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+(.*)$")
_LB_MED = re.compile(r"^median of (\d+) (\w+) rounds: (.*) GB/s$")


def parse_logbuf_rounds(text: str, cfg: dict) -> dict:
    res = {"rounds": [], "medians": {}}
    for line in text.splitlines():
        if m := _LB_ROUND.match(line):
            res["rounds"].append({"round": int(m.group(1)), "floor0_ns": float(m.group(2)),
                                  "floor1_ns": float(m.group(3)),
                                  "gbps": {"spsc": float(m.group(4)), "mpsc_1p": float(m.group(5)),
                                           "mpsc_2p": float(m.group(6))},
                                  "verdict": m.group(7).strip()})
        elif m := _LB_MED.match(line):
            n, mode, rest = int(m.group(1)), m.group(2), m.group(3).split()
            if n == 0:
                continue
            vals = {rest[i]: float(rest[i + 1]) for i in range(0, len(rest) - 1, 2)}
            med = {"rounds": n, "gbps": vals, "comparisons": []}
            for c in cfg.get("compare", []):
                a, b = vals.get(c["this"]), vals.get(c["to"])
                ratio = a / b if a and b else None
                cmp_ = {"this": c["this"], "to": c["to"], "ratio": ratio, "better": c["better"],
                        "means": c.get("means", "")}
                if "target" in c:
                    op, bound = parse_bound(c["target"])
                    cmp_.update(target=fmt_bound(op, bound), issue=c.get("issue"),
                                verdict=check(op, ratio, bound))
                med["comparisons"].append(cmp_)
            res["medians"][mode] = med
    return res


_CG_LINE = re.compile(r"^(probe_\w+)\s+([0-9.]+) instructions/op")


def run_callgrind(build: Path, cfg: dict, raw: Path) -> dict:
    probe = build / "perf" / "sluice_callgrind_probe"
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        return {"skipped": "valgrind is not installed"}
    if not probe.exists():
        return {"skipped": "sluice_callgrind_probe is not built"}
    rc, err = run_logged([str(ROOT / "scripts" / "callgrind-paths"), str(build)],
                         raw / "callgrind.txt", 600)
    if rc != 0:
        return {"error": f"scripts/callgrind-paths exited {rc}: {err.strip()[-300:]}"}
    counts = {}
    for line in (raw / "callgrind.txt").read_text().splitlines():
        if m := _CG_LINE.match(line):
            counts[m.group(1)] = float(m.group(2))
    res = {"instructions_per_op": counts, "targets": [], "comparisons": []}
    for name, t in cfg.get("targets", {}).items():
        v = counts.get(name)
        res["targets"].append({"probe": name, "issue": t.get("issue"), "value": v,
                               "target": fmt_bound(t["op"], t["value"], "instructions"),
                               "verdict": check(t["op"], v, t["value"]), "means": t.get("means", "")})
    for c in cfg.get("compare", []):
        a, b = counts.get(c["this"]), counts.get(c["to"])
        res["comparisons"].append({"this": c["this"], "to": c["to"], "means": c.get("means", ""),
                                   "ratio": a / b if a and b else None})
    return res


def _find_percentiles(obj, path=""):
    """Yields (path, {p50, p99, p999} in ns) for every dict that holds percentile keys."""
    if isinstance(obj, dict):
        found = {}
        for k, v in obj.items():
            if not isinstance(v, (int, float)):
                continue
            key = re.sub(r"[^a-z0-9]", "", k.lower())
            scale = 1.0
            for unit, s in (("ns", 1.0), ("us", 1e3), ("ms", 1e6)):
                if key.endswith(unit):
                    key, scale = key[: -len(unit)], s
                    break
            if key in ("p50", "median"):
                found["p50"] = v * scale
            elif key == "p99":
                found["p99"] = v * scale
            elif key in ("p999", "p9990"):
                found["p999"] = v * scale
            elif key == "count":
                found["count"] = v
        if "p50" in found and "p99" in found:
            yield path, found
        for k, v in obj.items():
            yield from _find_percentiles(v, f"{path}.{k}" if path else k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _find_percentiles(v, f"{path}[{i}]")


def pipeline_rows(build: Path, raw: Path, quick: bool) -> dict:
    """Hook for examples/pipeline: tick-to-trade p50 / p99 / p99.9 from `pipeline --json FILE`.

    Runs only when the build has examples/pipeline and its --help lists --json; otherwise the
    reason is returned as 'skipped' and nothing else depends on it. The JSON is searched for an
    object with p50 and p99 keys (p99_9 / p999 optional; an _ns, _us or _ms suffix gives the
    unit, ns when none), preferring one whose path names tick-to-trade. The pipeline's own
    defaults make the run (a 2 M-message synthetic day at 1 M messages/s); --quick asks for
    10^5 messages where the pipeline has --messages.
    """
    exe = build / "examples" / "pipeline"
    if not exe.exists():
        return {"skipped": "the build has no examples/pipeline"}
    helptext = ""
    try:
        p = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=10)
        helptext = p.stdout + p.stderr
    except (OSError, subprocess.TimeoutExpired):
        pass
    if "--json" not in helptext:
        return {"skipped": "examples/pipeline has no --json option"}
    out = raw / "pipeline.json"
    out.unlink(missing_ok=True)
    cmd = [str(exe), "--json", str(out)]
    if "--quiet" in helptext:
        cmd.append("--quiet")
    if quick and "--messages" in helptext:
        cmd += ["--messages", "100000"]
    rc, err = run_logged(cmd, raw / "pipeline.txt", 600)
    if not out.exists():
        return {"error": f"pipeline --json exited {rc} and wrote no JSON: {err.strip()[-300:]}"}
    try:
        data = json.loads(out.read_text())
    except ValueError as e:
        return {"error": f"pipeline --json wrote no JSON: {e}"}
    hits = list(_find_percentiles(data))
    if not hits:
        return {"error": "no p50/p99 keys in the pipeline's JSON"}
    hits.sort(key=lambda h: 0 if re.search(r"tick|t2t|quote.?to.?order", h[0], re.I) else 1)
    path, pct = hits[0]
    return {"source": path or "(top level)", "p50_ns": pct.get("p50"), "p99_ns": pct.get("p99"),
            "p999_ns": pct.get("p999"), "count": pct.get("count"),
            "clean": data.get("clean") if isinstance(data, dict) else None,
            "quick": quick, "cmd": cmd, "exit": rc}


# ---------------------------------------------------------------- the run


def select(names: list[str], spec: dict, pattern: re.Pattern | None) -> list[str]:
    """The names matching --filter, plus every reference they are compared with."""
    if pattern is None:
        return names
    chosen = [n for n in names if pattern.search(n)]
    need = set(chosen)
    for n in chosen:
        for c in spec.get(n, {}).get("compare", []):
            need.update(c["to"] if isinstance(c["to"], list) else [c["to"]])
    return [n for n in names if n in need]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Run sluice's benchmark binaries with repetitions; write medians and ratios "
                    "to the peers and floors of the same run (docs/BENCHMARKS.md).")
    ap.add_argument("--build-dir", default=os.environ.get("SLUICE_BUILD_ROOT",
                                                          str(ROOT / "build-bench")),
                    help="a Release tree with perf/ built (default: build-bench)")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per benchmark (default 5)")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run: {QUICK_REPS} repetitions, min time {QUICK_MIN_TIME} s, short "
                         "harness runs; for CI, not for figures")
    ap.add_argument("--min-time", type=float, default=None,
                    help="seconds per repetition for every binary (default: per binary, "
                         "perf/bench_peers.json)")
    ap.add_argument("--filter", default=None,
                    help="regex on benchmark names; the peers and floors they are compared "
                         "with run too")
    ap.add_argument("--only", action="append", default=[],
                    help="run only this binary (repeatable, or comma-separated); also "
                         "sluice_callgrind_probe and pipeline")
    ap.add_argument("--out", default=None, help="directory for bench.json and bench.md "
                                                "(default: BUILD/bench-out)")
    ap.add_argument("--results", action="store_true",
                    help="also rewrite the generated part of perf/RESULTS.md")
    ap.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts")
    ap.add_argument("--no-build", action="store_true", help=argparse.SUPPRESS)  # for scripts/bench
    ap.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    ap.add_argument("--from-json", default=None, metavar="FILE",
                    help="run nothing: render FILE (a bench.json) again, to --out and with "
                         "--results to perf/RESULTS.md")
    args = ap.parse_args(argv)

    if args.from_json:
        result = json.loads(Path(args.from_json).read_text())
        md = render_markdown(result)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / "bench.md").write_text(md)
        if args.results:
            write_results(md)
        print(md)
        return 0

    t_start = time.monotonic()
    peers = json.loads(PEERS_FILE.read_text())
    placement = Placement(peers["placement"])
    build = Path(args.build_dir).resolve()
    out_dir = Path(args.out).resolve() if args.out else build / "bench-out"
    raw = out_dir / "raw"
    reps = QUICK_REPS if args.quick else args.reps
    if reps < 1:
        ap.error("--reps must be at least 1")
    only = {x for o in args.only for x in o.split(",") if x}
    known = {b["name"] for b in peers["binaries"]} | {"sluice_callgrind_probe", "pipeline"}
    if unknown := only - known:
        ap.error(f"--only: unknown {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    pattern = re.compile(args.filter) if args.filter else None
    if args.results and (args.quick or only or pattern):
        log("note: --results with --quick, --only or --filter writes a partial table")

    def wanted(name: str) -> bool:
        return not only or name in only

    plan = [b for b in peers["binaries"] if wanted(b["name"])]
    if args.dry_run:
        for b in plan:
            if b["kind"] == "gbench":
                how = (f"{reps} repetitions, min time "
                       f"{QUICK_MIN_TIME if args.quick else args.min_time or b.get('min_time')} s")
                if b.get("rounds"):
                    how += ", then " + " ".join(b["rounds"]["quick_args" if args.quick else "args"])
            else:
                how = "arguments " + " ".join(b["quick_args" if args.quick else "args"])
            pin = f"taskset -c {b['taskset']}" if b.get("taskset") else "pins itself"
            print(f"{b['name']}: {how}; {pin}")
        return 0

    raw.mkdir(parents=True, exist_ok=True)
    perf_dir = build / "perf"
    not_run = sorted(p.name for p in perf_dir.glob("sluice_*")
                     if p.is_file() and os.access(p, os.X_OK) and p.name not in known) \
        if perf_dir.is_dir() and not only and pattern is None else []
    result: dict = {
        "schema": 1,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        **git_info(), "machine": machine_info(), "reps": reps, "quick": args.quick,
        "filter": args.filter, "only": sorted(only),
        "command": "scripts/bench " + " ".join(shlex.quote(a) for a in argv if a != "--no-build"),
        "load_avg_start": load_avg(), "binaries": {}, "floors": [], "failures": [],
        "not_run": not_run,
    }

    probe_n = 0

    def probe(tag: str) -> dict:
        nonlocal probe_n
        probe_n += 1
        f = floor_probe(build, placement, raw, f"{probe_n:02d}_{tag.replace(' ', '_')}",
                        args.quick)
        f["when"] = tag
        result["floors"].append(f)
        ns = "–" if f["ns"] is None else f"{f['ns']:.1f} ns"
        log(f"floor {tag}: {ns} ({f['mode']})")
        return f

    def contended(f: dict) -> str | None:
        """Why a round-by-round harness is not worth running now, or None."""
        if f["mode"] != "contended":
            return None
        return (f"not run: the floor read {_ns(f['ns'])} just before (another process holds a "
                "vCPU; every round trip would wait for the scheduler)")

    before = probe("start")
    for b in plan:
        name, kind = b["name"], b["kind"]
        exe = build / "perf" / name
        entry: dict = {"kind": kind, "about": b.get("about", "")}
        result["binaries"][name] = entry
        if not exe.exists():
            entry["error"] = f"{exe} is not built"
            result["failures"].append(entry["error"])
            log(entry["error"])
            continue
        t0 = time.monotonic()
        if kind == "gbench":
            spec = peers["benchmarks"].get(name, {})
            names = list_tests(exe)
            chosen = select(names, spec, pattern)
            if not chosen:
                entry["skipped"] = "no benchmark matches --filter"
                entry["filtered_out"] = True
                continue
            min_time = QUICK_MIN_TIME if args.quick else (args.min_time or b.get("min_time", 0.5))
            cmd = ([ "taskset", "-c", b["taskset"]] if b.get("taskset") else []) + [
                str(exe), f"--benchmark_repetitions={reps}", f"--benchmark_min_time={min_time}",
                "--benchmark_enable_random_interleaving=true",
                f"--benchmark_out={raw / (name + '.json')}", "--benchmark_out_format=json"]
            if pattern is not None:
                cmd.append(f"--benchmark_filter={gbench_filter(chosen)}")
            (raw / f"{name}.json").unlink(missing_ok=True)  # never read an earlier run's file
            log(f"{name}: {len(chosen)} benchmarks x {reps} repetitions, min time {min_time} s")
            rc, err = run_logged(cmd, raw / f"{name}.txt", b.get("timeout_s", BINARY_TIMEOUT_S))
            entry.update(cmd=cmd, exit=rc, min_time=min_time)
            if rc != 0 or not (raw / f"{name}.json").exists():
                entry["error"] = f"exit {rc}: {err.strip()[-500:]}"
                result["failures"].append(f"{name}: {entry['error']}")
                log(f"{name} failed: {entry['error']}")
            else:
                runs, order = parse_gbench_json(raw / f"{name}.json")
                order = [n for n in names if n in runs] + [n for n in order if n not in names]
                entry.update(compute_binary(name, spec, runs, order))
                # The binary's own floor, repetition by repetition (interleaved through the run).
                own = entry["benchmarks"].get(placement.probe["benchmark"])
                if own and own["reps"]:
                    entry["own_floor"] = {"ns": own["median"], "reps": own["reps"],
                                          "mode": placement.verdict(own["reps"])}
            if b.get("rounds") and (pattern is None or pattern.search("logbuf_rounds")) and \
                    contended(before):
                entry["logbuf_rounds"] = {"skipped": contended(before)}
            elif b.get("rounds") and (pattern is None or pattern.search("logbuf_rounds")):
                rargs = b["rounds"]["quick_args" if args.quick else "args"]
                log(f"{name} {' '.join(rargs)}")
                rc, err = run_logged([str(exe), *rargs], raw / f"{name}_rounds.txt",
                                     b["rounds"].get("timeout_s", 300))
                if rc != 0:
                    result["failures"].append(f"{name} {' '.join(rargs)}: exit {rc}")
                    entry["logbuf_rounds"] = {"error": f"exit {rc}: {err.strip()[-300:]}"}
                else:
                    entry["logbuf_rounds"] = parse_logbuf_rounds(
                        (raw / f"{name}_rounds.txt").read_text(), peers["logbuf_rounds"])
                    entry["logbuf_rounds"]["args"] = rargs
        elif kind == "rtt_rounds":
            if pattern is not None and not pattern.search("rtt_rounds"):
                entry["skipped"] = "not selected by --filter"
                entry["filtered_out"] = True
                continue
            if contended(before):
                entry["skipped"] = contended(before)
                log(f"{name}: {entry['skipped']}")
                continue
            rargs = b["quick_args" if args.quick else "args"]
            log(f"{name} {' '.join(rargs)}")
            rc, err = run_logged([str(exe), *rargs], raw / f"{name}.txt",
                                 b.get("timeout_s", BINARY_TIMEOUT_S))
            entry.update(cmd=[str(exe), *rargs], exit=rc)
            if rc != 0:
                entry["error"] = f"exit {rc}: {err.strip()[-500:]}"
                result["failures"].append(f"{name}: {entry['error']}")
            else:
                entry.update(parse_rtt_rounds((raw / f"{name}.txt").read_text(),
                                              peers["rtt_rounds"], placement))
        entry["elapsed_s"] = round(time.monotonic() - t0, 1)
        after = probe(f"after {name}")
        entry["placement"] = {"before_ns": before["ns"], "after_ns": after["ns"],
                              "mode": placement.verdict([before["ns"], after["ns"]])}
        if b.get("threads") == 1:
            # One thread: where the two vCPUs sit does not matter, another process on them does.
            entry["placement"]["mode"] = ("contended" if "contended" in (before["mode"], after["mode"])
                                          else "one thread")
        if entry.get("own_floor") and entry["own_floor"]["mode"] != entry["placement"]["mode"]:
            if "mixed" in (entry["own_floor"]["mode"], entry["placement"]["mode"]) or \
                    entry["own_floor"]["mode"].split()[0] != entry["placement"]["mode"].split()[0]:
                entry["placement"]["mode"] = "mixed"
        log(f"{name}: {entry['elapsed_s']} s, placement {entry['placement']['mode']}")
        before = after

    if not args.no_callgrind and wanted("sluice_callgrind_probe") and pattern is None:
        log("instruction counts (scripts/callgrind-paths)")
        result["callgrind"] = run_callgrind(build, peers["callgrind"], raw)
    if wanted("pipeline") and pattern is None:
        result["pipeline"] = pipeline_rows(build, raw, args.quick)

    readings = [f["ns"] for f in result["floors"] if f["ns"] is not None]
    counts: dict[str, int] = {}
    for r in readings:
        counts[placement.mode_of(r)] = counts.get(placement.mode_of(r), 0) + 1
    result["placement"] = {
        "mode": (max(counts, key=counts.get) if len(counts) == 1 else "mixed") if counts else "unknown",
        "modes": counts, "floor_median_ns": statistics.median(readings) if readings else None,
        "floor_min_ns": min(readings) if readings else None,
        "floor_max_ns": max(readings) if readings else None,
    }
    result["load_avg_end"] = load_avg()
    result["elapsed_s"] = round(time.monotonic() - t_start, 1)
    result["targets"] = collect_targets(result)

    md = render_markdown(result)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    (out_dir / "bench.md").write_text(md)
    log(f"wrote {out_dir / 'bench.json'} and {out_dir / 'bench.md'} "
        f"({result['elapsed_s']:.0f} s in all)")
    if args.results:
        write_results(md)
        log(f"rewrote the generated part of {RESULTS_FILE.relative_to(ROOT)}")
    print(md)
    for u in (n for e in result["binaries"].values() for n in e.get("unmapped", [])):
        log(f"note: {u} is not in perf/bench_peers.json (shown without a role or ratio)")
    if result["failures"]:
        for f in result["failures"]:
            log(f"FAILED: {f}")
        return 1
    return 0


def rounds_where(mode_name: str, m: dict) -> str:
    """The harness's own name for a set of rounds, and what their floor says by our bounds."""
    ours = m.get("placement", mode_name)
    if ours != mode_name:
        return f"{ours} (floor {_ns(m['floor_ns'])}; the harness says {mode_name}; {m['rounds']} rounds)"
    return f"{mode_name} ({m['rounds']} rounds)"


def collect_targets(result: dict) -> list[dict]:
    out = []
    for bname, e in result["binaries"].items():
        mode = e.get("placement", {}).get("mode", "")
        for t in e.get("targets", []):
            out.append({**t, "placement": mode})
        if bname == "sluice_rtt_rounds":
            for mode_name, m in e.get("modes", {}).items():
                for rname, row in m["rows"].items():
                    if "target" in row:
                        out.append({"binary": bname, "benchmark": f"{rname} (rounds)",
                                    "issue": row["issue"],
                                    "target": f"{row['target']} floor", "value": row["by_floor"],
                                    "shown": f"{fmt_ratio(row['by_floor'])} "
                                             f"[{row['by_floor_iqr'][0]:.2f}–{row['by_floor_iqr'][1]:.2f}]",
                                    "verdict": row["verdict"],
                                    "placement": rounds_where(mode_name, m)})
        for mode_name, med in (e.get("logbuf_rounds") or {}).get("medians", {}).items():
            for c in med["comparisons"]:
                if "target" in c:
                    out.append({"binary": bname, "benchmark": f"logbuf {c['this']} (rounds)",
                                "issue": c["issue"], "target": f"{c['target']} {c['to']}",
                                "value": c["ratio"], "shown": fmt_ratio(c["ratio"]),
                                "verdict": c["verdict"],
                                "placement": f"{mode_name} ({med['rounds']} rounds)"})
    for t in (result.get("callgrind") or {}).get("targets", []):
        out.append({"binary": "sluice_callgrind_probe", "benchmark": t["probe"],
                    "issue": t["issue"], "target": t["target"], "value": t["value"],
                    "shown": "–" if t["value"] is None else f"{t['value']:.1f} instructions",
                    "verdict": t["verdict"], "placement": "any (instruction count)"})
    out.sort(key=lambda t: (t.get("issue") or 0))
    return out


# ---------------------------------------------------------------- markdown


def _verdict(v: str | None, placement: str = "") -> str:
    """A verdict as shown; one taken while the VM was contended or changed placement says so."""
    if v is None:
        return ""
    shown = "**miss**" if v == "miss" else v
    for bad in ("contended", "mixed"):
        if placement.startswith(bad):
            shown += f" ({bad})"
    return shown


def _ns(v: float | None) -> str:
    if v is None:
        return "–"
    return fmt_metric(v, "time") if v >= 1000 else f"{v:.0f} ns" if v >= 100 else f"{v:.1f} ns"


def render_markdown(r: dict) -> str:
    L: list[str] = []
    m = r["machine"]
    p = r["placement"]
    commit = r["commit"] + (f" + uncommitted changes ({len(r['uncommitted'])} files)"
                            if r["uncommitted"] else "")
    modes = ", ".join(f"{k} {v}" for k, v in sorted(p["modes"].items(), key=lambda x: -x[1]))
    mins, secs = divmod(int(r["elapsed_s"]), 60)
    la = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    min_times = sorted({e["min_time"] for e in r["binaries"].values() if "min_time" in e})
    L += [f"## Run of {r['date']}", "",
          "| | |", "|---|---|",
          f"| date | {r['date']} |",
          f"| commit | {commit} |",
          f"| machine | `lscpu`: {m['model']}, {m['cpus']} CPUs"
          + (f", {m['hypervisor']} guest" if m.get("hypervisor") else "") + f"; kernel {m['kernel']} |",
          f"| placement | **{p['mode']}**: one-line floor {_ns(p['floor_median_ns'])} "
          f"(median of {sum(p['modes'].values())} readings, {_ns(p['floor_min_ns'])}–"
          f"{_ns(p['floor_max_ns'])}; {modes}) |",
          f"| repetitions | {r['reps']} per benchmark, randomly interleaved; medians; min time "
          f"{', '.join(f'{t:g}' for t in min_times) or '–'} s per repetition |",
          f"| load average | {la(r['load_avg_start'])} at the start, {la(r['load_avg_end'])} at the end |",
          f"| command | `{r['command']}` ({mins} min {secs:02d} s) |", ""]
    if r["failures"]:
        L += ["**Failures:** " + "; ".join(r["failures"]), ""]
    if r.get("not_run"):
        L += ["Built but not run here (not in perf/bench_peers.json): "
              + ", ".join(f"`{n}`" for n in r["not_run"]) + ".", ""]

    if r["targets"]:
        L += ["### Issue targets in this run", "",
              "| issue | benchmark | target | this run | verdict | placement |",
              "|---|---|---|---|---|---|"]
        for t in r["targets"]:
            L.append(f"| {t.get('issue') or ''} | `{t['benchmark']}` | {t['target']} | {t['shown']} "
                     f"| {_verdict(t['verdict'], t.get('placement', '')) or '–'} "
                     f"| {t.get('placement', '')} |")
        L.append("")

    for bname, e in r["binaries"].items():
        if e.get("filtered_out"):
            continue
        head = f"### {bname}"
        pl = e.get("placement")
        if pl:
            head += (f" · {pl['mode']} (floor {_ns(pl['before_ns'])} before, "
                     f"{_ns(pl['after_ns'])} after)")
        if "elapsed_s" in e:
            head += f" · {e['elapsed_s']:.0f} s"
        L += [head, ""]
        for key in ("error", "skipped"):
            if e.get(key):
                L += [f"{key}: {e[key]}", ""]
        if e.get("own_floor"):
            f = e["own_floor"]
            L += [f"Its own `BM_spin_floor_rtt`, repetition by repetition: "
                  + ", ".join(_ns(v) for v in f["reps"]) + f" ({f['mode']}).", ""]
        if e.get("benchmarks"):
            L += ["| benchmark | role | median | spread | ratio | to | better | target | verdict |",
                  "|---|---|---|---|---|---|---|---|---|"]
            cmps: dict[str, list[dict]] = {}
            for c in e["comparisons"]:
                cmps.setdefault(c["benchmark"], []).append(c)
            for name, row in e["benchmarks"].items():
                spread = "–" if row["spread"] is None else f"{100 * row['spread']:.0f} %"
                med = fmt_metric(row["median"], row["metric"])
                if row.get("error"):
                    med = f"error: {row['error']}"
                lines = []
                abs_t = [t for t in e["targets"] if t["benchmark"] == name and "×" not in t["target"]]
                for t in abs_t:
                    lines.append(("", "", "", t["target"], t["verdict"]))
                for c in cmps.get(name, []):
                    to = c["label"] + ("" if c["to"] == c["to_declared"][0] and len(c["to_declared"]) == 1
                                       else f" ({c['to']})")
                    lines.append((fmt_ratio(c["ratio"]), to, c.get("better") or "",
                                  c.get("target", ""), c.get("verdict")))
                if not lines:
                    lines.append(("", "", "", "", None))
                for i, (ratio, to, better, target, verdict) in enumerate(lines):
                    v = _verdict(verdict, (pl or {}).get("mode", ""))
                    first = i == 0
                    L.append(f"| {'`' + name + '`' if first else ''} | {row['role'] if first else ''} "
                             f"| {med if first else ''} | {spread if first else ''} | {ratio} "
                             f"| {to} | {better} | {target} | {v} |")
            L.append("")
        if e.get("modes"):
            L += [f"{e.get('rounds')} rounds of {e.get('trips')} round trips, {e.get('dropped')} "
                  "dropped (the floor changed mode or moved by 25 % within the round). Each figure "
                  "is the median over rounds of the round trip divided by that round's own floor; "
                  "quartiles in brackets.", "",
                  "| placement (rounds) | floor / 2-line floor | round trip | / floor | / 2-line floor "
                  "| target | verdict |", "|---|---|---|---|---|---|---|"]
            for mode, md in e["modes"].items():
                first = True
                for rname, row in md["rows"].items():
                    v = row.get("verdict")
                    where = rounds_where(mode, md) if first else ""
                    floors = f"{md['floor_ns']:.1f} / {md['floor2_ns']:.1f} ns" if first else ""
                    by1 = (f"{row['by_floor']:.2f}× [{row['by_floor_iqr'][0]:.2f}–"
                           f"{row['by_floor_iqr'][1]:.2f}]")
                    by2 = (f"{row['by_floor2']:.2f}× [{row['by_floor2_iqr'][0]:.2f}–"
                           f"{row['by_floor2_iqr'][1]:.2f}]")
                    peer = " (peer)" if row["role"] == "peer" else ""
                    L.append(f"| {where} | {floors} | {rname}{peer} | {by1} | {by2} "
                             f"| {row.get('target', '')} | {_verdict(v, md.get('placement', ''))} |")
                    first = False
            L.append("")
        rounds = e.get("logbuf_rounds")
        if rounds and (rounds.get("skipped") or rounds.get("error")):
            L += [f"Interleaved rounds: {rounds.get('skipped') or rounds.get('error')}.", ""]
        if rounds and rounds.get("medians") is not None:
            L += [f"Interleaved rounds (`{bname} {' '.join(rounds.get('args', []))}`): "
                  f"{len(rounds['rounds'])} rounds, GB/s medians over the rounds of one placement:", "",
                  "| placement (rounds) | spsc | mpsc_1p | mpsc_2p | spsc / mpsc_1p | target | verdict |",
                  "|---|---|---|---|---|---|---|"]
            for mode, med in rounds["medians"].items():
                g = med["gbps"]
                c = med["comparisons"][0] if med["comparisons"] else {}
                v = c.get("verdict")
                L.append(f"| {mode} ({med['rounds']}) | {g.get('spsc', 0):.2f} | {g.get('mpsc_1p', 0):.2f} "
                         f"| {g.get('mpsc_2p', 0):.2f} | {fmt_ratio(c.get('ratio'))} | {c.get('target', '')} "
                         f"| {_verdict(v)} |")
            if not rounds["medians"]:
                L.append("| (no round stayed in one placement) | | | | | | |")
            L.append("")

    cg = r.get("callgrind")
    if cg:
        L += ["### Instructions per operation (`scripts/callgrind-paths`)", ""]
        if cg.get("skipped") or cg.get("error"):
            L += [cg.get("skipped") or cg.get("error"), ""]
        else:
            L += ["Identical from run to run; about 4 of each figure are the probe's loop.", "",
                  "| probe | instructions/op |", "|---|---|"]
            L += [f"| `{k}` | {v:.1f} |" for k, v in cg["instructions_per_op"].items()]
            L.append("")
            for c in cg["comparisons"]:
                L.append(f"* `{c['this']}` / `{c['to']}`: {fmt_ratio(c['ratio'])} ({c['means']})")
            L.append("")
    pl = r.get("pipeline")
    if pl:
        L += ["### Tick to trade (`examples/pipeline --json`)", ""]
        if pl.get("skipped") or pl.get("error"):
            L += [f"Not measured: {pl.get('skipped') or pl.get('error')}.", ""]
        else:
            args = " ".join(shlex.quote(a) for a in pl.get("cmd", [])[3:])
            clean = {True: "clean", False: "**not clean**", None: "–"}[pl.get("clean")]
            L += [f"`pipeline --json FILE {args}` (its defaults otherwise), exit {pl.get('exit')}, "
                  f"run {clean}; `{pl['source']}`:", "",
                  "| orders | p50 | p99 | p99.9 |", "|---|---|---|---|",
                  f"| {pl.get('count') if pl.get('count') is not None else '–'} | {_ns(pl['p50_ns'])} "
                  f"| {_ns(pl['p99_ns'])} | {_ns(pl['p999_ns'])} |", ""]
    return "\n".join(L).rstrip() + "\n"


def write_results(md: str) -> None:
    text = RESULTS_FILE.read_text() if RESULTS_FILE.exists() else ""
    block = f"{BEGIN}\n{md}{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    elif not text:
        text = f"# sluice benchmark results\n\n{block}\n"
    else:
        raise SystemExit(f"{RESULTS_FILE}: no {BEGIN} / {END} markers; add them where the "
                         "generated table goes")
    RESULTS_FILE.write_text(text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
