"""The register: the certifying body's web service where certificates are issued, published and audited.

``service`` (the aiohttp application and ``harness register serve``), ``pool`` (the verify + re-judge +
register of each submission, in worker processes), ``auth`` (who submits: bearer tokens, client
certificates, and what an organisation may submit), ``views`` (the JSON documents), ``pages`` (the HTML),
``lifecycle`` (signed suite life-cycle records), ``client`` (``harness register submit`` and
``harness run --register``). The log and its audit (``log``, ``audit``) are the register's other half.

Nothing here opens a bundle: every bundle goes through :class:`harness.evidence.Verifier`.
"""

from __future__ import annotations
