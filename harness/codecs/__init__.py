"""Codecs for the binary and multipart bodies of the profile.

- :mod:`harness.families.esn.mcdata`: the binary MCData messages of 3GPP TS 24.282
  clause 15 (SDS SIGNALLING PAYLOAD, DATA PAYLOAD, SDS NOTIFICATION):
  ``decode(bytes) -> Message``, ``encode(Message) -> bytes``, one error type
  :class:`~harness.families.esn.mcdata.CodecError` naming the octet offset. The
  payload content classes live in :mod:`harness.families.esn.mcdata_content` and the
  error in :mod:`harness.codecs.errors`; :mod:`~harness.families.esn.mcdata`
  re-exports both, import them from there.
- :mod:`harness.codecs.multipart`: ``multipart/mixed`` bodies (RFC 2046) with
  binary parts kept exact. Which parts an MCData SDS or FD body carries is the
  ESN family's (:mod:`harness.families.esn.body`).

Codecs import nothing of the harness but :mod:`harness.model`; a family's
validation (:mod:`harness.families.esn.validation`) builds on them.
"""
