// The chatkit agent console: inbox, conversation, side panel, supervisor overview.
// Plain ES modules, no framework, no build step. Everything a user wrote is set
// with textContent (see dom.js), never parsed as HTML.

import { Api, ApiError } from "./api.js";
import { fill, h, linkify, moodWord, since, visible, when } from "./dom.js";
import { Realtime } from "./realtime.js";

const BASE = new URL("../", document.baseURI).href; // the app's root: /console/ -> /
const TOKEN_KEY = "chatkit.console.token";
const VIEWS = [
  ["mine", "Mine"],
  ["unassigned", "Unassigned"],
  ["teams", "My teams"],
  ["all", "All"],
];
const $ = (id) => document.getElementById(id);

const state = {
  api: null,
  me: null,
  view: "teams",
  rows: [],
  selected: 0,
  open: null, // the conversation id shown
  detail: null,
  directory: { agents: [], teams: [] },
  canned: null,
  cannedMatches: [],
  cannedIndex: 0,
  uploads: [],
  unseen: new Set(),
  sound: true,
  realtime: null,
  typingTimer: null,
  typingTo: null, // the conversation the customer was last told the agent types in
  typingAt: 0,
  inboxTimer: null,
  images: [],
  drafts: new Map(), // unsent text, per conversation
};

// -- start ---------------------------------------------------------------------

async function start() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  state.api = new Api(BASE, token);
  try {
    state.me = await state.api.get("v1/agent/me");
  } catch (error) {
    if (token) sessionStorage.removeItem(TOKEN_KEY);
    return showSignIn(token && error instanceof ApiError && error.status === 401
      ? "That token is not valid (unknown, expired or revoked)." : "");
  }
  await showApp();
}

function showSignIn(message) {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  $("token").focus();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (!token) return;
  const api = new Api(BASE, token);
  try {
    state.me = await api.get("v1/agent/me");
  } catch (error) {
    $("signin-error").textContent =
      error instanceof ApiError && error.status === 401
        ? "That token is not valid (unknown, expired or revoked)."
        : `Could not sign in: ${error.message}`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  state.api = api;
  await showApp();
});

$("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  if (state.realtime) state.realtime.close();
  location.reload();
});

async function showApp() {
  $("signin").hidden = true;
  $("app").hidden = false;
  renderMe();
  renderViews();
  state.api.post("v1/agent/me/heartbeat").then(setMe).catch(() => {});
  state.directory = await state.api.get("v1/agent/directory").catch(() => state.directory);
  await loadInbox();
  state.realtime = new Realtime(BASE, state.api.token, onFrame, onLiveState);
  state.realtime.connect();
  setInterval(() => state.api.post("v1/agent/me/heartbeat").then(setMe).catch(() => {}), 30000);
  setInterval(renderClocks, 15000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) markSeen(state.open);
  });
}

function setMe(me) {
  state.me = me;
  renderMe();
}

function renderMe() {
  const me = state.me;
  $("me-name").textContent = `${me.name} (${me.role})`;
  $("presence").value = me.presence;
  $("capacity").value = String(me.max_concurrent_chats);
  $("load").textContent = String(me.active_chats);
  $("overview-button").hidden = !["supervisor", "admin"].includes(me.role);
}

$("presence").addEventListener("change", async () => {
  setMe(await state.api.put("v1/agent/me/presence", { presence: $("presence").value }));
});
$("capacity").addEventListener("change", async () => {
  const value = Number($("capacity").value);
  if (!Number.isInteger(value) || value < 1 || value > 50) return renderMe();
  setMe(await state.api.put("v1/agent/me/capacity", { max_concurrent_chats: value }));
});
$("sound-button").addEventListener("click", () => {
  state.sound = !state.sound;
  $("sound-button").setAttribute("aria-pressed", String(state.sound));
  $("sound-button").textContent = state.sound ? "Sound on" : "Sound off";
});

// -- inbox -----------------------------------------------------------------------

function renderViews() {
  fill(
    $("views"),
    VIEWS.map(([name, label]) =>
      h("button", {
        type: "button",
        class: "view",
        "aria-pressed": String(state.view === name),
        "data-view": name,
        onclick: () => setView(name),
      }, label),
    ),
  );
}

function setView(name) {
  state.view = name;
  state.selected = 0;
  renderViews();
  loadInbox();
}

function filters() {
  const params = new URLSearchParams();
  const form = new FormData($("filters"));
  for (const [key, value] of form.entries()) {
    if (String(value).trim()) params.append(key, String(value).trim());
  }
  params.set("limit", "100");
  return params;
}

$("filters").addEventListener("change", () => loadInbox());
$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  loadInbox();
});

