// Home: this month's invocations, errors and latency (the reports API), functions by state, the slowest functions,
// recent deployments and background jobs.

import { api } from "./api.js";
import { badge, errorBox, h, replace, when } from "./dom.js";
import { can } from "./session.js";

const GROUPS = [["Draft", ["Draft"]], ["Productive / Modified", ["Productive", "Modified"]],
  ["Errors", ["Build Error", "Deploy Error"]], ["Being undeployed", ["Marked Undeployed"]]];
const SLOWEST = 5;

export async function renderHome(main) {
  const [report, functions] = await Promise.all([
    can("reporting", "read") ? api("GET", "/reports/home").catch((err) => err) : null,
    api("GET", "/functions")]);
  const count = (states) => functions.filter((f) => states.includes(f.state)).length;
  const recent = functions.filter((f) => f.lastDeployment)
    .sort((a, b) => (b.lastDeployment.updatedAt || "").localeCompare(a.lastDeployment.updatedAt || "")).slice(0, 5);
  const tiles = h("div", { class: "tiles", role: "group", "aria-label": "Functions by state" },
    tile("Functions", functions.length),
    GROUPS.map(([label, states]) => tile(label, count(states))));
  const jobs = h("section", { "aria-labelledby": "home-jobs" }, h("h2", { id: "home-jobs" }, "Background jobs"));
  replace(main, h("h1", {}, "Home"), tiles, usage(report),
    h("section", { "aria-labelledby": "home-recent" }, h("h2", { id: "home-recent" }, "Recent deployments"),
      recent.length ? recentTable(recent) : h("p", {}, "Nothing has been deployed yet.")),
    can("job", "read") ? jobs : null);
  if (can("job", "read")) loadJobs(jobs);
}

function usage(report) {
  const section = h("section", { "aria-labelledby": "home-usage" },
    h("h2", { id: "home-usage" }, "Invocations this month"));
  if (report === null || report instanceof Error) {
    section.append(report ? errorBox(report) : h("p", { class: "note" }, "Your role does not allow reading reports."));
    return section;
  }
  const ms = (v) => (v == null ? "–" : `${Math.round(v)} ms`);
  const rate = report.invocations ? ` (${((report.errors / report.invocations) * 100).toFixed(1)} %)` : "";
  section.append(h("div", { class: "tiles", role: "group", "aria-label": "This month" },
    tile("Invocations", report.invocations), tile("Errors", `${report.errors}${rate}`),
    tile("Median duration", ms(report.p50Ms)), tile("99th percentile", ms(report.p99Ms))),
  h("p", { class: "help" }, `Since ${when(new Date(report.from).toISOString())} (UTC month).`));
  const slow = report.perFunction.filter((f) => f.invocations > 0 && f.p99Ms != null)
    .sort((a, b) => b.p99Ms - a.p99Ms || b.p50Ms - a.p50Ms).slice(0, SLOWEST);
  section.append(h("h3", { id: "home-slowest" }, "Slowest functions"), slow.length ? h("table",
    { "aria-labelledby": "home-slowest" },
    h("thead", {}, h("tr", {}, ["Function", "State", "Invocations", "Errors", "Median", "99th percentile"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, slow.map((f) => h("tr", {},
      h("td", {}, f.state ? h("a", { href: `#/deployments/${f.uuid}` }, f.name) : f.name),
      h("td", {}, f.state ? badge(f.state) : "deleted"), h("td", {}, String(f.invocations)),
      h("td", {}, String(f.errors)), h("td", {}, ms(f.p50Ms)), h("td", {}, ms(f.p99Ms))))))
    : h("p", {}, "No function has been invoked this month."));
  return section;
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
