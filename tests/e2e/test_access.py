"""Who may do what, over real HTTP: every endpoint x every role x own/foreign asset x
public/non-public pool, with the exact status API.md ("Credentials") and the role rules
of services/access.py promise. Plus bad credentials, hidden assets, revoked tokens,
signed URLs and galleries that span pools.

Reads share assets made once per module; every write case gets a fresh asset of its own
(writes delete, replace and hide), and a refused write is checked to have changed nothing.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from assetry.services.signing import UrlSigner
from tests.support.images import solid
from tests.support.rawhttp import raw_request
from tests.support.tokens import bearer

ROLES = ("anonymous", "viewer", "editor", "moderator", "admin")
POOLS = ("pub", "priv")
OWNERS = ("editor", "editor2")  # "own" and "foreign" from the editor's point of view
PUBLIC = {"pub": True, "priv": False}
IMAGE = solid(64, 48)
SIGNED = re.compile(r"^(?P<path>/api/assets/[0-9a-f-]{36}(/content|/versions/\w+))"
                    r"\?exp=(?P<exp>\d+)&sig=(?P<sig>[A-Za-z0-9_-]+)(&v=[0-9a-f]{16})?$")
# Credentials that are present but worthless: never served as anonymous.
BAD_CREDENTIALS = {
    "unknown-bearer": "Bearer ast_bogus",
    "basic": "Basic abc",
    "empty-bearer": "Bearer ",
}


def side(owner: str) -> str:
    return "own" if owner == "editor" else "foreign"


def visibility(pool: str) -> str:
    return "public" if PUBLIC[pool] else "private"


# --------------------------------------------------------------------------- fixtures


@dataclass
class World:
    """What the module shares: one HTTP client (no default credentials), the tokens, and
    read-only assets by (pool, owner)."""

    http: httpx.Client
    tokens: dict[str, str]
    assets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    hidden: dict[str, dict[str, Any]] = field(default_factory=dict)  # by pool, owner "editor"

    def auth(self, role: str) -> dict[str, str]:
        return {} if role == "anonymous" else bearer(self.tokens[role])

    def upload(self, pool: str, owner: str, *, wait: bool = False,
               **fields: str) -> dict[str, Any]:
        r = self.http.post(f"/api/pools/{pool}/assets", params={"wait": "true"} if wait else {},
                           files={"file": ("photo.jpg", IMAGE)}, data=fields,
                           headers=self.auth(owner))
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def admin(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, url, headers=self.auth("admin"), **kwargs)

    def hide(self, asset: dict[str, Any]) -> None:
        r = self.admin("PATCH", asset["url"], json={"hidden": True})
        assert r.status_code == 200 and r.json()["hidden"] is True, r.text


@pytest.fixture(scope="module")
def world(base_url: str, tokens: dict[str, str]) -> Iterator[World]:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        w = World(http, tokens)
        for pool in POOLS:
            r = w.admin("PUT", f"/api/pools/{pool}", json={"public": PUBLIC[pool]})
            assert r.status_code == 201, r.text
            for owner in OWNERS:
                w.assets[pool, owner] = w.upload(pool, owner, wait=True)
            w.hidden[pool] = w.upload(pool, "editor", wait=True)
            w.hide(w.hidden[pool])
        yield w


@pytest.fixture
def fresh(world: World) -> Callable[..., dict[str, Any]]:
    """A new asset uploaded by `owner` into `pool`, for one mutating case."""

    def make(pool: str, owner: str, *, hidden: bool = False,
             attached: str | None = None) -> dict[str, Any]:
        asset = world.upload(pool, owner)
        if attached is not None:
            r = world.admin("POST", f"{asset['url']}/attachments", json={"resource": attached})
            assert r.status_code == 200, r.text
        if hidden:
            world.hide(asset)
        return asset

    return make


def snapshot(world: World, asset: dict[str, Any]) -> dict[str, Any]:
    """What a refused write must leave as it was (read as admin, who sees hidden assets)."""
    r = world.admin("GET", asset["url"])
    assert r.status_code == 200, f"the asset is gone after a refused write: {r.status_code}"
    body = r.json()
    keep = ("filename", "metadata", "gallery", "hidden", "attached_to", "sha256",
            "modified_by", "modified_at", "converter")
    return {**{k: body[k] for k in keep}, "versions": sorted(body["versions"])}


# --------------------------------------------------------------------------- reads


ASSET_READS = {
    "GET asset": "{url}",
    "GET content": "/api/assets/{id}/content",
    "GET versions/thumbnail": "/api/assets/{id}/versions/thumbnail",
    "HEAD content": "/api/assets/{id}/content",
}


def read_cases() -> Iterator[Any]:
    for op in ASSET_READS:
        for role in ROLES:
            for owner in OWNERS:
                for pool in POOLS:
                    expected = 401 if role == "anonymous" and not PUBLIC[pool] else 200
                    yield pytest.param(op, role, owner, pool, expected,
                                       id=f"{op} as {role}/{side(owner)}/{visibility(pool)}")


@pytest.mark.parametrize(("op", "role", "owner", "pool", "expected"), list(read_cases()))
def test_asset_reads(world: World, op: str, role: str, owner: str, pool: str,
                     expected: int) -> None:
    asset = world.assets[pool, owner]
    # The plain path, without a signature: only credentials count here.
    url = ASSET_READS[op].format(url=asset["url"], id=asset["id"])
    method = op.split()[0]
    r = world.http.request(method, url, headers=world.auth(role))
    assert r.status_code == expected, f"{method} {url} as {role}: {r.status_code} {r.text}"
    if expected == 200 and op == "GET asset":
        assert r.json()["id"] == asset["id"] and r.json()["creator"] == owner
    if expected == 200 and op == "GET content":
        assert r.content == IMAGE
    if expected == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


def pool_read_cases() -> Iterator[Any]:
    for role in ROLES:
        for pool in POOLS:
            anon_private = role == "anonymous" and not PUBLIC[pool]
            # A listing of a non-public pool needs credentials; a gallery whose only
            # image is non-public does not exist for an anonymous caller.
            for op, expected in (("GET pool assets", 401 if anon_private else 200),
                                 ("GET gallery", 404 if anon_private else 200),
                                 ("GET galleries?id=", 200)):
                yield pytest.param(op, role, pool, expected,
                                   id=f"{op} as {role}/{visibility(pool)}")


@pytest.mark.parametrize(("op", "role", "pool", "expected"), list(pool_read_cases()))
def test_pool_scoped_reads(world: World, op: str, role: str, pool: str, expected: int) -> None:
    asset = world.assets[pool, "editor"]
    if op == "GET pool assets":
        r = world.http.get(f"/api/pools/{pool}/assets", params={"limit": 500},
                           headers=world.auth(role))
    elif op == "GET gallery":
        r = world.http.get(f"/api/galleries/{asset['gallery']}", headers=world.auth(role))
    else:
        r = world.http.get("/api/galleries", params={"id": asset["gallery"]},
                           headers=world.auth(role))
    assert r.status_code == expected, f"{op} {pool} as {role}: {r.status_code} {r.text}"
    if expected != 200:
        return
    body = r.json()
    anon_private = role == "anonymous" and not PUBLIC[pool]
    if op == "GET pool assets":
        ids = {a["id"] for a in body["items"]}
        assert {world.assets[pool, o]["id"] for o in OWNERS} <= ids
        sees_hidden = role in ("moderator", "admin")
        assert (world.hidden[pool]["id"] in ids) is sees_hidden
    elif op == "GET gallery":
        assert [i["id"] for i in body["images"]] == [asset["id"]]
    else:
        assert [g["id"] for g in body["items"]] == ([] if anon_private else [asset["gallery"]])


CATALOG_READS = ("/api/pools", "/api/pools/pub", "/api/pools/priv", "/api/converters",
                 "/api/converters/default")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", CATALOG_READS)
def test_catalog_reads(world: World, path: str, role: str) -> None:
    r = world.http.get(path, headers=world.auth(role))
    expected = 401 if role == "anonymous" else 200
    assert r.status_code == expected, f"GET {path} as {role}: {r.status_code} {r.text}"
    if expected == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


# --------------------------------------------------------------------------- asset writes


@dataclass(frozen=True)
class Write:
    method: str
    path: str  # appended to the asset's url
    json: Any = None
    params: dict[str, str] | None = None
    multipart: bool = False
    moderation: bool = False  # hide/unhide: moderators and admins only
    attached: str | None = None  # give the fresh asset this attachment first

    def send(self, world: World, asset: dict[str, Any], role: str) -> httpx.Response:
        kwargs: dict[str, Any] = {"headers": world.auth(role)}
        if self.json is not None:
            kwargs["json"] = self.json
        if self.params is not None:
            kwargs["params"] = self.params
        if self.multipart:
            kwargs["files"] = {"file": ("replacement.jpg", solid(48, 64, (200, 10, 10)))}
        return world.http.request(self.method, asset["url"] + self.path, **kwargs)


ASSET_WRITES = {
    "PUT asset": Write("PUT", "", multipart=True),
    "PATCH asset{filename}": Write("PATCH", "", json={"filename": "renamed.jpg"}),
    "PATCH asset{metadata}": Write("PATCH", "", json={"metadata": {"alt": "x"}}),
    "PATCH asset{gallery}": Write("PATCH", "", json={"gallery": "g-moved"}),
    "PATCH asset{hidden:true}": Write("PATCH", "", json={"hidden": True}, moderation=True),
    "PATCH asset{hidden:false}": Write("PATCH", "", json={"hidden": False}, moderation=True),
    "DELETE asset": Write("DELETE", ""),
    "POST attachments": Write("POST", "/attachments", json={"resource": "proposals/42/V1"}),
    "DELETE attachments": Write("DELETE", "/attachments", params={"resource": "proposals/42/V1"},
                                attached="proposals/42/V1"),
    "POST convert": Write("POST", "/convert", json={}),
    "DELETE versions/thumbnail": Write("DELETE", "/versions/thumbnail"),
}


def expected_write(role: str, owner: str, write: Write) -> int:
    if role == "anonymous":
        return 401
    if role == "viewer":
        return 403
    if role == "editor" and (owner != "editor" or write.moderation):
        return 403
    return 200


def write_cases() -> Iterator[Any]:
    for op, write in ASSET_WRITES.items():
        for role in ROLES:
            for owner in OWNERS:
                for pool in POOLS:
                    yield pytest.param(op, role, owner, pool,
                                       expected_write(role, owner, write),
                                       id=f"{op} as {role}/{side(owner)}/{visibility(pool)}")


@pytest.mark.parametrize(("op", "role", "owner", "pool", "expected"), list(write_cases()))
def test_asset_writes(world: World, fresh: Callable[..., dict[str, Any]], op: str, role: str,
                      owner: str, pool: str, expected: int) -> None:
    write = ASSET_WRITES[op]
    asset = fresh(pool, owner, attached=write.attached)
    before = snapshot(world, asset) if expected != 200 else None
    r = write.send(world, asset, role)
    assert r.status_code == expected, (
        f"{write.method} {asset['url']}{write.path} as {role} on {side(owner)} asset in "
        f"{pool}: {r.status_code} {r.text}")
    if expected == 200:
        body = r.json()
        assert body["id"] == asset["id"] and "updated_resources" in body
        if write.method != "DELETE" or write.path:
            assert body["modified_by"] == role and body["creator"] == owner
        return
    assert r.headers["content-type"] == "application/problem+json"
    if expected == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert snapshot(world, asset) == before, "a refused write changed the asset"


def upload_cases() -> Iterator[Any]:
    for role in ROLES:
        for pool in POOLS:
            ok = {"anonymous": 401, "viewer": 403}.get(role)
            yield pytest.param("POST assets", role, pool, ok or 201,
                               id=f"POST pool assets as {role}/{visibility(pool)}")
            # An import from a loopback address is refused by the URL policy (422), which
            # is only consulted once the caller may add assets: 422 means "allowed".
            yield pytest.param("POST imports", role, pool, ok or 422,
                               id=f"POST pool imports as {role}/{visibility(pool)}")


@pytest.mark.parametrize(("op", "role", "pool", "expected"), list(upload_cases()))
def test_adding_assets(world: World, op: str, role: str, pool: str, expected: int) -> None:
    if op == "POST assets":
        r = world.http.post(f"/api/pools/{pool}/assets", files={"file": ("a.jpg", IMAGE)},
                            headers=world.auth(role))
    else:
        r = world.http.post(f"/api/pools/{pool}/imports",
                            json={"url": "http://127.0.0.1/a.jpg"}, headers=world.auth(role))
    assert r.status_code == expected, f"{op} {pool} as {role}: {r.status_code} {r.text}"
    if expected == 201:
        body = r.json()
        assert body["creator"] == role and body["modified_by"] == role
        assert body["pool"] == pool
    if op == "POST imports" and expected == 422:
        assert r.json()["errors"][0]["field"] == "url"


# --------------------------------------------------------------------------- pools, converters


CONVERTER_BODY = {"versions": [{"name": "small", "width": 32, "height": 32}]}


def admin_cases() -> Iterator[Any]:
    ops = {"PUT pool (new)": 201, "PUT pool (existing)": 200, "DELETE pool (empty)": 204,
           "PUT converter (new)": 201, "PUT converter (existing)": 200,
           "DELETE converter (unused)": 204}
    for op, ok in ops.items():
        for role in ROLES:
            expected = {"anonymous": 401, "admin": ok}.get(role, 403)
            yield pytest.param(op, role, expected, id=f"{op} as {role}")


@pytest.mark.parametrize(("op", "role", "expected"), list(admin_cases()))
def test_pools_and_converters(world: World, op: str, role: str, expected: int) -> None:
    kind = "pools" if "pool" in op else "converters"
    name = f"acl-{uuid.uuid4().hex[:12]}"
    url = f"/api/{kind}/{name}"
    body = {"public": False, "title": "t"} if kind == "pools" else CONVERTER_BODY
    exists = "(new)" not in op
    if exists:
        assert world.admin("PUT", url, json=body).status_code == 201
    before = world.admin("GET", url)
    if op.startswith("PUT"):
        changed = {"public": True, "title": "changed"} if kind == "pools" else {
            "versions": [{"name": "other", "width": 16, "height": 16}]}
        r = world.http.put(url, json=changed, headers=world.auth(role))
    else:
        r = world.http.delete(url, headers=world.auth(role))
    assert r.status_code == expected, f"{op} {url} as {role}: {r.status_code} {r.text}"
    after = world.admin("GET", url)
    if expected in (401, 403):
        assert r.headers["content-type"] == "application/problem+json"
        assert (after.status_code, after.text) == (before.status_code, before.text), \
            "a refused change of a pool or converter changed it"
    elif op.startswith("DELETE"):
        assert after.status_code == 404
    else:
        assert after.status_code == 200 and after.json() == r.json()


# --------------------------------------------------------------------------- bad credentials


def all_endpoints(world: World) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every endpoint, aimed at things that exist (a public pool's asset wherever one is
    needed: bad credentials must be refused even where anonymous reads are allowed)."""
    a = world.assets["pub", "editor"]
    u = a["url"]
    image = {"files": {"file": ("x.jpg", IMAGE)}}
    return {
        "GET /api/pools": ("GET", "/api/pools", {}),
        "GET /api/pools/{name}": ("GET", "/api/pools/pub", {}),
        "PUT /api/pools/{name}": ("PUT", "/api/pools/pub", {"json": {"public": False}}),
        "DELETE /api/pools/{name}": ("DELETE", "/api/pools/pub", {}),
        "GET /api/pools/{p}/assets": ("GET", "/api/pools/pub/assets", {}),
        "POST /api/pools/{p}/assets": ("POST", "/api/pools/pub/assets", image),
        "POST /api/pools/{p}/imports": ("POST", "/api/pools/pub/imports",
                                        {"json": {"url": "http://127.0.0.1/a.jpg"}}),
        "GET /api/assets/{id}": ("GET", u, {}),
        "PUT /api/assets/{id}": ("PUT", u, image),
        "PATCH /api/assets/{id}": ("PATCH", u, {"json": {"filename": "bad.jpg"}}),
        "DELETE /api/assets/{id}": ("DELETE", u, {}),
        "GET /api/assets/{id}/content": ("GET", f"{u}/content", {}),
        "HEAD /api/assets/{id}/content": ("HEAD", f"{u}/content", {}),
        "GET /api/assets/{id}/versions/{v}": ("GET", f"{u}/versions/thumbnail", {}),
        "HEAD /api/assets/{id}/versions/{v}": ("HEAD", f"{u}/versions/thumbnail", {}),
        "DELETE /api/assets/{id}/versions/{v}": ("DELETE", f"{u}/versions/thumbnail", {}),
        "POST /api/assets/{id}/convert": ("POST", f"{u}/convert", {"json": {}}),
        "POST /api/assets/{id}/attachments": ("POST", f"{u}/attachments",
                                              {"json": {"resource": "r/1"}}),
        "DELETE /api/assets/{id}/attachments": ("DELETE", f"{u}/attachments",
                                                {"params": {"resource": "r/1"}}),
        "GET /api/galleries/{id}": ("GET", f"/api/galleries/{a['gallery']}", {}),
        "GET /api/galleries": ("GET", "/api/galleries", {"params": {"id": a["gallery"]}}),
        "GET /api/converters": ("GET", "/api/converters", {}),
        "GET /api/converters/{name}": ("GET", "/api/converters/default", {}),
        "PUT /api/converters/{name}": ("PUT", "/api/converters/default",
                                       {"json": CONVERTER_BODY}),
        "DELETE /api/converters/{name}": ("DELETE", "/api/converters/default", {}),
        "GET /api/me": ("GET", "/api/me", {}),
    }