async function loadInbox() {
  let page;
  try {
    page = await state.api.get(`v1/agent/inbox/${state.view}?${filters()}`);
  } catch (error) {
    $("inbox-count").textContent = `Could not load the inbox: ${error.message}`;
    return;
  }
  state.rows = page.items;
  const openAt = state.rows.findIndex((row) => row.id === state.open);
  if (openAt >= 0) state.selected = openAt; // the selection follows the open conversation
  if (state.selected >= state.rows.length) state.selected = Math.max(0, state.rows.length - 1);
  const shown = page.items.length < page.total ? `${page.items.length} of ` : "";
  $("inbox-count").textContent = `${shown}${page.total} conversation${page.total === 1 ? "" : "s"}, waiting longest first`;
  renderInbox();
}

function refreshInboxSoon() {
  clearTimeout(state.inboxTimer);
  state.inboxTimer = setTimeout(loadInbox, 250);
}

function renderInbox() {
  const list = $("inbox-list");
  fill(list, state.rows.map((row, index) => inboxRow(row, index)));
  updateTitle();
}

function inboxRow(row, index) {
  const name = row.contact_name || "Visitor";
  const mood = moodWord(row.mood);
  const unread = row.unread > 0 ? h("span", { class: "badge", title: "Unread messages" },
    h("span", { class: "visually-hidden" }, "unread: "), String(row.unread)) : null;
  const chips = [
    h("span", { class: "chip" }, row.channel),
    row.language ? h("span", { class: "chip" }, row.language) : null,
    row.intent ? h("span", { class: "chip intent" }, row.intent) : null,
    mood ? h("span", { class: `chip mood-${mood}` }, mood) : null,
    row.priority !== "normal" ? h("span", { class: `chip prio-${row.priority}` }, row.priority) : null,
  ];
  const takeButton = !row.assignee_id
    ? h("button", {
      type: "button",
      class: "take",
      "aria-label": `Take the conversation with ${name}`,
      onclick: (event) => {
        event.stopPropagation();
        take(row.id);
      },
    }, "Take")
    : null;
  return h("li", {
    class: "row",
    "data-id": row.id,
    "aria-current": row.id === state.open ? "true" : null,
    "data-selected": index === state.selected ? "true" : null,
  },
  h("button", { type: "button", class: "row-open", onclick: () => openConversation(row.id, index) },
    h("span", { class: "row-top" },
      h("span", { class: "row-name" }, visible(name)),
      unread,
      h("span", { class: "wait", "data-since": row.waiting_since, title: "Waiting" },
        since(row.waiting_since))),
    h("span", { class: "row-text" }, visible(row.last_text || row.subject || "")),
    h("span", { class: "row-chips" }, chips,
      row.sla_due_at ? h("span", { class: "sla", "data-due": row.sla_due_at }, slaText(row.sla_due_at)) : null)),
  takeButton);
}

function slaText(due) {
  const left = Math.round((Date.parse(due) - Date.now()) / 60000);
  return left < 0 ? `SLA ${-left} min over` : `SLA ${left} min`;
}

function renderClocks() {
  for (const el of document.querySelectorAll(".wait[data-since]")) el.textContent = since(el.dataset.since);
  for (const el of document.querySelectorAll(".sla[data-due]")) {
    el.textContent = slaText(el.dataset.due);
    el.classList.toggle("over", Date.parse(el.dataset.due) < Date.now());
  }
}

function select(delta) {
  if (!state.rows.length) return;
  state.selected = Math.min(state.rows.length - 1, Math.max(0, state.selected + delta));
  for (const [i, el] of [...$("inbox-list").children].entries()) {
    if (i === state.selected) {
      el.dataset.selected = "true";
      el.scrollIntoView({ block: "nearest" });
    } else delete el.dataset.selected;
  }
}

async function take(id) {
  await act(id, "assign", { agent_id: state.me.id });
}

function updateTitle() {
  const count = state.unseen.size;
  document.title = count ? `(${count}) chatkit console` : "chatkit console";
}

function markSeen(id) {
  if (id && state.unseen.delete(id)) updateTitle();
}

let audio = null;
function beep() {
  if (!state.sound) return;
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
  } catch {
    // no audio: the badge in the title still tells
  }
}

// -- real time ---------------------------------------------------------------------

function onLiveState(value) {
  $("live").textContent = { live: "live", offline: "reconnecting…", "signed-out": "signed out" }[value] || value;
  $("live").dataset.state = value;
  if (value === "signed-out") showSignIn("Your session ended; sign in again.");
}

