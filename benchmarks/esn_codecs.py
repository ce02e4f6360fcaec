"""Packets per second of the ESN family's binary codecs, each against a raw copy of the same octets (same run).

``mcdata``: the MCData messages of esn 1.1 as they travel (SDS SIGNALLING PAYLOAD with its DATA PAYLOAD, SDS
NOTIFICATION, FD SIGNALLING PAYLOAD with its FILEURL and Metadata, FD NOTIFICATION, FD NETWORK NOTIFICATION),
decoded with the 1.1 tables. ``floor``: the floor control packets of ``mcptt-floor/1.0`` as a session carries
them (request, granted, taken, deny, release, idle, queue position info, ack, revoke). Other codecs of the
family add an entry to ``CODECS``.

- decode: ``decode(octets)`` of every packet; encode: ``encode(message)`` of every decoded packet;
- raw baseline: ``bytes(memoryview(octets))``, a copy of the same octets (the least a decoder must do).

``--json`` prints one line ``{"<codec>": {"decode_per_s", "encode_per_s", "raw_copy_per_s", "decode_vs_copy",
"encode_vs_copy", "packets"}, "rounds": N}`` (best of ``--rounds``); otherwise a table.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from harness.families.esn.floor import Field, FieldId, Packet, Subtype
from harness.families.esn.floor import decode as floor_decode
from harness.families.esn.floor import encode as floor_encode
from harness.families.esn.mcdata import (
    Binary,
    DataPayload,
    Disposition,
    FdNetworkNotification,
    FdNetworkNotificationType,
    FdNotification,
    FdNotificationType,
    FdSignalling,
    FileUrl,
    Location,
    NotificationType,
    SdsNotification,
    SdsSignalling,
    Text,
)
from harness.families.esn.mcdata import decode as mcdata_decode
from harness.families.esn.mcdata import encode as mcdata_encode


def mcdata_corpus(packets: int, seed: int = 26) -> list[bytes]:
    """``packets`` MCData messages of every kind 1.1 decodes, drawn from a seeded generator."""
    rng = random.Random(seed)
    out: list[bytes] = []

    def ids() -> tuple[int, uuid.UUID, uuid.UUID]:
        return rng.randrange(1 << 40), uuid.UUID(int=rng.getrandbits(128)), uuid.UUID(int=rng.getrandbits(128))

    while len(out) < packets:
        kind = rng.randrange(6)
        if kind == 0:
            sds = SdsSignalling(*ids(), None, rng.choice([None, 1]), rng.choice([None, *Disposition]))
            payload = rng.choice(
                [Text("Unit 7 to grid 51.5007 -0.1246"), Location(0x493ED5, 0xFFE951), Binary(b"x" * 64)]
            )
            out += [mcdata_encode(sds), mcdata_encode(DataPayload((payload,)))]
        elif kind == 1:
            out.append(
                mcdata_encode(SdsNotification(rng.choice(list(NotificationType)), *ids(), rng.choice([None, 1])))
            )
        elif kind == 2:
            fd = FdSignalling(
                *ids(),
                completion_requested=rng.random() < 0.5,
                mandatory_download=rng.random() < 0.5,
                payloads=(FileUrl(f"http://127.0.0.1:8088/files/{rng.getrandbits(32):08x}".encode()),),
                metadata=b'file-selector:name:"plan.pdf" size:2048 type:application/pdf',
                sender="sip:alpha@esn.example.police.uk",
            )
            out.append(mcdata_encode(fd))
        elif kind == 3:
            out.append(mcdata_encode(FdNotification(rng.choice(list(FdNotificationType)), *ids(), 1)))
        elif kind == 4:
            out.append(mcdata_encode(FdNetworkNotification(FdNetworkNotificationType.FILE_EXPIRED, *ids())))
        else:
            out.append(
                mcdata_encode(
                    SdsSignalling(*ids(), sender="sip:bravo@esn.example.police.uk", user_location=b"\x01" * 7)
                )
            )
    return out[:packets]


def floor_corpus(packets: int, seed: int = 40) -> list[bytes]:
    """``packets`` floor control packets as a session carries them (request, granted, taken, deny, release,
    idle, queue position info, ack, revoke), drawn from a seeded generator."""
    rng = random.Random(seed)
    users = [f"sip:unit-{n}@esn.example.police.uk".encode() for n in range(8)]
    out: list[bytes] = []

    def field(field_id: FieldId, value: bytes) -> Field:
        return Field(int(field_id), value)

    while len(out) < packets:
        server, ssrc, sequence = rng.getrandbits(32), rng.getrandbits(32), rng.randrange(65536)
        priority = bytes((rng.randrange(256), 0))
        session = [
            Packet(Subtype.FLOOR_REQUEST, ssrc, (field(FieldId.FLOOR_PRIORITY, priority),)),
            Packet(
                Subtype.FLOOR_REQUEST,
                ssrc,
                (field(FieldId.FLOOR_PRIORITY, priority), field(FieldId.LOCATION, bytes.fromhex("06493ED5FFE951"))),
            ),
            Packet(
                Subtype.FLOOR_GRANTED | rng.choice([0, 0x10]),
                server,
                (field(FieldId.DURATION, b"\x00\x1e"), field(FieldId.FLOOR_PRIORITY, priority)),
            ),
            Packet(
                Subtype.FLOOR_TAKEN,
                server,
                (
                    field(FieldId.GRANTED_PARTY_IDENTITY, rng.choice(users)),
                    field(FieldId.PERMISSION_TO_REQUEST, b"\x00\x01"),
                    field(FieldId.MESSAGE_SEQUENCE_NUMBER, sequence.to_bytes(2)),
                ),
            ),
            Packet(Subtype.FLOOR_DENY, server, (field(FieldId.REJECT_CAUSE, b"\x00\x01busy"),)),
            Packet(Subtype.FLOOR_RELEASE | rng.choice([0, 0x10]), ssrc),
            Packet(Subtype.FLOOR_IDLE, server, (field(FieldId.MESSAGE_SEQUENCE_NUMBER, sequence.to_bytes(2)),)),
            Packet(
                Subtype.FLOOR_QUEUE_POSITION_INFO,
                server,
                (field(FieldId.USER_ID, rng.choice(users)), field(FieldId.QUEUE_INFO, b"\x01\x07")),
            ),
            Packet(
                Subtype.FLOOR_ACK,
                server,
                (field(FieldId.SOURCE, b"\x00\x02"), field(FieldId.MESSAGE_TYPE, b"\x14\x00")),
            ),
            Packet(Subtype.FLOOR_REVOKE, server, (field(FieldId.REJECT_CAUSE, b"\x00\x02"),)),
        ]
        out.append(floor_encode(rng.choice(session)))
    return out


Codec = tuple[Callable[[int], list[bytes]], Callable[[bytes], Any], Callable[[Any], bytes]]
CODECS: dict[str, Codec] = {
    "mcdata": (mcdata_corpus, mcdata_decode, mcdata_encode),
    "floor": (floor_corpus, floor_decode, floor_encode),
}
"""name -> (corpus of N packets, decode, encode)."""


def best_rate(work: Callable[[], int], rounds: int) -> float:
    """Items per second of the fastest of ``rounds`` runs of ``work`` (which returns how many items it did)."""
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        done = work()
        elapsed = time.perf_counter() - started
        best = max(best, done / elapsed if elapsed > 0 else 0.0)
    return best


def measure(
    corpus: Sequence[bytes], decode: Callable[[bytes], Any], encode: Callable[[Any], bytes], rounds: int
) -> dict[str, Any]:
    decoded = [decode(octets) for octets in corpus]
    assert [encode(message) for message in decoded] == list(corpus)  # the corpus round-trips before it is timed

    def decode_all() -> int:
        for octets in corpus:
            decode(octets)
        return len(corpus)

    def encode_all() -> int:
        for message in decoded:
            encode(message)
        return len(decoded)

    def copy_all() -> int:
        for octets in corpus:
            bytes(memoryview(octets))
        return len(corpus)

    copy = best_rate(copy_all, rounds)
    decode_rate, encode_rate = best_rate(decode_all, rounds), best_rate(encode_all, rounds)
    return {
        "decode_per_s": round(decode_rate),
        "encode_per_s": round(encode_rate),
        "raw_copy_per_s": round(copy),
        "decode_vs_copy": round(decode_rate / copy, 4),
        "encode_vs_copy": round(encode_rate / copy, 4),
        "packets": len(corpus),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--packets", type=int, default=5000, help="packets in each codec's corpus (default 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each loop; the best counts (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for name, (corpus, decode, encode) in CODECS.items():
        results[name] = measure(corpus(args.packets), decode, encode, args.rounds)
    if args.json:
        print(json.dumps({**results, "rounds": args.rounds}))
        return
    print(f"{'codec':<8} {'decode/s':>10} {'encode/s':>10} {'copy/s':>11} {'dec/copy':>9} {'enc/copy':>9}")
    for name, row in results.items():
        print(
            f"{name:<8} {row['decode_per_s']:>10} {row['encode_per_s']:>10} {row['raw_copy_per_s']:>11} "
            f"{row['decode_vs_copy']:>9} {row['encode_vs_copy']:>9}"
        )


if __name__ == "__main__":
    main()
