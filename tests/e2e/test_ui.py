"""The web UI at `/`, driven in Debian's chromium by Playwright against a live server:
sign in, the grid (placeholders, infinite scroll, filters), uploads with progress and the
server's errors per file, the asset page (versions, focal point, details, attachments,
replace, hide, delete), galleries and the converter editor with its preview.

What the browser shows is checked against what the API says (and the other way round).
Every page is saved as a screenshot under test-artifacts/ui/, and the grid test remakes
the README's picture, docs/screenshots/ui-grid.png.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

from assetry.web import ui
from tests.support.browser import ARTIFACTS, README_SCREENSHOT, chromium, keep_screenshot
from tests.support.images import noise, photo_crops, solid
from tests.support.rawhttp import raw_request
from tests.support.tokens import bearer

expect.set_options(timeout=20_000)

ARCHIVE = b"assetry test archive\n" + bytes(range(256)) * (9 * 1024 * 1024 // 256)  # a "file"
CHUNK = 4 * 1024 * 1024  # tus.js's CHUNK
UPLOADS = re.compile(r"/api/pools/default/uploads")


@pytest.fixture(scope="module")
def browser(base_url: str, tokens: dict[str, str]) -> Iterator[Browser]:
    # After the server and the tokens: Playwright's sync API runs an event loop in this
    # thread, and making tokens needs asyncio.run.
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh tab (its own sessionStorage) that fails the test on any script error or
    Content-Security-Policy refusal. (Answers of 4xx, which the error cases provoke,
    are logged by chromium as "Failed to load resource" and are fine.)"""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    yield tab
    context.close()
    assert not problems, problems


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True, animations="disabled")


def sign_in(page: Page, token: str, name: str) -> None:
    page.goto("/")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Pools")).to_be_visible()
    expect(page.locator("#who-name")).to_have_text(f"{name} ({name})")


def by(width: int, height: int) -> str:
    """Dimensions as the UI writes them: "800 \u00d7 600"."""
    return f"{width} \u00d7 {height}"


def upload(client: httpx.Client, pool: str, data: bytes, filename: str,
           **fields: str) -> dict[str, Any]:
    r = client.post(f"/api/pools/{pool}/assets", files={"file": (filename, data)}, data=fields)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def put_pool(client: httpx.Client, name: str, **fields: Any) -> None:
    r = client.put(f"/api/pools/{name}", json=fields)
    assert r.status_code in (200, 201), r.text


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def thumbhash_of_solid(r: int, g: int, b: int) -> str:
    """The ThumbHash of a solid colour, made by the format's rules (its header's DC terms in
    the LPQ colour space; no detail terms), base64 as servers send it."""
    luma, p, q = (r + g + b) / 765, (r + g) / 510 - b / 255, (r - g) / 255
    header = round(63 * luma) | round(31.5 + 31.5 * p) << 6 | round(31.5 + 31.5 * q) << 12
    return base64.b64encode(header.to_bytes(3, "little") + bytes(5)).decode()


def hold(page: Page, pattern: str) -> list[Route]:
    """Hold every request matching `pattern` until released (continue_ each route)."""
    held: list[Route] = []

    def keep(route: Route) -> None:
        held.append(route)

    page.route(pattern, keep)
    return held


# --------------------------------------------------------------------------- the page itself


def test_page_is_served_with_a_strict_policy_and_versioned_files(
        base_url: str, anonymous: httpx.Client) -> None:
    http = anonymous
    r = http.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp
    assert "unsafe" not in csp  # no inline script or style anywhere
    assert "frame-ancestors 'none'" in csp and "form-action 'none'" in csp
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in r.headers
    scripts = re.findall(r'(?:src|href)="(/ui/[0-9a-f]{16}/[\w/.-]+)"', r.text)
    assert f"{ui.ASSETS}/main.js" in scripts and f"{ui.ASSETS}/app.css" in scripts
    for path in scripts:
        file = http.get(path)
        assert file.status_code == 200, path
        assert file.headers["cache-control"] == "public, max-age=31536000, immutable"
    module = http.get(f"{ui.ASSETS}/views/asset.js")
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    assert http.get("/ui/0123456789abcdef/main.js").status_code == 404
    for escape in ("../ui.py", "%2e%2e/ui.py", "..%2fui.py", "views/../../ui.py"):
        # Raw bytes on the wire (httpx would tidy the dots away): never a file outside ui/.
        answer = raw_request(base_url, "GET", f"{ui.ASSETS}/{escape}", extra_headers=[])
        assert answer.status_code in (307, 404), escape  # 307: Starlette adds a slash
        assert b"import" not in answer.content
    assert http.get(f"{ui.ASSETS}/nope.js").status_code == 404
    http.close()