function onFrame(frame) {
  const data = frame.data || {};
  if (frame.type === "typing") return onTyping(data);
  if (frame.type === "ready" || frame.type === "ping" || frame.type === "pong") return;
  const id = data.conversation_id || (data.conversation && data.conversation.id);
  if (frame.type === "message.created" && data.message) {
    const message = data.message;
    const fromCustomer = message.author.role === "customer";
    if (id === state.open) {
      appendMessage(message);
      if (fromCustomer) hideTyping();
    }
    if (fromCustomer && (id !== state.open || document.hidden)) {
      state.unseen.add(id);
      beep();
    }
    refreshInboxSoon();
    return;
  }
  if (frame.type === "conversation.created") {
    state.unseen.add(id);
    beep();
  }
  if (frame.type.startsWith("conversation.")) {
    refreshInboxSoon();
    if (id && id === state.open) refreshDetail();
  }
  if (frame.type.startsWith("agent.") && state.me && data.agent && data.agent.id === state.me.id) {
    state.api.get("v1/agent/me").then(setMe).catch(() => {});
  }
}

function onTyping(data) {
  if (data.conversation_id !== state.open || !data.author || data.author.role !== "customer") return;
  const el = $("typing");
  el.hidden = false;
  fill(el, h("span", { class: "typing-who" }, "Customer is typing"),
    data.text ? h("span", { class: "typing-text" }, visible(data.text)) : "…");
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(hideTyping, 8000);
}

function hideTyping() {
  $("typing").hidden = true;
  $("typing").replaceChildren();
}

// -- conversation -------------------------------------------------------------------

async function openConversation(id, index) {
  if (index !== undefined) state.selected = index;
  if (state.open && state.open !== id) state.drafts.set(state.open, $("draft").value);
  if (state.typingTo && state.typingTo !== id) stopTyping();
  if (state.open !== id) {
    $("draft").value = state.drafts.get(id) || "";
    hideCanned();
    setMode("reply"); // every conversation opens on Reply: a note is always a choice
  }
  state.open = id;
  markSeen(id);
  $("overview").hidden = true;
  $("empty").hidden = true;
  $("conversation").hidden = false;
  hideTyping();
  for (const el of $("inbox-list").children) {
    if (el.dataset.id === id) el.setAttribute("aria-current", "true");
    else el.removeAttribute("aria-current");
  }
  state.uploads = [];
  renderUploads();
  await refreshDetail();
}

async function refreshDetail() {
  const id = state.open;
  let detail;
  try {
    detail = await state.api.get(`v1/agent/conversations/${encodeURIComponent(id)}`);
  } catch (error) {
    fill($("messages"), h("li", { class: "error" }, `Could not load: ${error.message}`));
    return;
  }
  if (id !== state.open) return;
  state.detail = detail;
  renderConversation(detail);
  renderSide(detail);
  loadSuggestions(id);
}

function authorName(author) {
  if (author.role === "customer") return (state.detail && state.detail.context.contact.name) || "Customer";
  if (author.role === "agent") {
    if (state.me && author.id === state.me.id) return "You";
    const found = state.directory.agents.find((a) => a.id === author.id);
    return found ? found.name : "Agent";
  }
  if (author.role === "bot") return "Bot";
  return "System";
}

function renderConversation(detail) {
  const conv = detail.context.conversation;
  $("conv-title").textContent = visible(detail.context.contact.name || "Visitor");
  const assignee = conv.assignee_id
    ? (state.directory.agents.find((a) => a.id === conv.assignee_id) || { name: conv.assignee_id }).name
    : "nobody";
  $("conv-meta").textContent = [
    conv.status, conv.channel, conv.team ? `team ${conv.team}` : "no team", `assigned to ${assignee}`,
    `priority ${conv.priority}`, conv.tags.length ? `tags: ${conv.tags.join(", ")}` : "",
  ].filter(Boolean).join(" · ");
  renderActions(conv);
  for (const url of state.images) URL.revokeObjectURL(url);
  state.images = [];
  const list = $("messages");
  list.replaceChildren();
  list.dataset.conversation = conv.id;
  let current = null;
  for (const message of detail.context.history) {
    if (message.conversation_id !== current) {
      current = message.conversation_id;
      list.append(divider(current, message));
    }
    list.append(messageItem(message));
  }
  list.scrollTop = list.scrollHeight;
}

function divider(conversationId, first) {
  const mine = conversationId === state.open;
  return h("li", { class: "divider" },
    mine ? `This conversation · ${first.channel} · ${when(first.created_at)}`
      : `Earlier conversation · ${first.channel} · ${when(first.created_at)}`);
}

function messageItem(message) {
  const kind = message.kind === "note" ? "note" : message.kind === "system" ? "system" : message.author.role;
  const item = h("li", { class: `msg msg-${kind}`, "data-id": message.id, "data-seq": String(message.seq) },
    h("div", { class: "msg-head" },
      h("span", { class: "msg-author" }, visible(authorName(message.author))),
      message.kind === "note" ? h("span", { class: "note-label" }, "Private note") : null,
      h("span", { class: "msg-time" }, `${when(message.created_at)} · ${message.channel}`)),
    h("p", { class: "msg-text" }, linkify(message.text)),
    message.attachments.length ? h("div", { class: "msg-files" }, message.attachments.map((a) => attachment(message, a))) : null);
  return item;
}

