"""The one table `make bench` ends with (issue 7): every figure in bench/goals.py with its
value, its ratio to the baselines measured in the same run, its goal and whether it was
met; printed with rich and written as Markdown to bench/results.md.

The Markdown is rewritten whole on each run (git history keeps the past) and its format
is kept stable, one row per figure in goals.py order with no measured numbers in the
row names, so `git diff bench/results.md` compares run with run row by row. A quick run
(BENCH_QUICK=1) writes bench/results-quick.md instead, marked as such.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.figures import QUICK, Figure
from bench.goals import BEFORE, GOALS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.md"
QUICK_RESULTS = ROOT / "bench" / "results-quick.md"
COLUMNS = ("measure", "value", "ratio", "goal", "status", "issue")


@dataclass(frozen=True)
class Row:
    """One row of the table, already as text, so the terminal and the file agree."""

    measure: str
    value: str
    ratio: str
    goal: str
    status: str
    issue: str

    def cells(self) -> tuple[str, ...]:
        return (self.measure, self.value, self.ratio, self.goal, self.status, self.issue)


def number(value: float) -> str:
    """Three or so significant digits with a fixed number of decimals per magnitude, so
    the same figure is printed alike from run to run."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def with_unit(value: float, unit: str) -> str:
    return f"{number(value)} {unit}".strip()


def rows(figures: Iterable[Figure]) -> list[Row]:
    """A row per key of GOALS, in its order; a missing figure says so."""
    by_key = {f.key: f for f in figures}
    out = []
    for key, goal in GOALS.items():
        figure = by_key.get(key)
        if figure is None or figure.value is None:
            name = figure.title if figure else key
            out.append(Row(name, "not measured", "—", goal.text or "—", "—", f"#{goal.issue}"))
            continue
        ratios = []
        for base_key, base_name in figure.compare:
            base = by_key.get(base_key)
            if base is None or base.value is None:
                ratios.append(f"{base_name}: not measured")
            elif base.value == 0:
                ratios.append(f"{base_name}: 0")
            else:
                ratio = figure.value / base.value
                ratios.append(f"{ratio:.2f}x {base_name} ({with_unit(base.value, base.unit)})")
        met = goal.met(figure.value)
        status = "(no goal)" if met is None else "met" if met else "missed"
        out.append(
            Row(
                figure.title,
                with_unit(figure.value, figure.unit),
                "; ".join(ratios) or "—",
                goal.text or "—",
                status,
                f"#{goal.issue}",
            )
        )
    return out


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def commit() -> str:
    """Short HEAD, plus a mark when the working tree differs from it. The results files
    themselves are left out of the check: otherwise the previous run's uncommitted table
    would mark every later run as dirty."""
    head = _git("rev-parse", "--short", "HEAD") or "unknown (not a git checkout)"
    dirty = _git(
        "status",
        "--porcelain",
        "--",
        ".",
        f":(exclude){RESULTS.relative_to(ROOT)}",
        f":(exclude){QUICK_RESULTS.relative_to(ROOT)}",
    )
    return f"{head} + uncommitted changes" if dirty else head


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = f" ({line.split(':', 1)[1].strip()})"
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs{cpu}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )


def header(runs: Sequence[str], seconds: float) -> list[str]:
    """Markdown lines above the table: when, which code, which machine, how many runs."""
    title = "# `make bench` results"
    if QUICK:
        title += " — QUICK run (BENCH_QUICK=1): plumbing check, not comparable with the goals"
    return [
        title,
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC",
        f"- commit: {commit()}",
        f"- machine: {machine()}",
        f"- runs behind each figure: {'; '.join(runs)}",
        f"- whole run: {seconds / 60:.1f} min",
        "",
    ]


def markdown(table: Sequence[Row], runs: Sequence[str], seconds: float) -> str:
    lines = header(runs, seconds)
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---" for _ in COLUMNS) + "|")
    for row in table:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row.cells()) + " |")
    lines += [
        "",
        "ratio: this figure divided by the baseline named beside it, measured in the same "
        "run. Goals and the issues they come from: bench/goals.py.",
        "",
    ]
    if BEFORE:
        lines += ["Before the change an issue asked to compare (bench/goals.py `BEFORE`):", ""]
        names = dict(zip(GOALS, (row.measure for row in table), strict=False))
        for key, (issue, words) in BEFORE.items():
            lines.append(f"- #{issue} {names.get(key, key)}: {words}")
        lines.append("")
    return "\n".join(lines)


def show(table: Sequence[Row], path: Path) -> None:
    title = "make bench: every figure against its goal"
    if QUICK:
        title += " (QUICK: not comparable with the goals)"
    out = Table(title=title, caption=f"also written to {path.relative_to(ROOT)}")
    for column in COLUMNS:
        out.add_column(column, justify="right" if column == "value" else "left")
    colour = {"met": "green", "missed": "bold red"}
    for row in table:
        # Text, not markup strings: a name with brackets must print as it is.
        cells = [Text(c) for c in row.cells()]
        if row.status in colour:
            cells[4].stylize(colour[row.status])
        out.add_row(*cells)
    console = Console()
    if not console.is_terminal:  # piped to a file or a CI log: no need to wrap at 80
        console = Console(width=180)
    console.print(out)


def publish(figures: Iterable[Figure], runs: Sequence[str], seconds: float) -> Path:
    """Print the table and write it to the results file for this mode; return the path."""
    table = rows(figures)
    path = QUICK_RESULTS if QUICK else RESULTS
    print()
    show(table, path)
    path.write_text(markdown(table, runs, seconds))
    return path
