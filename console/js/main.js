// The staff console: a hash router over the views, the header, keyboard shortcuts.
import { signOut, startSession } from "./auth.js";
import { api, clear, errorBox, h, isTyping, notify, session } from "./core.js";
import { lang, setLang, t } from "./i18n.js";
import { boardView, incidentView } from "./board.js";
import { queueView } from "./queue.js";
import { reportView } from "./reports.js";
import { requestView } from "./request.js";
import { searchView } from "./search.js";

const view = document.getElementById("view");
let cleanup = null;

// Each view renders into a container of its own: when the agent moves on, a view still
// loading writes into a detached container, never over the next view.
const ROUTES = [
  [/^#\/requests\/([^/?]+)/, (m, params, root) => requestView(root, decodeURIComponent(m[1]))],
  [/^#\/search/, (m, params, root) => searchView(root, params)],
  [/^#\/incidents\/([^/?]+)/, (m, params, root) => incidentView(root, decodeURIComponent(m[1]))],
  [/^#\/incidents/, (m, params, root) => boardView(root)],
  [/^#\/reports/, (m, params, root) => reportView(root, params)],
  [/^#\/queue/, (m, params, root) => queueView(root, params)],
];

function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const hash = location.hash || "#/queue";
  const params = new URLSearchParams(hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "");
  document.title = t("title");
  renderNav(hash);
  for (const [pattern, show] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      const root = h("div");
      clear(view, root);
      cleanup = show(match, params, root);
      view.focus({ preventScroll: true });
      return;
    }
  }
  location.hash = "#/queue";
}

function renderNav(hash) {
  const links = [
    ["#/queue", t("nav.queue")],
    ["#/search", t("nav.search")],
    ["#/incidents", t("nav.incidents")],
    ["#/reports", t("nav.reports")],
  ];
  clear(
    document.getElementById("nav"),
    h("ul", {}, links.map(([href, text]) => h("li", {}, h("a", { href, "aria-current": hash.startsWith(href) ? "page" : null }, text)))),
  );
  const claims = session.claims || {};
  clear(
    document.getElementById("who"),
    h("span", { class: "me" }, claims.name || claims.email || ""),
    h("button", { type: "button", class: "small", onclick: () => (setLang(lang() === "ru" ? "en" : "ru"), route()), lang: lang() === "ru" ? "en" : "ru" }, lang() === "ru" ? "English" : "Русский"),
    h("button", { type: "button", class: "small", onclick: signOut }, t("signout")),
  );
  document.getElementById("brand").textContent = t("brand");
  document.querySelector(".skip").textContent = t("skip");
}

document.addEventListener("keydown", (event) => {
  if (isTyping(event) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "/") {
    event.preventDefault();
    if (!location.hash.startsWith("#/search")) location.hash = "#/search";
    else document.getElementById("search-q")?.focus();
  } else if (event.key === "?") {
    notify(t("keys.help"));
  }
});

async function start() {
  document.documentElement.lang = lang();
  let state;
  try {
    state = await startSession();
  } catch (error) {
    clear(view, errorBox(error));
    return;
  }
  if (state === null) return; // on the way to sign in
  if (state === "refused") {
    clear(view, h("h1", {}, t("refused.title")), h("p", {}, t("refused.text")), h("button", { type: "button", onclick: signOut }, t("signout")));
    return;
  }
  try {
    session.timezone = (await api("GET", "/support/hours")).timezone || session.timezone;
  } catch (error) {
    /* the default zone stays: the desk still works */
  }
  window.addEventListener("hashchange", route);
  route();
}

start();
