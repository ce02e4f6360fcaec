"""Floor control in scenarios (esn-core@1.1, ESN-40..46): the step kinds ``floor_send`` and ``floor_await`` and
the check ``floor_packet``, declared in the ESN family's ``scenario_parts`` (schemas in ``floor_format``).

- ``floor_send: {session, sample | hex}`` POSTs one packet to ``${target}/netcode/v1/esn/floor/{session}`` as
  ``application/vnd.netcode.mcptt-floor`` and judges the answer with the step's ``expect``. It notes where the
  counterpart's record stood just before sending, so that a later ``floor_await`` can look after it.
- ``floor_await: {participant, session, after, within_s, expect_none}``: the first packet the SUT sent to the
  participant delivered at ``${counterpart}{participant}`` (``POST {participant}/netcode/v1/esn/floor/{session}``)
  after the ``floor_send`` step ``after`` began; judged with ``expect``, or, with ``expect_none``, nothing may
  arrive within ``within_s``. A participant receives several packets in a session (Granted, then Idle ...):
  "after that step" is what tells them apart (docs/decisions-esn-1.1.md).
- ``floor_packet``: the packet received is FLR-clean (no error, no warning: a server sends none), of
  ``subtype`` (``floor-granted`` ...), with ``fields`` as given (``duration: 30``, ``reject_cause: 1``,
  ``granted_party_identity: URI``, ``queue_info: [1, 7]``, ``{present: true}``, ``{equals: 0, optional: true}``),
  ``ack_requested``; ``keep_as`` keeps it (as hex, in the captures) for ``same_ssrc_as`` (one server SSRC) and
  ``sequence_after`` (its Message Sequence Number is the kept packet's + 1, modulo 65536).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.families.esn.floor import FIELD_NAMES, FLOOR_PATH, MEDIA_TYPE, FieldId, Judgement, Subtype, judge
from harness.model import CheckFailure, ConfigurationError, Scenario, Step
from harness.runner.checks import CheckContext, Mismatch, as_list, check
from harness.runner.context import Message, ScenarioContext
from harness.transport import Request

__all__ = ["SUBTYPES", "floor_await", "floor_packet", "floor_send"]

SUBTYPES: dict[str, int] = {kind.name.lower().replace("_", "-"): int(kind) for kind in Subtype}
"""``floor-request``, ``floor-granted``, ... as scenarios name the subtypes (x stripped)."""
FIELDS: dict[str, int] = {
    FIELD_NAMES[field_id].lower().replace("'s", "").replace(" ", "_"): int(field_id) for field_id in FieldId
}
"""``floor_priority``, ``duration``, ``granted_party_identity``, ... as scenarios name the fields."""
QUEUE_POSITION = int(FieldId.QUEUE_INFO)
"""``queue_position``: the position octet of Queue Info, for a scenario that leaves the queue priority open."""
_MARK = "floor-mark:"


def _mark_key(step: str) -> str:
    return _MARK + step


async def floor_send(
    runner: Any, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
) -> list[CheckFailure]:
    """Send the step's packet to the SUT's floor control server; judge the answer with the step's ``expect``."""
    spec = ctx.expand(step.raw["floor_send"])
    if "sample" in spec:
        fmt, sample = ctx.sample(str(spec["sample"]))
        body = Path(sample.path).read_bytes()
    else:
        fmt, sample = ctx.catalog.format("mcptt-floor/1.0"), None
        try:
            body = bytes.fromhex(str(spec["hex"]))
        except ValueError as exc:
            raise ConfigurationError(f"step {step.name!r}: floor_send hex: {exc}") from None
    content_type = str(spec.get("content_type", MEDIA_TYPE))
    url = runner.target + FLOOR_PATH.format(session=spec["session"])
    request = Request("POST", url, (("Content-Type", content_type),), body)
    ctx.captures[_mark_key(step.name)] = runner.exchanges.mark()
    carried = await runner.exchanges.send(scenario.id, step.name, request, None)
    latencies.append(carried.response.elapsed_ms)
    ctx.sent[step.name] = Message(fmt, carried.request.body, content_type, None, sample)
    failures: list[CheckFailure] = runner.judge(scenario, step.name, step, carried.response, ctx)
    return failures


async def floor_await(
    runner: Any, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
) -> list[CheckFailure]:
    """The first packet at a participant after a ``floor_send`` step; judged, or none wanted."""
    if not runner.exchanges.counterpart_url:
        raise ConfigurationError("a floor_await step needs a counterpart reference endpoint")
    spec = ctx.expand(step.raw["floor_await"])
    after = str(spec["after"])
    since = ctx.captures.get(_mark_key(after))
    if not isinstance(since, int):
        raise ConfigurationError(f"step {step.name!r}: {after!r} is no earlier floor_send step of this scenario")
    path = str(spec["participant"]).rstrip("/") + FLOOR_PATH.format(session=spec["session"])
    within = float(spec.get("within_s", 1))
    received = await runner.exchanges.received(scenario.id, step.name, "POST", path, since, within)
    if spec.get("expect_none"):
        if received is None:
            return []
        subtype = _shown_subtype(received.body)
        got = f"POST {path}: {subtype}"
        return [CheckFailure(step.name, "floor_await: none", f"no packet at {path}", got, f"{subtype} arrived")]
    if received is None:
        expected = f"POST {path} at the reference endpoint"
        return [CheckFailure(step.name, "floor_await", expected, None, f"nothing arrived within {within:g} s")]
    failures: list[CheckFailure] = runner.judge(scenario, step.name, step, received, ctx)
    return failures