ENDPOINT_NAMES = [
    "GET /api/pools", "GET /api/pools/{name}", "PUT /api/pools/{name}",
    "DELETE /api/pools/{name}", "GET /api/pools/{p}/assets", "POST /api/pools/{p}/assets",
    "POST /api/pools/{p}/imports", "GET /api/assets/{id}", "PUT /api/assets/{id}",
    "PATCH /api/assets/{id}", "DELETE /api/assets/{id}", "GET /api/assets/{id}/content",
    "HEAD /api/assets/{id}/content", "GET /api/assets/{id}/versions/{v}",
    "HEAD /api/assets/{id}/versions/{v}", "DELETE /api/assets/{id}/versions/{v}",
    "POST /api/assets/{id}/convert", "POST /api/assets/{id}/attachments",
    "DELETE /api/assets/{id}/attachments", "GET /api/galleries/{id}", "GET /api/galleries",
    "GET /api/converters", "GET /api/converters/{name}", "PUT /api/converters/{name}",
    "DELETE /api/converters/{name}", "GET /api/me",
]


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS), ids=list(BAD_CREDENTIALS))
@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
def test_bad_credentials_are_401_everywhere(world: World, endpoint: str,
                                            credentials: str) -> None:
    method, url, kwargs = all_endpoints(world)[endpoint]
    # Raw bytes on the wire: httpx will not send `Bearer ` with its trailing space.
    r = raw_request(str(world.http.base_url).rstrip("/"), method, url,
                    extra_headers=[("Authorization", BAD_CREDENTIALS[credentials])], **kwargs)
    assert r.status_code == 401, f"{method} {url} with {credentials}: {r.status_code} {r.content!r}"
    assert r.headers.get("www-authenticate", "").startswith("Bearer"), r.headers


