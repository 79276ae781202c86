"""Benchmark the drift-metric core against Evidently's data drift report on the same data.

Measures, for N rows x F numeric features (default 1,000,000 x 50) against a reference of the
same size:
- building the reference profile;
- accumulating the window in batches (default 10,000 rows), single-threaded, which gives the
  ingestion rate in rows per second;
- closing the window and computing all five statistics for every feature;
- Evidently's DataDriftPreset with psi, ks, jensenshannon and wasserstein on the numeric
  columns plus chisquare on the same columns binned into this library's reference deciles
  (Evidently's chisquare only takes categorical columns), run in a separate interpreter;
- traced memory (tracemalloc) and RSS of one window as it grows to 10k, 100k, 1M and 5M rows,
  and the memory of the cell lookup tables that a profile builds on first use.

This library's timed part runs `--repeats` times and Evidently `--evidently-runs` times, each
after one of this library's runs. Both report wall-clock and CPU time, because the machine may
be shared, and the load average is printed before and after. Evidently goes in a venv of its
own, outside the project's dependencies:

    python3 -m venv /tmp/evidently-venv
    /tmp/evidently-venv/bin/pip install evidently "pandas<3"

(evidently 0.7.23 fails to import with pandas 3.) Run from the repository root:

    .venv/bin/python benchmarks/drift_benchmark.py --evidently-python /tmp/evidently-venv/bin/python

Without --evidently-python the comparison is skipped. Results print as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
from modelward_governance.monitoring import (
    DriftMethod,
    MonitoringConfig,
    NumericProfile,
    ReferenceProfile,
    WindowAccumulator,
    WindowConfig,
    build_reference_profile,
    compute_drift_report,
)

# Runs inside the Evidently interpreter. It reads the arrays written by `run_evidently`, times
# Dataset construction plus Report.run (wall clock and process CPU time), and prints one JSON
# line with the timings and the per-column values of each method.
EVIDENTLY_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
import evidently
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

folder = sys.argv[1]
reference = np.load(folder + "/reference.npy")
current = np.load(folder + "/current.npy")
edges = np.load(folder + "/edges.npy", allow_pickle=True)
numeric = [f"f{i}" for i in range(reference.shape[0])]
binned = [f"bin{i}" for i in range(reference.shape[0])]

def frame(data):
    columns = {name: data[i] for i, name in enumerate(numeric)}
    for i, name in enumerate(binned):
        columns[name] = np.searchsorted(edges[i], data[i], side="right")
    return pd.DataFrame(columns)

reference_frame = frame(reference)
current_frame = frame(current)
del reference, current
definition = DataDefinition(numerical_columns=numeric, categorical_columns=binned)
methods = ("psi", "ks", "jensenshannon", "wasserstein")
presets = [DataDriftPreset(columns=numeric, method=m) for m in methods]
presets.append(DataDriftPreset(columns=binned, method="chisquare"))
started = time.perf_counter()
cpu_started = time.process_time()
reference_data = Dataset.from_pandas(reference_frame, data_definition=definition)
current_data = Dataset.from_pandas(current_frame, data_definition=definition)
snapshot = Report(presets).run(current_data, reference_data)
elapsed = time.perf_counter() - started
cpu = time.process_time() - cpu_started
values = {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config.get("column") is not None:
        values[config["method"] + ":" + config["column"]] = float(metric["value"])
versions = {"version": evidently.__version__, "pandas": pd.__version__}
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "values": values, **versions}))
"""


@dataclass(frozen=True)
class OwnTiming:
    """Timings of this library on one data set, in seconds.

    `total_cpu` is the process CPU time of accumulation and report together, which a shared
    machine inflates less than the wall-clock `total`.
    """

    build: float
    accumulate: float
    report: float
    accumulate_cpu: float
    total_cpu: float
    profile_bytes: int
    drifted: int

    @property
    def total(self) -> float:
        return self.accumulate + self.report


