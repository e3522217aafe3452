// Galleries: the images that share a gallery id. The API lists a gallery by its id; to
// offer galleries to open, this view reads a pool's newest images and groups them.

import { api, withQuery } from "../api.js";
import { h, replace, uid } from "../dom.js";
import { problemNotice } from "../notices.js";
import { readyPictures, show } from "../pictures.js";
import { signedIn } from "../session.js";
import { assetTile } from "../tiles.js";

const SCAN_PAGES = 4;
const SCAN_PAGE = 500;

/** The pool's named galleries among its newest images: [{id, images: [asset…]}]. */
async function galleriesIn(pool) {
  const found = new Map();
  let cursor = null;
  let scanned = 0;
  for (let page = 0; page < SCAN_PAGES; page += 1) {
    const answer = await api("GET", `/api/pools/${encodeURIComponent(pool)}/assets`,
      { query: { type: "image", limit: SCAN_PAGE, cursor } });
    for (const asset of answer.items) {
      // An image's gallery is its own id until it is put in one.
      if (asset.gallery === asset.id) continue;
      if (!found.has(asset.gallery)) found.set(asset.gallery, []);
      found.get(asset.gallery).push(asset);
    }
    scanned += answer.items.length;
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return { galleries: [...found].map(([id, images]) => ({ id, images })), scanned, complete: !cursor };
}

function galleryCard(gallery) {
  const cover = readyPictures(gallery.images[0])[0];
  const thumb = h("span", { class: "thumb" });
  if (cover) {
    const img = h("img", { alt: "", width: cover.width, height: cover.height, loading: "lazy", decoding: "async" });
    img.addEventListener("load", () => thumb.classList.add("loaded"), { once: true });
    show(img, cover.url, gallery.images[0]);
    thumb.append(img);
  }
  const count = gallery.images.length;
  return h("li", { class: "tile" },
    h("a", { href: `#/galleries/${encodeURIComponent(gallery.id)}` },
      thumb,
      h("span", { class: "name" }, gallery.id),
      h("span", { class: "facts" }, `${count} image${count === 1 ? "" : "s"} seen`)));
}

export async function galleriesView(main, { query }) {
  const pool = query.get("pool") || "default";
  const pools = signedIn() ? (await api("GET", "/api/pools").catch(() => ({ items: [] }))).items : [];
  const openId = uid("gallery-id");
  const poolId = uid("pool");
  const idInput = h("input", { id: openId, name: "id", required: true, spellcheck: "false" });
  const open = h("form", { class: "row" },
    h("div", { class: "field grow" }, h("label", { for: openId }, "Open a gallery by its id"), idInput),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Open")));
  open.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/galleries/${encodeURIComponent(idInput.value.trim())}`;
  });
  const poolSelect = pools.length
    ? h("select", { id: poolId }, pools.map((p) => h("option", { value: p.name, selected: p.name === pool }, p.title || p.name)))
    : h("input", { id: poolId, value: pool });
  poolSelect.addEventListener("change", () => { location.hash = withQuery("#/galleries", { pool: poolSelect.value }); });
  const list = h("ul", { class: "grid" });
  const status = h("p", { role: "status", class: "pager-status" }, "Looking for galleries…");
  replace(main,
    h("h1", {}, "Galleries"),
    open,
    h("section", { class: "panel" },
      h("div", { class: "row" }, h("div", { class: "field" }, h("label", { for: poolId }, "Galleries in pool"), poolSelect)),
      list, status));
  try {
    const { galleries, scanned, complete } = await galleriesIn(pool);
    replace(list, galleries.map(galleryCard));
    const of = complete ? `all ${scanned} images` : `the newest ${scanned} images`;
    status.textContent = galleries.length
      ? `${galleries.length} galleries among ${of} of ${pool}.`
      : `No image of ${pool} is in a named gallery (among ${of}).`;
  } catch (error) {
    status.replaceWith(problemNotice(error));
  }
}

export async function galleryView(main, { params: [id] }) {
  const gallery = await api("GET", `/api/galleries/${encodeURIComponent(id)}`);
  replace(main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/galleries" }, "Galleries"), " / ", id),
    h("h1", {}, `Gallery ${gallery.id}`),
    h("p", { class: "hint" }, `${gallery.images.length} image${gallery.images.length === 1 ? "" : "s"}, oldest first.`),
    h("ul", { class: "grid", "aria-label": "Images of the gallery" }, gallery.images.map(assetTile)));
}
