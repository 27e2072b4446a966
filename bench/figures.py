"""What the benchmark modules share: the measured `Figure`, and the quick mode.

Quick mode (`BENCH_QUICK=1 make bench`, or `BENCH_QUICK=1 .venv/bin/python -m bench`)
exists to check the plumbing in a minute or two: smaller inputs and fewer runs, the same
code paths. Its table goes to `bench/results-quick.md`, so a quick run never overwrites
the real figures in `bench/results.md`; its numbers are not comparable with the goals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

QUICK = os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")


def sized(full: T, quick: T) -> T:
    """The full-run value, or the quick one under BENCH_QUICK: each module keeps its
    sizes in one line, so the full measurement reads exactly as it did before."""
    return quick if QUICK else full


@dataclass(frozen=True)
class Figure:
    """One measured number.

    `key` is its stable id: bench/goals.py and the summary table find figures by key, so
    `label` (the detail line printed as the module measures) may carry run-specific text
    such as ratios without breaking either. `name` is the row name in the summary table;
    it holds sizes but no measured numbers, so bench/results.md compares row by row.
    `compare` lists (baseline key, baseline name) pairs measured in the same run; the
    table shows this value divided by each baseline's.
    """

    key: str
    label: str
    value: float | None  # None: not measured (e.g. Chromium not installed)
    unit: str
    note: str = ""
    name: str = ""
    compare: tuple[tuple[str, str], ...] = ()

    @property
    def title(self) -> str:
        return self.name or self.label.strip()