def test_sign_in_keeps_the_token_in_this_tab_only(page: Page, tokens: dict[str, str]) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    shot(page, "sign-in")
    page.get_by_label("Access token").fill("ast_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("401 Unauthorized: the token is unknown or revoked")
    expect(page.get_by_label("Access token")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("sessionStorage.length") == 0

    sign_in(page, tokens["editor"], "editor")
    assert page.evaluate("sessionStorage.getItem('assetry.token')") == tokens["editor"]
    assert page.evaluate("document.cookie") == ""
    assert page.context.cookies() == []
    # Editors may not manage converters: the UI does not offer it.
    expect(page.get_by_role("link", name="Converters")).to_be_hidden()
    expect(page.get_by_role("link", name="Default", exact=True)).to_be_visible()
    shot(page, "pools")

    page.reload()  # the same tab keeps its session
    expect(page.locator("#who-name")).to_have_text("editor (editor)")
    other = page.context.new_page()  # sessionStorage is per tab: a new one starts signed out
    other.goto("/")
    expect(other.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    other.close()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


# --------------------------------------------------------------------------- the grid


@pytest.fixture(scope="module")
def library(base_url: str, tokens: dict[str, str]) -> list[dict[str, Any]]:
    """Pool "library": 50 small images, a text file, an attached image, then 12 photos
    (the newest, so they open the grid); newest first, as the listing orders them."""
    with httpx.Client(base_url=base_url, headers=bearer(tokens["admin"]), timeout=60) as c:
        put_pool(c, "library", title="Photo library")
        made = [upload(c, "library", solid(48, 32, ((i * 37) % 256, (i * 91) % 256, 160)),
                       f"swatch-{i:02d}.png") for i in range(50)]
        made.append(upload(c, "library", b"shopping list\n", "notes.txt"))
        attached = upload(c, "library", solid(40, 40), "attached.jpg")
        r = c.post(f"{attached['url']}/attachments", json={"resource": "proposals/7"})
        assert r.status_code == 200, r.text
        made.append(attached)
        places = ["elephants", "forest-path"]
        made += [upload(c, "library", data, f"{places[i % 2]}-{i + 1:02d}.jpg", gallery="holiday",
                        metadata=f'{{"alt": "{places[i % 2].replace("-", " ")} photo {i + 1}"}}')
                 for i, data in enumerate(photo_crops(12))]
    return made[::-1]


def test_grid_newest_first_with_placeholders_infinite_scroll_and_filters(
        page: Page, tokens: dict[str, str], library: list[dict[str, Any]]) -> None:
    # Pictures are held back so the placeholders can be seen; the first asset gets a
    # `placeholder` colour in its JSON, as the server may send one.
    pictures = hold(page, re.compile(r"/versions/"))

    def with_placeholder(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        if body["items"] and body["items"][0]["id"] == library[0]["id"]:
            body["items"][0]["placeholder"] = {"color": "#ff8800"}
            body["items"][1]["placeholder"] = {"thumbhash": thumbhash_of_solid(200, 60, 60)}
            body["items"][2]["placeholder"] = None  # as for assets stored before placeholders
            served.append(body["items"][3]["placeholder"])  # the server's own
        route.fulfill(response=response, json=body)

    served: list[Any] = []

    page.route(re.compile(r"/api/pools/library/assets\?"), with_placeholder)
    sign_in(page, tokens["admin"], "admin")
    page.goto("/#/pools/library")
    tiles = page.locator(".grid .tile")
    expect(tiles).to_have_count(48)
    assert tiles.evaluate_all("ts => ts.map(t => t.dataset.id)") == [
        a["id"] for a in library[:48]]
    first, second = tiles.nth(0).locator(".thumb"), tiles.nth(1).locator(".thumb")
    colour = "e => getComputedStyle(e).backgroundColor"
    assert first.evaluate(colour) == "rgb(255, 136, 0)"
    average = re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", second.evaluate(colour))
    assert average is not None
    assert [int(c) for c in average.groups()] == pytest.approx([200, 60, 60], abs=6)
    third = tiles.nth(2).locator(".thumb")
    assert third.evaluate(colour) == "rgb(227, 230, 235)"  # the neutral box
    # The server computes placeholders at upload: the fourth tile shows its colour.
    hex_colour = served[0]["color"]
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    fourth = tiles.nth(3).locator(".thumb")
    assert fourth.evaluate(colour) == f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"
    assert first.locator("img").evaluate("i => getComputedStyle(i).opacity") == "0"
    expect(tiles.nth(0)).to_contain_text("forest-path-12.jpg")
    expect(tiles.nth(0)).to_contain_text(f"JPEG · {by(960, 720)}")
    assert first.locator("img").get_attribute("alt") == "forest path photo 12"
    size_before = first.bounding_box()
    assert size_before is not None and size_before["width"] == size_before["height"]
    assert third.bounding_box() == pytest.approx({**size_before, "x": size_before["x"]
                                                  + 2 * (size_before["width"] + 14.4)}, abs=2)

    page.unroute(re.compile(r"/versions/"))
    for route in pictures:
        route.continue_()
    expect(first).to_have_class(re.compile(r"\bloaded\b"))
    assert first.bounding_box() == size_before  # nothing moved when the picture came
    for i in range(12):  # every photo of the first screen is in
        expect(tiles.nth(i).locator(".thumb")).to_have_class(re.compile(r"\bloaded\b"))
    status = page.locator(".pager-status")
    expect(status).to_have_text("48 assets shown; more below.")
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.evaluate("window.scrollTo(0, 0)")
    keep_screenshot(page.screenshot(animations="disabled"), README_SCREENSHOT)
    shot(page, "grid")

    page.locator(".sentinel").scroll_into_view_if_needed()  # infinite scroll
    expect(tiles).to_have_count(len(library))
    expect(status).to_have_text(f"All {len(library)} assets shown.")
    assert tiles.evaluate_all("ts => ts.map(t => t.dataset.id)") == [a["id"] for a in library]

    page.get_by_label("Type").select_option("file")  # filters apply at once
    expect(tiles).to_have_count(1)
    expect(tiles.nth(0)).to_contain_text("notes.txt")
    assert "type=file" in page.url
    page.get_by_label("Type").select_option("")
    page.get_by_label("Attachment").select_option("true")
    expect(tiles).to_have_count(1)
    expect(tiles.nth(0)).to_contain_text("attached.jpg")
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Gallery", exact=True).last.fill("holiday")
    page.get_by_role("button", name="Apply").click()
    expect(tiles).to_have_count(12)
    expect(status).to_have_text("All 12 assets shown.")
    shot(page, "grid-filtered")


# --------------------------------------------------------------------------- uploads


def test_upload_many_files_with_progress_and_the_servers_error_on_each(
        page: Page, client: httpx.Client, tokens: dict[str, str], tmp_path: Path) -> None:
    put_pool(client, "photos", title="Photos only", asset_types=["image"])
    big = write(tmp_path, "big.jpg", noise(1800, 1200, seed=3))
    small = write(tmp_path, "small.png", solid(320, 200, (200, 60, 60), ".png"))
    text = write(tmp_path, "notes.txt", b"not a picture\n")
    broken = write(tmp_path, "broken.jpg", noise(300, 200)[:2000])
    # What the server says about each refused file, asked directly (nothing is stored).
    expected = {}
    for path in (text, broken):
        r = client.post("/api/pools/photos/assets", files={"file": (path.name, path.read_bytes())})
        expected[path.name] = (r.status_code, r.json()["detail"])
    assert {s for s, _ in expected.values()} == {415, 422}
    before = len(client.get("/api/pools/photos/assets").json()["items"])

    sign_in(page, tokens["editor"], "editor")
    page.goto("/#/pools/photos")
    expect(page.get_by_role("heading", level=1, name="Photos only")).to_be_visible()
    # Slow the network down (1 MB/s up) so the big file's progress can be watched.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": 1_000_000})
    page.locator("input[type=file].file-input").set_input_files([big, small, text, broken])
    rows = page.locator(".uploads .upload")
    expect(rows).to_have_count(4)
    row = {name: rows.filter(has_text=name) for name in ("big.jpg", "small.png", "notes.txt",
                                                        "broken.jpg")}
    progress = row["big.jpg"].locator("progress")
    page.wait_for_function(
        "p => p.value > 0 && p.value < p.max", arg=progress.element_handle(), timeout=20_000)
    expect(row["big.jpg"].locator(".upload-state")).to_have_text(re.compile(r"Uploading \d+%"))
    shot(page, "uploading")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    for name in ("big.jpg", "small.png"):
        expect(row[name]).to_have_attribute("data-state", "done")
        expect(row[name].locator(".upload-state")).to_have_text("Uploaded")
        assert row[name].locator("progress").evaluate("p => p.value === p.max")
    for name in ("notes.txt", "broken.jpg"):
        status, detail = expected[name]
        expect(row[name]).to_have_attribute("data-state", "failed")
        expect(row[name].locator(".upload-state")).to_have_text(f"Failed ({status})")
        expect(row[name].locator(".upload-error")).to_have_text(detail)
    expect(page.locator("#announce")).not_to_be_empty()
    shot(page, "uploaded")

    # The two images are in the pool, and at the top of the grid.
    items = client.get("/api/pools/photos/assets").json()["items"]
    assert len(items) == before + 2
    assert {i["filename"] for i in items[:2]} == {"big.jpg", "small.png"}
    assert {i["width"] for i in items[:2]} == {1800, 320}
    tiles = page.locator(".grid .tile")
    expect(tiles.filter(has_text="big.jpg")).to_have_count(1)
    expect(tiles.filter(has_text="small.png")).to_have_count(1)

    # Dropped files go the same way.
    dropped = page.evaluate_handle(
        """([name, data]) => {
             const transfer = new DataTransfer();
             const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
             transfer.items.add(new File([bytes], name, {type: "image/png"}));
             return transfer;
           }""",
        ["dropped.png", base64.b64encode(solid(64, 64, (10, 160, 90), ".png")).decode()])
    page.locator(".dropzone").dispatch_event("drop", {"dataTransfer": dropped})
    expect(rows.filter(has_text="dropped.png")).to_have_attribute("data-state", "done")
    assert client.get("/api/pools/photos/assets").json()["items"][0]["filename"] == "dropped.png"


def test_files_over_the_pools_limit_show_the_413(
        page: Page, client: httpx.Client, tokens: dict[str, str], tmp_path: Path) -> None:
    """A small file over the limit (one multipart POST, refused from Content-Length) and
    a large one (tus: refused at creation, from Upload-Length) both show the server's
    413 on their row."""
    put_pool(client, "tiny", max_size=20_000)
    large = write(tmp_path, "large.jpg", noise(500, 400, seed=9))
    huge = write(tmp_path, "archive.bin", ARCHIVE)
    assert large.stat().st_size > 20_000
    expected = {
        "large.jpg": client.post("/api/pools/tiny/assets",
                                 files={"file": (large.name, large.read_bytes())}),
        "archive.bin": client.post("/api/pools/tiny/uploads", headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": str(len(ARCHIVE))}),
    }
    assert {r.status_code for r in expected.values()} == {413}
    sign_in(page, tokens["editor"], "editor")
    page.goto("/#/pools/tiny")
    page.locator("input[type=file].file-input").set_input_files([large, huge])
    for name, answer in expected.items():
        row = page.locator(".uploads .upload").filter(has_text=name)
        expect(row).to_have_attribute("data-state", "failed")
        expect(row.locator(".upload-state")).to_have_text("Failed (413)")
        expect(row.locator(".upload-error")).to_have_text(answer.json()["detail"])
    expect(page.locator(".uploads .upload").filter(has_text="archive.bin")).to_have_attribute(
        "data-resumable", "true")
    assert client.get("/api/pools/tiny/assets").json()["items"] == []




def tus_requests(page: Page) -> list[tuple[str, str | None]]:
    """(method, Upload-Offset) of every tus request the page sends from now on."""
    seen: list[tuple[str, str | None]] = []
    page.on("request", lambda r: seen.append((r.method, r.headers.get("upload-offset")))
            if UPLOADS.search(r.url) else None)
    return seen


def last_asset(client: httpx.Client, pool: str = "default") -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/api/pools/{pool}/assets",
                                       params={"limit": 1}).json()["items"][0]
    return found


def test_large_files_go_through_tus_and_survive_a_broken_connection(
        page: Page, client: httpx.Client, tokens: dict[str, str], tmp_path: Path) -> None:
    """Files of 8 MB and more go through the tus endpoint the server offers (OPTIONS on
    the pool's uploads URL answers Tus-Version 1.0.0): created, then PATCHed in 4 MiB
    chunks. A chunk whose connection breaks is resumed from where the server says (HEAD)."""
    offered = client.options("/api/pools/default/uploads")
    assert offered.status_code == 204 and offered.headers["tus-version"] == "1.0.0"
    big = write(tmp_path, "archive.bin", ARCHIVE)
    sign_in(page, tokens["editor"], "editor")
    page.goto("/#/pools/default")
    broken: list[str] = []

    def break_once(route: Route) -> None:
        if route.request.method == "PATCH" and route.request.headers.get(
                "upload-offset") == str(CHUNK) and not broken:
            broken.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(UPLOADS, break_once)
    sent = tus_requests(page)
    page.locator("input[type=file].file-input").set_input_files([big])
    row = page.locator(".uploads .upload")
    expect(row).to_have_attribute("data-state", "done", timeout=60_000)
    expect(row).to_have_attribute("data-resumable", "true")
    assert broken, "the second chunk was never sent"
    patches = [offset for method, offset in sent if method == "PATCH"]
    assert patches == ["0", str(CHUNK), str(CHUNK), str(2 * CHUNK)]
    assert ("HEAD", None) in sent  # it asked where to resume
    asset = last_asset(client)
    assert (asset["filename"], asset["size"]) == ("archive.bin", len(ARCHIVE))
    assert client.get(asset["content_url"]).content == ARCHIVE
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('assetry.tus'))") == []


def test_a_tus_upload_left_half_way_resumes_in_a_new_tab(
        page: Page, client: httpx.Client, tokens: dict[str, str], tmp_path: Path) -> None:
    big = write(tmp_path, "archive.bin", ARCHIVE)
    sign_in(page, tokens["editor"], "editor")
    page.goto("/#/pools/default")
    # The second chunk never reaches the server (its connection fails), and the tab is
    # closed before the client tries again.
    page.route(UPLOADS, lambda route: route.abort("connectionreset")
               if route.request.method == "PATCH" and route.request.headers.get("upload-offset")
               != "0" else route.continue_())
    # The second chunk is sent only after the server recorded the first.
    with page.expect_request(lambda r: r.method == "PATCH"
                             and r.headers.get("upload-offset") == str(CHUNK)):
        page.locator("input[type=file].file-input").set_input_files([big])
    stored = page.evaluate(
        "Object.entries(localStorage).filter(([k]) => k.startsWith('assetry.tus'))")
    assert len(stored) == 1 and stored[0][1].startswith("/api/pools/default/uploads/")
    upload_url = stored[0][1]
    context = page.context
    page.close()
    # (an upload is its creator's: ask with the editor's token)
    half = client.head(upload_url, headers={"Tus-Resumable": "1.0.0", **bearer(tokens["editor"])})
    assert half.status_code == 200
    assert half.headers["upload-offset"] == str(CHUNK)

    tab = context.new_page()
    sign_in(tab, tokens["editor"], "editor")
    tab.goto("/#/pools/default")
    sent = tus_requests(tab)
    tab.locator("input[type=file].file-input").set_input_files([big])
    expect(tab.locator(".uploads .upload")).to_have_attribute("data-state", "done")
    # The feature check, where the upload stands, then only the missing chunks.
    assert [m for m, _ in sent][:2] == ["OPTIONS", "HEAD"] and ("POST", None) not in sent
    assert [o for m, o in sent if m == "PATCH"] == [str(CHUNK), str(2 * CHUNK)]
    asset = last_asset(client)
    assert client.get(asset["content_url"]).content == ARCHIVE


# --------------------------------------------------------------------------- the asset page


def test_asset_page_versions_focal_point_details_replace_hide_and_delete(
        page: Page, client: httpx.Client, base_url: str, tokens: dict[str, str],
        tmp_path: Path) -> None:
    asset = upload(client, "default", photo_crops(1, width=1200, height=800)[0], "elephants.jpg")
    url = asset["url"]
    sign_in(page, tokens["admin"], "admin")
    page.goto(f"/#/assets/{asset['id']}")
    expect(page.get_by_role("heading", level=1, name="elephants.jpg")).to_be_visible()

    figures = page.locator(".rendition")
    expect(figures).to_have_count(3)
    for name, facts in (("original", f"{by(1200, 800)}JPEG"), ("detail", f"{by(800, 800)}JPEG"),
                        ("thumbnail", f"{by(100, 100)}JPEG")):
        figure = page.locator(f'.rendition[data-name="{name}"]')
        expect(figure.locator("figcaption")).to_contain_text(name + facts)
        expect(figure.locator("figcaption")).to_contain_text(re.compile(r"JPEG\d+(\.\d)? kB$"))
        expect(figure.locator(".frame")).to_have_class(re.compile(r"\bloaded\b"))
    shot(page, "asset")

    # The focal point, by clicking the picture and by typing it.
    picture = page.locator(".focal-frame img")
    box = picture.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.75)
    outcome = page.locator(".outcome")
    expect(outcome).to_contain_text("Focal point saved")
    point = client.get(url).json()["metadata"]["focal_point"]
    assert point == pytest.approx({"x": 0.25, "y": 0.75}, abs=0.01)
    marker = page.locator(".marker").bounding_box()
    assert marker is not None
    assert marker["x"] + marker["width"] / 2 == pytest.approx(box["x"] + box["width"] * 0.25, abs=2)
    page.get_by_label("x (0 = left, 1 = right)").fill("0.6")
    page.get_by_label("y (0 = top, 1 = bottom)").fill("0.4")
    page.get_by_role("button", name="Save focal point").click()
    expect(outcome).to_contain_text("Focal point saved at x 0.6, y 0.4")
    assert client.get(url).json()["metadata"]["focal_point"] == {"x": 0.6, "y": 0.4}

    # Details: a local JSON mistake and the server's 400 both show on their field.
    metadata = page.get_by_label("Metadata (JSON object)")
    metadata.fill('{"alt": ')
    page.get_by_role("button", name="Save details").click()
    expect(metadata).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".details .field-error")).to_contain_text("not valid JSON")
    metadata.fill('{"alt": "two elephants", "focal_point": {"x": 0.6, "y": 0.4}}')
    gallery = page.locator(".details").get_by_label("Gallery")
    gallery.fill("no spaces allowed")
    page.get_by_role("button", name="Save details").click()
    refused = client.patch(url, json={"gallery": "no spaces allowed"}).json()
    expect(gallery).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".details .field-error")).to_have_text(refused["errors"][0]["message"])
    expect(gallery).to_be_focused()
    gallery.fill("zoo")
    page.get_by_role("button", name="Save details").click()
    expect(outcome).to_have_text("Details saved.")
    stored = client.get(url).json()
    assert stored["gallery"] == "zoo" and stored["metadata"]["alt"] == "two elephants"
    expect(picture).to_have_attribute("alt", "two elephants (click to set the focal point)")

    # Attachments.
    page.get_by_label("Attach to resource").fill("proposals/42")
    page.get_by_role("button", name="Attach", exact=True).click()
    expect(page.locator(".attachments")).to_contain_text("proposals/42")
    assert client.get(url).json()["attached_to"] == ["proposals/42"]
    page.get_by_role("button", name="Detach proposals/42").click()
    expect(page.locator(".attachments")).to_contain_text("Not attached to anything.")
    assert client.get(url).json()["attached_to"] == []

    # Replace: the page shows the new bytes, not the browser's cached old ones.
    old_src = page.locator('.rendition[data-name="detail"] img').get_attribute("src")
    replacement = write(tmp_path, "elephants-v2.png", solid(640, 480, (250, 200, 40), ".png"))
    page.get_by_label("Replace the file with").set_input_files(replacement)
    page.get_by_role("button", name="Replace", exact=True).click()
    expect(outcome).to_have_text("Replaced with elephants-v2.png.")
    expect(page.locator('.rendition[data-name="original"] figcaption')).to_contain_text(
        f"{by(640, 480)}PNG")
    expect(page.locator('.rendition[data-name="detail"] figcaption')).to_contain_text(
        f"{by(480, 480)}PNG")
    new_src = page.locator('.rendition[data-name="detail"] img').get_attribute("src")
    assert new_src != old_src
    replaced = client.get(url).json()
    assert (replaced["mime_type"], replaced["width"]) == ("image/png", 640)
    expect(page.locator('.rendition[data-name="detail"] .frame')).to_have_class(
        re.compile(r"\bloaded\b"))
    colour = page.locator('.rendition[data-name="detail"] img').evaluate(
        """img => { const c = document.createElement('canvas'); c.width = c.height = 1;
                    const g = c.getContext('2d'); g.drawImage(img, 0, 0, 1, 1);
                    return Array.from(g.getImageData(0, 0, 1, 1).data.slice(0, 3)); }""")
    assert colour == pytest.approx([250, 200, 40], abs=3)

    # Hide: anonymous readers get 410; the page still shows it to the admin.
    page.get_by_role("button", name="Hide", exact=True).click()
    expect(outcome).to_contain_text("Hidden")
    expect(page.get_by_role("button", name="Unhide")).to_be_visible()
    assert client.get(url).json()["hidden"] is True
    assert httpx.get(f"{base_url}{url}").status_code == 410
    expect(page.locator(".title-row .flag")).to_be_visible()
    shot(page, "asset-hidden")
    page.get_by_role("button", name="Unhide").click()
    expect(page.get_by_role("button", name="Hide", exact=True)).to_be_visible()
    assert httpx.get(f"{base_url}{url}").status_code == 200

    # Delete, confirmed: Cancel keeps it, "Delete for good" removes it.
    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    shot(page, "asset-delete")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert client.get(url).status_code == 200
    page.get_by_role("button", name="Delete…").click()
    dialog.get_by_role("button", name="Delete for good").click()
    expect(page).to_have_url(re.compile(r"#/pools/default$"))
    assert client.get(url).status_code == 404


