// The editor: code with syntax highlighting (CodeMirror 5, vendored), the event's sample payload beside it, and a
// save that never overwrites silently: it sends the manifest version it opened and stops on a conflict.

import { api, isUnchanged } from "./api.js";
import { actionsFor, inProgress, isLive, run } from "./deployments.js";
import { badge, codeBlock, errorBox, h, replace, statusLine, when } from "./dom.js";
import { DESCRIPTION_MAX } from "./functions.js";
import { can } from "./session.js";

const MODES = { nodejs20: "javascript", "python3.11": "python" };
const RUNTIME_NAMES = { nodejs20: "Node.js 20", "python3.11": "Python 3.11" };

function codeEditor(textarea, runtime, readOnly) {
  if (!window.CodeMirror) return { getValue: () => textarea.value, setValue: (v) => { textarea.value = v; },
    on: (name, fn) => textarea.addEventListener("input", fn), refresh() {} };
  return window.CodeMirror.fromTextArea(textarea, {
    mode: MODES[runtime] || "javascript", lineNumbers: true, indentUnit: 2, tabSize: 2, readOnly,
    screenReaderLabel: "Function code", inputStyle: "contenteditable", viewportMargin: 40,
    extraKeys: { Tab: false, "Shift-Tab": false },  // Tab leaves the editor (keyboard users are not trapped)
  });
}

