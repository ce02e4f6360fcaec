"""The one opener of records the certifying body signs (withdrawals, life-cycle records, checkpoints)."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.certification.withdrawal import WithdrawalError
from harness.evidence.dsse import envelope
from harness.evidence.keys import keyid
from harness.evidence.signed import (
    MAX_RECORD_CHARS,
    SignedRecordError,
    open_body_signed,
    open_body_signed_text,
    sign_record,
)
from harness.register.checkpoint import CheckpointError, open_checkpoint
from harness.register.lifecycle import LifecycleError, check_lifecycle, sign_lifecycle

BODY = Ed25519PrivateKey.generate()
SUPPLIER = Ed25519PrivateKey.generate()  # a dishonest party with a valid key of its own
KIND = "application/vnd.netcode.test+json"


def test_a_record_the_body_signed_opens_to_its_content_and_signer() -> None:
    opened = open_body_signed_text(sign_record({"a": "ü", "b": 1}, BODY, KIND), BODY.public_key(), KIND)
    assert opened.content == {"a": "ü", "b": 1} and opened.keyid == keyid(BODY.public_key())


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (
            sign_record({"a": 1}, SUPPLIER, KIND),
            f"record: signed by {keyid(SUPPLIER.public_key())[:16]}, not by the certifying body's key",
        ),
        (
            sign_record({"a": 1}, BODY, "application/vnd.netcode.other+json"),
            f"record: not a DSSE envelope of type {KIND}",
        ),
        (json.dumps(envelope(b"[1, 2]", BODY, KIND)), "record: payload is not an object"),
        (json.dumps(envelope(b"{nope", BODY, KIND)), "record: payload is not JSON"),
        ("{", "record: not JSON"),
        ("[]", f"record: not a DSSE envelope of type {KIND}"),
        (json.dumps({"payloadType": KIND, "payload": "!", "signatures": []}), "record: payload is not base64"),
        (" " * (MAX_RECORD_CHARS + 1), "record: too large"),
    ],
    # fixed ids: the keys are made at import, and xdist's workers must collect the same test names
    ids=["supplier-key", "other-type", "array", "not-json-payload", "not-json", "not-envelope", "not-base64", "large"],
)
def test_what_the_body_did_not_sign_is_one_reason(record: str, reason: str) -> None:
    with pytest.raises(SignedRecordError) as caught:
        open_body_signed_text(record, BODY.public_key(), KIND)
    assert str(caught.value).startswith(reason)


def test_a_payload_changed_under_the_bodys_signature_does_not_verify() -> None:
    document = json.loads(sign_record({"status": "superseded"}, BODY, KIND))
    document["payload"] = base64.b64encode(b'{"status": "current"}').decode()
    with pytest.raises(SignedRecordError, match="record: the signature by the certifying body's key does not verify"):
        open_body_signed(document, BODY.public_key(), KIND)


def test_each_kind_of_record_refuses_another_kind_signed_by_the_body() -> None:
    """A life-cycle record handed in as a checkpoint (or the reverse) is refused by its type, with its own error."""
    lifecycle = sign_lifecycle("cap-core", "1.0", "retired", "old", "2026-01-01T00:00:00Z", BODY)
    with pytest.raises(CheckpointError, match="checkpoint: not a DSSE envelope of type"):
        open_checkpoint(json.loads(lifecycle), BODY.public_key())
    with pytest.raises(LifecycleError, match=r"record: signed by [0-9a-f]{16}, not by the certifying body's key"):
        check_lifecycle(sign_lifecycle("cap-core", "1.0", "retired", "", "", SUPPLIER), BODY.public_key())
    assert not issubclass(SignedRecordError, WithdrawalError)  # each caller raises its own error type
