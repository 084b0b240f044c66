"""How fast the command line answers help and mistakes: seconds per call, as a user waits.

Each command runs ``--repeats`` times in a fresh process (``python -m fgssl``, the console
script's own code), with the command line's facts already derived (the warm case: every call
after the first since fgssl was installed or changed); the median is the figure. The first
call, with an empty cache folder (the cold case: it derives the facts, importing torch), is
measured once per run. Prints one JSON object.

Usage::

    python benchmarks/cli_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "help": ["--help"],
    "pretrain_help": ["pretrain", "--help"],
    "demo_help": ["demo", "--help"],
    "typo": ["pretrian"],
    "missing_flag": ["pretrain", "simclr"],
    "bad_option": ["pretrain", "jigsaw", "--data", "synthbirds", "--grid", "5"],
}


def _seconds(argv: list[str], cache: str) -> float:
    environment = os.environ | {"XDG_CACHE_HOME": cache}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fgssl", *argv], env=environment,
                   capture_output=True, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        cold = _seconds(["--help"], cache)  # derives and saves the facts
        warm = {name: [_seconds(argv, cache) for _ in range(args.repeats)]
                for name, argv in COMMANDS.items()}
    result = {"repeats": args.repeats, "cold_first_call_s": round(cold, 3),
              "median_s": {name: round(statistics.median(times), 3)
                           for name, times in warm.items()},
              "max_s": {name: round(max(times), 3) for name, times in warm.items()}}
    result["all_within_1s"] = all(value <= 1.0 for value in result["median_s"].values())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
