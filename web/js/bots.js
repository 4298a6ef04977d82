// Bots: the account's Third-Party Bots connector bots, their webhook and the Test Connection button.

import { api } from "./api.js";
import { codeBlock, errorBox, h, replace, statusLine } from "./dom.js";
import { can } from "./session.js";

export async function renderBots(main) {
  if (!can("bot", "read")) {
    replace(main, h("h1", {}, "Bots"), errorBox("Your role does not allow reading bots."));
    return;
  }
  const [bots, functions] = await Promise.all([api("GET", "/bots"), api("GET", "/functions")]);
  const names = Object.fromEntries(functions.map((f) => [f.uuid, f.name]));
  replace(main, h("h1", {}, "Bots"),
    h("p", { class: "muted" }, "Bots tie a function to LivePerson conversations (Third-Party Bots connector). "
      + "A FaaS-Admin configures them through the API."),
    bots.length ? bots.map((bot) => botCard(bot, names)) : h("p", {}, "There are no bots."));
}

function botCard(bot, names) {
  const id = `bot-${bot.botId}`;
  const status = statusLine();
  const out = h("div", {});
  const test = h("button", { type: "button", "aria-label": `Test connection of ${bot.botId}` }, "Test Connection");
  test.addEventListener("click", async () => {
    test.disabled = true;
    status.show("Testing…", "busy");
    try {
      const r = await api("POST", `/bots/${encodeURIComponent(bot.botId)}/test-connection`);
      status.show(r.ok ? `Connection works (${r.durationMs} ms).` : `Connection fails: ${r.problems.join(" ")}`,
        r.ok ? "ok" : "error");
      replace(out, r.reply ? [h("h3", {}, "Reply"), codeBlock("Reply", r.reply)] : null,
        r.outbound && r.outbound.length ? [h("h3", {}, "Validated outbound events"),
          codeBlock("Outbound events", r.outbound)] : null);
    } catch (err) {
      status.show(err.message, "error");
    }
    test.disabled = false;
  });
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, bot.name || bot.botId),
    h("dl", {}, h("dt", {}, "Function"), h("dd", {}, bot.functionUuid ? h("a", { href: `#/functions/${bot.functionUuid}` },
      names[bot.functionUuid] || bot.functionUuid) : "–"),
    h("dt", {}, "Webhook URL"), h("dd", { class: "mono" }, bot.webhookUrl),
    h("dt", {}, "Escalation skill"), h("dd", {}, bot.escalation.skill || "–")),
    can("bot", "invoke") ? test : null, status, out);
}
