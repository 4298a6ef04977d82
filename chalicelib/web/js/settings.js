// Settings: the domain allowlist, secrets (values obfuscated for developers), email reports, and for admins the
// account's users and app keys (an app key's secret and a generated password are shown once).

import { api } from "./api.js";
import { errorBox, h, pretty, replace, statusLine, when } from "./dom.js";
import { can, current } from "./session.js";

export async function renderSettings(main) {
  const domains = h("section", { "aria-labelledby": "settings-domains" },
    h("h2", { id: "settings-domains" }, "Allowlisted domains"));
  const secrets = h("section", { "aria-labelledby": "settings-secrets" },
    h("h2", { id: "settings-secrets" }, "Secrets"));
  const reports = h("section", { "aria-labelledby": "settings-reports" },
    h("h2", { id: "settings-reports" }, "Email reports"));
  const users = h("section", { "aria-labelledby": "settings-users" }, h("h2", { id: "settings-users" }, "Users"));
  const keys = h("section", { "aria-labelledby": "settings-keys" }, h("h2", { id: "settings-keys" }, "App keys"));
  const admin = can("user", "read");
  replace(main, h("h1", {}, "Settings"),
  domains, secrets, reports, admin ? users : null, admin ? keys : null,
  admin ? null : h("p", { class: "note" }, "Users and app keys are managed by a FaaS-Admin."));
  await Promise.all([drawDomains(domains), drawSecrets(secrets), drawReports(reports),
    admin ? drawUsers(users) : null, can("appKey", "read") ? drawKeys(keys) : null]);
}

function deleteButton(label, onConfirm, verb = "Delete") {
  // Two steps instead of a dialog: the first press asks, the second deletes.
  const button = h("button", { type: "button", class: "secondary", "aria-label": label }, verb);
  button.addEventListener("click", async () => {
    if (button.dataset.armed !== "1") {
      button.dataset.armed = "1";
      button.textContent = `Confirm ${verb.toLowerCase()}`;
      button.setAttribute("aria-label", `Confirm: ${label}`);
      return;
    }
    button.disabled = true;
    await onConfirm();
  });
  return button;
}

// One change made from a section: says how it went, and redraws the section only when it succeeded — after a
// failure nothing changed, and a redraw would replace the form and what was typed in it. ``action`` returns the
// words for its success.
async function change(status, redraw, action) {
  let done;
  try {
    done = await action();
  } catch (err) {
    status.show(err.message, "error");
    return;
  }
  status.show(done, "ok");
  redraw();
}

