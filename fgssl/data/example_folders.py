"""SynthBirds written out as a folder of "one's own" images, in the layouts users have.

A practitioner's data is a folder of image files, not a renderer. To try the kit's folder
path (notebook 08, ``benchmarks/own_folder.py``) without one's own photos,
:func:`write_example_folder` renders SynthBirds at a chosen size and saves PNG files:

- labelled images in class folders, ``root/<species>/<index>.png``;
- optionally unlabelled ones beside them, ``root/unlabelled/<index>.png`` (the layout
  :func:`fgssl.data.folders.read_image_folder` reads as labelled + unlabelled).

Example::

    >>> write_example_folder("runs/example", species=6, per_species=40, unlabelled=200,
    ...                      size=96)                           # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from fgssl.data.synthbirds import NUM_CLASSES, SPECIES_NAMES, SynthBirds

CHUNK = 256  # images rendered at a time


def write_example_folder(root: str | os.PathLike[str], species: int = NUM_CLASSES,
                         per_species: int = 40, unlabelled: int = 0, size: int = 96,
                         seed: int = 1) -> Path:
    """Write a folder of labelled images (and optionally unlabelled ones) in the layout the kit
    reads a user's images in, drawn from SynthBirds. Refuses a ``root`` that already holds
    files: nothing is overwritten.

    Args:
        root: the folder to write.
        species: the first that many SynthBirds species (sibling pairs stay together when it
            is even).
        per_species: labelled images of each.
        unlabelled: images of the same species without labels.
        size: the images' side in pixels.
        seed: the renderer's seed.

    Returns:
        ``root``."""
    root = Path(root)
    if not 1 <= species <= NUM_CLASSES:
        raise ValueError(f"species must be in 1..{NUM_CLASSES}, got {species}")
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} already holds files: choose an empty or new folder")
    birds = SynthBirds(seed)
    wanted = {"train": species * per_species, "unlabelled": unlabelled}
    for split, count in wanted.items():
        index, written = 0, 0
        while written < count:  # the labelled split cycles through the 24 species
            drawn = birds.render(split, range(index, index + CHUNK), size)
            for offset, (image, label) in enumerate(zip(drawn.images, drawn.labels,
                                                        strict=True)):
                if label >= species or written == count:
                    continue
                folder = root / ("unlabelled" if split == "unlabelled" else SPECIES_NAMES[label])
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(folder / f"{index + offset:05d}.png")
                written += 1
            index += CHUNK
    return root
