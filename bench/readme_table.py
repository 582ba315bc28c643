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


def render(summary: dict) -> str:
    when = datetime.fromisoformat(summary["generated_at"]).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Generated from `bench/results.json` by `make bench-readme`: run of {when}, {summary['seconds']} s,"
        f" `BENCH_SCALE={summary['scale']}`; machine over the whole run: {describe_load(summary['load'])}.",
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
                describe_load(result["load"]) if first and result["load"] else "",
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
