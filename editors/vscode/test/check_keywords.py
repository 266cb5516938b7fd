#!/usr/bin/env python3
"""Every keyword token of grammar/DLSpec.g4 (`DATASET : 'dataset' ;`) is highlighted by the extension's
TextMate grammar (it appears as a whole word in one of the grammar's `match` patterns) and by the Vim syntax
file (in one of its `syn keyword` lines).

    check_keywords.py DLSpec.g4 dls.tmLanguage.json [dlspec.vim]
"""
import json
import re
import sys


def patterns(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("match", "begin") and isinstance(v, str):
                yield v
            else:
                yield from patterns(v)
    elif isinstance(node, list):
        for v in node:
            yield from patterns(v)


def main(g4, tm, vim=None):
    with open(g4) as f:
        keywords = re.findall(r"^[A-Z]+\s*:\s*'([a-z]+)'\s*;", f.read(), re.M)
    if len(keywords) < 10:
        print(f"only {len(keywords)} keywords found in {g4}")
        return 1
    with open(tm) as f:
        pats = [p.replace("\\b", " ") for p in patterns(json.load(f))]  # \b is a word boundary, not a letter
    missing = [k for k in keywords if not any(re.search(r"(?<![A-Za-z_])" + k + r"(?![A-Za-z_0-9])", p) for p in pats)]
    for k in missing:
        print(f"keyword `{k}` of {g4} is not highlighted by {tm}")
    if vim:
        with open(vim) as f:
            words = {w for line in f if line.startswith("syn keyword") for w in line.split()[3:]}
        for k in keywords:
            if k not in words:
                print(f"keyword `{k}` of {g4} is not highlighted by {vim}")
                missing.append(k)
    print(f"{len(keywords)} keywords, {len(missing)} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
