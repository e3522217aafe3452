"""The OpenAPI document as clients read it: short unique operation ids, every error answer
declared as problem+json with a schema that real answers satisfy, examples that match
their schemas, and a client generated from it (openapi-python-client) that works."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import jsonschema_rs
import pytest

from tests.support.images import load, solid

PROBLEM = "application/problem+json"
PROBLEM_SCHEMAS = {"ProblemDetails", "HiddenProblem", "TooLargeProblem"}


@pytest.fixture(scope="module")
def spec(base_url: str) -> dict[str, Any]:
    answer = httpx.get(f"{base_url}/api/openapi.json", timeout=30)
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def operation(spec: dict[str, Any], operation_id: str) -> dict[str, Any]:
    return next(o for _, _, o in operations(spec) if o["operationId"] == operation_id)


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema 2020-12 validator whose `#/components/...` refs resolve in `spec`."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]})


def assert_valid(spec: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    found = validator(spec, schema).iter_errors(instance)
    errors = [f"{e.instance_path}: {e.message}" for e in found]
    assert not errors, (schema, errors)


def test_every_operation_has_a_short_unique_id(spec: dict[str, Any]) -> None:
    ids = [o.get("operationId", "") for _, _, o in operations(spec)]
    assert len(ids) >= 25
    for path, method, o in operations(spec):
        assert re.fullmatch(r"[a-z][A-Za-z]+", o.get("operationId", "")), (method, path, o)
        # Summaries say the same words (FastAPI's default would be the Python name's).
        assert o["summary"].replace(" ", "").lower() == o["operationId"].lower()
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    assert {"uploadAsset", "getAsset", "replaceAsset", "patchAsset", "deleteAsset",
            "getContent", "getVersion", "deleteVersion", "convertAsset", "attachAsset",
            "detachAsset", "getGallery", "listAssets", "createOrUpdatePool"} <= set(ids)


def test_every_error_answer_is_problem_json_with_its_schema(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert set(schemas) >= PROBLEM_SCHEMAS
    assert "HTTPValidationError" not in json.dumps(spec)  # validation failures are 400s
    errors = 0
    for path, method, o in operations(spec):
        for status, answer in o["responses"].items():
            if not status.startswith("4") and not (status.startswith("5")
                                                   and path.startswith("/api/")):
                continue
            errors += 1
            assert set(answer["content"]) == {PROBLEM}, (method, path, status)
            ref = answer["content"][PROBLEM]["schema"]["$ref"]
            name = ref.removeprefix("#/components/schemas/")
            assert name in PROBLEM_SCHEMAS and name in schemas, (method, path, status, ref)
            expected = {"410": "HiddenProblem", "413": "TooLargeProblem"}
            if path.startswith("/api/pools/{pool}/uploads"):
                del expected["410"]  # tus: an expired upload, not a hidden asset
            assert name == expected.get(status, "ProblemDetails"), (method, path, status)
            assert answer["description"], (method, path, status)
    assert errors > 100
    upload = operation(spec, "uploadAsset")["responses"]
    assert {"400", "401", "403", "404", "413", "415", "422", "503"} <= set(upload)
    assert {"400", "401", "404", "410", "416", "422"} <= set(
        operation(spec, "getVersion")["responses"])


def test_real_error_answers_satisfy_their_declared_schemas(
        spec: dict[str, Any], client: httpx.Client, anonymous: httpx.Client) -> None:
    def check(operation_id: str, answer: httpx.Response) -> dict[str, Any]:
        assert answer.headers["content-type"] == PROBLEM, answer.text
        declared = operation(spec, operation_id)["responses"][str(answer.status_code)]
        body: dict[str, Any] = answer.json()
        assert_valid(spec, declared["content"][PROBLEM]["schema"], body)
        return body

    assert client.put("/api/pools/openapi-tiny", json={"max_size": 100}).status_code in (200, 201)
    too_large = check("uploadAsset", client.post(
        "/api/pools/openapi-tiny/assets", files={"file": ("a.jpg", solid(64, 64))}))
    assert too_large["status"] == 413 and too_large["limit"] == 100

    unsupported = check("uploadAsset", client.post(
        "/api/pools/default/assets", data={"mime_type": "image/png"},
        files={"file": ("a.jpg", solid(8, 8))}))
    assert unsupported["status"] == 415
    assert unsupported["errors"] == [{"field": "mime_type", "message": unsupported["detail"]}]

    uploaded = client.post("/api/pools/default/assets", files={"file": ("h.jpg", solid(8, 8))})
    asset_id = uploaded.json()["id"]
    assert client.patch(f"/api/assets/{asset_id}", json={"hidden": True}).status_code == 200
    hidden = check("getAsset", anonymous.get(f"/api/assets/{asset_id}"))
    assert hidden["status"] == 410 and hidden["reason"] == "hidden"

    assert check("getAsset", client.get("/api/assets/not-a-uuid"))["status"] == 400
    assert check("getAsset", client.get(f"/api/assets/{uuid4()}"))["status"] == 404
    assert check("uploadAsset", anonymous.post("/api/pools/default/assets"))["status"] == 401
    shown = client.post("/api/pools/default/assets", files={"file": ("r.jpg", solid(8, 8))})
    unsatisfiable = check("getContent", client.get(
        f"/api/assets/{shown.json()['id']}/content", headers={"Range": "bytes=999999-"}))
    assert unsatisfiable["status"] == 416
    bad_converter = check("createOrReplaceConverter", client.put(
        "/api/converters/openapi-bad", json={"versions": [{"name": "v", "width": 10}]}))
    assert bad_converter["status"] == 422


def test_main_operations_have_examples_that_match_their_schemas(
        spec: dict[str, Any], client: httpx.Client) -> None:
    examples: dict[tuple[str, str], Any] = {}
    for _, _, o in operations(spec):
        for status, answer in o["responses"].items():
            for media in answer.get("content", {}).values():
                if "example" in media:
                    assert_valid(spec, media["schema"], media["example"])
                    examples[o["operationId"], status] = media["example"]
        body = o.get("requestBody", {}).get("content", {}).get("application/json", {})
        if "example" in body:
            examples[o["operationId"], "request"] = body["example"]
    assert {("uploadAsset", "201"), ("getAsset", "200"), ("getGallery", "200"),
            ("listAssets", "200"), ("createOrReplaceConverter", "201"),
            ("createOrReplaceConverter", "request")} <= set(examples)
    # The converter example is what the service really answers to the request example.
    stored = client.put("/api/converters/openapi-cards",
                        json=examples["createOrReplaceConverter", "request"])
    assert stored.status_code == 201
    assert stored.json() == {**examples["createOrReplaceConverter", "201"],
                             "name": "openapi-cards"}


class _Assets(HTMLParser):
    """The URLs of a page's scripts, stylesheets and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            assert a.get("src"), "no inline scripts: the page's CSP forbids them"
            self.urls.append(a["src"] or "")
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"] or "")