def test_bad_credentials_changed_nothing(world: World) -> None:
    # Runs after the parametrized cases above (file order): the shared targets are intact.
    a = world.assets["pub", "editor"]
    got = world.admin("GET", a["url"]).json()
    assert (got["filename"], got["modified_by"], got["hidden"]) == ("photo.jpg", "editor", False)
    assert set(got["versions"]) == {"detail", "thumbnail"}
    assert world.admin("GET", "/api/pools/pub").json()["public"] is True
    assert world.admin("GET", "/api/converters/default").json()["versions"][0]["name"] == "detail"


def order_cases() -> Iterator[Any]:
    """Missing credentials answer 401 before the request is looked at any further."""
    missing = "00000000-0000-4000-8000-000000000000"
    yield from (
        pytest.param("PATCH", f"/api/assets/{missing}", {"json": {"filename": "x"}},
                     id="PATCH unknown asset"),
        pytest.param("DELETE", f"/api/assets/{missing}", {}, id="DELETE unknown asset"),
        pytest.param("PUT", f"/api/assets/{missing}", {"files": {"file": ("x.jpg", IMAGE)}},
                     id="PUT unknown asset"),
        pytest.param("POST", f"/api/assets/{missing}/convert", {"json": {}},
                     id="POST convert unknown asset"),
        pytest.param("DELETE", f"/api/assets/{missing}/versions/thumbnail", {},
                     id="DELETE version of unknown asset"),
        pytest.param("PATCH", "{url}", {"json": {"no_such_field": 1}},
                     id="PATCH unknown field"),
        pytest.param("POST", "{url}/convert", {"json": {"no_such_field": 1}},
                     id="POST convert unknown field"),
        pytest.param("POST", "{url}/attachments", {"json": {}},
                     id="POST attachments without resource"),
        pytest.param("DELETE", "{url}/attachments", {},
                     id="DELETE attachments without resource"),
        pytest.param("POST", "/api/pools/pub/imports", {"json": {}},
                     id="POST imports without url"),
        pytest.param("POST", "/api/pools/nosuchpool/assets", {"files": {"file": ("x", IMAGE)}},
                     id="POST assets into unknown pool"),
        pytest.param("PUT", "/api/pools/Bad Name", {"json": {}}, id="PUT pool bad name"),
        pytest.param("PUT", "/api/pools/x", {"content": b"{not json",
                                             "headers": {"content-type": "application/json"}},
                     id="PUT pool body not JSON"),
        pytest.param("PUT", "/api/converters/x", {"json": {"versions": "no"}},
                     id="PUT converter invalid"),
        pytest.param("GET", "/api/pools/nosuchpool", {}, id="GET unknown pool"),
        pytest.param("GET", "/api/converters/nosuch", {}, id="GET unknown converter"),
    )


