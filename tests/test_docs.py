"""The docs keep up with the code: settings documented, README's commands and example work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from assetry.config import Settings
from tests.support.images import corpus

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_described_and_documented() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text()
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert f"`ASSETRY_{name.upper()}`" in documented, name


def test_every_metric_is_documented() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from assetry.telemetry.prometheus import PrometheusMetrics

    documented = (ROOT / "docs" / "api.md").read_text()
    text = PrometheusMetrics().exposition({"queued": 0}).decode()
    for family in text_string_to_metric_families(text):
        name = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"| `{name}` | {family.type} |" in documented, name


def test_readme_opens_with_the_two_commands() -> None:
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    assert "make serve" in head and "make test" in head


def test_readme_library_example_runs(tmp_path: Path) -> None:
    corpus("photo_12mp.jpg")
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None
    script = tmp_path / "example.py"
    script.write_text(code.group(1))
    out = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "4000 3000 [('detail', 800, 800), ('thumbnail', 100, 100)]" in out.stdout
    assert "1 image(s) in the gallery" in out.stdout


def test_converters_md_shows_every_fit_gravity_operation_and_format() -> None:
    from assetry.domain.converter import _OP_PARAMS, Anchor, Fit, Gravity, OutputFormat

    text = (ROOT / "docs" / "converters.md").read_text()
    for value in [*Fit, *Gravity, *OutputFormat, *Anchor]:
        assert f"`{value.value}`" in text, value
    for name in [*(f"fit-{f.value}" for f in Fit), *(f"gravity-{g.value}" for g in Gravity),
                 *(f"op-{op}" for op in _OP_PARAMS)]:
        assert f"(pictures/{name}.jpg)" in text, name
    for op in _OP_PARAMS:
        assert f'{{"op": "{op}"' in text, op
    pictures = {p.name for p in (ROOT / "docs" / "pictures").iterdir()}
    referenced = set(re.findall(r"\(pictures/([\w.-]+)\)", text))
    assert referenced <= pictures, referenced - pictures
    # every picture is the script's and shown: nothing left over by hand
    assert pictures == referenced, pictures - referenced
    script = (ROOT / "scripts" / "converter_pictures.py").read_text()
    for name in pictures:
        stem = name.rsplit(".", 1)[0]
        assert stem in script or stem.split("-", 1)[1] in script, name
