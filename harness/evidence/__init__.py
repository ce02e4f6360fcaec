"""Certification evidence (``specs/evidence.md``): bundles, DSSE signatures, keys and verification."""

from __future__ import annotations
