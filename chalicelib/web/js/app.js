// The shell: login, the navigation between the sections, and a hash router (#/functions/UUID, ...).

import { request } from "./api.js";
import { announce, errorBox, h, replace } from "./dom.js";
import { current, end, fromToken, start } from "./session.js";
import { renderHome } from "./home.js";
import { renderCreate, renderFunctions } from "./functions.js";
import { renderEditor } from "./editor.js";
import { renderDeployments, renderHistory, renderTest } from "./deployments.js";
import { renderSettings } from "./settings.js";
import { renderBots } from "./bots.js";
import { renderSchedule, renderSchedules } from "./schedules.js";
import { renderLogs } from "./logs.js";

const SECTIONS = [
  ["home", "Home"], ["functions", "Functions"], ["deployments", "Deployments"], ["schedules", "Schedules"],
  ["logs", "Logs"], ["settings", "Settings"], ["bots", "Bots"],
];

const ROUTES = [
  [/^home$/, renderHome],
  [/^functions$/, renderFunctions],
  [/^functions\/new$/, renderCreate],
  [/^functions\/([\w-]+)$/, renderEditor],
  [/^deployments$/, renderDeployments],
  [/^deployments\/([\w-]+)$/, renderHistory],
  [/^deployments\/([\w-]+)\/test$/, renderTest],
  [/^schedules$/, renderSchedules],
  [/^schedules\/(new|[\w-]+)$/, renderSchedule],
  [/^logs$/, renderLogs],
  [/^settings$/, renderSettings],
  [/^bots$/, renderBots],
];

let cleanup = null;

function shell() {
  const s = current();
  const nav = h("nav", { "aria-label": "Sections" }, h("ul", {},
    SECTIONS.map(([id, label]) => h("li", {}, h("a", { href: `#/${id}`, "data-section": id }, label)))));
  const roles = s.roles.length ? s.roles.join(", ") : "no FaaS role";
  const logout = h("button", { type: "button", class: "secondary", onclick: logOut }, "Log out");
  const app = document.getElementById("app");
  replace(app,
    h("header", { class: "top" },
      h("a", { class: "brand", href: "#/home" }, "fngate"),
      h("span", { class: "who" }, `${s.login || "token user"} · account ${s.account} · ${roles}`), logout),
    h("div", { class: "layout" }, nav, h("main", { id: "main", tabindex: "-1" })),
    h("div", { id: "announcer", class: "visually-hidden", role: "status", "aria-live": "polite" }));
}

function logOut() {
  end();
  location.hash = "";
  showLogin("You are logged out.");
}

async function route() {
  if (!current()) return showLogin();
  if (!document.querySelector("nav")) shell();
  if (cleanup) cleanup();
  cleanup = null;
  const path = location.hash.replace(/^#\/?/, "").split("?")[0] || "home";
  const section = path.split("/")[0];
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  const label = (SECTIONS.find(([id]) => id === section) || [section, "Not found"])[1];
  document.title = `${label} · fngate`;
  replace(main, h("p", { class: "loading" }, "Loading…"));
  if (!found) {
    replace(main, h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, "There is no such page. ",
      h("a", { href: "#/home" }, "Go to Home.")));
  } else {
    try {
      cleanup = (await found[1](main, ...path.match(found[0]).slice(1))) || null;
    } catch (err) {
      if (!main.isConnected) return;  // logged out meanwhile: the login page is showing
      replace(main, h("h1", { tabindex: "-1" }, label), errorBox(err));
    }
  }
  if (!main.isConnected) return;
  const heading = main.querySelector("h1");
  if (heading && !main.contains(document.activeElement)) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
  announce(`${document.title} loaded`);
}

function showLogin(message) {
  if (cleanup) cleanup();
  cleanup = null;
  document.title = "Log in · fngate";
  const status = h("div", { role: "alert", class: message ? "alert info" : "alert hidden" }, message || "");
  const fail = (text) => { status.className = "alert"; status.textContent = text; };
  const account = h("input", { id: "login-account", name: "account", required: true, autocomplete: "organization",
    value: localStorage.getItem("fngate.account") || "local" });
  const user = h("input", { id: "login-user", name: "username", required: true, autocomplete: "username" });
  const password = h("input", { id: "login-password", name: "password", type: "password", required: true,
    autocomplete: "current-password" });
  const token = h("textarea", { id: "login-token", name: "token", rows: "4", required: true, spellcheck: "false" });
  const byPassword = h("form", { class: "card", "aria-labelledby": "login-password-title" },
    h("h2", { id: "login-password-title" }, "With your user and password"),
    field("login-account", "Account", account), field("login-user", "User", user),
    field("login-password", "Password", password), h("button", { type: "submit" }, "Log in"));
  byPassword.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await request("POST", `/api/account/${encodeURIComponent(account.value.trim())}/login?v=1.3`,
        { username: user.value, password: password.value });
      localStorage.setItem("fngate.account", account.value.trim());
      enter(fromToken(answer.bearer));
    } catch (err) {
      fail(err.status === 401 ? "The user or the password is wrong, or the account does not exist." : err.message);
    }
  });
  const byToken = h("form", { class: "card", "aria-labelledby": "login-token-title" },
    h("h2", { id: "login-token-title" }, "Or with a token"),
    field("login-token", "Bearer token (from fngate admin bootstrap or a login)", token),
    h("button", { type: "submit" }, "Use token"));
  byToken.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const info = fromToken(token.value);
      await request("GET", `/api/account/${encodeURIComponent(info.account)}/functions/count`, undefined, info.token);
      enter(info);
    } catch (err) {
      fail(err.status === 401 ? "The gateway does not accept this token (expired, or for another gateway)."
        : err.message);
    }
  });
  replace(document.getElementById("app"), h("main", { id: "main", class: "login", tabindex: "-1" },
    h("h1", {}, "Log in to fngate"), status, h("div", { class: "login-forms" }, byPassword, byToken)));
  account.value ? user.focus() : account.focus();
}

function field(id, label, input) {
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

function enter(info) {
  start(info);
  shell();
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/home";
  else route();
}

// The skip link moves focus to the page's content; it must not change the hash, which is the router's.
document.querySelector(".skip")?.addEventListener("click", (event) => {
  event.preventDefault();
  const main = document.getElementById("main");
  main.setAttribute("tabindex", "-1");
  main.focus();
});
window.addEventListener("hashchange", route);
window.addEventListener("fngate:logged-out", (event) => showLogin(event.detail));
document.addEventListener("DOMContentLoaded", () => route());
