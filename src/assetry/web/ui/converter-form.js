// A converter's version specs as a form: one fieldset per version (name, box, fit,
// gravity, format, quality, upscale, operations as JSON), versions added and removed,
// read back into the JSON the API takes, and a problem's `errors[].field`
// (`versions[1].fit`, `versions[0].operations[1].sigma`, `versions[2]`) mapped back to
// the control it names.

import { h, uid } from "./dom.js";
import { markInvalid } from "./fielderrors.js";

const FITS = ["cover", "contain", "inside", "fill"];
const GRAVITIES = ["centre", "attention", "focal"];
const FORMATS = ["same", "jpeg", "png", "webp", "avif", "gif", "tiff"];

function field(label, control, hint) {
  const id = uid("spec");
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control,
    hint ? h("span", { class: "hint" }, hint) : null);
}

function choice(name, options, value) {
  return h("select", { name }, options.map((o) => h("option", { value: o, selected: o === value }, o)));
}

function number(name, value, { min, max }) {
  return h("input", { name, type: "number", min, max, step: 1, inputmode: "numeric", value: value ?? "" });
}

export class ConverterForm {
  constructor(versions) {
    this.list = h("div", { class: "versions" });
    this.add = h("button", { type: "button", class: "secondary", onclick: () => this.append({ name: "" }, true) }, "Add version");
    this.element = h("div", { class: "converter-form" }, this.list, this.add);
    for (const spec of versions) this.append(spec, false);
  }

  fieldsets() {
    return [...this.list.querySelectorAll(":scope > fieldset")];
  }

  renumber() {
    this.fieldsets().forEach((set, index) => {
      set.querySelector("legend").textContent = `Version ${index + 1}`;
    });
  }

  append(spec, focus) {
    const operations = h("textarea", { name: "operations", rows: 2, class: "code", spellcheck: "false" });
    operations.value = JSON.stringify(spec.operations || []);
    const upscale = h("input", { name: "upscale", type: "checkbox", checked: Boolean(spec.upscale) });
    const upscaleId = uid("upscale");
    upscale.id = upscaleId;
    const set = h("fieldset", { class: "version" },
      h("legend", {}, "Version"),
      h("div", { class: "row" },
        field("Name", h("input", { name: "name", value: spec.name || "", spellcheck: "false", required: true })),
        field("Width", number("width", spec.width, { min: 1, max: 10000 })),
        field("Height", number("height", spec.height, { min: 1, max: 10000 })),
        field("Fit", choice("fit", FITS, spec.fit || "cover")),
        field("Gravity", choice("gravity", GRAVITIES, spec.gravity || "centre")),
        field("Format", choice("format", FORMATS, spec.format || "same")),
        field("Quality", number("quality", spec.quality ?? 80, { min: 1, max: 100 })),
        h("div", { class: "field check" }, upscale, h("label", { for: upscaleId }, "Upscale"))),
      field("Operations (JSON list)", operations, 'e.g. [{"op": "grayscale"}, {"op": "blur", "sigma": 2}]'),
      h("div", { class: "actions" }, h("button", {
        type: "button", class: "small secondary",
        onclick: () => {
          set.remove();
          this.renumber();
          this.add.focus();
        },
      }, "Remove version")));
    this.list.append(set);
    this.renumber();
    if (focus) set.querySelector("input").focus();
  }

  /**
   * The specs as the API takes them, or null after marking the controls whose text is
   * not what the API could read (operations that are not JSON).
   */
  read() {
    let ok = true;
    const specs = this.fieldsets().map((set) => {
      const value = (name) => set.querySelector(`[name="${name}"]`);
      const integer = (name) => (value(name).value === "" ? null : Number(value(name).value));
      let operations = [];
      try {
        operations = JSON.parse(value("operations").value || "[]");
      } catch (error) {
        markInvalid(value("operations"), `not valid JSON: ${error.message}`);
        ok = false;
      }
      const spec = {
        name: value("name").value.trim(),
        width: integer("width"),
        height: integer("height"),
        fit: value("fit").value,
        gravity: value("gravity").value,
        format: value("format").value,
        upscale: value("upscale").checked,
        operations,
      };
      if (integer("quality") !== null) spec.quality = integer("quality");
      return spec;
    });
    return ok ? specs : null;
  }

  /** The control a problem's field names, or null (then the error is shown for the form). */
  controlFor(field) {
    const match = /^(?:settings\.)?versions\[(\d+)\](?:\.([a-z_]+))?/.exec(field || "");
    if (!match) return null;
    const set = this.fieldsets()[Number(match[1])];
    if (!set) return null;
    if (!match[2]) return set;
    return set.querySelector(`[name="${match[2]}"]`) || set;
  }
}
