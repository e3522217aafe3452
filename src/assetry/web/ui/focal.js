// The focal point picker: click (or tap) the uncropped picture to set
// metadata.focal_point {x, y} (fractions of the width and height from the top left,
// 0..1), or type the numbers. Converters with `gravity: "focal"` crop around it the next
// time the versions are made.

import { append, h, uid } from "./dom.js";
import { altText, originalPicture, readyPictures, show } from "./pictures.js";

/** The point stored in the asset's metadata, when it is a valid one. */
export function focalPoint(asset) {
  const point = asset.metadata?.focal_point;
  const valid = (v) => typeof v === "number" && v >= 0 && v <= 1;
  return point && valid(point.x) && valid(point.y) ? { x: point.x, y: point.y } : null;
}

/** A picture of the whole image: the original, else a version of the same shape. */
function uncropped(asset) {
  const original = originalPicture(asset);
  if (original) return original;
  const ratio = asset.width / asset.height;
  const same = readyPictures(asset).filter((p) => Math.abs(p.width / p.height - ratio) < 0.01);
  return same.length ? same[same.length - 1] : null;
}

const round = (v) => Math.round(v * 1000) / 1000;

/**
 * {element, update(asset)}. save(point or null) stores the point (null removes it) and
 * resolves when stored.
 */
export function focalPicker(asset, { save, canEdit }) {
  const source = uncropped(asset);
  const element = h("div", { class: "focal" });
  if (!source) {
    append(element, h("p", { class: "hint" }, "This image has no picture a browser can show whole, so its focal point cannot be picked here."));
    return { element, update() {} };
  }
  const marker = h("span", { class: "marker", "aria-hidden": "true", hidden: true });
  const img = h("img", { alt: `${altText(asset)} (click to set the focal point)`, width: source.width, height: source.height, decoding: "async" });
  show(img, source.url, asset);
  const frame = h("div", { class: "focal-frame" }, img, marker);
  const xId = uid("fx");
  const yId = uid("fy");
  const x = h("input", { id: xId, type: "number", min: 0, max: 1, step: 0.01, inputmode: "decimal" });
  const y = h("input", { id: yId, type: "number", min: 0, max: 1, step: 0.01, inputmode: "decimal" });
  const saveButton = h("button", { type: "submit" }, "Save focal point");
  const clearButton = h("button", { type: "button", class: "secondary" }, "Clear");
  const form = h("form", { class: "focal-form row", "aria-label": "Focal point" },
    h("div", { class: "field" }, h("label", { for: xId }, "x (0 = left, 1 = right)"), x),
    h("div", { class: "field" }, h("label", { for: yId }, "y (0 = top, 1 = bottom)"), y),
    h("div", { class: "actions" }, saveButton, clearButton));

  const place = (point) => {
    marker.hidden = !point;
    if (point) {
      marker.style.left = `${point.x * 100}%`;
      marker.style.top = `${point.y * 100}%`;
    }
    x.value = point ? String(point.x) : "";
    y.value = point ? String(point.y) : "";
  };
  const store = async (point) => {
    for (const control of [saveButton, clearButton, x, y]) control.disabled = true;
    try {
      await save(point);
    } finally {
      for (const control of [saveButton, clearButton, x, y]) control.disabled = false;
    }
  };

  if (canEdit) {
    frame.classList.add("editable");
    img.addEventListener("click", (event) => {
      const box = img.getBoundingClientRect();
      const point = {
        x: round(Math.min(1, Math.max(0, (event.clientX - box.left) / box.width))),
        y: round(Math.min(1, Math.max(0, (event.clientY - box.top) / box.height))),
      };
      place(point);
      store(point);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.reportValidity() || x.value === "" || y.value === "") return;
      const point = { x: round(Number(x.value)), y: round(Number(y.value)) };
      place(point);
      store(point);
    });
    clearButton.addEventListener("click", () => {
      place(null);
      store(null);
    });
  }
  append(element, [frame, canEdit ? form : null]);
  place(focalPoint(asset));
  let shown = source.url;
  const update = (changed) => {
    // A replace brings new bytes (and maybe a new shape), a patch a new alt text.
    const now = uncropped(changed);
    img.alt = `${altText(changed)} (click to set the focal point)`;
    if (now && now.url !== shown) {
      shown = now.url;
      img.width = now.width;
      img.height = now.height;
      show(img, now.url, changed);
    }
    place(focalPoint(changed));
  };
  return { element, update };
}
