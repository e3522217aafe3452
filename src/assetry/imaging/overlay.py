"""Overlay (watermark) pixels: each overlay asset decoded once per render, at the largest
size any version draws it, then resized to each placement's box with its opacity."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pyvips

from assetry.domain.geometry import Placement, Plan, Size
from assetry.domain.ports import OverlaySource
from assetry.imaging.pipeline import resized, to_srgb_uchar

#: decodes an image file of a MIME type at a fraction of its full size (first frame)
Decode = Callable[[Path, str, float], pyvips.Image]


class OverlayImages:
    """The `Marks` of one render: overlay pixels by placement.

    Nothing is decoded until a placement asks; then its asset is decoded once, at the
    resolution of the largest box it is drawn in among `plans`."""

    def __init__(self, sources: Mapping[str, OverlaySource], plans: Iterable[Plan],
                 decode: Decode) -> None:
        self._sources = sources
        self._decode = decode
        self._largest: dict[str, tuple[int, int]] = {}
        for p in plans:
            for placement in p.overlays:
                w, h = self._largest.get(placement.asset, (0, 0))
                self._largest[placement.asset] = (max(w, placement.box.width),
                                                  max(h, placement.box.height))
        self._decoded: dict[str, pyvips.Image] = {}

    def __call__(self, placement: Placement) -> pyvips.Image:
        """The overlay's pixels for `placement`: RGBA, the box's size, alpha times the
        opacity. Raises KeyError when its asset is not among the sources."""
        image = resized(self._pixels(placement.asset),
                        Size(placement.box.width, placement.box.height))
        # Transparent parts stay transparent, opaque parts get the opacity.
        return (image * [1, 1, 1, placement.opacity]).cast("uchar")

    def _pixels(self, asset: str) -> pyvips.Image:
        if asset not in self._decoded:
            source = self._sources[asset]
            width, height = self._largest[asset]
            scale = min(1.0, max(width / source.size.width, height / source.size.height))
            image = to_srgb_uchar(self._decode(source.path, source.mime_type, scale))
            if not image.hasalpha():
                image = image.bandjoin_const([255])
            self._decoded[asset] = image.copy_memory()
        return self._decoded[asset]
