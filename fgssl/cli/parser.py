"""The ``fgssl`` parser: every command and flag, from the kit's facts
(:func:`fgssl.cli.facts.load`: methods, their options and study entries, datasets), each
value checked by an argument type of :mod:`fgssl.cli.argtypes`. Imports no torch, so that help
and mistakes answer at once.

Example::

    >>> build_parser().parse_args(["data", "info", "synthbirds"]).name
    'synthbirds'
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from fgssl.cli import argtypes, facts
from fgssl.config import PROFILE_NAMES
from fgssl.methods.about import Option

Facts = dict[str, Any]
_DATA_HELP = ("a dataset's name ('fgssl data info NAME' describes it), or 'folder' or "
              "'cub_format' with --root for your own images")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are a single line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _add_common(parser: argparse.ArgumentParser, json_flag: bool = True,
                size_flag: bool = True) -> None:
    parser.add_argument("--root", type=argtypes.folder,
                        help="data root (default: $FGSSL_DATA or data/); for 'folder' and "
                             "'cub_format', the dataset's own folder")
    parser.add_argument("--profile", choices=PROFILE_NAMES,
                        help="ci, cpu, gpu (the notebooks' on a GPU) or full (224 px, the full "
                             "schedules) (default: $FGSSL_PROFILE, else gpu with CUDA, else cpu)")
    if size_flag:
        parser.add_argument("--size", type=argtypes.image_size,
                            help="read the images at this size, in pixels a side (default: the "
                                 "profile's: 32 on ci and cpu, 96 on gpu, 224 on full); the "
                                 "small CNN's cost grows with the pixels (64: about 4x 32)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print one JSON object")


def _option_flags(known: Facts) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Every method option's flag, with the (method, option) pairs that take it."""
    flags: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for method in known["methods"]:
        for option in method["options"]:
            flags.setdefault(option["flag"], []).append((method["name"], option))
    return flags


def _accepted(option: dict[str, Any]) -> str:
    if option["choices"]:
        return "one of " + ", ".join(map(str, option["choices"]))
    bounds = [f">= {option['minimum']:g}" if option["minimum"] is not None else "",
              f"<= {option['maximum']:g}" if option["maximum"] is not None else ""]
    return " and ".join(b for b in bounds if b) or option["type"]


def _add_pretrain(commands: Any, known: Facts, datasets: Callable[[str], str]) -> None:
    methods = [m["name"] for m in known["methods"]]
    sub = commands.add_parser("pretrain", help="train a method; writes checkpoint.pt and "
                                               "history.json")
    sub.add_argument("method", type=argtypes.one_of("method", methods), metavar="METHOD",
                     help="; ".join(f"{m['name']}: {m['summary']}" for m in known["methods"]))
    sub.add_argument("--data", type=datasets, required=True, help=_DATA_HELP)
    sub.add_argument("--epochs", type=argtypes.positive,
                     help="default: the method's for the profile")
    sub.add_argument("--out", type=argtypes.output_folder,
                     help="default: runs/<profile>/<dataset key>/<method>[-option=value...]"
                          "-seed<seed>, the key naming a folder of images by its path")
    sub.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    sub.add_argument("--labels", type=argtypes.fraction, default=1.0,
                     help="a method that learns from labels: the fraction of train labels to "
                          "use (repeated so that an epoch has as many steps as at 100%%)")
    sub.add_argument("--seed", type=argtypes.whole_or_zero, default=0, help="default 0")
    sub.add_argument("--lr", type=argtypes.positive_number,
                     help="learning rate for a batch of 256 (default: the method's)")
    sub.add_argument("--batch", type=argtypes.positive,
                     help="images per step, over all processes (default: the method's)")
    sub.add_argument("--compile", action="store_true",
                     help="torch.compile the backbone (the first epoch pays for it)")
    sub.add_argument("--sync-bn", action="store_true",
                     help="under torchrun: batch-norm statistics over every process's share "
                          "of the batch")
    _add_common(sub, json_flag=False)
    own = sub.add_argument_group("the methods' own options")
    for flag, takers in _option_flags(known).items():
        first = takers[0][1]
        help_text = "; ".join(f"{method}: {option['help']} ({_accepted(option)})"
                              for method, option in takers)
        if first["type"] == "bool":
            own.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                             help=help_text)
        else:
            own.add_argument(flag, type=argtypes.typed(first["type"]), default=None, help=help_text)


