"""A guarded reporter: its failure is one redacted, escaped line naming it; it never stops a run."""

from __future__ import annotations

import io

from harness.events import RunNote
from harness.reporting import Redactor
from harness.reporting.registry import GuardedReporter
from harness.transport import TransportOptions


class _Raises:
    def __init__(self, message: str) -> None:
        self.message = message
        self.heard = 0
        self.closed = False

    def __call__(self, event: object) -> None:
        self.heard += 1
        raise ValueError(self.message)

    def close(self) -> None:
        self.closed = True
        raise OSError("disk full")


def test_one_line_redacted_and_escaped_then_silent() -> None:
    stream = io.StringIO()
    secret = "s3cr3t-token-value"
    redact = Redactor.for_run(TransportOptions(headers=(("Authorization", f"Bearer {secret}"),)))
    inner = _Raises(f"bad body \x1b[2J\nfrom SUT echoing {secret}")
    guarded = GuardedReporter("html", inner, redact, stream)
    guarded(RunNote("a"))
    guarded(RunNote("b"))
    assert inner.heard == 1  # silenced after its first failure
    assert guarded.failure is not None and guarded.failure.startswith("reporter html failed on RunNote (ValueError")
    assert secret not in guarded.failure and "\x1b" not in guarded.failure and "\n" not in guarded.failure
    guarded.close()
    assert inner.closed
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: reporter html failed") for line in lines)
    assert "closing (OSError: disk full)" in lines[1]
    assert guarded.failure.startswith("reporter html failed on RunNote")  # the first failure is the one kept