def test_hidden_assets_appear_in_the_grid_for_moderators_with_their_picture(
        page: Page, client: httpx.Client, tokens: dict[str, str]) -> None:
    put_pool(client, "moderated")
    asset = upload(client, "moderated", solid(200, 200, (30, 200, 120)), "secret.jpg")
    assert client.patch(asset["url"], json={"hidden": True}).status_code == 200
    sign_in(page, tokens["moderator"], "moderator")
    page.goto("/#/pools/moderated")
    tile = page.locator(".grid .tile")
    expect(tile).to_have_count(1)
    expect(tile.locator(".flag")).to_have_text("hidden")
    expect(tile.locator(".thumb")).to_have_class(re.compile(r"\bloaded\b"))
    assert tile.locator("img").evaluate("i => i.naturalWidth") > 0


# --------------------------------------------------------------------------- galleries


def test_galleries_of_a_pool_and_one_gallery(
        page: Page, client: httpx.Client, tokens: dict[str, str]) -> None:
    put_pool(client, "trips")
    ids = [upload(client, "trips", solid(90 + i, 60, (40 * i, 90, 200)), f"day-{i}.jpg",
                  gallery="iceland")["id"] for i in range(3)]
    upload(client, "trips", solid(50, 50), "alone.jpg")
    sign_in(page, tokens["viewer"], "viewer")
    page.goto("/#/galleries?pool=trips")
    cards = page.locator(".grid .tile")
    expect(cards).to_have_count(1)  # an image alone in its own gallery is not offered
    expect(cards.nth(0)).to_contain_text("iceland3 images seen")
    shot(page, "galleries")
    cards.nth(0).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1, name="Gallery iceland")).to_be_visible()
    tiles = page.locator(".grid .tile")
    expect(tiles).to_have_count(3)
    assert tiles.evaluate_all("ts => ts.map(t => t.dataset.id)") == ids  # oldest first
    shot(page, "gallery")


