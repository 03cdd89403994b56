// One request: the conversation oldest first, the composer (answer, internal note, delay
// notice) and the actions; the panels beside it are in panels.js.
import { api, badge, clear, customerLabel, drafts, errorBox, h, isTyping, labelled, notify, query, select, timeTag, when } from "./core.js";
import { t } from "./i18n.js";
import { sidePanels } from "./panels.js";

function author(item, ticket) {
  if (item.author === "customer" || item.from === "customer") {
    return ticket.customer_name || ticket.customer_email || ticket.from_addr || t("customer");
  }
  return (item.by && (item.by.name || item.by.email)) || t("staff");
}

function deliveryLine(delivery) {
  if (!delivery) return null;
  const words = [t("delivery." + delivery.state)];
  if (delivery.to) words.push("→ " + delivery.to);
  if (delivery.reason) words.push("(" + delivery.reason + ")");
  return h("p", { class: "delivery delivery-" + delivery.state }, words.join(" "), delivery.at ? [" · ", timeTag(delivery.at)] : null);
}

function messageItem(message, ticket) {
  const note = message.kind === "note";
  const staff = message.author === "staff";
  return h(
    "li",
    { class: "msg" + (note ? " note" : staff ? " staff" : " customer"), "data-id": message.id },
    h(
      "p",
      { class: "msg-head" },
      h("strong", {}, author(message, ticket)),
      note ? badge(t("note.badge"), "note") : staff ? badge(t("staff")) : badge(t("customer")),
      " ",
      timeTag(message.at),
    ),
    h("div", { class: "msg-text" }, message.text),
    staff && !note ? deliveryLine(message.delivery) : null,
  );
}

function delayItem(notice) {
  return h(
    "li",
    { class: "msg delay" },
    h("p", { class: "msg-head" }, h("strong", {}, (notice.by && notice.by.name) || t("staff")), badge(t("delay.badge"), "delay"), " ", timeTag(notice.posted_at)),
    h("div", { class: "msg-text" }, notice.reason),
    h("p", {}, t("delay.eta"), ": ", timeTag(notice.eta)),
    deliveryLine(notice.delivery),
  );
}

export function conversation(ticket) {
  const first = {
    id: "request",
    author: "customer",
    text: ticket.text || "",
    at: ticket.created_at,
  };
  const entries = [
    [ticket.created_at, messageItem(first, ticket)],
    ...(ticket.messages || []).map((m) => [m.at, messageItem(m, ticket)]),
    ...(ticket.delay_notices || []).map((d) => [d.posted_at, delayItem(d)]),
  ];
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return h("ol", { class: "thread", "aria-label": t("conversation") }, entries.map(([, node]) => node));
}

function lastSeen(ticket) {
  const messages = (ticket.messages || []).filter((m) => m.kind !== "note");
  // The request's own id when nothing was written after it (API: `seen`).
  return messages.length ? messages[messages.length - 1].id : ticket.id;
}

function waitsForAnswer(ticket) {
  return ticket.status === "open";
}

