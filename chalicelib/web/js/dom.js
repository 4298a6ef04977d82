// Building the page from data without innerHTML: every text goes in as text, so nothing from the API can inject markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

const BADGES = {
  "Draft": "draft", "Productive": "ok", "Modified": "modified", "Marked Undeployed": "busy",
  "Build Error": "error", "Deploy Error": "error",
};

export function badge(state) {
  return h("span", { class: `badge badge-${BADGES[state] || "draft"}` }, state);
}

// A scrollable block of code or JSON: focusable so a keyboard can scroll it, named for screen readers.
export function codeBlock(label, value) {
  return h("pre", { class: "code", tabindex: "0", role: "region", "aria-label": label }, pretty(value));
}

let live;

export function announce(text) {
  live = live || document.getElementById("announcer");
  if (live) live.textContent = text;
}

export function errorBox(err) {
  return h("div", { class: "alert", role: "alert" }, err instanceof Error ? err.message : String(err));
}

// A region that shows what an action is doing or why it failed; role=status for progress, alert for failures.
export function statusLine() {
  const el = h("div", { class: "status hidden", role: "status", "aria-live": "polite" });
  el.show = (text, kind = "info") => {
    el.className = `status ${kind}`;
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.textContent = text;
  };
  el.clear = () => { el.className = "status hidden"; el.textContent = ""; };
  return el;
}

// A long list drawn a page at a time (1,000 functions would be 1,000 rows to lay out before anything shows):
// make(items) draws the shown ones; a button shows the next page and keeps the keyboard focus on the list.
export const PAGE_ROWS = 100;

export function paged(items, make, label) {
  const holder = h("div", {});
  let count = PAGE_ROWS;
  const draw = (focus) => {
    const left = items.length - count;
    const more = left > 0 ? h("button", { type: "button", class: "secondary more", onclick: () => {
      count += PAGE_ROWS;
      draw(true);
    } }, `Show ${Math.min(PAGE_ROWS, left)} more ${label} (${Math.min(count, items.length)} of ${items.length} shown)`)
      : null;
    replace(holder, make(items.slice(0, count)), more);
    // the button again if there is more, else the first row it added
    const added = holder.querySelectorAll("tbody tr")[count - PAGE_ROWS];
    if (focus) (more || (added && added.querySelector("a, button")))?.focus();
  };
  draw(false);
  return holder;
}
