"""The one verifier of evidence bundles (``specs/evidence.md`` 1.1, "Verifying").

A bundle is checked in the spec's order, the first failure being its reason:

1. a ZIP whose member names follow the rules, within bounds (anything unreadable is ``unreadable``);
2. the envelope's signature verifies with a key on the trust list whose entry covers ``sut.supplier``
   and the time of signing (the predicate's ``finished``: see docs/decisions-evidence.md);
3. the signed payload is ``statement.json`` byte for byte, with the statement and payload types of 1.1;
4. every other member is a subject with a matching digest, and every subject is present;
5. the predicate agrees with ``results.json`` field by field, with the JSON types of the spec;
6. the suite version is issued: in the verifier's register with the digest of its own folder;
7. ``summary`` and ``certified`` follow from the verdicts, levels from the issued suite (README rule 9);
8. with re-judging: the recorded exchanges, judged again over the issued suite, give the same verdicts.

Nothing a bundle contains makes this module raise: every outcome is an :class:`Outcome` of one line.
Members are streamed (digests in chunks, ``exchanges.jsonl`` line by line), so memory stays bounded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import re
import stat
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.catalog import Catalog
from harness.documents import folder_digest
from harness.evidence.archive import (
    CORRUPT,
    Invalid,
    Unreadable,
    check_archive,
    iter_exchanges,
    json_object,
    member_digest,
    read_member,
    show,
)
from harness.evidence.dsse import PAYLOAD_TYPE, EnvelopeError, parse_envelope, signature_holds
from harness.evidence.trust import TrustEntry, TrustList, parse_time
from harness.evidence.verified import Outcome, OutcomeKind, ScenarioVerdict, Signer, SutRef, VerifiedBundle
from harness.model import HarnessError, Suite, certified_by_rule, summary_key

__all__ = [
    "CLOCK_SKEW",
    "PREDICATE_TYPE",
    "PREDICATE_TYPE_1_0",
    "STATEMENT_TYPE",
    "Invalid",
    "OpenedBundle",
    "Unreadable",
    "Verifier",
    "iter_exchanges",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:netcode:certification-run:1.1"
PREDICATE_TYPE_1_0 = "urn:netcode:certification-run:1.0"
"""Read under 1.1's rules: its missing fields make it invalid, never valid by default."""

CLOCK_SKEW = dt.timedelta(minutes=5)
"""README rule 6: the tolerance for a signing time in the verifier's future."""

_SIGNED = ("statement.json", "envelope.json")
_REQUIRED = ("results.json", "exchanges.jsonl", "junit.xml")
_SUMMARY_KEYS = ("passed", "failed", "errors", "skipped", "manual")
_VERDICTS = ("passed", "failed", "error", "skipped", "manual")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


# -- the typed predicate and results --------------------------------------------------------------------


def _field(document: Mapping[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def _missing(document: Mapping[str, Any], paths: tuple[str, ...]) -> list[str]:
    absent = []
    for path in paths:
        try:
            _field(document, path)
        except KeyError:
            absent.append(path)
    return absent


def _want(document: Mapping[str, Any], path: str, kind: type | tuple[type, ...], what: str, where: str) -> Any:
    value = _field(document, path)
    ok = isinstance(value, kind) and not (
        isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))
    )
    if not ok:
        raise Invalid(f"{where}: {path} is {_type_name(value)} ({show(value, 40)}), not {what}")
    return value


def _summary(document: Mapping[str, Any], path: str, where: str) -> dict[str, int]:
    value = _want(document, path, dict, "an object", where)
    if sorted(value) != sorted(_SUMMARY_KEYS):
        raise Invalid(f"{where}: {path} must have exactly the keys {', '.join(_SUMMARY_KEYS)}")
    for key in _SUMMARY_KEYS:
        count = value[key]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise Invalid(f"{where}: {path}.{key} is {_type_name(count)} ({show(count, 40)}), not a count")
    return dict(value)


