"""What a replay does not compare in an MCData message (issue 23): the octets the sender stamps.

A recorded binary answer is compared octet for octet (``harness.recording.scenario_writer``), except the date
and time an MCData message carries: esn.md gives it as the sender's clock ("date and time: seconds since
1970"), so a replayed answer carries another. Its place depends on the message type (esn.md, "Binary MCData
messages"): octets 1-5 of an SDS or FD SIGNALLING PAYLOAD, octets 2-6 of an SDS, FD or FD NETWORK
NOTIFICATION (after the notification type). Everything else (ids, IEs, the payload) is compared.
"""

from __future__ import annotations

from harness.families.esn.mcdata_content import MessageType

__all__ = ["date_time_octets"]

_DATE_TIME = {
    MessageType.SDS_SIGNALLING_PAYLOAD: (1, 5),
    MessageType.FD_SIGNALLING_PAYLOAD: (1, 5),
    MessageType.SDS_NOTIFICATION: (2, 6),
    MessageType.FD_NOTIFICATION: (2, 6),
    MessageType.FD_NETWORK_NOTIFICATION: (2, 6),
}


def date_time_octets(body: bytes) -> tuple[tuple[int, int], ...]:
    """The octet ranges (``(start, end)``, both included) of ``body``'s date and time; none for another type."""
    if not body:
        return ()
    found = _DATE_TIME.get(body[0] & 0x3F)  # type: ignore[call-overload]
    if found is None or len(body) <= found[1]:
        return ()
    return (found,)