@pytest.mark.parametrize("who", ["anonymous", "unknown-bearer"])
@pytest.mark.parametrize(("method", "path", "kwargs"), list(order_cases()))
def test_credentials_are_checked_first(world: World, method: str, path: str,
                                       kwargs: dict[str, Any], who: str) -> None:
    url = path.format(url=world.assets["pub", "editor"]["url"])
    kwargs = dict(kwargs)  # the parameter is shared between the cases
    headers = dict(kwargs.pop("headers", {}))
    if who != "anonymous":
        headers["Authorization"] = BAD_CREDENTIALS[who]
    r = world.http.request(method, url, headers=headers, **kwargs)
    assert r.status_code == 401, f"{method} {url} as {who}: {r.status_code} {r.text}"
    assert r.headers.get("www-authenticate", "").startswith("Bearer")


def test_revoked_token_is_401_and_listed_without_its_secret(world: World,
                                                            data_dir: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "assetry", "tokens", *args,
                               "--data-dir", str(data_dir)],
                              capture_output=True, text=True, timeout=60, check=True)

    secret = cli("create", "--role", "editor", "--name", "temp").stdout.strip()
    assert secret.startswith("ast_") and "\n" not in secret
    headers = bearer(secret)
    asset = world.assets["pub", "editor"]
    assert world.http.get("/api/pools", headers=headers).status_code == 200
    r = world.http.post("/api/pools/pub/assets", files={"file": ("t.jpg", IMAGE)},
                        headers=headers)
    assert r.status_code == 201 and r.json()["creator"] == "temp"
    cli("revoke", "temp")
    for method, url in (("GET", "/api/pools"), ("GET", asset["url"]),
                        ("GET", f"{asset['url']}/content"), ("GET", "/api/pools/pub/assets")):
        r = world.http.request(method, url, headers=headers)
        assert r.status_code == 401, f"{method} {url} with a revoked token: {r.status_code}"
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = world.http.post("/api/pools/pub/assets", files={"file": ("t.jpg", IMAGE)},
                        headers=headers)
    assert r.status_code == 401
    listing = cli("list").stdout
    line = next(x for x in listing.splitlines() if x.startswith("temp"))
    assert "revoked" in line and "editor" in line
    assert secret not in listing
    assert secret[4:] not in listing and secret[4:20] not in listing