function attachment(message, file) {
  const path = `v1/agent/conversations/${encodeURIComponent(message.conversation_id)}/attachments/${encodeURIComponent(file.id)}`;
  if (file.kind === "image") {
    const img = h("img", { class: "msg-image", alt: file.name, width: file.width || null, height: file.height || null });
    state.api.blobUrl(path).then((url) => {
      state.images.push(url);
      img.src = url;
    }).catch(() => img.replaceWith(h("span", { class: "file" }, `${file.name} (could not load)`)));
    return h("figure", { class: "file-figure" }, img, h("figcaption", {}, visible(file.name)));
  }
  return h("button", {
    type: "button",
    class: "file",
    onclick: async () => {
      const url = await state.api.blobUrl(path);
      const a = document.createElement("a");
      a.setAttribute("href", url); // a blob: URL this page made, not user data
      a.setAttribute("download", file.name);
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    },
  }, `Download ${visible(file.name)} (${Math.ceil(file.size / 1024)} KB)`);
}

function appendMessage(message) {
  const list = $("messages");
  if (list.querySelector(`[data-id="${CSS.escape(message.id)}"]`)) return;
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.append(messageItem(message));
  if (state.detail) state.detail.context.history.push(message);
  if (nearBottom || message.author.role !== "customer") list.scrollTop = list.scrollHeight;
}

// -- actions ------------------------------------------------------------------------

function renderActions(conv) {
  const closed = conv.status === "resolved" || conv.status === "closed";
  const mine = conv.assignee_id === state.me.id;
  fill($("actions"),
    mine ? null : h("button", { type: "button", onclick: () => take(conv.id), "data-action": "take" }, "Assign to me"),
    h("button", { type: "button", onclick: () => transferDialog(conv), "data-action": "transfer" }, "Transfer"),
    h("button", { type: "button", onclick: () => snoozeDialog(conv), "data-action": "snooze" }, "Snooze"),
    closed
      ? h("button", { type: "button", onclick: () => act(conv.id, "reopen"), "data-action": "reopen" }, "Reopen")
      : h("button", { type: "button", class: "primary", onclick: () => act(conv.id, "resolve"), "data-action": "resolve" }, "Resolve"),
    h("label", { class: "inline" }, "Priority ",
      h("select", {
        "data-action": "priority",
        onchange: (event) => act(conv.id, "priority", { priority: event.target.value }, "PUT"),
      }, ["low", "normal", "high", "urgent"].map((p) => h("option", { value: p, selected: p === conv.priority }, p)))),
    h("button", { type: "button", onclick: () => tagsDialog(conv), "data-action": "tags" }, "Tags"),
    h("button", { type: "button", onclick: () => ticketDialog(conv), "data-action": "ticket" }, "Ticket"),
    h("button", { type: "button", class: "danger", onclick: () => blockDialog(conv), "data-action": "block" }, "Block"));
}

async function act(id, action, body = {}, method = "POST") {
  const path = `v1/agent/conversations/${encodeURIComponent(id)}/${action}`;
  try {
    if (method === "PUT") await state.api.put(path, body);
    else await state.api.post(path, body);
  } catch (error) {
    flash(`Could not ${action}: ${error.message}`);
    return false;
  }
  // Not awaited: a dialog that called this closes at once, before the reloads.
  loadInbox();
  if (id === state.open) refreshDetail();
  return true;
}

function flash(text) {
  const el = $("conversation").hidden ? $("toast") : $("composer-error");
  el.textContent = text;
  setTimeout(() => {
    if (el.textContent === text) el.textContent = "";
  }, 6000);
}

function openDialog(title, fields, submitLabel, onSubmit) {
  const dialog = $("dialog");
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "dialog-form" }, fields, error,
    h("div", { class: "dialog-buttons" },
      h("button", { type: "button", onclick: () => dialog.close() }, "Cancel"),
      h("button", { type: "submit", class: "primary" }, submitLabel)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ok = await onSubmit(new FormData(form), error);
    if (ok !== false) dialog.close();
  });
  fill(dialog, h("h2", { id: "dialog-title" }, title), form);
  dialog.showModal();
  const first = form.querySelector("select, input, textarea");
  if (first) first.focus();
}

function field(label, control) {
  return h("label", { class: "field" }, h("span", {}, label), control);
}

