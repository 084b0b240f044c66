"""The ``fgssl`` command line (also ``python -m fgssl``).

::

    fgssl data info NAME [--root R] [--profile P] [--json]
    fgssl data prepare NAME [--root R] [--profile P] [--json]
    fgssl demo [--profile P] [--data NAME] [--root R] [--out DIR]

Every error is one line on stderr that says what to do, with exit status 2 for a wrong
command line and 1 for anything else; ``--json`` prints one JSON object on stdout's last line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from fgssl.config import PROFILE_NAMES, runs_root
from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.data.download import ChecksumError, UnsafeArchiveError
from fgssl.data.folders import DataFormatError

USER_ERRORS = (ValueError, DataFormatError, catalog.DataMissingError, ChecksumError,
               UnsafeArchiveError, ConnectionError, FileNotFoundError)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are a single line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _dataset_name(name: str) -> str:
    try:
        return catalog.spec(name).name
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_common(parser: argparse.ArgumentParser, json_flag: bool = True) -> None:
    parser.add_argument("--root", help="data root (default: $FGSSL_DATA or data/); for "
                                       "'folder' and 'cub_format', the dataset's own folder")
    parser.add_argument("--profile", choices=PROFILE_NAMES,
                        help="ci, cpu or gpu (default: $FGSSL_PROFILE, else by hardware)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fgssl", description="Self-supervised learning for fine-grained "
                                               "image classification.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    data = commands.add_parser("data", help="dataset facts and preparation")
    data_commands = data.add_subparsers(dest="action", required=True, parser_class=_Parser)
    for action, text in (("info", "classes, split sizes and where the files are"),
                         ("prepare", "download + verify + extract, or render SynthBirds")):
        sub = data_commands.add_parser(action, help=text)
        sub.add_argument("name", type=_dataset_name,
                         help=f"one of: {', '.join(catalog.names())}")
        _add_common(sub)

    demo = commands.add_parser("demo", help="the main job on the embedded SynthBirds default")
    demo.add_argument("--data", type=_dataset_name, default="synthbirds")
    demo.add_argument("--out", type=Path, help="output folder (default: runs/<profile>/demo)")
    _add_common(demo, json_flag=False)
    return parser


def _print_info(result: dict) -> None:
    print(f"{result['name']}: {result['title']}")
    print(f"  classes:  {result['num_classes'] if result['num_classes'] is not None else '-'}")
    prepared = "" if result.get("prepared") else "  (official counts; not prepared yet)"
    splits = ", ".join(f"{s} {n:,}" for s, n in result["splits"].items())
    print(f"  splits:   {splits or '-'}{prepared}")
    print(f"  location: {result['location']}")
    print(f"  source:   {result['source']}  (licence: {result['licence']})")
    print(f"  notes:    {result['notes']}")
    if "how_to_get" in result:
        print(f"  to get it: {result['how_to_get']}")


def _data(args: argparse.Namespace) -> None:
    if args.action == "info":
        result = catalog.info(args.name, args.root, args.profile)
    else:
        result = catalog.prepare(args.name, args.root, args.profile)
    if args.json:
        print(json.dumps(result))
    else:
        _print_info(result)


def _demo(args: argparse.Namespace) -> None:
    from fgssl.viz.images import synthbirds_siblings

    prof = get_profile(args.profile)
    out = args.out or runs_root() / prof.name / "demo"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = catalog.prepare(args.data, args.root, prof.name)
    _print_info(result)
    if args.data == "synthbirds":
        figure = synthbirds_siblings(size=max(64, prof.image_size), annotate=True)
        figure.savefig(out / "synthbirds_siblings.png", dpi=100)
        print(f"  gallery:  {out / 'synthbirds_siblings.png'} (sibling species side by side)")
    (out / "dataset.json").write_text(json.dumps(result, indent=1))
    print(f"demo: data ready in {time.perf_counter() - start:.1f} s; the method comparison "
          f"is not built yet (see README, 'Status')")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    warnings.formatwarning = lambda message, *_, **__: f"fgssl: warning: {message}\n"
    try:
        if args.command == "data":
            _data(args)
        else:
            _demo(args)
    except USER_ERRORS as error:
        print(f"fgssl: error: {error}", file=sys.stderr)
        return 1
    return 0