async function drawDomains(section) {
  const head = section.firstChild;
  if (!can("whitelist", "read")) {
    replace(section, head, h("p", { class: "note" }, "Your role does not allow reading the allowlist."));
    return;
  }
  const status = statusLine();
  const body = h("div", {});
  const redraw = async () => {
    try {
      const items = await api("GET", "/domains");
      replace(body, items.length ? h("table", {}, h("caption", { class: "visually-hidden" }, "Allowlisted domains"),
        h("thead", {}, h("tr", {}, ["Domain", "Name", "Added", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, items.map((d) => h("tr", {}, h("td", { class: "mono" }, d.domain), h("td", {}, d.name || ""),
          h("td", {}, `${when(d.createdAt)} by ${d.createdBy || "–"}`),
          h("td", {}, can("whitelist", "write") ? deleteButton(`Delete ${d.domain}`, async () => {
            await change(status, redraw, async () => {
              await api("DELETE", `/domains/${d.id}`);
              return `${d.domain} is no longer allowlisted.`;
            });
          }) : null)))))
        : h("p", {}, "No domains are allowlisted."));
    } catch (err) {
      replace(body, errorBox(err));
    }
  };
  const input = h("input", { id: "domain-new", placeholder: "api.example.com or *.example.com",
    "aria-describedby": "domain-help" });
  const form = h("form", { class: "inline-form" },
    h("div", { class: "field" }, h("label", { for: "domain-new" }, "Domain"), input,
      h("p", { id: "domain-help", class: "help" }, "One leading *. label at most; changes apply at once.")),
    h("button", { type: "submit" }, "Add domain"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await change(status, redraw, async () => {
      const added = await api("POST", "/domains", { domain: input.value.trim() });
      input.value = "";
      return `${added.domain} is allowlisted.`;
    });
  });
  replace(section, head, status, can("whitelist", "write") ? form
    : h("p", { class: "note" }, "Read only: a FaaS-Admin manages the allowlist."), body);
  await redraw();
}

async function drawSecrets(section) {
  const head = section.firstChild;
  if (!can("secret", "read")) {
    replace(section, head, h("p", { class: "note" }, "Your role does not allow reading secrets."));
    return;
  }
  const status = statusLine();
  const body = h("div", {});
  const writable = can("secret", "write");
  const redraw = async () => {
    try {
      const items = await api("GET", "/secrets");
      replace(body, items.length ? h("table", {}, h("caption", { class: "visually-hidden" }, "Secrets"),
        h("thead", {}, h("tr", {}, ["Key", "Value", "Updated", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, items.map((s) => secretRow(s, writable, status, redraw))))
        : h("p", {}, "There are no secrets."));
    } catch (err) {
      replace(body, errorBox(err));
    }
  };
  const key = h("input", { id: "secret-key", autocomplete: "off", "aria-describedby": "secret-key-help" });
  const value = h("textarea", { id: "secret-value", rows: "2", autocomplete: "off", spellcheck: "false" });
  const form = h("form", { class: "inline-form" },
    h("div", { class: "field" }, h("label", { for: "secret-key" }, "Key"), key,
      h("p", { id: "secret-key-help", class: "help" }, "Letters, digits, '-' and '_'.")),
    h("div", { class: "field" }, h("label", { for: "secret-value" }, "Value"), value),
    h("button", { type: "submit" }, "Add secret"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await change(status, redraw, async () => {
      await api("POST", "/secrets", { key: key.value.trim(), value: value.value });
      const stored = `Secret ${key.value.trim()} is stored.`;
      key.value = "";
      value.value = "";
      return stored;
    });
  });
  replace(section, head, status, writable ? form : h("p", { class: "note" },
    "Values are obfuscated for your role; a FaaS-Admin manages secrets."), body);
  await redraw();
}

function secretRow(secret, writable, status, redraw) {
  const cell = h("td", { class: "mono" }, pretty(secret.value));
  const edit = h("button", { type: "button", class: "secondary", "aria-label": `Change ${secret.key}` }, "Change");
  edit.addEventListener("click", () => {
    const id = `secret-edit-${secret.key}`;
    const input = h("input", { id, value: typeof secret.value === "string" ? secret.value : pretty(secret.value) });
    const form = h("form", { class: "inline-form" }, h("label", { for: id, class: "visually-hidden" },
      `New value of ${secret.key}`), input, h("button", { type: "submit" }, "Save"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await change(status, redraw, async () => {
        await api("PUT", `/secrets/${encodeURIComponent(secret.key)}`, { key: secret.key, value: input.value });
        return `Secret ${secret.key} is changed.`;
      });
    });
    replace(cell, form);
    input.focus();
  });
  return h("tr", {}, h("td", { class: "mono" }, secret.key), cell,
    h("td", {}, `${when(secret.updatedAt)} by ${secret.updatedBy || "–"}`),
    h("td", {}, h("div", { class: "row-actions" }, writable ? [edit, deleteButton(`Delete ${secret.key}`, async () => {
      await change(status, redraw, async () => {
        await api("DELETE", `/secrets/${encodeURIComponent(secret.key)}`);
        return `Secret ${secret.key} is deleted.`;
      });
    })] : null)));
}

async function drawReports(section) {
  const head = section.firstChild;
  if (!can("emailReport", "read")) {
    replace(section, head, h("p", { class: "note" }, "Your role does not allow reading email reports."));
    return;
  }
  const status = statusLine();
  const body = h("div", {});
  const redraw = async () => {
    let data;
    let deliveries;
    try {
      [data, deliveries] = await Promise.all([api("GET", "/emailReports"), api("GET", "/emailReports/deliveries")]);
    } catch (err) {
      replace(body, errorBox(err));
      return;
    }
    const s = data.settings;
    const enabled = h("input", { id: "reports-enabled", type: "checkbox", checked: s.enabled });
    const frequency = h("select", { id: "reports-frequency" }, ["daily", "weekly"].map((f) =>
      h("option", { value: f, selected: f === s.frequency ? true : null }, f === "daily" ? "Daily" : "Weekly")));
    const settingsForm = h("form", { class: "inline-form" },
      h("div", { class: "field inline" }, enabled, h("label", { for: "reports-enabled" }, "Send email reports")),
      h("div", { class: "field" }, h("label", { for: "reports-frequency" }, "Frequency"), frequency),
      h("button", { type: "submit" }, "Save report settings"),
      h("button", { type: "button", class: "secondary", onclick: async () => {
        await change(status, redraw, async () => {
          const queued = await api("POST", "/emailReports/send");
          return `A report for ${queued.period} is queued; its delivery shows below.`;
        });
      } }, "Send a report now"));
    settingsForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      await change(status, redraw, async () => {
        const saved = await api("PUT", "/emailReports/settings", { enabled: enabled.checked,
          frequency: frequency.value });
        return saved.enabled ? `Email reports are sent ${saved.frequency}.` : "Email reports are off.";
      });
    });
    const email = h("input", { id: "reports-email", type: "email", autocomplete: "email" });
    const addForm = h("form", { class: "inline-form", novalidate: true },
      h("div", { class: "field" }, h("label", { for: "reports-email" }, "Recipient's email"), email),
      h("button", { type: "submit" }, "Add recipient"));
    addForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      await change(status, redraw, async () => {
        const added = await api("POST", "/emailReports/recipients", { email: email.value.trim() });
        return `${added.email} gets the reports.`;
      });
    });
    const canRecipients = can("emailReportRecipients", "write");
    replace(body,
      can("emailReportSettings", "write") ? settingsForm : h("p", {}, s.enabled
        ? `Reports are sent ${s.frequency}. A FaaS-Admin changes this.` : "Reports are off. A FaaS-Admin turns them on."),
      s.lastError ? h("p", { class: "alert" }, `The last report failed: ${s.lastError}`) : null,
      h("h3", {}, "Recipients"), canRecipients ? addForm : null,
      data.recipients.length ? h("table", {}, h("caption", { class: "visually-hidden" }, "Recipients"),
        h("thead", {}, h("tr", {}, ["Email", "Added", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, data.recipients.map((r) => h("tr", {}, h("td", {}, r.email),
          h("td", {}, `${when(r.addedAt)} by ${r.addedBy || "–"}`),
          h("td", {}, canRecipients ? deleteButton(`Remove ${r.email}`, async () => {
            await change(status, redraw, async () => {
              await api("DELETE", `/emailReports/recipients/${encodeURIComponent(r.email)}`);
              return `${r.email} no longer gets the reports.`;
            });
          }, "Remove") : null)))))
        : h("p", {}, "Nobody gets the reports yet."),
      h("h3", {}, "Deliveries"), deliveries.length ? h("table", {},
        h("caption", { class: "visually-hidden" }, "Report deliveries, newest first"),
        h("thead", {}, h("tr", {}, ["Period", "State", "Attempts", "Updated", "Note"].map((t) => h("th", {}, t)))),
        h("tbody", {}, deliveries.slice(0, 10).map((d) => h("tr", {}, h("td", {}, d.period || d.delivery),
          h("td", {}, d.state), h("td", {}, String(d.attempts || 0)), h("td", {}, when(d.updatedAt || d.queuedAt)),
          h("td", {}, d.lastError || (d.errors || []).slice(-1)[0] || d.note || "")))))
        : h("p", {}, "No report has been sent yet."));
  };
  replace(section, head, status, body);
  await redraw();
}

const ROLE_NAMES = ["FaaS-Admin", "FaaS-Developer", "FaaS-Invocation"];

// A secret the gateway shows this once: in a box that says so, selectable, focused for a screen reader.
function onceBox(title, lines) {
  const box = h("div", { class: "once", role: "alert", tabindex: "-1" }, h("strong", {}, title),
    h("p", {}, "Copy it now: it is shown this once and cannot be read again."),
    h("dl", {}, lines.map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, v)])));
  return box;
}

