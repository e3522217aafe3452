// Uploading many files at once: a queue that sends a few at a time, one row per file with
// its own progress bar, state and, when the server refuses it, the server's own words
// (the problem+json `detail` of a 413, 415, 422, ...). Large files go through the
// resumable tus endpoint when the server offers it, the rest as one multipart POST.

import { ApiError, upload } from "./api.js";
import { announce, h } from "./dom.js";
import { bytes } from "./format.js";
import { tusSupport, tusUpload } from "./tus.js";

/** Files at least this large are sent resumably (tus) when the pool offers it. */
export const RESUMABLE_FROM = 8 * 1024 * 1024;
const PARALLEL = 3;

/** One multipart POST (/api/pools/{pool}/assets): resolves with the new asset's JSON. */
export async function multipartUpload({ pool, file, fields = {}, onProgress, signal }) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) if (value) form.append(name, value);
  form.append("file", file, file.name);
  const answer = await upload("POST", `/api/pools/${encodeURIComponent(pool)}/assets`, form, {
    signal,
    // The multipart body is a little longer than the file; report progress in file bytes.
    onProgress: (sent, total) => onProgress?.(total ? Math.round((sent / total) * file.size) : sent),
  });
  return answer.json;
}

async function transportFor(pool, file) {
  if (file.size < RESUMABLE_FROM) return { send: multipartUpload, resumable: false };
  const tus = await tusSupport(pool);
  return tus ? { send: tusUpload, resumable: true } : { send: multipartUpload, resumable: false };
}

export class UploadQueue {
  /**
   * pool: the pool's name; fields(): the upload fields chosen in the form (gallery,
   * converter); limit: the pool's max_size when known; onUploaded(asset) for each success.
   */
  constructor({ pool, fields = () => ({}), limit = null, onUploaded }) {
    this.pool = pool;
    this.fields = fields;
    this.limit = limit;
    this.onUploaded = onUploaded;
    this.waiting = [];
    this.active = 0;
    this.element = h("ol", { class: "uploads", "aria-label": "Uploads" });
  }

  add(files) {
    for (const file of files) {
      const job = this.job(file);
      this.waiting.push(job);
      this.element.append(job.row);
    }
    this.pump();
  }

  pump() {
    while (this.active < PARALLEL && this.waiting.length) {
      const job = this.waiting.shift();
      this.active += 1;
      this.run(job).finally(() => {
        this.active -= 1;
        this.pump();
      });
    }
  }

  job(file) {
    const controller = new AbortController();
    const progress = h("progress", { max: file.size || 1, value: 0, "aria-label": `Upload of ${file.name}` });
    const state = h("span", { class: "upload-state" }, "Waiting");
    const error = h("p", { class: "upload-error", hidden: true });
    const cancel = h("button", { type: "button", class: "small" }, "Cancel");
    const row = h("li", { class: "upload", dataset: { state: "waiting" } },
      h("span", { class: "upload-name" }, file.name),
      h("span", { class: "upload-size" }, bytes(file.size)),
      progress, state, cancel, error);
    const job = { file, controller, row, progress, state, error, cancel };
    cancel.addEventListener("click", () => {
      controller.abort();
      const index = this.waiting.indexOf(job);
      if (index >= 0) {
        this.waiting.splice(index, 1);
        this.finish(job, "cancelled", "Cancelled");
      }
    });
    return job;
  }

  finish(job, outcome, text) {
    job.row.dataset.state = outcome;
    job.state.textContent = text;
    job.cancel.remove();
  }

  async run(job) {
    const { file, controller } = job;
    if (controller.signal.aborted) return;
    job.row.dataset.state = "sending";
    job.state.textContent = "Starting";
    try {
      const transport = await transportFor(this.pool, file);
      if (transport.resumable) job.row.dataset.resumable = "true";
      const label = transport.resumable ? "Uploading (resumable)" : "Uploading";
      const asset = await transport.send({
        pool: this.pool,
        file,
        fields: this.fields(),
        signal: controller.signal,
        onProgress: (done) => {
          job.progress.value = done;
          const percent = file.size ? Math.floor((done / file.size) * 100) : 100;
          job.state.textContent = done >= file.size ? "Processing" : `${label} ${percent}%`;
        },
      });
      job.progress.value = file.size || 1;
      this.finish(job, "done", "Uploaded");
      job.row.append(h("a", { href: `#/assets/${asset.id}`, class: "small" }, "Open"));
      announce(`${file.name} uploaded.`);
      this.onUploaded?.(asset);
    } catch (failure) {
      if (failure.name === "AbortError") {
        this.finish(job, "cancelled", "Cancelled");
        announce(`${file.name}: upload cancelled.`);
        return;
      }
      const message = this.explain(failure, file);
      this.finish(job, "failed", failure.status ? `Failed (${failure.status})` : "Failed");
      job.error.textContent = message;
      job.error.hidden = false;
      announce(`${file.name} failed: ${message}`);
    }
  }

  explain(failure, file) {
    if (!(failure instanceof ApiError)) return String(failure.message || failure);
    let message = failure.message;
    // A server refusing a large body early may close the connection before the browser
    // reads its answer; the pool's limit then says why.
    if (failure.status === 0 && this.limit && file.size > this.limit) {
      message += `; this pool accepts files of at most ${bytes(this.limit)}`;
    }
    return message;
  }
}
