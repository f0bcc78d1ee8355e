#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Every output format of one recording, checked by readers outside pyobjlife.

--fixture FILE: a committed recording with the lifecycle data (live, cyclic,
gc-pause weights, leak/cyclic/census sections, heap timeline); no root needed.
--record: records tests/workloads/alloc_workload.py in full mode (root), writing
every format at once with repeated -o, and checks that `report` gives the same
bytes from the saved JSON.

For each: `report` re-renders every format as an unprivileged user (nobody,
through setpriv, when run as root); `xmllint` parses the SVG and the HTML;
headless Chromium draws the SVG (the screenshot, decoded here, must hold a
picture) and runs its script (`--dump-dom`: the frames carry the expected
function names, a search through `?s=` matches the share the recording says);
speedscope JSON has the schema, one profile per weight with data, valid frame
indices and the recording's totals; folded lines parse and sum to the totals;
the text report's sections hold the figures computed here from the JSON.
Exit 0 pass, 1 fail, 77 skip (a missing reader is named).
"""
import argparse
import html.parser
import json
import os
import pwd
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, record_workload, skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.realpath(os.path.join(HERE, "..", "workloads", "alloc_workload.py"))
SCHEMA = "https://www.speedscope.app/file-format-schema.json"
EXIT_INPUT, EXIT_USAGE = 8, 64
# the recording member each weight reads, and where
WEIGHTS = {"allocations": ("stacks", "allocations"), "bytes": ("stacks", "bytes"),
           "live": ("stacks", "alive_at_end"), "cyclic": ("stacks", "cycle_collected"),
           "gc-pause": ("gc_blame", "pause_ns")}
FORMATS = {"txt": "rec.txt", "folded": "rec.folded", "svg": "rec.svg", "html": "rec.html",
           "speedscope": "rec.speedscope.json", "json": "rec.json"}
problems = []


def problem(msg):
    problems.append(msg)


# --- the recording, read here independently of pyobjlife ----------------------

def weights_with_data(rec):
    have = []
    for w, (arr, key) in WEIGHTS.items():
        items = rec.get(arr)
        if isinstance(items, list) and (key in ("allocations", "bytes", "pause_ns")
                                        or any(key in e for e in items)):
            have.append(w)
    return have


def total(rec, weight):
    arr, key = WEIGHTS[weight]
    return sum(e.get(key, 0) for e in rec.get(arr, []))


def label(frame):
    line = f":{frame['line']}" if frame.get("line", -1) >= 0 else ""
    return f"{frame['function']} ({frame['file']}{line})"


def stack_labels(entry):
    return [label(f) for f in entry["frames"]]


def share_of(rec, weight, pred):
    """The weight of the stacks with a frame label satisfying pred."""
    arr, key = WEIGHTS[weight]
    return sum(e.get(key, 0) for e in rec.get(arr, []) if any(pred(l) for l in stack_labels(e)))


def fmt_bytes(b):  # as the text report says it
    if b < 1024:
        return f"{b} B"
    if b < 1024 ** 2:
        return f"{b / 1024:.1f} KiB"
    if b < 1024 ** 3:
        return f"{b / 1024 ** 2:.1f} MiB"
    return f"{b / 1024 ** 3:.2f} GiB"


# --- outside readers ----------------------------------------------------------

def need_tool(*names):
    for n in names:
        path = shutil.which(n)
        if path:
            return path
    skip(f"{' or '.join(names)} is not installed: cannot check the outputs with it")


def xmllint(path, html=False):
    args = [need_tool("xmllint"), "--noout"] + (["--html"] if html else []) + [path]
    p = subprocess.run(args, capture_output=True, text=True)
    errors = p.stderr.splitlines()
    if html:
        # libxml2's HTML parser knows HTML 4 only: it names every SVG and HTML 5 tag
        # "invalid" (and prints the line and caret after); anything else is an error
        errors = [e for e in errors if "parser error" in e and not re.search(r"Tag \w+ invalid", e)]
    if p.returncode or errors:
        problem(f"xmllint{' --html' if html else ''} rejects {os.path.basename(path)}: "
                f"{' | '.join(errors[:5]) or p.stderr[:300]}")


def chromium(tmp, *args):
    exe = need_tool("chromium", "chromium-browser", "google-chrome")
    # --no-sandbox: Chromium refuses to run as root without it
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={os.path.join(tmp, 'chromium-profile')}"] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode:
        fail(f"chromium {' '.join(args)} exited {p.returncode}: {p.stderr[-500:]}")
    return p.stdout


def png_pixels(path):
    """(width, height, rows of bytes, bytes per pixel) of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            if depth != 8 or color not in (2, 6):
                fail(f"{path}: PNG depth {depth} color type {color} not decoded here")
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def check_screenshot(tmp, url, what, width, height):
    png = os.path.join(tmp, "shot.png")
    chromium(tmp, f"--screenshot={png}", f"--window-size={width},{height}", url)
    w, h, rows, bpp = png_pixels(png)
    colors, painted = {}, 0
    background = rows[0][:3]
    for row in rows:
        for x in range(0, w * bpp, bpp):
            px = row[x:x + 3]
            colors[px] = colors.get(px, 0) + 1
            painted += px != background and px != b"\xff\xff\xff"
    share = painted / (w * h)
    # a flamegraph is many coloured frames and text: dozens of colours, a real area painted
    if len(colors) < 16 or share < 0.03:
        problem(f"{what}: the screenshot looks blank ({len(colors)} colours, "
                f"{100 * share:.1f}% painted)")
    return len(colors), share


