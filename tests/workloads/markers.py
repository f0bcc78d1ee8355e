# SPDX-License-Identifier: BSD-2-Clause
"""What the workloads tell their tests about their own source: marked lines and names."""


def markers(path):
    """Line of each `# SITE:<name>` / `# CALL:<name>` marker in the file at `path`."""
    found = {}
    with open(path) as f:
        for lineno, text in enumerate(f, 1):
            for tag in ("# SITE:", "# CALL:"):
                if tag in text and "found" not in text:
                    found[text.split(tag)[1].strip()] = lineno
    return found


def function_name(fn):
    """The name a profiler shows for fn's frames: co_qualname on 3.11+, co_name before."""
    code = fn.__code__
    return getattr(code, "co_qualname", code.co_name)
