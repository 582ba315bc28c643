"""Every benchmark, one after another, each in its own process: one table of every figure (value,
reference, ratio, target, verdict, and the machine's load while that benchmark ran), written to
``bench/results.json``; ``bench/readme_table.py`` makes the README's table from that file.

Run from the repository root: ``.venv/bin/python bench/run_all.py`` (``make bench``);
``BENCH_SCALE=0.05`` for a quick run of all of them. With names (``run_all.py claim sweep``) only those
run, and their entries in ``bench/results.json`` are replaced (each entry keeps the time it finished and
the machine load it ran at). Exits 1 when any target is missed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._report import MachineLoad, describe_load, scale, table

BENCHMARKS = ("engine", "checkout", "claim", "bulk_grant", "sweep", "stats")
RESULTS = ROOT / "bench" / "results.json"


def main() -> int:
    names = sys.argv[1:] or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmarks: {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})", file=sys.stderr)
        return 2
    machine = MachineLoad()
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-") as directory:
        for name in names:
            print(f"\n=== bench/{name}.py ===", flush=True)
            command = [sys.executable, str(ROOT / "bench" / f"{name}.py")]
            code = subprocess.run(command, cwd=ROOT, env={**os.environ, "BENCH_RESULTS_DIR": directory}).returncode
            path = Path(directory) / f"{name}.json"
            if path.exists():
                result = json.loads(path.read_text())
            else:
                result = {
                    "name": name,
                    "command": f".venv/bin/python bench/{name}.py",
                    "scale": scale(),
                    "load": {},
                    "rows": [
                        {"figure": f"did not finish (exit status {code})", "value": "", "reference": "",
                         "ratio": None, "target": "finishes", "ok": False, "verdict": "FAIL"}
                    ],
                }  # fmt: skip
            result["exit_status"] = code
            result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            results.append(result)
    load = machine.stop()
    seconds = round(time.monotonic() - started)
    if sys.argv[1:] and RESULTS.exists():
        # A partial run: its entries replace the same benchmarks' in the last results, others stay.
        earlier = json.loads(RESULTS.read_text())
        fresh = {result["name"]: result for result in results}
        kept = [result for result in earlier["benchmarks"] if result["name"] not in fresh]
        for result in kept:
            result.setdefault("finished_at", earlier["generated_at"])
        results = sorted(
            kept + results, key=lambda r: BENCHMARKS.index(r["name"]) if r["name"] in BENCHMARKS else len(BENCHMARKS)
        )
        seconds = sum(result.get("seconds", 0) for result in results)
        load = earlier["load"] if kept else load
    passed = all(row["ok"] is not False for result in results for row in result["rows"])
    summary = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": min(result.get("scale", scale()) for result in results),
        "seconds": round(seconds),
        "load": load,
        "passed": passed,
        "benchmarks": results,
    }
    RESULTS.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    print()
    print(table(results, with_load=True))
    print(
        f"\n{summary['seconds']} s at BENCH_SCALE {summary['scale']}; machine over the whole run:"
        f" {describe_load(load)};"
        f" written to {RESULTS.relative_to(ROOT)}; {'all targets met' if passed else 'TARGETS MISSED'}"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
