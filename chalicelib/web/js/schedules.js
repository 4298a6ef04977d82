// Schedules: the list, create/edit with a cron helper (the next five runs in the chosen time zone, computed by the
// gateway with the scheduler's own rules), enable/disable, run now and the run history.

import { api } from "./api.js";
import { errorBox, h, pretty, replace, statusLine, when } from "./dom.js";
import { can } from "./session.js";

const PRESETS = [
  ["*/5 * * * *", "Every 5 minutes"], ["0 * * * *", "Every hour, on the hour"], ["0 9 * * *", "Every day at 09:00"],
  ["30 9 * * MON-FRI", "Weekdays at 09:30"], ["0 0 1 * *", "The first of every month at 00:00"],
];
const PREVIEW_WAIT_MS = 250;

export function zones() {
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return ["Etc/UTC", ...all.filter((z) => z !== "Etc/UTC" && z !== "UTC")];
}

// A time in a zone, as its people read it, with the zone's abbreviation.
export function inZone(iso, zone) {
  if (!iso) return "–";
  try {
    return new Intl.DateTimeFormat("en-GB", { timeZone: zone, weekday: "short", year: "numeric", month: "short",
      day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" }).format(new Date(iso));
  } catch {
    return when(iso);
  }
}

function deployedFirst(functions) {
  return [...functions].sort((a, b) => a.name.localeCompare(b.name));
}

export async function renderSchedules(main) {
  const [schedules, functions] = await Promise.all([api("GET", "/schedules"), api("GET", "/functions")]);
  const names = Object.fromEntries(functions.map((f) => [f.uuid, f.name]));
  const status = statusLine();
  const writable = can("schedule", "write");
  const table = h("div", {});
  const draw = (items) => replace(table, items.length ? h("table", {},
    h("caption", { class: "visually-hidden" }, "Schedules of the account"),
    h("thead", {}, h("tr", {}, ["Function", "Cron", "Time zone", "State", "Next run", "Last run", "Actions"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((s) => row(s, names[s.functionUuid] || s.functionUuid, status, writable, refresh))))
    : h("p", {}, writable ? "There are no schedules yet: create one to run a deployed function on a cron expression."
      : "There are no schedules."));
  const refresh = async () => {
    try {
      draw(await api("GET", "/schedules"));
    } catch (err) {
      status.show(err.message, "error");
    }
  };
  draw(schedules);
  replace(main, h("div", { class: "title-row" }, h("h1", {}, "Schedules"),
    writable ? h("a", { class: "button", href: "#/schedules/new" }, "Create a schedule") : null),
  writable ? null : h("p", { class: "note" }, "Read only: FaaS-Developer and FaaS-Admin manage schedules."),
  status, table);
}

function row(s, name, status, writable, refresh) {
  const label = `${name} (${s.cronExpression})`;
  const toggle = h("button", { type: "button", class: "secondary",
    "aria-label": `${s.isActive ? "Disable" : "Enable"} schedule ${label}` }, s.isActive ? "Disable" : "Enable");
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      await api("PUT", `/schedules/${s.id}`, { isActive: !s.isActive });
      status.show(`Schedule ${label} is ${s.isActive ? "disabled" : "enabled"}.`, "ok");
    } catch (err) {
      status.show(err.message, "error");
    }
    refresh();
  });
  const runNow = h("button", { type: "button", class: "secondary", "aria-label": `Run now: schedule ${label}` },
    "Run now");
  runNow.addEventListener("click", async () => {
    runNow.disabled = true;
    try {
      await api("POST", `/schedules/${s.id}/run`);
      status.show(`${name} runs now; its history shows the outcome.`, "ok");
    } catch (err) {
      status.show(err.message, "error");
    }
    runNow.disabled = false;
  });
  return h("tr", {},
    h("td", {}, h("a", { href: `#/schedules/${s.id}`, "aria-label": `Schedule ${label}: details and history` },
      name)),
    h("td", { class: "mono" }, s.cronExpression), h("td", {}, s.timeZone),
    h("td", {}, h("span", { class: `badge ${s.isActive ? "badge-ok" : "badge-draft"}` },
      s.isActive ? "Enabled" : "Disabled")),
    h("td", {}, s.isActive ? inZone(s.nextExecution, s.timeZone) : "–"),
    h("td", {}, s.lastExecution ? [inZone(s.lastExecution, s.timeZone), " ", s.didLastExecutionFail
      ? h("span", { class: "badge badge-error" }, "failed") : h("span", { class: "badge badge-ok" }, "ok")] : "never"),
    h("td", {}, h("div", { class: "row-actions" }, writable ? [toggle, runNow] : null,
      h("a", { href: `#/schedules/${s.id}` }, writable ? "Edit / history" : "History"))));
}

export async function renderSchedule(main, id) {
  const creating = id === "new";
  const [schedule, functions] = await Promise.all([creating ? null : api("GET", `/schedules/${id}`),
    api("GET", "/functions")]);
  const writable = can("schedule", "write");
  const status = statusLine();
  const choices = deployedFirst(functions.filter((f) => f.state === "Productive" || f.state === "Modified"
    || (schedule && f.uuid === schedule.functionUuid)));
  const s = schedule || { functionUuid: choices[0] ? choices[0].uuid : "", cronExpression: "0 9 * * *",
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || "Etc/UTC", isActive: true, description: "",
    invocationBody: { headers: [], payload: {} } };
  const fnName = (functions.find((f) => f.uuid === s.functionUuid) || {}).name || s.functionUuid;

  const fn = h("select", { id: "schedule-function", required: true },
    choices.map((f) => h("option", { value: f.uuid, selected: f.uuid === s.functionUuid ? true : null },
      `${f.name} (${f.state})`)));
  const cron = h("input", { id: "schedule-cron", class: "mono", value: s.cronExpression, required: true,
    spellcheck: "false", autocomplete: "off", "aria-describedby": "schedule-cron-help schedule-preview-error" });
  const preset = h("select", { id: "schedule-preset" }, h("option", { value: "" }, "Pick a common one…"),
    PRESETS.map(([expr, label]) => h("option", { value: expr }, `${label} (${expr})`)));
  const known = zones();
  const zone = h("select", { id: "schedule-zone" }, (known.includes(s.timeZone) ? known : [s.timeZone, ...known])
    .map((z) => h("option", { value: z, selected: z === s.timeZone ? true : null }, z)));
  const active = h("input", { id: "schedule-active", type: "checkbox", checked: s.isActive });
  const description = h("input", { id: "schedule-description", value: s.description || "", maxlength: "200" });
  const payload = h("textarea", { id: "schedule-payload", rows: "5", class: "mono", spellcheck: "false",
    "aria-describedby": "schedule-payload-help" }, pretty((s.invocationBody || {}).payload ?? {}));
  const runs = h("ol", { id: "schedule-preview", class: "preview", "aria-label": "Next five runs" });
  const previewError = h("p", { id: "schedule-preview-error", class: "help invalid", role: "alert" });
  const previewZone = h("span", {}, s.timeZone);
  let timer = null;
  let asked = 0;
  const preview = async () => {
    const mine = ++asked;
    try {
      const answer = await api("POST", "/schedules/preview", { cronExpression: cron.value, timeZone: zone.value });
      if (mine !== asked) return;
      cron.removeAttribute("aria-invalid");
      previewError.textContent = "";
      previewZone.textContent = answer.timeZone;
      replace(runs, answer.nextRuns.map((at) => h("li", {}, inZone(at, answer.timeZone),
        h("span", { class: "muted" }, ` · ${at.slice(0, 16).replace("T", " ")} UTC`))));
    } catch (err) {
      if (mine !== asked) return;
      cron.setAttribute("aria-invalid", "true");
      previewError.textContent = err.message;
      replace(runs);
    }
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(preview, PREVIEW_WAIT_MS);
  };
  cron.addEventListener("input", later);
  zone.addEventListener("change", preview);
  preset.addEventListener("change", () => {
    if (!preset.value) return;
    cron.value = preset.value;
    preset.value = "";
    preview();
  });

  const form = h("form", { class: "card", "aria-labelledby": "schedule-form-title" },
    h("h2", { id: "schedule-form-title" }, creating ? "New schedule" : "Settings"),
    h("fieldset", { disabled: writable ? null : true, class: "plain" },
      h("legend", { class: "visually-hidden" }, "Schedule"),
      choices.length ? field("schedule-function", "Function", fn)
        : errorBox("No function is deployed: deploy one in Deployments, then schedule it."),
      h("div", { class: "columns" },
        h("div", {}, field("schedule-cron", "Cron expression", cron,
          h("p", { id: "schedule-cron-help", class: "help" }, "minute hour day-of-month month day-of-week, e.g. "
            + "*/15 * * * * or 0 9 * * MON-FRI; at most once a minute.")),
        field("schedule-preset", "Common expressions", preset), field("schedule-zone", "Time zone", zone)),
        h("section", { class: "cron-helper", "aria-labelledby": "schedule-preview-title" },
          h("h3", { id: "schedule-preview-title" }, "Next five runs in ", previewZone), previewError, runs)),
      h("div", { class: "field inline" }, active, h("label", { for: "schedule-active" }, "Enabled")),
      field("schedule-description", "Description (optional)", description),
      field("schedule-payload", "Payload sent to the function", payload,
        h("p", { id: "schedule-payload-help", class: "help" }, "JSON; the function gets it as input.payload."))),
    writable && choices.length ? h("div", { class: "actions" }, h("button", { type: "submit" },
      creating ? "Create schedule" : "Save schedule"), h("a", { href: "#/schedules" }, "Cancel")) : null);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try {
      body = JSON.parse(payload.value || "{}");
    } catch (err) {
      status.show(`The payload is not valid JSON: ${err.message}`, "error");
      payload.focus();
      return;
    }
    const fields = { functionUuid: fn.value, cronExpression: cron.value.trim(), timeZone: zone.value,
      isActive: active.checked, description: description.value, invocationBody: { headers:
        (s.invocationBody || {}).headers || [], payload: body } };
    try {
      const saved = await api(creating ? "POST" : "PUT", creating ? "/schedules" : `/schedules/${id}`, fields);
      sessionStorage.setItem("fngate.flash", `Schedule saved: ${saved.cronExpression} in ${saved.timeZone}, `
        + (saved.isActive ? `next run ${inZone(saved.nextExecution, saved.timeZone)}.` : "disabled."));
      if (creating) location.hash = `#/schedules/${saved.id}`;
      else renderSchedule(main, id);
    } catch (err) {
      status.show(err.message, "error");
    }
  });
  const flash = sessionStorage.getItem("fngate.flash");
  if (flash) {
    sessionStorage.removeItem("fngate.flash");
    status.show(flash, "ok");
  }
  const history = creating ? null : h("section", { "aria-labelledby": "schedule-history" },
    h("h2", { id: "schedule-history" }, "Run history"), h("p", { class: "loading" }, "Loading…"));
  replace(main, h("p", {}, h("a", { href: "#/schedules" }, "← All schedules")),
    h("h1", {}, creating ? "Create a schedule" : `Schedule of ${fnName}`), status,
    creating ? null : actions(schedule, fnName, status, writable, () => renderSchedule(main, id)),
    form, history);
  if (history) drawHistory(history, id);
  preview();
}

