// The panels beside a request: its deadline, customer, scope, knowledge base, files,
// incident, administration request, quotes and audit trail.
import { api, badge, clear, countdown, errorBox, h, labelled, notify, query, select, timeTag } from "./core.js";
import { t } from "./i18n.js";
import { LABELS, requestRow } from "./queue.js";

function panel(title, ...content) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...content);
}

function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(([, value]) => value !== null && value !== undefined && value !== "").map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]),
  );
}

function failed(error) {
  notify(error.message, "error");
}

function slaPanel(ticket) {
  const sla = ticket.sla;
  if (!sla) return panel(t("sla.title"), h("p", {}, t("sla.none")));
  const running = ["pending", "warned", "breached", "delayed"].includes(sla.state) && ticket.status === "open";
  return panel(
    t("sla.title"),
    facts([
      [t("sla.state"), badge(t("sla." + sla.state), "sla-" + sla.state)],
      [t("sla.due"), sla.due_at ? [timeTag(sla.due_at), " ", running ? countdown(sla.due_at) : null] : null],
      [t("sla.started"), sla.started_at ? timeTag(sla.started_at) : null],
      [t("sla.first"), sla.first_response_at ? timeTag(sla.first_response_at) : null],
      [t("sla.breached_at"), sla.breached_at ? timeTag(sla.breached_at) : null],
    ]),
    sla.history && sla.history.length
      ? h(
          "details",
          {},
          h("summary", {}, t("sla.history"), ` (${sla.history.length})`),
          h("ol", {}, sla.history.map((w) => h("li", {}, timeTag(w.started_at), " → ", timeTag(w.due_at), ": ", t("sla." + w.state), w.responded_at ? [" (", timeTag(w.responded_at), ")"] : null))),
        )
      : null,
  );
}

function customerPanel(ticket) {
  const others = h("div");
  const email = ticket.customer_email;
  const show = async () => {
    try {
      const page = await api("GET", "/staff/tickets" + query(email ? { customer_email: email, limit: 20 } : { domain: ticket.domain, limit: 20 }));
      const items = page.items.filter((i) => i.id !== ticket.id);
      clear(others, items.length ? h("ol", { class: "rows compact" }, items.map((i) => requestRow(i))) : h("p", { class: "muted" }, t("customer.no_others")));
    } catch (error) {
      clear(others, errorBox(error));
    }
  };
  return panel(
    t("customer.title"),
    facts([
      [t("customer.name"), ticket.customer_name],
      [t("customer.email"), email || ticket.from_addr],
      [t("customer.claimed"), ticket.claimed_email],
      [t("customer.account"), ticket.customer && !String(ticket.customer).startsWith("email:") ? ticket.customer : null],
      [t("customer.domain"), ticket.domain],
    ]),
    email || ticket.domain ? h("button", { type: "button", onclick: show }, t("customer.others")) : null,
    others,
  );
}

function scopePanel(ticket, ctx) {
  const scope = ticket.scope || {};
  const correction = ticket.scope_correction;
  const label = select(LABELS.map((l) => [l, t("label." + l)]), (correction && correction.label) || scope.label, { name: "label" });
  const sub = h("input", { type: "text", name: "sub", value: (correction && correction.sub) || scope.sub || "", maxlength: 64 });
  const save = async (event) => {
    event.preventDefault();
    const body = { label: label.value };
    if (sub.value.trim()) body.sub = sub.value.trim();
    try {
      ctx.replace(await api("PUT", `/tickets/${ticket.id}/scope`, body));
      notify(t("scope.saved"));
    } catch (error) {
      failed(error);
    }
  };
  return panel(
    t("scope.title"),
    facts([
      [t("scope.label"), t("label." + scope.label) + (scope.sub ? " / " + scope.sub : "")],
      [t("scope.flags"), (scope.flags || []).map((f) => badge(t("flag." + f), "flag-" + f))],
      [t("scope.correction"), correction ? t("label." + correction.label) + (correction.sub ? " / " + correction.sub : "") : null],
    ]),
    scope.evidence && scope.evidence.length
      ? h(
          "details",
          {},
          h("summary", {}, t("scope.evidence"), ` (${scope.evidence.length})`),
          h("ul", {}, scope.evidence.map((e) => h("li", {}, `${e.rule || ""} ${e.name || e.kind}: «${e.match || e.cue || ""}»` + (e.field ? ` (${e.field})` : "")))),
        )
      : null,
    h("form", { class: "inline", onsubmit: save }, labelled(t("scope.correct"), label), labelled(t("scope.sub"), sub), h("button", { type: "submit" }, t("save"))),
  );
}

