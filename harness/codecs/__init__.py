"""Codecs shared by the formats of the profile, none particular to a family.

- :mod:`harness.codecs.multipart`: ``multipart/mixed`` bodies (RFC 2046) with binary parts kept exact, and
  the rule ids of the multipart formats (``MCS-01`` .. ``MCS-05``).

A family's own codecs live in its package: the binary MCData messages of 3GPP TS 24.282 clause 15 in
:mod:`harness.families.esn.mcdata` (``decode``/``encode``, one error type ``CodecError`` naming the octet,
:mod:`harness.families.esn.errors`), which MCData bodies carry in :mod:`harness.families.esn.body`.
Codecs import nothing of the harness but :mod:`harness.model`; a family's validation builds on them.
"""
