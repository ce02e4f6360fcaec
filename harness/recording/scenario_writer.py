"""A recording made into a suite (issue 23): ``harness scenarios from-recording`` and what ``harness replay`` runs.

One scenario per conversation: exchanges whose requests share a message id (a UUID in the target or the body:
``reportId``, ``queryId``, a CAP ``identifier``...) stay together, in recorded order, so an idempotent
re-submission, a conflict or a retrieval follows the submission it needs. Each exchange is one step: the
recorded request (its method, path, body and the headers a client chose), and checks derived from the recorded
answer: its status, media type, ``Location`` path, every member of a JSON answer by pointer (an array also
wants no element beyond the recorded ones), every leaf and child count of an XML answer by XPath, and, when
the recorded answer was a valid message of a catalog format, that format; any other answer body (binary: an
MCData message, a file's octets) is compared octet for octet. What the answering system mints or
stamps (declared per family: :attr:`harness.extensions.FormatFamily.volatile`), and what the caller ignores,
is not compared. With ``fresh_ids`` every message id becomes ``${uuid:idN}``: a fresh id per run, the same
within a conversation, in later requests and in the expected answers alike.

A recorded ``PUT /netcode/v1/_test/dataset`` becomes the suite's data set (loaded through the hook before
the scenarios, as the bundled suites load theirs). A binary request body (not UTF-8: an MCData SDS) is a step's
``body_base64``, sent octet for octet as recorded, the ids it holds included (they stay as recorded in the
whole conversation). What cannot be a step is left out and said: an exchange without an answer, a text body
that holds ``${`` (the scenario template syntax), a test hook that reads (deliveries), a retrieval of an id minted
outside the recording. Test hooks that set state or make the target send are steps, their bodies as recorded.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from lxml import etree

from harness.catalog import Catalog, default_fixtures
from harness.extensions import FAMILIES, volatile_octets_of
from harness.http import media_type
from harness.model import UsageError
from harness.profile import DATASET_HOOK
from harness.recording.exchange import RecordedExchange
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.validator import detect_format, validator_for
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = ["Left", "WrittenSuite", "suite_documents", "volatile_fields", "write_suite"]

_UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID = re.compile(_UUID_PATTERN)
_UUID_SPLIT = re.compile(f"({_UUID_PATTERN})")
_SUITE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DROPPED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "user-agent",
        "accept-encoding",
        "date",
        "te",
        "keep-alive",
        "expect",
        "upgrade",
        "proxy-connection",
    }
)
"""Headers the transport sets for itself: a step leaves them to the run's transport."""
TEST_HOOKS = "/netcode/v1/_test/"


@dataclass(slots=True, frozen=True)
class Left:
    """An exchange of the recording that is not a step, and why."""

    number: int
    method: str
    target: str
    reason: str


@dataclass(slots=True, frozen=True)
class WrittenSuite:
    """What :func:`write_suite` wrote: the catalog folder, the suite, its scenarios, what it left out."""

    catalog: Path
    suite: str
    version: str
    scenarios: int
    steps: int
    dataset: str | None
    left: tuple[Left, ...] = field(default=())

    @property
    def ref(self) -> str:
        return f"{self.suite}@{self.version}"


def volatile_fields(ignore: Iterable[str] = ()) -> tuple[tuple[tuple[str, ...], ...], frozenset[str]]:
    """What a replay does not compare: JSON pointer patterns (token tuples, ``*`` any) and XML element names
    (``{ns}local``), from every family's declaration and ``ignore``."""
    pointers: list[tuple[str, ...]] = []
    elements: set[str] = set()
    for _, family in FAMILIES.items():
        for where in family.volatile:
            _add_volatile(where, pointers, elements)
    for where in ignore:
        if not where.startswith(("/", "{")) and where != "":
            raise UsageError(f"--ignore {where!r}: expected a JSON Pointer (/a/b, * for any member) or {{NS}}element")
        _add_volatile(where, pointers, elements)
    return tuple(pointers), frozenset(elements)


def _add_volatile(where: str, pointers: list[tuple[str, ...]], elements: set[str]) -> None:
    if where.startswith("{"):
        elements.add(where)
    else:
        pointers.append(tuple(_unescape(t) for t in where.split("/")[1:]))


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _ignored(path: tuple[str, ...], patterns: Sequence[tuple[str, ...]]) -> bool:
    """Whether ``path`` is, or lies under, one of ``patterns``."""
    return any(
        len(p) <= len(path) and all(t in ("*", s) for t, s in zip(p, path[: len(p)], strict=True)) for p in patterns
    )


