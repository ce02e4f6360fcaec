"""Interoperability and certification harness for the police and emergency-services network code."""

from __future__ import annotations

__version__ = "0.1.0"