def make_data(rows: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return reference and current arrays of shape (features, rows).

    A fifth of the current features shift by 0.05 standard deviations, a fifth widen by 10%,
    and the rest keep the reference distribution.
    """
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=(features, rows))
    current = rng.normal(size=(features, rows))
    fifth = max(features // 5, 1)
    current[:fifth] += 0.05
    current[fifth : 2 * fifth] *= 1.1
    return reference, current


def single_window_config() -> MonitoringConfig:
    """Return a config whose window never closes by itself, so one window takes every batch.

    A row limit would close the window inside the last `add_batch`, before the timed close.
    """
    return MonitoringConfig(window=WindowConfig(max_rows=None, max_duration_seconds=1e12))


def time_own(
    reference: np.ndarray, current: np.ndarray, batch_rows: int
) -> tuple[OwnTiming, ReferenceProfile, dict[str, dict[str, float]]]:
    """Time profile building, accumulation and the report; return the statistics per column."""
    names = [f"f{i}" for i in range(reference.shape[0])]
    started = time.perf_counter()
    profile = build_reference_profile({name: reference[i] for i, name in enumerate(names)})
    build = time.perf_counter() - started
    profile_bytes = len(profile.to_bytes())

    config = single_window_config()
    batches = [
        {name: current[i, start : start + batch_rows] for i, name in enumerate(names)}
        for start in range(0, current.shape[1], batch_rows)
    ]
    accumulator = WindowAccumulator(profile, config)
    cpu_started = time.process_time()
    started = time.perf_counter()
    for step, batch in enumerate(batches):
        accumulator.add_batch(batch, now=float(step))
    accumulate = time.perf_counter() - started
    accumulate_cpu = time.process_time() - cpu_started

    started = time.perf_counter()
    window = accumulator.close(now=float(len(batches)))
    report = compute_drift_report(profile, window, config)
    report_seconds = time.perf_counter() - started
    total_cpu = time.process_time() - cpu_started

    values: dict[str, dict[str, float]] = {}
    for column in report.features:
        values[column.column] = {result.method.value: result.value for result in column.metrics}
        ks = column.metric(DriftMethod.KOLMOGOROV_SMIRNOV)
        values[column.column]["ks_p_value"] = ks.p_value if ks is not None and ks.p_value else 0.0
    timing = OwnTiming(
        build=build,
        accumulate=accumulate,
        report=report_seconds,
        accumulate_cpu=accumulate_cpu,
        total_cpu=total_cpu,
        profile_bytes=profile_bytes,
        drifted=len(report.drifted_features),
    )
    return timing, profile, values


def time_ingestion_with_ids(
    profile: ReferenceProfile, current: np.ndarray, batch_rows: int, batches: int
) -> tuple[float, float]:
    """Return rows per wall-clock second and per CPU second of `add_batch` with request ids.

    Request ids also fill the label-join buffer, one dict entry per row.
    """
    names = list(profile.features)
    accumulator = WindowAccumulator(profile, single_window_config())
    batch = {name: current[i, :batch_rows] for i, name in enumerate(names)}
    id_lists = [[f"r{step}-{row}" for row in range(batch_rows)] for step in range(batches)]
    cpu_started = time.process_time()
    started = time.perf_counter()
    for step, ids in enumerate(id_lists):
        accumulator.add_batch(batch, request_ids=ids, now=float(step))
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    rows = batch_rows * batches
    return rows / wall, rows / cpu


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def measure_memory(
    profile: ReferenceProfile, current: np.ndarray, batch_rows: int, checkpoints: list[int]
) -> list[tuple[int, int, int]]:
    """Return (rows, traced bytes, RSS bytes) of one growing window at each checkpoint."""
    names = list(profile.features)
    batch = {name: current[i, :batch_rows].copy() for i, name in enumerate(names)}
    results: list[tuple[int, int, int]] = []
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        accumulator = WindowAccumulator(profile, single_window_config())
        rows = 0
        for checkpoint in sorted(checkpoints):
            while rows < checkpoint:
                accumulator.add_batch(batch, now=float(rows))
                rows += batch_rows
            results.append((rows, tracemalloc.get_traced_memory()[0] - baseline, rss_bytes()))
    finally:
        tracemalloc.stop()
    return results


def measure_lookup_tables(profile: ReferenceProfile) -> int:
    """Return the traced bytes of the cell lookup tables of a fresh copy of the profile."""
    copy = ReferenceProfile.from_bytes(profile.to_bytes())
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for column in copy.columns.values():
            if isinstance(column, NumericProfile):
                _ = column.grid.locator
        return tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()


def run_evidently(
    python: str, reference: np.ndarray, current: np.ndarray, profile: ReferenceProfile
) -> dict[str, object]:
    edges = np.empty(reference.shape[0], dtype=object)
    for index, name in enumerate(profile.features):
        column = profile.columns[name]
        assert isinstance(column, NumericProfile)
        edges[index] = column.grid.coarse_edges
    with tempfile.TemporaryDirectory(prefix="drift-benchmark-") as folder:
        np.save(f"{folder}/reference.npy", reference)
        np.save(f"{folder}/current.npy", current)
        np.save(f"{folder}/edges.npy", edges, allow_pickle=True)
        script = Path(folder) / "run_evidently.py"
        script.write_text(EVIDENTLY_SCRIPT)
        completed = subprocess.run(
            [python, str(script), folder],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    if completed.returncode != 0:
        raise RuntimeError(
            f"Evidently run failed with exit code {completed.returncode}:\n"
            f"{completed.stderr[-4000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    memory = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def compare_values(
    own: dict[str, dict[str, float]], evidently_values: dict[str, float]
) -> dict[str, float]:
    """Return the largest absolute differences of the statistics both compute the same way."""
    wasserstein = [
        abs(own[name]["wasserstein"] - evidently_values[f"wasserstein:{name}"]) for name in own
    ]
    ks_p = [abs(own[name]["ks_p_value"] - evidently_values[f"ks:{name}"]) for name in own]
    return {"wasserstein_normalised": max(wasserstein), "ks_p_value": max(ks_p)}


# Targets of the drift core on the benchmark's default data.
TARGET_SECONDS = 2.0
TARGET_SPEED_UP = 10.0
TARGET_ROWS_PER_SECOND = 200_000
# Traced memory may grow by this share from the smallest to the largest window and still
# count as flat. Samples and buffers are allocated whole when a window opens.
FLAT_MEMORY_SHARE = 0.05


@dataclass(frozen=True)
class Repeat:
    """One run of this library's timed part."""

    own: OwnTiming
    ingestion_with_ids: float
    ingestion_with_ids_cpu: float


@dataclass(frozen=True)
class EvidentlyRun:
    """One Evidently run on the same arrays, and how far its values are from this library's."""

    seconds: float
    cpu_seconds: float
    differences: dict[str, float]


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows in the reference and in the window"
    )
    parser.add_argument("--features", type=int, default=50, help="numeric feature columns")
    parser.add_argument("--batch-rows", type=int, default=10_000, help="rows per add_batch call")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of this library's timed part, each printed"
    )
    parser.add_argument(
        "--evidently-runs",
        type=int,
        default=1,
        help="Evidently runs, each after one of this library's runs (at most --repeats)",
    )
    parser.add_argument(
        "--evidently-python", help="interpreter of a venv with evidently installed; omit to skip"
    )
    parser.add_argument(
        "--memory-rows",
        default="10000,100000,1000000,5000000",
        help="comma-separated window sizes for the memory check",
    )
    return parser.parse_args()


