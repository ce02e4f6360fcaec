"""``python -m harness``: the ``harness`` command."""

from __future__ import annotations

from harness.cli import main

raise SystemExit(main())