class _Ids:
    """Message ids of one conversation and their template names (``${uuid:idN}``)."""

    def __init__(self, fresh: bool) -> None:
        self.fresh = fresh
        self.names: dict[str, str] = {}
        self.pinned: set[str] = set()
        """Ids a binary body holds: it is sent as recorded, so they stay as recorded everywhere."""
        self.minted: dict[str, str] = {}
        """Ids the answering system minted (a ``Location`` naming what a request created): the replayed
        target mints its own, so later requests name the one captured from its answer (``${capture:mintedN}``)."""
        self.minting: set[str] = set()
        """Ids minted by the step whose expectation is being written: not comparable before they are captured."""

    def mint(self, found: str) -> str:
        name = self.minted.setdefault(found.lower(), f"minted{len(self.minted) + 1}")
        self.names.pop(found.lower(), None)
        self.pinned.discard(found.lower())
        return name

    def comparable(self, value: Any) -> bool:
        """Whether an expected ``value`` can be compared (it names no id its own step minted)."""
        return not (isinstance(value, str) and any(m.group().lower() in self.minting for m in _UUID.finditer(value)))

    def learn(self, text: str) -> None:
        for found in _UUID.findall(text):
            self.names.setdefault(found.lower(), f"id{len(self.names) + 1}")

    def pin(self, body: bytes) -> None:
        for found in _UUID.findall(body.decode("latin-1")):
            self.pinned.add(found.lower())
            self.names.pop(found.lower(), None)

    def template(self, text: str) -> str:
        if not self.minted and (not self.fresh or not self.names):
            return text

        def one(m: re.Match[str]) -> str:
            found = m.group().lower()
            if found in self.minted:
                return f"${{capture:{self.minted[found]}}}"
            if self.fresh and found in self.names and found not in self.pinned:
                return f"${{uuid:{self.names[found]}}}"
            return m.group()

        return _UUID.sub(one, text)

    def value(self, value: Any) -> Any:
        return self.template(value) if isinstance(value, str) else value


def _ids_of(exchange: RecordedExchange) -> set[str]:
    text = exchange.target + "\n" + exchange.request_body.decode("utf-8", "replace")
    return {found.lower() for found in _UUID.findall(text)}


