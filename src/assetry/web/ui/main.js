// The UI's entry point: restores the session, draws the header and routes the URL's
// hash (#/pools/default, #/assets/ID, ...) to a view. Views draw into <main> and may
// return a function that stops what they started (observers, uploads stay running).

import { api, onRefusedToken } from "./api.js";
import { h, replace } from "./dom.js";
import { problemNotice } from "./notices.js";
import { atLeast, currentCaller, forget, setCaller, signedIn, token } from "./session.js";
import { assetView } from "./views/asset.js";
import { convertersView, converterView } from "./views/converters.js";
import { galleriesView, galleryView } from "./views/galleries.js";
import { poolsView, poolView } from "./views/pools.js";
import { signInView } from "./views/signin.js";

const main = document.getElementById("main");
let stopCurrent = null;
let refusal = null;

const ROUTES = [
  [/^\/signin$/, signInView, false],
  [/^\/pools$/, poolsView, true],
  [/^\/pools\/([^/]+)$/, poolView, false],
  [/^\/assets\/([^/]+)$/, assetView, false],
  [/^\/galleries$/, galleriesView, false],
  [/^\/galleries\/([^/]+)$/, galleryView, false],
  [/^\/converters$/, convertersView, true],
  [/^\/converters\/([^/]+)$/, converterView, true],
];

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  return { path, query: new URLSearchParams(search) };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function drawHeader() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  nav.hidden = !signedIn();
  who.hidden = !signedIn();
  for (const item of nav.querySelectorAll("[data-role]")) item.hidden = !atLeast(item.dataset.role);
  const caller = currentCaller();
  document.getElementById("who-name").textContent = signedIn() ? `${caller.name} (${caller.role})` : "";
  const { path } = parseHash();
  for (const link of nav.querySelectorAll("a")) {
    const target = link.getAttribute("href").slice(1);
    if (path === target || path.startsWith(`${target}/`)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  stopCurrent?.();
  stopCurrent = null;
  const { path, query } = parseHash();
  if (path === "/") {
    navigate(signedIn() ? "#/pools" : "#/signin");
    return;
  }
  const match = ROUTES.map(([pattern, view, needsToken]) => [path.match(pattern), view, needsToken])
    .find(([found]) => found);
  drawHeader();
  replace(main);
  if (!match) {
    document.title = "Not found – Assetry";
    replace(main, h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, "This page does not exist. ",
      h("a", { href: "#/" }, "Start again")));
    main.querySelector("h1").focus();
    return;
  }
  const [found, view, needsToken] = match;
  if (needsToken && !signedIn()) {
    navigate("#/signin");
    return;
  }
  const params = found.slice(1).map(decodeURIComponent);
  const notice = refusal;
  refusal = null;
  try {
    stopCurrent = (await view(main, { params, query, notice })) || null;
  } catch (error) {
    replace(main, h("h1", { tabindex: "-1" }, "Could not load this page"), problemNotice(error));
  }
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    document.title = `${heading.textContent} – Assetry`;
    if (document.activeElement === document.body || !main.contains(document.activeElement)) {
      heading.focus({ preventScroll: true });
    }
  }
}

onRefusedToken((error) => {
  // The token was revoked while signed in: sign in again. (A refused sign-in attempt
  // is the sign-in form's to report.)
  if (!signedIn()) return;
  forget();
  refusal = error;
  navigate("#/signin");
});

document.getElementById("sign-out").addEventListener("click", () => {
  forget();
  navigate("#/signin");
});

async function boot() {
  if (token()) {
    try {
      setCaller(await api("GET", "/api/me"));
    } catch (error) {
      forget();
      refusal = error;
    }
  }
  window.addEventListener("hashchange", route);
  await route();
}

boot();