def speed_ups(repeats: list[Repeat], runs: list[EvidentlyRun]) -> tuple[float, float]:
    """Return the smallest wall-clock and CPU-time ratios of any Evidently run to any own run."""
    wall = min(run.seconds / repeat.own.total for run in runs for repeat in repeats)
    cpu = min(run.cpu_seconds / repeat.own.total_cpu for run in runs for repeat in repeats)
    return wall, cpu


def print_repeats(repeats: list[Repeat], rows: int) -> None:
    header = " | ".join(f"run {index + 1}" for index in range(len(repeats)))
    print(f"| step (seconds unless stated) | {header} |")
    print("| --- |" + " ---: |" * len(repeats))
    lines = [
        ("build reference profile", lambda r: f"{r.own.build:.3f}"),
        ("accumulate window", lambda r: f"{r.own.accumulate:.3f}"),
        ("close window and compute report", lambda r: f"{r.own.report:.3f}"),
        ("accumulate + report", lambda r: f"{r.own.total:.3f}"),
        ("accumulate + report, CPU time", lambda r: f"{r.own.total_cpu:.3f}"),
        ("build + accumulate + report", lambda r: f"{r.own.build + r.own.total:.3f}"),
        ("ingestion without request ids (rows/s)", lambda r: f"{rows / r.own.accumulate:,.0f}"),
        (
            "ingestion without request ids (rows per CPU second)",
            lambda r: f"{rows / r.own.accumulate_cpu:,.0f}",
        ),
        ("ingestion with request ids (rows/s)", lambda r: f"{r.ingestion_with_ids:,.0f}"),
        (
            "ingestion with request ids (rows per CPU second)",
            lambda r: f"{r.ingestion_with_ids_cpu:,.0f}",
        ),
    ]
    for label, cell in lines:
        print(f"| {label} | " + " | ".join(cell(repeat) for repeat in repeats) + " |")


