"use strict";
(function () {
  function load(i) {
    return JSON.parse(document.getElementById("d-" + i).textContent);
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) { Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); }); }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) { return; }
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function runs(ops, tag) {
    var pre = el("pre", {}, []);
    ops.forEach(function (op) {
      if (op[0] === "=") { pre.appendChild(document.createTextNode(op[1])); }
      else { pre.appendChild(el(tag, {title: tag === "del" ? "only in expected" : "only in actual"}, [op[1]])); }
    });
    return pre;
  }
  function failure(f, warning) {
    var heading = (warning ? "WARNING (SHOULD): check " : "FAILED check ") + f.check + " (step " + f.step + ")";
    return el("section", {"class": warning ? "failure warning" : "failure", "aria-label": "failure " + f.check}, [
      el("h3", {}, [heading]),
      el("p", {}, [f.message]),
      f.not_checked ? el("p", {"class": "not-checked"}, [f.not_checked]) : el("span", {}, []),
      el("div", {"class": "diff"}, [
        el("div", {"class": "expected"}, [el("h4", {}, ["Expected (removed parts struck through)"]), runs(f.diff.expected, "del")]),
        el("div", {"class": "actual"}, [el("h4", {}, ["Actual (differing parts underlined)"]), runs(f.diff.actual, "ins")])
      ])
    ]);
  }
  function bodyView(body) {
    if (!body || body.kind === "empty") { return el("p", {"class": "muted"}, ["(no body)"]); }
    var size = body.size + " octets, " + body.kind;
    if (body.kind === "binary") {
      return el("div", {}, [el("p", {"class": "muted"}, [size]), el("div", {"class": "binary"}, [
        el("div", {}, [el("h5", {}, ["Hex dump"]), el("pre", {"class": "hex"}, [body.hex])]),
        el("div", {}, [el("h5", {}, ["Decoded fields"]), el("pre", {"class": "decoded"}, [body.decoded || "(not an MCData message)"])])
      ])]);
    }
    if (body.kind === "multipart") {
      return el("div", {}, [el("p", {"class": "muted"}, [size + ", " + body.parts.length + " part(s)"])].concat(
        body.parts.map(function (p, i) { return el("div", {}, [el("h5", {}, ["Part " + (i + 1) + ": " + p.media_type]), bodyView(p)]); })));
    }
    return el("div", {}, [el("p", {"class": "muted"}, [size]), el("pre", {"class": body.kind}, [body.text])]);
  }
  function hasBinary(body) {
    return body.kind === "binary" || (body.kind === "multipart" && body.parts.some(hasBinary));
  }
  function messageView(title, m) {
    if (!m) { return el("div", {}, [el("h5", {}, [title]), el("p", {"class": "muted"}, ["(none)"])]); }
    var head = m.start_line + "\n" + m.headers.map(function (h) { return h[0] + ": " + h[1]; }).join("\n");
    return el("div", {}, [el("h5", {}, [title]), el("pre", {"class": "head"}, [head]), bodyView(m.body)]);
  }
  function exchange(x, number) {
    var status = x.status === null || x.status === undefined ? "no answer" : String(x.status);
    var d = el("details", {"class": "exchange"}, [el("summary", {}, [
      "#" + number + " " + (x.direction === "harness->sut" ? "harness \u2192 SUT " : "SUT \u2192 reference ") + x.line +
      " \u2014 " + status + " (" + x.elapsed_ms + " ms)"])]);
    d.addEventListener("toggle", function () {
      if (!d.open || d.dataset.done) { return; }
      d.dataset.done = "1";
      if (x.request === undefined) {
        d.appendChild(el("p", {"class": "muted"}, ["Messages not kept in the report for runs this large; see the evidence bundle."]));
        return;
      }
      d.appendChild(el("p", {"class": "muted"}, ["sent " + x.sent + ", answered " + x.answered + ", " + x.transport]));
      // A hex dump needs the page's width: a message pair holding a binary body is stacked, not side by side.
      var wide = [x.request, x.response].some(function (m) { return m && m.body && hasBinary(m.body); });
      d.appendChild(el("div", {"class": wide ? "message stacked" : "message"}, [messageView("Request", x.request), messageView("Answer", x.response)]));
    });
    return d;
  }
  function scenarioBody(details) {
    var s = load(details.dataset.i);
    var exchanges = s.x;
    var body = details.querySelector(".body");
    var facts = [el("dt", {}, ["Family"]), el("dd", {}, [s.family])];
    if (s.spec) {
      facts.push(el("dt", {}, ["Specification"]), el("dd", {}, [s.spec_href ? el("a", {href: s.spec_href, "class": "spec"}, [s.spec]) : s.spec]));
    }
    (s.clauses || []).forEach(function (c) {
      facts.push(el("dt", {}, ["Clause"]), el("dd", {}, [el("details", {"class": "clause"}, [
        el("summary", {}, [c.title]), el("pre", {"class": "clause"}, [c.missing || c.text])])]));
    });
    if (s.latency && s.latency.count) {
      facts.push(el("dt", {}, ["Latency"]), el("dd", {}, ["p50 " + s.latency.p50 + " ms, p95 " + s.latency.p95 + " ms, max " + s.latency.max + " ms over " + s.latency.count]));
    }
    body.appendChild(el("dl", {"class": "facts"}, facts));
    s.failures.forEach(function (f) { body.appendChild(failure(f, s.badge === "warning")); });
    if (s.timeline && s.timeline.length) {
      var rows = [el("tr", {}, ["#", "time", "offset", "message", "answer or fault", "duration", "gap"].map(function (h) { return el("th", {}, [h]); }))];
      s.timeline.forEach(function (a) {
        rows.push(el("tr", {}, [String(a.attempt), String(a.time || ""), "+" + a.offset_ms + " ms", String(a.id || ""), String(a.answer || ""),
          a.duration_ms === null ? "open" : a.duration_ms + " ms", a.gap_ms === null ? "" : a.gap_ms + " ms"].map(function (c) { return el("td", {}, [c]); })));
      });
      body.appendChild(el("section", {"class": "timeline"}, [el("h3", {}, ["Attempts (timeline, the reference endpoint's clock)"]), el("table", {"class": "timeline"}, rows)]));
    }
    s.steps.forEach(function (step) {
      var l = step.latency_ms, n = step.exchanges.length;
      var latency = n === 0 ? "" : n === 1 ? ", " + l.max + " ms" :
        ", latency p50 " + l.p50 + " ms, p95 " + l.p95 + " ms, max " + l.max + " ms";
      var section = el("section", {"class": "step"}, [el("h3", {}, ["Step " + step.id + ": " + n + " exchange(s)" + latency])]);
      step.exchanges.slice(0, 500).forEach(function (i, n) { section.appendChild(exchange(exchanges[i], n + 1)); });
      if (step.exchanges.length > 500) {
        section.appendChild(el("p", {"class": "muted"}, [(step.exchanges.length - 500) + " more exchanges in the evidence bundle"]));
      }
      body.appendChild(section);
    });
    if (s.unlisted) {
      body.appendChild(el("p", {"class": "muted"}, [s.unlisted + " further exchanges are not listed here; the evidence bundle has them all."]));
    }
    if (!s.steps.length && !s.failures.length) { body.appendChild(el("p", {"class": "muted"}, ["No exchanges recorded."])); }
  }
  var items = Array.prototype.slice.call(document.querySelectorAll("ol.scenarios > li"));
  items.forEach(function (li) {
    var details = li.querySelector("details");
    details.addEventListener("toggle", function () {
      if (details.open && !details.dataset.done) { details.dataset.done = "1"; scenarioBody(details); }
    });
  });
  var failed = document.getElementById("f-failed"), level = document.getElementById("f-level");
  var family = document.getElementById("f-family"), search = document.getElementById("f-search");
  var shown = document.getElementById("shown");
  function apply() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean), count = 0;
    items.forEach(function (li) {
      var ok = (!failed.checked || li.dataset.verdict !== "passed") && (!level.value || li.dataset.level === level.value) &&
        (!family.value || li.dataset.family === family.value) &&
        words.every(function (w) { return li.dataset.text.indexOf(w) >= 0; });
      li.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + items.length + " scenarios shown.";
  }
  [failed, level, family].forEach(function (c) { c.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA") || e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (e.key === "/") { e.preventDefault(); search.focus(); return; }
    if (e.key !== "j" && e.key !== "k") { return; }
    var visible = items.filter(function (li) { return !li.hidden; }).map(function (li) { return li.querySelector("summary"); });
    if (!visible.length) { return; }
    var at = visible.indexOf(document.activeElement);
    var next = e.key === "j" ? Math.min(at + 1, visible.length - 1) : Math.max(at - 1, 0);
    visible[next].focus();
    e.preventDefault();
  });
})();
