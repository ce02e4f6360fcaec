"""Agreement of our CAP 1.2 and EDXL-DE 1.0 schemas with the official ones, as one JSON line.

Every corpus file and catalog sample of each format, and seeded, deterministic variants of them
(``tests/alerts_mutations.py``), are judged by both schemas; the counts are printed as
``{"cap": {"files", "variants", "disagreements"}, "edxl-de": {...}}``. Exit status 1 if any disagree.

    python benchmarks/agreement.py --corpus DIR [--variants N] [--seed S] [--show K]

DIR is the third-party corpus (official OASIS schemas and real samples), kept outside the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.alerts_mutations import SEED, VARIANTS, compare  # after the sys.path line: tests/ is not installed

FORMATS = {"cap": "cap/1.2", "edxl-de": "edxl-de/1.0"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the third-party corpus folder (cap/, edxl-de/)")
    parser.add_argument("--variants", type=int, default=VARIANTS, help=f"variants per format (default {VARIANTS})")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--show", type=int, default=5, help="disagreements to list on stderr, per format")
    args = parser.parse_args()
    if not (args.corpus / "cap").is_dir():
        parser.error(f"{args.corpus}: not a corpus folder (no cap/)")
    report: dict[str, dict[str, int]] = {}
    for name, format_id in FORMATS.items():
        result = compare(format_id, args.corpus, max(0, args.variants), args.seed)
        report[name] = result.as_dict()
        for variant, ours, official in result.disagreements[: args.show]:
            print(f"{format_id}: {variant}: ours {ours}, official {official}", file=sys.stderr)
    print(json.dumps(report))
    return 1 if any(counts["disagreements"] for counts in report.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
