"""Codecs for the binary and multipart bodies of the profile.

- :mod:`harness.families.esn.mcdata`: the binary MCData messages of 3GPP TS 24.282
  clause 15 (SDS SIGNALLING PAYLOAD, DATA PAYLOAD, SDS NOTIFICATION):
  ``decode(bytes) -> Message``, ``encode(Message) -> bytes``, one error type
  :class:`~harness.families.esn.mcdata.CodecError` naming the octet offset. The
  payload content classes live in :mod:`harness.families.esn.mcdata_content` and the
  error in :mod:`harness.codecs.errors`; :mod:`~harness.families.esn.mcdata`
  re-exports both, import them from there.
- :mod:`harness.codecs.multipart`: ``multipart/mixed`` bodies (RFC 2046) with
  binary parts kept exact, and the SDS body of ``specs/esn.md``
  (``parse_sds`` / ``build_sds``).

Codecs import nothing of the harness but :mod:`harness.model`; validation
(:mod:`harness.validation.binary`) builds on them.
"""