function transferDialog(conv) {
  const teams = h("select", { name: "team" }, h("option", { value: "" }, "(same team)"),
    state.directory.teams.map((t) => h("option", { value: t }, t)));
  const agents = h("select", { name: "agent_id" }, h("option", { value: "" }, "(nobody: the team's queue)"),
    state.directory.agents.map((a) => h("option", { value: a.id }, `${a.name} · ${a.status} · ${a.active_chats}/${a.max_concurrent_chats}`)));
  openDialog("Transfer", [field("Team", teams), field("Agent", agents),
    field("Note for the team (private)", h("textarea", { name: "note", rows: "3", maxlength: "10000" }))],
  "Transfer", async (form, error) => {
    const body = { agent_id: form.get("agent_id") || null };
    if (form.get("team")) body.team = form.get("team");
    if (String(form.get("note")).trim()) body.note = String(form.get("note")).trim();
    try {
      await state.api.post(`v1/agent/conversations/${encodeURIComponent(conv.id)}/assign`, body);
    } catch (e) {
      error.textContent = e.message;
      return false;
    }
    loadInbox();
    refreshDetail();
    return true;
  });
}

function snoozeDialog(conv) {
  const choices = [["1", "1 hour"], ["4", "4 hours"], ["24", "Tomorrow"], ["168", "A week"]];
  openDialog("Snooze until", [field("For", h("select", { name: "hours" },
    choices.map(([v, l]) => h("option", { value: v }, l))))], "Snooze", async (form, error) => {
    const until = new Date(Date.now() + Number(form.get("hours")) * 3600000).toISOString();
    const ok = await act(conv.id, "snooze", { until });
    if (!ok) error.textContent = "Could not snooze.";
    return ok;
  });
}

function tagsDialog(conv) {
  const current = h("ul", { class: "tag-list" }, conv.tags.map((t) =>
    h("li", {}, h("label", {}, h("input", { type: "checkbox", name: "remove", value: t }), ` remove ${t}`))));
  openDialog("Tags", [current, field("Add tags (comma separated)", h("input", { name: "add", type: "text", maxlength: "500" }))],
    "Save", async (form) => {
      const add = String(form.get("add") || "").split(",").map((t) => t.trim()).filter(Boolean);
      const remove = form.getAll("remove").map(String);
      return act(conv.id, "tags", { add, remove });
    });
}

function ticketDialog(conv) {
  openDialog("Open a ticket", [
    field("Subject", h("input", { name: "subject", type: "text", required: true, maxlength: "500" })),
    field("Priority", h("select", { name: "priority" }, ["low", "normal", "high", "urgent"].map((p) => h("option", { value: p, selected: p === "normal" }, p)))),
    field("Note", h("textarea", { name: "note", rows: "3" })),
  ], "Open ticket", async (form) => {
    const body = { subject: String(form.get("subject")), priority: String(form.get("priority")) };
    if (String(form.get("note")).trim()) body.note = String(form.get("note")).trim();
    return act(conv.id, "tickets", body);
  });
}

function blockDialog(conv) {
  const name = (state.detail && state.detail.context.contact.name) || "this visitor";
  openDialog("Block the customer?", [h("p", {}, `Messages from ${name} will be refused from now on, on every channel.`)],
    "Block", async () => act(conv.id, "block"));
}

// -- composer ------------------------------------------------------------------------

function mode() {
  return new FormData($("composer")).get("mode");
}

function setMode(value) {
  for (const input of $("composer").querySelectorAll('input[name="mode"]')) input.checked = input.value === value;
  onMode();
}

function onMode() {
  const note = mode() === "note";
  if (note) stopTyping();
  $("composer").classList.toggle("noting", note);
  $("send").textContent = note ? "Add note" : "Send reply";
  $("draft").placeholder = note
    ? "A private note: agents see it, the customer never does."
    : "Type a reply… ( / for canned replies, Ctrl+Enter sends)";
}

for (const input of $("composer").querySelectorAll('input[name="mode"]')) input.addEventListener("change", onMode);

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  await send();
});

async function send() {
  const text = $("draft").value.trim();
  if (!text || !state.open) return;
  const note = mode() === "note";
  const body = { text, idempotency_key: crypto.randomUUID() };
  stopTyping();
  if (!note && state.uploads.length) body.attachments = state.uploads.map((u) => u.id);
  $("send").disabled = true;
  try {
    const message = await state.api.post(
      `v1/agent/conversations/${encodeURIComponent(state.open)}/${note ? "notes" : "messages"}`, body);
    $("draft").value = "";
    state.drafts.delete(state.open);
    if (!note) {
      state.uploads = [];
      renderUploads();
    }
    appendMessage(message);
    $("composer-error").textContent = "";
  } catch (error) {
    flash(`Not sent: ${error.message}`);
  } finally {
    $("send").disabled = false;
  }
}

$("file").addEventListener("change", async () => {
  for (const file of $("file").files) {
    try {
      const up = await state.api.request("POST",
        `v1/agent/conversations/${encodeURIComponent(state.open)}/attachments?name=${encodeURIComponent(file.name)}`,
        file, { raw: true, contentType: file.type || "application/octet-stream" });
      state.uploads.push(up);
    } catch (error) {
      flash(`${file.name}: ${error.message}`);
    }
  }
  $("file").value = "";
  renderUploads();
});

