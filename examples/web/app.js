// The account page: plain JavaScript, no build step. It keeps the access token in a variable and
// never sees the refresh token, which authd sets as an HttpOnly cookie for /token and /logout only
// (AUTHD_REFRESH_COOKIE=true). Everything it shows comes from authd's JSON API; text from the
// server is inserted with textContent, never as HTML (a session's user agent is attacker-chosen).
"use strict";

const AUTHD = window.AUTHD_URL;
let accessToken = null;
let refreshTimer = null;
let refreshes = 0;

class APIError extends Error {
  constructor(status, code, description, data = {}) {
    super(description || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.data = data;
  }
}

// A login waiting for its second factor: the challenge authd answered the password with.
let challenge = null;

// DPoP (RFC 9449): every request carries a proof signed by this browser's own key, so that the
// refresh cookie and the access token are worth nothing anywhere else. The key is a WebCrypto
// P-256 key made non-extractable (its private half can sign but never be read, not even by this
// script) and kept in IndexedDB, so that it survives reloads. Tokens issued with a proof are
// bound to the key; without WebCrypto or IndexedDB the page falls back to bearer tokens.
let tokenType = "Bearer";
let dpopNonce = null;
let dpopKey = null;
let authdIssuer = null;

const encoder = new TextEncoder();
const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const encodeJSON = (value) => base64url(encoder.encode(JSON.stringify(value)));

function idbRequest(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

// The browser's key: the one kept in IndexedDB, or a new one stored there. Null: no DPoP here
// (authd does not take it, or this browser cannot keep a key).
function proofKey() {
  dpopKey ??= (async () => {
    try {
      const metadata = await fetch(AUTHD + "/.well-known/oauth-authorization-server").then((r) => r.json());
      if (!(metadata.dpop_signing_alg_values_supported || []).includes("ES256")) return null;
      authdIssuer = metadata.issuer.replace(/\/$/, "");
      const open = indexedDB.open("authd-dpop", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("keys");
      const db = await idbRequest(open);
      let pair = await idbRequest(db.transaction("keys").objectStore("keys").get("dpop"));
      if (!pair) {
        pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
        await idbRequest(db.transaction("keys", "readwrite").objectStore("keys").put(pair, "dpop"));
      }
      const { crv, kty, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
      return { privateKey: pair.privateKey, jwk: { crv, kty, x, y } };
    } catch {
      return null;
    }
  })();
  return dpopKey;
}

// A proof for one request (RFC 9449 §4.2); with the access token, its hash (`ath`).
async function proof(key, method, path, token) {
  const claims = { jti: crypto.randomUUID(), htm: method, htu: authdIssuer + path, iat: Math.floor(Date.now() / 1000) };
  if (token) claims.ath = base64url(await crypto.subtle.digest("SHA-256", encoder.encode(token)));
  if (dpopNonce) claims.nonce = dpopNonce;
  const input = `${encodeJSON({ typ: "dpop+jwt", alg: "ES256", jwk: key.jwk })}.${encodeJSON(claims)}`;
  // WebCrypto's ECDSA signature is r ‖ s, which is JOSE's form already.
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, encoder.encode(input));
  return `${input}.${base64url(signature)}`;
}

// One call to authd. `cookie` sends and accepts the refresh cookie (only /login, /token and
// /logout need it); `bearer` sends the access token. A proof goes with every call; when authd
// asks for its nonce (`use_dpop_nonce`), the call is made once more with it.
async function call(path, options = {}, retried = false) {
  const { method = "GET", body, bearer = false, cookie = false } = options;
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const key = await proofKey();
  if (bearer) headers["Authorization"] = `${tokenType} ${accessToken}`;
  if (key) headers["DPoP"] = await proof(key, method, path, bearer && tokenType === "DPoP" ? accessToken : null);
  let response;
  try {
    response = await fetch(AUTHD + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: cookie ? "include" : "omit",
    });
  } catch {
    // The browser hides why: authd down, or this origin not allowed by authd's CORS policy.
    throw new APIError(0, "unreachable", "authd cannot be reached from this page");
  }
  dpopNonce = response.headers.get("DPoP-Nonce") || dpopNonce;
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (data.error === "use_dpop_nonce" && !retried) return call(path, options, true);
  if (!response.ok) throw new APIError(response.status, data.error, data.error_description, data);
  return data;
}

// A call with the access token; on 401 it renews the token once and tries again.
async function authorized(path, options = {}) {
  try {
    return await call(path, { ...options, bearer: true });
  } catch (error) {
    if (error.status !== 401) throw error;
    // refresh() has said so on the page when the session is gone.
    if (!(await refresh())) throw new APIError(401, "session_ended");
    return call(path, { ...options, bearer: true });
  }
}

// Takes a token body from /login or /token: the access token stays in memory, and a renewal is
// scheduled before it expires (a minute early, or a third of its lifetime when that is shorter).
function useTokens(body) {
  accessToken = body.accessToken;
  tokenType = body.tokenType || "Bearer";
  clearTimeout(refreshTimer);
  const early = Math.min(60, body.expiresIn / 3);
  refreshTimer = setTimeout(renew, Math.max(1, body.expiresIn - early) * 1000);
  const expires = new Date(Date.now() + body.expiresIn * 1000).toLocaleTimeString();
  const renewed = refreshes === 1 ? "once" : `${refreshes} times`;
  show("#token-info", `Access token renewed silently ${renewed}; this one expires at ${expires}.`);
  document.body.dataset.refreshes = refreshes;
}

// Trades the refresh cookie for new tokens. False when there is no live session.
async function refresh() {
  try {
    const body = await call("/token", { method: "POST", cookie: true });
    refreshes += 1;
    useTokens(body);
    return true;
  } catch (error) {
    if (error.status >= 500 || error.status === 0) {
      // authd or the network is down: keep the page, try again shortly.
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(renew, 5000);
      return false;
    }
    signedOut(accessToken ? "Your session has ended. Sign in again." : null);
    return false;
  }
}

// The timer's renewal; it also signs the page in when a retry after an outage succeeds.
function renew() {
  act(async () => {
    if ((await refresh()) && document.querySelector("#signed-in").hidden) await signedIn();
  });
}

async function signedIn() {
  const me = await authorized("/me");
  show("#username", me.username);
  document.querySelector("#signed-out").hidden = true;
  document.querySelector("#signed-in").hidden = false;
  await loadSessions();
  await loadFactor();
}

// The second factor's card: set it up, or turn it off.
async function loadFactor() {
  const status = await authorized("/mfa");
  const active = status.totp === "active";
  show("#factor-status", active
    ? `On: signing in asks for a code from your authenticator app. ${status.recovery_codes_left} recovery codes left.`
    : "Off: signing in asks for your password only.");
  document.querySelector("#factor").dataset.state = status.totp;
  document.querySelector("#enrol-form").hidden = active;
  document.querySelector("#remove-factor-form").hidden = !active;
  if (active) document.querySelector("#enrolment").hidden = true;
}

// A 6-digit code is the app's; anything else is a recovery code.
function factorAnswer(text) {
  const value = text.trim();
  return /^[0-9]{6}$/.test(value) ? { code: value } : { recovery_code: value };
}

function signedOut(text, isError = true) {
  accessToken = null;
  challenge = null;
  document.querySelector("#second-step-form").hidden = true;
  document.querySelector("#sign-in-form").hidden = false;
  document.querySelector("#recovery").hidden = true;
  document.querySelector("#recovery-codes").replaceChildren();
  clearTimeout(refreshTimer);
  document.querySelector("#signed-in").hidden = true;
  document.querySelector("#signed-out").hidden = false;
  document.querySelector("#sessions").replaceChildren();
  if (text) message(text, isError);
}

async function loadSessions() {
  const { sessions } = await authorized("/sessions");
  sessions.sort((a, b) => b.current - a.current || b.lastUsedAt - a.lastUsedAt);
  const rows = sessions.map((session) => {
    const row = document.createElement("tr");
    row.dataset.sessionId = session.id;
    const device = cell(describeDevice(session.userAgent));
    if (session.current) {
      row.className = "current";
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "this device";
      device.append(badge);
    }
    const end = document.createElement("button");
    end.className = "small danger end-session";
    end.textContent = session.current ? "Log out" : "End";
    end.addEventListener("click", () => act(() => endSession(session)));
    row.append(device, cell(session.ip || "unknown"), cell(ago(session.lastUsedAt)), cell(ago(session.createdAt)), cell(end));
    return row;
  });
  document.querySelector("#sessions").replaceChildren(...rows);
}

async function endSession(session) {
  if (session.current) return logOut("local");
  await authorized(`/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" });
  message("That session has ended: its tokens no longer work anywhere.", false);
  await loadSessions();
}

async function logOut(scope) {
  await call("/logout", { method: "POST", body: { scope }, cookie: true });
  signedOut(scope === "global" ? "Logged out on every device." : "Logged out.", false);
}

// Runs a user action and reports its failure on the page.
async function act(action) {
  try {
    await action();
  } catch (error) {
    if (error.code === "session_ended") return;
    message(error.message, true);
  }
}

function message(text, isError) {
  const element = document.querySelector("#message");
  element.textContent = text;
  element.className = isError ? "error" : "";
  element.hidden = false;
}

function show(selector, text) {
  document.querySelector(selector).textContent = text;
}

function cell(content) {
  const td = document.createElement("td");
  if (typeof content === "string") td.textContent = content;
  else td.append(content);
  return td;
}

function ago(seconds) {
  const minutes = Math.round((Date.now() / 1000 - seconds) / 60);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  return new Date(seconds * 1000).toLocaleString();
}

// "Chrome on Linux" from a user agent; the raw text (shortened) when nothing is recognised.
function describeDevice(userAgent) {
  if (!userAgent) return "Unknown device";
  const browsers = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"]];
  const systems = [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"], ["Mac OS", "macOS"], ["Linux", "Linux"]];
  const browser = browsers.find(([mark]) => userAgent.includes(mark));
  const system = systems.find(([mark]) => userAgent.includes(mark));
  if (browser && system) return `${browser[1]} on ${system[1]}`;
  return userAgent.length > 40 ? `${userAgent.slice(0, 40)}…` : userAgent;
}

function credentials(form) {
  return { username: form.username.value.trim(), password: form.password.value };
}

async function logIn(form) {
  let body;
  try {
    body = await call("/login", { method: "POST", body: credentials(form), cookie: true });
  } catch (error) {
    if (error.code !== "mfa_required") throw error;
    // The password was right: now the second factor, within the challenge's lifetime.
    challenge = error.data.mfa_token;
    form.reset();
    form.hidden = true;
    document.querySelector("#message").hidden = true;
    document.querySelector("#second-step-form").hidden = false;
    document.querySelector("#second-step-form").code.focus();
    return;
  }
  form.reset();
  await enter(body);
}

async function enter(tokens) {
  useTokens(tokens);
  document.querySelector("#message").hidden = true;
  await signedIn();
}

document.querySelector("#second-step-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(async () => {
    const body = { mfa_token: challenge, ...factorAnswer(form.code.value) };
    const tokens = await call("/login/mfa", { method: "POST", body, cookie: true });
    form.reset();
    challenge = null;
    form.hidden = true;
    document.querySelector("#sign-in-form").hidden = false;
    await enter(tokens);
  });
});

document.querySelector("#cancel-code").addEventListener("click", () => signedOut(null));

document.querySelector("#enrol-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(async () => {
    const enrolment = await authorized("/mfa/totp", { method: "POST", body: { password: form.password.value } });
    form.reset();
    // The QR code is drawn here, from the otpauth:// URI: the key never leaves the page.
    const qr = qrcode(0, "M");
    qr.addData(enrolment.otpauth_uri);
    qr.make();
    document.querySelector("#factor-qr").src = qr.createDataURL(4, 4);
    show("#factor-secret", enrolment.secret.replace(/(.{4})/g, "$1 ").trim());
    document.querySelector("#enrolment").hidden = false;
    document.querySelector("#enrol-form").hidden = true;
  });
});

document.querySelector("#confirm-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(async () => {
    const { recovery_codes } = await authorized("/mfa/totp/confirm", { method: "POST", body: { code: form.code.value.trim() } });
    form.reset();
    document.querySelector("#factor-secret").textContent = "";
    document.querySelector("#factor-qr").removeAttribute("src");
    const items = recovery_codes.map((code) => {
      const item = document.createElement("li");
      item.textContent = code;
      return item;
    });
    document.querySelector("#recovery-codes").replaceChildren(...items);
    document.querySelector("#recovery").hidden = false;
    message("Two-step sign-in is on.", false);
    await loadFactor();
  });
});

document.querySelector("#remove-factor-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(async () => {
    await authorized("/mfa", { method: "DELETE", body: factorAnswer(form.code.value) });
    form.reset();
    document.querySelector("#recovery").hidden = true;
    message("Two-step sign-in is off. Your other sessions have ended.", false);
    await loadSessions();
    await loadFactor();
  });
});

document.querySelector("#sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(() => logIn(event.target));
});

document.querySelector("#sign-up").addEventListener("click", () => {
  const form = document.querySelector("#sign-in-form");
  if (!form.reportValidity()) return;
  act(async () => {
    await call("/users", { method: "POST", body: credentials(form) });
    await logIn(form);
  });
});

document.querySelector("#log-out").addEventListener("click", () => act(() => logOut("local")));
document.querySelector("#log-out-everywhere").addEventListener("click", () => act(() => logOut("global")));

document.querySelector("#password-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act(async () => {
    const body = { oldPassword: form.oldPassword.value, newPassword: form.newPassword.value };
    await authorized("/password", { method: "POST", body });
    form.reset();
    signedOut("Password changed. Every session has ended; sign in with the new password.", false);
  });
});

// On load: the cookie may still hold a live session (a reload, a new tab).
act(async () => {
  if (await refresh()) await signedIn();
  else if (!accessToken) signedOut(null);
});
