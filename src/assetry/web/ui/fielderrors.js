// Errors shown where they belong: the field a 400/422 problem names (`errors[].field`)
// gets the server's message beside it, marked aria-invalid and linked with
// aria-describedby, and the first such field takes the focus.

import { h, uid } from "./dom.js";
import { problemNotice } from "./notices.js";

/** Remove every inline error inside `scope` (and its general error box). */
export function clearErrors(scope) {
  for (const message of scope.querySelectorAll(".field-error")) message.remove();
  for (const control of scope.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    const ids = (control.getAttribute("aria-describedby") || "").split(" ")
      .filter((id) => id && !id.startsWith("err-"));
    if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
    else control.removeAttribute("aria-describedby");
  }
  for (const box of scope.querySelectorAll(".form-errors")) box.replaceChildren();
}

/** Put `message` beside `control`. */
export function markInvalid(control, message) {
  const id = uid("err");
  const note = h("p", { class: "field-error", id }, message);
  control.setAttribute("aria-invalid", "true");
  const described = control.getAttribute("aria-describedby");
  control.setAttribute("aria-describedby", described ? `${described} ${id}` : id);
  // A whole version spec at fault (`versions[1]`) is a fieldset: the note goes inside it.
  const holder = control.tagName === "FIELDSET" ? control : control.closest(".field") || control.parentElement;
  holder.append(note);
}

/**
 * Show `error` inside `scope`: on the controls `controlFor(field)` finds, or else in the
 * scope's `.form-errors` box. Focuses the first control marked. Whether it showed the
 * error anywhere.
 */
export function showErrors(scope, error, controlFor) {
  clearErrors(scope);
  let first = null;
  let placed = false;
  for (const { field, message } of error.fields || []) {
    const control = controlFor(field);
    if (!control) continue;
    markInvalid(control, message);
    first = first || control;
    placed = true;
  }
  const box = scope.querySelector(".form-errors");
  if (!placed && box) box.append(problemNotice(error));
  else if (placed && box) box.append(h("p", { class: "visually-hidden", role: "alert" }, error.message));
  (first?.tagName === "FIELDSET" ? first.querySelector("input, select, textarea") : first)?.focus();
  return placed || Boolean(box);
}