function renderUploads() {
  fill($("uploads"), state.uploads.map((u, i) => h("li", {},
    h("span", {}, u.name),
    h("button", { type: "button", class: "link", "aria-label": `Remove ${u.name}`,
      onclick: () => { state.uploads.splice(i, 1); renderUploads(); } }, "×"))));
}

// canned replies: "/" then the shortcut; matches by shortcut first, then by title
async function cannedList() {
  if (!state.canned) state.canned = await state.api.get("v1/agent/canned").catch(() => []);
  return state.canned;
}

function slashWord() {
  const box = $("draft");
  const before = box.value.slice(0, box.selectionStart);
  const match = /(^|\s)(\/[\w-]*)$/.exec(before);
  return match ? { word: match[2], start: before.length - match[2].length, end: box.selectionStart } : null;
}

// -- the agent's typing, told to the customer (the flag only, never the draft) -------

const TYPING_EVERY = 2000; // ms between two "still typing" signals

function postTyping(id, typing) {
  state.api.post(`v1/agent/conversations/${encodeURIComponent(id)}/typing`, { typing }).catch(() => {});
}

function signalTyping() {
  const id = state.open;
  const typing = Boolean(id) && mode() !== "note" && $("draft").value.trim() !== "";
  if (!typing) return stopTyping();
  if (state.typingTo === id && Date.now() - state.typingAt < TYPING_EVERY) return;
  if (state.typingTo && state.typingTo !== id) stopTyping();
  state.typingTo = id;
  state.typingAt = Date.now();
  postTyping(id, true);
}

function stopTyping() {
  const id = state.typingTo;
  if (!id) return;
  state.typingTo = null;
  state.typingAt = 0;
  postTyping(id, false);
}

$("draft").addEventListener("input", signalTyping);

$("draft").addEventListener("input", async () => {
  const found = slashWord();
  if (!found) return hideCanned();
  const query = found.word.slice(1).toLowerCase();
  const all = await cannedList();
  const now = slashWord(); // the box may have changed while the list loaded
  if (!now || now.word !== found.word) return now ? undefined : hideCanned();
  const byShortcut = all.filter((r) => r.shortcut.replace(/^\//, "").toLowerCase().startsWith(query));
  const byTitle = all.filter((r) => !byShortcut.includes(r) && r.title.toLowerCase().includes(query));
  state.cannedMatches = [...byShortcut, ...byTitle].slice(0, 8);
  state.cannedIndex = 0;
  renderCanned();
});

function renderCanned() {
  const list = $("canned");
  if (!state.cannedMatches.length) return hideCanned();
  list.hidden = false;
  fill(list, state.cannedMatches.map((r, i) => h("li", {
    role: "option",
    id: `canned-${i}`,
    "aria-selected": String(i === state.cannedIndex),
    onmousedown: (event) => {
      event.preventDefault();
      state.cannedIndex = i;
      insertCanned();
    },
  }, h("span", { class: "canned-shortcut" }, r.shortcut), " ", h("span", { class: "canned-title" }, r.title),
  h("span", { class: "canned-lang" }, r.language))));
  $("draft").setAttribute("aria-activedescendant", `canned-${state.cannedIndex}`);
}

function hideCanned() {
  $("canned").hidden = true;
  state.cannedMatches = [];
  $("draft").removeAttribute("aria-activedescendant");
}

async function prepare(shortcut, language) {
  return state.api.post(`v1/agent/conversations/${encodeURIComponent(state.open)}/canned/prepare`,
    { shortcut, language });
}

async function insertCanned() {
  const reply = state.cannedMatches[state.cannedIndex];
  const found = slashWord();
  hideCanned();
  if (!reply) return;
  let prepared;
  try {
    prepared = await prepare(reply.shortcut, reply.language);
  } catch (error) {
    return flash(`${reply.shortcut}: ${error.message}`);
  }
  const box = $("draft");
  const start = found ? found.start : box.selectionStart;
  const end = found ? found.end : box.selectionEnd;
  box.value = box.value.slice(0, start) + prepared.text + box.value.slice(end);
  box.focus();
  box.selectionStart = box.selectionEnd = start + prepared.text.length;
}

$("draft").addEventListener("keydown", (event) => {
  if (!$("canned").hidden) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const n = state.cannedMatches.length;
      state.cannedIndex = (state.cannedIndex + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
      return renderCanned();
    }
    if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      return insertCanned();
    }
    if (event.key === "Escape") {
      event.preventDefault();
      return hideCanned();
    }
  }
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    send();
  } else if (event.key === "Escape") {
    $("draft").blur();
  }
});

