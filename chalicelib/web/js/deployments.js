// Deployments: deploy, redeploy, undeploy and rollback with live progress (polling), the cause of a failed
// deployment, a function's deployment history, and the test page.

import { api, ApiError } from "./api.js";
import { badge, codeBlock, errorBox, h, paged, pretty, replace, statusLine, when } from "./dom.js";
import { can } from "./session.js";

const MOVING = new Set(["deploying", "redeploying", "undeploying"]);
const POLL_MS = 400;
const GIVE_UP_MS = 5 * 60 * 1000;
const ACTIONS = {
  deploy: { method: "POST", doing: "Deploying", label: "Deploy" },
  redeploy: { method: "PATCH", doing: "Redeploying", label: "Redeploy" },
  undeploy: { method: "DELETE", doing: "Undeploying", label: "Undeploy" },
};

export function inProgress(fn) {
  return fn.state === "Marked Undeployed" || Boolean(fn.lastDeployment && MOVING.has(fn.lastDeployment.deploymentState));
}

export function isLive(fn) {
  return fn.state === "Productive" || fn.state === "Modified";
}

export function actionsFor(fn) {
  if (!can("lambda", "deploy") || inProgress(fn)) return [];
  if (fn.state === "Draft") return ["deploy"];
  // after a failed redeploy the earlier deployment may still be live: undeploy is offered (the API refuses in
  // words when nothing is live)
  if (fn.state === "Build Error" || fn.state === "Deploy Error") return ["deploy", "undeploy"];
  return ["redeploy", "undeploy"];
}

export function cause(fn) {
  const error = fn.lastDeployment && fn.lastDeployment.deploymentError;
  if (!error) return "No cause was recorded.";
  const logs = (error.errorLogs || []).map((l) => (typeof l === "string" ? l : l.message)).filter(Boolean);
  return [error.message, ...logs].join("\n");
}

async function job(uuid) {
  if (!can("job", "read")) return null;
  try {
    const jobs = await api("GET", "/jobs?state=pending");
    return jobs.find((j) => j.group === uuid || JSON.stringify(j.payload || {}).includes(uuid)) || null;
  } catch {
    return null;
  }
}