export function requestView(root, id) {
  let ticket = null;
  let seen = null;
  const head = h("div", { class: "req-head" });
  const thread = h("div");
  const missedBox = h("div", { "aria-live": "assertive" });
  const composer = h("section", { class: "composer", "aria-label": t("composer") });
  const side = h("aside", { class: "side", "aria-label": t("details") });
  clear(root, h("p", { class: "loading" }, t("loading")));

  async function load() {
    try {
      ticket = await api("GET", "/tickets/" + encodeURIComponent(id));
    } catch (error) {
      clear(root, h("p", {}, h("a", { href: "#/queue" }, "← " + t("queue.title"))), errorBox(error));
      return;
    }
    render();
  }

  function render() {
    seen = lastSeen(ticket);
    document.title = ticket.id + " · " + (ticket.subject || "");
    renderHead();
    clear(thread, conversation(ticket));
    renderComposer();
    sidePanels(side, ticket, { reload: load, replace, insertIntoAnswer });
    clear(
      root,
      h("p", { class: "back" }, h("a", { href: "#/queue" }, "← " + t("queue.title"))),
      head,
      h("div", { class: "req-body" }, h("div", { class: "req-main" }, h("h2", { class: "sr" }, t("conversation")), thread, missedBox, composer), side),
    );
  }

  function replace(changed) {
    ticket = { ...ticket, ...changed };
    render();
  }

  function renderHead() {
    const who = customerLabel(ticket);
    const actions = [];
    const me = () => api("PUT", `/tickets/${ticket.id}/assignee`, { assignee: "me" }).then(replace, fail);
    const none = () => api("PUT", `/tickets/${ticket.id}/assignee`, { assignee: null }).then(replace, fail);
    actions.push(h("button", { type: "button", onclick: me }, t("assign.me")));
    if (ticket.assignee) actions.push(h("button", { type: "button", onclick: none }, t("assign.none")));
    if (["answered", "open"].includes(ticket.status) && !(waitsForAnswer(ticket) && ticket.official)) {
      actions.push(h("button", { type: "button", onclick: () => move("solved") }, t("action.solve")));
    }
    if (["answered", "solved"].includes(ticket.status)) {
      actions.push(h("button", { type: "button", onclick: () => move("open") }, t("action.reopen")));
    }
    if (ticket.status !== "closed") {
      actions.push(h("button", { type: "button", class: "quiet", onclick: () => move("closed") }, t("action.close")));
    }
    clear(
      head,
      h("h1", {}, ticket.subject || t("request.no_subject")),
      h(
        "p",
        { class: "row-meta" },
        h("span", { class: "row-id" }, ticket.id),
        badge(t("status." + ticket.status), "status-" + ticket.status),
        badge(ticket.official ? t("official") : t("advisory"), ticket.official ? "official" : "advisory"),
        badge(t("channel." + ticket.channel)),
        h("span", {}, who),
        h("span", {}, ticket.assignee ? "→ " + ticket.assignee.name : t("unassigned")),
      ),
      h("div", { class: "actions" }, actions),
    );
  }

  async function move(status, text) {
    const body = text ? { status, text } : { status };
    try {
      replace(await api("PUT", `/tickets/${ticket.id}/status`, body));
      notify(t("status.changed", { status: t("status." + status) }));
      if (text) drafts.set(ticket.id, "");
      await load();
    } catch (error) {
      fail(error);
    }
  }

  function fail(error) {
    notify(error.message, "error");
  }

  let answerBox = null;

  function insertIntoAnswer(text) {
    if (!answerBox) return;
    const start = answerBox.selectionStart ?? answerBox.value.length;
    const end = answerBox.selectionEnd ?? start;
    const before = answerBox.value.slice(0, start);
    const gap = before && !before.endsWith("\n") && !before.endsWith(" ") ? " " : "";
    answerBox.value = before + gap + text + answerBox.value.slice(end);
    answerBox.dispatchEvent(new Event("input"));
    answerBox.focus();
    const caret = (before + gap + text).length;
    answerBox.setSelectionRange(caret, caret);
  }

  function renderComposer() {
    if (ticket.status === "closed") {
      clear(composer, h("p", { class: "muted" }, t("closed.final")));
      answerBox = null;
      return;
    }
    const tabs = [
      ["answer", t("tab.answer")],
      ["note", t("tab.note")],
    ];
    if (ticket.official) tabs.push(["delay", t("tab.delay")]);
    const panel = h("div");
    const bar = h(
      "div",
      { class: "tabs", role: "tablist", "aria-label": t("composer") },
      tabs.map(([key, text], i) =>
        h("button", { type: "button", role: "tab", id: "tab-" + key, "aria-selected": i === 0 ? "true" : "false", "aria-controls": "tabpanel", onclick: () => show(key) }, text),
      ),
    );
    function show(key) {
      for (const button of bar.children) button.setAttribute("aria-selected", String(button.id === "tab-" + key));
      clear(panel, key === "answer" ? answerForm() : key === "note" ? noteForm() : delayForm());
      panel.setAttribute("aria-labelledby", "tab-" + key);
    }
    panel.id = "tabpanel";
    panel.setAttribute("role", "tabpanel");
    clear(composer, h("h2", {}, t("composer")), bar, panel);
    show("answer");
  }

  function answerForm() {
    const box = h("textarea", { rows: 7, name: "answer", value: drafts.get(ticket.id), "aria-keyshortcuts": "Control+Enter" });
    box.value = drafts.get(ticket.id);
    box.addEventListener("input", () => drafts.set(ticket.id, box.value));
    answerBox = box;
    const macros = select([["", t("macro.choose")]], "", { "aria-label": t("macro.choose") });
    api("GET", "/staff/macros" + query({ request: ticket.id })).then(
      (body) => {
        for (const macro of body.items) macros.append(h("option", { value: macro.id, "data-text": macro.text }, `${macro.title} (${macro.lang})`));
      },
      () => {},
    );
    macros.addEventListener("change", () => {
      const option = macros.selectedOptions[0];
      if (option && option.dataset.text) insertIntoAnswer(option.dataset.text);
      macros.value = "";
    });
    const send = async (solve) => {
      const text = box.value.trim();
      if (!text) return notify(t("answer.empty"), "error");
      if (solve) return move("solved", text);
      try {
        await api("POST", `/tickets/${ticket.id}/responses`, { text, seen });
        drafts.set(ticket.id, "");
        missedBox.replaceChildren();
        notify(t("answer.sent"));
        await load();
      } catch (error) {
        if (error.code === "conversation_changed") return showMissed(error.body.missed || []);
        fail(error);
      }
    };
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        send(false);
      }
    });
    return h(
      "form",
      { onsubmit: (e) => (e.preventDefault(), send(false)) },
      labelled(t("answer.label"), box),
      h("div", { class: "actions" }, macros, h("button", { type: "submit", class: "primary" }, t("answer.send")), h("button", { type: "button", onclick: () => send(true) }, t("answer.send_solve"))),
      h("p", { class: "muted" }, t("answer.hint")),
    );
  }

  function showMissed(missed) {
    // The agent's text stays in the box; what they did not see is shown, and their next
    // send answers the conversation as it now stands.
    ticket = { ...ticket, messages: [...(ticket.messages || []), ...missed.filter((m) => !(ticket.messages || []).some((x) => x.id === m.id))] };
    clear(thread, conversation(ticket));
    seen = lastSeen(ticket);
    clear(
      missedBox,
      h(
        "div",
        { class: "error", role: "alert" },
        h("strong", {}, t("missed.title")),
        h("ol", { class: "thread" }, missed.map((m) => messageItem(m, ticket))),
        h("p", {}, t("missed.hint")),
      ),
    );
    if (answerBox) answerBox.focus();
  }

  function noteForm() {
    const box = h("textarea", { rows: 4, name: "note" });
    const add = async (event) => {
      event.preventDefault();
      if (!box.value.trim()) return;
      try {
        await api("POST", `/tickets/${ticket.id}/notes`, { text: box.value });
        notify(t("note.added"));
        await load();
      } catch (error) {
        fail(error);
      }
    };
    return h("form", { onsubmit: add }, labelled(t("note.label"), box), h("p", { class: "muted" }, t("note.hint")), h("button", { type: "submit" }, t("note.add")));
  }

  function delayForm() {
    const reason = h("textarea", { rows: 3, name: "reason", required: true });
    const eta = h("input", { type: "datetime-local", name: "eta", required: true });
    const post = async (event) => {
      event.preventDefault();
      const at = new Date(eta.value);
      if (Number.isNaN(at.getTime())) return notify(t("delay.eta_required"), "error");
      try {
        await api("POST", `/tickets/${ticket.id}/delay-notices`, { reason: reason.value, eta: at.toISOString() });
        notify(t("delay.posted", { eta: when(at.toISOString()) }));
        await load();
      } catch (error) {
        fail(error);
      }
    };
    return h("form", { onsubmit: post }, labelled(t("delay.reason"), reason), labelled(t("delay.eta_local"), eta), h("button", { type: "submit" }, t("delay.post")));
  }

  function onKey(event) {
    if (isTyping(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "a" || event.key === "r") {
      event.preventDefault();
      if (answerBox) answerBox.focus();
    } else if (event.key === "u") {
      location.hash = "#/queue";
    }
  }
  document.addEventListener("keydown", onKey);
  load();
  return () => document.removeEventListener("keydown", onKey);
}
