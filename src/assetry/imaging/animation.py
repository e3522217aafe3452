"""Animations as libvips holds them: every frame stacked top to bottom in one image (a
"toilet roll"), with `page-height`, per-frame `delay` (ms) and `loop` (0 = forever).

A version of an animation is made frame by frame with the very same plan, then stacked
again with the same delays and loop count; a still image is an animation of one frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyvips


@dataclass(frozen=True, slots=True)
class Frames:
    """An image and its frames: `count` frames of `image.height / count` rows each."""

    image: pyvips.Image
    count: int = 1
    delays: tuple[int, ...] = ()
    loop: int = 0

    @classmethod
    def of(cls, image: pyvips.Image) -> Frames:
        """The frames of a decoded image (one, unless its page-height splits it evenly)."""
        page = int(image.get("page-height")) if image.get_typeof("page-height") else 0
        height = int(image.height)
        if page <= 0 or page >= height or height % page:
            return cls(image)
        count = height // page
        delays = (tuple(int(d) for d in image.get("delay"))
                  if image.get_typeof("delay") else ())
        loop = int(image.get("loop")) if image.get_typeof("loop") else 0
        return cls(image, count, delays if len(delays) == count else (), loop)

    @property
    def animated(self) -> bool:
        return self.count > 1

    @property
    def height(self) -> int:
        """The height of one frame."""
        return int(self.image.height) // self.count

    @property
    def width(self) -> int:
        return int(self.image.width)

    def frame(self, index: int) -> pyvips.Image:
        return self.image.crop(0, index * self.height, self.width, self.height)

    def first(self) -> Frames:
        """The first frame alone: what a format that cannot animate shows."""
        return self if self.count == 1 else Frames(self.frame(0))

    def map(self, fn: Callable[[pyvips.Image], pyvips.Image]) -> Frames:
        """`fn` applied to every frame (all outputs must share one size), stacked again
        with this animation's delays and loop count."""
        if self.count == 1:
            return Frames(fn(self.image))
        outputs = [fn(self.frame(i)) for i in range(self.count)]
        return Frames(pyvips.Image.arrayjoin(outputs, across=1), self.count, self.delays,
                      self.loop)

    def for_saving(self) -> pyvips.Image:
        """The stacked image with the metadata GIF and WebP savers read to animate."""
        if self.count == 1:
            return self.image
        image = self.image.copy()
        image.set_type(pyvips.GValue.gint_type, "page-height", self.height)
        image.set_type(pyvips.GValue.gint_type, "n-pages", self.count)
        image.set_type(pyvips.GValue.gint_type, "loop", self.loop)
        if self.delays:
            image.set_type(pyvips.GValue.array_int_type, "delay", list(self.delays))
        return image
