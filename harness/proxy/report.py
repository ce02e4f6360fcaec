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
    return f'<pre class="message">{html.escape(chr(10).join(lines))}\n\n{html.escape(shown)}</pre>'


def _page(document: dict[str, Any], findings: Findings, upstream: str) -> str:
    """The page: the run report's stylesheets, badges, facts list and collapsible entries (``report.html.j2``),
    with no script (a Content-Security-Policy allows none) and every text escaped."""
    templates = resources.files("harness.htmlreport").joinpath("templates")
    css = templates.joinpath("base.css").read_text("utf-8") + templates.joinpath("report.css").read_text("utf-8")
    clean = not document["findings"]
    verdict = "NO FINDING" if clean else f"{document['findings']} FINDING(S)"
    e = html.escape
    out = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>harness proxy: {verdict}</title><style>{css}</style></head><body><header>",
        '<p class="muted">Proxy report (harness proxy)</p>',
        f'<h1>Traffic to {e(upstream)} <span class="badge {"passed" if clean else "failed"}">{verdict}</span></h1>',
        '<dl class="facts">',
        f"<dt>exchanges checked</dt><dd>{document['exchanges']}</dd>",
        f"<dt>findings (errors)</dt><dd>{document['findings']}</dd>",
        f"<dt>warnings</dt><dd>{document['warnings']}</dd>",
        f"<dt>not checked (checker behind)</dt><dd>{document.get('dropped', 0)}</dd>",
        f"<dt>connections</dt><dd>{document.get('connections', 0)}</dd>",
        "</dl></header><main>",
        "<h2>By rule</h2><table><tr><th>rule</th><th>severity</th><th>count</th><th>first example</th></tr>",
    ]
    for row in document["by_rule"]:
        example = row["examples"][0] if row["examples"] else {}
        badge = "failed" if row["severity"] == "error" else "warning"
        number = f"#{example['exchange']} " if example.get("exchange") else ""
        out.append(
            f'<tr><td>{e(row["rule"])}</td><td><span class="badge {badge}">{row["severity"]}</span></td>'
            f"<td>{row['count']}</td><td>{e(number + str(example.get('request', '')))}: "
            f"{e(str(example.get('message', '')))}</td></tr>"
        )
    out.append("</table><h2>By exchange kind</h2><table><tr><th>kind</th><th>exchanges</th><th>findings</th></tr>")
    for row in document["by_exchange_kind"]:
        out.append(f"<tr><td>{e(row['kind'])}</td><td>{row['exchanges']}</td><td>{row['findings']}</td></tr>")
    out.append(f'</table><h2 id="exchanges-heading">Exchanges (the first {KEPT_EXCHANGES} in full)</h2>')
    out.append('<ol class="scenarios" aria-labelledby="exchanges-heading">')
    for kept in findings.kept:
        exchange: RecordedExchange = kept["exchange"]
        errors = sum(1 for f in kept["findings"] if f["severity"] == "error")
        badge = "failed" if errors else "warning" if kept["findings"] else "passed"
        out.append(
            f'<li><details class="scenario"><summary><span class="badge {badge}">{badge.upper()}</span>'
            f'<span class="sid">#{kept["number"]}</span><span class="level">{e(kept["kind"])}</span>'
            f'<span class="title">{e(exchange.method)} {e(exchange.target)} -&gt; {exchange.answer_status}</span>'
            f'<span class="time">{exchange.elapsed_ms:.1f} ms</span></summary><div class="body">'
        )
        for f in kept["findings"]:
            where = f" at {f['location']}" if f["location"] else ""
            out.append(
                f'<p class="failure"><span class="badge {"failed" if f["severity"] == "error" else "warning"}">'
                f"{e(f['rule'])}</span> {e(f['side'] + where)}: {e(f['message'])}</p>"
            )
        out.append("<h3>request</h3>" + _message_html(message_view(_record(exchange, False))))
        out.append("<h3>answer</h3>" + _message_html(message_view(_record(exchange, True))))
        out.append("</div></details></li>")
    out.append("</ol>")
    if document["exchanges"] > len(findings.kept):
        later = document["exchanges"] - len(findings.kept)
        out.append(f'<p class="muted">{later} later exchange(s) are counted above only.</p>')
    out.append("</main></body></html>")
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