class DomReader(html.parser.HTMLParser):
    """The <svg> elements and the text of each <text>, with its enclosing classes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.svgs, self.texts, self.polylines = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.stack.append((tag, attrs.get("class", ""), []))
        if tag == "svg":
            self.svgs.append(attrs)
        elif tag == "polyline":
            self.polylines.append((self.svgs[-1] if self.svgs else {}, attrs))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2].append(data)

    def handle_endtag(self, tag):
        while self.stack:
            t, cls, text = self.stack.pop()
            if t == "text":
                owners = [c for _, c, _ in self.stack]
                svg = self.svgs[-1] if self.svgs else {}
                self.texts.append(("".join(text), cls, owners, svg))
            if t == tag:
                break


def read_dom(text):
    r = DomReader()
    r.feed(text)
    return r


def shows(texts, fn):
    """Whether a frame is labelled with function `fn`: its label in full, or cut to fit
    ("parse_request.<l..") keeping at least 12 characters of the name."""
    for t in texts:
        if t.startswith(fn + " ("):
            return True
        core = t[:-2] if t.endswith("..") else None
        if core and len(core) >= min(len(fn), 12) and (fn + " (").startswith(core[:len(fn) + 2]):
            return True
    return False


def frame_texts(dom, weight=None):
    return [t for t, _, owners, svg in dom.texts
            if "f" in owners and (weight is None or svg.get("data-weight") == weight)]


# --- the checks ---------------------------------------------------------------

def expected_names(rec, weight, names):
    """Of `names` (functions), those whose frames hold at least 5% of the weight: wide
    enough to show their label."""
    t = total(rec, weight)
    out = []
    for fn in names:
        w = share_of(rec, weight, lambda l, fn=fn: l.startswith(fn + " ("))
        if t and w >= 0.05 * t:
            out.append(fn)
    return out


def check_svg(tmp, path, rec, weight, names, search):
    xmllint(path)
    check_screenshot(tmp, "file://" + path, os.path.basename(path), 1200, 900)
    url = "file://" + path + "?s=" + search
    dumped = chromium(tmp, "--dump-dom", url)
    dom = read_dom(dumped)
    svg = dom.svgs[0] if dom.svgs else {}
    if svg.get("data-ready") != "1":
        problem(f"{path}: the flamegraph's script did not run (no data-ready)")
    t = total(rec, weight)
    if int(svg.get("data-total", -1)) != t:
        problem(f"{path}: data-total {svg.get('data-total')}, the recording's {weight} total is {t}")
    texts = frame_texts(dom)
    want = expected_names(rec, weight, names)
    if len(want) < 2:
        problem(f"{path}: fewer than two of {names} hold 5% of {weight}; the test cannot tell")
    for fn in want:
        if not shows(texts, fn):
            problem(f"{path}: no frame labelled {fn!r} drawn (frames: {texts[:12]})")
    matched = [t_ for t_, cls, _, _ in dom.texts if "matched" in cls]
    expect = share_of(rec, weight, lambda l: re.search(search, l) is not None)
    m = re.search(r'data-matched="(\d+)"', dumped)
    got = int(m.group(1)) if m else -1
    # frames narrower than 0.1 px of the 1180 are not drawn: a match can miss only
    # stacks that narrow themselves (a frame is at least as wide as each of its stacks)
    arr, key = WEIGHTS[weight]
    slack = sum(e.get(key, 0) for e in rec.get(arr, []) if e.get(key, 0) * 1180 < 0.1 * t)
    if not expect or not expect - slack <= got <= expect:
        problem(f"{path}: search {search!r} matched {got}, the recording says {expect} "
                f"of {t} ({matched})")
    return want


# Clicks the widest frame two levels above "all" in the first flamegraph, and picks the
# second weight in the selector, as a user would; the page's own script must react.
INTERACT = """<script>
var first = document.querySelector('svg.pyobjlife-flamegraph'), best = null;
first.querySelectorAll('g.f[data-d="2"]').forEach(function (g) {
  if (!best || +g.getAttribute('data-v') > +best.getAttribute('data-v')) best = g;
});
best.setAttribute('id', 'clicked');
best.querySelector('rect').dispatchEvent(new MouseEvent('click', {bubbles: true}));
var sel = document.getElementById('weight');
if (sel.options.length > 1) {
  sel.selectedIndex = 1;
  sel.dispatchEvent(new Event('change'));
}
</script>
"""
FRAME = re.compile(r'<g class="f( parent)?" ([^>]*)><title>.*?</title><rect ([^>]*?)/?>', re.S)


def attrs_of(text):
    return dict(re.findall(r'([\w-]+)="([^"]*)"', text))


def check_interaction(tmp, path, rec):
    """Zoom by a click and the weight selector, run by Chromium on a copy of the page."""
    page = open(path).read()
    clicked = os.path.join(tmp, "clicked.html")
    open(clicked, "w").write(page.replace("</body>", INTERACT + "</body>"))
    dom = chromium(tmp, "--dump-dom", "file://" + clicked)
    first = dom.split('class="pyobjlife-flamegraph"')[1].split("</svg>")[0]
    frames = [(bool(m.group(1)), attrs_of(m.group(2)), attrs_of(m.group(3)))
              for m in FRAME.finditer(first)]
    zoom = [f for f in frames if f[1].get("id") == "clicked"]
    if not zoom:
        problem(f"{path}: the click found no frame to zoom")
        return
    zo, zv = int(zoom[0][1]["data-o"]), int(zoom[0][1]["data-v"])
    for parent, g, rect in frames:
        o, v, d = int(g["data-o"]), int(g["data-v"]), int(g["data-d"])
        inside = d >= 2 and zo <= o and o + v <= zo + zv
        above = d < 2 and o <= zo and o + v >= zo + zv
        hidden = "display: none" in g.get("style", "")
        want_w = v / zv * 1180 if inside else 1180 if above else None
        if hidden != (not inside and not above) or parent != above or \
                (want_w is not None and abs(float(rect["width"]) - want_w) > 0.06):
            problem(f"{path}: after a click on the frame at {zo}+{zv}, the frame at {o}+{v} "
                    f"depth {d} has width {rect.get('width')} and style {g.get('style')!r}")
            break
    shown = re.findall(r'<div class="flame" data-weight="([\w-]+)"(?: style="([^"]*)")?', dom)
    visible = [w for w, style in shown if "none" not in style]
    have = weights_with_data(rec)
    if len(have) > 1 and visible != [have[1]]:
        problem(f"{path}: after choosing {have[1]} in the selector, {visible} are shown")


def check_html(tmp, path, rec, names):
    xmllint(path)
    xmllint(path, html=True)
    check_screenshot(tmp, "file://" + path, os.path.basename(path), 1300, 1800)
    dom = read_dom(chromium(tmp, "--dump-dom", "file://" + path))
    flames = [s for s in dom.svgs if "pyobjlife-flamegraph" in s.get("class", "")]
    have = weights_with_data(rec)
    if sorted(s.get("data-weight") for s in flames) != sorted(have):
        problem(f"{path}: flamegraphs for {[s.get('data-weight') for s in flames]}, the recording "
                f"has data for {have}")
    if any(s.get("data-ready") != "1" for s in flames):
        problem(f"{path}: a flamegraph's script did not run")
    for w in have:
        if w in ("allocations", "bytes", "live", "cyclic"):
            for fn in expected_names(rec, w, names):
                if not shows(frame_texts(dom, w), fn):
                    problem(f"{path}: the {w} flamegraph has no frame labelled {fn!r}")
    if flames:
        check_interaction(tmp, path, rec)
    timeline = [s for s in dom.svgs if "timeline" in s.get("class", "")]
    n_coll = len(rec["gc"]["collections"])
    if n_coll and (len(timeline) != 1 or int(timeline[0].get("data-collections", -1)) != n_coll):
        problem(f"{path}: GC timeline {timeline} does not hold the {n_coll} collections")
    hists = sorted(int(s["data-generation"]) for s in dom.svgs
                   if "histogram" in s.get("class", ""))
    want_hists = [g["generation"] for g in rec["gc"]["generations"]
                  if any(b[2] for b in g["pause_ns"]["log2_histogram"])]
    if hists != want_hists:
        problem(f"{path}: pause histograms for generations {hists}, expected {want_hists}")
    heap = rec.get("heap_timeline") or []
    rss = [s for s in dom.svgs if "rss" in s.get("class", "")]
    raw = open(path).read()
    if heap:
        lines = [pl for svg, pl in dom.polylines if "rss" in svg.get("class", "")]
        points = len(lines[0]["points"].split()) if lines else 0
        if len(rss) != 1 or int(rss[0].get("data-samples", -1)) != len(heap) or points != len(heap):
            problem(f"{path}: RSS chart with {points} points, the recording has {len(heap)} samples")
        if int(rss[0].get("data-peak-bytes", -1)) != max(h["rss_bytes"] for h in heap):
            problem(f"{path}: RSS peak {rss[0].get('data-peak-bytes')}, expected "
                    f"{max(h['rss_bytes'] for h in heap)}")
        words = (f"{fmt_bytes(heap[0]['rss_bytes'])} at the start, "
                 f"{fmt_bytes(heap[-1]['rss_bytes'])} at the end")
        if words not in raw:
            problem(f"{path}: no '{words}'")
    elif rss or "RSS not recorded" not in raw:
        problem(f"{path}: without a heap_timeline the page must say 'RSS not recorded'")


def check_speedscope(path, rec):
    doc = json.load(open(path))
    if doc.get("$schema") != SCHEMA:
        problem(f"{path}: $schema {doc.get('$schema')!r}")
    frames = doc.get("shared", {}).get("frames", [])
    names = [p["name"].split(" ")[0] for p in doc.get("profiles", [])]
    if names != weights_with_data(rec):
        problem(f"{path}: profiles {names}, the recording has data for {weights_with_data(rec)}")
    for p, w in zip(doc.get("profiles", []), names):
        if p.get("type") != "sampled" or len(p["samples"]) != len(p["weights"]):
            problem(f"{path}: profile {w} is not a sampled profile with one weight per sample")
        bad = [i for s in p["samples"] for i in s if not 0 <= i < len(frames)]
        if bad:
            problem(f"{path}: profile {w} has frame indices outside 0..{len(frames) - 1}: {bad[:5]}")
        t = total(rec, w)
        if sum(p["weights"]) != t or p.get("endValue") != t:
            problem(f"{path}: profile {w} sums to {sum(p['weights'])} (endValue "
                    f"{p.get('endValue')}), the recording's total is {t}")
        want_unit = {"bytes": "bytes", "gc-pause": "nanoseconds"}.get(w, "none")
        if p.get("unit") != want_unit:
            problem(f"{path}: profile {w} unit {p.get('unit')!r}, expected {want_unit!r}")
    # a stack's frames, root first, are the recording's own
    alloc = [p for p, w in zip(doc.get("profiles", []), names) if w == "allocations"]
    stacks = [s for s in rec.get("stacks", []) if s["allocations"]]
    if alloc and stacks:
        top = max(stacks, key=lambda s: s["allocations"])
        want = [(f["function"], f["file"], f["line"]) for f in top["frames"]] + \
               [(f"[{top['type']}]", None, None)]
        got = [[(frames[i]["name"], frames[i].get("file"), frames[i].get("line"))
                for i in s] for s in alloc[0]["samples"]]
        if not any(g[-len(want):] == want for g in got):
            problem(f"{path}: no sample is the recording's largest stack {want}")


def check_folded(path, rec, weight):
    lines = open(path).read().splitlines()
    counts = []
    for line in lines:
        m = re.match(r"^(\S.*) (\d+)$", line)
        if not m:
            problem(f"{path}: line does not parse as 'frames count': {line[:120]!r}")
            return
        counts.append(int(m.group(2)))
    if sum(counts) != total(rec, weight):
        problem(f"{path}: counts sum to {sum(counts)}, the recording's {weight} total is "
                f"{total(rec, weight)}")


def table_rows(text, title):
    """The rows of the text report's table that follows the line starting with `title`."""
    lines = text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith(title))
    except StopIteration:
        return None
    rows = []
    for l in lines[start + 2:]:
        if not l.strip() or not re.match(r"^\s*[+-]?\d", l):
            break
        rows.append(l)
    return rows


