// Cursor paging into a list, with infinite scroll: an IntersectionObserver loads the next
// page when the end of the list comes near, and a "Load more" button does the same for
// keyboards and anyone who prefers to ask.

import { h } from "./dom.js";

export class Pager {
  /**
   * fetchPage(cursor) -> {items, next_cursor}; render(item) -> <li>. `noun` names the
   * items in announcements ("asset").
   */
  constructor({ list, fetchPage, render, noun = "item", onError }) {
    this.list = list;
    this.fetchPage = fetchPage;
    this.render = render;
    this.noun = noun;
    this.onError = onError;
    this.cursor = null;
    this.done = false;
    this.loading = false;
    this.count = 0;
    this.status = h("p", { class: "pager-status", role: "status" });
    this.more = h("button", { type: "button", class: "more", hidden: true, onclick: () => this.next() },
      "Load more");
    this.sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
    this.element = h("div", { class: "pager" }, this.sentinel, this.more, this.status);
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.next();
    }, { rootMargin: "800px 0px" });
  }

  start() {
    this.observer.observe(this.sentinel);
    return this.next();
  }

  stop() {
    this.observer.disconnect();
    this.done = true;
  }

  /** Put items at the top (an upload just made them), counting them in. */
  prepend(item) {
    this.list.prepend(this.render(item));
    this.count += 1;
    this.status.textContent = this.summary();
  }

  summary() {
    const plural = this.count === 1 ? this.noun : `${this.noun}s`;
    if (this.count === 0 && this.done) return `No ${this.noun}s here.`;
    return this.done ? `All ${this.count} ${plural} shown.` : `${this.count} ${plural} shown; more below.`;
  }

  async next() {
    if (this.loading || this.done) return;
    this.loading = true;
    this.more.disabled = true;
    this.status.textContent = "Loading…";
    try {
      const page = await this.fetchPage(this.cursor);
      for (const item of page.items) this.list.append(this.render(item));
      this.count += page.items.length;
      this.cursor = page.next_cursor ?? null;
      this.done = !this.cursor;
      this.status.textContent = this.summary();
    } catch (error) {
      this.status.textContent = "";
      this.onError?.(error);
      this.done = true;
    } finally {
      this.loading = false;
      this.more.disabled = false;
      this.more.hidden = this.done;
      if (this.done) {
        this.observer.disconnect();
      } else {
        // Observe afresh: if the end is still in view (a tall screen), this loads again.
        this.observer.unobserve(this.sentinel);
        this.observer.observe(this.sentinel);
      }
    }
  }
}
