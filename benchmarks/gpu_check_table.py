"""The table of ``benchmarks/gpu_check.sh``: its JSON files read back, with issue 8's
acceptance checks (end-to-end / model-alone on the GPU path >= 0.9 for ResNet-50 and >= 0.8
for ResNet-18; the GPU path >= 3x the DataLoader path end to end for ResNet-18; the full
profile's peak memory <= 14 GiB, its 20,000-image cache counted in).

Usage::

    python benchmarks/gpu_check_table.py DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fgssl.config import profile
from fgssl.methods.simclr import SimCLR

GIB = 2**30


def main() -> None:
    folder = Path(sys.argv[1])
    checks: list[tuple[str, bool]] = []
    print(f"{'backbone':<10}{'path':<12}{'data':>10}{'model':>10}{'end to end':>12}"
          f"{'ratio':>7}{'peak GiB':>10}")
    benches = {}
    for backbone, needed in (("resnet18", 0.8), ("resnet50", 0.9)):
        result = json.loads((folder / f"bench_{backbone}.json").read_text())
        benches[backbone] = result
        for row in result["paths"].values():
            print(f"{backbone:<10}{row['path']:<12}{row['data_ips']:>10,.0f}"
                  f"{row['model_ips']:>10,.0f}{row['end_to_end_ips']:>12,.0f}"
                  f"{row['ratio']:>7.2f}{row['peak_mem_bytes'] / GIB:>10.2f}")
        checks.append((f"{backbone} GPU path end to end / model >= {needed}",
                       result["paths"]["gpu"]["ratio"] >= needed))
    resnet18 = benches["resnet18"]
    checks.append((f"resnet18 GPU path / DataLoader path end to end >= 3 "
                   f"({resnet18.get('speedup', 0):.2f}x)", resnet18.get("speedup", 0) >= 3))
    full = profile("full")
    cache = full.n_unlabelled * full.image_size ** 2 * 3
    peak = resnet18["paths"]["gpu"]["peak_mem_bytes"] + cache
    print(f"\nfull profile (resnet18, {full.image_size} px, batch {SimCLR.batch_size_for(full)}"
          f"): step peak {resnet18['paths']['gpu']['peak_mem_bytes'] / GIB:.2f} GiB + its "
          f"{full.n_unlabelled:,}-image cache {cache / GIB:.2f} GiB = {peak / GIB:.2f} GiB")
    checks.append(("full profile peak memory <= 14 GiB", peak <= 14 * GIB))
    run = folder / "simclr_run.json"
    if run.is_file():
        result = json.loads(run.read_text())
        print(f"SimCLR run ({result['backbone']}, {result['size']} px, batch {result['batch']},"
              f" {result['images']} images): {result['end_to_end_ips']:,.0f} images/s, epochs "
              f"{result['epoch_s']} s, peak {(result['peak_mem_bytes'] or 0) / GIB:.2f} GiB")
    print()
    if not resnet18["device"].startswith("cuda"):
        print(f"measured on {resnet18['device']}, not a GPU: the checks below are about a GPU "
              "and say nothing here")
    for name, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}")


if __name__ == "__main__":
    main()