def _sut(document: Mapping[str, Any], where: str) -> SutRef | None:
    value = _field(document, "sut")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(f"{where}: sut is {_type_name(value)}, not an object or null")
    parts = []
    for key in ("supplier", "product", "version"):
        part = value.get(key)
        if not isinstance(part, str) or not part.strip():
            raise Invalid(f"{where}: sut.{key} is {_type_name(part)}, not a non-empty string")
        parts.append(part)
    return SutRef(*parts)


_PREDICATE_FIELDS = (
    "run_id",
    "harness.name",
    "harness.version",
    "suite.name",
    "suite.version",
    "suite.status",
    "suite.document",
    "suite.digest.sha256",
    "sut",
    "certifying",
    "target",
    "started",
    "finished",
    "summary",
    "certified",
)
_RESULTS_FIELDS = (
    "run_id",
    "suite.name",
    "suite.version",
    "sut",
    "target",
    "certifying",
    "certified",
    "started",
    "finished",
    "summary",
    "scenarios",
)


@dataclass(slots=True, frozen=True)
class _Predicate:
    run_id: str
    suite: str
    version: str
    document: str
    digest: str
    sut: SutRef | None
    certifying: bool
    targets: tuple[str, ...]
    started: str
    finished: str
    summary: dict[str, int]
    certified: bool
    roles: tuple[str, ...] = ()
    """Empty: a whole run; else the roles a role-limited run covers (never an empty list: that is refused)."""