def print_evidently(runs: list[EvidentlyRun], repeats: list[Repeat]) -> None:
    print(
        "| Evidently run | wall (s) | CPU (s) | largest difference, normalised Wasserstein "
        "| largest difference, KS p-value |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for index, run in enumerate(runs):
        print(
            f"| {index + 1} | {run.seconds:.1f} | {run.cpu_seconds:.1f} "
            f"| {run.differences['wasserstein_normalised']:.2e} "
            f"| {run.differences['ks_p_value']:.2e} |"
        )
    slowest_own = max(repeat.own.build + repeat.own.total for repeat in repeats)
    print()
    print(
        f"slowest Evidently-to-own ratios: {speed_ups(repeats, runs)[0]:.0f}x wall clock, "
        f"{speed_ups(repeats, runs)[1]:.0f}x CPU time on accumulate + report; "
        f"{min(run.seconds for run in runs) / slowest_own:.0f}x wall clock "
        "with the profile build included"
    )


def print_targets(
    repeats: list[Repeat],
    runs: list[EvidentlyRun],
    rows: int,
    memory: list[tuple[int, int, int]],
) -> None:
    slowest = max(repeat.own.total for repeat in repeats)
    # Rows per CPU second is the rate per core; wall-clock rates also count time spent waiting
    # for a core that other processes hold.
    slowest_rate = min(
        min(rows / repeat.own.accumulate_cpu, repeat.ingestion_with_ids_cpu) for repeat in repeats
    )
    slowest_wall_rate = min(
        min(rows / repeat.own.accumulate, repeat.ingestion_with_ids) for repeat in repeats
    )
    traced = [entry[1] for entry in memory]
    growth = (max(traced) - traced[0]) / traced[0] if traced and traced[0] else 0.0

    checks = [
        (
            f"accumulate + report <= {TARGET_SECONDS:.0f} s",
            f"{slowest:.3f} s (slowest run)",
            slowest <= TARGET_SECONDS,
        ),
        (
            f"ingestion >= {TARGET_ROWS_PER_SECOND:,} rows/s on one core",
            (
                f"{slowest_rate:,.0f} rows per CPU second, {slowest_wall_rate:,.0f} rows/s wall "
                "clock (slowest run and mode)"
            ),
            slowest_rate >= TARGET_ROWS_PER_SECOND,
        ),
        (
            "memory flat as the window grows",
            f"traced memory {growth:+.1%} from {memory[0][0]:,} to {memory[-1][0]:,} rows",
            growth <= FLAT_MEMORY_SHARE,
        ),
    ]
    if runs:
        wall, cpu = speed_ups(repeats, runs)
        checks.append(
            (
                f">= {TARGET_SPEED_UP:.0f}x faster than Evidently",
                f"{wall:.0f}x wall clock, {cpu:.0f}x CPU time (slowest ratio)",
                min(wall, cpu) >= TARGET_SPEED_UP,
            )
        )

    print("| target | measured | met |")
    print("| --- | --- | --- |")
    for target, measured, met in checks:
        print(f"| {target} | {measured} | {'yes' if met else 'no'} |")


def main() -> None:
    args = parse_arguments()
    load_before = os.getloadavg()
    reference, current = make_data(args.rows, args.features, args.seed)
    repeats: list[Repeat] = []
    runs: list[EvidentlyRun] = []
    evidently: dict[str, object] | None = None
    for index in range(args.repeats):
        own, profile, own_values = time_own(reference, current, args.batch_rows)
        with_ids, with_ids_cpu = time_ingestion_with_ids(
            profile, current, args.batch_rows, batches=50
        )
        repeats.append(Repeat(own, with_ids, with_ids_cpu))
        if args.evidently_python and index < args.evidently_runs:
            evidently = run_evidently(args.evidently_python, reference, current, profile)
            runs.append(
                EvidentlyRun(
                    seconds=float(evidently["seconds"]),  # type: ignore[arg-type]
                    cpu_seconds=float(evidently["cpu_seconds"]),  # type: ignore[arg-type]
                    differences=compare_values(own_values, evidently["values"]),  # type: ignore[arg-type]
                )
            )
    memory = measure_memory(
        profile, current, args.batch_rows, [int(r) for r in args.memory_rows.split(",")]
    )
    tables = measure_lookup_tables(profile)
    load_after = os.getloadavg()

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory']} RAM, {info['os']}")
    software = f"Python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}"
    if evidently is not None:
        software += f"; Evidently {evidently['version']} with pandas {evidently['pandas']}"
    print(f"software: {software}")
    print(
        f"data: {args.rows:,} reference rows and {args.rows:,} window rows "
        f"x {args.features} numeric features, "
        f"batches of {args.batch_rows:,} rows, seed {args.seed}"
    )
    print(
        "load average (1, 5, 15 min): before {:.2f} {:.2f} {:.2f}, "
        "after {:.2f} {:.2f} {:.2f}".format(*load_before, *load_after)
    )
    print(
        f"profile: {repeats[0].own.profile_bytes:,} bytes serialised; "
        f"drifted features: {repeats[0].own.drifted} of {args.features}"
    )
    print(f"cell lookup tables of the profile, built on first overflow: {tables / 2**20:.1f} MiB")
    print()
    print_repeats(repeats, args.rows)
    if runs:
        print()
        print_evidently(runs, repeats)
    print()
    print("| window rows | traced memory (MiB) | RSS (MiB) |")
    print("| ---: | ---: | ---: |")
    for rows, traced, rss in memory:
        print(f"| {rows:,} | {traced / 2**20:.1f} | {rss / 2**20:.0f} |")
    print()
    print_targets(repeats, runs, args.rows, memory)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
