// Who is logged in: the bearer token and what it says (account, login, roles), kept in sessionStorage only.

const KEY = "fngate.session";
export const ADMIN = "FaaS-Admin";
export const DEVELOPER = "FaaS-Developer";
export const INVOCATION = "FaaS-Invocation";

// spec/management-api.md §8 (and fngate's own rows for jobs and bots); the API enforces it, the UI only follows it.
const ALLOWED = {
  "lambda:read": [ADMIN, DEVELOPER, INVOCATION],
  "lambda:write": [DEVELOPER],
  "lambda:deploy": [DEVELOPER],
  "lambda:invoke": [DEVELOPER, INVOCATION],
  "whitelist:read": [ADMIN, DEVELOPER],
  "whitelist:write": [ADMIN],
  "secret:read": [ADMIN, DEVELOPER],
  "secret:write": [ADMIN],
  "schedule:read": [ADMIN, DEVELOPER, INVOCATION],
  "schedule:write": [ADMIN, DEVELOPER],
  "logs:read": [ADMIN, DEVELOPER, INVOCATION],
  "reporting:read": [ADMIN, DEVELOPER, INVOCATION],
  "job:read": [ADMIN, DEVELOPER],
  "bot:read": [ADMIN, DEVELOPER],
  "bot:write": [ADMIN],
  "bot:invoke": [ADMIN, DEVELOPER],
  "emailReport:read": [ADMIN, DEVELOPER, INVOCATION],
  "emailReportSettings:write": [ADMIN],
  "emailReportRecipients:write": [ADMIN, DEVELOPER],
  "user:read": [ADMIN],
  "user:write": [ADMIN],
  "appKey:read": [ADMIN],
  "appKey:write": [ADMIN],
};

function decodeClaims(token) {
  const part = token.split(".")[1];
  if (!part) throw new Error("This is not a token fngate issued (it should have three parts separated by dots).");
  const text = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))));
}

export function fromToken(token) {
  let claims;
  try {
    claims = decodeClaims(token.trim());
  } catch (err) {
    throw new Error(err instanceof SyntaxError || err.name === "InvalidCharacterError"
      ? "This is not a token fngate issued: its middle part is not readable." : err.message);
  }
  if (claims.typ === "app") throw new Error("This is an app key's token; the web UI needs a user's token.");
  if (!claims.aud) throw new Error("This token names no account.");
  if (claims.exp && claims.exp * 1000 < Date.now()) throw new Error("This token has expired: get a new one.");
  return { token: token.trim(), account: String(claims.aud), login: String(claims.login || claims.sub || ""),
    roles: Array.isArray(claims.roles) ? claims.roles : [], exp: claims.exp || 0 };
}

export function current() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return s && (!s.exp || s.exp * 1000 > Date.now()) ? s : null;
  } catch {
    return null;
  }
}

export function start(info) {
  sessionStorage.setItem(KEY, JSON.stringify(info));
}

export function end() {
  sessionStorage.removeItem(KEY);
}

export function can(component, action) {
  const s = current();
  return Boolean(s && (ALLOWED[`${component}:${action}`] || []).some((role) => s.roles.includes(role)));
}