@pytest.mark.parametrize("role", ROLES)
def test_me_names_the_callers_token_and_role(world: World, role: str) -> None:
    r = world.http.get("/api/me", headers=world.auth(role))
    assert r.status_code == 200, r.text
    expected = {"name": None, "role": None} if role == "anonymous" else {"name": role, "role": role}
    assert r.json() == expected


# --------------------------------------------------------------------------- hidden assets


def hidden_read_cases() -> Iterator[Any]:
    for op in ("GET asset", "GET content", "GET versions/thumbnail"):
        for role in ROLES:
            for pool in POOLS:
                if role == "anonymous":
                    expected = 410 if PUBLIC[pool] else 401  # credentials first
                else:
                    expected = 200 if role in ("moderator", "admin") else 410
                yield pytest.param(op, role, pool, expected,
                                   id=f"{op} hidden as {role}/own/{visibility(pool)}")


@pytest.mark.parametrize(("op", "role", "pool", "expected"), list(hidden_read_cases()))
def test_hidden_reads(world: World, op: str, role: str, pool: str, expected: int) -> None:
    asset = world.hidden[pool]
    url = ASSET_READS[op].format(url=asset["url"], id=asset["id"])
    r = world.http.get(url, headers=world.auth(role))
    assert r.status_code == expected, f"GET {url} (hidden) as {role}: {r.status_code} {r.text}"
    if expected == 410:
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert problem["reason"] == "hidden" and problem["modified_by"] == "admin"
        assert problem["modification_date"].endswith("Z")
    if expected == 200 and op == "GET asset":
        assert r.json()["hidden"] is True


