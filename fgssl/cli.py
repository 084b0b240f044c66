"""The ``fgssl`` command line (also ``python -m fgssl``).

::

    fgssl data info NAME [--root R] [--profile P] [--json]
    fgssl data prepare NAME [--root R] [--profile P] [--json]
    fgssl pretrain METHOD --data NAME [--root R] [--profile P] [--epochs N] [--out DIR]
                   [--resume] [--variant V] [--permutations K] [--grid N] [--scale S]
                   [--content C] [--labels F] [--seed S] [--lr LR] [--batch N] [--sync-bn]
                   [--compile]
    fgssl evaluate CKPT --data NAME [--root R] [--profile P]
                   [--protocol linear|knn|finetune] [--features d|g] [--labels F] [--seed S]
                   [--json]
    fgssl demo [--profile P] [--data NAME] [--root R] [--out DIR] [--methods M ...]
               [--seeds N] [--workers N]
    fgssl bench [--profile P] [--backbone B] [--size S] [--batch N] [--workers W]
                [--steps N] [--path cpu-loader|gpu] [--compile] [--json]

Every error is one line on stderr that says what to do, with exit status 2 for a wrong
command line and 1 for anything else; ``--json`` prints one JSON object on stdout's last line.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from fgssl.bench import PATHS, bench
from fgssl.config import PROFILE_NAMES, torchrun_launch
from fgssl.config import profile as get_profile
from fgssl.data import catalog
from fgssl.data.download import ChecksumError, UnsafeArchiveError
from fgssl.data.folders import DataFormatError
from fgssl.demo import run_demo
from fgssl.evaluate.entries import ENTRIES, OPT_IN
from fgssl.evaluate.protocol import PROTOCOLS, evaluate_backbone
from fgssl.methods.registry import backbone_for, default_out, method_names, pretrain
from fgssl.methods.srgan_losses import CONTENT_LOSSES
from fgssl.models.backbones import BACKBONES
from fgssl.models.srgan_nets import SCALES
from fgssl.transforms import VARIANTS

METHOD_OPTIONS = {"simclr": ("variant",), "jigsaw": ("permutations", "grid"),
                  "srgan": ("scale", "content")}  # options only one method takes
USER_ERRORS = (ValueError, DataFormatError, catalog.DataMissingError, ChecksumError,
               UnsafeArchiveError, ConnectionError, FileNotFoundError, FloatingPointError,
               MemoryError)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are a single line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _dataset_name(name: str) -> str:
    try:
        return catalog.spec(name).name
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction in (0, 1], e.g. 0.1")
    return value


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


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

    pretrain_parser = commands.add_parser(
        "pretrain", help="train a method; writes checkpoint.pt and history.json")
    pretrain_parser.add_argument("method", choices=method_names())
    pretrain_parser.add_argument("--data", type=_dataset_name, required=True)
    pretrain_parser.add_argument("--epochs", type=_positive, help="default: the profile's")
    pretrain_parser.add_argument("--out", type=Path,
                          help="default: runs/<profile>/<data>/<method>[-variant]-seed<seed>")
    pretrain_parser.add_argument("--resume", action="store_true",
                          help="continue from the checkpoint in --out")
    pretrain_parser.add_argument("--variant", choices=VARIANTS,
                          help="SimCLR's view variant (default standard)")
    pretrain_parser.add_argument("--permutations", type=_positive,
                          help="Jigsaw: the size of the permutation set (default 100)")
    pretrain_parser.add_argument("--grid", type=int, choices=(2, 3, 4),
                          help="Jigsaw: tiles per side (default 3)")
    pretrain_parser.add_argument("--scale", type=int, choices=SCALES,
                          help="SRGAN: the super-resolution factor (default 4)")
    pretrain_parser.add_argument("--content", choices=CONTENT_LOSSES,
                          help="SRGAN: the content loss (default auto: VGG19 when its "
                               "ImageNet weights are cached, else feature matching)")
    pretrain_parser.add_argument("--labels", type=_fraction, default=1.0,
                          help="supervised: the fraction of train labels to use (repeated "
                               "so that an epoch has as many steps as at 100%%)")
    pretrain_parser.add_argument("--seed", type=int, default=0)
    pretrain_parser.add_argument("--lr", type=float, help="learning rate for a batch of 256")
    pretrain_parser.add_argument("--batch", type=_positive,
                          help="images per step, over all processes (default: the profile's)")
    pretrain_parser.add_argument("--compile", action="store_true",
                          help="torch.compile the backbone (the first epoch pays for it)")
    pretrain_parser.add_argument("--sync-bn", action="store_true",
                          help="under torchrun: batch-norm statistics over every process's "
                               "share of the batch")
    _add_common(pretrain_parser, json_flag=False)

    evaluate_parser = commands.add_parser(
        "evaluate", help="linear probe or kNN on frozen features, or fine-tuning")
    evaluate_parser.add_argument("checkpoint", help="a checkpoint file, its folder, or 'random'")
    evaluate_parser.add_argument("--data", type=_dataset_name, required=True)
    evaluate_parser.add_argument("--protocol", choices=PROTOCOLS, default="linear")
    evaluate_parser.add_argument("--features", choices=("d", "g"),
                          help="SRGAN: the discriminator's (srgan-d) or the generator's "
                               "(srgan-g) features (default: the checkpoint's, d); with "
                               "'random', that network untrained")
    evaluate_parser.add_argument("--labels", type=_fraction, default=1.0,
                          help="fraction of the train labels the probe may use")
    evaluate_parser.add_argument("--seed", type=int, default=0)
    _add_common(evaluate_parser)

    demo = commands.add_parser(
        "demo", help="the main job: the whole study (every method, every baseline)")
    demo.add_argument("--data", type=_dataset_name, default="synthbirds")
    demo.add_argument("--out", type=Path,
                      help="results folder (default: runs/<profile>/<data>/demo)")
    demo.add_argument("--methods", nargs="+", metavar="M",
                      help=f"a subset of: {', '.join(ENTRIES)} (default: all but "
                           f"{' and '.join(OPT_IN)}, PMG's slow end-to-end baselines)")
    demo.add_argument("--seeds", type=_positive, default=2,
                      help="evaluation seeds: label subsets and probe initialisations "
                           "(default 2)")
    demo.add_argument("--workers", type=_positive,
                      help="models trained side by side, in processes sharing the CPU "
                           "(default: 2 on a CPU with 2+ cores, 1 with a GPU)")
    _add_common(demo, json_flag=False)

    bench_parser = commands.add_parser(
        "bench", help="SimCLR images/s: data pipeline, model step and end to end, for the "
                      "DataLoader path and the GPU path")
    bench_parser.add_argument("--backbone", choices=BACKBONES,
                              help="default: the profile's")
    bench_parser.add_argument("--size", type=_positive,
                              help="image size (default: the profile's)")
    bench_parser.add_argument("--batch", type=_positive, help="default: the profile's")
    bench_parser.add_argument("--workers", type=int,
                              help="DataLoader workers of the cpu-loader path (default: the "
                                   "profile's)")
    bench_parser.add_argument("--steps", type=_positive, default=20,
                              help="timed steps per measurement (default 20, after 3 warm-up)")
    bench_parser.add_argument("--path", choices=PATHS, help="one path only (default: both)")
    bench_parser.add_argument("--compile", action="store_true", help="torch.compile the backbone")
    bench_parser.add_argument("--profile", choices=PROFILE_NAMES,
                              help="ci, cpu or gpu (default: $FGSSL_PROFILE, else by hardware)")
    bench_parser.add_argument("--json", action="store_true", help="print one JSON object last")
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


def _pretrain(args: argparse.Namespace) -> None:
    prof = get_profile(args.profile)
    options = {}
    for method, names in METHOD_OPTIONS.items():
        given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
        if given and method != args.method:
            flags = " and ".join(f"--{name}" for name in given)
            raise ValueError(f"{flags} {'is' if len(given) == 1 else 'are'} {method}'s "
                             f"option{'s' * (len(given) > 1)}, not {args.method}'s")
        options |= given
    out = args.out or default_out(args.method, prof, args.data, args.labels, args.seed,
                                  args.epochs, **options)
    if (out / "checkpoint.pt").exists() and not args.resume:
        raise ValueError(f"{out} already holds a checkpoint: add --resume to continue it, "
                         "or choose another --out")
    _, history = pretrain(args.method, prof, args.data, args.root, args.labels, args.seed,
                          args.epochs, out, resume=args.resume, lr=args.lr,
                          batch_size=args.batch, sync_batchnorm=args.sync_bn,
                          compile=args.compile, **options)
    if (torchrun_launch() or (0,))[0] != 0:
        return  # under torchrun, rank 0 reports
    last = history[-1]
    quality = f", SR PSNR on val {last['val_psnr']:.2f} dB (bicubic " \
        f"{last['val_psnr_bicubic']:.2f})" if "val_psnr" in last else ""
    print(f"{args.method}: {last['epoch']} epochs, loss {last['loss']:.3f}, kNN on val "
          f"{last['knn_top1']:.1%}{quality}; checkpoint in {out}")


def _evaluate(args: argparse.Namespace) -> None:
    prof = get_profile(args.profile)
    name, backbone = backbone_for(args.checkpoint, prof, args.seed, args.features)
    result = {"method": name, "data": args.data,
              **evaluate_backbone(backbone, args.data, prof, args.protocol, args.labels,
                                  args.seed, args.root)}
    if args.json:
        print(json.dumps(result))
    else:
        how = "fine-tuned" if args.protocol == "finetune" else f"{args.protocol} probe"
        print(f"{name} on {args.data}, {how} with {result['n_train']} labels: "
              f"top-1 {result['top1']:.1%}, mean per-class {result['mean_per_class_acc']:.1%}, "
              f"macro-F1 {result['macro_f1']:.3f} (majority floor {result['majority_floor']:.1%},"
              f" {result['n_test']} test images)")


def _demo(args: argparse.Namespace) -> None:
    run_demo(args.profile, args.data, args.root, args.out, args.methods, args.seeds,
             workers=args.workers)


def _bench(args: argparse.Namespace) -> None:
    if args.workers is not None and args.workers < 0:
        raise ValueError(f"--workers must be 0 or more, got {args.workers}")
    result = bench(args.profile, (args.path,) if args.path else PATHS,
                   backbone=args.backbone, size=args.size, batch=args.batch,
                   workers=args.workers, steps=args.steps, compile=args.compile)
    print(f"SimCLR step of {result['backbone']} at {result['size']} px, batch "
          f"{result['batch']}, on {result['device_name']} ({result['threads']} threads); "
          f"DataLoader workers: {result['workers']}")
    print(f"{'path':<11}{'data':>11}{'model':>11}{'end to end':>12}{'ratio':>7}"
          f"{'peak memory':>13}   (images/s)")
    for row in result["paths"].values():
        print(f"{row['path']:<11}{row['data_ips']:>11,.0f}{row['model_ips']:>11,.0f}"
              f"{row['end_to_end_ips']:>12,.0f}{row['ratio']:>7.2f}"
              f"{row['peak_mem_bytes'] / 2**30:>10.2f} GiB")
    if "speedup" in result:
        print(f"end to end, the GPU path is {result['speedup']:.2f}x the DataLoader path")
    if args.json:
        print(json.dumps(result))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    warnings.formatwarning = lambda message, *_, **__: f"fgssl: warning: {message}\n"
    try:
        {"data": _data, "pretrain": _pretrain, "evaluate": _evaluate, "demo": _demo,
         "bench": _bench}[args.command](args)
    except USER_ERRORS as error:
        print(f"fgssl: error: {error}", file=sys.stderr)
        return 1
    return 0
