"""How fast are SimCLR views made: image by image (torchvision) or for the whole batch?

For each view variant, images/s (two views per image) of
:class:`fgssl.transforms.SimCLRViews` applied image by image and of
:class:`fgssl.gpu_augment.BatchSimCLRViews` on the same uint8 batch, and their ratio, measured
in the same run on this machine's CPU (or ``--device cuda``).

Usage::

    python benchmarks/augment_speed.py [--size 32] [--batch 256] [--repeats 5] [--device cpu]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from fgssl.data.synthbirds import SynthBirds
from fgssl.gpu_augment import BatchSimCLRViews
from fgssl.methods.base import per_sample
from fgssl.transforms import VARIANTS, SimCLRViews


def images_per_second(make_views: object, images: torch.Tensor, repeats: int) -> float:
    make_views(images)  # warm-up
    if images.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        make_views(images)
    if images.is_cuda:
        torch.cuda.synchronize()
    return repeats * len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    rendered = SynthBirds(seed=0).render("unlabelled", range(args.batch), args.size).images
    images = torch.from_numpy(rendered).permute(0, 3, 1, 2).contiguous().to(args.device)
    result = {"size": args.size, "batch": args.batch, "device": args.device,
              "threads": torch.get_num_threads(), "variants": {}}
    for variant in VARIANTS:
        per_image_views = SimCLRViews(args.size, variant=variant)
        batch_views = BatchSimCLRViews(args.size, variant=variant).to(args.device)
        per_image = images_per_second(lambda x, v=per_image_views: per_sample(v, x), images,
                                      max(1, args.repeats // 5))
        batched = images_per_second(batch_views, images, args.repeats)
        result["variants"][variant] = {"per_image_ips": round(per_image),
                                       "batched_ips": round(batched),
                                       "ratio": round(batched / per_image, 1)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
