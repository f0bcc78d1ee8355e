# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""Regex and string work: parse generated web-server log lines with a compiled
pattern, count per status and path, rewrite IP addresses with re.sub, split,
join and format strings. Many short-lived str, tuple and match objects."""
import random
import re

LINE = re.compile(r'(\d+\.\d+\.\d+\.\d+) - - \[([^\]]+)\] "(GET|POST|PUT) (\S+) HTTP/1\.[01]" '
                  r'(\d{3}) (\d+) "([^"]*)"')
IPV4 = re.compile(r"\b(\d+)\.(\d+)\.(\d+)\.(\d+)\b")
WORD = re.compile(r"[A-Za-z]+")


def make_log(rng, lines):
    paths = ["/", "/index.html", "/api/v1/users", "/api/v1/orders/%d", "/static/app.js",
             "/search?q=%s"]
    agents = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/7.88.1", "python-requests/2.31"]
    out = []
    for i in range(lines):
        path = rng.choice(paths)
        if "%d" in path:
            path = path % rng.randrange(10000)
        elif "%s" in path:
            path = path % "".join(rng.choice("abcdefgh") for _ in range(6))
        out.append('%d.%d.%d.%d - - [10/Oct/2026:13:%02d:%02d +0000] "%s %s HTTP/1.1" %d %d "%s"' % (
            rng.randrange(256), rng.randrange(256), rng.randrange(256), rng.randrange(256),
            i // 60 % 60, i % 60, rng.choice(["GET", "GET", "POST", "PUT"]), path,
            rng.choice([200, 200, 200, 304, 404, 500]), rng.randrange(50000),
            rng.choice(agents)))
    return "\n".join(out)


def anonymize(m):
    return "%s.%s.x.x" % (m.group(1), m.group(2))


def work(rounds):
    text = make_log(random.Random(7), 500)
    checksum = 0
    for _ in range(rounds):
        statuses = {}
        paths = {}
        for line in text.split("\n"):
            m = LINE.match(line)
            ip, when, method, path, status, size, agent = m.groups()
            statuses[status] = statuses.get(status, 0) + int(size)
            key = path.split("?")[0].rstrip("0123456789")
            paths[key] = paths.get(key, 0) + 1
            checksum += len(WORD.findall(agent))
        clean = IPV4.sub(anonymize, text)
        report = "\n".join("%-24s %6d" % (p, n) for p, n in sorted(paths.items()))
        checksum += len(clean) + len(report) + sum(statuses.values()) % 9973
        checksum += clean.upper().count("GET") + len(clean.replace("HTTP/1.1", "h1").split())
    return checksum


if __name__ == "__main__":
    import _workload
    _workload.run("regex_text", work, 200)
