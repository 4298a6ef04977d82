// Logs: search the account's function logs by function, time range, level, text and request id, page through them,
// and export one function's logs as CSV or JSON lines (what `lpf logs` downloads).

import { api, download } from "./api.js";
import { errorBox, h, pretty, replace, statusLine } from "./dom.js";

const LEVELS = ["Debug", "Info", "Warn", "Error"];
const PAGE = 100;
const DAY_MS = 86_400_000;

// datetime-local wants the local wall time without a zone
function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function params() {
  const query = location.hash.split("?")[1] || "";
  return new URLSearchParams(query);
}

export async function renderLogs(main) {
  const functions = (await api("GET", "/functions")).sort((a, b) => a.name.localeCompare(b.name));
  const names = Object.fromEntries(functions.map((f) => [f.uuid, f.name]));
  const given = params();
  const now = Date.now();
  const fn = h("select", { id: "logs-function" }, h("option", { value: "" }, "All functions"),
    functions.map((f) => h("option", { value: f.uuid, selected: f.uuid === given.get("function") ? true : null },
      f.name)));
  const from = h("input", { id: "logs-from", type: "datetime-local", value: localInput(now - DAY_MS),
    required: true });
  const to = h("input", { id: "logs-to", type: "datetime-local", value: localInput(now + 60_000), required: true });
  const levels = LEVELS.map((level) => h("input", { id: `logs-level-${level}`, type: "checkbox", value: level }));
  const text = h("input", { id: "logs-text", type: "search", maxlength: "200", value: given.get("text") || "" });
  const requestId = h("input", { id: "logs-request", class: "mono", maxlength: "128", spellcheck: "false",
    value: given.get("requestId") || "" });
  const format = h("select", { id: "logs-format" }, h("option", { value: "csv" }, "CSV"),
    h("option", { value: "jsonl" }, "JSON lines"));
  const exportButton = h("button", { type: "button", class: "secondary", "aria-describedby": "logs-export-help" },
    "Export");
  const exportHelp = h("p", { id: "logs-export-help", class: "help" });
  const status = statusLine();
  const results = h("div", { class: "log-results", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "secondary hidden" }, "Load more");
  let cursor = "";
  let shown = [];

  const query = (extra) => {
    const q = new URLSearchParams({ startTimestamp: String(new Date(from.value).getTime()),
      endTimestamp: String(new Date(to.value).getTime()), ...extra });
    if (fn.value && !extra.format) q.append("lambdaUUID", fn.value);
    for (const box of levels) if (box.checked) q.append("filterLevels", box.value);
    if (text.value.trim()) q.set("text", text.value.trim());
    if (requestId.value.trim()) q.set("requestId", requestId.value.trim());
    return q;
  };
  const badRange = () => {
    if (!from.value || !to.value || Number.isNaN(new Date(from.value).getTime())) return "Give a start and an end.";
    if (new Date(to.value) < new Date(from.value)) return "The end is before the start.";
    return "";
  };
  const search = async (next) => {
    const wrong = badRange();
    if (wrong) {
      status.show(wrong, "error");
      return;
    }
    status.show("Searching…", "busy");
    try {
      const page = await api("GET", `/logs?${query({ limit: String(PAGE), ...(next ? { cursor } : {}) })}`);
      shown = next ? [...shown, ...page.logs] : page.logs;
      cursor = page.cursor || "";
      drawResults();
      status.show(shown.length ? `${shown.length} entr${shown.length === 1 ? "y" : "ies"}${cursor ? " so far" : ""}.`
        : "No log entry matches.", "info");
    } catch (err) {
      status.show(err.message, "error");
    }
  };
  const drawResults = () => {
    more.className = cursor ? "secondary" : "secondary hidden";
    replace(results, shown.length ? h("table", { class: "logs" },
      h("caption", { class: "visually-hidden" }, "Matching log entries, newest first"),
      h("thead", {}, h("tr", {}, ["Time", "Level", "Function", "Message", "Request"]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, shown.map((e) => h("tr", {},
        h("td", { class: "nowrap" }, new Date(e.timestamp).toLocaleString()),
        h("td", {}, h("span", { class: `badge level-${String(e.level).toLowerCase()}` }, e.level)),
        h("td", {}, names[e.functionUuid] || e.functionUuid),
        h("td", { class: "mono wrap" }, pretty(e.message), e.extras && e.extras.length
          ? h("span", { class: "muted" }, ` ${pretty(e.extras)}`) : ""),
        h("td", { class: "mono" }, h("button", { type: "button", class: "link", "aria-label":
          `Only request ${e.requestId}`, onclick: () => { requestId.value = e.requestId; search(false); } },
        e.requestId.slice(0, 8))))))) : null);
  };
  const explain = () => {
    exportButton.disabled = !fn.value;
    exportHelp.textContent = fn.value ? `The logs of ${names[fn.value]} in the time range, with the filters above.`
      : "Choose one function to export its logs.";
  };
  fn.addEventListener("change", explain);
  explain();
  exportButton.addEventListener("click", async () => {
    const wrong = badRange();
    if (wrong) {
      status.show(wrong, "error");
      return;
    }
    exportButton.disabled = true;
    try {
      const blob = await download(`/functions/${fn.value}/logs/export?${query({ format: format.value })}`);
      const link = h("a", { href: URL.createObjectURL(blob),
        download: `${names[fn.value]}-logs.${format.value === "csv" ? "csv" : "jsonl"}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      status.show(`Exported the logs of ${names[fn.value]} (${blob.size} bytes).`, "ok");
    } catch (err) {
      status.show(err.message, "error");
    }
    exportButton.disabled = false;
  });
  more.addEventListener("click", () => search(true));
  const form = h("form", { class: "card", "aria-label": "Search logs" },
    h("div", { class: "filters" },
      field("logs-function", "Function", fn), field("logs-from", "From", from), field("logs-to", "To", to),
      field("logs-text", "Text", text), field("logs-request", "Request id", requestId)),
    h("fieldset", {}, h("legend", {}, "Levels (none ticked: all)"),
      levels.map((box, i) => [box, h("label", { for: box.id, class: "choice" }, LEVELS[i])])),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Search"),
      h("span", { class: "export" }, h("label", { for: "logs-format" }, "Export as"), format, exportButton),
      exportHelp));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search(false);
  });
  replace(main, h("h1", {}, "Logs"),
    h("p", { class: "help" }, "Logs of past invocations; a search covers at most 7 days."), form, status,
    functions.length ? null : errorBox("There are no functions, so there are no logs."), results, more);
  if (given.get("requestId") || given.get("function")) await search(false);
}

function field(id, label, input) {
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}
