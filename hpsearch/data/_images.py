"""User images (PNG, JPEG, any size; or IDX files) as model inputs shaped like a dataset's."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from hpsearch.data._errors import DatasetError
from hpsearch.data._idx import read_idx
from hpsearch.limits import (
    MAX_IMAGE_FILE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_PREDICT_PIXELS,
    open_regular,
)

_LIGHT_BORDER = 0.5  # mean border brightness above which the image is dark ink on light paper


def load_images(paths: list[Path], image_shape: tuple[int, int]) -> np.ndarray:
    """Images -> (N, H*W) float32 in [0, 1], light ink on a dark background like MNIST.

    A PNG or JPEG gives one row: grayscale, resized to `image_shape` (H, W), inverted when its
    border is light. An IDX file gives one row per image it holds ((H, W) or (N, H, W); uint8
    scaled by 1/255, floats taken as they are when in [0, 1]), resized when its size differs.
    """
    return np.concatenate(load_image_files(paths, image_shape)[1])


def load_image_files(
    paths: list[Path], image_shape: tuple[int, int]
) -> tuple[list[str], list[np.ndarray]]:
    """(one name per row, one (n, H*W) block per file): an IDX file of n images gives n names,
    `FILE[0]`..`FILE[n-1]`. At most MAX_PREDICT_PIXELS pixels in all, counted before each file
    is decoded from what its header declares."""
    names: list[str] = []
    blocks: list[np.ndarray] = [np.zeros((0, image_shape[0] * image_shape[1]), np.float32)]
    budget = MAX_PREDICT_PIXELS
    for path in map(Path, paths):
        block = _load_one(path, image_shape, budget)
        budget -= block.size
        blocks.append(block)
        names += [str(path)] if len(block) == 1 else [f"{path}[{i}]" for i in range(len(block))]
    return names, blocks


def _load_one(path: Path, image_shape: tuple[int, int], budget: int) -> np.ndarray:
    with os.fdopen(open_regular(path, "image", MAX_IMAGE_FILE_BYTES, DatasetError), "rb") as f:
        head = f.read(2)
    # IDX starts with two zero bytes; a gzip stream is an IDX file here (images are not gzipped).
    if head in (b"\x00\x00", b"\x1f\x8b"):
        return _from_idx(path, image_shape, budget)
    return _from_picture(path, image_shape)[None, :]


def _from_picture(path: Path, image_shape: tuple[int, int]) -> np.ndarray:
    """One picture -> (H*W,) float32."""
    height, width = image_shape
    try:
        with Image.open(path) as picture:
            if picture.width * picture.height > MAX_IMAGE_PIXELS:
                raise DatasetError(
                    f"{path}: image of {picture.width}x{picture.height} pixels is over the "
                    f"{MAX_IMAGE_PIXELS}-pixel limit"
                )
            # reducing_gap: a box reduction first, so the Lanczos filter's weights stay small
            # (a 1 x 40,000,000 strip would otherwise need gigabytes of them)
            gray = _grayscale(picture).resize(
                (width, height), Image.Resampling.LANCZOS, reducing_gap=3.0
            )
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable PNG/JPEG image: {exc}") from exc
    pixels = np.asarray(gray, dtype=np.float32) / np.float32(255)  # (H, W)
    if _border_mean(pixels) > _LIGHT_BORDER:
        pixels = 1.0 - pixels  # datasets have light ink on black: match them
    return pixels.reshape(-1)


def _grayscale(picture: Image.Image) -> Image.Image:
    # Transparent pixels are shown on white paper, as an image viewer would.
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("L")
    return picture.convert("L")


def _border_mean(pixels: np.ndarray) -> float:
    border = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])
    return float(border.mean())


def _from_idx(path: Path, image_shape: tuple[int, int], budget: int) -> np.ndarray:
    """An IDX file of one (H, W) image or N (N, H, W) images -> (N, H*W) float32, refused when
    it declares more than `budget` pixels (before reading them)."""
    if budget <= 0:
        raise DatasetError(f"{path}: the images given hold more than {MAX_PREDICT_PIXELS} pixels")
    array = read_idx(path, max_bytes=budget)  # a uint8 pixel is one byte; floats are larger
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.size == 0:
        raise DatasetError(f"{path}: expected IDX images (H, W) or (N, H, W), got {array.shape}")
    if array.dtype == np.uint8:
        pixels = array.astype(np.float32) / np.float32(255)
    elif array.dtype.kind == "f" and array.size and array.min() >= 0.0 and array.max() <= 1.0:
        pixels = array.astype(np.float32)
    else:
        raise DatasetError(f"{path}: IDX images must be uint8 or floats in [0, 1]")
    if pixels.shape[1:] != image_shape:
        pixels = np.stack([_resize(image, image_shape) for image in pixels])
    return pixels.reshape(len(pixels), -1)


def _resize(image: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    height, width = image_shape
    picture = Image.fromarray(image, mode="F")
    resized = picture.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
