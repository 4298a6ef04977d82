// Settings: the domain allowlist and secrets (values obfuscated for developers); other settings say what is missing.

import { api } from "./api.js";
import { errorBox, h, pretty, replace, statusLine, when } from "./dom.js";
import { can } from "./session.js";

export async function renderSettings(main) {
  const domains = h("section", { "aria-labelledby": "settings-domains" },
    h("h2", { id: "settings-domains" }, "Allowlisted domains"));
  const secrets = h("section", { "aria-labelledby": "settings-secrets" },
    h("h2", { id: "settings-secrets" }, "Secrets"));
  replace(main, h("h1", {}, "Settings"), domains, secrets,
    h("section", { "aria-labelledby": "settings-more" }, h("h2", { id: "settings-more" }, "Email reports, users and "
      + "app keys"), h("p", { class: "note" }, "Email reports need an API this gateway does not offer yet. Users and "
      + "app keys are managed with `fngate admin` on the gateway's machine.")));
  await Promise.all([drawDomains(domains), drawSecrets(secrets)]);
}

function deleteButton(label, onConfirm) {
  // Two steps instead of a dialog: the first press asks, the second deletes.
  const button = h("button", { type: "button", class: "secondary", "aria-label": label }, "Delete");
  button.addEventListener("click", async () => {
    if (button.dataset.armed !== "1") {
      button.dataset.armed = "1";
      button.textContent = "Confirm delete";
      button.setAttribute("aria-label", `Confirm: ${label}`);
      return;
    }
    button.disabled = true;
    await onConfirm();
  });
  return button;
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
            try {
              await api("DELETE", `/domains/${d.id}`);
              status.show(`${d.domain} is no longer allowlisted.`, "ok");
            } catch (err) {
              status.show(err.message, "error");
            }
            redraw();
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
    try {
      const added = await api("POST", "/domains", { domain: input.value.trim() });
      status.show(`${added.domain} is allowlisted.`, "ok");
      input.value = "";
      redraw();
    } catch (err) {
      status.show(err.message, "error");
    }
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
    try {
      await api("POST", "/secrets", { key: key.value.trim(), value: value.value });
      status.show(`Secret ${key.value.trim()} is stored.`, "ok");
      key.value = "";
      value.value = "";
      redraw();
    } catch (err) {
      status.show(err.message, "error");
    }
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
      try {
        await api("PUT", `/secrets/${encodeURIComponent(secret.key)}`, { key: secret.key, value: input.value });
        status.show(`Secret ${secret.key} is changed.`, "ok");
      } catch (err) {
        status.show(err.message, "error");
      }
      redraw();
    });
    replace(cell, form);
    input.focus();
  });
  return h("tr", {}, h("td", { class: "mono" }, secret.key), cell,
    h("td", {}, `${when(secret.updatedAt)} by ${secret.updatedBy || "–"}`),
    h("td", {}, h("div", { class: "row-actions" }, writable ? [edit, deleteButton(`Delete ${secret.key}`, async () => {
      try {
        await api("DELETE", `/secrets/${encodeURIComponent(secret.key)}`);
        status.show(`Secret ${secret.key} is deleted.`, "ok");
      } catch (err) {
        status.show(err.message, "error");
      }
      redraw();
    })] : null)));
}