def site_name(s):
    line = f":{s['line']}" if s["line"] >= 0 else ""
    return f"{s['function']} ({s['file']}{line})"


def check_ranked(text, title, sites, key, cols, what):
    ranked = sorted([s for s in sites if s.get(key, 0) > 0],
                    key=lambda s: (-s[key], -s.get(cols[1], 0)))
    rows = table_rows(text, title)
    if rows is None:
        problem(f"text report: no '{title}' section although the sites have {key}")
        return
    if len(rows) != min(len(ranked), 20):
        problem(f"text report: {what} has {len(rows)} rows, expected {min(len(ranked), 20)}")
    for row, s in zip(rows, ranked):
        nums = [int(x) for x in row.split()[:len(cols)]]
        want = [s.get(c, 0) for c in cols]
        if nums != want or not row.rstrip().endswith(site_name(s)) or f" {s['type']} " not in row:
            problem(f"text report: {what} row {row.strip()!r}, expected {want} {s['type']} "
                    f"{site_name(s)}")


def check_text(path, rec):
    text = open(path).read()
    sites = rec.get("sites", [])
    if sites:
        top = sites[0]
        if not re.search(rf"^\s+{top['allocations']}\s+{top['bytes']}\s+{re.escape(top['type'])}\s+"
                         rf"{re.escape(site_name(top))}$", text, re.M):
            problem(f"text report: the top site {top['allocations']} {site_name(top)} is missing")
    has = lambda key: any(key in s for s in sites)  # noqa: E731
    if has("alive_survived_full_collection"):
        check_ranked(text, "Leak candidates", sites, "alive_survived_full_collection",
                     ["alive_survived_full_collection", "alive_at_end", "alive_at_end_bytes"],
                     "Leak candidates")
    elif "Leak candidates" in text:
        problem("text report: a Leak candidates section without the data")
    if has("cycle_collected"):
        check_ranked(text, "Cyclic garbage", sites, "cycle_collected",
                     ["cycle_collected", "allocations"], "Cyclic garbage")
    elif "Cyclic garbage" in text:
        problem("text report: a Cyclic garbage section without the data")
    census = rec.get("census") or []
    times = sorted({c["t_ns"] for c in census})
    if len(times) >= 2:
        at = lambda t: {c["type"]: c["count"] for c in census  # noqa: E731
                        if c["t_ns"] == t and c["generation"] == 2}
        first, last = at(times[0]), at(times[-1])
        growth = sorted(((last.get(k, 0) - first.get(k, 0), k) for k in set(first) | set(last)
                         if last.get(k, 0) > first.get(k, 0)), key=lambda g: (-g[0], g[1]))
        rows = table_rows(text, "Census growth") or []
        got = [(int(r.split()[0]), r.split()[3]) for r in rows]
        if got != growth[:20]:
            problem(f"text report: census growth {got}, expected {growth[:20]}")
    elif "Census growth" in text:
        problem("text report: a Census growth section without census samples")
    heap = rec.get("heap_timeline") or []
    if heap:
        a, z = heap[0], heap[-1]
        want = (f"heap: RSS {fmt_bytes(a['rss_bytes'])} -> {fmt_bytes(z['rss_bytes'])}")
        arenas = (f"pymalloc arenas: {z['arenas_allocated'] - a['arenas_allocated']} allocated, "
                  f"{z['arenas_freed'] - a['arenas_freed']} freed")
        if want not in text or arenas not in text:
            problem(f"text report: no '{want} ... {arenas}' line")


