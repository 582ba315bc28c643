"""Write the README's benchmark table from ``bench/results.json`` (``make bench-readme``), between the
``<!-- bench-table:start -->`` and ``<!-- bench-table:end -->`` lines, so that the table is never typed.

A scaled-down run (``BENCH_SCALE`` under 1) is refused unless ``--scaled`` is given: its figures are
only indicative.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._report import describe_load, ratio_text

RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "README.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def load_cell(result: dict) -> str:
    text = describe_load(result["load"]) if result.get("load") else ""
    if result.get("scale", 1) != 1:
        text = f"`BENCH_SCALE={result['scale']}`; {text}"
    return text


def render(summary: dict) -> str:
    finished = sorted(r.get("finished_at", summary["generated_at"]) for r in summary["benchmarks"])
    first, last = (datetime.fromisoformat(t).strftime("%Y-%m-%d %H:%M UTC") for t in (finished[0], finished[-1]))
    when = first if first == last else f"{first} to {last}"
    lines = [
        f"Generated from `bench/results.json` by `make bench-readme`: runs finished {when}, {summary['seconds']} s"
        f" in all, `BENCH_SCALE={summary['scale']}`; machine over the whole run: {describe_load(summary['load'])}.",
        "",
        "| command | figure | value | reference | ratio | target | verdict | machine load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in summary["benchmarks"]:
        for index, row in enumerate(result["rows"]):
            first = index == 0
            cells = [
                f"`{result['command']}`" if first else "",
                row["figure"],
                row["value"],
                row["reference"],
                ratio_text(row["ratio"]),
                row["target"],
                row["verdict"],
                load_cell(result) if first else "",
            ]
            lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> int:
    summary = json.loads(RESULTS.read_text())
    if summary["scale"] < 1 and "--scaled" not in sys.argv[1:]:
        print(f"results.json is a scaled-down run (BENCH_SCALE={summary['scale']}); not written", file=sys.stderr)
        return 1
    text = README.read_text()
    if START not in text or END not in text:
        print(f"README.md has no {START} ... {END} block", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{render(summary)}\n{END}{tail}")
    print(f"README.md benchmark table written from {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
