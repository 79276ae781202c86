"""Benchmark the redundancy index: build it over many models, then time checks of new versions.

    .venv/bin/python benchmarks/redundancy_benchmark.py                  # 100,000 models
    .venv/bin/python benchmarks/redundancy_benchmark.py --models 10000 --output -

Models get 20-200 feature names drawn from a vocabulary with Zipf-like popularity (weight of the
name of rank r proportional to 1 / (r + 10)), so popular names are shared widely as in real
feature stores. Every model belongs to one of `--datasets` training datasets and one of two task
types. A share of the models are near-duplicates of an earlier model in the same group.

The index is built twice: once under tracemalloc to measure its memory, once without tracing to
time it. Checks are `RedundancyIndex.find_matches` calls on new versions, a third each of
near-duplicates (Jaccard 0.80-0.95 to an indexed model), unrelated feature sets and exact artifact
duplicates. Results are written as Markdown to `--output`, with the machine and the settings.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelward_governance.domain.redundancy import (
    MatchKind,
    RedundancyConfig,
    RedundancyIndex,
    RedundancySubject,
)

REPO = Path(__file__).resolve().parent.parent
TASK_TYPES = ("binary_classification", "regression")
TARGET_P99_MS = 5.0


@dataclass(frozen=True)
class Workload:
    subjects: list[RedundancySubject]
    queries: list[tuple[str, RedundancySubject, str]]


def build_workload(args: argparse.Namespace) -> Workload:
    rng = np.random.default_rng(args.seed)
    vocabulary = np.array([f"feature_{index}" for index in range(args.vocabulary)])
    weights = 1.0 / (np.arange(args.vocabulary) + 10.0)
    weights /= weights.sum()
    datasets = [f"{index:064x}" for index in range(args.datasets)]

    def feature_set() -> frozenset[str]:
        size = int(rng.integers(20, 201))
        return frozenset(
            vocabulary[rng.choice(args.vocabulary, size=size, replace=False, p=weights)].tolist()
        )

    def near_copy(features: frozenset[str], similarity: float) -> frozenset[str]:
        # Replace k names so that (n - k) / (n + k) = similarity.
        ordered = sorted(features)
        replaced = int(round(len(ordered) * (1 - similarity) / (1 + similarity)))
        kept = [ordered[i] for i in rng.permutation(len(ordered))[: len(ordered) - replaced]]
        fresh = [f"fresh_{rng.integers(1 << 62)}" for _ in range(replaced)]
        return frozenset(kept + fresh)

    subjects: list[RedundancySubject] = []
    for number in range(args.models):
        if number > 0 and rng.random() < args.duplicate_share:
            original = subjects[int(rng.integers(number))]
            features = near_copy(original.feature_names, float(rng.uniform(0.8, 0.95)))
            dataset, task = original.training_dataset_sha256, original.task_type
        else:
            features = feature_set()
            dataset = datasets[int(rng.integers(len(datasets)))]
            task = TASK_TYPES[int(rng.integers(len(TASK_TYPES)))]
        subjects.append(
            RedundancySubject(f"model-{number}", 1, f"{number:064x}", dataset, task, features)
        )

    queries: list[tuple[str, RedundancySubject, str]] = []
    for number in range(args.queries):
        original = subjects[int(rng.integers(len(subjects)))]
        kind = ("near_duplicate", "unrelated", "same_artifact")[number % 3]
        if kind == "near_duplicate":
            features = near_copy(original.feature_names, float(rng.uniform(0.8, 0.95)))
            query = RedundancySubject(
                f"new-{number}",
                1,
                f"new-{number}",
                original.training_dataset_sha256,
                original.task_type,
                features,
            )
        elif kind == "unrelated":
            query = RedundancySubject(
                f"new-{number}",
                1,
                f"new-{number}",
                original.training_dataset_sha256,
                original.task_type,
                feature_set(),
            )
        else:
            query = RedundancySubject(
                f"new-{number}", 1, original.artifact_sha256, "", "", feature_set()
            )
        queries.append((kind, query, original.model_uid))
    return Workload(subjects, queries)


def build_index(
    config: RedundancyConfig, subjects: list[RedundancySubject]
) -> tuple[RedundancyIndex, list[float]]:
    index = RedundancyIndex(config)
    durations = []
    for subject in subjects:
        start = time.perf_counter()
        index.upsert(subject)
        durations.append(time.perf_counter() - start)
    return index, durations


def percentile(values: list[float], fraction: float) -> float:
    return float(np.percentile(np.array(values), fraction * 100))


def machine_description() -> dict[str, str]:
    model = "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "CPU": model,
        "logical CPUs": str(os.cpu_count()),
        "RAM": memory,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "NumPy": np.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000, help="models in the index")
    parser.add_argument("--queries", type=int, default=3000, help="checks of new versions to time")
    parser.add_argument("--vocabulary", type=int, default=5000, help="distinct feature names")
    parser.add_argument("--datasets", type=int, default=50, help="distinct training datasets")
    parser.add_argument(
        "--duplicate-share", type=float, default=0.02, help="share of near-duplicate models"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the random workload")
    parser.add_argument(
        "--output",
        default="-",
        help="Markdown file, or - for stdout (default)",
    )
    args = parser.parse_args(argv)
    config = RedundancyConfig()

    print(f"generating {args.models} models and {args.queries} queries", file=sys.stderr)
    workload = build_workload(args)

    print("building under tracemalloc", file=sys.stderr)
    tracemalloc.start()
    traced_index, _ = build_index(config, workload.subjects)
    traced_index.compact()
    current_bytes, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced_index

    print("building without tracing", file=sys.stderr)
    start = time.perf_counter()
    index, upsert_seconds = build_index(config, workload.subjects)
    build_seconds = time.perf_counter() - start
    index.compact()

    print("timing checks", file=sys.stderr)
    check_ms: dict[str, list[float]] = {"near_duplicate": [], "unrelated": [], "same_artifact": []}
    found = {"near_duplicate": 0, "same_artifact": 0}
    candidates: list[int] = []
    for kind, query, original_uid in workload.queries:
        start = time.perf_counter()
        matches = index.find_matches(query)
        check_ms[kind].append((time.perf_counter() - start) * 1000)
        expected_kind = (
            MatchKind.ARTIFACT_DIGEST if kind == "same_artifact" else MatchKind.FEATURE_SIMILARITY
        )
        if kind in found and any(
            m.other_model_uid == original_uid and m.kind is expected_kind for m in matches
        ):
            found[kind] += 1
        if kind != "same_artifact":
            candidates.append(len(index.lsh_candidates(query)))

    all_ms = [value for values in check_ms.values() for value in values]
    bands, rows = config.banding()
    group_sizes = [len(members) for members in index._entries_by_group.values()]  # noqa: SLF001
    lines = [
        "# Redundancy index benchmark",
        "",
        "Produced by `benchmarks/redundancy_benchmark.py` (see its docstring for the workload). Each",
        "check is one `RedundancyIndex.find_matches` call for a new version against the whole index.",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in machine_description().items()],
        "",
        "## Settings",
        "",
        f"- models: {args.models:,}; feature names per model: 20-200 from a vocabulary of {args.vocabulary:,} with Zipf-like popularity",
        f"- training datasets: {args.datasets}, task types: {len(TASK_TYPES)}; models per (dataset, task) group: "
        f"median {statistics.median(group_sizes):.0f}, max {max(group_sizes)}",
        f"- near-duplicate share among indexed models: {args.duplicate_share:.0%}; seed {args.seed}",
        f"- Jaccard threshold {config.jaccard_threshold}, {config.num_permutations} permutations, {bands} bands x {rows} rows, "
        f"exact comparison for groups of at most {config.exact_group_limit} models; "
        f"the smallest group here has {min(group_sizes)}, so "
        f"{'every feature check uses LSH' if min(group_sizes) > config.exact_group_limit else 'small groups are compared exactly'}",
        f"- LSH false-negative probability at the threshold: {config.false_negative_probability():.2%} "
        f"(at 0.85: {config.false_negative_probability(0.85):.3%}, at 0.9: {config.false_negative_probability(0.9):.5%})",
        "",
        "## Results",
        "",
        "| measure | value |",
        "|---|---|",
        f"| check p50, all {len(all_ms):,} checks | {percentile(all_ms, 0.5):.3f} ms |",
        f"| check p99, all checks | {percentile(all_ms, 0.99):.3f} ms (target at most {TARGET_P99_MS:g} ms) |",
        f"| check max | {max(all_ms):.3f} ms |",
        *[
            f"| check p50 / p99, {kind.replace('_', ' ')} | {percentile(values, 0.5):.3f} / {percentile(values, 0.99):.3f} ms |"
            for kind, values in check_ms.items()
        ],
        f"| LSH candidates per feature check, mean / max | {statistics.mean(candidates):.2f} / {max(candidates)} |",
        f"| near-duplicates found (Jaccard 0.80-0.95) | {found['near_duplicate']} of {len(check_ms['near_duplicate'])} |",
        f"| artifact duplicates found | {found['same_artifact']} of {len(check_ms['same_artifact'])} |",
        f"| build, {args.models:,} upserts | {build_seconds:.1f} s |",
        f"| upsert p50 / p99 / max (the max includes any merge of recent keys and garbage collection) | {percentile(upsert_seconds, 0.5) * 1000:.3f} / "
        f"{percentile(upsert_seconds, 0.99) * 1000:.3f} / {max(upsert_seconds) * 1000:.1f} ms |",
        f"| index memory after build (tracemalloc, current) | {current_bytes / 2**20:.1f} MiB |",
        f"| peak memory during build (tracemalloc) | {peak_bytes / 2**20:.1f} MiB |",
        "",
        "tracemalloc counts Python and NumPy allocations made while the index was built; the",
        "generated workload was allocated before tracing started and is not included.",
        "",
    ]
    report = "\n".join(lines)
    if args.output == "-":
        print(report)
    else:
        Path(args.output).write_text(report)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