def _shown_subtype(data: bytes) -> str:
    packet = judge(data).packet
    if packet is None:
        return "an unreadable packet"
    kind = packet.kind
    return kind.name.lower().replace("_", "-") if kind is not None else f"subtype {packet.subtype}"


# -- the check ------------------------------------------------------------------------------------------------------


def _judged(ctx: CheckContext) -> tuple[Judgement, list[Mismatch]]:
    judgement = judge(ctx.response.body)
    problems = [
        Mismatch(f"packet {f.location}", "no FLR finding", f.rule, f"{f.rule}: {f.message}")
        for f in (judgement.errors + judgement.warnings)[:20]
    ]
    return judgement, problems


def _kept(ctx: CheckContext, name: str) -> Judgement:
    kept = ctx.scenario.captures.get(name)
    if not isinstance(kept, str):
        raise ConfigurationError(f"floor_packet: no packet kept as {name!r} (keep_as) by an earlier step")
    return judge(bytes.fromhex(kept))


def _field_mismatches(judgement: Judgement, fields: dict[str, Any]) -> Iterator[Mismatch]:
    for name, wanted in fields.items():
        field_id = FIELDS.get(name, QUEUE_POSITION if name == "queue_position" else None)
        if field_id is None:
            known = ", ".join([*FIELDS, "queue_position"])
            raise ConfigurationError(f"floor_packet: unknown field {name!r} (known: {known})")
        actual = judgement.value(field_id)
        if name == "queue_position" and isinstance(actual, tuple):
            actual = actual[0]  # Queue Info's first octet: the position alone, whatever the queue priority
        shown = _plain(actual)
        where = f"field {name}"
        spec = wanted if isinstance(wanted, dict) else {"equals": wanted}
        if "present" in spec:
            if bool(spec["present"]) != (actual is not None):
                yield Mismatch(where, "present" if spec["present"] else "absent", shown, f"{name} presence")
            continue
        if actual is None:
            if not spec.get("optional"):
                yield Mismatch(where, spec.get("equals"), None, f"the packet carries no usable {name}")
            continue
        if "equals" in spec and shown != _plain(spec["equals"]):
            yield Mismatch(where, spec["equals"], shown, f"{name} differs")


def _plain(value: Any) -> Any:
    """A field's meaning as a scenario writes it: a reject cause as its number, Queue Info as a list."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes):
        return value[0]  # Reject Cause (cause, phrase) / Location (type, value): the number
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return int(value) if isinstance(value, int) else value


@check("floor_packet")
def floor_packet(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """The floor packet received (the body): FLR-clean, its subtype, fields, SSRC and numbering as expected."""
    expected = ctx.scenario.expand(expected)
    judgement, problems = _judged(ctx)
    yield from problems
    packet = judgement.packet
    if packet is None:
        return
    if "subtype" in expected:
        names = [str(name) for name in as_list(expected["subtype"])]
        unknown = [name for name in names if name not in SUBTYPES]
        if unknown:
            raise ConfigurationError(f"floor_packet: unknown subtype {unknown[0]!r} (known: {', '.join(SUBTYPES)})")
        actual = _shown_subtype(ctx.response.body)
        if packet.kind is None or int(packet.kind) not in {SUBTYPES[name] for name in names}:
            yield Mismatch("packet subtype", names[0] if len(names) == 1 else names, actual, f"a {actual}")
    if "ack_requested" in expected and packet.ack_requested != bool(expected["ack_requested"]):
        yield Mismatch("packet x", bool(expected["ack_requested"]), packet.ack_requested, "acknowledgement bit x")
    yield from _field_mismatches(judgement, dict(expected.get("fields") or {}))
    if "same_ssrc_as" in expected:
        other = _kept(ctx, str(expected["same_ssrc_as"]))
        want = other.packet.ssrc if other.packet is not None else None
        if packet.ssrc != want:
            shown_want = None if want is None else f"0x{want:08X}"
            yield Mismatch("packet SSRC", shown_want, f"0x{packet.ssrc:08X}", "not the one server SSRC of the session")
    if "sequence_after" in expected:
        before = _kept(ctx, str(expected["sequence_after"])).value(FieldId.MESSAGE_SEQUENCE_NUMBER)
        now = judgement.value(FieldId.MESSAGE_SEQUENCE_NUMBER)
        want = None if not isinstance(before, int) else (before + 1) % 0x10000
        if now != want:
            yield Mismatch("field message_sequence_number", want, now, "not one more than the kept packet's")
    if "keep_as" in expected:
        ctx.scenario.captures[str(expected["keep_as"])] = ctx.response.body.hex()
