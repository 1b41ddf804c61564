"""The top functions of a py-spy profile (`--format raw`, collapsed stacks), as % of samples.

Self: samples whose innermost frame is the function. Package, self: by the package of the
innermost frame. Package, inclusive: samples with the package anywhere on the stack (so they add
up to more than 100%), and the same for Starlette's BaseHTTPMiddleware.

    python bench/profile_top.py bench/profiles/get_order.collapsed [--top 10]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# "function (path/to/module.py:123)" as py-spy writes frames.
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _package(file: str) -> str:
    # py-spy names frames by the path below site-packages (or the stdlib), so the first part is
    # the package; frozen modules are the interpreter's own.
    return "stdlib" if file.startswith("<") else file.split("/")[0].removesuffix(".py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in args.profile.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        leaf = frames[-1]
        seen = {_package(m["file"]) for f in frames if (m := FRAME.match(f))}
        if any("starlette/middleware/base.py" in f for f in frames):
            seen.add("BaseHTTPMiddleware")
        for name in seen:
            inclusive[name] += samples
        match = FRAME.match(leaf)
        if match is None:
            own[leaf] += samples
            packages["stdlib"] += samples
            continue
        file = match["file"]
        own[f"{match['function']} ({Path(file).parent.name}/{Path(file).name})"] += samples
        packages[_package(file)] += samples
    print(f"{args.profile.name}: {total} samples")
    print("| function (self) | % of samples |\n|---|---|")
    for name, samples in own.most_common(args.top):
        print(f"| {name} | {100 * samples / total:.1f} |")
    print("\n| package (self) | % of samples |\n|---|---|")
    for name, samples in packages.most_common(args.top):
        print(f"| {name} | {100 * samples / total:.1f} |")
    print("\n| package (inclusive) | % of samples |\n|---|---|")
    for name, samples in inclusive.most_common(args.top + 6):
        print(f"| {name} | {100 * samples / total:.1f} |")


if __name__ == "__main__":
    main()
