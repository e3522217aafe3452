// One asset as a tile in a grid: its picture (from the versions that are ready, chosen by
// the browser through srcset), a placeholder colour until the picture has loaded, and
// its name and facts as the link's text.

import { h } from "./dom.js";
import { bytes, dimensions, typeLabel } from "./format.js";
import { describedAlt, readyPictures, show } from "./pictures.js";
import { placeholderColour } from "./placeholder.js";

const TILE = 180; // CSS pixels, as app.css's --tile

function picture(asset) {
  const pictures = readyPictures(asset);
  if (pictures.length === 0) return null;
  const fitting = pictures.find((p) => p.width >= TILE) || pictures[pictures.length - 1];
  const img = h("img", {
    // The tile's link text names the asset; the picture adds only what `alt` describes.
    alt: describedAlt(asset),
    width: fitting.width,
    height: fitting.height,
    loading: "lazy",
    decoding: "async",
  });
  const shown = () => img.parentElement?.classList.add("loaded");
  img.addEventListener("load", shown, { once: true });
  img.addEventListener("error", () => img.parentElement?.classList.add("broken"), { once: true });
  if (!asset.hidden) {
    img.srcset = pictures.map((p) => `${p.url} ${p.width}w`).join(", ");
    img.sizes = `${TILE}px`;
  }
  show(img, fitting.url, asset);
  return img;
}

function fileBadge(asset) {
  const extension = (asset.filename.match(/\.([A-Za-z0-9]{1,6})$/) || [])[1];
  return h("span", { class: "badge-file", "aria-hidden": "true" },
    (extension || typeLabel(asset.mime_type) || "file").toUpperCase());
}

/** <li> tile linking to the asset's page. */
export function assetTile(asset) {
  const thumb = h("span", { class: "thumb" }, picture(asset) || fileBadge(asset));
  const colour = placeholderColour(asset);
  if (colour) thumb.style.backgroundColor = colour;
  const facts = [typeLabel(asset.mime_type), dimensions(asset.width, asset.height), bytes(asset.size)]
    .filter(Boolean).join(" · ");
  return h("li", { class: "tile", dataset: { id: asset.id } },
    h("a", { href: `#/assets/${asset.id}` },
      thumb,
      h("span", { class: "name" }, asset.filename),
      h("span", { class: "facts" }, facts),
      asset.hidden ? h("span", { class: "flag" }, "hidden") : null));
}
