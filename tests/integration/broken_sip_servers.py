"""Deliberately broken variants of the reference SIP server for esn-core's SIP scenarios: one decision each."""

from __future__ import annotations

from harness.endpoints.sip_gateway import SipServer
from harness.protocols.sip import SipMessage


class Answers200(SipServer):
    """Answers a valid SDS ``200 OK`` instead of ``202 Accepted``."""

    def answer(self, message: SipMessage) -> tuple[int, list[tuple[str, str]]]:
        status, extra = super().answer(message)
        return (200, extra) if status == 202 else (status, extra)


class MissingPartAccepted(SipServer):
    """Never asks whether a part is missing: accepts what MCS-02 alone refuses."""

    def answer(self, message: SipMessage) -> tuple[int, list[tuple[str, str]]]:
        status, extra = super().answer(message)
        if status == 400 and any(name == "Warning" and "MCS-02" in value for name, value in extra):
            return 202, []
        return status, extra


class Base64Refused(SipServer):
    def answer(self, message: SipMessage) -> tuple[int, list[tuple[str, str]]]:
        if b"base64" in message.body.lower():
            return 400, [("Warning", f'399 {self.host} "MCS-04 /part/2: base64 is not accepted"')]
        return super().answer(message)


SIP_VARIANTS: dict[str, type[SipServer]] = {
    "answers-200": Answers200,
    "missing-part-accepted": MissingPartAccepted,
    "base64-refused": Base64Refused,
}