def _roles(document: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """The ``roles`` a role-limited run names: absent (a whole run), or a non-empty list of distinct strings."""
    if "roles" not in document:
        return ()
    roles = document["roles"]
    if not isinstance(roles, list) or not roles or not all(isinstance(role, str) for role in roles):
        raise Invalid(f"{where}: roles is not a non-empty list of role names")
    if len(set(roles)) != len(roles):
        raise Invalid(f"{where}: roles names a role twice")
    return tuple(roles)


def _predicate(statement: Mapping[str, Any], legacy: bool) -> _Predicate:
    where = "predicate"
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        raise Invalid("statement.json has no predicate object")
    absent = _missing(predicate, _PREDICATE_FIELDS)
    if absent:
        older = " (a 1.0 bundle read under evidence 1.1)" if legacy else ""
        raise Invalid(f"predicate lacks {', '.join(absent)}{older}")
    run_id = _want(predicate, "run_id", str, "a string", where)
    if not _UUID.match(run_id):
        raise Invalid(f"predicate: run_id {show(run_id, 40)} is not a lowercase UUID")
    for path in ("harness.name", "harness.version", "suite.name", "suite.version", "suite.status", "suite.document"):
        _want(predicate, path, str, "a string", where)
    digest = _want(predicate, "suite.digest.sha256", str, "a string", where)
    if not _HEX64.match(digest):
        raise Invalid("predicate: suite.digest.sha256 is not 64 lowercase hex digits")
    targets = _want(predicate, "target", list, "a list of URLs", where)
    if not all(isinstance(t, str) for t in targets):
        raise Invalid("predicate: target is not a list of strings")
    started = _want(predicate, "started", str, "a string", where)
    finished = _want(predicate, "finished", str, "a string", where)
    try:
        if parse_time(started, "started") > parse_time(finished, "finished"):
            raise Invalid(f"predicate: started {show(started, 40)} is after finished {show(finished, 40)}")
    except ValueError as exc:
        raise Invalid(f"predicate: {exc}") from None
    return _Predicate(
        run_id=run_id,
        suite=predicate["suite"]["name"],
        version=predicate["suite"]["version"],
        document=predicate["suite"]["document"],
        digest=digest,
        sut=_sut(predicate, where),
        certifying=_want(predicate, "certifying", bool, "a boolean", where),
        targets=tuple(targets),
        started=started,
        finished=finished,
        summary=_summary(predicate, "summary", where),
        certified=_want(predicate, "certified", bool, "a boolean", where),
        roles=_roles(predicate, where),
    )


def _results_agree(results: Mapping[str, Any], claimed: _Predicate) -> None:
    """Check 5: results.json has the fields of 1.1 with their JSON types, and each equals the predicate's."""
    where = "results.json"
    absent = _missing(results, _RESULTS_FIELDS)
    if absent:
        raise Invalid(f"results.json lacks {', '.join(absent)}")
    for path in ("run_id", "suite.name", "suite.version", "target", "started", "finished"):
        _want(results, path, str, "a string", where)
    certifying = _want(results, "certifying", bool, "a boolean", where)
    certified = _want(results, "certified", bool, "a boolean", where)
    if "interrupted" in results:
        _want(results, "interrupted", bool, "a boolean", where)
    _want(results, "scenarios", list, "a list", where)
    pairs: tuple[tuple[str, object, object], ...] = (
        ("run_id", claimed.run_id, results["run_id"]),
        ("suite name", claimed.suite, results["suite"]["name"]),
        ("suite version", claimed.version, results["suite"]["version"]),
        ("sut", claimed.sut, _sut(results, where)),
        ("target", list(claimed.targets), [results["target"]]),
        ("started", claimed.started, results["started"]),
        ("finished", claimed.finished, results["finished"]),
        ("summary", claimed.summary, _summary(results, "summary", where)),
        ("certified", claimed.certified, certified),
        ("certifying", claimed.certifying, certifying),
        ("roles", list(claimed.roles), list(_roles(results, where))),
    )
    for what, predicate_value, results_value in pairs:
        if predicate_value != results_value:
            shown = (show(getattr(v, "ref", v), 60) for v in (predicate_value, results_value))
            raise Invalid(f"predicate disagrees with results.json: {what} {' != '.join(shown)}")


def _scenarios(results: Mapping[str, Any]) -> list[tuple[str, str, str, tuple[Mapping[str, Any], ...]]]:
    """``(id, level as results say, verdict, failures)`` of each scenario, with their JSON types checked."""
    listed = []
    seen: set[str] = set()
    for index, scenario in enumerate(results["scenarios"]):
        where = f"results.json: scenarios[{index}]"
        if not isinstance(scenario, dict):
            raise Invalid(f"{where} is {_type_name(scenario)}, not an object")
        for key in ("id", "level", "verdict"):
            if not isinstance(scenario.get(key), str):
                raise Invalid(f"{where}.{key} is {_type_name(scenario.get(key))}, not a string")
        if scenario["verdict"] not in _VERDICTS:
            raise Invalid(f"{where}: verdict {show(scenario['verdict'], 40)} is not one of {', '.join(_VERDICTS)}")
        if scenario["id"] in seen:
            raise Invalid(f"results.json: scenario {show(scenario['id'], 60)} is listed twice")
        seen.add(scenario["id"])
        failures = scenario.get("failures", [])
        if not isinstance(failures, list) or not all(isinstance(f, dict) for f in failures):
            raise Invalid(f"{where}.failures is not a list of objects")
        listed.append((scenario["id"], scenario["level"], scenario["verdict"], tuple(failures)))
    return listed


# -- the verifier ----------------------------------------------------------------------------------------


Rejudge = Callable[[Catalog, Suite, str, Iterator[dict[str, Any]], Mapping[str, Any]], list[str]]


class Verifier:
    """The one verifier: the issued suites (``catalog`` with its register) and the ``trust`` list are its own.

    ``now`` gives the verifier's clock (a signing time in its future, beyond :data:`CLOCK_SKEW`, is refused).
    ``registering``: the verifier judges for a registration (the register, ``runs import``, ``run --store``),
    timed by its own clock: the signer's entry must hold at that clock too, not only at the ``finished`` the
    bundle claims, so a key past its ``not_after`` cannot back-date its way into a register (docs/attacks.md).
    """

    def __init__(
        self,
        catalog: Catalog,
        trust: TrustList,
        *,
        now: Callable[[], dt.datetime] | None = None,
        rejudger: Rejudge | None = None,
        registering: bool = False,
    ) -> None:
        self.catalog = catalog
        self.registering = registering
        self.trust = trust
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._rejudger = rejudger
        self._own_digests: dict[tuple[str, str], str] = {}

    def verify(self, path: Path, rejudge: bool = False) -> Outcome:
        """The outcome for the bundle at ``path``; never raises for anything the bundle contains."""
        with self.open(path, rejudge) as opened:
            return opened.outcome

    def open(self, path: Path, rejudge: bool = False) -> OpenedBundle:
        """The bundle checked and kept open: read what was verified (:meth:`OpenedBundle.exchanges`) from it."""
        return OpenedBundle(self, path, rejudge)

    def own_digest(self, suite: Suite) -> str:
        """The verifier's own digest of ``suite``'s folder (computed once per verifier)."""
        key = (suite.name, suite.version)
        if key not in self._own_digests:
            self._own_digests[key] = folder_digest(Path(suite.directory))
        return self._own_digests[key]

    # -- the checks, in the spec's order ------------------------------------------------------------

    def _signer(self, archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo]) -> tuple[Signer | None, str]:
        """Check 2; returns the signer (None when unsigned) and the envelope's payload type."""
        info = members.get("envelope.json")
        if info is None:
            if self.trust:
                raise Invalid("unsigned bundle (no envelope.json): no key on the trust list vouches for it")
            return None, PAYLOAD_TYPE
        try:
            parsed = parse_envelope(json_object(read_member(archive, info), "envelope.json"))
        except EnvelopeError as exc:
            raise Invalid(str(exc)) from None
        entries: list[TrustEntry] = []
        known = False
        for ident, signature in parsed.signatures:
            for entry in self.trust.for_keyid(ident):
                known = True
                if signature_holds(entry.public_key, signature, parsed):
                    entries.append(entry)
        if not entries:
            if known:
                raise Invalid("bad signature: no signature verifies with its key on the trust list")
            ids = ", ".join(show(ident[:16], 20) for ident, _ in parsed.signatures)
            raise Invalid(f"unknown key: signed by {ids}, which is not on the trust list")
        # Who the signed statement says it is for, and when it was signed: read from the signed bytes.
        predicate = json_object(parsed.payload, "the signed payload").get("predicate")
        if not isinstance(predicate, dict):
            raise Invalid("the signed statement has no predicate object")
        declared = _sut(predicate, "predicate") if "sut" in predicate else None
        supplier = declared.supplier if declared is not None else None
        covering = [entry for entry in entries if entry.covers(supplier)]
        if not covering:
            holders = ", ".join(sorted({entry.holder for entry in entries}))
            whom = f"supplier {show(supplier, 60)}" if supplier is not None else "a run with no declared system"
            raise Invalid(f"signer {show(holders, 60)} may not sign for {whom}")
        finished = predicate.get("finished")
        try:
            signed_at = parse_time(finished, "the signed predicate's finished")
        except ValueError as exc:
            raise Invalid(f"signer: {exc}") from None
        if signed_at > self._now() + CLOCK_SKEW:
            raise Invalid(f"signer: finished {show(finished, 40)} lies in the verifier's future")
        timely = [entry for entry in covering if entry.within(signed_at)]
        if not timely:
            entry = covering[0]
            raise Invalid(
                f"signer {show(entry.holder, 60)}: finished {show(finished, 40)} is outside the key's dates "
                f"({entry.window()})"
            )
        if self.registering:
            now = self._now()
            current = [entry for entry in timely if entry.within(now)]
            if not current:
                entry = timely[0]
                raise Invalid(
                    f"signer {show(entry.holder, 60)}: the key's dates ended before this registration "
                    f"({entry.window()}); a registration needs a key valid at the register's clock"
                )
            timely = current
        return Signer(timely[0].keyid, timely[0].holder), parsed.payload_type

    def _statement(
        self, archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], signed: bool, payload_type: str
    ) -> tuple[dict[str, Any], bool]:
        """Check 3; the statement and whether it is a 1.0 one (read under 1.1's rules)."""
        info = members.get("statement.json")
        if info is None:
            raise Invalid("member missing: statement.json")
        statement_bytes = read_member(archive, info)
        if signed:
            envelope = json_object(read_member(archive, members["envelope.json"]), "envelope.json")
            payload = parse_envelope(envelope).payload
            if payload != statement_bytes:
                raise Invalid("signed payload differs from statement.json")
        statement = json_object(statement_bytes, "statement.json")
        if statement.get("_type") != STATEMENT_TYPE:
            raise Invalid(f"statement.json: _type {show(statement.get('_type'), 60)} is not {STATEMENT_TYPE}")
        predicate_type = statement.get("predicateType")
        if predicate_type not in (PREDICATE_TYPE, PREDICATE_TYPE_1_0):
            raise Invalid(f"statement.json: predicateType {show(predicate_type, 60)} is not {PREDICATE_TYPE}")
        if payload_type != PAYLOAD_TYPE:
            raise Invalid(f"envelope: payloadType {show(payload_type, 60)} is not {PAYLOAD_TYPE}")
        return statement, predicate_type == PREDICATE_TYPE_1_0

    @staticmethod
    def _subjects(
        archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], statement: Mapping[str, Any]
    ) -> dict[str, str]:
        """Check 4; the subjects by name."""
        subjects = statement.get("subject")
        if not isinstance(subjects, list):
            raise Invalid("statement.json: subject is not a list")
        listed: dict[str, str] = {}
        for subject in subjects:
            name = subject.get("name") if isinstance(subject, dict) else None
            digests = subject.get("digest") if isinstance(subject, dict) else None
            digest = digests.get("sha256") if isinstance(digests, dict) else None
            if not isinstance(name, str) or not isinstance(digest, str):
                raise Invalid("statement.json: a subject has no name and sha256 strings")
            if name in listed:
                raise Invalid(f"statement.json: subject {show(name)} is listed twice")
            listed[name] = digest
        for name in members:
            if name not in _SIGNED and name not in listed:
                raise Invalid(f"member added: {show(name)} is not a subject of the statement")
        for name in listed:
            if name in _SIGNED:
                raise Invalid(f"statement.json: {name} is listed as a subject (it is what signs the subjects)")
            if name not in members:
                raise Invalid(f"member missing: {show(name)} is a subject but not in the bundle")
        for required in _REQUIRED:
            if required not in listed:
                raise Invalid(f"member missing: {required}")
        for name, info in members.items():
            if name not in _SIGNED and member_digest(archive, info) != listed[name]:
                raise Invalid(f"digest mismatch: {show(name)}")
        return listed

    def _issued(self, claimed: _Predicate) -> Suite:
        """Check 6: the suite version is in the verifier's register, with the digest of its own folder."""
        ref = f"{show(claimed.suite, 60)}@{show(claimed.version, 30)}"
        suite = self.catalog.suites.get(claimed.suite, {}).get(claimed.version)
        if suite is None:
            raise Invalid(f"suite {ref} is not issued (not in the verifier's register)")
        if suite.digest is None:
            raise Invalid(f"suite {ref} is not issued (the register holds no digest for it)")
        try:
            own = self.own_digest(suite)
        except HarnessError as exc:
            raise Invalid(f"suite {ref}: the verifier cannot read its own copy ({exc})") from None
        if own != suite.digest:
            raise Invalid(f"suite {ref}: the verifier's own folder no longer gives the register's digest")
        if claimed.digest != suite.digest:
            raise Invalid(f"suite {ref}: digest differs from the issued suite's")
        if claimed.document != suite.certifies_text:
            raise Invalid(
                f"suite {ref}: document {show(claimed.document, 40)} is not the issued {suite.certifies_text}"
            )
        if not claimed.roles:
            return suite
        # A role-limited run is judged against the issued suite's scenarios of those roles, by the verifier's own
        # register: every one must be present (checks 7 and 8), and no role it did not run can be claimed.
        try:
            return suite.limited_to(claimed.roles)
        except HarnessError as exc:
            raise Invalid(f"roles: {exc}") from None

    @staticmethod
    def _follows(results: Mapping[str, Any], claimed: _Predicate, suite: Suite) -> tuple[ScenarioVerdict, ...]:
        """Check 7: summary and certified follow from the verdicts, levels from the issued suite."""
        issued = {scenario.id: str(scenario.level) for scenario in suite.typed}
        verdicts: list[ScenarioVerdict] = []
        counts = dict.fromkeys(_SUMMARY_KEYS, 0)
        for sid, level, verdict, failures in _scenarios(results):
            if sid not in issued:
                raise Invalid(f"results.json: scenario {show(sid, 60)} is not in the issued suite {suite.ref}")
            if level != issued[sid]:
                raise Invalid(
                    f"results.json: scenario {show(sid, 60)} is {show(level, 10)} there, {issued[sid]} in the "
                    f"issued suite {suite.ref}"
                )
            counts[summary_key(verdict)] += 1
            verdicts.append(ScenarioVerdict(sid, issued[sid], verdict, failures))
        if counts != claimed.summary:
            raise Invalid(f"verdicts do not follow: summary {claimed.summary} but the scenarios give {counts}")
        given = {v.id: v.verdict for v in verdicts}
        # A scenario of the issued suite missing from the results counts as not passed.
        outcomes = [(level, given.get(sid, "missing")) for sid, level in issued.items()]
        interrupted = results.get("interrupted", False) is True
        rule = certified_by_rule(outcomes, interrupted=interrupted, certifying=claimed.certifying)
        certified = rule and claimed.sut is not None
        if claimed.certified is not certified:
            why = ""
            if rule and claimed.sut is None:
                why = " (no system under test declared)"
            elif not claimed.certifying:
                why = " (the run is not certifying)"
            elif interrupted:
                why = " (the run was interrupted)"
            else:
                not_passed = [sid for sid, level in issued.items() if level == "MUST" and given.get(sid) != "passed"]
                if not_passed:
                    state = given.get(not_passed[0], "missing")
                    why = f" (MUST scenario {not_passed[0]} {state})"
            raise Invalid(f"verdicts do not follow: certified is {str(claimed.certified).lower()} but rule 9 gives "
                          f"{str(certified).lower()}{why}")  # fmt: skip
        return tuple(verdicts)

    def _rejudge(
        self,
        archive: zipfile.ZipFile,
        members: Mapping[str, zipfile.ZipInfo],
        listed: Mapping[str, str],
        results: Mapping[str, Any],
        claimed: _Predicate,
        suite: Suite,
        verdicts: tuple[ScenarioVerdict, ...],
    ) -> None:
        """Check 8: every scenario of the issued suite present, and judged again to the same verdict."""
        present = {v.id for v in verdicts}
        absent = [scenario.id for scenario in suite.typed if scenario.id not in present]
        if absent:
            raise Invalid(f"re-judging: scenario {absent[0]} of the issued suite {suite.ref} is not in results.json")
        rejudger = self._rejudger
        if rejudger is None:
            from harness.evidence.rejudge import rejudge  # the replay imports the runner: only when asked

            rejudger = rejudge
        target = claimed.targets[0] if claimed.targets else str(results.get("target"))
        records = iter_exchanges(archive, members["exchanges.jsonl"], listed["exchanges.jsonl"])
        try:
            differences = rejudger(self.catalog, suite, target, records, results)
        except Invalid:
            raise
        except HarnessError as exc:
            raise Invalid(f"re-judging failed: {show(str(exc), 200)}") from None
        except Exception as exc:  # a bundle must never crash the verifier: its content is the reason
            raise Invalid(f"re-judging failed: {type(exc).__name__}: {show(str(exc), 200)}") from None
        if differences:
            raise Invalid(f"re-judging differs: {differences[0]}")

    def check(
        self, path: Path, handle: io.BufferedReader, rejudge: bool
    ) -> tuple[zipfile.ZipFile, VerifiedBundle, str]:
        """Run the eight checks on the open ``handle``; Invalid or Unreadable with the first reason."""
        file_digest = hashlib.file_digest(handle, "sha256").hexdigest()
        handle.seek(0)
        try:
            archive = zipfile.ZipFile(handle)
        except CORRUPT as exc:
            raise Unreadable(f"not a ZIP archive ({show(str(exc), 80)})") from None
        try:
            members = check_archive(archive)
            signer, payload_type = self._signer(archive, members)
            statement, legacy = self._statement(archive, members, signer is not None or "envelope.json" in members,
                                                payload_type)  # fmt: skip
            listed = self._subjects(archive, members, statement)
            claimed = _predicate(statement, legacy)
            results = json_object(read_member(archive, members["results.json"]), "results.json")
            _results_agree(results, claimed)
            suite = self._issued(claimed)
            verdicts = self._follows(results, claimed, suite)
            if rejudge:
                self._rejudge(archive, members, listed, results, claimed, suite, verdicts)
        except BaseException:
            archive.close()
            raise
        bundle = VerifiedBundle(
            path=path,
            sha256=file_digest,
            run_id=claimed.run_id,
            signer=signer,
            suite=suite.name,
            suite_version=suite.version,
            document=suite.certifies_text,
            suite_status=str(suite.status),
            sut=claimed.sut,
            certifying=claimed.certifying,
            certified=claimed.certified,
            started=claimed.started,
            finished=claimed.finished,
            summary=dict(claimed.summary),
            scenarios=verdicts,
            targets=claimed.targets,
            rejudged=rejudge,
            results=results,
            predicate=statement["predicate"],
            roles=suite.covers,
        )
        return archive, bundle, listed["exchanges.jsonl"]