def _conversations(exchanges: Sequence[tuple[int, RecordedExchange]]) -> list[list[tuple[int, RecordedExchange]]]:
    """The exchanges grouped by the message ids their requests share (transitively), each group in order,
    the groups in the order of their first exchange."""
    parent = list(range(len(exchanges)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, (_, exchange) in enumerate(exchanges):
        # A Location names what the request created: who later names it belongs to the same conversation.
        location = urlsplit(exchange.header("Location", answer=True) or "").path
        for found in _ids_of(exchange) | {found.lower() for found in _UUID.findall(location)}:
            if found in owner:
                parent[root(index)] = root(owner[found])
            else:
                owner[found] = index
    groups: dict[int, list[tuple[int, RecordedExchange]]] = {}
    for index, item in enumerate(exchanges):
        groups.setdefault(root(index), []).append(item)
    return sorted(groups.values(), key=lambda group: group[0][0])


def _answer_ids(exchange: RecordedExchange) -> set[str]:
    text = (exchange.header("Location", answer=True) or "") + "\n" + exchange.answer_body.decode("latin-1")
    return {found.lower() for found in _UUID.findall(text)}


def _hook_with_body(exchange: RecordedExchange) -> bool:
    """A test hook whose body names ids the target puts in what it then sends (``send-sds``'s Conversation
    and Message IDs): sent as recorded, so the binary notifications recorded after it still answer it."""
    return urlsplit(_path(exchange)).path.startswith(TEST_HOOKS) and bool(exchange.request_body)


def _reason_unknowable(exchange: RecordedExchange, carried: set[str]) -> str | None:
    """Why a retrieval cannot be replayed: it names an id no earlier exchange of the recording carried, and was
    answered: the target minted it and told it outside the recording (the file URL of an FD it sent on a trigger,
    to a system the recording does not hold), so a replayed target mints another that no replay can learn."""
    if exchange.method.upper() not in ("GET", "HEAD") or not 200 <= exchange.answer_status < 300:
        return None
    unknown = {found.lower() for found in _UUID.findall(urlsplit(_path(exchange)).path)} - carried
    if not unknown:
        return None
    return (
        "names an id the target minted and sent outside the recording, or held before it began "
        "(a replayed target mints another, or need not hold it)"
    )


def _path(exchange: RecordedExchange) -> str:
    parts = urlsplit(exchange.target)
    return parts._replace(scheme="", netloc="").geturl() or "/"


def _reason_left(exchange: RecordedExchange) -> str | None:
    if exchange.answer_status == 0:
        return "no answer was recorded"
    if exchange.request_dropped or exchange.answer_dropped or not exchange.request_complete:
        return "the recording holds only part of a body (over the recorder's bound, or answered before it ended)"
    path = urlsplit(_path(exchange)).path
    if path.startswith(TEST_HOOKS) and exchange.method.upper() in ("GET", "HEAD"):
        return "a test hook reading what the SUT did with a system the recording does not hold (its deliveries)"
    text = _text(exchange.request_body) or ""  # a binary body becomes body_base64: no template in it
    if "${" in text or "${" in exchange.target:
        return "the request holds '${' (the scenario template syntax)"
    return None


def _json_expect(document: Any, ids: _Ids, volatile: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    expected: dict[str, Any] = {}

    def visit(node: Any, path: tuple[str, ...]) -> None:
        if _ignored(path, volatile):
            return
        pointer = "".join("/" + _escape(token) for token in path)
        if isinstance(node, dict) and node:
            for key, value in node.items():
                visit(value, (*path, key))
        elif isinstance(node, list) and node:
            for index, value in enumerate(node):
                visit(value, (*path, str(index)))
            expected[f"{pointer}/{len(node)}"] = {"present": False}  # no element beyond the recorded ones
        elif isinstance(node, str) and "${" in node:
            return  # a template in the answer's text cannot be compared literally
        elif path and ids.comparable(node):
            expected[pointer] = ids.value(node)

    visit(document, ())
    return expected


def _xml_expect(root: etree._Element, ids: _Ids, volatile: frozenset[str]) -> dict[str, Any]:
    prefixes: dict[str, str] = {}

    def step(element: etree._Element) -> str:
        qname = etree.QName(element)
        if qname.namespace is None:
            name = qname.localname
        else:
            prefix = prefixes.setdefault(qname.namespace, f"n{len(prefixes)}")
            name = f"{prefix}:{qname.localname}"
        parent = element.getparent()
        if parent is None:
            return "/" + name
        same = [sibling for sibling in parent if sibling.tag == element.tag]
        return f"{name}[{same.index(element) + 1}]"

    expected: dict[str, Any] = {}
    paths: dict[Any, str] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        parent = element.getparent()
        path = step(element) if parent is None else f"{paths[parent]}/{step(element)}"
        paths[element] = path
        if element.tag in volatile:
            continue
        children = [child for child in element if isinstance(child.tag, str)]
        if children:
            expected[f"count({path}/*)"] = len(children)
        else:
            text = (element.text or "").strip()
            if "${" not in text and ids.comparable(text):
                expected[path] = ids.value(text)
        for name, value in sorted(element.attrib.items()):
            qname = etree.QName(name)
            if qname.namespace is not None:
                continue
            if "${" not in value and ids.comparable(value):
                expected[f"{path}/@{qname.localname}"] = ids.value(value.strip())
    if expected:
        expected["namespaces"] = {prefix: namespace for namespace, prefix in prefixes.items()}
    return expected


def _expect(
    exchange: RecordedExchange,
    ids: _Ids,
    catalog: Catalog,
    volatile: tuple[Sequence[tuple[str, ...]], frozenset[str]],
) -> dict[str, Any]:
    expect: dict[str, Any] = {"status": exchange.answer_status}
    content_type = exchange.header("Content-Type", answer=True)
    if content_type:
        expect["media_type"] = media_type(content_type)
    location = exchange.header("Location", answer=True)
    if location is not None and "${" not in location:
        path = urlsplit(location).path
        if ids.minting and _UUID.search(path):  # the target mints its own id there: any UUID, the rest as recorded
            pattern = "".join(
                (_UUID_PATTERN if part.lower() in ids.minting else ids.template(part))
                if _UUID.fullmatch(part)
                else re.escape(part)
                for part in _UUID_SPLIT.split(path)
            )
            expect["headers"] = {"Location": {"path_pattern": f"^{pattern}$"}}
        else:
            expect["headers"] = {"Location": {"path": ids.template(path)}}
    body = exchange.answer_body
    if not body or exchange.header("Content-Encoding", answer=True):
        return expect
    head = body.lstrip()[:1]
    fmt = detect_format(list(catalog.formats.values()), body)
    compared = False
    if head in (b"{", b"["):
        try:
            members = _json_expect(parse_json(body), ids, volatile[0])
            compared = True
        except UnsafeJson:
            members = {}
        if members:
            expect["json"] = members
    elif head == b"<":
        try:
            values = _xml_expect(parse_xml(body), ids, volatile[1])
            compared = True
        except UnsafeXml:
            values = {}
        if values:
            expect["xml"] = values
    if not compared:  # binary (or text that is neither JSON nor XML): octet for octet
        expect["body"] = _octets_expect(body, fmt.id if fmt is not None else None)
    if fmt is not None and validator_for(fmt).validate(body).valid:
        expect["format"] = fmt.id  # the answer was a valid message: it must stay one
    return expect


def _octets_expect(body: bytes, format_id: str | None) -> dict[str, Any]:
    """The ``body`` check of an answer compared octet for octet, but for what its format's family declares the
    sender stamps (``FormatFamily.volatile_octets``: an MCData message's date and time)."""
    expected: dict[str, Any] = {"octets": base64.b64encode(body).decode("ascii")}
    ranges = volatile_octets_of(format_id, body) if format_id is not None else ()
    if ranges:
        expected["ignore_octets"] = [f"{start}-{end}" for start, end in ranges]
    return expected


def _request(exchange: RecordedExchange, ids: _Ids) -> dict[str, Any]:
    request: dict[str, Any] = {"method": exchange.method.upper(), "path": ids.template(_path(exchange))}
    headers = {
        name: value
        for name, value in exchange.request_headers
        if name.lower() not in _DROPPED_HEADERS and "[redacted]" not in value and "${" not in value
    }
    if headers:
        request["headers"] = headers
    if exchange.request_body:
        text = _text(exchange.request_body)
        if text is not None:
            request["body"] = ids.template(text)
        else:  # binary (an MCData SDS): sent octet for octet as recorded, its ids too
            request["body_base64"] = base64.b64encode(exchange.request_body).decode("ascii")
    return request


def _text(body: bytes) -> str | None:
    """``body`` as text, or None when it is not UTF-8 (a binary body)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def suite_documents(
    exchanges: Sequence[RecordedExchange],
    catalog: Catalog,
    suite: str,
    *,
    fresh_ids: bool = True,
    ignore: Iterable[str] = (),
    source: str = "a recording",
) -> tuple[dict[str, Any], list[dict[str, Any]], Any, tuple[Left, ...]]:
    """(suite manifest, scenario documents, data set or None, exchanges left out) of ``exchanges``."""
    volatile = volatile_fields(ignore)
    left: list[Left] = []
    dataset: Any = None
    usable: list[tuple[int, RecordedExchange]] = []
    carried: set[str] = set()  # every id the recording carried so far, in a request or an answer
    for number, exchange in enumerate(exchanges, 1):
        reason = _reason_left(exchange) or _reason_unknowable(exchange, carried)
        carried |= _ids_of(exchange) | _answer_ids(exchange)
        if reason is None and urlsplit(_path(exchange)).path == DATASET_HOOK and exchange.method.upper() == "PUT":
            try:
                dataset = parse_json(exchange.request_body)
            except UnsafeJson:
                reason = "a data set that is not JSON"
            else:
                continue
        if reason is not None:
            left.append(Left(number, exchange.method, exchange.target, reason))
            continue
        usable.append((number, exchange))
    scenarios: list[dict[str, Any]] = []
    for index, group in enumerate(_conversations(usable), 1):
        ids = _Ids(fresh_ids)
        for _, exchange in group:
            text = _text(exchange.request_body)
            ids.learn(exchange.target + "\n" + (text if text is not None else ""))
        for _, exchange in group:
            if _text(exchange.request_body) is None or _hook_with_body(exchange):
                ids.pin(exchange.request_body)
        steps: list[dict[str, Any]] = []
        requested: set[str] = set()
        for number, exchange in group:
            step: dict[str, Any] = {"id": f"x{number:05d}", "request": _request(exchange, ids)}
            requested |= _ids_of(exchange)
            location = exchange.header("Location", answer=True) or ""
            ids.minting = {found.lower() for found in _UUID.findall(urlsplit(location).path)} - requested
            step["expect"] = _expect(exchange, ids, catalog, volatile)
            if len(ids.minting) == 1:  # one id minted: later requests name the one the target mints
                [minted] = ids.minting
                step["capture"] = {ids.mint(minted): "uuid:header:Location"}
            ids.minting = set()
            steps.append(step)
        first = group[0][1]
        numbers = ", ".join(str(number) for number, _ in group[:8]) + (", ..." if len(group) > 8 else "")
        scenarios.append(
            {
                "id": f"REC-{index:04d}",
                "title": f"{first.method} {urlsplit(_path(first)).path} as recorded (exchange {numbers})",
                "level": "MUST",
                "steps": steps,
            }
        )
    manifest: dict[str, Any] = {
        "name": suite,
        "version": "1.0",
        "title": f"Recorded exchanges ({source})",
        "description": "Made by harness scenarios from-recording: each answer is compared with the recorded one, "
        "field by field, what the answering system mints left out.",
    }
    return manifest, scenarios, dataset, tuple(left)


def write_suite(
    exchanges: Sequence[RecordedExchange],
    catalog: Catalog,
    out: Path,
    suite: str,
    *,
    fresh_ids: bool = True,
    ignore: Iterable[str] = (),
    source: str = "a recording",
) -> WrittenSuite:
    """Write the catalog folder ``out`` (``suites/SUITE/1.0/`` and, when the recording loaded one, a data set)
    that ``harness suites --check --catalog OUT`` accepts and ``harness run --catalog OUT --suite SUITE`` runs."""
    if not _SUITE_NAME.match(suite):
        raise UsageError(
            f"bad suite name {suite!r}: lower-case letters, digits and '-', starting with a letter or digit"
        )
    if suite in catalog.suites and not catalog.origin(catalog.suite(suite)).resolve().is_relative_to(out.resolve()):
        raise UsageError(f"the catalog already has a suite {suite!r}: choose another --suite")
    manifest, scenarios, dataset, left = suite_documents(
        exchanges, catalog, suite, fresh_ids=fresh_ids, ignore=ignore, source=source
    )
    if not scenarios:
        raise UsageError("the recording holds no exchange that can be a scenario step")
    folder = out / "suites" / suite / "1.0"
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} exists and is not empty: give another --out or --suite")
    try:
        (folder / "scenarios").mkdir(parents=True, exist_ok=True)
        dataset_ref = None
        if dataset is not None:
            dataset_ref = f"{suite}-data@1.0"
            data_folder = out / "datasets" / f"{suite}-data" / "1.0"
            data_folder.mkdir(parents=True, exist_ok=True)
            (data_folder / "dataset.json").write_text(json.dumps(dataset, ensure_ascii=False, indent=2) + "\n")
            bundled = _bundled_dataset_schema(catalog)
            if bundled is not None:  # the shape every data set of the queries has (queries.md)
                shutil.copyfile(bundled, data_folder / "schema.json")
            manifest["dataset"] = dataset_ref
        (folder / "suite.yaml").write_text(_yaml(manifest))
        for scenario in scenarios:
            name = f"{scenario['id'].lower()}.yaml"
            (folder / "scenarios" / name).write_text(_yaml(scenario))
    except OSError as exc:
        raise UsageError(f"cannot write the scenario folder {out}: {exc.strerror or exc}") from None
    return WrittenSuite(out, suite, "1.0", len(scenarios), sum(len(s["steps"]) for s in scenarios), dataset_ref, left)


def _bundled_dataset_schema(catalog: Catalog) -> Path | None:
    for ref, folder in sorted(catalog.datasets.items()):
        if (folder / "schema.json").is_file() and ref.startswith("checks-core@"):
            return folder / "schema.json"
    candidate = next(iter(sorted((default_fixtures() / "datasets").glob("*/*/schema.json"))), None)
    return candidate


def _yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=100000)
