# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""JSON round trip: build records the way a web service does (dicts of strings,
numbers, lists and nested dicts), json.dumps them, json.loads them back and check
a field. The decoder and encoder are C, but every value they produce or consume is
a fresh Python object: this is allocation in C code called from Python."""
import json
import random


def make_records(rng, count):
    tags = ["alpha", "beta", "gamma", "delta", "\u0105\u0107\u017c", "omega"]
    return [{
        "id": i,
        "name": "user-%05d" % i,
        "score": rng.random() * 100.0,
        "active": i % 3 != 0,
        "tags": rng.sample(tags, 3),
        "address": {"street": "%d Main St" % rng.randrange(1000), "zip": "%05d" % i,
                    "geo": [rng.uniform(-90, 90), rng.uniform(-180, 180)]},
        "history": [{"t": j, "v": rng.randrange(100)} for j in range(5)],
    } for i in range(count)]


def work(rounds):
    rng = random.Random(42)
    checksum = 0
    for r in range(rounds):
        records = make_records(rng, 50)
        text = json.dumps({"page": r, "records": records}, sort_keys=(r % 2 == 0))
        back = json.loads(text)
        checksum += len(text) + sum(h["v"] for rec in back["records"] for h in rec["history"])
    return checksum


if __name__ == "__main__":
    import _workload
    _workload.run("json_roundtrip", work, 1000)
