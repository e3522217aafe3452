"""JSON-RPC 2.0 envelopes: what parse() makes of a body, how params bind, and which
code and type each domain error becomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from assetry import errors
from assetry.domain import jsonrpc
from assetry.domain.jsonrpc import Call, Rejected, RpcError, bind, from_domain, parse


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_a_single_request_is_one_call() -> None:
    env = parse(body({"jsonrpc": "2.0", "id": 7, "method": "images.get", "params": {"id": "x"}}))
    assert env == jsonrpc.Envelope(
        entries=(Call(method="images.get", params={"id": "x"}, id=7),), batch=False)


def test_without_an_id_member_it_is_a_notification_and_a_null_id_is_not() -> None:
    (note,) = parse(body({"jsonrpc": "2.0", "method": "m"})).entries
    (null,) = parse(body({"jsonrpc": "2.0", "method": "m", "id": None})).entries
    assert isinstance(note, Call) and note.notification and note.params == {}
    assert isinstance(null, Call) and not null.notification and null.id is None


def test_the_originals_clients_leave_jsonrpc_out_and_params_may_be_null_or_positional() -> None:
    (call,) = parse(body({"id": "a", "method": "m", "params": None})).entries
    assert call == Call(method="m", params={}, id="a")
    (call,) = parse(body({"id": "b", "method": "m", "params": [1, 2]})).entries
    assert call == Call(method="m", params=[1, 2], id="b")


def test_a_batch_keeps_order_and_rejects_bad_entries_in_place() -> None:
    env = parse(body([
        {"id": 1, "method": "a"},
        5,
        {"id": 2, "jsonrpc": "1.0", "method": "b"},
        {"id": 3, "method": ""},
        {"id": 4, "method": "c", "params": "x"},
        {"id": True, "method": "d"},
        {"id": 1.5, "method": "e"},
        {"id": {"x": 1}, "method": "f"},
    ]))
    assert env.batch
    first, *rest = env.entries
    assert first == Call(method="a", params={}, id=1)
    assert all(isinstance(r, Rejected) for r in rest)
    assert [r.id for r in rest] == [None, 2, 3, 4, None, None, None]
    assert {r.error.code for r in rest if isinstance(r, Rejected)} == {jsonrpc.INVALID_REQUEST}


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a": NaN}', b"[Infinity]", b"\xff\xfe",
                                 b"[" * 100_000])
def test_a_body_that_is_not_json_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(RpcError) as caught:
        parse(raw)
    assert caught.value.code == jsonrpc.PARSE_ERROR
    assert caught.value.data == {"type": "JSONParseError"}


@pytest.mark.parametrize("value", [[], [{"method": "m"}] * (jsonrpc.MAX_BATCH + 1)])
def test_an_empty_or_oversized_batch_is_an_invalid_request(value: list[Any]) -> None:
    with pytest.raises(RpcError) as caught:
        parse(body(value))
    assert caught.value.code == jsonrpc.INVALID_REQUEST


def test_a_batch_of_exactly_max_batch_is_parsed() -> None:
    assert len(parse(body([{"method": "m"}] * jsonrpc.MAX_BATCH)).entries) == jsonrpc.MAX_BATCH


def test_a_scalar_body_is_one_rejected_request() -> None:
    env = parse(body("hello"))
    assert not env.batch
    (entry,) = env.entries
    assert isinstance(entry, Rejected) and entry.error.code == jsonrpc.INVALID_REQUEST


NAMES = ("id", "columns")
REQUIRED = frozenset({"id"})


def test_bind_by_name_and_by_position() -> None:
    assert bind({"id": 1}, NAMES, REQUIRED) == {"id": 1}
    assert bind([1, "*"], NAMES, REQUIRED) == {"id": 1, "columns": "*"}
    assert bind([1], NAMES, REQUIRED) == {"id": 1}


@pytest.mark.parametrize(("params", "provided"), [
    ({"id": 1, "colour": 2}, ["id", "colour"]),
    ({"columns": "*"}, ["columns"]),
    ([], []),
    ([1, 2, 3], ["0", "1", "2"]),
])
def test_bind_refuses_unknown_missing_or_extra_params(params: Any, provided: list[str]) -> None:
    with pytest.raises(RpcError) as caught:
        bind(params, NAMES, REQUIRED)
    assert caught.value.code == jsonrpc.INVALID_PARAMS
    assert caught.value.data == {"type": "InvalidParams", "required_args": ["id"],
                                 "optional_args": ["columns"], "provided_args": provided}


WHEN = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.mark.parametrize(("exc", "code", "kind", "data"), [
    (errors.AssetNotFound("no asset"), 404, "NotFound", {}),
    (errors.VersionNotFound("no version"), 404, "NotFound", {}),
    (errors.Hidden(modified_by="mod", modification_date=WHEN), 404, "NotFound",
     {"reason": "hidden", "modified_by": "mod", "modification_date": WHEN}),
    (errors.PoolNotEmpty("full"), 409, "Conflict", {}),
    (errors.NotAnImage("a file"), 409, "Conflict", {}),
    (errors.Invalid("bad", field="conditions.version"), -32602, "InvalidParams",
     {"field": "conditions.version"}),
    (errors.InvalidConverter("bad", field="versions[0].width"), -32602, "InvalidParams",
     {"field": "versions[0].width"}),
    (errors.UnsupportedType("not an image", field="file"), -32602, "InvalidParams",
     {"field": "file"}),
    (errors.TooLarge("big", limit=1), -32602, "InvalidParams", {"field": "file"}),
    (errors.TooManyPixels("huge"), -32602, "InvalidParams", {}),
    (errors.Unauthenticated("who?"), -32000, "NotAuthorized", {"status": 401}),
    (errors.Forbidden("no"), -32000, "Forbidden", {"status": 403}),
    (errors.BackendUnavailable("down"), -32603, "InternalError", {"status": 503}),
])
def test_domain_errors_become_the_originals_codes(exc: errors.AssetryError, code: int,
                                                  kind: str, data: dict[str, Any]) -> None:
    error = from_domain(exc)
    assert error is not None
    assert (error.code, error.message, error.data) == (code, exc.message, {"type": kind, **data})


def test_errors_without_a_client_meaning_map_to_none() -> None:
    assert from_domain(errors.AssetryError("bug")) is None
    assert from_domain(errors.ConfigError("bad config")) is None


def test_fields_are_renamed_to_the_methods_params_by_their_first_name() -> None:
    renames = {"gallery": "correlation_id", "settings": "converter_settings"}
    gallery = from_domain(errors.Invalid("bad", field="gallery"), renames)
    nested = from_domain(errors.InvalidConverter("bad", field="settings.versions.x"), renames)
    listed = from_domain(errors.InvalidConverter("bad", field="versions[1].width"),
                         {"versions": "converter_settings.versions"})
    assert listed is not None and listed.data["field"] == "converter_settings.versions[1].width"
    other = from_domain(errors.Invalid("bad", field="metadata"), renames)
    assert gallery is not None and gallery.data["field"] == "correlation_id"
    assert nested is not None and nested.data["field"] == "converter_settings.versions.x"
    assert other is not None and other.data["field"] == "metadata"


def test_response_objects() -> None:
    assert jsonrpc.answer(3, [1]) == {"jsonrpc": "2.0", "id": 3, "result": [1]}
    error = jsonrpc.method_not_found("x.y")
    assert jsonrpc.failure("a", error) == {"jsonrpc": "2.0", "id": "a", "error": {
        "code": -32601, "message": "Method not found",
        "data": {"type": "MethodNotFound", "request_method": "x.y"}}}
