"""The library facade: the original service's method names, over the real services."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetry.domain.model import Asset, Version, VersionStatus
from assetry.errors import UndecodableImage, VersionNotFound
from assetry.library import Assetry
from tests.support.images import load, solid


async def test_convert_from_file_returns_original_and_versions(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(solid(1000, 700))
    async with Assetry.open(data_dir=tmp_path / "data", render_workers=0) as assetry:
        original, *versions = await assetry.convert_from_file(source, metadata={"test": True})
        assert isinstance(original, Asset) and original.filename == "photo.jpg"
        assert original.gallery == str(original.id) and original.metadata == {"test": True}
        assert {v.name for v in versions} == {"detail", "thumbnail"}
        assert all(isinstance(v, Version) and v.status is VersionStatus.READY for v in versions)
        thumb = load(await assetry.read(original.id, "thumbnail"))
        assert (thumb.width, thumb.height) == (100, 100)


async def test_gallery_convert_image_and_delete_versions(tmp_path: Path) -> None:
    async with Assetry.open(data_dir=tmp_path, render_workers=0) as assetry:
        first, *_ = await assetry.convert_from_file(solid(300, 300), correlation_id="g1")
        second, *_ = await assetry.convert_from_file(solid(200, 200), correlation_id="g1")
        gallery = await assetry.get_gallery("g1")
        assert gallery is not None and not isinstance(gallery, list)
        assert [a.id for a in gallery.images] == [first.id, second.id]
        assert await assetry.get_gallery("nope") is None
        many = await assetry.get_gallery(["nope", "g1"])
        assert isinstance(many, list) and [g.id for g in many] == ["g1"]

        await assetry.services.converters.put("small", {"versions": [
            {"name": "small", "width": 10, "height": 10}]}, assetry.actor)
        original, *versions = await assetry.convert_image(first.id, "small")
        assert isinstance(original, Asset)
        assert {v.name for v in versions} == {"detail", "thumbnail", "small"}

        after = await assetry.delete_versions(first.id, ["small", "detail"])
        assert {v.name for v in after.versions} == {"thumbnail"}
        with pytest.raises(VersionNotFound):
            await assetry.delete_versions(first.id, ["small"])


async def test_crud_and_errors(tmp_path: Path) -> None:
    async with Assetry.open(data_dir=tmp_path, render_workers=0) as assetry:
        asset = await assetry.create(b"hello", filename="a.txt")
        assert asset.type.value == "file" and await assetry.read(asset.id) == b"hello"
        updated = await assetry.update(asset.id, filename="b.txt", metadata={"k": "v"})
        assert (updated.filename, updated.metadata) == ("b.txt", {"k": "v"})
        page = await assetry.list("default")
        assert [a.id for a in page.items] == [asset.id]
        await assetry.delete(asset.id)
        assert (await assetry.list("default")).items == ()
        with pytest.raises(UndecodableImage):
            await assetry.create(solid(100, 100)[:300], type="image")
