"""``harness proxy``: a passive, byte-exact HTTP/1.1 proxy between two real systems that checks every exchange
it forwards with the suites' checks (issue 23) and never alters, blocks or delays the traffic."""

from __future__ import annotations