// Polls the function until no deployment of it is moving; shows each step in `status`. Resolves with the function.
export async function follow(uuid, status, alive, doing) {
  const started = Date.now();
  for (;;) {
    const fn = await api("GET", `/functions/${uuid}`);
    if (!inProgress(fn)) return fn;
    const dep = fn.lastDeployment || {};
    const j = await job(uuid);
    const retry = j && j.attempts > 1 ? ` (attempt ${j.attempts} of ${j.maxAttempts}: ${j.lastError || "retrying"})`
      : "";
    status.show(`${doing} ${fn.name}, version ${dep.manifestVersion ?? "?"}: ${dep.deploymentState || fn.state}…`
      + retry, "busy");
    if (!alive() || Date.now() - started > GIVE_UP_MS) return fn;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function outcome(fn, status) {
  if (fn.state === "Build Error" || fn.state === "Deploy Error") {
    status.show(`${fn.name}: ${fn.state}. ${cause(fn)}`, "error");
  } else if (inProgress(fn)) {
    status.show(`${fn.name} is still in progress; this page stopped following it.`, "info");
  } else if (isLive(fn)) {
    status.show(`${fn.name} is deployed: ${fn.state}, version ${fn.lastDeployment.manifestVersion}.`, "ok");
  } else {
    status.show(`${fn.name} is undeployed (${fn.state}).`, "ok");
  }
}

export async function run(kind, fn, status, alive) {
  const action = ACTIONS[kind];
  status.show(`${action.doing} ${fn.name}…`, "busy");
  try {
    await api(action.method, `/deployments/${fn.uuid}`);
    const done = await follow(fn.uuid, status, alive, action.doing);
    outcome(done, status);
    return done;
  } catch (err) {
    status.show(err.message, "error");
    return null;
  }
}

function actionButtons(fn, status, alive, after) {
  return actionsFor(fn).map((kind) => h("button", {
    type: "button", class: kind === "undeploy" ? "secondary" : "", "aria-label": `${ACTIONS[kind].label} ${fn.name}`,
    onclick: async (event) => {
      event.target.disabled = true;
      await run(kind, fn, status, alive);
      if (alive()) after();
    },
  }, ACTIONS[kind].label));
}

function stateCell(fn) {
  const cell = h("td", {}, badge(fn.state));
  if (fn.state === "Build Error" || fn.state === "Deploy Error") {
    cell.append(h("details", { class: "cause" }, h("summary", {}, "Why it failed"),
      h("pre", { class: "code", tabindex: "0" }, cause(fn))));
  }
  return cell;
}

export async function renderDeployments(main) {
  let alive = true;
  const status = statusLine();
  const table = h("div", {});
  const draw = async () => {
    const functions = await api("GET", "/functions");
    const shown = functions.filter((f) => f.lastDeployment || f.state !== "Draft")
      .sort((a, b) => a.name.localeCompare(b.name));
    replace(table, shown.length ? paged(shown, (rows) => h("table", {},
      h("caption", { class: "visually-hidden" }, "Deployed functions"),
      h("thead", {}, h("tr", {}, ["Function", "State", "Version", "Deployed", "Actions"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map((fn) => h("tr", {},
        h("td", {}, h("a", { href: `#/functions/${fn.uuid}` }, fn.name)), stateCell(fn),
        h("td", {}, String(fn.lastDeployment ? fn.lastDeployment.manifestVersion : "–")),
        h("td", {}, fn.lastDeployment ? `${when(fn.lastDeployment.deployedAt)} by ${fn.lastDeployment.createdBy}`
          : "–"),
        h("td", {}, h("div", { class: "row-actions" }, actionButtons(fn, status, () => alive, draw),
          isLive(fn) && can("lambda", "invoke")
            ? h("a", { class: "button secondary", href: `#/deployments/${fn.uuid}/test`,
              "aria-label": `Test ${fn.name}` }, "Test") : null,
          h("a", { href: `#/deployments/${fn.uuid}`, "aria-label": `History of ${fn.name}` }, "History"))))))),
      "deployed functions") : h("p", {}, "No function has been deployed yet: deploy one from its editor in Functions."));
  };
  await draw();
  replace(main, h("h1", {}, "Deployments"), status, table);
  return () => { alive = false; };
}

export async function renderHistory(main, uuid) {
  let alive = true;
  const status = statusLine();
  const body = h("div", {});
  const title = h("h1", {}, "Deployment history");
  const draw = async () => {
    const [fn, history] = await Promise.all([api("GET", `/functions/${uuid}`),
      api("GET", `/functions/${uuid}/deployments`)]);
    title.textContent = `Deployments of ${fn.name}`;
    const current = fn.lastDeployment ? fn.lastDeployment.id : null;
    const rollback = (dep) => h("button", { type: "button", class: "secondary",
      "aria-label": `Roll back to deployment ${dep.id} (version ${dep.manifestVersion})`,
      onclick: async (event) => {
        event.target.disabled = true;
        status.show(`Rolling back ${fn.name} to version ${dep.manifestVersion}…`, "busy");
        try {
          await api("POST", `/functions/${uuid}/deployments/${dep.id}/rollback`);
          const done = await follow(uuid, status, () => alive, "Rolling back");
          outcome(done, status);
        } catch (err) {
          status.show(err.message, "error");
        }
        if (alive) draw();
      } }, "Roll back");
    replace(body,
      h("p", {}, "State: ", badge(fn.state), " ", actionButtons(fn, status, () => alive, draw),
        isLive(fn) && can("lambda", "invoke") ? h("a", { class: "button secondary",
          href: `#/deployments/${uuid}/test` }, "Test") : null),
      history.length ? h("table", {}, h("caption", { class: "visually-hidden" }, "Deployments, newest first"),
        h("thead", {}, h("tr", {}, ["#", "Version", "State", "Started", "Deployed", "By", "Cause", ""]
          .map((t) => h("th", {}, t)))),
        h("tbody", {}, history.map((dep) => h("tr", {},
          h("td", {}, String(dep.id)), h("td", {}, String(dep.manifestVersion)),
          h("td", {}, dep.deploymentState + (dep.restoredFrom ? ` (restored from #${dep.restoredFrom})` : "")),
          h("td", {}, when(dep.createdAt)), h("td", {}, when(dep.deployedAt)), h("td", {}, dep.createdBy || "–"),
          h("td", {}, dep.deploymentError ? dep.deploymentError.message : ""),
          h("td", {}, can("lambda", "deploy") && dep.id !== current && dep.deploymentState !== "failed"
            && !MOVING.has(dep.deploymentState) ? rollback(dep) : null)))))
        : h("p", {}, "This function has not been deployed yet."));
  };
  await draw();
  replace(main, h("p", {}, h("a", { href: "#/deployments" }, "← All deployments")), title, status, body);
  return () => { alive = false; };
}

export async function renderTest(main, uuid) {
  const [fn, events] = await Promise.all([api("GET", `/functions/${uuid}`), api("GET", "/events")]);
  const event = events.find((e) => e.eventId === fn.eventId);
  const sample = event ? event.samplePayload : { headers: [], payload: {} };
  const input = h("textarea", { id: "test-input", rows: "12", spellcheck: "false", class: "mono",
    "aria-describedby": "test-input-help" }, pretty(sample));
  const output = h("div", { class: "test-output", "aria-live": "polite" });
  const invoke = h("button", { type: "submit" }, "Invoke");
  const form = h("form", {}, h("div", { class: "field" }, h("label", { for: "test-input" }, "Static input"), input,
    h("p", { id: "test-input-help", class: "help" }, "JSON with headers and payload, as the event sends it.")),
  h("div", { class: "actions" }, invoke));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let body;
    try {
      body = JSON.parse(input.value);
    } catch (err) {
      replace(output, errorBox(`The input is not valid JSON: ${err.message}`));
      return;
    }
    invoke.disabled = true;
    replace(output, h("p", { role: "status" }, "Invoking…"));
    const started = performance.now();
    try {
      const answer = await api("POST", `/functions/${uuid}/test`, body);
      showResult(output, performance.now() - started, answer.result, answer.logs || [], null);
    } catch (err) {
      showResult(output, performance.now() - started, null, err instanceof ApiError ? err.logs : [], err);
    }
    invoke.disabled = false;
  });
  const usable = can("lambda", "invoke") && isLive(fn);
  const kept = h("section", { "aria-labelledby": "replay-title" }, h("h2", { id: "replay-title" },
    "Kept invocations (replay)"));
  replace(main, h("p", {}, h("a", { href: "#/deployments" }, "← All deployments")),
    h("h1", {}, `Test ${fn.name}`), h("p", {}, "State: ", badge(fn.state)),
    usable ? h("div", { class: "columns" }, form, output)
      : errorBox(can("lambda", "invoke") ? "Deploy the function before testing it."
        : "Your role does not allow invoking functions."), kept);
  await drawKept(kept, uuid);
}

// Replay: a function may keep its invocations' inputs (encrypted, 7 days); each kept one can run again as a test
// invocation, and the page says whether the result is the same.
async function drawKept(section, uuid) {
  const head = section.firstChild;
  let settings;
  let items;
  try {
    [settings, items] = await Promise.all([api("GET", `/functions/${uuid}/replay`),
      api("GET", `/functions/${uuid}/invocations`)]);
  } catch (err) {
    replace(section, head, errorBox(err));
    return;
  }
  const status = statusLine();
  const result = h("div", { class: "replay-result" });
  const keep = h("input", { id: "replay-keep", type: "checkbox", checked: settings.keepInputs,
    disabled: can("lambda", "write") ? null : true });
  keep.addEventListener("change", async () => {
    try {
      const saved = await api("PUT", `/functions/${uuid}/replay`, { keepInputs: keep.checked });
      status.show(saved.keepInputs ? "Inputs and results of the next invocations are kept for 7 days."
        : "Inputs are no longer kept (those kept expire after 7 days).", "ok");
    } catch (err) {
      keep.checked = !keep.checked;
      status.show(err.message, "error");
    }
  });
  const days = Math.round(settings.keptForSeconds / 86400);
  replace(section, head,
    h("div", { class: "field inline" }, keep, h("label", { for: "replay-keep" },
      `Keep the inputs of invocations for ${days} days, encrypted, to replay them`)),
    h("p", { class: "help" }, "Invocations by callers and schedules are kept, not the test invocations above."),
    status,
    items.length ? h("table", {}, h("caption", { class: "visually-hidden" }, "Kept invocations, newest first"),
      h("thead", {}, h("tr", {}, ["When", "Outcome", "Request", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, items.map((k) => h("tr", {}, h("td", {}, when(new Date(k.at).toISOString())),
        h("td", {}, k.status), h("td", { class: "mono" }, k.requestId),
        h("td", {}, can("lambda", "invoke") ? h("button", { type: "button", class: "secondary",
          "aria-label": `Replay ${k.requestId}`, onclick: (event) => replay(event.target, uuid, k, result) },
        "Replay") : null)))))
      : h("p", {}, settings.keepInputs ? "Nothing is kept yet: invoke the function, then replay it here."
        : "No invocation is kept."), result);
}

async function replay(button, uuid, kept, result) {
  button.disabled = true;
  replace(result, h("p", { role: "status" }, `Replaying ${kept.requestId}…`));
  try {
    const answer = await api("POST", `/functions/${uuid}/invocations/${encodeURIComponent(kept.requestId)}/replay`);
    replace(result, h("h3", { tabindex: "-1" }, answer.same ? "Same result as the original"
      : "The result differs from the original"),
    h("p", {}, `Replayed as request ${answer.replayRequestId}.`),
    h("div", { class: "columns" },
      h("div", {}, h("h4", {}, `Original: ${answer.original.status}`), codeBlock("Original result",
        answer.original.result === undefined ? null : answer.original.result)),
      h("div", {}, h("h4", {}, `Replay: ${answer.replay.status}`), codeBlock("Replay result",
        answer.replay.result === undefined ? null : answer.replay.result))),
    (answer.replay.logs || []).length ? codeBlock("Replay logs", (answer.replay.logs || []).map((l) =>
      `${l.level || ""} ${pretty(l.message)}`).join("\n")) : null);
    result.querySelector("h3").focus();
  } catch (err) {
    replace(result, errorBox(err));
  }
  button.disabled = false;
}

function showResult(output, ms, result, logs, err) {
  replace(output,
    h("h2", {}, err ? "Failed" : "Result"),
    h("p", { class: "duration" }, `Duration: ${Math.round(ms)} ms`),
    err ? errorBox(err) : codeBlock("Result", result === undefined ? null : result),
    h("h3", {}, `Logs (${logs.length})`),
    logs.length ? h("table", {}, h("thead", {}, h("tr", {}, ["Level", "Message", "Time"].map((t) => h("th", {}, t)))),
      h("tbody", {}, logs.map((l) => h("tr", {}, h("td", {}, l.level || ""),
        h("td", { class: "mono" }, pretty(l.message)), h("td", {}, l.timestamp ? when(new Date(l.timestamp)
          .toISOString()) : ""))))) : h("p", { class: "muted" }, "The function logged nothing."));
  output.querySelector("h2").setAttribute("tabindex", "-1");
  output.querySelector("h2").focus();
}
