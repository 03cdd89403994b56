// Incidents and maintenance (R3.3): open one, post updates (with notify: every linked
// open request is answered), resolve, see the linked requests, link more in bulk.
import { api, apiBase, badge, clear, errorBox, h, labelled, notify, query, select, timeTag } from "./core.js";
import { t } from "./i18n.js";
import { requestRow } from "./queue.js";

const SERVICES = ["cabinet", "panel", "email", "mysql", "apache", "ftp", "ssh"];
const STATES = {
  incident: ["investigating", "identified", "monitoring", "resolved"],
  maintenance: ["scheduled", "in_progress", "completed"],
};
const FINAL = ["resolved", "completed"];

function isoOf(local) {
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

function openForm(onOpened) {
  const kind = select([["incident", t("incident.kind.incident")], ["maintenance", t("incident.kind.maintenance")]], "incident", { name: "kind" });
  const title = h("input", { type: "text", name: "title", required: true, maxlength: 200 });
  const message = h("textarea", { name: "message", rows: 3, required: true });
  const starts = h("input", { type: "datetime-local", name: "starts_at" });
  const ends = h("input", { type: "datetime-local", name: "ends_at" });
  const services = h(
    "fieldset",
    { class: "services" },
    h("legend", {}, t("incident.services")),
    SERVICES.map((s) => h("label", {}, h("input", { type: "checkbox", name: "services", value: s }), " ", t("service." + s))),
  );
  const submit = async (event) => {
    event.preventDefault();
    const body = {
      kind: kind.value,
      title: title.value,
      message: message.value,
      services: [...services.querySelectorAll("input:checked")].map((i) => i.value),
    };
    if (kind.value === "maintenance") {
      body.starts_at = isoOf(starts.value);
      body.ends_at = isoOf(ends.value);
    }
    try {
      const made = await api("POST", "/staff/incidents", body);
      notify(t("incident.opened", { linked: made.linked }));
      onOpened(made);
    } catch (error) {
      notify(error.message, "error");
    }
  };
  return h(
    "details",
    { class: "panel" },
    h("summary", {}, t("incident.open")),
    h("form", { onsubmit: submit }, labelled(t("incident.kind"), kind), labelled(t("incident.title_field"), title), services, labelled(t("incident.message"), message), labelled(t("incident.starts"), starts), labelled(t("incident.ends"), ends), h("button", { type: "submit", class: "primary" }, t("incident.open"))),
  );
}

export function boardView(root) {
  const list = h("div");
  clear(root, h("div", { class: "toolbar" }, h("h1", {}, t("incidents.title")), h("a", { href: apiBase() + "/status", target: "_blank", rel: "noopener" }, t("status.public"))), openForm((made) => (location.hash = "#/incidents/" + made.id)), list);
  api("GET", "/staff/incidents?limit=50").then(
    (page) =>
      clear(
        list,
        page.items.length
          ? h(
              "ul",
              { class: "rows" },
              page.items.map((i) =>
                h("li", { class: "row" + (FINAL.includes(i.state) ? " done" : "") }, h("a", { href: "#/incidents/" + i.id, class: "row-link" }, h("span", { class: "row-id" }, i.id), " ", i.title), h("div", { class: "row-meta" }, badge(t("incident.kind." + i.kind)), badge(t("state." + i.state), "state-" + i.state), i.services.map((s) => t("service." + s)).join(", "), " · ", t("incident.linked_n", { n: i.linked }), " · ", timeTag(i.updated_at))),
              ),
            )
          : h("p", { class: "muted" }, t("incidents.none")),
      ),
    (error) => clear(list, errorBox(error)),
  );
  return null;
}

export function incidentView(root, id) {
  clear(root, h("p", { class: "loading" }, t("loading")));
  const load = async () => {
    let incident;
    try {
      incident = await api("GET", "/staff/incidents/" + encodeURIComponent(id));
    } catch (error) {
      clear(root, h("p", {}, h("a", { href: "#/incidents" }, "← " + t("incidents.title"))), errorBox(error));
      return;
    }
    render(incident);
  };
  const render = (incident) => {
    const linked = h("div");
    const state = select(STATES[incident.kind].map((s) => [s, t("state." + s)]), incident.state, { name: "state" });
    const message = h("textarea", { name: "message", rows: 3, required: true });
    const notifyBox = h("input", { type: "checkbox", name: "notify" });
    const update = async (event) => {
      event.preventDefault();
      try {
        await api("POST", `/staff/incidents/${incident.id}/updates`, { message: message.value, state: state.value, notify: notifyBox.checked });
        notify(t("incident.updated"));
        load();
      } catch (error) {
        notify(error.message, "error");
      }
    };
    const ids = h("textarea", { name: "requests", rows: 2, placeholder: "T-XXXXXXX E-XXXXXXXXXX" });
    const link = async (event) => {
      event.preventDefault();
      const requests = ids.value.split(/[\s,;]+/).filter(Boolean);
      try {
        const result = await api("POST", `/staff/incidents/${incident.id}/links`, { requests });
        notify(t("incident.linked_now", { n: result.linked }));
        load();
      } catch (error) {
        notify(error.message, "error");
      }
    };
    const final = FINAL.includes(incident.state);
    clear(
      root,
      h("p", { class: "back" }, h("a", { href: "#/incidents" }, "← " + t("incidents.title"))),
      h("h1", {}, incident.title),
      h("p", { class: "row-meta" }, h("span", { class: "row-id" }, incident.id), badge(t("incident.kind." + incident.kind)), badge(t("state." + incident.state), "state-" + incident.state), incident.services.map((s) => t("service." + s)).join(", "), incident.starts_at ? [" · ", timeTag(incident.starts_at), " — ", timeTag(incident.ends_at)] : null),
      h("section", { class: "panel" }, h("h2", {}, t("incident.updates")), h("ol", { class: "thread" }, incident.updates.map((u) => h("li", { class: "msg staff" }, h("p", { class: "msg-head" }, badge(t("state." + u.state)), " ", timeTag(u.at), u.notify ? badge(t("incident.notified"), "official") : null), h("div", { class: "msg-text" }, u.message))))),
      final
        ? null
        : h("section", { class: "panel" }, h("h2", {}, t("incident.post")), h("form", { onsubmit: update }, labelled(t("incident.state"), state), labelled(t("incident.message"), message), h("label", {}, notifyBox, " ", t("incident.notify")), h("p", { class: "muted" }, t("incident.notify_hint")), h("button", { type: "submit", class: "primary" }, t("incident.post")))),
      h("section", { class: "panel" }, h("h2", {}, t("incident.linked_title"), ` (${incident.linked})`), linked, final ? null : h("form", { onsubmit: link }, labelled(t("incident.link_more"), ids), h("button", { type: "submit" }, t("incident.link_button")))),
    );
    api("GET", `/staff/incidents/${incident.id}/requests` + query({ limit: 100 })).then(
      (page) => clear(linked, page.items.length ? h("ol", { class: "rows compact" }, page.items.map((i) => requestRow(i))) : h("p", { class: "muted" }, t("incident.no_linked"))),
      (error) => clear(linked, errorBox(error)),
    );
  };
  load();
  return null;
}
