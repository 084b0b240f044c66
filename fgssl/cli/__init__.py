"""The ``fgssl`` command line (also ``python -m fgssl``).

::

    fgssl data info NAME [--root R] [--profile P] [--json]
    fgssl data prepare NAME [--root R] [--profile P] [--json]
    fgssl pretrain METHOD --data NAME [--root R] [--profile P] [--size S] [--epochs N] [--out DIR]
                   [--resume] [--labels F] [--seed S] [--lr LR] [--batch N] [--sync-bn]
                   [--compile] [the method's own options: --variant V, --grid N, ...]
    fgssl evaluate CKPT --data NAME [--root R] [--profile P] [--size S]
                   [--protocol linear|knn|finetune] [--features d|g] [--labels F] [--seed S]
                   [--json]
    fgssl demo [--profile P] [--data NAME] [--root R] [--size S] [--out DIR] [--methods M ...]
               [--seeds N] [--workers N]
    fgssl bench [--profile P] [--backbone B] [--size S] [--batch N] [--workers W]
                [--steps N] [--path cpu-loader|gpu] [--compile] [--json]

The parser (:mod:`fgssl.cli.parser`) is built from :func:`fgssl.cli.facts.load` — methods,
their options and study entries, datasets — and imports no torch, so that help and mistakes
answer at once; the commands (:mod:`fgssl.cli.commands`) import what they need after parsing.
Every error is one line on stderr that says what to do, with exit status 2 for a wrong command
line and 1 for anything else; ``--json`` prints one JSON object on stdout's last line.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence

from fgssl.cli import facts
from fgssl.cli.parser import build_parser, method_options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    known = facts.load()
    parser = build_parser(known)
    args = parser.parse_args(argv)
    if args.command == "pretrain":
        try:
            args.options = method_options(args, known)
        except ValueError as error:  # said as the pretrain command's own parser says it
            parser.exit(2, f"{parser.prog} pretrain: error: {error} (see '{parser.prog} "
                           "pretrain --help')\n")
    warnings.formatwarning = lambda message, *_, **__: f"fgssl: warning: {message}\n"
    from fgssl.cli import commands  # torch and the rest, now that the command line is right

    try:
        commands.run(args)
    except commands.USER_ERRORS as error:
        print(f"fgssl: error: {error}", file=sys.stderr)
        return 1
    except (PermissionError, NotADirectoryError, IsADirectoryError) as error:
        print(f"fgssl: error: {error.filename}: {error.strerror}; fgssl writes under --out, "
              "FGSSL_RUNS (default runs/) and FGSSL_DATA (default data/): point them at "
              "folders you can write to", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nfgssl: stopped (Ctrl-C){_what_is_kept(args.command)}", file=sys.stderr)
        return 130
    return 0


def _what_is_kept(command: str) -> str:
    """After Ctrl-C: what the interrupted command leaves, and how to continue."""
    return {"pretrain": "; the last finished epoch is on disk: add --resume to continue",
            "demo": "; every finished model and evaluation is kept: the same command "
                    "continues from them"}.get(command, "")
