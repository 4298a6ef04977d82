// Functions: the list by state and the three-step creation (template and event, allowlist, name and description).

import { api } from "./api.js";
import { badge, codeBlock, errorBox, h, paged, replace, statusLine, when } from "./dom.js";
import { can } from "./session.js";

const GROUPS = [
  ["Draft", ["Draft"]], ["Productive / Modified", ["Productive", "Modified"]],
  ["Errors", ["Build Error", "Deploy Error"]], ["Being undeployed", ["Marked Undeployed"]],
];
export const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;
export const NAME_MAX = 50;
export const DESCRIPTION_MAX = 200;
const RUNTIMES = [["nodejs20", "Node.js 20"], ["python3.11", "Python 3.11"]];

export async function renderFunctions(main) {
  const [functions, events] = await Promise.all([api("GET", "/functions"), api("GET", "/events")]);
  const eventName = Object.fromEntries(events.map((e) => [e.eventId, e.eventName]));
  const filter = h("input", { id: "fn-filter", type: "search", placeholder: "Name or description" });
  const lists = h("div", {});
  const draw = () => {
    const text = filter.value.trim().toLowerCase();
    const shown = functions.filter((f) => !text || `${f.name} ${f.description}`.toLowerCase().includes(text));
    replace(lists, GROUPS.map(([label, states]) => group(label, shown.filter((f) => states.includes(f.state)),
      eventName)));
  };
  filter.addEventListener("input", draw);
  draw();
  replace(main,
    h("div", { class: "title-row" }, h("h1", {}, "Functions"),
      can("lambda", "write") ? h("a", { class: "button", href: "#/functions/new" }, "Create a function") : null),
    functions.length ? null : h("p", {}, "There are no functions yet."),
    h("div", { class: "field inline" }, h("label", { for: "fn-filter" }, "Filter"), filter), lists);
}

function group(label, functions, eventName) {
  const id = `group-${label.replace(/\W+/g, "-").toLowerCase()}`;
  return h("section", { "aria-labelledby": id },
    h("h2", { id }, `${label} (${functions.length})`),
    functions.length ? paged(functions, (shown) => h("table", {},
      h("thead", {}, h("tr", {}, ["Name", "Event", "State", "Description", "Updated"].map((t) => h("th", {}, t)))),
      h("tbody", {}, shown.map((f) => h("tr", {},
        h("td", {}, h("a", { href: `#/functions/${f.uuid}` }, f.name)),
        h("td", {}, eventName[f.eventId] || (f.eventId ? f.eventId : "No event")),
        h("td", {}, badge(f.state)), h("td", {}, f.description || ""),
        h("td", {}, `${when(f.updatedAt)} by ${f.updatedBy || "–"}`))))), `in ${label}`)
      : h("p", { class: "muted" }, "None."));
}

export function nameProblem(name, taken) {
  if (!name) return "A name is required.";
  if (name.length > NAME_MAX) return `At most ${NAME_MAX} characters (this has ${name.length}).`;
  if (!NAME_PATTERN.test(name)) return "Only letters, digits, '-' and '_' are allowed.";
  if (taken.has(name.toLowerCase())) return "A function with this name exists already: names are unique.";
  return "";
}

export async function renderCreate(main) {
  if (!can("lambda", "write")) {
    replace(main, h("h1", {}, "Create a function"),
      errorBox("Your role does not allow creating functions (FaaS-Developer does)."));
    return;
  }
  const [events, functions] = await Promise.all([api("GET", "/events"), api("GET", "/functions")]);
  const state = { step: 1, runtime: RUNTIMES[0][0], eventId: "none", code: "", added: [] };
  const taken = new Set(functions.map((f) => f.name.toLowerCase()));
  const steps = h("ol", { class: "steps", "aria-label": "Steps" });
  const body = h("div", { class: "wizard" });
  const show = async () => {
    replace(steps, ["Choose a template", "Allowlist a domain (optional)", "Name and description"].map((label, i) =>
      h("li", { "aria-current": state.step === i + 1 ? "step" : null, class: state.step > i + 1 ? "done" : "" },
        label)));
    if (state.step === 1) await stepTemplate(body, state, events, show);
    else if (state.step === 2) await stepDomain(body, state, show);
    else stepName(body, state, taken, events, show);
    body.querySelector("h2")?.focus();
  };
  replace(main, h("h1", {}, "Create a function"), steps, body);
  await show();
}