async function drawUsers(section) {
  const head = section.firstChild;
  const status = statusLine();
  const shown = h("div", {});
  const body = h("div", {});
  const me = current() ? current().login : "";
  const redraw = async () => {
    try {
      const items = await api("GET", "/users");
      replace(body, h("table", {}, h("caption", { class: "visually-hidden" }, "Users of the account"),
        h("thead", {}, h("tr", {}, ["Login", "Roles", "Password", "State", "Created", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, items.map((u) => h("tr", {}, h("td", {}, u.login), h("td", {}, u.roles.join(", ")),
          h("td", {}, u.password ? "set" : "none (tokens only)"),
          h("td", {}, h("span", { class: `badge ${u.disabled ? "badge-error" : "badge-ok"}` },
            u.disabled ? "Disabled" : "Active")),
          h("td", {}, when(u.createdAt)),
          h("td", {}, u.login === me ? h("span", { class: "muted" }, "you") : h("button", {
            type: "button", class: "secondary", "aria-label": `${u.disabled ? "Enable" : "Disable"} user ${u.login}`,
            onclick: async () => {
              await change(status, redraw, async () => {
                await api("PUT", `/users/${encodeURIComponent(u.userId)}`, { disabled: !u.disabled });
                return u.disabled ? `${u.login} can log in again.`
                  : `${u.login} is disabled: no login, and its tokens stop working.`;
              });
            } }, u.disabled ? "Enable" : "Disable")))))));
    } catch (err) {
      replace(body, errorBox(err));
    }
  };
  const login = h("input", { id: "user-login", autocomplete: "off", required: true,
    "aria-describedby": "user-login-help" });
  const roles = ROLE_NAMES.map((r) => h("input", { type: "checkbox", id: `user-role-${r}`, value: r,
    checked: r === "FaaS-Developer" }));
  const password = h("input", { id: "user-password", type: "password", autocomplete: "new-password",
    "aria-describedby": "user-password-help" });
  const form = h("form", { class: "card", "aria-labelledby": "user-new-title" },
    h("h3", { id: "user-new-title" }, "Add a user"),
    h("div", { class: "inline-form" },
      h("div", { class: "field" }, h("label", { for: "user-login" }, "Login"), login,
        h("p", { id: "user-login-help", class: "help" }, "Letters, digits, @ . _ + -")),
      h("fieldset", {}, h("legend", {}, "Roles"),
        roles.map((box) => [box, h("label", { for: box.id, class: "choice" }, box.value)])),
      h("div", { class: "field" }, h("label", { for: "user-password" }, "Password"), password,
        h("p", { id: "user-password-help", class: "help" }, "8 characters or more; leave empty to generate one."))),
    h("button", { type: "submit" }, "Add user"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = roles.filter((b) => b.checked).map((b) => b.value);
    await change(status, redraw, async () => {
      const made = await api("POST", "/users", { login: login.value.trim(), roles: chosen,
        ...(password.value ? { password: password.value } : { generatePassword: true }) });
      replace(shown, made.generatedPassword ? onceBox(`The password of ${made.login}`,
        [["Login", made.login], ["Password", made.generatedPassword]]) : null);
      shown.firstChild?.focus();
      login.value = "";
      password.value = "";
      return `User ${made.login} is added (${made.roles.join(", ")}).`;
    });
  });
  replace(section, head, status, shown, form, body);
  await redraw();
}

async function drawKeys(section) {
  const head = section.firstChild;
  const status = statusLine();
  const shown = h("div", {});
  const body = h("div", {});
  const redraw = async () => {
    try {
      const items = await api("GET", "/appKeys");
      replace(body, items.length ? h("table", {}, h("caption", { class: "visually-hidden" }, "App keys"),
        h("thead", {}, h("tr", {}, ["Name", "Client id", "Scopes", "Created", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, items.map((k) => h("tr", {}, h("td", {}, k.name), h("td", { class: "mono" }, k.clientId),
          h("td", {}, k.scopes.join(", ")), h("td", {}, when(k.createdAt)),
          h("td", {}, deleteButton(`Revoke app key ${k.name}`, async () => {
            await change(status, redraw, async () => {
              await api("DELETE", `/appKeys/${encodeURIComponent(k.clientId)}`);
              return `App key ${k.name} is revoked: its tokens stop working within seconds.`;
            });
          }, "Revoke")))))) : h("p", {}, "There are no app keys."));
    } catch (err) {
      replace(body, errorBox(err));
    }
  };
  const name = h("input", { id: "key-name", autocomplete: "off", required: true, maxlength: "100" });
  const scope = h("select", { id: "key-scope" }, h("option", { value: "faas.lambda.invoke" },
    "faas.lambda.invoke (invoke and list functions)"), h("option", { value: "faas.orchestrator.invoke" },
    "faas.orchestrator.invoke (invoke only)"));
  const form = h("form", { class: "inline-form" },
    h("div", { class: "field" }, h("label", { for: "key-name" }, "External system"), name),
    h("div", { class: "field" }, h("label", { for: "key-scope" }, "Scope"), scope),
    h("button", { type: "submit" }, "Create app key"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await change(status, redraw, async () => {
      const made = await api("POST", "/appKeys", { name: name.value.trim(), scopes: [scope.value] });
      replace(shown, onceBox(`The credentials of ${made.name}`, [["Client id", made.clientId],
        ["Client secret", made.clientSecret]]));
      shown.firstChild.focus();
      name.value = "";
      return `App key ${made.name} is created.`;
    });
  });
  replace(section, head, status, shown, form, body);
  await redraw();
}
