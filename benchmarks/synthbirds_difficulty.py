"""How hard is SynthBirds for shortcuts, and how fast does it render?

Fits multinomial logistic regression on (a) raw pixels and (b) colour histograms, trained on the
full labelled train split of the chosen profile, regularisation chosen on val, scored once on
test. A fine-grained dataset must defeat both (target: <= 30% test accuracy each). Then times
rendering at 64 px on one core (target: >= 1,000 images/s).

Usage::

    python benchmarks/synthbirds_difficulty.py [--profile cpu] [--seed 0]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fgssl.config import profile
from fgssl.data.synthbirds import NUM_CLASSES, SynthBirds


def colour_histograms(images: np.ndarray, bins: int = 8) -> np.ndarray:
    """Joint RGB histograms, (B, bins**3), each summing to 1."""
    quantised = (images.astype(np.int64) * bins) // 256
    codes = (quantised[..., 0] * bins + quantised[..., 1]) * bins + quantised[..., 2]
    flat = codes.reshape(len(images), -1)
    hist = np.stack([np.bincount(row, minlength=bins**3) for row in flat]).astype(np.float32)
    return hist / flat.shape[1]


def probe_accuracy(features: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> dict:
    """Logistic regression with C chosen on val; test accuracy of the chosen C."""
    scaler = StandardScaler().fit(features["train"])
    x = {split: scaler.transform(f) for split, f in features.items()}
    best = None
    for c in (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0):
        model = LogisticRegression(C=c, max_iter=300).fit(x["train"], labels["train"])
        val = model.score(x["val"], labels["val"])
        if best is None or val > best[0]:
            best = (val, c, model)
    val, c, model = best
    return {"C": c, "val": round(val, 4), "test": round(model.score(x["test"], labels["test"]), 4)}


def render_speed(size: int = 64, n: int = 4096, batch: int = 64) -> float:
    """Images per second rendering ``n`` images at ``size`` px on one core."""
    birds = SynthBirds(seed=1)
    with threadpool_limits(1):
        birds.render("unlabelled", range(batch), size)  # warm up
        start = time.perf_counter()
        for first in range(0, n, batch):
            birds.render("unlabelled", range(first, first + batch), size)
        return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    prof = profile(args.profile)
    birds = SynthBirds(seed=args.seed)
    per_class = {"train": prof.train_per_class, "val": prof.val_per_class,
                 "test": prof.test_per_class}
    images, labels = {}, {}
    for split, k in per_class.items():
        batch = birds.render(split, range(k * NUM_CLASSES), prof.image_size)
        images[split], labels[split] = batch.images, batch.labels
    pixels = {s: im.reshape(len(im), -1).astype(np.float32) / 255 for s, im in images.items()}
    histograms = {s: colour_histograms(im) for s, im in images.items()}
    result = {
        "profile": prof.name,
        "image_size": prof.image_size,
        "num_classes": NUM_CLASSES,
        "chance": round(1 / NUM_CLASSES, 4),
        "n_train": len(labels["train"]),
        "n_test": len(labels["test"]),
        "pixels_logreg": probe_accuracy(pixels, labels),
        "colour_histogram_logreg": probe_accuracy(histograms, labels),
        "render_images_per_s_64px_one_core": round(render_speed(), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
