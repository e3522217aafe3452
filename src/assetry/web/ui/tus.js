// A small tus 1.0 client (core, creation, termination) for resumable uploads to
// /api/pools/{pool}/uploads: POST creates the upload (Upload-Length, Upload-Metadata),
// PATCHes send the file in chunks at Upload-Offset, and HEAD tells where to resume after
// a broken connection or a reload. An upload's URL is remembered in localStorage under
// the file's name, size and date until it finishes, so choosing the same file again
// (in a new tab too) resumes it; the token is never stored with it.

import { ApiError, api, send, upload } from "./api.js";

const VERSION = "1.0.0";
export const CHUNK = 4 * 1024 * 1024;
const RETRIES = 5;
const BACKOFF = [500, 1000, 2000, 4000, 8000];

const support = new Map();

/**
 * Whether the pool takes tus uploads: OPTIONS on its creation URL answers with
 * `Tus-Version` 1.0.0 (asked once per pool). Resolves to {maxSize} or null.
 */
export function tusSupport(pool) {
  if (!support.has(pool)) {
    const asked = fetch(creationUrl(pool), { method: "OPTIONS", cache: "no-store" })
      .then((response) => {
        const versions = (response.headers.get("Tus-Version") || "").split(",").map((v) => v.trim());
        if (!response.ok || !versions.includes(VERSION)) return null;
        const max = Number(response.headers.get("Tus-Max-Size"));
        return { maxSize: Number.isFinite(max) && max > 0 ? max : null };
      })
      .catch(() => null);
    support.set(pool, asked);
  }
  return support.get(pool);
}

function creationUrl(pool) {
  return `/api/pools/${encodeURIComponent(pool)}/uploads`;
}

function base64(text) {
  const utf8 = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of utf8) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** `key base64(value)` pairs, as Upload-Metadata carries them; empty values left out. */
export function encodeMetadata(fields) {
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined && value !== null && value !== "")
    .map(([key, value]) => `${key} ${base64(String(value))}`)
    .join(",");
}

function storageKey(pool, file) {
  return `assetry.tus:${pool}:${file.name}:${file.size}:${file.lastModified}`;
}

const TUS = { "Tus-Resumable": VERSION };
const pause = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => {
    clearTimeout(timer);
    reject(new DOMException("the upload was cancelled", "AbortError"));
  }, { once: true });
});

async function offsetOf(url, signal) {
  const response = await send("HEAD", url, { headers: TUS, signal });
  return {
    offset: Number(response.headers.get("Upload-Offset")),
    assetId: response.headers.get("Asset-Id"),
  };
}

/**
 * Upload `file` into `pool` with tus; resolves with the new asset's JSON. `fields` are
 * the upload's fields (gallery, converter); `onProgress(bytesDone)`; `signal` cancels,
 * which also terminates the upload on the server (DELETE).
 */
export async function tusUpload({ pool, file, fields = {}, onProgress, signal, chunk = CHUNK }) {
  const key = storageKey(pool, file);
  let url = localStorage.getItem(key);
  let offset = 0;
  let assetId = null;
  if (url) {
    try {
      ({ offset, assetId } = await offsetOf(url, signal));
    } catch (error) {
      if (error.name === "AbortError") throw error;
      url = null; // expired, finished long ago or never ours: start afresh
      localStorage.removeItem(key);
    }
  }
  if (!url) {
    const response = await send("POST", creationUrl(pool), {
      signal,
      headers: {
        ...TUS,
        "Upload-Length": String(file.size),
        "Upload-Metadata": encodeMetadata({ filename: file.name, ...fields }),
      },
    });
    url = response.headers.get("Location");
    offset = Number(response.headers.get("Upload-Offset") || 0);
    assetId = response.headers.get("Asset-Id");
    localStorage.setItem(key, url);
  }
  onProgress?.(offset);
  try {
    let failures = 0;
    while (!assetId && offset < file.size) {
      const body = file.slice(offset, Math.min(file.size, offset + chunk));
      const start = offset;
      try {
        const answer = await upload("PATCH", url, body, {
          signal,
          headers: { ...TUS, "Upload-Offset": String(start), "Content-Type": "application/offset+octet-stream" },
          onProgress: (sent) => onProgress?.(start + sent),
        });
        offset = Number(answer.header("Upload-Offset"));
        assetId = answer.header("Asset-Id");
        failures = 0;
      } catch (error) {
        // A lost connection, a server error or a racing PATCH (409): ask where the upload
        // stands and go on from there; refusals of the file itself end the upload.
        const transient = error instanceof ApiError && (error.status === 0 || error.status === 409 || error.status >= 500);
        if (!transient || failures >= RETRIES) throw error;
        await pause(BACKOFF[failures], signal);
        failures += 1;
        try {
          ({ offset, assetId } = await offsetOf(url, signal));
        } catch (lost) {
          if (lost.name === "AbortError") throw lost; // else the next PATCH tells
        }
      }
      onProgress?.(offset);
    }
  } catch (error) {
    if (error.name === "AbortError") {
      localStorage.removeItem(key);
      send("DELETE", url, { headers: TUS }).catch(() => {});
    } else if (error instanceof ApiError && error.status !== 0 && error.status < 500) {
      localStorage.removeItem(key); // the server refused the file: this upload is over
    }
    throw error;
  }
  localStorage.removeItem(key);
  return api("GET", `/api/assets/${assetId}`);
}
