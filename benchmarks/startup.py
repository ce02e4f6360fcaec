"""Start-up of the ``harness`` command against the bare interpreter, measured in the same run.

Each command runs as a fresh process (``python -m harness.cli ARGS``), several times, interleaved with the
raw baseline ``python -c pass`` (the least any command costs: starting the interpreter and its site).
Reported per command: the median wall time, the median *above* the baseline, the ratio to the baseline,
and the modules the command loaded (``sys.modules`` at exit, from one extra run). Interleaving keeps a
machine shared with other work from favouring either side.

Prints one JSON line: ``{"baseline_s", "rounds", "commands": [{"argv", "median_s", "above_baseline_s",
"vs_baseline", "modules"}]}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "formats" / "cap" / "1.2" / "samples" / "valid" / "minimal.xml"
COMMANDS: list[list[str]] = [
    ["--version"],
    ["validate", str(SAMPLE)],
    ["formats"],
    ["spec", "--rule", "PQ-01"],
    ["run", "--help"],
    ["runs", "--help"],
]
_COUNT = (
    "import sys\nfrom harness.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "sys.stderr.write(f'\\nMODULES {len(sys.modules)}\\n')"
)


ELSEWHERE = tempfile.gettempdir()
"""Commands run from here, so the interpreter's installed harness is measured (never a checkout's by accident)."""


def _wall(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ELSEWHERE, check=False)
    return time.perf_counter() - started


def _modules(python: str, args: list[str]) -> int:
    done = subprocess.run([python, "-c", _COUNT, *args], capture_output=True, text=True, cwd=ELSEWHERE, check=False)
    return int(done.stderr.rsplit("MODULES ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose harness is measured")
    args = parser.parse_args()
    baseline: list[float] = []
    times: dict[int, list[float]] = {i: [] for i in range(len(COMMANDS))}
    for _ in range(args.rounds):
        for index, command in enumerate(COMMANDS):
            baseline.append(_wall([args.python, "-c", "pass"]))
            times[index].append(_wall([args.python, "-m", "harness.cli", *command]))
    base = statistics.median(baseline)
    rows = []
    for index, command in enumerate(COMMANDS):
        median = statistics.median(times[index])
        rows.append(
            {
                "argv": " ".join(Path(a).name if a.startswith("/") else a for a in command),
                "median_s": round(median, 3),
                "above_baseline_s": round(median - base, 3),
                "vs_baseline": round(median / base, 1),
                "modules": _modules(args.python, command),
            }
        )
    print(json.dumps({"baseline_s": round(base, 4), "rounds": args.rounds, "commands": rows}))


if __name__ == "__main__":
    main()
