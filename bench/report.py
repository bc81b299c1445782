"""Pieces every benchmark's Markdown section is made of: the machine, the command, statistics, and
the machine-readable summary lines that bench/run.py gathers into the summary table at the top of
docs/benchmarks.md.

A summary line is an HTML comment, invisible in the rendered page:

    <!-- kfed-bench {"area": "API", "what": "create p99 at 200/s", "target": "<= 50 ms", ...} -->
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

SUMMARY_MARK = "kfed-bench"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine(load: str | None = None) -> str:
    """`2 CPUs (nproc), AMD EPYC, Linux 6.1, Python 3.11.7; load average 1.20 0.90 0.80 ...`; `load`
    is the load average taken when the run started (default: now)."""
    ncpu = os.cpu_count()
    return (
        f"{ncpu} CPUs (nproc), {cpu_model()}, Linux {platform.release()}, Python {platform.python_version()}; "
        f"load average {load or load_average()} at the start (a shared machine: other work skews results)"
    )


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def command() -> str:
    argv = [Path(sys.executable).name if sys.executable else "python", *sys.argv]
    return shlex.join(argv)


def header(title: str, *, load: str | None = None, notes: Iterable[str] = ()) -> str:
    """The top of a section: title, command, date, machine, then any notes as bullets."""
    lines = [
        f"## {title}",
        "",
        f"- command: `{command()}`",
        f"- date: {now()}",
        f"- machine: {machine(load)}",
    ]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def table(head: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A Markdown table; `align` is one character per column, `l` or `r` (default: first left, rest right)."""
    align = align or ("l" + "r" * (len(head) - 1))
    marks = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(marks) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


# -- statistics ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(len(ordered), rank) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def fmt_ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    ms = seconds * 1000
    return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.1f} ms"


def fmt_rate(per_second: float, unit: str = "/s") -> str:
    return "n/a" if math.isnan(per_second) else f"{per_second:,.0f}{unit}"


def fmt_ratio(ours: float, theirs: float) -> str:
    if math.isnan(ours) or math.isnan(theirs) or theirs == 0:
        return "n/a"
    return f"{ours / theirs:.2f}x"


# -- summary lines ---------------------------------------------------------------------------------


@dataclass
class Summary:
    """One row of the summary table: a target and what this run measured."""

    area: str
    what: str
    target: str
    measured: str
    met: bool | None  # None: not decidable from this run (reduced scale, missing peer, ...)
    peer: str = ""
    scale: str = ""

    def line(self) -> str:
        return f"<!-- {SUMMARY_MARK} {json.dumps(asdict(self))} -->"


def emit(section: str, summaries: Sequence[Summary]) -> None:
    """Print a section followed by its summary lines (stdout is what bench/run.py collects)."""
    print(section.rstrip() + "\n")
    for s in summaries:
        print(s.line())
    sys.stdout.flush()


def parse_summaries(text: str) -> list[Summary]:
    out = []
    prefix = f"<!-- {SUMMARY_MARK} "
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(prefix) and line.endswith("-->"):
            try:
                out.append(Summary(**json.loads(line[len(prefix) : -3])))
            except (ValueError, TypeError):
                continue
    return out


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout stays the Markdown section."""
    print(f"  [{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
