// Who is signed in. The token lives in this tab's sessionStorage only: never a cookie,
// never localStorage, gone when the tab closes. The role comes from GET /api/me and only
// decides which controls are shown; the server decides every request.

const KEY = "assetry.token";
const RANK = { viewer: 1, editor: 2, moderator: 3, admin: 4 };

let caller = { name: null, role: null };

export function token() {
  return sessionStorage.getItem(KEY);
}

export function storeToken(secret) {
  sessionStorage.setItem(KEY, secret);
}

export function forget() {
  sessionStorage.removeItem(KEY);
  caller = { name: null, role: null };
}

export function setCaller(value) {
  caller = { name: value?.name ?? null, role: value?.role ?? null };
}

export function currentCaller() {
  return caller;
}

export function signedIn() {
  return caller.role !== null;
}

/** Whether the signed-in token's role includes `role`. */
export function atLeast(role) {
  return (RANK[caller.role] || 0) >= RANK[role];
}
