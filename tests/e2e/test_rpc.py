"""POST /public/rpc over real HTTP: the JSON-RPC 2.0 envelope (single, batch,
notifications, by-position params), the original's error codes, and bad params that
answer -32602 and change nothing. Roles: test_rpc_access.py; the original's scenarios:
test_rpc_scenarios.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import blob_files
from tests.e2e.test_upload import upload
from tests.support.images import solid
from tests.support.jsonrpc import PATH, RpcClient
from tests.support.tokens import bearer


@pytest.fixture(scope="module")
def rpc(base_url: str, tokens: dict[str, str]) -> Iterator[RpcClient]:
    with httpx.Client(base_url=base_url, timeout=120, headers=bearer(tokens["admin"])) as http:
        yield RpcClient(http)


def new_image(rpc: RpcClient, **fields: str) -> dict[str, Any]:
    r = rpc.http.post("/api/pools/default/assets", params={"wait": "true"},
                      files={"file": ("photo.jpg", solid(160, 120))}, data=fields)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def error_of(answer: dict[str, Any], code: int, request_id: Any = None) -> dict[str, Any]:
    assert answer.get("jsonrpc") == "2.0" and answer.get("id") == request_id, answer
    assert "result" not in answer and answer["error"]["code"] == code, answer
    error: dict[str, Any] = answer["error"]
    return error


# -- the envelope ----------------------------------------------------------------------


def test_a_call_answers_its_id_and_result(rpc: RpcClient) -> None:
    image = new_image(rpc)
    for request_id in (7, "seven", None):
        answer = rpc.send({"jsonrpc": "2.0", "id": request_id, "method": "images.get",
                           "params": {"id": image["id"]}})
        assert answer["id"] == request_id and answer["result"]["id"] == image["id"]


def test_params_by_position_and_without_the_jsonrpc_member(rpc: RpcClient) -> None:
    image = new_image(rpc)
    answer = rpc.send({"id": 1, "method": "images.get", "params": [image["id"], ["id", "file"]]})
    assert answer["result"] == {"id": image["id"], "file": answer["result"]["file"]}
    assert answer["jsonrpc"] == "2.0"


def test_a_row_is_the_originals_shape(rpc: RpcClient) -> None:
    image = new_image(rpc, metadata=json.dumps({"alt": "x"}))
    row = rpc.call("images.get", id=image["id"])
    assert row == {
        "id": image["id"], "version": None, "correlation_id": image["gallery"],
        "original_id": None, "file_id": image["id"], "metadata": {"alt": "x"},
        "timestamp": image["created_at"],
        "file": {"id": image["id"], "hash": image["sha256"], "name": "photo", "extension": "jpg",
                 "timestamp": image["created_at"], "uri": image["content_url"],
                 "meta": {"file_size": image["size"], "mime_type": "image/jpeg"}},
    }
    thumb = image["versions"]["thumbnail"]
    version = rpc.call("images.get", id=thumb["id"])
    assert (version["id"], version["version"], version["original_id"], version["file_id"]) == (
        thumb["id"], "thumbnail", image["id"], thumb["id"])
    assert version["file"]["uri"] == thumb["url"]
    assert version["metadata"] == {"alt": "x", "version": "thumbnail", "format": "jpeg",
                                   "output_extension": "jpg", "status": "ready",
                                   "size": [thumb["width"], thumb["height"]],
                                   "file_size": thumb["size"]}
    assert rpc.http.get(version["file"]["uri"]).content == rpc.http.get(thumb["url"]).content


def test_a_batch_runs_in_order_and_answers_in_order(rpc: RpcClient) -> None:
    image = new_image(rpc)
    answers = rpc.send([
        {"jsonrpc": "2.0", "id": "a", "method": "images.update",
         "params": {"id": image["id"], "data": {"metadata": {"step": 1}}}},
        {"jsonrpc": "2.0", "id": "b", "method": "images.get", "params": {"id": image["id"]}},
        {"jsonrpc": "2.0", "id": "c", "method": "no.such.method"},
        {"jsonrpc": "2.0", "method": "images.update",  # a notification: no answer
         "params": {"id": image["id"], "data": {"metadata": {"step": 2}}}},
        "not a request",
        {"jsonrpc": "2.0", "id": "d", "method": "images.get", "params": {"id": image["id"]}},
    ])
    assert [a["id"] for a in answers] == ["a", "b", "c", None, "d"]
    assert answers[1]["result"]["metadata"] == {"step": 1}
    error_of(answers[2], -32601, "c")
    error_of(answers[3], -32600)
    assert answers[4]["result"]["metadata"] == {"step": 2}


def test_notifications_get_no_answer_but_run(rpc: RpcClient) -> None:
    image = new_image(rpc)
    note = {"jsonrpc": "2.0", "method": "images.update",
            "params": {"id": image["id"], "data": {"metadata": {"noted": True}}}}
    r = rpc.post(note)
    assert r.status_code == 204 and r.content == b""
    r = rpc.post([note, {"jsonrpc": "2.0", "method": "no.such.method"}])
    assert r.status_code == 204 and r.content == b""
    assert rpc.call("images.get", id=image["id"])["metadata"] == {"noted": True}


@pytest.mark.parametrize(("body", "code", "request_id"), [
    (b"{not json", -32700, None),
    (b'{"id": 1, "method": "images.get", "params": {"id": NaN}}', -32700, None),
    (b"", -32700, None),
    (b"[]", -32600, None),
    (json.dumps([{"method": "images.exists", "params": ["x"]}] * 101).encode(), -32600, None),
    (b'"images.get"', -32600, None),
    (b'{"jsonrpc": "1.0", "id": 1, "method": "images.get"}', -32600, 1),
    (b'{"id": 2, "method": 5}', -32600, 2),
    (b'{"id": 3, "method": "images.get", "params": "x"}', -32600, 3),
    (b'{"id": [1], "method": "images.get"}', -32600, None),
])
def test_bodies_that_are_not_requests(rpc: RpcClient, body: bytes, code: int,
                                      request_id: int | None) -> None:
    r = rpc.http.post(PATH, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    error_of(r.json(), code, request_id)


def test_a_body_over_one_mebibyte_is_refused_unread(rpc: RpcClient) -> None:
    body = json.dumps({"id": 1, "method": "images.list",
                       "params": {"conditions": {"version": ["x" * 1000] * 1100}}}).encode()
    assert len(body) > 1024 * 1024
    r = rpc.http.post(PATH, content=body, headers={"content-type": "application/json"})
    error = error_of(r.json(), -32600)
    assert "1048576 bytes" in error["message"]


def test_only_post(rpc: RpcClient) -> None:
    assert rpc.http.get(PATH).status_code == 405


def test_unknown_method_and_params(rpc: RpcClient) -> None:
    error = rpc.error("images.m_get", id=[])
    assert error == {"code": -32601, "message": "Method not found",
                     "data": {"type": "MethodNotFound", "request_method": "images.m_get"}}
    error = rpc.error("images.get", ident="x")
    assert error["code"] == -32602
    assert error["data"] == {"type": "InvalidParams", "required_args": ["id"],
                             "optional_args": ["columns"], "provided_args": ["ident"]}
    assert rpc.error("images.get")["data"]["required_args"] == ["id"]
    error = error_of(rpc.send({"id": 3, "method": "images.exists", "params": [1, 2]}),
                     -32602, 3)
    assert "at most 1 params by position" in error["message"]


# -- the original's codes --------------------------------------------------------------


def test_not_found_is_404(rpc: RpcClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for method in ("images.get", "images.delete", "images.update", "files.get", "files.delete"):
        params: dict[str, Any] = {"id": missing}
        if method == "images.update":
            params["data"] = {"metadata": {}}
        error = rpc.error(method, **params)
        assert (error["code"], error["data"]["type"]) == (404, "NotFound"), method
    assert rpc.call("images.exists", id=missing) is False
    error = rpc.error("images.convert_from_file", file_id=missing)
    assert (error["code"], error["data"]["type"]) == (404, "NotFound")


def test_a_file_is_no_image_but_a_file(rpc: RpcClient) -> None:
    r = upload(rpc.http, b"plain text", filename="notes.txt")
    assert r.status_code == 201 and r.json()["type"] == "file"
    file_id = r.json()["id"]
    assert rpc.error("images.get", id=file_id)["code"] == 404
    assert rpc.call("images.exists", id=file_id) is False
    row = rpc.call("files.get", id=file_id)
    assert (row["name"], row["extension"], row["meta"]) == (
        "notes", "txt", {"file_size": 10, "mime_type": "text/plain"})
    assert rpc.http.get(row["uri"]).content == b"plain text"
    # Converting a file is a conflict, as POST /api/assets/{id}/convert answers.
    error = rpc.error("images.convert_image", id=file_id)
    assert (error["code"], error["data"]["type"]) == (409, "Conflict")
    # Making an image of it: the bytes are no image.
    error = rpc.error("images.convert_from_file", file_id=file_id)
    assert (error["code"], error["data"]["field"]) == (-32602, "file_id")
    assert "text/plain" in error["message"]


def test_images_convert_is_the_originals_name_for_convert_image(rpc: RpcClient) -> None:
    image = new_image(rpc)
    rows = rpc.call("images.convert", id=image["id"], converter_settings={
        "versions": {"thumbnail": {"width": 40, "height": 30}}})
    assert [r["version"] for r in rows] == [None, "detail", "thumbnail"]
    assert rows[2]["metadata"]["size"] == [40, 30]
    assert rows[2]["id"] != image["versions"]["thumbnail"]["id"]


# -- lists -----------------------------------------------------------------------------


def test_images_list_page_shape_conditions_and_sort(rpc: RpcClient) -> None:
    images = [new_image(rpc, gallery="rpc-list") for _ in range(3)]
    ids = [i["id"] for i in images]
    page = rpc.call("images.list", conditions={"correlation_id": "rpc-list"},
                    sort=["timestamp", "version"], limit=4)
    assert (page["count"], page["offset"], page["page"], page["pages"], page["on_page"]) == (
        9, 0, 1, 3, 4)
    rows = page["data"]
    # A version shares its original's timestamp; sorted by version, nulls (it) come last.
    assert [r["id"] for r in rows] == [images[0]["versions"]["detail"]["id"],
                                       images[0]["versions"]["thumbnail"]["id"], ids[0],
                                       images[1]["versions"]["detail"]["id"]]
    second = rpc.call("images.list", conditions={"correlation_id": "rpc-list"},
                      sort=["timestamp", "version"], limit=4, offset=4)
    assert (second["page"], second["on_page"]) == (2, 4)
    assert not {r["id"] for r in rows} & {r["id"] for r in second["data"]}
    originals = rpc.call("images.list", conditions={"correlation_id": "rpc-list", "version": None},
                         columns="id")
    assert originals["data"] == [{"id": i} for i in reversed(ids)]  # newest first by default
    either = rpc.call("images.list", conditions=[{"id": ids[0]}, {"original_id": ids[1],
                                                                 "version": "thumbnail"}],
                      columns=["id"], sort={"desc": "id"})
    assert either["data"] == sorted([{"id": ids[0]},
                                     {"id": images[1]["versions"]["thumbnail"]["id"]}],
                                    key=lambda r: r["id"], reverse=True)
    counted = rpc.call("images.list", conditions={"correlation_id": "rpc-list"}, limit=0)
    assert (counted["count"], counted["data"], counted["on_page"], counted["page"]) == (
        9, None, 0, None)
    uncounted = rpc.call("images.list", conditions={"correlation_id": "rpc-list"}, count=False,
                         limit=1)
    assert (uncounted["count"], uncounted["page"], uncounted["pages"], uncounted["on_page"]) == (
        None, None, None, 1)
    no_data = rpc.call("images.list", conditions={"correlation_id": "rpc-list"}, columns=None)
    assert (no_data["count"], no_data["data"], no_data["page"]) == (9, None, 1)


def test_files_list(rpc: RpcClient) -> None:
    image = new_image(rpc)
    page = rpc.call("files.list", conditions={"hash": image["sha256"]}, columns=["id", "uri"])
    assert {"id": image["id"], "uri": image["content_url"]} in page["data"]
    thumb = image["versions"]["thumbnail"]
    page = rpc.call("files.list", conditions={"id": [thumb["id"]]})
    assert [r["id"] for r in page["data"]] == [thumb["id"]]
    assert page["data"][0]["name"] == "photo-thumbnail"


# -- bad params: -32602 and nothing changed ---------------------------------------------


def state(rpc: RpcClient) -> dict[str, Any]:
    """Everything a refused call could have touched: every row of both tables."""
    images = rpc.call("images.list", limit=1000, sort="id")
    files = rpc.call("files.list", limit=1000, sort="id")
    return {"images": images["data"], "files": files["data"]}


def bad_param_cases() -> Iterator[Any]:
    yield pytest.param("images.get", {"id": "not-a-uuid"}, "id", id="get: id not a uuid")
    yield pytest.param("images.get", {"id": "{image}", "columns": ["colour"]}, "columns",
                       id="get: unknown column")
    yield pytest.param("images.list", {"conditions": {"colour": "red"}}, "conditions.colour",
                       id="list: unknown column")
    yield pytest.param("images.list", {"conditions": {"version": {"~": "^t"}}},
                       "conditions.version.~", id="list: regex operator")
    yield pytest.param("images.list", {"limit": "10"}, "limit", id="list: limit not an integer")
    yield pytest.param("images.list", {"sort": {"sideways": "id"}}, "sort", id="list: bad sort")
    yield pytest.param("images.update", {"id": "{image}", "data": {"version": "x"}},
                       "data.version", id="update: version")
    yield pytest.param("images.update", {"id": "{image}", "data": {"metadata": "x"}},
                       "data.metadata", id="update: metadata not an object")
    yield pytest.param("images.update", {"id": "{image}", "data": {"correlation_id": "a b"}},
                       "data.correlation_id", id="update: bad gallery id")
    yield pytest.param("images.update", {"id": "{image}", "data": {}}, "data",
                       id="update: nothing")
    yield pytest.param("images.update", {"id": "{thumb}", "data": {"metadata": {}}}, "id",
                       id="update: a version row")
    yield pytest.param("images.create", {"data": {"file_id": "{image}", "version": "v",
                                                  "original_id": "{image}"}},
                       "data.version", id="create: a version")
    yield pytest.param("images.create", {"data": {"correlation_id": "g"}}, "data.file_id",
                       id="create: no file_id")
    yield pytest.param("images.create", {"data": {"file_id": "{image}", "meta": {},
                                                  "metadata": {}}}, "data.meta",
                       id="create: meta and metadata")
    yield pytest.param("images.create", {"data": {"file_id": "{image}", "metadata": [1]}},
                       "data.metadata", id="create: metadata not an object")
    yield pytest.param("images.convert_from_file", {"file_id": "{image}", "converter_id": "nope"},
                       "converter_id", id="convert_from_file: unknown converter")
    yield pytest.param("images.convert_from_file",
                       {"file_id": "{image}", "converter_settings": {"versions": {"x": {}}}},
                       "converter_settings.versions", id="convert_from_file: bad settings")
    yield pytest.param("images.convert_from_file",
                       {"file_id": "{image}", "correlation_id": "has space"},
                       "correlation_id", id="convert_from_file: bad correlation id")
    yield pytest.param("images.convert_from_file", {"file_id": "{image}", "metadata": "x"},
                       "metadata", id="convert_from_file: metadata not an object")
    yield pytest.param("images.convert_from_file", {"file_id": "{image}", "columns": "colour"},
                       "columns", id="convert_from_file: unknown column")
    yield pytest.param("images.convert_image", {"id": "{image}", "converter_id": "nope"},
                       "converter_id", id="convert_image: unknown converter")
    yield pytest.param("images.convert_image",
                       {"id": "{image}", "converter_settings": {"versions": {
                           "thumbnail": {"width": 0}}}, "metadata": {"changed": True}},
                       "converter_settings.versions[1].width", id="convert_image: bad settings")
    yield pytest.param("images.convert_image", {"id": "{image}", "metadata": 5}, "metadata",
                       id="convert_image: metadata not an object")
    yield pytest.param("images.convert_image", {"id": "{thumb}"}, "id",
                       id="convert_image: a version row")
    yield pytest.param("images.versions.delete", {"id": "{image}", "versions": [None]},
                       "versions", id="versions.delete: null")
    yield pytest.param("images.versions.delete",
                       {"id": "{image}", "versions": ["thumbnail", "original"]},
                       "versions", id="versions.delete: original")
    yield pytest.param("images.versions.delete", {"id": ["{image}", "x"], "versions": "detail"},
                       "id[1]", id="versions.delete: bad id in list")
    yield pytest.param("images.versions.delete", {"id": "{image}", "versions": []}, "versions",
                       id="versions.delete: no names")
    yield pytest.param("images.gallery", {"id": [5]}, "id", id="gallery: not strings")
    yield pytest.param("images.delete", {"id": "{image}", "columns": "colour"}, "columns",
                       id="delete: unknown column")
    yield pytest.param("files.delete", {"id": "{image}", "columns": ["uri", "x"]}, "columns",
                       id="files.delete: unknown column")


@pytest.mark.parametrize(("method", "params", "field"), list(bad_param_cases()))
def test_bad_params_are_32602_and_change_nothing(rpc: RpcClient, data_dir: Any, method: str,
                                                 params: dict[str, Any], field: str) -> None:
    image = new_image(rpc, gallery="bad-params")
    values = {"{image}": image["id"], "{thumb}": image["versions"]["thumbnail"]["id"]}

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return values.get(value, value) if isinstance(value, str) else value

    before, blobs = state(rpc), blob_files(data_dir)
    error = rpc.error(method, **fill(params))
    assert (error["code"], error["data"]["type"]) == (-32602, "InvalidParams"), error
    assert error["data"].get("field") == field, error
    assert state(rpc) == before
    assert blob_files(data_dir) == blobs