def test_docs_page_loads_everything_from_the_service_itself(base_url: str) -> None:
    page = httpx.get(f"{base_url}/api/docs", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp
    assert "http" not in csp and "cdn" not in page.text
    parser = _Assets()
    parser.feed(page.text)
    assert len(parser.urls) >= 4, parser.urls
    kinds = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    served: dict[str, str] = {}
    for url in parser.urls:
        absolute = httpx.URL(base_url).join(url)
        assert (absolute.scheme, absolute.host, absolute.port) == ("http", "127.0.0.1",
                                                                   httpx.URL(base_url).port)
        answer = httpx.get(absolute, timeout=30)
        assert answer.status_code == 200, url
        kind = next(v for k, v in kinds.items() if url.endswith(k))
        assert kind in answer.headers["content-type"], (url, answer.headers["content-type"])
        served[url.rsplit("/", 1)[-1]] = answer.text if kind != "image/png" else ""
    assert "SwaggerUIBundle" in served["swagger-ui-bundle.js"]
    assert len(served["swagger-ui-bundle.js"]) > 500_000  # the real bundle, not a stub
    assert '"/api/openapi.json"' in served["init.js"] and "http" not in served["init.js"]
    assert '"validatorUrl": null' in served["init.js"]  # no badge from a remote validator
    # Only the files the page uses are served from the bundle.
    bundle_dir = next(u for u in parser.urls if u.endswith("swagger-ui.css")).rsplit("/", 1)[0]
    for other in ("index.html", "swagger-initializer.js", "..%2F__init__.py"):
        assert httpx.get(f"{base_url}{bundle_dir}/{other}", timeout=30).status_code == 404


@pytest.mark.slow
def test_a_generated_client_uploads_reads_the_gallery_and_a_version(
        spec: dict[str, Any], base_url: str, tokens: dict[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(f"{base_url}/api/openapi.json", timeout=30).content)
    config = tmp_path / "config.json"
    # tus PATCH bodies are raw bytes under their own media type, which the generator
    # learns to send as application/octet-stream.
    config.write_text(json.dumps({"post_hooks": [], "project_name_override": "assetry-gen",
                                  "package_name_override": "assetry_gen",
                                  "content_type_overrides": {
                                      "application/offset+octet-stream":
                                      "application/octet-stream"}}))
    generator = Path(sys.executable).with_name("openapi-python-client")
    made = subprocess.run(
        [str(generator), "generate", "--path", str(document), "--config", str(config),
         "--meta", "none", "--output-path", str(tmp_path / "assetry_gen")],
        capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Warning" not in made.stdout + made.stderr, made.stdout + made.stderr

    monkeypatch.syspath_prepend(str(tmp_path))
    gen = importlib.import_module("assetry_gen")
    api = importlib.import_module("assetry_gen.api")
    models = importlib.import_module("assetry_gen.models")
    types = importlib.import_module("assetry_gen.types")
    for name in ("pools.upload_asset", "galleries.get_gallery", "assets.get_version",
                 "assets.get_asset"):
        importlib.import_module(f"assetry_gen.api.{name}")
    try:
        with gen.AuthenticatedClient(base_url=base_url, token=tokens["editor"],
                                     timeout=httpx.Timeout(60)) as client:
            gallery = f"client-{uuid4().hex[:8]}"
            body = models.UploadAssetBody(
                file=types.File(payload=BytesIO(solid(640, 480)), file_name="photo.jpg",
                                mime_type="image/jpeg"),
                gallery=gallery, metadata=json.dumps({"alt": "blue"}))
            uploaded = api.pools.upload_asset.sync_detailed(
                "default", client=client, body=body, wait=True)
            assert uploaded.status_code == 201, uploaded.content
            asset = uploaded.parsed
            assert isinstance(asset, models.UploadOut) and asset.duplicate_of is None
            assert (asset.filename, asset.width, asset.height) == ("photo.jpg", 640, 480)
            assert asset.gallery == gallery and asset.metadata.additional_properties == {
                "alt": "blue"}
            assert asset.versions["thumbnail"].status == "ready"
            assert asset.updated_resources.created[0] == f"/api/assets/{asset.id}"

            found = api.galleries.get_gallery.sync_detailed(gallery, client=client)
            assert found.status_code == 200
            assert [image.id for image in found.parsed.images] == [asset.id]
            assert found.parsed.images[0].versions["detail"].width == 480

            version = api.assets.get_version.sync_detailed(asset.id, "thumbnail",
                                                           client=client)
            assert version.status_code == 200
            assert version.headers["content-type"] == "image/jpeg"
            image = load(version.parsed.payload.read())
            assert (image.width, image.height) == (100, 100)

            # Errors arrive parsed as problem+json, not as an unexpected status.
            missing = api.assets.get_asset.sync_detailed(UUID(int=0), client=client)
            assert missing.status_code == 404
            assert isinstance(missing.parsed, models.ProblemDetails)
            assert missing.parsed.status == 404 and missing.parsed.detail
    finally:
        for module in [m for m in sys.modules if m.split(".")[0] == "assetry_gen"]:
            del sys.modules[module]
