"""format auto's formats and the measured quality equivalents."""

from __future__ import annotations

import pytest

from assetry.domain.formats import EQUIVALENT_QUALITY, auto_formats, equivalent_quality


def test_auto_formats() -> None:
    assert auto_formats(alpha=False, animated=False) == ("avif", "webp", "jpeg")
    assert auto_formats(alpha=True, animated=False) == ("avif", "webp", "png")
    assert auto_formats(alpha=True, animated=True) == ("webp", "gif")


@pytest.mark.parametrize("fmt", ["webp", "avif"])
def test_equivalent_quality_follows_the_measured_table(fmt: str) -> None:
    table = EQUIVALENT_QUALITY[fmt]
    for jpeg, equivalent in table:
        assert equivalent_quality(fmt, jpeg) == equivalent
    (q0, e0), (q1, e1) = table[-2], table[-1]
    middle = (q0 + q1) // 2
    assert min(e0, e1) <= equivalent_quality(fmt, middle) <= max(e0, e1)
    qualities = [equivalent_quality(fmt, q) for q in range(1, 101)]
    assert qualities == sorted(qualities) and all(1 <= q <= 100 for q in qualities)


def test_formats_without_a_table_keep_the_quality() -> None:
    assert equivalent_quality("jpeg", 73) == 73
    assert equivalent_quality("png", 10) == 10
