"""ESN / MCData: the binary codec (TS 24.282 clause 15), SDS builders and readers, the ``sds_*`` checks."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily, ScenarioPart

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="esn",
    formats=(
        "mcdata-fd/1.0",
        "mcdata-info/1.0",
        "mcdata-payload/1.0",
        "mcdata-sds/1.0",
        "mcdata-signalling/1.0",
        "mcptt-floor/1.0",
        "mcptt-info/1.0",
        "mcptt-location-info/1.0",
    ),
    rule_modules=("harness.families.esn.rules", "harness.families.esn.floor_format"),
    check_modules=(
        "harness.families.esn.checks",
        "harness.families.esn.floor_steps",
        "harness.families.esn.exchange_checks",
    ),
    syntaxes=(
        ("binary", "harness.families.esn.validation:BINARY"),
        ("multipart", "harness.families.esn.validation:MULTIPART"),
        ("mcptt-floor", "harness.families.esn.floor_format:SYNTAX"),
    ),
    body_views=(
        ("application/vnd.3gpp.mcdata-signalling", "harness.families.esn.views:mcdata_fields"),
        ("application/vnd.3gpp.mcdata-payload", "harness.families.esn.views:mcdata_fields"),
        ("application/vnd.netcode.mcptt-floor", "harness.families.esn.floor_format:body_view"),
    ),
    # A replay compares a binary MCData answer octet for octet but for the sender's date and time (esn.md).
    volatile_octets=(("mcdata-signalling/1.0", "harness.families.esn.volatile:date_time_octets"),),
    scenario_parts=(
        ScenarioPart(
            "message",
            "sds",
            "harness.families.esn.scenario_parts:SDS",
            "harness.families.esn.steps:sds_message",
            samples=("info",),
            format="mcdata-sds/1.0",
        ),
        ScenarioPart(
            "expect", "sds_notification", "harness.families.esn.scenario_parts:SDS_NOTIFICATION", reference="answers"
        ),
        ScenarioPart("expect", "sds_relayed", "harness.families.esn.scenario_parts:SDS_RELAYED", reference="original"),
        ScenarioPart(
            "step",
            "floor_send",
            "harness.families.esn.floor_format:FLOOR_SEND",
            "harness.families.esn.floor_steps:floor_send",
            samples=("sample",),
        ),
        ScenarioPart(
            "step",
            "floor_await",
            "harness.families.esn.floor_format:FLOOR_AWAIT",
            "harness.families.esn.floor_steps:floor_await",
            reference="after",
            checks_itself=True,
        ),
        ScenarioPart("expect", "floor_packet", "harness.families.esn.floor_format:FLOOR_PACKET"),
        # esn-core@1.1: disposition notifications end to end and file distribution (esnfd)
        ScenarioPart(
            "message",
            "fd",
            "harness.families.esn.exchange_parts:FD",
            "harness.families.esn.exchange_steps:fd_message",
            format="mcdata-fd/1.0",
        ),
        ScenarioPart(
            "step",
            "esn_originator",
            "harness.families.esn.exchange_parts:ORIGINATOR",
            "harness.families.esn.exchange_steps:esn_originator",
            checks_itself=True,
        ),
        ScenarioPart(
            "step",
            "fd_receiver",
            "harness.families.esn.exchange_parts:FD_RECEIVER",
            "harness.families.esn.exchange_steps:fd_receiver",
            checks_itself=True,
        ),
        ScenarioPart(
            "step",
            "sds_dispositions",
            "harness.families.esn.exchange_parts:SDS_DISPOSITIONS",
            "harness.families.esn.exchange_steps:sds_dispositions",
            checks_itself=True,
        ),
        ScenarioPart(
            "step",
            "content_server",
            "harness.families.esn.exchange_parts:CONTENT_SERVER",
            "harness.families.esn.exchange_steps:content_server",
            checks_itself=True,
        ),
        ScenarioPart("expect", "sds_echo", "harness.families.esn.exchange_parts:SDS_ECHO", reference="answers"),
        ScenarioPart(
            "expect", "fd_notification", "harness.families.esn.exchange_parts:FD_NOTIFICATION", reference="answers"
        ),
    ),
)
FAMILIES.add(FAMILY.name, FAMILY)
