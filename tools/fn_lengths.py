#!/usr/bin/env python3
"""Lists the Rust functions longer than a limit, outside tests; fails when there is one.

What it counts: for every `fn` item with a body in the `.rs` files under ROOT, the lines
from the line of its `fn` keyword to the line of its closing brace, both included (blank
lines, comments and attributes inside the body count too; doc comments above it do not).
A function nested in another counts as part of that one and is not listed on its own.

What it leaves out: files in a `tests` folder (integration tests), files named `tests.rs`,
`target` folders, and every item marked `#[cfg(test)]` (a test module or a test-only
function), in full.

Braces are matched on the source with comments, string literals (raw and byte strings
too) and character literals blanked out, so a `{` in a format string does not count.

Usage: tools/fn_lengths.py [LIMIT] [ROOT]     (LIMIT: 150 lines; ROOT: crates)
Prints `LINES PATH:LINE NAME` for each function over LIMIT lines; exit status 1 when any.
"""

import os
import re
import sys

FN = re.compile(
    r'^\s*(?:pub(?:\([^)]*\))?\s+)?(?:default\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?'
    r'(?:extern\s+(?:"[^"]*"\s+)?)?fn\s+(\w+)'
)
CFG_TEST = re.compile(r'^\s*#\[cfg\(test\)\]')
RAW = re.compile(r'b?r(#*)"')


def is_ident(c):
    return c.isalnum() or c == '_'


def blank_literals(text):
    """`text` with comments and the contents of string and char literals replaced by
    spaces (newlines kept, so line numbers stay)."""
    out = []
    i, n = 0, len(text)

    def blank(s):
        return ''.join('\n' if c == '\n' else ' ' for c in s)

    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ''
        if c == '/' and nxt == '/':
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif c == '/' and nxt == '*':
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith('/*', j):
                    depth, j = depth + 1, j + 2
                elif text.startswith('*/', j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif c in 'br' and not (i and is_ident(text[i - 1])) and RAW.match(text, i):
            m = RAW.match(text, i)
            start = m.end()
            close = '"' + m.group(1)
            end = text.find(close, start)
            end = n if end < 0 else end
            out.append(text[i:start] + blank(text[start:end]) + text[end:end + len(close)])
            i = end + len(close)
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == '\\' else 1
            out.append('"' + blank(text[i + 1:j]) + '"')
            i = j + 1
        elif c == "'":
            if nxt == '\\':
                j = text.find("'", i + 3)
            elif i + 2 < n and text[i + 2] == "'":
                j = i + 2
            else:
                j = -1  # a lifetime or a label
            if j < 0:
                out.append(c)
                i += 1
            else:
                out.append("'" + blank(text[i + 1:j]) + "'")
                i = j + 1
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def item_end(lines, i):
    """Index of the last line of the item starting at line `i`, and whether it has a body:
    its braces matched from there, or the line ending in `;` before any `{`."""
    depth, started = 0, False
    for j in range(i, len(lines)):
        line = lines[j]
        depth += line.count('{') - line.count('}')
        started = started or '{' in line
        if started and depth <= 0:
            return j, True
        if not started and line.rstrip().endswith(';'):
            return j, False
    return len(lines) - 1, started


def long_functions(path, limit):
    """(lines, line number, name) of each function in `path` over `limit` lines."""
    with open(path, encoding='utf-8') as f:
        lines = blank_literals(f.read()).split('\n')
    found = []
    i = 0
    while i < len(lines):
        if CFG_TEST.match(lines[i]):
            i = item_end(lines, i + 1)[0] + 1
            continue
        m = FN.match(lines[i])
        if m:
            end, body = item_end(lines, i)
            if body and end - i + 1 > limit:
                found.append((end - i + 1, i + 1, m.group(1)))
            i = end + 1
            continue
        i += 1
    return found


def rust_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ('tests', 'target'))
        for name in sorted(filenames):
            if name.endswith('.rs') and name != 'tests.rs':
                yield os.path.join(dirpath, name)


def main(argv):
    limit = int(argv[1]) if len(argv) > 1 else 150
    root = argv[2] if len(argv) > 2 else 'crates'
    over = [(n, path, line, name) for path in rust_files(root) for n, line, name in long_functions(path, limit)]
    for n, path, line, name in over:
        print(f'{n:5d} {path}:{line} {name}')
    if over:
        print(f'{len(over)} function(s) outside tests over {limit} lines: split them into named steps', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