HIDDEN_WRITES = ("PATCH asset{filename}", "PUT asset", "DELETE asset", "POST attachments",
                 "POST convert", "DELETE versions/thumbnail")


def hidden_write_cases() -> Iterator[Any]:
    for op in HIDDEN_WRITES:
        for role in ROLES:
            expected = {"anonymous": 401, "viewer": 403, "editor": 410}.get(role, 200)
            yield pytest.param(op, role, expected, id=f"{op} hidden as {role}/own/public")


@pytest.mark.parametrize(("op", "role", "expected"), list(hidden_write_cases()))
def test_hidden_writes(world: World, fresh: Callable[..., dict[str, Any]], op: str, role: str,
                       expected: int) -> None:
    asset = fresh("pub", "editor", hidden=True)
    before = snapshot(world, asset)
    r = ASSET_WRITES[op].send(world, asset, role)
    assert r.status_code == expected, f"{op} (hidden, own) as {role}: {r.status_code} {r.text}"
    if expected == 410:
        assert r.json()["reason"] == "hidden"
    if expected != 200:
        assert snapshot(world, asset) == before


def test_unhiding_restores_access(world: World, fresh: Callable[..., dict[str, Any]]) -> None:
    asset = fresh("pub", "editor", hidden=True)
    assert world.http.get(asset["url"], headers=world.auth("editor")).status_code == 410
    r = world.http.patch(asset["url"], json={"hidden": False}, headers=world.auth("moderator"))
    assert r.status_code == 200 and r.json()["hidden"] is False
    assert r.json()["modified_by"] == "moderator"
    for role in ("anonymous", "viewer", "editor"):
        assert world.http.get(asset["url"], headers=world.auth(role)).status_code == 200