def as_nobody():
    """The command prefix that drops every privilege, or [] when already unprivileged."""
    if os.geteuid() != 0:
        return []
    nobody = pwd.getpwnam("nobody")
    return [need_tool("setpriv"), f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
            "--clear-groups"]


def report(pyobjlife, *args):
    return subprocess.run(as_nobody() + [pyobjlife, "report"] + list(args), capture_output=True,
                          text=True, timeout=120)


def render_all(pyobjlife, rec_path, out_dir, rec):
    """Every format (and every weight the recording has, for the stack formats) by report."""
    outs = {}
    for fmt, name in FORMATS.items():
        out = os.path.join(out_dir, "report-" + name)
        p = report(pyobjlife, rec_path, "-o", out)
        if p.returncode:
            fail(f"report -o {name} as {'nobody' if as_nobody() else 'this user'} exited "
                 f"{p.returncode}: {p.stderr.strip()}")
        outs[fmt] = out
    for w in weights_with_data(rec):
        for ext in ("svg", "folded"):
            out = os.path.join(out_dir, f"report-{w}.{ext}")
            p = report(pyobjlife, rec_path, "-o", out, "--weight", w)
            if p.returncode:
                fail(f"report -o {os.path.basename(out)} --weight {w} exited {p.returncode}: "
                     f"{p.stderr.strip()}")
            outs[f"{ext}-{w}"] = out
    return outs


