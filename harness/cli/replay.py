"""``harness replay`` and ``harness scenarios from-recording``: a HAR recording sent again, or made into a suite.

Both read the recording the same way (bounded, ``harness.recording.har``) and build the same suite from it
(``harness.recording.scenario_writer``): ``scenarios from-recording`` writes it as a catalog folder; ``replay``
writes it to a temporary folder and runs it once against ``--target`` through the run session, so that its
outputs are those of ``harness run`` (console, ``results.json``, ``report.html``, JUnit, an evidence bundle)
and its comparisons are the runner's checks. Exit codes (``replay``): 0 nothing changed, 1 an answer changed
(or is no longer valid), 2 usage or an unreadable recording, 3 target unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from harness import suitecheck
from harness.catalog import catalog_folders, load_catalog, use_folders
from harness.cli.options import add_credential_options, credentials_from
from harness.model import UsageError, Verdict

__all__ = ["register"]

REPLAY_SUITE = "recording-replay"


def register(subparsers: Any) -> None:
    replay = subparsers.add_parser(
        "replay",
        help="send a HAR recording's requests again to a target and report the answers that changed",
    )
    replay.add_argument("recording", type=Path, metavar="FILE.har")
    replay.add_argument("--target", required=True, help="base URL of the system to replay against")
    replay.add_argument("--reports", type=Path, default=Path("reports/replay"), help="report folder")
    replay.add_argument(
        "--fresh-ids",
        action="store_true",
        help="send fresh message ids (consistently in later requests and in the expected answers)",
    )
    replay.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="JSON-POINTER",
        help="also ignore this member of the answers (repeatable; '*' stands for any member or index; "
        "{NAMESPACE}element for XML)",
    )
    replay.add_argument("--timeout", type=float, default=10.0, help="seconds allowed for one exchange (default 10)")
    add_credential_options(replay)
    from harness.cli.evidence import add_signing_arguments

    add_signing_arguments(replay)  # the bundle signed as a run's is (harness verify checks it)
    replay.set_defaults(func=_cmd_replay)

    scenarios = subparsers.add_parser("scenarios", help="make scenario folders (from a recording)")
    actions = scenarios.add_subparsers(dest="action", required=True)
    made = actions.add_parser(
        "from-recording", help="write a catalog folder with one suite made of a HAR recording's exchanges"
    )
    made.add_argument("recording", type=Path, metavar="FILE.har")
    made.add_argument("--out", type=Path, required=True, help="the catalog folder to write (--catalog DIR runs it)")
    made.add_argument("--suite", required=True, help="the new suite's name (its version is 1.0)")
    made.add_argument(
        "--ignore", action="append", default=[], metavar="JSON-POINTER", help="also leave this answer member out"
    )
    made.add_argument(
        "--recorded-ids",
        action="store_true",
        help="keep the recorded message ids (default: a fresh id per run, the same within a scenario)",
    )
    scenarios.set_defaults(func=_cmd_scenarios)


def _print_left(left: Any) -> None:
    from harness.reporting import printable

    for each in left:
        print(f"left out: exchange {each.number} {printable(each.method)} {printable(each.target)}: {each.reason}")


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from harness.recording.har import read_har
    from harness.recording.scenario_writer import write_suite

    recording = read_har(args.recording)
    catalog = load_catalog(check_names=suitecheck.known_checks())
    written = write_suite(
        recording.exchanges,
        catalog,
        args.out,
        args.suite,
        fresh_ids=not args.recorded_ids,
        ignore=args.ignore,
        source=args.recording.name,
    )
    _print_left(written.left)
    data = f", data set {written.dataset}" if written.dataset else ""
    print(f"wrote {written.ref} to {written.catalog}: {written.scenarios} scenario(s), {written.steps} step(s){data}")
    print(f"next: harness suites --check --catalog {written.catalog}")
    print(f"      harness run --catalog {written.catalog} --suite {written.suite} --target URL")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from harness.cli.evidence import run_options
    from harness.cli.run import check_target
    from harness.recording.har import read_har
    from harness.recording.scenario_writer import write_suite

    target = check_target(args.target)
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    sut, sign_key = run_options(args)  # refused (one line) before any connection: bad --sut, unreadable key
    recording = read_har(args.recording)
    folder = Path(tempfile.mkdtemp(prefix="harness-replay-"))
    before = catalog_folders()
    try:
        written = write_suite(
            recording.exchanges,
            load_catalog(check_names=suitecheck.known_checks()),
            folder,
            REPLAY_SUITE,
            fresh_ids=args.fresh_ids,
            ignore=args.ignore,
            source=args.recording.name,
        )
        _print_left(written.left)
        use_folders((*before[1:], folder))
        catalog = load_catalog(check_names=suitecheck.known_checks())
        return asyncio.run(_replay(catalog, written.ref, target, args, written.steps, sut, sign_key))
    finally:
        use_folders(before[1:])
        shutil.rmtree(folder, ignore_errors=True)


async def _replay(
    catalog: Any, suite: str, target: str, args: argparse.Namespace, steps: int, sut: Any, sign_key: Any
) -> int:
    from harness.reporting import printable, summary_line
    from harness.session import RunSession

    run_id = str(uuid.uuid4())
    reports: Path = args.reports
    session = (
        RunSession(catalog, suite)
        .with_target(target)
        .with_reporters(
            reports,
            console=True,
            junit=reports / "junit.xml",
            evidence=True,
            sut=sut,
            sign_key=sign_key,
            run_id=run_id,
        )
        .with_options(
            concurrency=1,  # in recorded order
            timeout_s=args.timeout,
            unattended=True,
            credentials=credentials_from(args),
            certifying=False,
        )
    )
    async with session:
        finished = await session.run()
    changed = [result for result in finished.results if result.failures or result.verdict is not Verdict.PASSED]
    print()
    for result in changed:
        for failure in result.failures:
            print(
                f"changed: {result.id} step {failure.step}: {printable(failure.check)}: "
                f"expected {printable(repr(failure.expected))}, got {printable(repr(failure.actual))}"
            )
    print(
        f"replay of {printable(args.recording.name)}: {steps} exchange(s) in {len(finished.results)} scenario(s): "
        f"{summary_line(finished.summary)} -> {'CHANGED' if changed else 'no change'}"
    )
    print(f"report: {reports / 'results.json'}, HTML: {reports / 'report.html'}, JUnit: {reports / 'junit.xml'}")
    state = "signed" if sign_key is not None else "unsigned"
    print(f"evidence: {reports / (run_id + '.evidence.zip')} ({state}, not certifying)")
    sys.stdout.flush()
    return 1 if changed else 0