async function loadSuggestions(id) {
  let found = [];
  try {
    found = await state.api.get(`v1/agent/conversations/${encodeURIComponent(id)}/suggestions`);
  } catch {
    found = [];
  }
  if (id !== state.open) return;
  fill($("suggestions"), found.length ? h("span", { class: "suggest-label" }, "Suggested:") : null,
    found.map((r) => h("button", {
      type: "button",
      class: "suggestion",
      title: r.body,
      onclick: async () => {
        try {
          const prepared = await prepare(r.shortcut, r.language);
          $("draft").value = prepared.text;
          setMode("reply");
          $("draft").focus();
        } catch (error) {
          flash(error.message);
        }
      },
    }, `${r.shortcut} · ${r.title}`)));
}

// -- side panel ------------------------------------------------------------------------

function section(title, ...children) {
  return h("section", { class: "side-section" }, h("h2", {}, title), children);
}

function pairs(entries) {
  return h("dl", { class: "pairs" }, entries.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => [h("dt", {}, k), h("dd", {}, visible(typeof v === "object" ? JSON.stringify(v) : String(v)))]));
}

function renderSide(detail) {
  const ctx = detail.context;
  const contact = ctx.contact;
  const conv = ctx.conversation;
  const entities = [];
  for (const m of ctx.history) {
    if (m.conversation_id === conv.id && m.analysis) entities.push(...m.analysis.entities);
  }
  const summary = detail.bot_summary;
  const trend = detail.mood_trend;
  fill($("side"),
    section("Customer",
      h("p", { class: "contact-name" }, visible(contact.name || "Visitor")),
      contact.blocked ? h("p", { class: "blocked" }, "Blocked") : null,
      h("ul", { class: "plain" }, contact.identities.map((i) =>
        h("li", {}, i.kind === "email" ? h("a", { href: `mailto:${i.value}` }, i.value)
          : i.kind === "web" ? `web visitor ${i.value.slice(0, 8)}…` : `${i.kind}: ${i.value}`,
          i.verified ? h("span", { class: "verified" }, " ✓ verified") : null))),
      pairs(Object.entries(contact.attributes))),
    section("Understanding", pairs([
      ["Intent", detail.intent],
      ["Mood", detail.mood === null ? null : `${moodWord(detail.mood)} (${detail.mood.toFixed(2)})`],
      ["Mood trend", trend === null ? null : trend < -0.1 ? `getting worse (${trend.toFixed(2)})` : trend > 0.1 ? `improving (${trend.toFixed(2)})` : "steady"],
      ["Language", conv.language],
      ...entities.map((e) => [e.type.replace(/_/g, " "), e.value]),
    ])),
    summary ? section("Bot summary", pairs([
      ["Request", summary.request],
      ["Why handed over", summary.reason],
      ["Intent", summary.intent],
      ...Object.entries(summary.fields || {}),
    ])) : null,
    section("Open tickets", ctx.open_tickets.length
      ? h("ul", { class: "plain" }, ctx.open_tickets.map((t) => h("li", {}, `${t.subject} · ${t.status} · ${t.priority}`)))
      : h("p", { class: "muted" }, "None")),
    section("Earlier conversations", ctx.previous_conversations.length
      ? h("ul", { class: "plain" }, ctx.previous_conversations.map((c) => h("li", {},
        h("button", { type: "button", class: "link", onclick: () => openConversation(c.id) },
          `${when(c.created_at)} · ${c.channel} · ${c.status}`))))
      : h("p", { class: "muted" }, "None")),
    ctx.external_records.length ? section("CRM records", h("ul", { class: "plain" }, ctx.external_records.map((r) =>
      h("li", { class: "crm-record", "data-integration": r.integration }, `${r.integration}: ${r.remote_type || r.kind} `,
        // a link only to an http(s) address the integration gave (h() adds rel="noopener noreferrer")
        r.url && /^https?:\/\//i.test(r.url)
          ? h("a", { href: r.url, title: `Open in ${r.integration}` }, visible(r.remote_id))
          : visible(r.remote_id))))) : null);
}

// -- supervisor overview ------------------------------------------------------------------

$("overview-button").addEventListener("click", showOverview);

async function showOverview() {
  $("empty").hidden = true;
  $("conversation").hidden = true;
  $("overview").hidden = false;
  state.open = null;
  let data;
  try {
    data = await state.api.get("v1/agent/overview");
  } catch (error) {
    fill($("overview-body"), h("p", { class: "error" }, error.message));
    return;
  }
  const table = (caption, heads, rows) => h("table", { class: "grid" }, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((x) => h("td", {}, String(x)))))));
  fill($("side"), section("Overview",
    h("p", { class: "muted" }, `As of ${new Date().toLocaleTimeString()}.`),
    h("button", { type: "button", onclick: showOverview }, "Refresh")));
  fill($("overview-body"),
    table("Queues", ["Team", "Open", "Unattended", "Unassigned", "Pending"],
      data.queues.map((q) => [q.team || "(no team)", q.open, q.unattended, q.unassigned, q.pending])),
    table("Agents", ["Agent", "Role", "Teams", "Status", "Chats"],
      data.agents.map((a) => [a.name, a.role, a.teams.join(", "), a.status, `${a.active_chats} / ${a.max_concurrent_chats}`])),
    h("div", { id: "reports" }));
  renderReports();
}

