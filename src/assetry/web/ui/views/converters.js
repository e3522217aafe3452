// Converters (admins): the list, and one converter's editor with validation errors shown
// on the fields they name, and a preview of the edited specs on a chosen image before
// anything is saved (see preview.js for how nothing stored changes).

import { ApiError, api } from "../api.js";
import { h, replace, uid } from "../dom.js";
import { clearErrors, showErrors } from "../fielderrors.js";
import { ConverterForm } from "../converter-form.js";
import { bytes, dimensions, typeLabel } from "../format.js";
import { outcomeLine, problemNotice } from "../notices.js";
import { previewSpecs } from "../preview.js";
import { describedAlt, readyPictures, show } from "../pictures.js";
import { atLeast } from "../session.js";

const NAME = /^[a-z0-9_-]{1,64}$/;
const TEMPLATE = [{ name: "detail", width: 800, height: 800 }, { name: "thumbnail", width: 100, height: 100 }];

function summary(converter) {
  return converter.versions.map((v) => `${v.name} ${v.width ?? "auto"}×${v.height ?? "auto"} ${v.fit}, ${v.format}`).join("; ");
}

export async function convertersView(main) {
  const { items } = await api("GET", "/api/converters");
  const nameId = uid("name");
  const name = h("input", { id: nameId, required: true, pattern: "[a-z0-9_\\-]{1,64}", spellcheck: "false", "aria-describedby": `${nameId}-hint` });
  const create = h("form", { class: "row" },
    h("div", { class: "field" }, h("label", { for: nameId }, "New converter named"), name,
      h("span", { class: "hint", id: `${nameId}-hint` }, "1–64 of a-z 0-9 - _")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create")));
  create.addEventListener("submit", (event) => {
    event.preventDefault();
    if (create.reportValidity()) location.hash = `#/converters/${encodeURIComponent(name.value)}`;
  });
  replace(main,
    h("h1", {}, "Converters"),
    h("p", { class: "hint" }, "A converter is a stored list of version specs. Changing one does not touch versions already made: re-render an asset (or run assetry regenerate)."),
    h("table", { class: "list" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Versions"))),
      h("tbody", {}, items.map((c) => h("tr", {},
        h("th", { scope: "row" }, h("a", { href: `#/converters/${encodeURIComponent(c.name)}` }, c.name)),
        h("td", {}, summary(c)))))),
    atLeast("admin") ? create : null);
}

/** The image chooser of the preview: the newest images of a pool, as radio buttons. */
async function imageChooser(onChoose) {
  const { items: pools } = await api("GET", "/api/pools");
  const poolId = uid("pool");
  const select = h("select", { id: poolId }, pools.filter((p) => p.asset_types.includes("image"))
    .map((p) => h("option", { value: p.name }, p.title || p.name)));
  const choices = h("div", { class: "choices", role: "radiogroup", "aria-label": "Image to preview on" });
  const load = async () => {
    replace(choices);
    if (!select.value) return;
    const { items } = await api("GET", `/api/pools/${encodeURIComponent(select.value)}/assets`, { query: { type: "image", limit: 12 } });
    const group = uid("choice");
    items.forEach((asset, index) => {
      const id = uid("image");
      const radio = h("input", { type: "radio", name: group, id, value: asset.id, checked: index === 0 });
      radio.addEventListener("change", () => onChoose(asset));
      const picture = readyPictures(asset)[0];
      const img = picture ? h("img", { alt: "", width: picture.width, height: picture.height, loading: "lazy" }) : null;
      if (img) show(img, picture.url, asset);
      choices.append(h("div", { class: "choice" }, radio, h("label", { for: id }, img, h("span", {}, describedAlt(asset) || asset.filename))));
    });
    onChoose(items[0] || null);
    if (!items.length) choices.append(h("p", { class: "hint" }, "This pool has no images."));
  };
  select.addEventListener("change", load);
  await load();
  return h("div", {}, h("div", { class: "field" }, h("label", { for: poolId }, "Pool"), select), choices);
}

function previewFigures(results) {
  return results.map((r) => h("figure", { class: "rendition", dataset: { name: r.name } },
    h("div", { class: "frame loaded" }, r.url
      ? h("img", { src: r.url, alt: `${r.name} preview`, width: r.width, height: r.height })
      : h("span", { class: "badge-file" }, r.status || "missing")),
    h("figcaption", {}, h("strong", {}, r.name),
      [dimensions(r.width, r.height), typeLabel(r.mime_type), bytes(r.size)].filter(Boolean).map((f) => h("span", {}, f)),
      r.status === "failed" ? h("span", { class: "error" }, `failed: ${r.error}`) : null)));
}

export async function converterView(main, { params: [name] }) {
  if (!NAME.test(name)) throw new ApiError(400, { title: "Bad Request", detail: "converter names are 1-64 of a-z 0-9 - _" });
  let stored = true;
  let converter;
  try {
    converter = await api("GET", `/api/converters/${encodeURIComponent(name)}`);
  } catch (error) {
    if (error.status !== 404) throw error;
    stored = false;
    converter = { name, versions: TEMPLATE };
  }
  const editable = atLeast("admin");
  const specs = new ConverterForm(converter.versions);
  const outcome = outcomeLine();
  const save = h("button", { type: "submit", disabled: !editable }, stored ? "Save converter" : "Create converter");
  const form = h("form", { class: "converter", novalidate: true },
    specs.element, h("div", { class: "form-errors" }),
    h("div", { class: "actions" }, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    outcome.clear();
    const versions = specs.read();
    if (!versions) return;
    save.disabled = true;
    try {
      await api("PUT", `/api/converters/${encodeURIComponent(name)}`, { json: { versions } });
      stored = true;
      save.textContent = "Save converter";
      outcome.ok(`Converter ${name} saved.`);
    } catch (error) {
      showErrors(form, error, (field) => specs.controlFor(field));
    } finally {
      save.disabled = false;
    }
  });

  // The preview.
  let chosen = null;
  let shown = [];
  const results = h("div", { class: "renditions" });
  const step = h("p", { class: "pager-status", role: "status" });
  const previewErrors = h("div", { class: "form-errors" });
  const previewButton = h("button", { type: "button" }, "Preview on this image");
  previewButton.addEventListener("click", async () => {
    clearErrors(form);
    replace(previewErrors);
    if (!chosen) {
      previewErrors.append(problemNotice(new ApiError(0, { title: "No image", detail: "choose an image to preview on" })));
      return;
    }
    const versions = specs.read();
    if (!versions) return;
    previewButton.disabled = true;
    try {
      const rendered = await previewSpecs(chosen, versions, (text) => { step.textContent = text; });
      for (const url of shown) URL.revokeObjectURL(url);
      shown = rendered.map((r) => r.url).filter(Boolean);
      replace(results, previewFigures(rendered));
      step.textContent = `Preview of ${rendered.length} version${rendered.length === 1 ? "" : "s"} on ${chosen.filename}; nothing was saved.`;
    } catch (error) {
      step.textContent = "";
      // A spec the server refuses names its field: show it on the form.
      if (error.fields?.some((f) => specs.controlFor(f.field))) {
        showErrors(form, error, (field) => specs.controlFor(field));
      } else {
        previewErrors.append(problemNotice(error));
      }
    } finally {
      previewButton.disabled = false;
    }
  });
  const chooser = editable ? await imageChooser((asset) => { chosen = asset; }) : null;

  replace(main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/converters" }, "Converters"), " / ", name),
    h("h1", {}, `Converter ${name}`),
    stored ? null : h("p", { class: "hint" }, "Not stored yet: edit the versions and create it."),
    outcome.element,
    form,
    editable ? h("section", { class: "panel preview", "aria-labelledby": "preview-h" },
      h("h2", { id: "preview-h" }, "Preview"),
      h("p", { class: "hint" }, "Renders the versions above on a scratch copy of the chosen image, shows them here, and deletes the copy. Neither this converter nor the image changes."),
      chooser, previewErrors, h("div", { class: "actions" }, previewButton), step, results) : null);
  return () => { for (const url of shown) URL.revokeObjectURL(url); };
}