function actions(s, name, status, writable, again) {
  if (!writable) return null;
  const run = h("button", { type: "button" }, "Run now");
  run.addEventListener("click", async () => {
    run.disabled = true;
    try {
      const queued = await api("POST", `/schedules/${s.id}/run`);
      status.show(`${name} runs now (${queued.status}); the history below shows the outcome.`, "ok");
      const section = document.querySelector("section[aria-labelledby='schedule-history']");
      if (section) await follow(section, s.id);
    } catch (err) {
      status.show(err.message, "error");
    }
    run.disabled = false;
  });
  const remove = h("button", { type: "button", class: "secondary" }, "Delete schedule");
  remove.addEventListener("click", async () => {
    if (remove.dataset.armed !== "1") {
      remove.dataset.armed = "1";
      remove.textContent = "Confirm: delete schedule";
      return;
    }
    try {
      await api("DELETE", `/schedules/${s.id}`);
      location.hash = "#/schedules";
    } catch (err) {
      status.show(err.message, "error");
    }
  });
  const toggle = h("button", { type: "button", class: "secondary" }, s.isActive ? "Disable" : "Enable");
  toggle.addEventListener("click", async () => {
    try {
      await api("PUT", `/schedules/${s.id}`, { isActive: !s.isActive });
      sessionStorage.setItem("fngate.flash", `The schedule is ${s.isActive ? "disabled" : "enabled"}.`);
      again();
    } catch (err) {
      status.show(err.message, "error");
    }
  });
  return h("div", { class: "actions" }, run, toggle, remove);
}

