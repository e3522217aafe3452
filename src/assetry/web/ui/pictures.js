// How the UI shows an asset's pictures: which of its renderings a browser can display,
// their text alternative, URLs that change whenever the bytes do, and hidden assets'
// pictures (which answer 410 to a plain <img>) fetched with the token instead.

import { blob } from "./api.js";

const SHOWN = new Set(["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"]);

/** Whether browsers display this type in an <img>. */
export function displayable(mime) {
  return SHOWN.has((mime || "").split(";")[0]);
}

/**
 * A version's or the original's URL with its rendering's id (or the original's digest)
 * added: the API keeps a version's URL across re-renders and replacements, so without
 * it a browser would show its cached old bytes for up to max-age.
 */
export function freshUrl(url, key) {
  if (!key) return url;
  return `${url}${url.includes("?") ? "&" : "?"}v=${encodeURIComponent(key.slice(0, 16))}`;
}

/** Ready versions that browsers display, smallest first, with fresh URLs. */
export function readyPictures(asset) {
  return Object.entries(asset.versions || {})
    .filter(([, v]) => v.status === "ready" && v.width && displayable(v.mime_type))
    .map(([name, v]) => ({ name, ...v, url: freshUrl(v.url, v.id) }))
    .sort((a, b) => a.width - b.width);
}

/** The original's fresh URL when browsers display its type, else null. */
export function originalPicture(asset) {
  if (asset.type !== "image" || !displayable(asset.mime_type)) return null;
  return { name: "original", url: freshUrl(asset.content_url, asset.sha256), width: asset.width, height: asset.height };
}

/** The asset's `metadata.alt` when it has one, else "". */
export function describedAlt(asset) {
  const alt = asset.metadata?.alt;
  return typeof alt === "string" ? alt.trim() : "";
}

/** A text alternative that always says something: `metadata.alt`, else the file name. */
export function altText(asset) {
  return describedAlt(asset) || asset.filename;
}

/**
 * Point `img` at `url`. Hidden assets answer 410 to anyone without a moderator's token
 * and <img> sends none, so their bytes are fetched with the token and shown from a
 * blob: URL (freed once loaded).
 */
export function show(img, url, asset) {
  if (!asset.hidden) {
    img.src = url;
    return;
  }
  blob(url).then((data) => {
    const local = URL.createObjectURL(data);
    img.addEventListener("load", () => URL.revokeObjectURL(local), { once: true });
    img.src = local;
  }).catch(() => img.dispatchEvent(new Event("error")));
}