export async function renderEditor(main, uuid) {
  let alive = true;
  const [fn, events] = await Promise.all([api("GET", `/functions/${uuid}`), api("GET", "/events")]);
  const writable = can("lambda", "write");
  const opened = { version: fn.manifest.version, id: fn.manifest.id, code: fn.manifest.code,
    description: fn.description || "" };
  let conflict = false;
  const event = events.find((e) => e.eventId === fn.eventId);
  const status = statusLine();
  const stateBadge = h("span", {}, badge(fn.state));
  const versionText = h("span", {}, `version ${opened.version}`);
  const textarea = h("textarea", { id: "editor-code", "aria-label": "Function code" });
  textarea.value = opened.code;
  const description = h("input", { id: "editor-description", value: opened.description, readonly: !writable,
    maxlength: String(DESCRIPTION_MAX) });
  const save = h("button", { type: "button", onclick: () => doSave() }, "Save");
  const deployArea = h("span", { class: "row-actions" });
  const testArea = h("span", {});
  const conflictBox = h("div", {});
  const aside = h("aside", { class: "sample", "aria-labelledby": "sample-title" },
    h("h2", { id: "sample-title" }, "Sample payload"),
    h("p", { class: "muted" }, event ? `What ${event.eventName} sends (input.payload).` : "No event: external "
      + "callers send what they like."), codeBlock("Sample payload", event ? event.samplePayload : { headers: [],
      payload: {} }));

  replace(main,
    h("p", {}, h("a", { href: "#/functions" }, "← All functions")),
    h("div", { class: "title-row" }, h("h1", {}, fn.name), stateBadge),
    h("p", { class: "muted" }, `${RUNTIME_NAMES[fn.manifest.runtime] || fn.manifest.runtime} · `
      + `${event ? event.eventName : "No event"} · `, versionText, ` · updated ${when(fn.updatedAt)} by `
      + `${fn.updatedBy || "–"}`),
    h("div", { class: "field" }, h("label", { for: "editor-description" }, "Description"), description),
    status, conflictBox,
    h("div", { class: "editor-layout" }, h("div", { class: "editor-code" }, textarea), aside),
    h("div", { class: "actions" }, writable ? save : h("p", { class: "note" },
      "Read only: your role does not allow editing functions."), deployArea, testArea));
  const cm = codeEditor(textarea, fn.manifest.runtime, !writable);
  const dirty = () => cm.getValue() !== opened.code || description.value !== opened.description;
  const drawDeploy = (current) => {
    replace(deployArea, actionsFor(current).filter((k) => k !== "undeploy").map((kind) =>
      h("button", { type: "button", class: "secondary", onclick: async () => {
        if (dirty()) {
          status.show("Save your changes before deploying: a deployment takes the saved version.", "error");
          return;
        }
        replace(deployArea);
        const done = await run(kind, current, status, () => alive);
        if (done && alive) refreshMeta(done);
      } }, kind === "deploy" ? "Deploy" : "Redeploy")));
  };
  const refreshMeta = (current) => {
    replace(stateBadge, badge(current.state));
    drawDeploy(current);
    replace(testArea, isLive(current) && can("lambda", "invoke")
      ? h("a", { class: "button secondary", href: `#/deployments/${uuid}/test` }, "Test") : null);
  };
  refreshMeta(fn);
  if (inProgress(fn)) status.show("A deployment of this function is in progress.", "busy");

  async function doSave() {
    if (conflict) return;
    save.disabled = true;
    try {
      const latest = await api("GET", `/functions/${uuid}`);
      if (latest.manifest.version !== opened.version) return showConflict(latest);
      let changed = false;
      if (cm.getValue() !== opened.code) {
        const saved = await api("PUT", `/functions/${uuid}/manifest`,
          { id: opened.id, version: opened.version, code: cm.getValue() });
        Object.assign(opened, { version: saved.manifest.version, id: saved.manifest.id, code: saved.manifest.code });
        changed = true;
        refreshMeta(saved);
      }
      if (description.value !== opened.description) {
        const saved = await api("PUT", `/functions/${uuid}`, { description: description.value });
        opened.description = saved.description;
        changed = true;
        refreshMeta(saved);
      }
      versionText.textContent = `version ${opened.version}`;
      status.show(changed ? `Saved: version ${opened.version}.` : "Nothing changed: there is nothing to save.", "ok");
    } catch (err) {
      if (err.status === 409 && !isUnchanged(err)) {
        return showConflict(await api("GET", `/functions/${uuid}`).catch(() => null), err);
      }
      status.show(isUnchanged(err) ? "Nothing changed: there is nothing to save." : err.message,
        isUnchanged(err) ? "ok" : "error");
    } finally {
      save.disabled = conflict;
    }
  }

  function showConflict(latest, err) {
    conflict = true;
    save.disabled = true;
    status.clear();
    const mine = cm.getValue();
    const who = latest ? ` (now version ${latest.manifest.version}, saved ${when(latest.manifest.createdAt)} by `
      + `${latest.manifest.createdBy || "someone"})` : "";
    replace(conflictBox, h("div", { class: "alert", role: "alert" },
      h("p", {}, `Not saved: this function was changed elsewhere since you opened it${who}. `
        + "Nothing was overwritten."),
      err ? h("p", {}, err.message) : null,
      h("p", {}, "Load their version to continue; your code stays below to copy from."),
      h("details", {}, h("summary", {}, "Your unsaved code"), codeBlock("Your unsaved code", mine)),
      h("button", { type: "button", onclick: () => {
        if (!latest) return location.reload();
        Object.assign(opened, { version: latest.manifest.version, id: latest.manifest.id,
          code: latest.manifest.code, description: latest.description || "" });
        cm.setValue(opened.code);
        description.value = opened.description;
        versionText.textContent = `version ${opened.version}`;
        conflict = false;
        save.disabled = false;
        refreshMeta(latest);
        status.show(`Loaded version ${opened.version}. Your code is still in the box above.`, "info");
        conflictBox.querySelector("button")?.remove();
      } }, "Load their version")));
    conflictBox.querySelector("button").focus();
  }

  const onKey = (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s" && writable) {
      e.preventDefault();
      doSave();
    }
  };
  document.addEventListener("keydown", onKey);
  setTimeout(() => cm.refresh(), 0);
  return () => {
    alive = false;
    document.removeEventListener("keydown", onKey);
  };
}
