// Building DOM elements from data without ever parsing markup: text is always set as
// text (textContent, attribute values), so file names, metadata and server messages
// cannot inject HTML.

/**
 * h("a", {href: "#/", class: "x", onclick: fn}, "text", child, [more]) -> element.
 * `on*` functions become listeners; false, null and undefined attributes are left out;
 * true becomes an empty attribute; children may be strings, nodes, arrays or nothing.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

/** Replace everything inside `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

let counter = 0;
/** A fresh id for label/aria wiring. */
export function uid(prefix = "id") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** Speak `message` to screen readers through the page's polite live region. */
export function announce(message) {
  const region = document.getElementById("announce");
  if (!region) return;
  region.textContent = "";
  // A new text node after a frame, so the same message twice is still announced.
  requestAnimationFrame(() => { region.textContent = message; });
}
