"""``harness register ...``: the register's commands (issue 22). This branch adds ``audit``; the service's own
commands (``serve``, ``token issue``, ``submit``) join here from the web half."""

from __future__ import annotations

from typing import Any

from harness.register.audit import add_audit_parser

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("register", help="the certifying body's register: audit its append-only log")
    verbs = parser.add_subparsers(dest="register_command", required=True, parser_class=type(parser))
    add_audit_parser(verbs)