def expect_error(p, code, words, what):
    lines = p.stderr.strip().splitlines()
    if p.returncode != code or len(lines) != 1 or any(w not in p.stderr for w in words):
        problem(f"{what}: exit {p.returncode} and {p.stderr.strip()!r}; expected {code} and one "
                f"line with {words}")


def check_errors(pyobjlife, tmp, rec):
    """Bad input: one line naming the cause, and the documented exit code."""
    gc_only = {k: v for k, v in rec.items() if k not in
               ("allocations", "sites", "stacks", "gc_blame", "census", "heap_timeline", "sampling")}
    gc_only["mode"] = "gc"
    gc_path = os.path.join(tmp, "gc-mode.json")
    json.dump(gc_only, open(gc_path, "w"))
    for w in WEIGHTS:
        expect_error(report(pyobjlife, gc_path, "-o", os.path.join(tmp, "x.svg"), "--weight", w),
                     EXIT_INPUT, ["weight " + w, "--mode full"], f"svg --weight {w} of a gc recording")
    expect_error(report(pyobjlife, gc_path, "-o", os.path.join(tmp, "x.speedscope.json")),
                 EXIT_INPUT, ["--mode full"], "speedscope of a gc recording")
    html_out = os.path.join(tmp, "gc.html")
    p = report(pyobjlife, gc_path, "-o", html_out)
    if p.returncode or "RSS not recorded" not in open(html_out).read():
        problem(f"html of a gc recording: exit {p.returncode} {p.stderr.strip()}")
    else:
        xmllint(html_out)
    # full mode from before the lifecycle data: the allocation weights only
    no_life = dict(rec, stacks=[{k: v for k, v in s.items() if k not in ("alive_at_end",
                                "cycle_collected")} for s in rec.get("stacks", [])])
    path = os.path.join(tmp, "no-lifecycle.json")
    json.dump(no_life, open(path, "w"))
    for w, member in (("live", "alive_at_end"), ("cyclic", "cycle_collected")):
        expect_error(report(pyobjlife, path, "--format", "folded", "--weight", w), EXIT_INPUT,
                     ["no lifecycle data", member], f"--weight {w} without lifecycle data")
    broken = os.path.join(tmp, "broken.json")
    text = json.dumps(rec, indent=1)
    open(broken, "w").write(text[:len(text) // 2])
    expect_error(report(pyobjlife, broken), EXIT_INPUT, [broken + ":", "not valid JSON"],
                 "a truncated recording")
    other = os.path.join(tmp, "other.json")
    json.dump({"traceEvents": []}, open(other, "w"))
    expect_error(report(pyobjlife, other), EXIT_INPUT, ["not a pyobjlife recording"],
                 "JSON that is not a recording")
    expect_error(report(pyobjlife, os.path.join(tmp, "absent.json")), EXIT_INPUT,
                 ["No such file"], "a missing recording")
    if as_nobody():
        secret = os.path.join(tmp, "secret.json")
        json.dump(rec, open(secret, "w"))
        os.chmod(secret, 0o600)
        expect_error(report(pyobjlife, secret), EXIT_INPUT, ["Permission denied"],
                     "a recording nobody may not read")
    expect_error(report(pyobjlife, gc_path, "-o", os.path.join(tmp, "x.png")), EXIT_USAGE,
                 ["format"], "an unknown extension")


def check_all(pyobjlife, rec_path, rec, tmp, names, search):
    outs = render_all(pyobjlife, rec_path, tmp, rec)
    if open(outs["json"], "rb").read() != open(rec_path, "rb").read():
        problem("report -o rec.json does not give back the recording byte for byte")
    check_text(outs["txt"], rec)
    check_speedscope(outs["speedscope"], rec)
    for w in weights_with_data(rec):
        check_folded(outs[f"folded-{w}"], rec, w)
        xmllint(outs[f"svg-{w}"])
    check_folded(outs["folded"], rec, "allocations")
    drawn = check_svg(tmp, outs["svg"], rec, "allocations", names, search)
    if "live" in weights_with_data(rec):
        check_svg(tmp, outs["svg-live"], rec, "live", names, search)
    check_html(tmp, outs["html"], rec, names)
    check_errors(pyobjlife, tmp, rec)
    return outs, drawn


def private_dir():
    """A temporary directory the unprivileged user may write to."""
    d = tempfile.mkdtemp(prefix="pyobjlife-outputs-")
    os.chmod(d, 0o777)
    return d


def run_fixture(args):
    tmp = private_dir()
    try:
        rec_path = os.path.join(tmp, "fixture.json")
        shutil.copy(args.fixture, rec_path)
        os.chmod(rec_path, 0o644)
        rec = json.load(open(rec_path))
        names = sorted({f["function"] for s in rec["stacks"] for f in s["frames"]})
        _, drawn = check_all(args.pyobjlife, rec_path, rec, tmp, names, "build_tree")
        if problems:
            fail("; ".join(problems[:15]))
        print(f"PASS: fixture: every format re-rendered as an unprivileged user and accepted by "
              f"xmllint, Chromium and the checks here; weights {weights_with_data(rec)}; "
              f"frames {drawn} drawn; leak, cyclic, census and heap sections exact")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_record(args):
    if os.geteuid() != 0:
        skip("recording needs root (BPF uprobes)")
    if not os.path.exists(args.python):
        skip(f"{args.python} is not installed")
    tmp = private_dir()
    try:
        written = {fmt: os.path.join(tmp, name) for fmt, name in FORMATS.items()}
        cmd = [args.pyobjlife, "record", "--mode", "full"]
        for path in written.values():
            cmd += ["-o", path]
        env = dict(os.environ, ALLOC_WORKLOAD_DEPTH="20")
        rc, stderr, oracle = record_workload([args.python, WORKLOAD], env, cmd, stop_timeout=120)
        if rc:
            fail(f"pyobjlife record exited {rc}: {stderr}")
        for path in written.values():
            os.chmod(path, 0o644)
        rec = json.load(open(written["json"]))
        names = sorted({s["function"] for s in oracle["sites"].values()} | {"run", "main"})
        search = oracle["sites"]["SiteMain"]["function"]
        outs, drawn = check_all(args.pyobjlife, written["json"], rec, tmp, names, search)
        for fmt, path in written.items():
            if open(path, "rb").read() != open(outs[fmt], "rb").read():
                problem(f"report gives another {fmt} than record wrote for the same recording")
        if problems:
            fail(f"{args.label} (CPython {oracle['python']}): " + "; ".join(problems[:15]))
        print(f"PASS: {args.label} (CPython {oracle['python']}): record wrote "
              f"{len(written)} formats at once, report re-rendered each byte for byte as an "
              f"unprivileged user; frames {drawn} drawn and found by Chromium")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--fixture", help="a committed recording to check")
    ap.add_argument("--python", help="record alloc_workload.py under this interpreter")
    ap.add_argument("--label", default="outputs")
    args = ap.parse_args()
    need_tool("xmllint")
    need_tool("chromium", "chromium-browser", "google-chrome")
    if args.fixture:
        run_fixture(args)
    else:
        run_record(args)


main()
