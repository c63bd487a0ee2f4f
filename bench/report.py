"""bench/results.md and the summary printed at the end: tables, ratios to the reference, targets."""

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.load import WrkResult

RESULTS = Path(__file__).resolve().parent / "results.md"

# Throughput targets, as a share of the reference's req/s; None: reported, no target.
TARGETS: dict[str, dict[str, float | None]] = {
    "sqlite": {
        "listing": 0.8,
        "listing_filtered": 0.8,
        "listing_304": 0.95,
        "detail": 0.8,
        "ics": None,
        "discounts": 0.8,
        "own_applications": 0.5,
        "session_applications": 0.5,
        "submission": 0.15,
        "quote_issue": None,
    },
    "postgresql": {
        "listing": 0.5,
        "listing_filtered": 0.5,
        "listing_304": 0.6,
        "detail": 0.5,
        "ics": None,
        "discounts": 0.5,
        "own_applications": 0.35,
        "session_applications": 0.35,
        "submission": 0.1,
        "quote_issue": None,
    },
}
P99_FACTOR = 3.0
MEMORY_GROWTH_TARGET = 1.5
SCALING_TARGET = 1.5


@dataclass
class Measured:
    key: str
    label: str
    request: str
    result: WrkResult
    # Seconds of stall (503 or no answer) waited out before the warm-up and before the measured run.
    stalled: tuple[float, float] = (0.0, 0.0)


@dataclass
class ScalingRow:
    label: str
    small: WrkResult
    large: WrkResult

    @property
    def ratio(self) -> float:
        """How much slower the large database is, in req/s (p50 is shown beside)."""
        return self.small.rate / self.large.rate if self.large.rate else float("inf")


@dataclass
class Memory:
    rss_after_first_kib: int
    hwm_after_first_kib: int
    rss_after_all_kib: int
    hwm_after_all_kib: int

    @property
    def growth(self) -> float:
        return self.rss_after_all_kib / self.rss_after_first_kib


