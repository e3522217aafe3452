// Previewing converter specs on a chosen image without changing anything stored: the
// image's original is copied into a scratch asset in its own pool, the scratch asset is
// converted with the specs given as per-call `settings` (POST /api/assets/{id}/convert,
// which never stores settings), the versions' bytes are read into this page, and the
// scratch asset is deleted. The stored converter and the chosen image stay as they were.

import { api, blob } from "./api.js";
import { freshUrl } from "./pictures.js";

const MARK = { "assetry-ui": "scratch copy for a converter preview; safe to delete" };

/**
 * Resolves with [{name, width, height, mime_type, size, status, error, url}] for each
 * spec, `url` a blob: URL of the rendered bytes (the caller revokes it). `onStep(text)`
 * narrates. Rejects with the API's error (a 422 names the spec field at fault).
 */
export async function previewSpecs(asset, specs, onStep = () => {}) {
  onStep(`Copying ${asset.filename}…`);
  const original = await blob(asset.content_url);
  const form = new FormData();
  form.append("file", original, asset.filename);
  form.append("metadata", JSON.stringify(MARK));
  form.append("gallery", `assetry-ui-preview-${crypto.randomUUID()}`);
  const scratch = await api("POST", `/api/pools/${encodeURIComponent(asset.pool)}/assets`, { body: form });
  try {
    onStep("Rendering…");
    // With a full list of specs the converter named only has to exist: the scratch
    // asset's own (its pool's) is sure to.
    const converted = await api("POST", `/api/assets/${scratch.id}/convert`, {
      query: { wait: "true" },
      json: { converter: scratch.converter, settings: { versions: specs } },
    });
    const results = [];
    for (const spec of specs) {
      const version = converted.versions[spec.name];
      const result = { name: spec.name, ...version, url: null };
      if (version?.status === "ready") {
        result.url = URL.createObjectURL(await blob(freshUrl(version.url, version.id)));
      }
      results.push(result);
    }
    return results;
  } finally {
    onStep("Removing the scratch copy…");
    await api("DELETE", `/api/assets/${scratch.id}`).catch(() => {});
  }
}
