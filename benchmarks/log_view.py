"""Log viewer benchmark: index and search a large agent log, as the viewer does.

The viewer must open a log of any size and search it without holding the screen. For
a log of ``--lines`` lines it measures, median of ``--rounds``:

* indexing every line start (`LineIndex.extend` until caught up), and the longest
  single call (what one frame of the viewer waits for);
* finding the lines that hold a word, and the lines that hold a word on every line;
* the baseline: Python's own line iteration over the same file, counting the lines
  and testing each for the word (what a plain `for line in file` viewer would do).

    .venv/bin/python benchmarks/log_view.py [--lines 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui_orch.ui.line_index import LineIndex  # noqa: E402


def write_log(path: Path, lines: int) -> None:
    with open(path, "w") as log:
        for number in range(lines):
            word = " needle" if number % 1000 == 0 else ""
            log.write(f"agent: line {number}{word}: the quick brown fox jumps over the dog\n")


def timed(work):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def measure(path: Path) -> dict[str, float]:
    index = LineIndex(path)
    calls: list[float] = []
    while True:
        took, _ = timed(index.extend)
        calls.append(took)
        if index.caught_up:
            break
    sparse, found = timed(lambda: index.find(b"needle"))
    dense, everywhere = timed(lambda: index.find(b"quick"))
    assert len(everywhere) == index.line_count and found

    def baseline() -> tuple[int, int]:
        count = hits = 0
        with open(path, "rb") as log:
            for line in log:
                count += 1
                hits += b"needle" in line.lower()
        return count, hits

    plain, (count, hits) = timed(baseline)
    assert count == index.line_count and hits == len(found)
    return {
        "index": sum(calls),
        "longest call": max(calls),
        "find sparse": sparse,
        "find dense": dense,
        "baseline": plain,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tui-orch-log-") as work:
        path = Path(work) / "agent.log"
        write_log(path, args.lines)
        rounds = [measure(path) for _ in range(args.rounds)]
        size = path.stat().st_size / 1e6
    print(f"{args.lines} lines ({size:.0f} MB), median of {args.rounds} rounds")
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    for key, value in medians.items():
        print(f"  {key:14} {value * 1000:8.0f} ms")
    base = medians["baseline"]
    print(
        f"  against the baseline (line iteration + test): index {medians['index'] / base:.2f}x, "
        f"index + sparse find {(medians['index'] + medians['find sparse']) / base:.2f}x"
    )


if __name__ == "__main__":
    main()
