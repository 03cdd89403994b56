// The queue (API.md, GET /staff/queue): breaches first, then running deadlines with a
// live countdown, then advisory requests waiting; one filter at a time (each filter is
// its own index partition); refreshed every 30 s while the tab is visible.
import { api, badge, clear, countdown, customerLabel, errorBox, h, isTyping, query, select, timeTag } from "./core.js";
import { t } from "./i18n.js";

const REFRESH_MS = 30000;
const PAGES = 5; // up to 500 lines: the counts say "500+" beyond that
const CHANNELS = ["cabinet", "email", "chat", "skype"];
export const LABELS = ["outage", "maintenance", "free_admin", "paid_admin", "out_of_scope", "consultation", "unclear"];
const FLAGS = ["abusive", "ticket_recommended", "needs_details"];

export function filterOptions() {
  return [
    ["", t("filter.all")],
    ["assignee=me", t("filter.mine")],
    ["assignee=none", t("filter.unassigned")],
    ...CHANNELS.map((c) => ["channel=" + c, t("filter.channel") + ": " + t("channel." + c)]),
    ...LABELS.map((l) => ["label=" + l, t("filter.label") + ": " + t("label." + l)]),
    ...FLAGS.map((f) => ["flag=" + f, t("filter.flag") + ": " + t("flag." + f)]),
  ];
}

// One line of the queue or of search results (a queue item: API.md, "Working as a team").
export function requestRow(item, incident) {
  const sla = item.sla;
  let urgency;
  if (sla && sla.due_at && item.status === "open" && ["pending", "warned", "breached", "delayed"].includes(sla.state)) {
    urgency = countdown(sla.due_at);
  } else {
    urgency = h("span", { class: "muted" }, t("waiting.since"), " ", timeTag(item.waiting_since || item.created_at));
  }
  const who = customerLabel(item);
  return h(
    "li",
    { class: "row" + (sla && sla.state === "breached" ? " breached" : ""), "data-id": item.id },
    h(
      "a",
      { href: "#/requests/" + encodeURIComponent(item.id), class: "row-link" },
      h("span", { class: "row-id" }, item.id),
      " ",
      h("span", { class: "row-subject" }, item.subject || t("request.no_subject")),
    ),
    h(
      "div",
      { class: "row-meta" },
      sla ? badge(t("sla." + sla.state), "sla-" + sla.state) : badge(t("advisory"), "advisory"),
      badge(t("channel." + item.channel)),
      badge(t("label." + ((item.scope && item.scope.label) || "unclear"))),
      ...((item.scope && item.scope.flags) || []).map((f) => badge(t("flag." + f), "flag-" + f)),
      item.status !== "open" ? badge(t("status." + item.status)) : null,
      incident ? badge(t("incident.short") + " " + incident, "incident") : null,
      h("span", { class: "row-who" }, who),
      urgency,
      h("span", { class: "row-assignee" }, item.assignee ? "→ " + item.assignee.name : t("unassigned")),
      item.attachment_count ? h("span", { "aria-label": t("attachments") }, "📎" + item.attachment_count) : null,
      item.last_message_by === "staff" ? h("span", { class: "muted" }, t("last.staff")) : null,
    ),
  );
}

// What GET /staff/queue gives, as one list in queue order (incident groups are kept
// with their incident named on each line).
function flatten(page) {
  const lines = page.items.map((item) => [item, null]);
  for (const group of page.incidents || []) {
    for (const item of group.requests) lines.push([item, group.incident.id]);
  }
  return lines;
}

export function counts(lines, now = Date.now()) {
  const soon = now + 15 * 60 * 1000;
  const result = { breached: 0, soon: 0, waiting: 0 };
  for (const [item] of lines) {
    const sla = item.sla;
    const running = sla && sla.due_at && ["pending", "warned", "breached"].includes(sla.state);
    if (running && (sla.state === "breached" || new Date(sla.due_at).getTime() < now)) result.breached += 1;
    else if (running && new Date(sla.due_at).getTime() <= soon) result.soon += 1;
    result.waiting += 1;
  }
  return result;
}

function order(lines) {
  const tier = ([item]) => {
    const sla = item.sla;
    if (sla && sla.due_at && ["pending", "warned", "breached"].includes(sla.state)) {
      return [sla.state === "breached" ? 0 : 1, sla.due_at];
    }
    return [2, item.waiting_since || item.created_at];
  };
  return lines.sort((a, b) => {
    const [ta, xa] = tier(a);
    const [tb, xb] = tier(b);
    return ta - tb || (xa < xb ? -1 : xa > xb ? 1 : 0);
  });
}

export function queueView(root, params) {
  const filter = params.get("filter") || "";
  let timer = null;
  let selected = 0;
  const list = h("ol", { class: "rows", "aria-label": t("queue.title") });
  const summary = h("p", { class: "counts", "aria-live": "polite" });
  const status = h("div");
  const chooser = select(filterOptions(), filter, { "aria-label": t("filter.label_all") });
  chooser.addEventListener("change", () => {
    location.hash = "#/queue" + (chooser.value ? "?filter=" + encodeURIComponent(chooser.value) : "");
  });
  const refresh = h("button", { type: "button", onclick: () => load() }, t("refresh"));
  clear(
    root,
    h("div", { class: "toolbar" }, h("h1", {}, t("queue.title")), chooser, refresh),
    summary,
    status,
    list,
    h("p", { class: "muted keys" }, t("queue.keys")),
  );

  async function load() {
    const [name, value] = filter ? filter.split("=") : [null, null];
    const lines = [];
    let next = null;
    let capped = false;
    try {
      for (let page = 0; page < PAGES; page += 1) {
        const body = await api("GET", "/staff/queue" + query({ limit: 100, next, [name || "_"]: value }));
        lines.push(...flatten(body));
        next = body.next;
        if (!next) break;
        capped = page === PAGES - 1;
      }
    } catch (error) {
      clear(status, errorBox(error));
      return;
    }
    status.replaceChildren();
    order(lines);
    const c = counts(lines);
    const more = capped ? "+" : "";
    clear(
      summary,
      h("span", { class: "count breached" }, t("count.breached"), ": ", h("strong", {}, c.breached + more)),
      h("span", { class: "count soon" }, t("count.soon"), ": ", h("strong", {}, c.soon + more)),
      h("span", { class: "count" }, t("count.waiting"), ": ", h("strong", {}, c.waiting + more)),
      h("span", { class: "muted" }, t("updated"), " ", timeTag(new Date().toISOString())),
    );
    clear(list, lines.length ? lines.map(([item, incident]) => requestRow(item, incident)) : h("li", { class: "empty" }, t("queue.empty")));
    highlight();
  }

  function rows() {
    return [...list.querySelectorAll(".row")];
  }

  function highlight() {
    const all = rows();
    selected = Math.max(0, Math.min(selected, all.length - 1));
    all.forEach((row, i) => row.classList.toggle("selected", i === selected));
    return all[selected];
  }

  function onKey(event) {
    if (isTyping(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j" || event.key === "k") {
      selected += event.key === "j" ? 1 : -1;
      const row = highlight();
      if (row) row.querySelector("a").focus();
    } else if (event.key === "Enter" || event.key === "o") {
      const row = highlight();
      if (row && event.key === "o") location.hash = row.querySelector("a").getAttribute("href");
    } else if (event.key === "r") {
      load();
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!document.hidden) load();
      schedule();
    }, REFRESH_MS);
  }

  function onVisible() {
    if (!document.hidden) load();
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("visibilitychange", onVisible);
  load();
  schedule();
  return () => {
    clearTimeout(timer);
    document.removeEventListener("keydown", onKey);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
