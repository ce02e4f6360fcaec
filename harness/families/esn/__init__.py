"""ESN / MCData: the binary codec (TS 24.282 clause 15), SDS builders and readers, the ``sds_*`` checks."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily, ScenarioPart

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="esn",
    formats=(
        "mcdata-info/1.0",
        "mcdata-payload/1.0",
        "mcdata-sds/1.0",
        "mcdata-signalling/1.0",
        "mcptt-info/1.0",
        "mcptt-location-info/1.0",
    ),
    rule_modules=(),
    check_modules=("harness.families.esn.checks",),
    syntaxes=(
        ("binary", "harness.families.esn.validation:BINARY"),
        ("multipart", "harness.families.esn.validation:MULTIPART"),
    ),
    body_views=(
        ("application/vnd.3gpp.mcdata-signalling", "harness.families.esn.views:mcdata_fields"),
        ("application/vnd.3gpp.mcdata-payload", "harness.families.esn.views:mcdata_fields"),
    ),
    scenario_parts=(
        ScenarioPart(
            "message",
            "sds",
            "harness.families.esn.scenario_parts:SDS",
            "harness.families.esn.steps:sds_message",
            samples=("info",),
        ),
        ScenarioPart(
            "expect", "sds_notification", "harness.families.esn.scenario_parts:SDS_NOTIFICATION", reference="answers"
        ),
        ScenarioPart("expect", "sds_relayed", "harness.families.esn.scenario_parts:SDS_RELAYED", reference="original"),
    ),
)
FAMILIES.add(FAMILY.name, FAMILY)
