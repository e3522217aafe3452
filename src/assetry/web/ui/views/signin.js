// Sign in with a bearer token (made with `assetry tokens create`). The token is checked
// with GET /api/me and then kept in this tab's sessionStorage.

import { ApiError, api } from "../api.js";
import { h, replace, uid } from "../dom.js";
import { problemNotice } from "../notices.js";
import { forget, setCaller, storeToken } from "../session.js";

export function signInView(main, { notice }) {
  const inputId = uid("token");
  const hintId = uid("hint");
  const errors = h("div", { class: "errors" });
  if (notice) errors.append(problemNotice(notice, "Signed out. "));
  const input = h("input", {
    id: inputId, name: "token", type: "password", required: true, autocomplete: "off",
    spellcheck: "false", "aria-describedby": hintId, placeholder: "ast_…",
  });
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h("form", { class: "card signin", novalidate: true },
    h("label", { for: inputId }, "Access token"),
    input,
    h("p", { id: hintId, class: "hint" },
      "Create one on the server with ", h("code", {}, "assetry tokens create --role editor"),
      ". It is kept in this browser tab only (sessionStorage) and forgotten when the tab closes."),
    button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(errors);
    const secret = input.value.trim();
    if (!secret) {
      input.setAttribute("aria-invalid", "true");
      errors.append(problemNotice(new ApiError(0, { title: "Missing token", detail: "paste your access token" })));
      input.focus();
      return;
    }
    button.disabled = true;
    storeToken(secret);
    try {
      const caller = await api("GET", "/api/me");
      if (!caller.role) throw new ApiError(401, { title: "Unauthorized", detail: "that is not a token" });
      setCaller(caller);
      location.hash = "#/pools";
    } catch (error) {
      forget();
      input.setAttribute("aria-invalid", "true");
      errors.append(problemNotice(error));
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  replace(main,
    h("h1", {}, "Sign in"),
    errors,
    form,
    h("p", { class: "hint" }, "Without a token you can still browse a public pool, e.g. ",
      h("a", { href: "#/pools/default" }, "the default pool"), "."));
  input.focus();
}
