// The colour a tile shows while its image loads: the asset JSON's `placeholder.color`
// when the server sends one, else the average colour of its `placeholder.thumbhash`,
// else nothing (the stylesheet's neutral box).

const CSS_COLOUR = /^#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;

/** A CSS colour for the asset's placeholder, or null. */
export function placeholderColour(asset) {
  const placeholder = asset?.placeholder;
  if (!placeholder || typeof placeholder !== "object") return null;
  if (typeof placeholder.color === "string" && CSS_COLOUR.test(placeholder.color)) {
    return placeholder.color;
  }
  if (typeof placeholder.thumbhash === "string") return thumbhashAverage(placeholder.thumbhash);
  return null;
}

function decodeBase64(text) {
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/**
 * The average colour a ThumbHash encodes in its first bytes (its DC terms in the LPQ
 * colour space: luminance, and two opponent channels), as "rgb(r g b / a)"; null when
 * the hash is too short to hold them.
 */
export function thumbhashAverage(encoded) {
  const hash = decodeBase64(encoded);
  if (!hash || hash.length < 6) return null;
  const header = hash[0] | (hash[1] << 8) | (hash[2] << 16);
  const l = (header & 63) / 63;
  const p = ((header >> 6) & 63) / 31.5 - 1;
  const q = ((header >> 12) & 63) / 31.5 - 1;
  const hasAlpha = (header >> 23) & 1;
  const alpha = hasAlpha ? (hash[5] & 15) / 15 : 1;
  const b = l - (2 / 3) * p;
  const r = (3 * l - b + q) / 2;
  const g = r - q;
  const channel = (v) => Math.round(Math.max(0, Math.min(1, v)) * 255);
  return `rgb(${channel(r)} ${channel(g)} ${channel(b)} / ${alpha.toFixed(2)})`;
}
