"""What every benchmark reports: its figures, each beside a reference or limit as a ratio with a target
and a verdict, and the load of the machine while it ran (load average, and the share of CPU time the
host took, "steal", from /proc/stat). A benchmark run on its own prints its rows; under
``bench/run_all.py`` (``make bench``) it also writes them as JSON to ``BENCH_RESULTS_DIR``, from which
the one table and ``bench/results.json`` are made.

``BENCH_SCALE`` (default 1) scales every benchmark's data and duration down for a quick run: 0.05 runs
each in seconds, with figures that are only indicative.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def scale() -> float:
    return float(os.environ.get("BENCH_SCALE", "1"))


def scaled(full: int, *, least: int = 1) -> int:
    """``full`` times ``BENCH_SCALE``, at least ``least``."""
    return max(least, round(full * scale()))


def redis_url(specific: str, default: str) -> str:
    """The benchmark's own Redis database: its variable, else ``BENCH_REDIS_URL``, else ``default``."""
    return os.environ.get(specific) or os.environ.get("BENCH_REDIS_URL") or default


# Machine load ------------------------------------------------------------------------------------


def _cpu_times() -> list[int]:
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return []
    return [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal


class MachineLoad:
    """Load average sampled every second and CPU steal between start and stop."""

    def __init__(self) -> None:
        self._start = _cpu_times()
        self._loads: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            self._loads.append(os.getloadavg()[0])

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        end = _cpu_times()
        summary: dict[str, Any] = {
            "cpus": os.cpu_count(),
            "load_avg_mean": round(sum(self._loads) / len(self._loads), 2),
            "load_avg_max": round(max(self._loads), 2),
        }
        if self._start and end:
            delta = [b - a for a, b in zip(self._start, end, strict=True)]
            total = sum(delta) or 1
            summary["cpu_busy_pct"] = round(100 * (total - delta[3] - delta[4]) / total, 1)
            summary["cpu_steal_pct"] = round(100 * delta[7] / total, 1)
        return summary


def describe_load(load: dict[str, Any]) -> str:
    text = f"load {load.get('load_avg_mean', 0):.1f} (max {load.get('load_avg_max', 0):.1f}) on {load.get('cpus')} cpus"
    if "cpu_steal_pct" in load:
        text += f", busy {load['cpu_busy_pct']:.0f} %, steal {load['cpu_steal_pct']:.1f} %"
    return text


# Figures -----------------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str  # what is measured
    value: str  # the figure, with its unit
    reference: str = ""  # what it is measured beside, with its figure
    ratio: float | None = None
    target: str = ""  # e.g. ">= 0.6", "< 50 ms", "exact"; empty: reported for the record
    ok: bool | None = None  # None: no target

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("pass" if self.ok else "FAIL")


@dataclass
class Report:
    name: str
    command: str
    rows: list[Row] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    load: MachineLoad = field(default_factory=MachineLoad)

    def add(self, figure: str, value: str, reference: str = "", ratio: float | None = None, target: str = "",
            ok: bool | None = None) -> Row:  # fmt: skip
        row = Row(figure, value, reference, None if ratio is None else float(f"{ratio:.4g}"), target, ok)
        self.rows.append(row)
        return row

    @property
    def passed(self) -> bool:
        return all(row.ok is not False for row in self.rows)

    def finish(self) -> int:
        """Print the rows and the machine load, write them for ``run_all.py``; the exit status."""
        load = self.load.stop()
        print()
        print(table([self.as_dict(load)]))
        print(f"machine during the run: {describe_load(load)}")
        directory = os.environ.get("BENCH_RESULTS_DIR")
        if directory:
            path = Path(directory) / f"{self.name}.json"
            path.write_text(json.dumps(self.as_dict(load), ensure_ascii=False, indent=2))
        return 0 if self.passed else 1

    def as_dict(self, load: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": self.command,
            "scale": scale(),
            "seconds": round(time.time() - self.started, 1),
            "load": load,
            "rows": [asdict(row) | {"verdict": row.verdict} for row in self.rows],
        }


def ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return f"{ratio:.2f}" if abs(ratio) >= 0.01 else f"{ratio:.2g}"


def table(results: list[dict[str, Any]], *, with_load: bool = False) -> str:
    """A plain-text table of the rows of ``results`` (as ``Report.as_dict`` makes them)."""
    head = ["benchmark", "figure", "value", "reference", "ratio", "target", "verdict"]
    if with_load:
        head.append("machine load")
    lines = []
    for result in results:
        for index, row in enumerate(result["rows"]):
            cells = [
                result["name"] if index == 0 else "",
                row["figure"],
                row["value"],
                row["reference"],
                ratio_text(row["ratio"]),
                row["target"],
                row["verdict"],
            ]
            if with_load:
                cells.append(describe_load(result["load"]) if index == 0 else "")
            lines.append(cells)
    widths = [max(len(str(c)) for c in column) for column in zip(head, *lines, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in lines]
    return "\n".join(out)
