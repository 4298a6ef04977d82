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
