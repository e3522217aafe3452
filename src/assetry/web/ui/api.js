// The public HTTP API, as the UI calls it: JSON in and out with the bearer token, and
// every error as the server's problem+json (status, detail, errors[].field).

import { token } from "./session.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `the server answered ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  /** [{field, message}] from the problem's `errors`, when one field was at fault. */
  get fields() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

const listeners = new Set();
/** Called with the ApiError whenever a token is refused (401 with a token sent). */
export function onRefusedToken(listener) {
  listeners.add(listener);
}

export function authorization(headers = {}) {
  const secret = token();
  return secret ? { ...headers, Authorization: `Bearer ${secret}` } : { ...headers };
}

export function withQuery(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, value);
  }
  const text = params.toString();
  return text ? `${path}${path.includes("?") ? "&" : "?"}${text}` : path;
}

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      // fall through to the status line
    }
  }
  return { status: response.status, detail: `the server answered ${response.status} ${response.statusText}`.trim() };
}

function refused(error, sentToken) {
  if (error.status === 401 && sentToken) for (const listener of listeners) listener(error);
  return error;
}

/** fetch with the token; the Response when it is ok, else an ApiError. */
export async function send(method, path, { json, body, headers = {}, query, signal } = {}) {
  const init = { method, headers: authorization(headers), signal, cache: "no-store" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(withQuery(path, query), init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { detail: "the server could not be reached" });
  }
  if (!response.ok) throw refused(new ApiError(response.status, await problemOf(response)), token());
  return response;
}

/** A JSON call: the parsed body, or null for 204. */
export async function api(method, path, options = {}) {
  const response = await send(method, path, options);
  if (response.status === 204) return null;
  return response.json();
}

/** The bytes of a URL of ours (for previews that must outlive the asset). */
export async function blob(path) {
  return (await send("GET", path)).blob();
}

/**
 * An XMLHttpRequest (fetch cannot report upload progress): resolves with
 * {status, header(name), json} for 2xx, rejects with an ApiError otherwise. `onProgress`
 * gets the bytes sent so far and the body's length; `signal` aborts (rejecting with an AbortError).
 */
export function upload(method, path, body, { headers = {}, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    for (const [name, value] of Object.entries(authorization(headers))) {
      xhr.setRequestHeader(name, value);
    }
    if (onProgress) {
      xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded, event.lengthComputable ? event.total : null));
    }
    const abort = () => xhr.abort();
    signal?.addEventListener("abort", abort, { once: true });
    xhr.addEventListener("loadend", () => {
      signal?.removeEventListener("abort", abort);
      if (signal?.aborted) {
        reject(new DOMException("the upload was cancelled", "AbortError"));
        return;
      }
      let parsed = null;
      if ((xhr.getResponseHeader("content-type") || "").includes("json") && xhr.responseText) {
        try {
          parsed = JSON.parse(xhr.responseText);
        } catch {
          parsed = null;
        }
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve({ status: xhr.status, header: (name) => xhr.getResponseHeader(name), json: parsed });
      } else if (xhr.status === 0) {
        reject(new ApiError(0, { detail: "the connection closed before the server answered" }));
      } else {
        const problem = parsed || { detail: `the server answered ${xhr.status} ${xhr.statusText}`.trim() };
        reject(refused(new ApiError(xhr.status, problem), token()));
      }
    });
    xhr.send(body);
  });
}
