// Messages to the user: errors as the server worded them, and short confirmations.

import { h } from "./dom.js";

/** An error box (role=alert) with the server's status and problem detail. */
export function problemNotice(error, prefix = "") {
  const status = error?.status ? `${error.status} ` : "";
  const title = error?.problem?.title || (error?.status ? "Error" : "Something went wrong");
  return h("div", { class: "notice error", role: "alert" },
    h("strong", {}, `${prefix}${status}${title}: `),
    h("span", { class: "detail" }, error?.message || String(error)));
}

/** A live line that shows the outcome of the last action on a page. */
export function outcomeLine() {
  const line = h("p", { class: "outcome", role: "status" });
  return {
    element: line,
    ok(text) {
      line.className = "outcome ok";
      line.textContent = text;
    },
    fail(error) {
      line.className = "outcome error";
      line.textContent = `${error.status ? `${error.status}: ` : ""}${error.message || error}`;
    },
    clear() {
      line.className = "outcome";
      line.textContent = "";
    },
  };
}
