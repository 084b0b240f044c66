"""Checks PyTorch's CPU bfloat16 convolution gradient where a strided layer sees a 1-pixel map.

A 3x3 convolution (96 -> 192 channels, padding 1) runs under CPU bfloat16 autocast on random
(576, 96, side, side) inputs, as the small CNN's last layer does on a batch of 64 Jigsaw
puzzles of nine tiles; its weight gradient for an all-ones output gradient is compared with
the float32 reference (``torch.nn.grad.conv2d_weight``). bfloat16 rounding alone keeps the
largest difference below about 1; with torch 2.14.1 a stride-2 layer on a 1x1 map gives
differences from hundreds to infinity (uninitialised memory, it seems), which is why Jigsaw
refuses tiles that would reach a strided layer at one pixel. Prints one JSON line per
(side, stride): the largest absolute difference over ``--draws`` random draws.

Usage::

    python benchmarks/bf16_strided_conv.py [--draws 3]
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args()

    import torch
    from torch import nn

    torch.manual_seed(0)
    for side in (1, 2, 3):
        for stride in (1, 2):
            errors = []
            for _ in range(args.draws):
                conv = nn.Conv2d(96, 192, 3, stride=stride, padding=1, bias=False)
                images = torch.randn(576, 96, side, side)
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    output = conv(images)
                output.float().sum().backward()
                reference = torch.nn.grad.conv2d_weight(
                    images, conv.weight.shape, torch.ones(output.shape), stride=stride,
                    padding=1)
                errors.append(float((conv.weight.grad - reference).abs().max()))
            print(json.dumps({"torch": torch.__version__, "side": side, "stride": stride,
                              "max_abs_difference": errors}), flush=True)


if __name__ == "__main__":
    main()
