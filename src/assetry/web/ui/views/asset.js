// One asset: the original and every version side by side (dimensions, format, size),
// the focal point, details and metadata, attachments, and replace, re-render,
// hide/unhide and delete. Every change is one call of the public API, whose answer (the
// changed asset) redraws the parts it touches.

import { api, upload } from "../api.js";
import { h, replace, uid } from "../dom.js";
import { clearErrors, markInvalid, showErrors } from "../fielderrors.js";
import { focalPicker } from "../focal.js";
import { bytes, dimensions, typeLabel, when } from "../format.js";
import { outcomeLine } from "../notices.js";
import { altText, freshUrl, originalPicture, show } from "../pictures.js";
import { atLeast } from "../session.js";

function rendition(asset, title, info, url) {
  const frame = h("div", { class: "frame" });
  if (url) {
    const img = h("img", { alt: `${title}: ${altText(asset)}`, width: info.width, height: info.height, loading: "lazy", decoding: "async" });
    img.addEventListener("load", () => frame.classList.add("loaded"), { once: true });
    show(img, url, asset);
    frame.append(img);
  } else {
    frame.append(h("span", { class: "badge-file" }, info.status && info.status !== "ready" ? info.status : typeLabel(info.mime_type) || "no preview"));
  }
  const facts = [dimensions(info.width, info.height), typeLabel(info.mime_type), bytes(info.size)].filter(Boolean);
  return h("figure", { class: "rendition", dataset: { name: title } },
    frame,
    h("figcaption", {},
      h("strong", {}, title),
      facts.map((fact) => h("span", {}, fact)),
      info.status === "failed" ? h("span", { class: "error" }, `failed: ${info.error}`) : null,
      info.status === "pending" ? h("span", {}, "pending") : null));
}

function renditions(asset) {
  const original = originalPicture(asset);
  const figures = [rendition(asset, "original", asset, original?.url)];
  for (const [name, version] of Object.entries(asset.versions || {}).sort(([a], [b]) => a.localeCompare(b))) {
    const ready = version.status === "ready";
    figures.push(rendition(asset, name, version, ready ? freshUrl(version.url, version.id) : null));
  }
  return h("div", { class: "renditions" }, figures);
}

