// The SLA report (API.md, GET /staff/reports/sla): the share answered within the hour,
// breaches and ratings, as a table and as a chart by day.
import { api, clear, errorBox, h, labelled, query, select } from "./core.js";
import { t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child);
  return node;
}

// Per period: received, answered within target, breaches, summed over the groups.
export function byPeriod(rows) {
  const periods = new Map();
  for (const row of rows) {
    const p = periods.get(row.period) || { period: row.period, received: 0, first: 0, within: 0, breaches: 0 };
    p.received += row.received;
    p.first += row.first_responses;
    p.within += row.within_target;
    p.breaches += row.breaches;
    periods.set(row.period, p);
  }
  return [...periods.values()].sort((a, b) => (a.period < b.period ? -1 : 1));
}

function chart(periods) {
  const width = 640;
  const height = 220;
  const pad = 32;
  const step = (width - pad * 2) / Math.max(periods.length, 1);
  const top = Math.max(1, ...periods.map((p) => p.received));
  const bars = periods.map((p, i) => {
    const x = pad + i * step;
    const barHeight = ((height - pad * 2) * p.received) / top;
    const share = p.first ? p.within / p.first : null;
    const shareY = share === null ? null : height - pad - (height - pad * 2) * share;
    return svg(
      "g",
      {},
      svg("rect", { x: x + step * 0.15, y: height - pad - barHeight, width: step * 0.5, height: barHeight, class: "bar" }, svg("title", {}, `${p.period}: ${p.received}`)),
      p.breaches ? svg("rect", { x: x + step * 0.65, y: height - pad - ((height - pad * 2) * p.breaches) / top, width: step * 0.2, height: ((height - pad * 2) * p.breaches) / top, class: "bar-breach" }) : "",
      shareY === null ? "" : svg("circle", { cx: x + step * 0.4, cy: shareY, r: 4, class: "share" }, svg("title", {}, `${Math.round(share * 100)}%`)),
      svg("text", { x: x + step * 0.4, y: height - pad + 16, "text-anchor": "middle", class: "axis" }, p.period.slice(5)),
    );
  });
  return svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t("report.chart"), class: "chart" },
    svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis-line" }),
    svg("line", { x1: pad, y1: pad, x2: width - pad, y2: pad, class: "target-line" }),
    svg("text", { x: pad, y: pad - 6, class: "axis" }, "100%"),
    ...bars,
  );
}

function percent(share) {
  return share === null || share === undefined ? "—" : Math.round(share * 100) + "%";
}

export function reportView(root, params) {
  const values = { from: params.get("from") || "", to: params.get("to") || "", by: params.get("by") || "day", group: params.get("group") || "channel" };
  const from = h("input", { type: "date", name: "from", value: values.from });
  const to = h("input", { type: "date", name: "to", value: values.to });
  const by = select([["day", t("report.day")], ["week", t("report.week")]], values.by, { name: "by" });
  const group = select([["channel", t("filter.channel")], ["label", t("filter.label")], ["agent", t("report.agent")]], values.group, { name: "group" });
  const out = h("div");
  const submit = (event) => {
    event.preventDefault();
    location.hash = "#/reports" + query({ from: from.value, to: to.value, by: by.value, group: group.value });
  };
  clear(root, h("h1", {}, t("report.title")), h("form", { class: "filters", onsubmit: submit }, labelled(t("search.from"), from), labelled(t("search.to"), to), labelled(t("report.by"), by), labelled(t("report.group"), group), h("button", { type: "submit", class: "primary" }, t("report.show"))), out);
  api("GET", "/staff/reports/sla" + query(values)).then(
    (report) => {
      const periods = byPeriod(report.rows);
      clear(
        out,
        h("p", { class: "muted" }, `${report.from} — ${report.to} (${report.timezone})`),
        h("figure", {}, chart(periods), h("figcaption", {}, t("report.legend"))),
        h(
          "div",
          { class: "table-wrap", tabindex: 0, role: "region", "aria-label": t("report.table") },
          h(
            "table",
            {},
            h("caption", {}, t("report.table")),
            h("thead", {}, h("tr", {}, [t("report.period"), t("report.group_col"), t("report.received"), t("report.first"), t("report.within"), t("report.median"), t("report.p90"), t("report.breaches"), t("report.ratings")].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              {},
              report.rows.map((r) =>
                h("tr", {}, h("td", {}, r.period), h("td", {}, r.group), h("td", {}, r.received), h("td", {}, r.first_responses), h("td", {}, percent(r.within_target_share)), h("td", {}, r.first_response_minutes.median ?? "—"), h("td", {}, r.first_response_minutes.p90 ?? "—"), h("td", {}, r.breaches), h("td", {}, `👍 ${r.ratings.good} · 👎 ${r.ratings.bad}`)),
              ),
            ),
          ),
        ),
      );
    },
    (error) => clear(out, errorBox(error)),
  );
  return null;
}
