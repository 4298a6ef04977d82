// Home: functions by state, deployments, recent deployments and background jobs; invocation figures need reports.

import { api } from "./api.js";
import { badge, errorBox, h, replace, when } from "./dom.js";
import { can } from "./session.js";

const GROUPS = [["Draft", ["Draft"]], ["Productive / Modified", ["Productive", "Modified"]],
  ["Errors", ["Build Error", "Deploy Error"]], ["Being undeployed", ["Marked Undeployed"]]];

export async function renderHome(main) {
  const functions = await api("GET", "/functions");
  const count = (states) => functions.filter((f) => states.includes(f.state)).length;
  const recent = functions.filter((f) => f.lastDeployment)
    .sort((a, b) => (b.lastDeployment.updatedAt || "").localeCompare(a.lastDeployment.updatedAt || "")).slice(0, 5);
  const tiles = h("div", { class: "tiles" },
    tile("Functions", functions.length),
    GROUPS.map(([label, states]) => tile(label, count(states))));
  const jobs = h("section", { "aria-labelledby": "home-jobs" }, h("h2", { id: "home-jobs" }, "Background jobs"));
  replace(main, h("h1", {}, "Home"), tiles,
    h("section", { "aria-labelledby": "home-recent" }, h("h2", { id: "home-recent" }, "Recent deployments"),
      recent.length ? recentTable(recent) : h("p", {}, "Nothing has been deployed yet.")),
    can("job", "read") ? jobs : null,
    h("section", { "aria-labelledby": "home-usage" }, h("h2", { id: "home-usage" }, "Invocations this month"),
      h("p", { class: "note" }, "Invocations, errors and the slowest functions need the reports API, which this "
        + "gateway does not offer yet. They will show here as soon as it does.")));
  if (can("job", "read")) loadJobs(jobs);
}

function tile(label, value) {
  return h("div", { class: "tile" }, h("span", { class: "tile-value" }, String(value)),
    h("span", { class: "tile-label" }, label));
}

function recentTable(rows) {
  return h("table", {}, h("caption", { class: "visually-hidden" }, "The five latest deployments"),
    h("thead", {}, h("tr", {}, ["Function", "State", "Deployment", "Version", "When"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((f) => h("tr", {},
      h("td", {}, h("a", { href: `#/deployments/${f.uuid}` }, f.name)), h("td", {}, badge(f.state)),
      h("td", {}, f.lastDeployment.deploymentState), h("td", {}, String(f.lastDeployment.manifestVersion)),
      h("td", {}, when(f.lastDeployment.updatedAt))))));
}

async function loadJobs(section) {
  try {
    const [pending, dead] = await Promise.all([api("GET", "/jobs?state=pending"), api("GET", "/jobs?state=dead")]);
    section.append(h("p", {}, `${pending.length} waiting or running, ${dead.length} failed for good (kept 30 days).`));
  } catch (err) {
    section.append(errorBox(err));
  }
}