@dataclass
class Report:
    started: datetime
    finished: datetime
    database: str
    dialect: str
    setup: list[str]
    counts: dict[str, int]
    reference_first: WrkResult
    reference_last: WrkResult
    measured: list[Measured]
    memory: Memory
    scaling: list[ScalingRow] = field(default_factory=list)
    scaling_note: str = ""
    # /proc/loadavg when the bench started and ended: other work on the machine skews every number.
    load_before: str = ""
    load_after: str = ""

    @property
    def reference_rate(self) -> float:
        """The mean of the two reference runs: the machine's state over the whole bench."""
        return (self.reference_first.rate + self.reference_last.rate) / 2

    @property
    def reference_p99(self) -> float:
        return (self.reference_first.p99_ms + self.reference_last.p99_ms) / 2

    @property
    def failed_workloads(self) -> list[Measured]:
        return [m for m in self.measured if m.result.errors]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> list[tuple[str, str]]:
    """CPU, cores, Python and the commit measured."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return [
        ("CPU", cpu),
        ("cores", str(os.cpu_count())),
        ("Python", platform.python_version()),
        ("kernel", platform.release()),
        ("git commit", commit + (" (with uncommitted changes)" if dirty else "")),
    ]


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _row(label: str, request: str, result: WrkResult, report: Report, target: float | None) -> str:
    ratio = result.rate / report.reference_rate
    p99_ratio = result.p99_ms / report.reference_p99
    throughput = "no target" if target is None else f"≥ {target:g}: {_verdict(ratio >= target)}"
    latency = f"≤ {P99_FACTOR:g}×: {_verdict(p99_ratio <= P99_FACTOR)}"
    errors = f"**{result.errors} ERRORS**" if result.errors else "0"
    return (
        f"| {label} | `{request}` | {result.rate:,.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} "
        f"| {errors} | {ratio:.3f} | {throughput} | {p99_ratio:.2f} | {latency} |"
    )


def render(report: Report) -> str:
    """The whole of bench/results.md."""
    lines = [
        "# `make bench` results",
        "",
        f"Run {report.started:%Y-%m-%d %H:%M} UTC, "
        f"{(report.finished - report.started).total_seconds():.0f} s in all. "
        "Generated by `python -m bench`; overwritten on every run.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in machine()],
        f"| database | {report.database} |",
        f"| load average (1, 5, 15 min) | {report.load_before} at the start, {report.load_after} at the end "
        "|",
        "",
        "## Setup",
        "",
        *[f"- {line}" for line in report.setup],
        "",
        "Seeded rows: " + ", ".join(f"{count:,} {name}" for name, count in report.counts.items()) + ".",
        "",
        "## Throughput and latency",
        "",
        f"Reference: first run {report.reference_first.rate:,.0f} req/s "
        f"(p99 {report.reference_first.p99_ms:.2f} ms), last run {report.reference_last.rate:,.0f} req/s "
        f"(p99 {report.reference_last.p99_ms:.2f} ms); "
        f"ratios use their mean, {report.reference_rate:,.0f} req/s and p99 {report.reference_p99:.2f} ms.",
        "",
        "| workload | request | req/s | p50 ms | p99 ms | errors | ratio | target | p99 ratio | p99 target |",
        "|---|---|---:|---:|---:|---|---:|---|---:|---|",
        f"| reference (first) | `GET /status` | {report.reference_first.rate:,.0f} | "
        f"{report.reference_first.p50_ms:.2f} | {report.reference_first.p99_ms:.2f} | "
        f"{report.reference_first.errors} | | | | |",
    ]
    targets = TARGETS[report.dialect]
    for measured in report.measured:
        lines.append(_row(measured.label, measured.request, measured.result, report, targets[measured.key]))
    lines += [
        f"| reference (last) | `GET /status` | {report.reference_last.rate:,.0f} | "
        f"{report.reference_last.p50_ms:.2f} | {report.reference_last.p99_ms:.2f} | "
        f"{report.reference_last.errors} | | | | |",
        "",
    ]
    failed = report.failed_workloads
    if failed:
        lines += [
            "**Workloads with errors (non-2xx/3xx answers or socket errors): "
            + ", ".join(m.label for m in failed)
            + ". Their numbers do not measure the intended work.**",
            "",
        ]
    stalled = [m for m in report.measured if max(m.stalled) >= 0.5]
    if stalled:
        lines += [
            "Stalls: before these runs the service answered 503 (database unavailable) or not at all for a "
            "while after the previous wrk run ended and dropped its connections with requests in flight "
            "(the service keeps a dropped request's transaction open until garbage collection); the "
            "checked request was retried until it succeeded: "
            + "; ".join(
                f"{m.label}: {m.stalled[0]:.1f} s before the warm-up, "
                f"{m.stalled[1]:.1f} s before the measured run"
                for m in stalled
            )
            + ".",
            "",
        ]
    memory = report.memory
    lines += [
        "## Memory of the service process",
        "",
        "| | VmRSS MiB | VmHWM (peak) MiB |",
        "|---|---:|---:|",
        f"| after the first workload | {_mib(memory.rss_after_first_kib)} "
        f"| {_mib(memory.hwm_after_first_kib)} |",
        f"| after every workload | {_mib(memory.rss_after_all_kib)} | {_mib(memory.hwm_after_all_kib)} |",
        "",
        f"RSS after all / after first: {memory.growth:.2f} (target ≤ {MEMORY_GROWTH_TARGET:g}: "
        f"{_verdict(memory.growth <= MEMORY_GROWTH_TARGET)}).",
        "",
        "## Scaling: 1,000 against 100,000 applications",
        "",
    ]
    if report.scaling:
        lines += [
            report.scaling_note,
            "",
            "| workload | req/s at 1k | p50 ms at 1k | req/s at 100k | p50 ms at 100k | slowdown | "
            f"target ≤ {SCALING_TARGET:g} |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for row in report.scaling:
            lines.append(
                f"| {row.label} | {row.small.rate:,.0f} | {row.small.p50_ms:.2f} | {row.large.rate:,.0f} | "
                f"{row.large.p50_ms:.2f} | {row.ratio:.2f} | {_verdict(row.ratio <= SCALING_TARGET)} |"
            )
    else:
        lines.append(report.scaling_note or "Skipped (BENCH_SCALING=0).")
    lines.append("")
    return "\n".join(lines)


def summary(report: Report) -> str:
    """A few lines for the terminal."""
    targets = TARGETS[report.dialect]
    lines = [
        f"load average {report.load_before} at the start, {report.load_after} at the end "
        f"({os.cpu_count()} cores)",
        f"{report.database}; reference {report.reference_rate:,.0f} req/s (mean of "
        f"{report.reference_first.rate:,.0f} first and {report.reference_last.rate:,.0f} last), "
        f"p99 {report.reference_p99:.2f} ms",
    ]
    for measured in report.measured:
        result = measured.result
        ratio = result.rate / report.reference_rate
        target = targets[measured.key]
        verdict = "no target" if target is None else f"{_verdict(ratio >= target)} (≥ {target:g})"
        p99 = _verdict(result.p99_ms <= P99_FACTOR * report.reference_p99)
        errors = f"  !!! {result.errors} ERRORS !!!" if result.errors else ""
        lines.append(
            f"  {measured.label:38} {result.rate:8,.0f} req/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:8.2f} ms  ratio {ratio:.3f} {verdict}  p99 {p99}{errors}"
        )
    memory = report.memory
    lines.append(
        f"  memory: RSS {memory.rss_after_first_kib / 1024:.0f} MiB after the first workload, "
        f"{memory.rss_after_all_kib / 1024:.0f} MiB after all ({memory.growth:.2f}, "
        f"{_verdict(memory.growth <= MEMORY_GROWTH_TARGET)}), peak {memory.hwm_after_all_kib / 1024:.0f} MiB"
    )
    for row in report.scaling:
        lines.append(
            f"  scaling {row.label:30} {row.small.rate:,.0f} -> {row.large.rate:,.0f} req/s, "
            f"slowdown {row.ratio:.2f} ({_verdict(row.ratio <= SCALING_TARGET)})"
        )
    return "\n".join(lines)
