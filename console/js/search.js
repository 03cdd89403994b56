// Search (API.md, GET /staff/search): every word of `q` in any word form, in id, subject,
// text, customer e-mail or domain; with its filters; newest first.
import { api, clear, errorBox, h, labelled, query, select } from "./core.js";
import { t } from "./i18n.js";
import { LABELS, requestRow } from "./queue.js";

const FIELDS = ["q", "status", "channel", "label", "assignee", "from", "to"];

export function searchView(root, params) {
  const values = Object.fromEntries(FIELDS.map((f) => [f, params.get(f) || ""]));
  const q = h("input", { type: "search", name: "q", value: values.q, id: "search-q", "aria-keyshortcuts": "/" });
  const status = select([["", t("filter.any")], ...["open", "answered", "solved", "closed"].map((s) => [s, t("status." + s)])], values.status, { name: "status" });
  const channel = select([["", t("filter.any")], ...["cabinet", "email", "chat", "skype"].map((c) => [c, t("channel." + c)])], values.channel, { name: "channel" });
  const label = select([["", t("filter.any")], ...LABELS.map((l) => [l, t("label." + l)])], values.label, { name: "label" });
  const assignee = select([["", t("filter.any")], ["me", t("filter.mine")], ["none", t("filter.unassigned")]], values.assignee, { name: "assignee" });
  const from = h("input", { type: "date", name: "from", value: values.from });
  const to = h("input", { type: "date", name: "to", value: values.to });
  const results = h("div", { "aria-live": "polite" });
  const submit = (event) => {
    event.preventDefault();
    const chosen = { q: q.value, status: status.value, channel: channel.value, label: label.value, assignee: assignee.value, from: from.value, to: to.value };
    location.hash = "#/search" + query(chosen);
  };
  clear(
    root,
    h("h1", {}, t("search.title")),
    h("form", { class: "filters", role: "search", onsubmit: submit }, labelled(t("search.words"), q), labelled(t("search.status"), status), labelled(t("filter.channel"), channel), labelled(t("filter.label"), label), labelled(t("search.assignee"), assignee), labelled(t("search.from"), from), labelled(t("search.to"), to), h("button", { type: "submit", class: "primary" }, t("search.go"))),
    results,
  );
  let next = null;
  const run = async (more) => {
    try {
      const page = await api("GET", "/staff/search" + query({ ...values, limit: 50, next: more ? next : null }));
      next = page.next;
      const rows = page.items.map((i) => requestRow(i));
      if (!more) clear(results, h("p", { class: "muted" }, t("search.found", { n: page.items.length + (next ? "+" : "") })), h("ol", { class: "rows" }, rows));
      else results.querySelector("ol").append(...rows);
      results.querySelector(".more")?.remove();
      if (next) results.append(h("button", { type: "button", class: "more", onclick: () => run(true) }, t("more")));
    } catch (error) {
      clear(results, errorBox(error));
    }
  };
  if (FIELDS.some((f) => values[f])) run(false);
  q.focus();
  return null;
}