class OpenedBundle:
    """A bundle checked by the :class:`Verifier` and kept open, so what is read next is what was verified."""

    def __init__(self, verifier: Verifier, path: Path, rejudge: bool) -> None:
        self.path = Path(path)
        self._verifier = verifier
        self._rejudge = rejudge
        self._stack = contextlib.ExitStack()
        self._archive: zipfile.ZipFile | None = None
        self._exchanges_digest = ""
        self.outcome = Outcome(self.path, OutcomeKind.UNREADABLE, "not checked yet")

    def _refused(self, kind: OutcomeKind, reason: str) -> None:
        # one line, whatever a bundle (or the system under test it recorded) put in the reason
        self.outcome = Outcome(self.path, kind, _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", reason))

    def __enter__(self) -> OpenedBundle:
        try:
            if not stat.S_ISREG(self.path.stat().st_mode):  # a FIFO or device would block or never end
                self._refused(OutcomeKind.UNREADABLE, "not a regular file")
                return self
            handle = self._stack.enter_context(self.path.open("rb"))
        except FileNotFoundError:
            self._refused(OutcomeKind.UNREADABLE, "no such file")
            return self
        except OSError as exc:
            self._refused(OutcomeKind.UNREADABLE, f"cannot read ({exc.strerror or exc})")
            return self
        try:
            archive, bundle, self._exchanges_digest = self._verifier.check(self.path, handle, self._rejudge)
        except Invalid as exc:
            self._refused(OutcomeKind.INVALID, str(exc))
        except Unreadable as exc:
            self._refused(OutcomeKind.UNREADABLE, str(exc))
        except RecursionError:
            self._refused(OutcomeKind.INVALID, "a document nests too deeply")
        except MemoryError:
            self._refused(OutcomeKind.UNREADABLE, "out of memory reading it")
        except OSError as exc:
            self._refused(OutcomeKind.UNREADABLE, f"cannot read ({exc.strerror or exc})")
        else:
            self._archive = self._stack.enter_context(archive)
            self.outcome = Outcome(self.path, OutcomeKind.VALID, "", bundle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stack.close()

    def exchanges(self) -> Iterator[dict[str, Any]]:
        """The verified bundle's exchange records, streamed; :class:`Invalid` at the end if the bytes differ."""
        if self._archive is None or not self.outcome.valid:
            raise Invalid(f"{self.path}: not a valid bundle ({self.outcome.line()})")
        return iter_exchanges(self._archive, "exchanges.jsonl", self._exchanges_digest)
