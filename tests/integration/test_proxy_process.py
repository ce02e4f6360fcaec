"""The checks in a child process (``CheckingProcess``): the same findings as the thread, a bounded queue that drops
and counts instead of waiting, and a child that dies making the session say traffic went unchecked."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from harness.catalog import Catalog
from harness.proxy.checks import ExchangeChecker
from harness.proxy.server import RawExchange, exchange_of
from harness.proxy.session import CheckingProcess, ProxySession
from harness.reporting.redaction import Redactor

SECRET = "Bearer never-in-the-console-5678"
QUERY = json.dumps(
    {
        "queryId": "5b0f7c3e-2a4d-4c1b-9e8f-0a1b2c3d4e5f",
        "profile": "netcode.person-query/1.0",
        "requestedBy": {"force": "met", "officerId": "PC4711", "purpose": "investigation"},
        "criteria": {"familyName": "SMITH", "givenName": "John"},
    }
).encode()


def _raw(status: int, answer: bytes = b"") -> RawExchange:
    return (
        time.time(),
        "http://127.0.0.1:1",
        "POST",
        "/netcode/v1/queries/person",
        "HTTP/1.1",
        (("Content-Type", "application/json"), ("Authorization", SECRET)),
        QUERY,
        status,
        "Teapot",
        "HTTP/1.1",
        (("Content-Type", "text/plain"),),
        answer,
        1.5,
        0,
        0,
        True,
    )


def _session(catalog: Catalog, console: Path) -> ProxySession:
    def print_line(line: str) -> None:  # runs in the child: its lines go to a file the test reads
        with console.open("a") as out:
            out.write(line + "\n")

    return ProxySession(ExchangeChecker(catalog), Redactor(secrets=[SECRET]), print_line=print_line, start=False)


def test_the_child_finds_what_the_thread_finds_and_hands_it_back(catalog: Catalog, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    session = _session(catalog, console)
    checking = CheckingProcess(session)

    async def feed() -> None:
        await checking.start()
        checking.submit(_raw(418))  # a status the exchange table does not list
        checking.unframed("answer", "not an HTTP/1.1 start line")
        await asyncio.sleep(0)  # another turn of the loop: a second batch
        checking.submit(_raw(418))
        await checking.finish_async()

    asyncio.run(feed())
    checking.finish()
    thread = ProxySession(ExchangeChecker(catalog), Redactor(secrets=[SECRET]), print_line=lambda line: None)
    thread.submit(exchange_of(_raw(418)))
    thread.finish()
    assert session.findings.exchanges == 2
    assert session.findings.by_rule["EX-STATUS"] == 2 * thread.findings.by_rule["EX-STATUS"] > 0
    assert session.findings.by_rule["BR-1"] == 1
    assert session.dropped == 0 and session.failures == []
    lines = console.read_text().splitlines()
    assert any(line.startswith("ERROR EX-STATUS #1 ") for line in lines), lines
    assert any(line.startswith("ERROR BR-1 connection") for line in lines), lines
    assert SECRET not in console.read_text()
    assert not checking._process.is_alive()


def test_a_full_queue_drops_and_counts_without_waiting(catalog: Catalog, tmp_path: Path) -> None:
    session = _session(catalog, tmp_path / "console.txt")
    checking = CheckingProcess(session, queue_size=2)

    async def feed() -> None:
        await checking.start()
        for _ in range(5):  # one turn of the loop: nothing acknowledged yet, so only two fit
            checking.submit(_raw(200, b"{}"))
        await checking.finish_async()

    asyncio.run(feed())
    checking.finish()
    assert (session.findings.exchanges, session.dropped) == (2, 3)


def test_a_dead_child_leaves_its_exchanges_counted_unchecked(catalog: Catalog, tmp_path: Path) -> None:
    session = _session(catalog, tmp_path / "console.txt")
    checking = CheckingProcess(session)

    async def feed() -> None:
        await checking.start()
        checking._process.kill()
        for _ in range(50):  # until the link sees the end
            await asyncio.sleep(0.05)
            if checking._link is not None and checking._link.lost:
                break
        checking.submit(_raw(418))
        checking.unframed("request", "a header line without a colon")  # made here: the child is gone
        await checking.finish_async(timeout_s=1.0)

    asyncio.run(feed())
    checking.finish()
    assert session.dropped == 1
    assert session.findings.by_rule["BR-1"] == 1
    assert session.failures == ["the checking process ended before reporting its findings"]


def test_ctrl_c_to_the_whole_process_group_stops_cleanly_with_every_exchange_checked(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the checking process too: it must leave the stopping to the proxy, so the
    exchanges it holds are still checked and reported, with no traceback."""
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    from tests.conftest import ROOT
    from tests.integration.served import serve_process

    harness = [sys.executable, "-m", "harness.cli"]
    with serve_process([*harness, "serve", "--role", "query-responder", "--host", "127.0.0.1", "--port", "0"]) as up:
        proxy = subprocess.Popen(
            [*harness, "proxy", "--listen", "127.0.0.1:0", "--upstream", up, "--reports", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
        assert proxy.stdout is not None
        url = proxy.stdout.readline().split(" on ", 1)[1].split()[0]
        for _ in range(3):
            request = urllib.request.Request(
                f"{url}/netcode/v1/queries/person",
                data=QUERY,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 200
        os.killpg(proxy.pid, signal.SIGINT)
        out, err = proxy.communicate(timeout=30)
    assert "Traceback" not in out + err
    assert "stopped: 3 exchange(s), 0 finding(s)" in err, err
    assert proxy.returncode == 0, out + err
    assert json.loads((tmp_path / "results.json").read_text())["exchanges"] == 3


def test_the_checking_process_ends_when_the_proxy_is_killed() -> None:
    """SIGKILL leaves the proxy no time to say goodbye: its checking process must see the end of its input and go,
    never linger (it ignores SIGINT and SIGTERM, so nothing else would end it)."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.integration.served import serve_process

    harness = [sys.executable, "-m", "harness.cli"]
    with serve_process([*harness, "serve", "--role", "query-responder", "--host", "127.0.0.1", "--port", "0"]) as up:
        proxy = subprocess.Popen(
            [*harness, "proxy", "--listen", "127.0.0.1:0", "--upstream", up],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert proxy.stdout is not None
        assert "proxy listening" in proxy.stdout.readline()
        children = [
            int(pid)
            for task in Path(f"/proc/{proxy.pid}/task").iterdir()
            for pid in (task / "children").read_text().split()
        ]
        assert len(children) == 1
        proxy.kill()
        proxy.communicate(timeout=10)
        for _ in range(100):
            try:
                os.kill(children[0], 0)
            except ProcessLookupError:
                break
            with open(f"/proc/{children[0]}/stat") as stat:  # gone but not reaped (its parent is gone too) is gone
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.1)
        else:
            os.kill(children[0], signal.SIGKILL)
            raise AssertionError("the checking process outlived the proxy")
