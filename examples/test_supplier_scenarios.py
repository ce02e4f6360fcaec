"""Scenarios a supplier writes in Python, beside the YAML suites (copy this file into your own tests).

Run against your system:

    pytest examples/test_supplier_scenarios.py --netcode-target https://sut.example:8443

The fixtures come from the harness's pytest plugin (installed with ``netcode-harness``):

- ``netcode_target``: your system; ``send_message(method, path, message)`` builds a message exactly
  as a YAML ``message:`` block does (``sample``, ``set``, ``remove``, ``as``, ``same_as``; ``${uuid:x}``
  gives a fresh identifier per test) and sends it;
- ``netcode_expect(answer, expect, sent=...)``: the YAML ``expect:`` checks (``status``, ``headers``,
  ``media_type``, ``json``, ``format``, ``content``, ``problem``, ...); a failure lists every
  ``(field, expected, actual)``, as ``harness run`` does;
- ``netcode_catalog``: formats, samples, suites and validators;
- ``netcode_reference(role)``: a reference role on loopback, for testing your *client* side.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from harness.validation.validator import validator_for


def test_burst_of_reports_retrieved_in_both_renditions(netcode_target, netcode_expect):
    """Five reports, each retrieved in both renditions with the content that was sent, and
    ``receivedAt`` never going backwards in the order of submission (a loop the YAML cannot write)."""
    received_at = []
    for index in range(5):
        sent, answer = netcode_target.send_message(
            "POST",
            "/netcode/v1/intel-reports",
            {"sample": "intel-report/1.0/valid/full.json", "set": {"/reportId": f"${{uuid:report{index}}}"}},
            step=f"submit-{index}",
        )
        netcode_expect(answer, {"status": 202, "json": {"/reportId": sent.model["reportId"]}}, sent=sent)
        received_at.append(json.loads(answer.body)["receivedAt"])
        for media_type, format_id in (
            ("application/vnd.netcode.intel-report+json", "intel-report/1.0"),
            ("application/vnd.netcode.intel-report+xml", "intel-report-xml/1.0"),
        ):
            retrieved = netcode_target.send(
                "GET", f"/netcode/v1/intel-reports/{sent.model['reportId']}", headers={"Accept": media_type}
            )
            netcode_expect(
                retrieved,
                {
                    "status": 200,
                    "media_type": media_type,
                    "format": format_id,
                    "content": {"same_as": f"submit-{index}"},
                },
                context=netcode_target.context,
            )
    assert received_at == sorted(received_at), f"receivedAt went backwards: {received_at}"


def test_every_valid_sample_is_accepted(netcode_target, netcode_catalog, netcode_expect):
    """Every valid sample of the catalog's intel-report formats, each with a fresh reportId."""
    for format_id in ("intel-report/1.0", "intel-report-xml/1.0"):
        fmt = netcode_catalog.format(format_id)
        for sample in fmt.valid_samples:
            reference = f"{format_id}/valid/{Path(sample.path).name}"
            sent, answer = netcode_target.send_message(
                "POST", "/netcode/v1/intel-reports", {"sample": reference, "set": {"/reportId": "${uuid:r}"}}
            )
            assert validator_for(fmt).validate(sent.body).valid
            netcode_expect(answer, {"status": 202})
            netcode_target.context.uuids.clear()  # a fresh reportId for the next sample


def test_my_client_reaches_the_reference_hub(netcode_reference, netcode_catalog):
    """A supplier's *client* side against the reference intelligence hub (here the client is urllib)."""
    hub = netcode_reference("intel-hub")
    (minimal,) = [
        s for s in netcode_catalog.format("intel-report/1.0").valid_samples if s.path.endswith("minimal.json")
    ]
    report = Path(minimal.path).read_bytes()
    request = urllib.request.Request(
        hub.url + "/netcode/v1/intel-reports",
        data=report,
        method="POST",
        headers={"Content-Type": "application/vnd.netcode.intel-report+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202
    (received,) = hub.received()
    assert received["method"] == "POST" and received["status"] == 202
