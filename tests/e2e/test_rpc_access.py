"""Who may call what over JSON-RPC: the REST API's bearer tokens and roles
(services/access.py) apply to every method. What REST answers 401 or 403 is the
original's -32000 (NotAuthorized) here, with `data.type` NotAuthorized or Forbidden and
`data.status` 401 or 403; a hidden asset is 404 with `data.reason` "hidden" below
moderator. A refused call changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.images import solid
from tests.support.jsonrpc import PATH, RpcClient
from tests.support.tokens import bearer

ROLES = ("anonymous", "viewer", "editor", "moderator", "admin")
POOLS = ("pub", "priv")
OWNERS = ("editor", "editor2")  # own and foreign from the editor's point of view
PUBLIC = {"pub": True, "priv": False}
IMAGE = solid(64, 48)


@dataclass
class World:
    http: httpx.Client
    tokens: dict[str, str]
    assets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    hidden: dict[str, dict[str, Any]] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {} if role == "anonymous" else bearer(self.tokens[role])

    def rpc(self, role: str) -> RpcClient:
        return RpcClient(self.http, self.auth(role))

    def upload(self, pool: str, owner: str) -> dict[str, Any]:
        r = self.http.post(f"/api/pools/{pool}/assets", params={"wait": "true"},
                           files={"file": ("photo.jpg", IMAGE)}, headers=self.auth(owner))
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def snapshot(self, asset: dict[str, Any]) -> dict[str, Any]:
        r = self.http.get(asset["url"], headers=self.auth("admin"))
        assert r.status_code == 200, f"the asset is gone after a refused call: {r.text}"
        body = r.json()
        return {k: body[k] for k in ("metadata", "gallery", "hidden", "sha256", "modified_at",
                                     "converter", "versions")}


@pytest.fixture(scope="module")
def world(base_url: str, tokens: dict[str, str]) -> Iterator[World]:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        w = World(http, tokens)
        for pool in POOLS:
            r = http.put(f"/api/pools/{pool}", json={"public": PUBLIC[pool]},
                         headers=w.auth("admin"))
            assert r.status_code == 201, r.text
            for owner in OWNERS:
                w.assets[pool, owner] = w.upload(pool, owner)
            w.hidden[pool] = w.upload(pool, "editor")
            r = http.patch(w.hidden[pool]["url"], json={"hidden": True}, headers=w.auth("admin"))
            assert r.status_code == 200, r.text
        yield w


def denied(error: dict[str, Any], status: int) -> None:
    assert error["code"] == -32000, error
    assert error["data"]["status"] == status, error
    assert error["data"]["type"] == ("NotAuthorized" if status == 401 else "Forbidden"), error


# -- reads -----------------------------------------------------------------------------


READS = ("images.get", "images.get version", "images.exists", "files.get")


def read_cases() -> Iterator[Any]:
    for op in READS:
        for role in ROLES:
            for pool in POOLS:
                ok = PUBLIC[pool] or role != "anonymous"
                yield pytest.param(op, role, pool, ok, id=f"{op} as {role} in {pool}")


@pytest.mark.parametrize(("op", "role", "pool", "ok"), list(read_cases()))
def test_reads(world: World, op: str, role: str, pool: str, ok: bool) -> None:
    asset = world.assets[pool, "editor2"]
    row_id = asset["versions"]["thumbnail"]["id"] if op.endswith("version") else asset["id"]
    method = op.split()[0]
    answer = world.rpc(role).request(method, {"id": row_id})
    if not ok:
        denied(answer["error"], 401)
        return
    result = answer["result"]
    assert result is True if method == "images.exists" else result["id"] == row_id
    if method != "images.exists":
        # The byte URL works for this caller as it is (signed in the non-public pool).
        uri = result["uri"] if method == "files.get" else result["file"]["uri"]
        assert ("sig=" in uri) is not PUBLIC[pool]
        got = world.http.get(uri)
        assert got.status_code == 200 and got.content


@pytest.mark.parametrize("role", ROLES)
def test_listings_and_galleries_show_what_the_role_may_read(world: World, role: str) -> None:
    rpc = world.rpc(role)
    every = [*world.assets.values(), *world.hidden.values()]
    ids = [a["id"] for a in every]
    readable = {a["id"] for (pool, _), a in world.assets.items()
                if PUBLIC[pool] or role != "anonymous"}
    if role in ("moderator", "admin"):
        readable |= {a["id"] for a in world.hidden.values()}
    for method in ("images.list", "files.list"):
        page = rpc.call(method, conditions={"id": ids}, columns="id")
        assert {r["id"] for r in page["data"]} == readable, method
        assert page["count"] == len(readable)
    versions = rpc.call("images.list", conditions={"original_id": ids}, columns="id")
    assert versions["count"] == 2 * len(readable)
    galleries = rpc.call("images.gallery", id=[a["gallery"] for a in every])
    assert {g["id"] for g in galleries} == readable


@pytest.mark.parametrize("role", ROLES)
def test_hidden_images_are_404_below_moderator(world: World, role: str) -> None:
    hidden = world.hidden["pub"]
    rpc = world.rpc(role)
    answer = rpc.request("images.get", {"id": hidden["id"]})
    if role in ("moderator", "admin"):
        assert answer["result"]["id"] == hidden["id"]
        assert rpc.call("images.exists", id=hidden["id"]) is True
        return
    error = answer["error"]
    assert (error["code"], error["data"]["type"], error["data"]["reason"]) == (
        404, "NotFound", "hidden")
    assert error["data"]["modified_by"] == "admin"
    assert rpc.call("images.exists", id=hidden["id"]) is False


@pytest.mark.parametrize("role", ROLES)
def test_converters_list_needs_a_token(world: World, role: str) -> None:
    answer = world.rpc(role).request("images.converters.list", {})
    if role == "anonymous":
        denied(answer["error"], 401)
    else:
        assert "default" in [c["name"] for c in answer["result"]["data"]]


# -- writes ----------------------------------------------------------------------------


WRITES = {
    "images.update": lambda a: {"id": a["id"], "data": {"metadata": {"changed": True}}},
    "images.delete": lambda a: {"id": a["id"]},
    "images.delete version": lambda a: {"id": a["versions"]["thumbnail"]["id"]},
    "images.versions.delete": lambda a: {"id": a["id"], "versions": ["thumbnail"]},
    "images.convert_image": lambda a: {"id": a["id"]},
    "files.delete": lambda a: {"id": a["id"]},
}


def expected_write(role: str, owner: str) -> int | None:
    """None: allowed; else the REST status of the refusal."""
    if role == "anonymous":
        return 401
    if role == "viewer" or (role == "editor" and owner != "editor"):
        return 403
    return None


def write_cases() -> Iterator[Any]:
    for op in WRITES:
        for role in ROLES:
            for owner in OWNERS:
                side = "own" if owner == "editor" else "foreign"
                yield pytest.param(op, role, owner, expected_write(role, owner),
                                   id=f"{op} as {role} on {side}")


@pytest.mark.parametrize(("op", "role", "owner", "refused"), list(write_cases()))
def test_writes(world: World, op: str, role: str, owner: str, refused: int | None) -> None:
    asset = world.upload("pub", owner)
    before = world.snapshot(asset)
    answer = world.rpc(role).request(op.split()[0], WRITES[op](asset))
    if refused is not None:
        denied(answer["error"], refused)
        assert world.snapshot(asset) == before
        return
    assert "result" in answer, answer
    after = world.http.get(asset["url"], headers=world.auth("admin"))
    if op in ("images.delete", "files.delete"):
        assert after.status_code == 404
    elif op in ("images.delete version", "images.versions.delete"):
        assert set(after.json()["versions"]) == {"detail"}
    elif op == "images.update":
        assert after.json()["metadata"] == {"changed": True}
        assert after.json()["modified_by"] == role
    else:
        assert after.json()["versions"]["thumbnail"]["id"] != (
            asset["versions"]["thumbnail"]["id"])


CREATES = ("images.create", "images.convert_from_file")


@pytest.mark.parametrize(("op", "role"), [(op, role) for op in CREATES for role in ROLES])
def test_making_images_from_files(world: World, op: str, role: str) -> None:
    source = world.assets["pub", "editor2"]
    params = ({"data": {"file_id": source["id"]}} if op == "images.create"
              else {"file_id": source["id"]})
    admin = world.rpc("admin")
    before = admin.call("images.list", conditions={"version": None}, limit=0)["count"]
    answer = world.rpc(role).request(op, params)
    if role in ("anonymous", "viewer"):
        denied(answer["error"], 401 if role == "anonymous" else 403)
        assert admin.call("images.list", conditions={"version": None}, limit=0)["count"] == before
        return
    made = answer["result"] if op == "images.create" else answer["result"][0]
    r = world.http.get(f"/api/assets/{made['id']}", headers=world.auth("admin"))
    assert r.json()["creator"] == role and r.json()["pool"] == "pub"


def test_a_private_file_needs_credentials_to_be_read_before_anything(world: World) -> None:
    source = world.assets["priv", "editor"]
    denied(world.rpc("anonymous").error("images.convert_from_file", file_id=source["id"]), 401)


# -- bad credentials -------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Bearer ast_bogus", "Basic abc", "Bearer"])
def test_bad_credentials_fail_the_whole_body(world: World, header: str) -> None:
    asset = world.upload("pub", "editor")
    before = world.snapshot(asset)
    update = {"jsonrpc": "2.0", "id": 1, "method": "images.update",
              "params": {"id": asset["id"], "data": {"metadata": {"x": 1}}}}
    for body in (update, [update, {**update, "id": 2}]):
        r = world.http.post(PATH, json=body, headers={"Authorization": header})
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["id"] is None and "result" not in answer  # one error, also for a batch
        denied(answer["error"], 401)
    # Never read as anonymous, not even for what anonymous callers may read.
    r = world.http.post(PATH, json={"id": 1, "method": "images.get",
                                    "params": {"id": asset["id"]}},
                        headers={"Authorization": header})
    denied(r.json()["error"], 401)
    assert world.snapshot(asset) == before
