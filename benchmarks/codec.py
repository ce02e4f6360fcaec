"""Throughput of the MCData codec against a raw copy of the same octets, measured in the same run.

The corpus is SDS messages as they travel: for each, a SDS SIGNALLING PAYLOAD
(some with InReplyTo, Application ID, disposition, Extended application ID) and
its DATA PAYLOAD (TEXT, LOCATION, BINARY, ENHANCED STATUS, several contents).

- decode: ``decode(octets)`` of every message;
- encode: ``encode(message)`` of every decoded message;
- raw baseline: ``bytes(memoryview(octets))``, a copy of the same octets (the
  least any decoder must do: read every octet once).

Prints one JSON line: ``{"decode_per_s", "encode_per_s", "raw_bytes_copy_per_s", "decode_vs_copy",
"encode_vs_copy", "messages", "rounds"}`` (messages per second; best of ``--rounds``).
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections.abc import Callable

from harness.families.esn.mcdata import (
    Binary,
    DataPayload,
    Disposition,
    EnhancedStatus,
    Location,
    Message,
    PayloadContent,
    SdsSignalling,
    Text,
    decode,
    encode,
)


def corpus(pairs: int, seed: int = 7) -> list[bytes]:
    """``pairs`` SDS messages, each as its signalling octets then its payload octets."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for _ in range(pairs):
        signalling = SdsSignalling(
            rng.randrange(1 << 40),
            uuid.UUID(int=rng.getrandbits(128)),
            uuid.UUID(int=rng.getrandbits(128)),
            uuid.UUID(int=rng.getrandbits(128)) if rng.random() < 0.3 else None,
            rng.randrange(256) if rng.random() < 0.3 else None,
            rng.choice([None, *Disposition]),
            b"\x01org.example.app" if rng.random() < 0.1 else None,
        )
        choices: list[PayloadContent] = [
            Text("Unit 7 to grid 51.5007 -0.1246, ETA " + str(rng.randrange(60)) + " min"),
            Location(rng.randrange(1 << 24), rng.randrange(1 << 24)),
            Binary(rng.randbytes(rng.randrange(16, 256))),
            EnhancedStatus(rng.randrange(1 << 16)),
        ]
        contents = tuple(rng.sample(choices, rng.choice([1, 1, 1, 2, 4])))
        out += [encode(signalling), encode(DataPayload(contents))]
    return out


def best_rate(work: Callable[[], int], rounds: int) -> float:
    """Items per second of the fastest of ``rounds`` runs of ``work`` (which returns how many items it did)."""
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        done = work()
        elapsed = time.perf_counter() - started
        best = max(best, done / elapsed if elapsed > 0 else 0.0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5000, help="SDS messages in the corpus (default 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each loop; the best counts (default 5)")
    args = parser.parse_args()
    octets = corpus(args.pairs)
    decoded: list[Message] = [decode(data) for data in octets]
    assert [encode(message) for message in decoded] == octets

    def raw() -> int:
        for data in octets:
            bytes(memoryview(data))
        return len(octets)

    def decoding() -> int:
        for data in octets:
            decode(data)
        return len(octets)

    def encoding() -> int:
        for message in decoded:
            encode(message)
        return len(decoded)

    raw_rate = best_rate(raw, args.rounds)
    decode_rate = best_rate(decoding, args.rounds)
    encode_rate = best_rate(encoding, args.rounds)
    print(
        json.dumps(
            {
                "decode_per_s": round(decode_rate),
                "encode_per_s": round(encode_rate),
                "raw_bytes_copy_per_s": round(raw_rate),
                "decode_vs_copy": round(decode_rate / raw_rate, 4),
                "encode_vs_copy": round(encode_rate / raw_rate, 4),
                "messages": len(octets),
                "rounds": args.rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