// After "Run now": redraw the history until the queued run has finished (or a few seconds have passed).
async function follow(section, id) {
  for (let i = 0; i < 40; i += 1) {
    const items = await drawHistory(section, id);
    if (items && items.length && !["QUEUED", "RUNNING"].includes(items[0].status)) return;
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (!section.isConnected) return;
  }
}

async function drawHistory(section, id) {
  const head = section.firstChild;
  try {
    const items = await api("GET", `/schedules/${id}/runs`);
    replace(section, head, items.length ? h("table", {},
      h("caption", { class: "visually-hidden" }, "The last runs, newest first"),
      h("thead", {}, h("tr", {}, ["Due", "Started", "Duration", "Outcome", "Trigger", "Error", "Request"]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, items.map((r) => h("tr", {},
        h("td", {}, when(r.dueAt)), h("td", {}, when(r.startedAt)),
        h("td", {}, r.durationMs == null ? "–" : `${Math.round(r.durationMs)} ms`),
        h("td", {}, outcome(r)), h("td", {}, r.trigger),
        h("td", {}, r.errorMessage ? `${r.errorMessage}${r.errorCode ? ` (${r.errorCode})` : ""}` : ""),
        h("td", {}, r.requestId ? h("a", { href: `#/logs?requestId=${encodeURIComponent(r.requestId)}`,
          "aria-label": `Logs of request ${r.requestId}` }, "Logs") : "")))))
      : h("p", {}, "It has not run yet."));
    return items;
  } catch (err) {
    replace(section, head, errorBox(err));
    return null;
  }
}

function outcome(run) {
  const kind = { SUCCEEDED: "ok", CODING_FAILURE: "error", PLATFORM_FAILURE: "error", LOST: "error",
    MISSED: "modified", SKIPPED: "draft" }[run.status] || "busy";
  const text = run.missed ? `${run.status} (${run.missed} missed)` : run.status;
  return h("span", { class: `badge badge-${kind}` }, text);
}

function field(id, label, input, ...after) {
  return h("div", { class: "field" }, h("label", { for: id }, label), input, ...after);
}