function kbPanel(ticket, ctx) {
  const articles = ticket.kb || [];
  if (!articles.length) return null;
  return panel(
    t("kb.title"),
    h(
      "ul",
      { class: "kb" },
      articles.map((a) =>
        h("li", {}, h("a", { href: a.url, target: "_blank", rel: "noopener noreferrer" }, a.title), " ", h("button", { type: "button", class: "small", onclick: () => ctx.insertIntoAnswer(`${a.title}: ${a.url}`), "aria-label": t("kb.insert") + ": " + a.title }, t("kb.insert"))),
      ),
    ),
  );
}

function filesPanel(ticket) {
  const files = ticket.attachments || [];
  if (!files.length) return null;
  return panel(
    t("files.title"),
    h(
      "ul",
      {},
      files.map((f) =>
        h("li", {}, f.url ? h("a", { href: f.url, rel: "noopener noreferrer", download: f.name }, f.name) : f.name, ` (${Math.ceil((f.size || 0) / 1024)} KB) `, badge(t("file." + f.state), "file-" + f.state), f.reason ? " " + f.reason : ""),
      ),
    ),
  );
}

function incidentPanel(ticket, ctx) {
  // The linked incident first (it may be resolved by now), then the active ones.
  const chooser = select([["", t("incident.none")]], "", { name: "incident" });
  if (ticket.incident) chooser.append(h("option", { value: ticket.incident, selected: true }, ticket.incident));
  api("GET", "/staff/incidents?limit=20").then(
    (page) => {
      for (const i of page.items) {
        const active = !["resolved", "completed"].includes(i.state);
        if (i.id === ticket.incident) chooser.querySelector(`option[value="${i.id}"]`).textContent = `${i.title} (${i.id})`;
        else if (active) chooser.append(h("option", { value: i.id }, `${i.title} (${i.id})`));
      }
    },
    () => {},
  );
  const save = async (event) => {
    event.preventDefault();
    try {
      ctx.replace(await api("PUT", `/tickets/${ticket.id}/incident`, { incident: chooser.value || null }));
      notify(t("incident.saved"));
    } catch (error) {
      failed(error);
    }
  };
  return panel(
    t("incident.title"),
    ticket.incident ? h("p", {}, h("a", { href: "#/incidents/" + ticket.incident }, ticket.incident)) : null,
    h("form", { class: "inline", onsubmit: save }, labelled(t("incident.link"), chooser), h("button", { type: "submit" }, t("save"))),
  );
}

function adminPanel(ticket, ctx) {
  const admin = ticket.admin_request;
  if (!admin && (ticket.scope || {}).label !== "free_admin") return null;
  const current = admin || {};
  const kind = select([["os_install", t("admin.os_install")], ["panel_install", t("admin.panel_install")]], current.kind || "os_install", { name: "kind" });
  const server = h("input", { type: "text", name: "server", value: current.server || "", maxlength: 64 });
  const os = h("input", { type: "text", name: "os", value: current.os || "", maxlength: 64 });
  const panelId = h("input", { type: "text", name: "panel", value: current.panel || "", maxlength: 64 });
  const save = async (event) => {
    event.preventDefault();
    const body = { kind: kind.value, server: server.value || null, os: os.value || null, panel: panelId.value || null };
    try {
      ctx.replace(await api("PUT", `/tickets/${ticket.id}/admin-request`, body));
      notify(t("admin.saved"));
    } catch (error) {
      failed(error);
    }
  };
  return panel(
    t("admin.title"),
    admin ? facts([[t("admin.kind"), t("admin." + admin.kind)], [t("admin.server"), admin.server], ["OS", admin.os], [t("admin.panel"), admin.panel], [t("admin.possible"), admin.possible ? t("yes") : t("no")], [t("admin.reason"), admin.reason]]) : null,
    h("form", { onsubmit: save }, labelled(t("admin.kind"), kind), labelled(t("admin.server"), server), labelled("OS", os), labelled(t("admin.panel"), panelId), h("button", { type: "submit" }, t("admin.correct"))),
  );
}

