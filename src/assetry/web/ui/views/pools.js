// Pools: the list, and one pool's assets as a grid (newest first, filtered, paged by
// cursor as the reader scrolls) with the upload area above it.

import { api, withQuery } from "../api.js";
import { h, replace, uid } from "../dom.js";
import { bytes } from "../format.js";
import { problemNotice } from "../notices.js";
import { Pager } from "../pager.js";
import { atLeast } from "../session.js";
import { assetTile } from "../tiles.js";
import { UploadQueue } from "../uploads.js";

const PAGE = 48;
const queues = new Map();

export async function poolsView(main) {
  const { items } = await api("GET", "/api/pools");
  replace(main,
    h("h1", {}, "Pools"),
    h("ul", { class: "cards" }, items.map((pool) => h("li", { class: "card pool" },
      h("h2", {}, h("a", { href: `#/pools/${encodeURIComponent(pool.name)}` }, pool.title || pool.name)),
      h("dl", { class: "facts" },
        h("dt", {}, "Name"), h("dd", {}, pool.name),
        h("dt", {}, "Accepts"), h("dd", {}, pool.asset_types.join(", ")),
        h("dt", {}, "Largest file"), h("dd", {}, bytes(pool.max_size)),
        h("dt", {}, "Converter"), h("dd", {}, pool.converter),
        h("dt", {}, "Readable by"), h("dd", {}, pool.public ? "anyone" : "tokens only"))))));
}

/** The listing's filters as the URL carries them (#/pools/NAME?type=image&gallery=...). */
function filtersOf(query) {
  return {
    type: query.get("type") || "",
    gallery: query.get("gallery") || "",
    attached: query.get("attached") || "",
    attached_to: query.get("attached_to") || "",
  };
}

function filterForm(pool, filters) {
  const field = (label, control) => {
    const id = uid("filter");
    control.id = id;
    return h("div", { class: "field" }, h("label", { for: id }, label), control);
  };
  const select = (name, options, value) => h("select", { name },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter assets" },
    field("Type", select("type", [["", "Any type"], ["image", "Images"], ["file", "Files"]], filters.type)),
    field("Gallery", h("input", { name: "gallery", value: filters.gallery, placeholder: "gallery id", spellcheck: "false" })),
    field("Attachment", select("attached", [["", "Any"], ["true", "Attached"], ["false", "Not attached"]], filters.attached)),
    field("Attached to", h("input", { name: "attached_to", value: filters.attached_to, placeholder: "resource", spellcheck: "false" })),
    h("div", { class: "actions" },
      h("button", { type: "submit" }, "Apply"),
      h("a", { href: `#/pools/${encodeURIComponent(pool)}`, class: "button secondary" }, "Clear")));
  const apply = () => {
    const data = Object.fromEntries(new FormData(form));
    location.hash = withQuery(`#/pools/${encodeURIComponent(pool)}`, data);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  for (const control of form.querySelectorAll("select")) control.addEventListener("change", apply);
  return form;
}

function matches(asset, filters) {
  if (filters.type && asset.type !== filters.type) return false;
  if (filters.gallery && asset.gallery !== filters.gallery) return false;
  if (filters.attached_to && !asset.attached_to.includes(filters.attached_to)) return false;
  if (filters.attached === "true" && asset.attached_to.length === 0) return false;
  if (filters.attached === "false" && asset.attached_to.length > 0) return false;
  return true;
}

async function uploadArea(pool, info, onUploaded) {
  const converters = await api("GET", "/api/converters").then((r) => r.items).catch(() => []);
  const inputId = uid("files");
  const galleryId = uid("gallery");
  const converterId = uid("converter");
  const gallery = h("input", { id: galleryId, name: "gallery", spellcheck: "false", placeholder: "each file its own" });
  const converter = h("select", { id: converterId, name: "converter" },
    h("option", { value: "" }, `Pool's (${info?.converter || "default"})`),
    converters.map((c) => h("option", { value: c.name }, c.name)));
  // One queue per pool for the life of the tab: uploads go on, and their rows stay, when
  // the reader filters the grid or looks at another page and comes back.
  let queue = queues.get(pool);
  if (!queue) {
    queue = new UploadQueue({ pool, limit: info?.max_size ?? null });
    queues.set(pool, queue);
  }
  queue.fields = () => ({ gallery: gallery.value.trim(), converter: converter.value });
  queue.onUploaded = onUploaded;
  const input = h("input", { id: inputId, type: "file", multiple: true, class: "file-input" });
  input.addEventListener("change", () => {
    queue.add([...input.files]);
    input.value = "";
  });
  const kinds = info?.asset_types.includes("file") ? "Any file" : "Images";
  const accepts = info ? `${kinds} up to ${bytes(info.max_size)} each.` : "";
  const zone = h("div", { class: "dropzone" },
    h("p", {}, h("label", { for: inputId, class: "button" }, "Choose files"), " or drop them here."),
    input,
    h("p", { class: "hint" }, accepts));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    queue.add([...event.dataTransfer.files]);
  });
  return h("section", { class: "upload-area", "aria-labelledby": `${inputId}-h` },
    h("h2", { id: `${inputId}-h` }, "Upload"),
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: galleryId }, "Gallery"), gallery),
      h("div", { class: "field" }, h("label", { for: converterId }, "Converter"), converter)),
    zone,
    queue.element);
}

export async function poolView(main, { params: [pool], query }) {
  const filters = filtersOf(query);
  // Anonymous readers of a public pool may list it but not read the pool itself.
  const info = await api("GET", `/api/pools/${encodeURIComponent(pool)}`).catch(() => null);
  const grid = h("ul", { class: "grid", "aria-label": "Assets, newest first" });
  const errors = h("div", { class: "errors" });
  const pager = new Pager({
    list: grid,
    noun: "asset",
    render: assetTile,
    onError: (error) => errors.append(problemNotice(error)),
    fetchPage: (cursor) => api("GET", `/api/pools/${encodeURIComponent(pool)}/assets`,
      { query: { ...filters, limit: PAGE, cursor } }),
  });
  const title = info?.title || pool;
  replace(main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/pools" }, "Pools"), " / ", pool),
    h("h1", {}, title),
    atLeast("editor") ? await uploadArea(pool, info, (asset) => {
      if (matches(asset, filters)) pager.prepend(asset);
    }) : null,
    h("section", { class: "assets", "aria-labelledby": "assets-h" },
      h("div", { class: "section-head" },
        h("h2", { id: "assets-h" }, "Assets"),
        h("a", { href: withQuery("#/galleries", { pool }) }, "Galleries of this pool")),
      filterForm(pool, filters),
      errors,
      grid,
      pager.element));
  pager.start();
  return () => pager.stop();
}
