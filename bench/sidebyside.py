"""The table of two ways of running the same commands, timed in the same rounds
(imported by bench_startup.py and bench_baseline.py)."""

from __future__ import annotations

import os
import statistics

Runs = list[tuple[float, float]]  # (wall, CPU) seconds per round


def print_table(results: dict[str, tuple[Runs, Runs]], before: str, after: str, rounds: int) -> None:
    """One Markdown row per command: each way's median wall time, their ratio, median CPU."""
    print(f"| command (whole process) | {before}: median wall (s) | {after}: median wall (s) | ratio | CPU (s) |")
    print("|---|---|---|---|---|")
    for name, (old, new) in results.items():
        old_wall, new_wall = statistics.median(r[0] for r in old), statistics.median(r[0] for r in new)
        old_cpu, new_cpu = statistics.median(r[1] for r in old), statistics.median(r[1] for r in new)
        print(
            f"| `phasewatch {name}` | {old_wall:.3f} | {new_wall:.3f} | {new_wall / old_wall:.2f} "
            f"| {old_cpu:.3f} → {new_cpu:.3f} |"
        )
    print(f"{rounds} rounds; load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