function quotesPanel(ticket) {
  const list = h("div");
  const load = async () => {
    try {
      const { items } = await api("GET", `/tickets/${ticket.id}/quotes`);
      clear(list, items.length ? items.map(quoteCard) : h("p", { class: "muted" }, t("quote.none")));
    } catch (error) {
      clear(list, errorBox(error));
    }
  };
  const step = async (quote, action, body) => {
    try {
      await api("POST", `/tickets/${ticket.id}/quotes/${quote.id}/${action}`, body);
      notify(t("quote.done"));
      load();
    } catch (error) {
      failed(error);
    }
  };
  function quoteCard(quote) {
    const amount = h("input", { type: "text", inputmode: "decimal", name: "amount", size: 8, "aria-label": t("quote.amount") });
    const reason = h("input", { type: "text", name: "reason", "aria-label": t("quote.reason") });
    const open = ["proposed", "accepted"].includes(quote.state);
    return h(
      "article",
      { class: "quote" },
      h("p", {}, badge(t("quote.state." + quote.state, {}, quote.state)), ` ${quote.price} ${quote.currency} · `, timeTag(quote.deadline), ` · ${t("quote.paid")}: ${quote.paid}`),
      h("p", { class: "msg-text" }, quote.scope),
      quote.refund_due ? h("p", {}, t("quote.refund"), `: ${quote.refund_due} ${quote.refund_currency}`) : null,
      h("details", {}, h("summary", {}, t("quote.history")), h("ol", {}, (quote.history || []).map((s) => h("li", {}, timeTag(s.at), " ", t("quote.state." + s.action, {}, s.action || ""), s.side ? ` (${t(s.side === "staff" ? "staff" : "customer")})` : "")))),
      open
        ? h(
            "div",
            { class: "actions" },
            quote.state === "accepted" ? [amount, h("button", { type: "button", onclick: () => step(quote, "payments", { amount: amount.value, currency: quote.currency }) }, t("quote.payment"))] : null,
            quote.state === "accepted" ? h("button", { type: "button", onclick: () => step(quote, "complete", {}) }, t("quote.complete")) : null,
            reason,
            h("button", { type: "button", onclick: () => step(quote, "refuse", { reason: reason.value }) }, t("quote.refuse")),
          )
        : null,
    );
  }
  const scope = h("textarea", { rows: 2, name: "scope" });
  const price = h("input", { type: "text", inputmode: "decimal", name: "price", size: 8 });
  const currency = select([["RUB", "RUB"], ["USD", "USD"], ["EUR", "EUR"]], "RUB", { name: "currency" });
  const deadline = h("input", { type: "datetime-local", name: "deadline" });
  const propose = async (event) => {
    event.preventDefault();
    const at = new Date(deadline.value);
    try {
      await api("POST", `/tickets/${ticket.id}/quotes`, { scope: scope.value, price: price.value, currency: currency.value, deadline: Number.isNaN(at.getTime()) ? deadline.value : at.toISOString() });
      notify(t("quote.proposed"));
      load();
    } catch (error) {
      failed(error);
    }
  };
  load();
  return panel(
    t("quote.title"),
    list,
    h("details", {}, h("summary", {}, t("quote.propose")), h("form", { onsubmit: propose }, labelled(t("quote.scope"), scope), labelled(t("quote.price"), price), labelled(t("quote.currency"), currency), labelled(t("quote.deadline"), deadline), h("button", { type: "submit" }, t("quote.propose")))),
  );
}

function auditPanel(ticket) {
  const list = h("ol", { class: "audit" });
  let next = null;
  const more = h("button", { type: "button", class: "small", hidden: true }, t("more"));
  const load = async () => {
    try {
      const page = await api("GET", `/tickets/${ticket.id}/events` + query({ limit: 50, next }));
      list.append(...page.items.map((e) => h("li", {}, timeTag(e.at), " ", h("strong", {}, t("event." + e.kind, {}, e.kind)), " ", (e.by && (e.by.name || e.by.email)) || "", e.details ? h("code", {}, " " + JSON.stringify(e.details)) : null)));
      next = page.next;
      more.hidden = !next;
    } catch (error) {
      list.append(h("li", {}, errorBox(error)));
    }
  };
  more.addEventListener("click", load);
  const details = h("details", {}, h("summary", {}, t("audit.title")), list, more);
  details.addEventListener("toggle", () => details.open && !list.children.length && load(), { once: false });
  return h("section", { class: "panel" }, details);
}

export function sidePanels(root, ticket, ctx) {
  clear(
    root,
    slaPanel(ticket),
    customerPanel(ticket),
    kbPanel(ticket, ctx),
    scopePanel(ticket, ctx),
    filesPanel(ticket),
    incidentPanel(ticket, ctx),
    adminPanel(ticket, ctx),
    ticket.official ? quotesPanel(ticket) : null,
    auditPanel(ticket),
  );
}
