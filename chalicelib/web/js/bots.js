// Bots: the account's Third-Party Bots connector bots, their webhook, the Test Connection button and a
// conversation simulator that speaks the plain JSON form (signed in the browser with the bot's client secret).

import { api } from "./api.js";
import { codeBlock, errorBox, h, pretty, replace, statusLine } from "./dom.js";
import { can, current } from "./session.js";

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
    can("bot", "invoke") ? test : null, status, out, simulator(bot));
}

async function sign(secret, body) {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" },
    false, ["sign"]);
  const digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  return `sha256=${btoa(String.fromCharCode(...digest))}`;
}

// What a person reads of one outbound event: the text, the structured content, or the action taken.
function describeEvent(event) {
  const body = event.body || {};
  const inner = body.event || {};
  if (inner.type === "ContentEvent") return `${body.messageAudience === "AGENTS_AND_MANAGERS" ? "(to agents) " : ""}`
    + `${inner.message}`;
  if (inner.type === "RichContentEvent") return "Rich content";
  if (inner.type === "ChatStateEvent") return `Typing: ${inner.chatState}`;
  if (event.type && event.type.endsWith("UpdateConversationField")) {
    const fields = [].concat(body.conversationField || []);
    return fields.map((f) => (f.field === "ParticipantsChange" ? `Transfer: ${f.type} ${f.role || ""}`
      : f.field === "Skill" ? `Transfer to skill ${f.skill}` : f.field === "ConversationStateField"
        ? `Conversation ${f.conversationState}` : f.field)).join("; ") || "Conversation change";
  }
  return event.type || "Event";
}

function simulator(bot) {
  const id = (name) => `sim-${bot.botId}-${name}`;
  const status = statusLine();
  const transcript = h("ol", { class: "transcript", "aria-label": `Conversation with ${bot.botId}` });
  const secret = h("input", { id: id("secret"), type: "password", autocomplete: "off" });
  const text = h("input", { id: id("text"), autocomplete: "off" });
  const rich = h("textarea", { id: id("rich"), rows: "3", spellcheck: "false", class: "mono" },
    '{"type": "vertical", "elements": [{"type": "text", "text": "Hi"}]}');
  const conversation = `sim-${Math.random().toString(36).slice(2, 10)}`;
  let sequence = 0;
  const say = (who, what, extra) => {
    transcript.append(h("li", { class: `say-${who}` }, h("strong", {}, who === "consumer" ? "You: " : "Bot: "), what,
      extra || null));
  };
  const send = async (doc, label) => {
    if (!secret.value) {
      status.show("Enter the bot's client secret first: it signs the messages.", "error");
      secret.focus();
      return;
    }
    const body = JSON.stringify({ conversationId: conversation, sequence: sequence++, ...doc });
    say("consumer", label);
    status.show("Sending…", "busy");
    try {
      const s = current();
      const res = await fetch(`/api/account/${encodeURIComponent(s.account)}/bots/${encodeURIComponent(bot.botId)}`
        + "/messages", { method: "POST", body,
        headers: { "Content-Type": "application/json", "x-liveperson-signature": await sign(secret.value, body) } });
      const answer = await res.json().catch(() => ({}));
      if (!res.ok) {
        status.show(res.status === 401 ? "The gateway refused the signature: is the client secret right?"
          : answer.message || answer.errorMsg || `The gateway answered ${res.status}.`, "error");
        return;
      }
      const events = answer.events || [];
      if (answer.queued !== undefined) {
        status.show(`Queued (${answer.queued}): this bot answers its callback URL, not here.`, "info");
        return;
      }
      for (const event of events) {
        say("bot", describeEvent(event), h("details", {}, h("summary", {}, "Event"), codeBlock("Outbound event",
          event)));
      }
      status.show(`${events.length} validated outbound event(s).`, "ok");
    } catch (err) {
      status.show(err.message, "error");
    }
  };
  const row = (input, label, button) => h("div", { class: "inline-form" },
    h("div", { class: "field" }, h("label", { for: input.id }, label), input), button);
  const button = (label, onclick) => h("button", { type: "button", onclick }, label);
  return h("details", { class: "simulator" }, h("summary", {}, "Conversation simulator"),
    h("p", { class: "muted" }, "Sends the plain JSON form to this bot and shows what it answers. The secret stays "
      + "in this page."),
    row(secret, "Client secret", null),
    h("div", { class: "actions" }, button("Send welcome", () => send({ event: "welcome" }, "(joins: welcome)")),
      button("Submit a form", () => send({ event: "FORM_SUBMISSION", invitationId: "sim-form" },
        "(submits a form)"))),
    row(text, "Message", button("Send message", () => {
      if (text.value) send({ message: text.value }, text.value);
      text.value = "";
    })),
    row(rich, "Rich content (JSON)", button("Send rich content", () => {
      try {
        send({ richContent: JSON.parse(rich.value) }, `(rich content) ${pretty(JSON.parse(rich.value))}`);
      } catch (err) {
        status.show(`The rich content is not valid JSON: ${err.message}`, "error");
      }
    })),
    status, transcript);
}
