"""Facts of the network code profile that more than one part of the harness needs, each stated once.

Paths of the binding (``specs/``), the test hooks a supplier may offer, problem
types and the media types of its messages. Reference endpoints serve these
paths, the runner calls the hooks, checks judge against the media types.

Model layer: imports nothing.
"""

from __future__ import annotations

__all__ = [
    "ALERTS_PATH",
    "CAP_FORMAT",
    "CAP_MEDIA_TYPE",
    "CAP_NS",
    "DATASET_HOOK",
    "DELIVERIES_HOOK",
    "DE_NS",
    "DISTRIBUTIONS_PATH",
    "ESN_ALERTS_PATH",
    "GROUPS_HOOK",
    "HEALTH_PATH",
    "HOOK_ABSENT",
    "INCIDENTS_PATH",
    "INTEL_REPORTS_PATH",
    "LOCATION_PATH",
    "MCDATA_INFO_NS",
    "PERSON_PATH",
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "SDS_FORMAT",
    "SDS_PATH",
    "TRIGGER_HOOK",
    "VEHICLE_PATH",
]

# -- paths of the binding ---------------------------------------------------------------------------------

INTEL_REPORTS_PATH = "/netcode/v1/intel-reports"
PERSON_PATH = "/netcode/v1/queries/person"
VEHICLE_PATH = "/netcode/v1/queries/vehicle"
ALERTS_PATH = "/netcode/v1/alerts"
"""Where the alert hub receives CAP alerts."""
DISTRIBUTIONS_PATH = "/netcode/v1/distributions"
INCIDENTS_PATH = "/netcode/v1/incidents"
SDS_PATH = "/netcode/v1/esn/sds"
ESN_ALERTS_PATH = "/netcode/v1/esn/emergency-alerts"
"""Where the ESN gateway receives MCPTT emergency alerts (not the CAP alerts of :data:`ALERTS_PATH`)."""
LOCATION_PATH = "/netcode/v1/esn/location-info"

# -- test hooks (a supplier may offer them; absent means the operator acts) --------------------------------

DATASET_HOOK = "/netcode/v1/_test/dataset"
TRIGGER_HOOK = "/netcode/v1/_test/trigger"
DELIVERIES_HOOK = "/netcode/v1/_test/deliveries"
"""``GET DELIVERIES_HOOK/{id}``: how a sender reports a delivery (specs/resilience.md, test hooks for senders)."""
GROUPS_HOOK = "/netcode/v1/_test/groups"
HOOK_ABSENT = frozenset({404, 405, 501})
"""Statuses that say a supplier offers no such hook."""
HEALTH_PATH = "/_harness/health"
"""The reference endpoints' own health check (control API)."""

# -- problems (RFC 9457) -----------------------------------------------------------------------------------

PROBLEM_BASE = "urn:netcode:problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

# -- formats, namespaces and media types -------------------------------------------------------------------

CAP_FORMAT = "cap/1.2"
CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/common-alerting-protocol+xml"
DE_NS = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
SDS_FORMAT = "mcdata-sds/1.0"
MCDATA_INFO_NS = "urn:3gpp:ns:mcdataInfo:1.0"