async function stepTemplate(body, state, events, show) {
  const runtimes = h("fieldset", {}, h("legend", {}, "Runtime"), RUNTIMES.map(([id, label]) =>
    h("label", { class: "choice" }, h("input", { type: "radio", name: "runtime", value: id,
      checked: state.runtime === id }), ` ${label}`)));
  const select = h("select", { id: "create-event" },
    h("option", { value: "none" }, "No event (called over HTTP)"),
    events.map((e) => h("option", { value: e.eventId }, e.eventName)));
  select.value = state.eventId;
  const about = h("p", { class: "muted", id: "create-event-about" });
  const preview = h("div", { class: "preview" });
  const status = statusLine();
  const load = async () => {
    const event = events.find((e) => e.eventId === select.value);
    about.textContent = event ? event.description : "A function no event calls: external systems invoke it.";
    try {
      const t = await api("GET", `/events/${encodeURIComponent(select.value)}/template?runtime=${state.runtime}`);
      state.code = t.code;
      state.eventId = select.value;
      replace(preview, h("h3", {}, "Template preview"), codeBlock("Template code", t.code));
      status.clear();
    } catch (err) {
      status.show(err.message, "error");
    }
  };
  runtimes.addEventListener("change", (e) => { state.runtime = e.target.value; load(); });
  select.addEventListener("change", load);
  const next = h("button", { type: "button", onclick: () => { state.step = 2; show(); } }, "Next: allowlist");
  replace(body, h("h2", { tabindex: "-1" }, "Step 1: choose a template"),
    h("div", { class: "columns" },
      h("div", {}, runtimes, h("div", { class: "field" }, h("label", { for: "create-event" }, "Event"), select), about,
        status, h("div", { class: "actions" }, next)),
      preview));
  select.setAttribute("aria-describedby", "create-event-about");
  await load();
}

async function stepDomain(body, state, show) {
  const list = h("ul", {});
  const status = statusLine();
  const refresh = async () => {
    if (!can("whitelist", "read")) return;
    try {
      const domains = await api("GET", "/domains");
      replace(list, domains.length ? domains.map((d) => h("li", {}, d.domain)) : h("li", {}, "No domains yet."));
    } catch (err) {
      status.show(err.message, "error");
    }
  };
  const input = h("input", { id: "create-domain", placeholder: "api.example.com" });
  const form = h("form", { class: "inline-form" }, h("div", { class: "field" },
    h("label", { for: "create-domain" }, "Domain to allowlist"), input), h("button", { type: "submit" }, "Add"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const added = await api("POST", "/domains", { domain: input.value.trim() });
      status.show(`${added.domain} is allowlisted.`);
      input.value = "";
      refresh();
    } catch (err) {
      status.show(err.message, "error");
    }
  });
  replace(body, h("h2", { tabindex: "-1" }, "Step 2: allowlist a domain (optional)"),
    h("p", {}, "A function reaches external hosts only when their domain is on the account's allowlist."),
    can("whitelist", "write") ? form
      : h("p", { class: "note" }, "Only a FaaS-Admin can add domains; ask one, or do it later in Settings."),
    status, can("whitelist", "read") ? h("div", {}, h("h3", {}, "Allowlisted now"), list) : null,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => { state.step = 1; show(); } }, "Back"),
      h("button", { type: "button", onclick: () => { state.step = 3; show(); } }, "Next: name")));
  await refresh();
}

function stepName(body, state, taken, events, show) {
  const name = h("input", { id: "create-name", required: true, maxlength: String(NAME_MAX + 10),
    "aria-describedby": "create-name-help", autocomplete: "off" });
  const nameHelp = h("p", { id: "create-name-help", class: "help", "aria-live": "polite" },
    "Letters, digits, '-' and '_'; unique in the account.");
  const description = h("textarea", { id: "create-description", rows: "3", "aria-describedby": "create-desc-help" });
  const descHelp = h("p", { id: "create-desc-help", class: "help", "aria-live": "polite" },
    `0 of ${DESCRIPTION_MAX} characters`);
  const create = h("button", { type: "submit", disabled: true }, "Create function");
  const status = statusLine();
  const check = () => {
    const problem = nameProblem(name.value.trim(), taken);
    const long = description.value.length > DESCRIPTION_MAX;
    name.setAttribute("aria-invalid", problem && name.value ? "true" : "false");
    nameHelp.textContent = name.value ? (problem || "This name is free.") : "A name is required.";
    nameHelp.className = problem && name.value ? "help invalid" : "help";
    descHelp.textContent = `${description.value.length} of ${DESCRIPTION_MAX} characters`
      + (long ? ": too long." : "");
    descHelp.className = long ? "help invalid" : "help";
    description.setAttribute("aria-invalid", long ? "true" : "false");
    create.disabled = Boolean(problem) || long;
  };
  name.addEventListener("input", check);
  description.addEventListener("input", check);
  const form = h("form", {}, h("div", { class: "field" }, h("label", { for: "create-name" }, "Name"), name, nameHelp),
    h("div", { class: "field" }, h("label", { for: "create-description" }, "Description"), description, descHelp),
    status, h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => { state.step = 2; show(); } }, "Back"),
      create));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    check();
    if (create.disabled) return;
    create.disabled = true;
    const event_ = events.find((e) => e.eventId === state.eventId);
    try {
      const fn = await api("POST", "/functions", {
        name: name.value.trim(), description: description.value, runtime: state.runtime, code: state.code,
        ...(event_ ? { eventId: event_.eventId } : {}),
      });
      location.hash = `#/functions/${fn.uuid}`;
    } catch (err) {
      status.show(err.message, "error");
      create.disabled = false;
    }
  });
  const eventLabel = events.find((e) => e.eventId === state.eventId)?.eventName || "No event";
  replace(body, h("h2", { tabindex: "-1" }, "Step 3: name and description"),
    h("p", { class: "muted" }, `Template: ${eventLabel}, ${RUNTIMES.find(([id]) => id === state.runtime)[1]}.`),
    form);
}