# --------------------------------------------------------------------------- who did it


def test_creator_and_modified_by_are_the_token_names(world: World,
                                                     fresh: Callable[..., dict[str, Any]]
                                                     ) -> None:
    asset = fresh("priv", "editor")
    assert (asset["creator"], asset["modified_by"]) == ("editor", "editor")
    r = world.http.patch(asset["url"], json={"metadata": {"k": 1}},
                         headers=world.auth("moderator"))
    assert r.status_code == 200
    assert (r.json()["creator"], r.json()["modified_by"]) == ("editor", "moderator")
    got = world.http.get(asset["url"], headers=world.auth("viewer")).json()
    assert (got["creator"], got["modified_by"]) == ("editor", "moderator")
    # The editor still owns it after a moderator's change.
    r = world.http.patch(asset["url"], json={"filename": "mine.jpg"},
                         headers=world.auth("editor"))
    assert r.status_code == 200 and r.json()["modified_by"] == "editor"
    assert world.assets["priv", "editor2"]["creator"] == "editor2"


# --------------------------------------------------------------------------- signed URLs


def signed_parts(url: str) -> tuple[str, str, str]:
    m = SIGNED.match(url)
    assert m is not None, f"not a signed URL: {url}"
    return m["path"], m["exp"], m["sig"]


def v_of(world: World, version: dict[str, Any]) -> str:
    """The `v` a version URL carries: the first 16 hex digits of its bytes' SHA-256."""
    url = version["url"].split("?")[0]
    return hashlib.sha256(world.http.get(url, headers=world.auth("admin")).content
                          ).hexdigest()[:16]


def flip(sig: str) -> str:
    return ("A" if sig[0] != "A" else "B") + sig[1:]


def test_private_urls_are_signed_and_public_ones_plain(world: World) -> None:
    for role in ("viewer", "editor", "admin"):
        for owner in OWNERS:
            priv = world.http.get(world.assets["priv", owner]["url"],
                                  headers=world.auth(role)).json()
            path, exp, _ = signed_parts(priv["content_url"])
            assert path == f"{priv['url']}/content" and int(exp) > time.time()
            assert set(priv["versions"]) == {"detail", "thumbnail"}
            for name, v in priv["versions"].items():
                assert signed_parts(v["url"])[0] == f"{priv['url']}/versions/{name}"
            assert priv["url"] == f"/api/assets/{priv['id']}"  # the JSON URL stays plain
        pub = world.http.get(world.assets["pub", "editor"]["url"],
                             headers=world.auth(role)).json()
        assert pub["content_url"] == f"{pub['url']}/content?v={pub['sha256'][:16]}"
        assert all(v["url"] == f"{pub['url']}/versions/{n}?v={v_of(world, v)}"
                   for n, v in pub["versions"].items())
    # Listings and galleries sign the same way.
    items = world.http.get("/api/pools/priv/assets", headers=world.auth("viewer")).json()["items"]
    assert items and all(SIGNED.match(a["content_url"]) for a in items)
    gallery = world.assets["priv", "editor"]["gallery"]
    images = world.http.get(f"/api/galleries/{gallery}",
                            headers=world.auth("viewer")).json()["images"]
    assert all(SIGNED.match(i["content_url"]) for i in images)