# --------------------------------------------------------------------------- converters


def test_converter_edit_with_inline_errors_and_a_preview_that_changes_nothing(
        page: Page, client: httpx.Client, tokens: dict[str, str]) -> None:
    put_pool(client, "preview")
    chosen = upload(client, "preview", photo_crops(2, width=900, height=600)[1], "forest.jpg")
    listed_before = [a["id"] for a in client.get("/api/pools/preview/assets").json()["items"]]
    sign_in(page, tokens["admin"], "admin")
    page.get_by_role("link", name="Converters").click()
    expect(page.get_by_role("heading", level=1, name="Converters")).to_be_visible()
    shot(page, "converters")
    page.get_by_label("New converter named").fill("cards")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1, name="Converter cards")).to_be_visible()

    first = page.locator("fieldset.version").nth(0)
    first.get_by_label("Name").fill("square")
    first.get_by_label("Width").fill("300")
    first.get_by_label("Height").fill("")
    page.get_by_role("button", name="Create converter").click()
    body = {"versions": [{"name": "square", "width": 300, "height": None, "fit": "cover"}]}
    refused = client.put("/api/converters/scratch-check", json=body).json()
    assert refused["status"] == 422 and refused["errors"][0]["field"] == "versions[0]"
    expect(first).to_have_attribute("aria-invalid", "true")
    expect(first.locator(".field-error")).to_have_text(refused["errors"][0]["message"])
    expect(first.get_by_label("Name")).to_be_focused()

    first.get_by_label("Height").fill("300")
    first.get_by_label("Format").select_option("webp")
    operations = first.get_by_label("Operations (JSON list)")
    operations.fill('[{"op": "blur", "sigma": -1}]')
    page.get_by_role("button", name="Create converter").click()
    expect(operations).to_have_attribute("aria-invalid", "true")
    message = first.locator(".field-error")
    expect(message).to_have_count(1)
    assert client.get("/api/converters/cards").status_code == 404  # nothing stored
    sigma = client.put("/api/converters/scratch-check", json={"versions": [
        {"name": "square", "width": 300, "height": 300,
         "operations": [{"op": "blur", "sigma": -1}]}]}).json()
    assert sigma["errors"][0]["field"] == "versions[0].operations[0].sigma"
    expect(message).to_have_text(sigma["errors"][0]["message"])
    shot(page, "converter-errors")

    operations.fill('[{"op": "grayscale"}]')
    # Preview on the chosen image: nothing stored changes.
    page.get_by_label("Pool", exact=True).select_option("preview")
    page.locator(".choice label").filter(has_text="forest.jpg").click()
    page.get_by_role("button", name="Preview on this image").click()
    preview = page.locator(".preview .rendition")
    expect(preview).to_have_count(2)
    expect(preview.nth(0).locator("figcaption")).to_contain_text(f"square{by(300, 300)}WEBP")
    expect(preview.nth(1).locator("figcaption")).to_contain_text(f"thumbnail{by(100, 100)}JPEG")
    expect(page.locator(".preview [role=status]")).to_contain_text("nothing was saved")
    grey = preview.nth(0).locator("img").evaluate(
        """img => { const c = document.createElement('canvas'); c.width = c.height = 8;
                    const g = c.getContext('2d'); g.drawImage(img, 0, 0, 8, 8);
                    const d = g.getImageData(0, 0, 8, 8).data; let worst = 0;
                    for (let i = 0; i < d.length; i += 4) worst = Math.max(
                      worst, Math.abs(d[i] - d[i + 1]), Math.abs(d[i + 1] - d[i + 2]));
                    return worst; }""")
    assert grey <= 2  # the grayscale operation ran
    shot(page, "converter-preview")
    assert client.get("/api/converters/cards").status_code == 404
    assert [a["id"] for a in client.get("/api/pools/preview/assets").json()["items"]] == (
        listed_before)  # the scratch copy is gone
    assert client.get(chosen["url"]).json()["versions"] == chosen["versions"]

    page.get_by_role("button", name="Create converter").click()
    expect(page.locator(".outcome")).to_have_text("Converter cards saved.")
    stored = client.get("/api/converters/cards").json()
    assert [(v["name"], v["width"], v["height"], v["format"], v["operations"])
            for v in stored["versions"]] == [
        ("square", 300, 300, "webp", [{"op": "grayscale"}]),
        ("thumbnail", 100, 100, "same", [])]
    assert client.delete("/api/converters/cards").status_code == 204