function facts(asset) {
  const rows = [
    ["Pool", h("a", { href: `#/pools/${encodeURIComponent(asset.pool)}` }, asset.pool)],
    ["Type", `${asset.type} (${asset.mime_type})`],
    ["Size", bytes(asset.size)],
    ["Dimensions", dimensions(asset.width, asset.height) || "—"],
    // Galleries hold images only.
    ["Gallery", asset.type === "image" ? h("a", { href: `#/galleries/${encodeURIComponent(asset.gallery)}` }, asset.gallery) : asset.gallery],
    ["Converter", asset.converter || "—"],
    ["Created", `${when(asset.created_at)} by ${asset.creator || "—"}`],
    ["Modified", `${when(asset.modified_at)} by ${asset.modified_by || "—"}`],
    ["SHA-256", h("code", {}, asset.sha256)],
  ];
  return h("dl", { class: "facts" }, rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function detailsForm(asset, change) {
  const ids = { filename: uid("filename"), gallery: uid("gallery"), metadata: uid("metadata") };
  const filename = h("input", { id: ids.filename, name: "filename", value: asset.filename, required: true });
  const gallery = h("input", { id: ids.gallery, name: "gallery", value: asset.gallery, spellcheck: "false" });
  const metadata = h("textarea", { id: ids.metadata, name: "metadata", rows: 6, spellcheck: "false", class: "code" });
  metadata.value = JSON.stringify(asset.metadata, null, 2);
  const form = h("form", { class: "details" },
    h("div", { class: "field" }, h("label", { for: ids.filename }, "File name"), filename),
    h("div", { class: "field" }, h("label", { for: ids.gallery }, "Gallery"), gallery),
    h("div", { class: "field" }, h("label", { for: ids.metadata }, "Metadata (JSON object)"), metadata),
    h("div", { class: "form-errors" }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save details")));
  const controls = { filename, gallery, metadata };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    let parsed;
    try {
      parsed = JSON.parse(metadata.value || "{}");
    } catch (error) {
      markInvalid(metadata, `not valid JSON: ${error.message}`);
      metadata.focus();
      return;
    }
    const body = { filename: filename.value, gallery: gallery.value.trim() || null, metadata: parsed };
    await change(body, "Details saved.", (error) => showErrors(form, error, (field) => controls[field.split(".")[0]]));
  });
  return {
    element: form,
    update(changed) {
      filename.value = changed.filename;
      gallery.value = changed.gallery;
      metadata.value = JSON.stringify(changed.metadata, null, 2);
    },
  };
}

function attachments(asset, call) {
  const list = h("ul", { class: "attachments" });
  const inputId = uid("resource");
  const input = h("input", { id: inputId, name: "resource", required: true, maxlength: 512, spellcheck: "false", placeholder: "e.g. proposals/42" });
  const form = h("form", { class: "row" },
    h("div", { class: "field grow" }, h("label", { for: inputId }, "Attach to resource"), input),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Attach")),
    h("div", { class: "form-errors" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const resource = input.value.trim();
    const done = await call("POST", `/api/assets/${asset.id}/attachments`, { json: { resource } },
      `Attached to ${resource}.`, (error) => showErrors(form, error, () => input));
    if (done) input.value = "";
  });
  const draw = (changed) => {
    replace(list, changed.attached_to.length === 0 ? h("li", { class: "hint" }, "Not attached to anything.") : null,
      changed.attached_to.map((resource) => h("li", {},
        h("code", {}, resource), " ",
        h("button", {
          type: "button", class: "small secondary", "aria-label": `Detach ${resource}`,
          onclick: () => call("DELETE", `/api/assets/${asset.id}/attachments`, { query: { resource } }, `Detached ${resource}.`),
        }, "Detach"))));
  };
  draw(asset);
  return { element: h("div", {}, list, atLeast("editor") ? form : null), update: draw };
}

function replaceForm(asset, replaced) {
  const inputId = uid("replacement");
  const input = h("input", { id: inputId, type: "file", required: true });
  const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Replacement upload" });
  const button = h("button", { type: "submit" }, "Replace");
  const form = h("form", { class: "row" },
    h("div", { class: "field grow" }, h("label", { for: inputId }, "Replace the file with"), input),
    h("div", { class: "actions" }, button), progress, h("div", { class: "form-errors" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const file = input.files[0];
    if (!file) {
      markInvalid(input, "choose a file");
      input.focus();
      return;
    }
    const body = new FormData();
    body.append("file", file, file.name);
    progress.hidden = false;
    progress.max = file.size || 1;
    button.disabled = true;
    try {
      const answer = await upload("PUT", `/api/assets/${asset.id}?wait=true`, body, {
        onProgress: (sent, total) => { progress.value = total ? (sent / total) * file.size : sent; },
      });
      input.value = "";
      replaced(answer.json, `Replaced with ${file.name}.`);
    } catch (error) {
      showErrors(form, error, () => input);
    } finally {
      progress.hidden = true;
      button.disabled = false;
    }
  });
  return form;
}

function deleteDialog(asset, onDeleted) {
  const cancel = h("button", { type: "button", class: "secondary", autofocus: true }, "Cancel");
  const confirm = h("button", { type: "button", class: "danger" }, "Delete for good");
  const headingId = uid("confirm");
  const errors = h("div", { class: "form-errors" });
  const dialog = h("dialog", { "aria-labelledby": headingId },
    h("h2", { id: headingId }, `Delete ${asset.filename}?`),
    h("p", {}, "The original, every version and every URL of it go away; this cannot be undone."),
    errors,
    h("div", { class: "actions" }, cancel, confirm));
  cancel.addEventListener("click", () => dialog.close());
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      await api("DELETE", `/api/assets/${asset.id}`);
      dialog.close();
      onDeleted();
    } catch (error) {
      showErrors(dialog, error, () => null);
    } finally {
      confirm.disabled = false;
    }
  });
  return dialog;
}

export async function assetView(main, { params: [id] }) {
  let asset = await api("GET", `/api/assets/${encodeURIComponent(id)}`);
  const outcome = outcomeLine();
  const canEdit = atLeast("editor");
  const parts = [];

  const heading = h("h1", {}, asset.filename);
  const flag = h("span", { class: "flag", hidden: !asset.hidden }, "hidden");
  const renditionsSlot = h("div", {}, renditions(asset));
  const factsSlot = h("div", {}, facts(asset));

  const refresh = (changed) => {
    asset = changed;
    heading.textContent = changed.filename;
    flag.hidden = !changed.hidden;
    replace(renditionsSlot, renditions(changed));
    replace(factsSlot, facts(changed));
    for (const part of parts) part.update(changed);
  };
  /** One API call that answers with the changed asset; false when it failed. */
  const call = async (method, path, options, message, onError) => {
    outcome.clear();
    try {
      refresh(await api(method, path, options));
      outcome.ok(message);
      return true;
    } catch (error) {
      if (!onError || !onError(error)) outcome.fail(error);
      return false;
    }
  };
  const patch = (body, message, onError) => call("PATCH", `/api/assets/${asset.id}`, { json: body }, message, onError);

  const focal = focalPicker(asset, {
    canEdit,
    save: (point) => {
      const metadata = { ...asset.metadata };
      if (point) metadata.focal_point = point;
      else delete metadata.focal_point;
      return patch({ metadata }, point
        ? `Focal point saved at x ${point.x}, y ${point.y}. Versions use it when they are made again (Re-render).`
        : "Focal point removed.");
    },
  });
  const details = detailsForm(asset, patch);
  const attached = attachments(asset, call);
  parts.push(focal, details, attached);

  const hideButton = h("button", { type: "button", class: "secondary" });
  const drawHide = (changed) => { hideButton.textContent = changed.hidden ? "Unhide" : "Hide"; };
  drawHide(asset);
  parts.push({ update: drawHide });
  hideButton.addEventListener("click", () => {
    const hidden = !asset.hidden;
    patch({ hidden }, hidden ? "Hidden: only moderators and admins see it now." : "Visible to everyone who may read the pool again.");
  });

  const dialog = deleteDialog(asset, () => {
    location.hash = `#/pools/${encodeURIComponent(asset.pool)}`;
  });
  const rerender = h("button", { type: "button", class: "secondary" }, "Re-render versions");
  rerender.addEventListener("click", async () => {
    rerender.disabled = true;
    await call("POST", `/api/assets/${asset.id}/convert`, { query: { wait: "true" }, json: {} }, "Versions made again.");
    rerender.disabled = false;
  });

  const section = (title, ...content) => {
    const headingId = uid("section");
    return h("section", { class: "panel", "aria-labelledby": headingId }, h("h2", { id: headingId }, title), content);
  };
  const actions = h("div", { class: "actions" },
    canEdit && asset.type === "image" ? rerender : null,
    atLeast("moderator") ? hideButton : null,
    canEdit ? h("button", { type: "button", class: "danger", onclick: () => dialog.showModal() }, "Delete…") : null);

  replace(main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "#/pools" }, "Pools"), " / ",
      h("a", { href: `#/pools/${encodeURIComponent(asset.pool)}` }, asset.pool), " / ", asset.filename),
    h("div", { class: "title-row" }, heading, flag),
    outcome.element,
    section("Original and versions", renditionsSlot),
    h("div", { class: "columns" },
      h("div", {},
        asset.type === "image" ? section("Focal point", focal.element) : null,
        section("Attachments", attached.element)),
      h("div", {},
        section("Facts", factsSlot),
        canEdit ? section("Details and metadata", details.element) : null,
        canEdit || atLeast("moderator") ? section("Change", canEdit ? replaceForm(asset, (changed, message) => {
          refresh(changed);
          outcome.ok(message);
        }) : null, actions) : null)),
    dialog);
}