def test_signed_urls_stand_in_for_credentials_and_nothing_more(world: World) -> None:
    a = world.admin("GET", world.assets["priv", "editor"]["url"]).json()
    b = world.admin("GET", world.assets["priv", "editor2"]["url"]).json()
    http = world.http
    content, thumb = a["content_url"], a["versions"]["thumbnail"]["url"]
    r = http.get(content)
    assert r.status_code == 200 and r.content == IMAGE
    r = http.get(thumb)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content
    assert http.head(thumb).status_code == 200

    c_path, c_exp, c_sig = signed_parts(content)
    t_path, t_exp, t_sig = signed_parts(thumb)
    b_thumb_path = signed_parts(b["versions"]["thumbnail"]["url"])[0]
    cases = {
        "content without query": (c_path, 401),
        "version without query": (t_path, 401),
        "sig changed by one character": (f"{c_path}?exp={c_exp}&sig={flip(c_sig)}", 403),
        "sig shortened": (f"{c_path}?exp={c_exp}&sig={c_sig[:-1]}", 403),
        "exp changed": (f"{c_path}?exp={int(c_exp) + 1}&sig={c_sig}", 403),
        "exp missing": (f"{c_path}?sig={c_sig}", 403),
        "sig missing": (f"{c_path}?exp={c_exp}", 403),
        "A's thumbnail signature on B's thumbnail": (f"{b_thumb_path}?exp={t_exp}&sig={t_sig}",
                                                     403),
        "content signature on the version path": (f"{t_path}?exp={c_exp}&sig={c_sig}", 403),
        "version signature on the content path": (f"{c_path}?exp={t_exp}&sig={t_sig}", 403),
    }
    wrong = {name: (url, got) for name, (url, want) in cases.items()
             if (got := http.get(url).status_code) != want}
    assert not wrong, wrong
    # A signature never signs the JSON itself.
    assert http.get(f"{a['url']}?exp={c_exp}&sig={c_sig}").status_code == 401


def test_expired_signature_is_403(world: World, data_dir: Path) -> None:
    secret = (data_dir / "url-signing.key").read_bytes().strip()
    a = world.admin("GET", world.assets["priv", "editor"]["url"]).json()
    path = signed_parts(a["content_url"])[0]
    # Our signer with the server's secret and today's clock is accepted (so the key is
    # right), and with a clock an hour back its URL has expired.
    assert world.http.get(UrlSigner(secret, 60).sign(path)).status_code == 200
    old = UrlSigner(secret, 60, clock=lambda: time.time() - 3600).sign(path)
    _, exp, _ = signed_parts(old)
    assert int(exp) < time.time()
    r = world.http.get(old)
    assert r.status_code == 403, r.text
    thumb = f"{a['url']}/versions/thumbnail"
    r = world.http.get(UrlSigner(secret, 60, clock=lambda: time.time() - 3600).sign(thumb))
    assert r.status_code == 403


def test_hidden_assets_signed_url_is_410(world: World) -> None:
    asset = world.admin("GET", world.hidden["priv"]["url"]).json()
    assert asset["hidden"] is True
    for url in (asset["content_url"], asset["versions"]["thumbnail"]["url"]):
        signed_parts(url)
        r = world.http.get(url)
        assert r.status_code == 410, f"GET {url} (hidden, signed) anonymous: {r.status_code}"
        assert r.json()["reason"] == "hidden"
        assert world.http.get(url, headers=world.auth("viewer")).status_code == 410
        assert world.http.get(url, headers=world.auth("moderator")).status_code == 200


def test_signed_url_with_bad_credentials_is_401(world: World) -> None:
    a = world.admin("GET", world.assets["priv", "editor"]["url"]).json()
    r = world.http.get(a["content_url"], headers={"Authorization": "Bearer ast_bogus"})
    assert r.status_code == 401


# --------------------------------------------------------------------------- galleries


def test_gallery_across_pools_shows_what_the_caller_may_read(world: World) -> None:
    shared, private = f"g-shared-{uuid.uuid4().hex[:8]}", f"g-priv-{uuid.uuid4().hex[:8]}"
    pub = world.upload("pub", "editor", gallery=shared)
    priv = world.upload("priv", "editor2", gallery=shared)
    only = world.upload("priv", "editor", gallery=private)
    hidden = world.upload("pub", "editor", gallery=shared)
    world.hide(hidden)

    def gallery(gid: str, role: str) -> httpx.Response:
        return world.http.get(f"/api/galleries/{gid}", headers=world.auth(role))

    def ids(r: httpx.Response) -> list[str]:
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["images"]]

    assert ids(gallery(shared, "anonymous")) == [pub["id"]]
    assert ids(gallery(shared, "viewer")) == [pub["id"], priv["id"]]
    assert ids(gallery(shared, "editor")) == [pub["id"], priv["id"]]
    assert ids(gallery(shared, "moderator")) == [pub["id"], priv["id"], hidden["id"]]
    r = gallery(private, "anonymous")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert ids(gallery(private, "viewer")) == [only["id"]]

    many = world.http.get("/api/galleries", params={"id": [private, shared]}).json()["items"]
    assert [(g["id"], [i["id"] for i in g["images"]]) for g in many] == [(shared, [pub["id"]])]
    many = world.http.get("/api/galleries", params={"id": [private, shared]},
                          headers=world.auth("viewer")).json()["items"]
    assert [g["id"] for g in many] == [private, shared]