// -- reports (supervisors: their teams; admins: everything) -----------------------------

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

function percent(rate) {
  return rate === null || rate === undefined ? "–" : `${Math.round(rate * 100)} %`;
}

async function renderReports() {
  const box = $("reports");
  if (!box || !state.me || !["supervisor", "admin"].includes(state.me.role)) return;
  // admins see every team at once; a supervisor reads each of their teams
  const scopes = state.me.role === "admin" ? [null] : state.me.teams;
  const parts = [h("h2", { id: "reports-title" }, "Reports: the last 7 days")];
  for (const team of scopes) {
    const query = new URLSearchParams({ days: "7", time_zone: "UTC" });
    if (team) query.set("team", team);
    try {
      const [summary, heat] = await Promise.all([
        state.api.get(`v1/agent/reports/summary?${query}`),
        state.api.get(`v1/agent/reports/heatmap?${query}`),
      ]);
      parts.push(reportFor(team, summary.totals, heat));
    } catch (error) {
      parts.push(h("p", { class: "error" }, `${team || "All teams"}: ${error.message}`));
    }
  }
  fill(box, h("section", { class: "reports", "aria-labelledby": "reports-title" }, parts));
}

function reportFor(team, t, heat) {
  const name = team ? `Team ${team}` : "All teams";
  const csat = t.csat.responses
    ? `${percent(t.csat.satisfied.rate)} satisfied (${t.csat.responses} answers` +
      (t.csat.average_score === null ? ")" : `, average ${t.csat.average_score.toFixed(1)})`)
    : "no answers yet";
  const figures = [
    ["Conversations", String(t.conversations), "conversations"],
    ["First response (median)", duration(t.first_response.median), "first-response"],
    ["Resolution time (median)", duration(t.full_resolution.median), "resolution"],
    ["Resolved", String(t.resolved), "resolved"],
    ["CSAT", csat, "csat"],
  ];
  return h("div", { class: "report", "data-team": team || "" },
    h("h3", {}, name),
    h("dl", { class: "figures" }, figures.map(([label, value, key]) =>
      h("div", { class: "figure", "data-figure": key }, h("dt", {}, label), h("dd", {}, value)))),
    heatmapTable(name, heat));
}

/** A quantile level (0 empty, 1..top) as one of the six colour steps (0 stays 0). */
function level(value, top) {
  return value <= 0 ? 0 : Math.min(5, Math.max(1, Math.ceil((value * 5) / Math.max(1, top))));
}

function heatmapTable(name, heat) {
  const hours = Array.from({ length: 24 }, (_, i) => i);
  const top = heat.thresholds.length + 1;
  return h("div", { class: "heat-wrap" }, h("table", { class: "heatmap" },
    h("caption", {}, `${name}: conversations started by weekday and hour (${heat.time_zone}), ` +
      `${heat.total} in all; darker cells are busier (quantiles of the busy hours)`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"),
      hours.map((hour) => h("th", { scope: "col", abbr: `${hour}:00` }, String(hour).padStart(2, "0"))))),
    h("tbody", {}, heat.cells.map((row, day) => h("tr", {},
      h("th", { scope: "row" }, WEEKDAYS[day]),
      row.map((count, hour) => h("td", {
        class: `lvl lvl-${level(heat.levels[day][hour], top)}`,
        title: `${WEEKDAYS[day]} ${String(hour).padStart(2, "0")}:00: ${count}`,
      }, String(count))))))));
}

// -- keyboard ---------------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if ($("app").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && (target.closest("input, textarea, select, dialog[open]"))) return;
  const conv = state.detail && state.open ? state.detail.context.conversation : null;
  const keys = {
    j: () => select(1),
    k: () => select(-1),
    Enter: () => state.rows[state.selected] && openConversation(state.rows[state.selected].id, state.selected),
    o: () => state.rows[state.selected] && openConversation(state.rows[state.selected].id, state.selected),
    r: () => conv && (setMode("reply"), $("draft").focus()),
    n: () => conv && (setMode("note"), $("draft").focus()),
    e: () => conv && act(conv.id, "resolve"),
    a: () => conv && take(conv.id),
    t: () => conv && transferDialog(conv),
    s: () => conv && snoozeDialog(conv),
    "?": () => $("help").showModal(),
    1: () => setView("mine"),
    2: () => setView("unassigned"),
    3: () => setView("teams"),
    4: () => setView("all"),
  };
  const run = keys[event.key];
  if (run && !(event.key === "Enter" && target instanceof HTMLButtonElement)) {
    event.preventDefault();
    run();
  }
});
$("help-button").addEventListener("click", () => $("help").showModal());

start();
