// The console's foundation: building DOM without innerHTML, the API client, the
// session, time in the company's time zone, and messages to the agent.
import { t, lang } from "./i18n.js";

export const session = {
  token: null, // the Cognito IdToken: in memory only (DESIGN.md, "The staff console")
  claims: null,
  config: null, // config.json: where the API is and how staff sign in
  timezone: "Europe/Moscow", // replaced by GET /support/hours
  signin: null, // set by auth.js: goes to sign-in, keeping where the agent was
};

// h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", child, [more])
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "value") node.value = value;
    else if (name === "checked" || name === "selected" || name === "disabled") node[name] = true;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || t("error.status", { status }));
    this.status = status;
    this.code = error.code || "http_" + status;
    this.body = body || {};
  }
}

export function apiBase() {
  const configured = session.config && session.config.api;
  if (configured) return configured.replace(/\/$/, "");
  // Served beside the API (the local stack): the API is the path before /console/.
  return location.pathname.replace(/\/console\/.*$/, "");
}

// One call to the API. A 401 means the session ended: the agent goes to sign-in and
// comes back to the same place (drafts are kept as they are typed, see `drafts`).
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (session.token) headers.Authorization = session.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiBase() + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, { error: { code: "network", message: t("error.network") } });
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch (error) {
    parsed = null;
  }
  if (response.status === 401 && session.signin) {
    session.signin(t("signin.expired"));
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

// Time, always in the company's time zone (R2.1 deadlines are read by people there).
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(lang() === "ru" ? "ru-RU" : "en-GB", {
    timeZone: session.timezone,
    day: "2-digit",
    month: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).format(date);
}

export function timeTag(iso) {
  return h("time", { datetime: iso, title: iso }, when(iso));
}

// "in 12:04" / "late by 3:10": minutes and seconds under an hour, else hours and minutes.
export function countdownText(iso, now = Date.now()) {
  const due = new Date(iso).getTime();
  if (Number.isNaN(due)) return "";
  const left = due - now;
  const span = Math.abs(left) / 1000;
  const hours = Math.floor(span / 3600);
  const minutes = Math.floor((span % 3600) / 60);
  const seconds = Math.floor(span % 60);
  const two = (n) => String(n).padStart(2, "0");
  const text = hours > 0 ? `${hours} ${t("unit.h")} ${two(minutes)} ${t("unit.min")}` : `${minutes}:${two(seconds)}`;
  return left >= 0 ? t("due.in", { text }) : t("due.late", { text });
}

export function countdown(iso) {
  const node = h("span", { class: "countdown", "data-due": iso }, countdownText(iso));
  if (new Date(iso).getTime() < Date.now()) node.classList.add("late");
  return node;
}

// One ticker for every countdown on the page.
setInterval(() => {
  const now = Date.now();
  for (const node of document.querySelectorAll("[data-due]")) {
    node.textContent = countdownText(node.dataset.due, now);
    node.classList.toggle("late", new Date(node.dataset.due).getTime() < now);
  }
}, 1000);

let noticeTimer = null;
export function notify(text, kind = "ok") {
  const box = document.getElementById("notice");
  clear(box, h("p", { class: "notice " + kind }, text));
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => box.replaceChildren(), kind === "error" ? 12000 : 5000);
}

// An error shown in words (the API's `message`), never a blank screen.
export function errorBox(error) {
  return h("div", { class: "error", role: "alert" }, h("strong", {}, t("error.title")), " ", error.message || String(error));
}

// Drafts survive a reload, an expired session and a sign-in (localStorage, per request).
export const drafts = {
  get: (key) => localStorage.getItem("draft:" + key) || "",
  set: (key, text) => (text ? localStorage.setItem("draft:" + key, text) : localStorage.removeItem("draft:" + key)),
};

export function labelled(text, control) {
  const id = control.id || "f-" + Math.random().toString(36).slice(2, 9);
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, text), control);
}

export function select(options, value, attrs = {}) {
  return h(
    "select",
    attrs,
    options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)),
  );
}

// Who wrote a request, as staff read it: the name and address, else whatever is known.
export function customerLabel(r) {
  if (r.customer_name) return `${r.customer_name} <${r.customer_email || ""}>`;
  return r.customer_email || r.from_addr || r.claimed_email || r.customer;
}

export function badge(text, kind = "") {
  return h("span", { class: "badge " + kind }, text);
}

export function isTyping(event) {
  const target = event.target;
  return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