def build_parser(known: Facts | None = None) -> argparse.ArgumentParser:
    """The parser of every command, from the kit's facts (default:
    :func:`fgssl.cli.facts.load`)."""
    known = known or facts.load()
    datasets = argtypes.dataset(known["datasets"])
    parser = _Parser(prog="fgssl", description="Self-supervised learning for fine-grained "
                                               "image classification.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_add_data, _add_pretrain, _add_evaluate, _add_demo):
        add(commands, known, datasets)
    _add_bench(commands, known)
    return parser


def _add_data(commands: Any, known: Facts, datasets: Callable[[str], str]) -> None:
    data = commands.add_parser("data", help="dataset facts and preparation")
    data_commands = data.add_subparsers(dest="action", required=True, parser_class=_Parser)
    for action, text in (("info", "classes, split sizes and where the files are"),
                         ("prepare", "download + verify + extract, or render SynthBirds")):
        sub = data_commands.add_parser(action, help=text)
        sub.add_argument("name", type=datasets, help=f"one of: {', '.join(known['datasets'])}")
        _add_common(sub, size_flag=False)


def _add_evaluate(commands: Any, known: Facts, datasets: Callable[[str], str]) -> None:
    features = sorted({f for m in known["methods"] for f in m["feature_choices"]})
    evaluate = commands.add_parser(
        "evaluate", help="linear probe or kNN on frozen features, or fine-tuning")
    evaluate.add_argument("checkpoint", help="a checkpoint file, its folder, or 'random'")
    evaluate.add_argument("--data", type=datasets, required=True, help=_DATA_HELP)
    evaluate.add_argument("--protocol", choices=known["protocols"], default="linear")
    evaluate.add_argument("--features", choices=features,
                          help="another of the method's networks (SRGAN: its discriminator's, "
                               "d, or its generator's, g; default: the checkpoint's backbone); "
                               "with 'random', that network untrained")
    evaluate.add_argument("--labels", type=argtypes.fraction, default=1.0,
                          help="fraction of the train labels the probe may use")
    evaluate.add_argument("--seed", type=argtypes.whole_or_zero, default=0, help="default 0")
    _add_common(evaluate)


def _add_demo(commands: Any, known: Facts, datasets: Callable[[str], str]) -> None:
    entries = [e["name"] for m in known["methods"] for e in m["entries"]] + known["baselines"]
    opt_in = [e["name"] for m in known["methods"] for e in m["entries"] if e["opt_in"]]
    demo = commands.add_parser(
        "demo", help="the main job: the whole study (every method, every baseline)")
    demo.add_argument("--data", type=datasets, default="synthbirds",
                      help=f"{_DATA_HELP} (default: synthbirds)")
    demo.add_argument("--out", type=argtypes.output_folder,
                      help="results folder (default: runs/<profile>/<dataset key>/demo)")
    demo.add_argument("--methods", nargs="+", metavar="M",
                      type=argtypes.one_of("--methods", [*entries, "default"]),
                      help=f"a subset of: {', '.join(entries)} (default: all but "
                           f"{', '.join(opt_in) or 'none'}, left out to keep a CPU run "
                           "within about ten minutes; 'default' names those, e.g. "
                           "--methods default vicreg)")
    demo.add_argument("--seeds", type=argtypes.positive, default=2,
                      help="evaluation seeds: label subsets and probe initialisations "
                           "(default 2)")
    demo.add_argument("--workers", type=argtypes.positive,
                      help="models trained side by side, in processes sharing the CPU "
                           "(default: 2 on a CPU with 2+ cores, 1 with a GPU)")
    _add_common(demo, json_flag=False)


def _add_bench(commands: Any, known: Facts) -> None:
    bench = commands.add_parser(
        "bench", help="SimCLR images/s: data pipeline, model step and end to end, for the "
                      "DataLoader path and the GPU path")
    bench.add_argument("--backbone", choices=known["backbones"], help="default: the profile's")
    bench.add_argument("--size", type=argtypes.positive, help="image size (default: the profile's)")
    bench.add_argument("--batch", type=argtypes.positive, help="default: the profile's")
    bench.add_argument("--workers", type=argtypes.whole_or_zero,
                       help="DataLoader workers of the cpu-loader path (default: the profile's)")
    bench.add_argument("--steps", type=argtypes.positive, default=20,
                       help="timed steps per measurement (default 20, after 3 warm-up)")
    bench.add_argument("--path", choices=known["bench_paths"], help="one path only (default: both)")
    bench.add_argument("--compile", action="store_true", help="torch.compile the backbone")
    bench.add_argument("--profile", choices=PROFILE_NAMES,
                       help="ci, cpu, gpu or full (default: $FGSSL_PROFILE, else gpu with CUDA, "
                            "else cpu)")
    bench.add_argument("--json", action="store_true", help="print one JSON object last")


def method_options(args: argparse.Namespace, known: Facts) -> dict[str, Any]:
    """The method options given to ``fgssl pretrain``, each checked against what the chosen
    method accepts; a flag of another method's option is an error naming whose it is."""
    given, foreign = {}, {}
    for flag, takers in _option_flags(known).items():
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is None:
            continue
        mine = next((option for method, option in takers if method == args.method), None)
        if mine is None:
            foreign[flag] = takers[0][0]
            continue
        given[mine["name"]] = Option(mine["name"], mine["help"], tuple(mine["choices"]),
                                     mine["minimum"], mine["maximum"]).check(value, flag)
    if foreign:
        whose = " and ".join(f"{owner}'s" for owner in sorted(set(foreign.values())))
        raise ValueError(f"{' and '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} "
                         f"{whose} option{'s' * (len(foreign) > 1)}, not {args.method}'s")
    return given
