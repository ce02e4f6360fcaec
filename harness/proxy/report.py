"""What a proxy session leaves in ``--reports DIR``: ``results.json``, ``report.html`` and ``junit.xml``.

Every text in them has passed the session's :class:`~harness.reporting.redaction.Redactor` (findings and kept
exchanges are redacted when kept). The HTML page uses the run report's stylesheet and its body views
(:func:`harness.htmlreport.bodies.body_view`), so a message looks the same in both.
"""

from __future__ import annotations

import base64
import html
import json
from importlib import resources
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from harness.htmlreport.bodies import message_view
from harness.proxy.session import KEPT_EXCHANGES, Findings
from harness.recording.exchange import RecordedExchange
from harness.reporting import write_atomically

__all__ = ["results", "write_reports"]


def results(findings: Findings, counters: dict[str, int]) -> dict[str, Any]:
    """The ``results.json`` document (contract of issue 23: ``exchanges``, ``findings``, ``by_rule``)."""
    return {
        "exchanges": findings.exchanges,
        "findings": findings.errors,
        "warnings": findings.warnings,
        "by_rule": [
            {
                "rule": rule,
                "count": count,
                "severity": findings.rule_severity.get(rule, "error"),
                "examples": findings.rule_examples.get(rule, []),
            }
            for rule, count in sorted(findings.by_rule.items(), key=lambda item: (-item[1], item[0]))
        ],
        "by_exchange_kind": [
            {
                "kind": kind,
                "exchanges": count,
                "findings": sum(findings.kind_findings.get(kind, {}).values()),
                "by_rule": dict(sorted(findings.kind_findings.get(kind, {}).items())),
            }
            for kind, count in sorted(findings.kind_exchanges.items())
        ],
        "kept_in_report": len(findings.kept),
        **counters,
    }


def write_reports(directory: Path, findings: Findings, counters: dict[str, int], upstream: str) -> None:
    """Write the three files (each atomically)."""
    document = results(findings, counters)
    write_atomically(directory / "results.json", json.dumps(document, indent=2, ensure_ascii=False).encode())
    write_atomically(directory / "report.html", _page(document, findings, upstream).encode())
    write_atomically(directory / "junit.xml", _junit(document))


def _record(exchange: RecordedExchange, answer: bool) -> dict[str, Any]:
    if answer:
        start = f"{exchange.answer_http_version} {exchange.answer_status} {exchange.answer_reason}"
        headers, body = exchange.answer_headers, exchange.answer_body
    else:
        start = f"{exchange.method} {exchange.target} {exchange.http_version}"
        headers, body = exchange.request_headers, exchange.request_body
    try:
        text, encoding = body.decode("utf-8"), "text"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(body).decode("ascii"), "base64"
    return {"start_line": start, "headers": [list(pair) for pair in headers], "body": text, "body_encoding": encoding}


def _message_html(view: dict[str, Any] | None) -> str:
    if view is None:
        return ""
    lines = [view["start_line"], *(f"{name}: {value}" for name, value in view["headers"])]
    body = view["body"]
    shown = body.get("text") or body.get("hex") or ""
    parts = body.get("parts")
    if parts:
        shown = "\n\n".join(f"--- {p['media_type']}\n{p.get('text') or p.get('hex') or ''}" for p in parts)
    return f"<pre>{html.escape(chr(10).join(lines))}\n\n{html.escape(shown)}</pre>"


def _page(document: dict[str, Any], findings: Findings, upstream: str) -> str:
    css = resources.files("harness.htmlreport").joinpath("templates/base.css").read_text("utf-8")
    verdict = "no finding" if not document["findings"] else f"{document['findings']} finding(s)"
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>harness proxy report</title>",
        f"<style>{css}</style></head><body>",
        f"<h1>Proxy report: {html.escape(verdict)}</h1>",
        f"<p>upstream {html.escape(upstream)}; {document['exchanges']} exchange(s) checked, "
        f"{document['warnings']} warning(s), {document.get('dropped', 0)} not checked (checker behind).</p>",
        "<h2>By rule</h2><table><tr><th>rule</th><th>severity</th><th>count</th><th>first example</th></tr>",
    ]
    for row in document["by_rule"]:
        example = row["examples"][0] if row["examples"] else {}
        out.append(
            f"<tr><td>{html.escape(row['rule'])}</td><td>{row['severity']}</td><td>{row['count']}</td>"
            f"<td>#{example.get('exchange', '')} {html.escape(str(example.get('request', '')))}: "
            f"{html.escape(str(example.get('message', '')))}</td></tr>"
        )
    out.append("</table><h2>By exchange kind</h2><table><tr><th>kind</th><th>exchanges</th><th>findings</th></tr>")
    for row in document["by_exchange_kind"]:
        out.append(f"<tr><td>{html.escape(row['kind'])}</td><td>{row['exchanges']}</td><td>{row['findings']}</td></tr>")
    out.append(f"</table><h2>Exchanges (the first {KEPT_EXCHANGES} in full)</h2>")
    for kept in findings.kept:
        exchange: RecordedExchange = kept["exchange"]
        mark = "fail" if any(f["severity"] == "error" for f in kept["findings"]) else "pass"
        title = f"#{kept['number']} {kept['kind']}: {exchange.method} {exchange.target} -> {exchange.answer_status}"
        out.append(
            f"<details class={mark}><summary>{html.escape(title)} ({len(kept['findings'])} finding(s))</summary>"
        )
        if kept["findings"]:
            out.append("<ul>")
            for f in kept["findings"]:
                where = f" at {f['location']}" if f["location"] else ""
                out.append(f"<li>{f['severity']} <b>{html.escape(f['rule'])}</b> ({f['side']}{html.escape(where)}): "
                           f"{html.escape(f['message'])}</li>")  # fmt: skip
            out.append("</ul>")
        out.append("<h3>request</h3>" + _message_html(message_view(_record(exchange, False))))
        out.append("<h3>answer</h3>" + _message_html(message_view(_record(exchange, True))))
        out.append("</details>")
    if document["exchanges"] > len(findings.kept):
        out.append(f"<p>{document['exchanges'] - len(findings.kept)} later exchange(s) are counted above only.</p>")
    out.append("</body></html>")
    return "\n".join(out)


def _junit(document: dict[str, Any]) -> bytes:
    """One test case per exchange kind seen: failed when any error finding was made on it."""
    kinds = document["by_exchange_kind"]
    failed = [row for row in kinds if any(_is_error(document, rule) for rule in row["by_rule"])]
    suite = ElementTree.Element(
        "testsuite", name="harness proxy", tests=str(len(kinds)), failures=str(len(failed)), errors="0", skipped="0"
    )
    for row in kinds:
        case = ElementTree.SubElement(suite, "testcase", classname="proxy", name=row["kind"])
        errors = {rule: count for rule, count in row["by_rule"].items() if _is_error(document, rule)}
        if errors:
            summary = ", ".join(f"{rule} x{count}" for rule, count in errors.items())
            failure = ElementTree.SubElement(case, "failure", message=f"{sum(errors.values())} finding(s): {summary}")
            failure.text = "\n".join(
                f"{rule} #{ex['exchange']} {ex['request']}: {ex['message']}"
                for rule in errors
                for ex in _examples(document, rule)
                if ex["kind"] == row["kind"]
            )
    written: bytes = ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True)
    return written


def _is_error(document: dict[str, Any], rule: str) -> bool:
    return any(row["rule"] == rule and row["severity"] == "error" for row in document["by_rule"])


def _examples(document: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return next((row["examples"] for row in document["by_rule"] if row["rule"] == rule), [])
