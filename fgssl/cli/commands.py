"""The commands of the ``fgssl`` command line, run once :mod:`fgssl.cli` has parsed it.

Each takes the parsed arguments; a mistake it finds (a missing dataset, a checkpoint that
is not one, a loss that became NaN) is one of :data:`USER_ERRORS`, which the command line
prints as one line.
"""

from __future__ import annotations

import argparse
import json
import warnings

from fgssl.config import profile as get_profile
from fgssl.config import torchrun_launch
from fgssl.data import catalog
from fgssl.data.download import ChecksumError, UnsafeArchiveError
from fgssl.data.folders import DataFormatError
from fgssl.evaluate.protocol import evaluate_backbone
from fgssl.files import BusyError, DiskFullError
from fgssl.study.bench import PATHS, bench
from fgssl.study.demo import run_demo
from fgssl.study.runs import Run, backbone_for, pretrain
from fgssl.train import Hardware

USER_ERRORS = (ValueError, DataFormatError, catalog.DataMissingError, ChecksumError,
               UnsafeArchiveError, ConnectionError, FileNotFoundError, FloatingPointError,
               MemoryError, BusyError, DiskFullError)


def _print_info(result: dict) -> None:
    print(f"{result['name']}: {result['title']}")
    print(f"  classes:  {result['num_classes'] if result['num_classes'] is not None else '-'}")
    prepared = "" if result.get("prepared") else "  (official counts; not prepared yet)"
    splits = ", ".join(f"{s} {n:,}" for s, n in result["splits"].items() if s != "unlabelled")
    print(f"  labelled: {splits or '-'}{prepared}")
    if "unlabelled" in result["splits"]:
        pool, extra = result["splits"]["unlabelled"], result.get("unlabelled_only")
        print(f"  unlabelled pool (what self-supervised methods train on): {pool:,}" + (
            f" = train's {pool - extra:,} without labels + {extra:,} unlabelled-only images"
            if extra is not None else ""))
    if "runs_key" in result:
        print(f"  runs:     runs/<profile>/{result['runs_key']}/ (keyed by this folder)")
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
    run = Run.of(args.method, args.profile, args.data, args.root, args.size, args.labels,
                 args.seed, args.epochs, args.batch, args.lr,
                 **args.options)  # the options checked by the parser
    out = args.out or run.folder
    reporting = (torchrun_launch() or (0,))[0] == 0  # under torchrun, rank 0 reports
    if (out / "checkpoint.pt").exists() and not args.resume:
        raise ValueError(f"{out} already holds a checkpoint: add --resume to continue it, "
                         "or choose another --out")
    if args.resume and not (out / "checkpoint.pt").exists() and reporting:
        warnings.warn(f"--resume: no checkpoint in {out} yet, so training starts from the "
                      "first epoch", stacklevel=2)
    _, history = pretrain(run, out, resume=args.resume,
                          hardware=Hardware(compile_backbone=args.compile,
                                            sync_batchnorm=args.sync_bn))
    if not reporting:
        return
    last = history[-1]
    quality = f", SR PSNR on val {last['val_psnr']:.2f} dB (bicubic " \
        f"{last['val_psnr_bicubic']:.2f})" if "val_psnr" in last else ""
    knn = f"kNN on val {last['knn_top1']:.1%}" if "knn_top1" in last else \
        "no labelled val images to score kNN on"
    print(f"{args.method}: {last['epoch']} epochs, loss {last['loss']:.3f}, {knn}{quality}; "
          f"checkpoint in {out}")


def _evaluate(args: argparse.Namespace) -> None:
    prof = get_profile(args.profile, args.size)
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
              f" {result['n_test']} test images)" + (
                  f"; sibling species told apart {result['sibling_accuracy']:.1%}"
                  if "sibling_accuracy" in result else ""))


def _demo(args: argparse.Namespace) -> None:
    run_demo(args.profile, args.data, args.root, args.out, args.methods, args.seeds,
             workers=args.workers, size=args.size)


def _bench(args: argparse.Namespace) -> None:
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


def run(args: argparse.Namespace) -> None:
    """Run the parsed command."""
    {"data": _data, "pretrain": _pretrain, "evaluate": _evaluate, "demo": _demo,
     "bench": _bench}[args.command](args)
