// Calls to the management API of the logged-in account; every failure becomes an ApiError with a sentence to show.

import { current, end } from "./session.js";

const WORDS = {
  400: "The gateway could not accept this request.",
  401: "Your session has ended or the token is not valid: log in again.",
  403: "Your role does not allow this.",
  404: "It does not exist (any more).",
  409: "This conflicts with the current state.",
  413: "This is too large for the gateway.",
  429: "Too many requests: wait a moment and try again.",
  500: "The gateway failed to answer this request.",
  502: "The gateway could not reach a service it needs.",
  503: "The gateway is busy or starting: try again in a moment.",
};

export class ApiError extends Error {
  constructor(status, code, message, logs) {
    super(message);
    this.status = status;
    this.code = code || "";
    this.logs = logs || [];
  }
}

function sentence(status, data) {
  const said = data && typeof data === "object" ? (data.message || data.errorMsg || data.error_description) : "";
  const base = WORDS[status] || `The gateway answered with status ${status}.`;
  if (!said) return base;
  if (status === 403) return `${base} (${said})`;
  if (status === 401) return base;
  return /[.!?]$/.test(said) ? said : `${said}.`;
}

export async function request(method, url, body, token) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", "The gateway could not be reached: check that it is running, then try again.");
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data && (data.code || data.errorCode), sentence(res.status, data),
      data && data.errorLogs);
    if (res.status === 401 && token) {
      end();
      window.dispatchEvent(new CustomEvent("fngate:logged-out", { detail: err.message }));
    }
    throw err;
  }
  return data;
}

// A path under /api/account/{account} of the current session.
export function api(method, path, body) {
  const s = current();
  if (!s) throw new ApiError(401, "", WORDS[401]);
  return request(method, `/api/account/${encodeURIComponent(s.account)}${path}`, body, s.token);
}

// A file from the API (an export): the body as a Blob, with the same errors in words as request().
export async function download(path) {
  const s = current();
  if (!s) throw new ApiError(401, "", WORDS[401]);
  let res;
  try {
    res = await fetch(`/api/account/${encodeURIComponent(s.account)}${path}`,
      { headers: { Authorization: `Bearer ${s.token}` } });
  } catch {
    throw new ApiError(0, "network", "The gateway could not be reached: check that it is running, then try again.");
  }
  if (!res.ok) {
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    throw new ApiError(res.status, data && (data.code || data.errorCode), sentence(res.status, data));
  }
  return res.blob();
}

export function isUnchanged(err) {
  return err instanceof ApiError && err.code.endsWith(".unchanged");
}
