"""Transports that carry messages between the harness and systems under test."""
