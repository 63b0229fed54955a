// chatkit chat widget: the chat UI inside the iframe (frame.html). Plain ES module, no build step.
// Everything a person wrote is put in the page as text (textContent), never parsed as HTML.

const params = new URLSearchParams(location.search);
const KEY = params.get("key") || "";
const BASE = new URL("../", location.href); // the app's root (it may be mounted under a prefix)
const STORE = "chatkit.session." + KEY;

const EN = {
  title: "Chat", close: "Close chat", menu: "More options",
  greeting: "Hi! How can we help?", replyTime: "We usually reply in a few minutes",
  placeholder: "Write a message…", messageLabel: "Message", send: "Send",
  attach: "Attach a file", attachLater: "You can attach files after your first message",
  sending: "Sending…", sent: "Sent", failed: "Not sent", retry: "Retry",
  you: "You", agent: "Agent", bot: "Bot", earlier: "Show earlier messages",
  typing: "{name} is typing…", queue: "You are number {position} in the queue",
  wait: "expected wait about {minutes} min", assigned: "{name} is answering",
  offlineTitle: "We are away right now", offlineText: "Leave a message and we will answer by e-mail.",
  opensAt: "We are back {time}", name: "Name", email: "E-mail", message: "Message",
  leave: "Leave a message", offlineDone: "Thank you! We will answer by e-mail.",
  surveyDone: "Thank you for your feedback!", submit: "Send", comment: "Comment",
  stars: "{n} stars", strongly_disagree: "Strongly disagree", disagree: "Disagree",
  neutral: "Neutral", agree: "Agree", strongly_agree: "Strongly agree",
  transcript: "E-mail me this conversation", transcriptSent: "Sent to {email}",
  newMessage: "New message", connecting: "Reconnecting…",
  error: "Something went wrong. Please try again.", resolved: "This conversation has ended",
  newChat: "Start a new conversation",
};
const LANGS = ["ko", "tr"];
const AGREEMENT = ["strongly_disagree", "disagree", "neutral", "agree", "strongly_agree"];
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f]/g;

let T = { ...EN };
let cfg = null;
let parentOrigin = null;
let session = load();
let user = null;
let conv = null; // the current conversation (view from the API)
let lastPos = null; // the realtime position we are past
let socket = null;
let retryMs = 500;
let isOpen = false;
let unread = 0;
let firstSeq = null;
let audio = null;
const shown = new Map(); // message id -> element (dedupe: a message shows once)
const pending = new Map(); // idempotency key -> element of a message being sent

// -- small helpers --------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}
const $ = (id) => document.getElementById(id);
const ICONS = {
  clip: "M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z",
  send: "M3.4 20.4 21 12 3.4 3.6 3.4 10.2 15 12 3.4 13.8z",
  close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z",
  more: "M6 10a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm6 0a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm6 0a2 2 0 1 0 0 4 2 2 0 0 0 0-4z",
};
function icon(name) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "22");
  svg.setAttribute("height", "22");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}
const fmt = (s, vars) => String(s).replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ""));
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));

function load() {
  try { return JSON.parse(localStorage.getItem(STORE) || "null"); } catch { return null; }
}
function save() {
  try { session ? localStorage.setItem(STORE, JSON.stringify(session)) : localStorage.removeItem(STORE); } catch { /* private mode */ }
}

function tell(type, data = {}) {
  if (parentOrigin && window.parent !== window) window.parent.postMessage({ chatkit: 1, type, ...data }, parentOrigin);
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || "HTTP " + status);
    this.status = status;
    this.code = body && body.error && body.error.code;
  }
}

async function api(method, path, body, headers = {}) {
  const h = { ...headers };
  if (session && session.token) h.Authorization = "Bearer " + session.token;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(new URL(path, BASE), {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit",
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && session) { session = null; save(); }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// -- links: only http(s) and mailto, opened without referrer or opener ---------

const LINK = /\b(https?:\/\/[^\s<>"']+|mailto:[^\s<>"']+)/gi;
function rich(text) {
  const frag = document.createDocumentFragment();
  let at = 0;
  for (const m of text.matchAll(LINK)) {
    let href = m[0].replace(/[.,;:!?)\]]+$/, "");
    frag.append(document.createTextNode(text.slice(at, m.index)));
    let ok = false;
    try { ok = ["http:", "https:", "mailto:"].includes(new URL(href).protocol); } catch { ok = false; }
    frag.append(ok ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: href }) : document.createTextNode(href));
    at = m.index + href.length;
  }
  frag.append(document.createTextNode(text.slice(at)));
  return frag;
}
const safeName = (name) => String(name).replace(BIDI, "\ufffd");

// -- the UI --------------------------------------------------------------------

function build() {
  const app = $("app");
  app.replaceChildren(
    el("header", {},
      el("div", { class: "avatar", id: "avatar", "aria-hidden": "true", hidden: true }),
      el("h1", { id: "title" }, el("span", { id: "title-text" }), el("span", { class: "sub", id: "subtitle" })),
      el("button", { type: "button", class: "icon", id: "menu-btn", "aria-expanded": "false", "aria-controls": "menu", onclick: toggleMenu }, icon("more")),
      el("button", { type: "button", class: "icon", id: "close-btn", onclick: closeSelf }, icon("close")),
    ),
    el("div", { class: "menu", id: "menu", hidden: true }),
    el("div", { class: "status", id: "status", role: "status", hidden: true }),
    el("div", { class: "log", id: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0" },
      el("div", { class: "intro", id: "intro" }),
    ),
    el("div", { class: "typing", id: "typing", "aria-live": "polite" }),
    el("form", { class: "composer", id: "composer", onsubmit: onSubmit },
      el("input", { type: "file", id: "file", class: "visually-hidden", tabindex: "-1", "aria-hidden": "true", onchange: onFile }),
      el("button", { type: "button", class: "icon", id: "attach", onclick: () => $("file").click() }, icon("clip")),
      el("label", { for: "text", class: "visually-hidden", id: "text-label" }),
      el("textarea", { id: "text", rows: "1", maxlength: "10000", oninput: onInput, onkeydown: onKey }),
      el("button", { type: "submit", class: "icon send", id: "send" }, icon("send")),
    ),
  );
  app.hidden = false;
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeSelf(); });
  document.addEventListener("pointerdown", unlockAudio, { once: true });
}

function texts() {
  document.documentElement.lang = T.lang || "en";
  const w = cfg.widget;
  $("title-text").textContent = w.title || cfg.name || T.title;
  $("close-btn").setAttribute("aria-label", T.close);
  $("menu-btn").setAttribute("aria-label", T.menu);
  $("attach").setAttribute("aria-label", conv ? T.attach : T.attachLater);
  $("attach").title = conv ? T.attach : T.attachLater;
  $("send").setAttribute("aria-label", T.send);
  $("text-label").textContent = T.messageLabel;
  $("text").placeholder = T.placeholder;
  $("intro").replaceChildren(
    el("p", { class: "greeting", text: w.greeting || T.greeting }),
    el("p", { text: w.reply_time || T.replyTime }),
  );
  const menu = $("menu");
  menu.replaceChildren();
  if (cfg.transcripts) menu.append(transcriptForm());
  $("menu-btn").hidden = !cfg.transcripts;
  document.title = $("title-text").textContent;
}

function applyConfig() {
  const w = cfg.widget;
  document.documentElement.style.setProperty("--accent", w.color);
}

function toggleMenu() {
  const menu = $("menu");
  menu.hidden = !menu.hidden;
  $("menu-btn").setAttribute("aria-expanded", String(!menu.hidden));
  if (!menu.hidden) menu.querySelector("input,button")?.focus();
}

function status(text) {
  const s = $("status");
  s.textContent = text || "";
  s.hidden = !text;
}

function scrollDown() {
  const log = $("log");
  log.scrollTop = log.scrollHeight;
}

// -- messages ------------------------------------------------------------------

function authorLabel(m) {
  if (m.author === "customer") return T.you;
  if (m.author === "bot") return T.bot;
  if (m.author === "agent") return (agentName || T.agent);
  return "";
}
let agentName = null;

function bubble(m, mine) {
  const kind = m.kind === "system" || m.author === "system" ? "system" : mine ? "me" : "them";
  const node = el("div", { class: "msg " + kind, "data-seq": m.seq ?? "" });
  if (kind === "them") node.append(el("span", { class: "who", "data-agent": m.author === "agent" && !agentName ? "1" : null, text: authorLabel(m) }));
  else if (kind === "me") node.append(el("span", { class: "visually-hidden", text: T.you + ":" }));
  const b = el("div", { class: "bubble", dir: "auto" });
  if (m.text) b.append(rich(m.text));
  for (const a of m.attachments || []) b.append(fileView(a));
  node.append(b);
  return node;
}

function fileView(a) {
  const box = el("div", { class: "file" });
  const name = el("span", { class: "name", dir: "auto", text: safeName(a.name) });
  if (a.kind === "image" || a.kind === "video") {
    const media = el(a.kind === "image" ? "img" : "video", a.kind === "image" ? { alt: safeName(a.name) } : { controls: true, "aria-label": safeName(a.name) });
    box.append(media, name);
    blobUrl(a).then((url) => { media.src = url; }).catch(() => {});
  } else {
    const link = el("a", { href: "#", download: safeName(a.name), rel: "noopener noreferrer", text: safeName(a.name) });
    link.addEventListener("click", async (e) => {
      if (link.dataset.ready) return;
      e.preventDefault();
      link.href = await blobUrl(a);
      link.dataset.ready = "1";
      link.click();
    });
    box.append(link);
  }
  return box;
}

async function blobUrl(a) {
  if (a.preview) return a.preview;
  const res = await fetch(new URL(`v1/conversations/${encodeURIComponent(a.conversation_id || conv.id)}/attachments/${encodeURIComponent(a.id)}`, BASE), {
    headers: { Authorization: "Bearer " + session.token }, credentials: "omit",
  });
  if (!res.ok) throw new Error("download failed");
  return URL.createObjectURL(await res.blob());
}

function place(node, seq) {
  const log = $("log");
  if (seq != null) {
    for (const other of log.querySelectorAll(".msg[data-seq]")) {
      const s = Number(other.dataset.seq);
      if (other.dataset.seq !== "" && s > seq) { log.insertBefore(node, other); return; }
    }
  }
  log.append(node);
}

function adopt(m) {
  // The server's copy of a message we are still sending (it came over the socket first).
  for (const [key, node] of pending) {
    if (node.dataset.text === m.text && !(m.attachments || []).length === !node.dataset.files) {
      pending.delete(key);
      shown.set(m.id, node);
      node.dataset.seq = m.seq;
      const meta = node.querySelector(".meta");
      if (meta) { meta.className = "meta"; meta.textContent = T.sent; }
      return true;
    }
  }
  return false;
}

function reorder(node, seq) {
  // A message that was retried may now come after messages shown meanwhile: move it to its place.
  const seqs = [...$("log").querySelectorAll(".msg[data-seq]")].filter((n) => n.dataset.seq !== "" && n !== node);
  const after = seqs.filter((n) => node.compareDocumentPosition(n) & Node.DOCUMENT_POSITION_FOLLOWING);
  const before = seqs.filter((n) => !after.includes(n));
  if (before.some((n) => Number(n.dataset.seq) > seq) || after.some((n) => Number(n.dataset.seq) < seq)) {
    node.remove();
    place(node, seq);
  }
}

function show(m, { live = false } = {}) {
  if (shown.has(m.id)) return false;
  const mine = m.author === "customer";
  if (mine && adopt(m)) return false;
  const node = bubble(m, mine);
  shown.set(m.id, node);
  if (firstSeq == null || m.seq < firstSeq) firstSeq = m.seq;
  place(node, m.seq);
  if (live) {
    scrollDown();
    if (!mine && m.kind !== "system") {
      tell("message", { id: m.id, text: m.text, author: m.author });
      if (!isOpen) { unread += 1; tell("unread", { count: unread }); }
      if (cfg.widget.sound && (!isOpen || document.hidden)) beep();
      if (m.author === "bot") refreshBot();
      agentTyping(false);
    }
  }
  return true;
}

async function loadHistory(older = false) {
  if (!conv) return;
  const top = older ? firstSeq - 1 : conv.last_seq;
  const after = Math.max(0, top - 30);
  const page = await api("GET", `v1/conversations/${conv.id}/messages?after=${after}&limit=${Math.min(200, top - after + 1) || 1}`);
  const log = $("log");
  const height = log.scrollHeight;
  for (const m of page.items) if (m.seq <= top || !older) show(m);
  let more = $("more");
  if (after > 0) {
    if (!more) {
      more = el("button", { type: "button", class: "more", id: "more", text: T.earlier, onclick: () => loadHistory(true) });
      $("intro").after(more);
    }
  } else if (more) more.remove();
  if (older) log.scrollTop = log.scrollHeight - height;
  else scrollDown();
}

// -- sessions and the conversation ------------------------------------------------

function sameUser(a, b) {
  return (a?.id || null) === (b?.id || null) && (a?.email || null) === (b?.email || null);
}

async function ensureSession() {
  if (session && session.token && sameUser(session.user, user)) return;
  const body = { website_key: KEY };
  if (user && (user.id || user.email) && user.identityHash) {
    if (user.id) body.user_id = user.id;
    if (user.email) body.email = user.email;
    body.identity_hash = user.identityHash;
    if (user.identityTimestamp) body.identity_timestamp = user.identityTimestamp;
  }
  if (user && user.name) body.name = user.name;
  session = null;
  const made = await api("POST", "v1/sessions", body);
  session = { token: made.token, user: made.identified ? user : null };
  save();
  connect(true);
}

async function loadConversation() {
  if (!session) return;
  const page = await api("GET", "v1/conversations?limit=1");
  const latest = page.items[0] || null;
  if (latest && (!conv || conv.id !== latest.id)) {
    conv = latest;
    texts();
    tell("active", { active: true });
    await loadHistory();
    refreshExtras();
  }
}

function refreshExtras() {
  refreshAgent();
  refreshBot();
  refreshSurvey();
  refreshQueue();
}

async function refreshAgent() {
  if (!conv) return;
  const badge = await api("GET", `v1/conversations/${conv.id}/agent`).catch(() => null);
  agentName = badge ? badge.name : null;
  const avatar = $("avatar");
  avatar.hidden = !badge;
  avatar.textContent = badge ? badge.initials : "";
  $("subtitle").textContent = badge ? fmt(T.assigned, { name: badge.name }) : "";
  if (badge) for (const who of document.querySelectorAll(".who[data-agent]")) { who.textContent = badge.name; who.removeAttribute("data-agent"); }
}

async function refreshQueue() {
  if (!conv) return;
  const q = await api("GET", `v1/conversations/${conv.id}/queue`).catch(() => null);
  if (q) showQueue(q);
}

function showQueue(q) {
  if (!q.queued || q.assigned || q.position == null) return status("");
  let text = fmt(T.queue, { position: q.position });
  if (q.expected_wait_seconds != null) text += " · " + fmt(T.wait, { minutes: Math.max(1, Math.round(q.expected_wait_seconds / 60)) });
  status(text);
}

async function refreshBot() {
  if (!conv) return;
  const bot = await api("GET", `v1/conversations/${conv.id}/bot`).catch(() => null);
  $("bot-choices")?.remove();
  if (!bot || !bot.choices || !bot.choices.length || bot.waiting !== "answer") return;
  const box = el("div", { class: "choices", id: "bot-choices", role: "group", "aria-label": T.bot });
  for (const choice of bot.choices) {
    box.append(el("button", { type: "button", class: "choice", text: choice, onclick: () => { box.remove(); send(choice); } }));
  }
  $("log").append(box);
  scrollDown();
}

// -- sending ---------------------------------------------------------------------

async function send(text, attachments = [], previews = []) {
  const key = uuid();
  const local = { id: "local-" + key, author: "customer", kind: "text", text, attachments: previews, seq: null };
  const node = bubble(local, true);
  node.dataset.text = text;
  if (attachments.length) node.dataset.files = "1";
  const meta = el("span", { class: "meta", text: T.sending });
  node.append(meta);
  $("log").append(node);
  pending.set(key, node);
  scrollDown();
  await deliver(key, text, attachments, node, meta);
}

async function deliver(key, text, attachments, node, meta) {
  meta.className = "meta";
  meta.textContent = T.sending;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await ensureSession();
      const path = attachments.length && conv ? `v1/conversations/${conv.id}/messages` : "v1/messages";
      const body = path === "v1/messages" ? { text } : { text, attachments };
      const sent = await api("POST", path, body, { "Idempotency-Key": key });
      pending.delete(key);
      const m = sent.message;
      const other = shown.get(m.id);
      if (other && other !== node) other.remove();
      shown.set(m.id, node);
      node.dataset.seq = m.seq;
      reorder(node, m.seq);
      meta.textContent = T.sent;
      if (!conv || conv.id !== sent.conversation_id) {
        conv = { id: sent.conversation_id, status: "open", last_seq: m.seq };
        texts();
        tell("active", { active: true });
        refreshExtras();
      }
      return;
    } catch (err) {
      if (err instanceof ApiError && err.status < 500 && err.status !== 429 && err.status !== 401) break;
      await new Promise((r) => setTimeout(r, 600 * (attempt + 1)));
    }
  }
  meta.className = "meta failed";
  meta.textContent = T.failed;
  meta.append(el("button", { type: "button", class: "retry", text: T.retry, onclick: () => deliver(key, text, attachments, node, meta) }));
}

function onSubmit(e) {
  e.preventDefault();
  const box = $("text");
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  lastDraft = "";
  send(text);
}

function onKey(e) {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
}

let lastDraft = "";
let draftTimer = null;
let draftSentAt = 0;
function onInput() {
  if (!cfg.typing_previews || !conv || !session) return;
  const wait = Math.max(0, 1500 - (Date.now() - draftSentAt));
  clearTimeout(draftTimer);
  draftTimer = setTimeout(() => {
    const draft = $("text").value.slice(0, 10000);
    if (draft === lastDraft) return;
    lastDraft = draft;
    draftSentAt = Date.now();
    api("POST", `v1/conversations/${conv.id}/typing`, { draft }).catch(() => {});
  }, wait);
}

async function onFile() {
  const input = $("file");
  const file = input.files && input.files[0];
  input.value = "";
  if (!file) return;
  if (!conv) { status(T.attachLater); return; }
  const kind = file.type.startsWith("image/") ? "image" : file.type.startsWith("video/") ? "video" : "file";
  const preview = kind === "file" ? null : URL.createObjectURL(file);
  const node = bubble({ author: "customer", kind: "text", text: "", attachments: [{ id: "", name: file.name, kind, preview }] }, true);
  const bar = el("progress", { max: "100", value: "0", "aria-label": safeName(file.name) });
  node.append(bar);
  $("log").append(node);
  scrollDown();
  try {
    const uploaded = await upload(file, (p) => { bar.value = p; });
    bar.remove();
    node.remove();
    await send("", [uploaded.id], [{ ...uploaded, preview }]);
  } catch (err) {
    bar.remove();
    node.append(el("span", { class: "meta failed", text: T.failed + (err.message ? ": " + err.message : "") }));
  }
}

function upload(file, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", new URL(`v1/conversations/${conv.id}/attachments?name=${encodeURIComponent(file.name)}`, BASE));
    xhr.setRequestHeader("Authorization", "Bearer " + session.token);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress(Math.round((e.loaded / e.total) * 100)); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new Error(""));
    xhr.send(file);
  });
}

// -- real time: WebSocket, resumed from the last position ------------------------

let wsFailures = 0;
let useSse = typeof WebSocket === "undefined";
let sseAbort = null;

function handle(frame) {
  if (frame.position != null) lastPos = Math.max(lastPos ?? 0, frame.position);
  onFrame(frame);
}

function reconnectLater() {
  status(T.connecting);
  setTimeout(() => connect(), retryMs);
  retryMs = Math.min(retryMs * 2, 8000);
}

function connect(restart = false) {
  if (!session) return;
  if (useSse) { connectSse(restart); return; }
  if (socket && !restart) return;
  if (socket) { socket.onclose = null; socket.close(); }
  const url = new URL("v1/realtime", BASE);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  let ws;
  try { ws = new WebSocket(url); } catch { useSse = true; connectSse(restart); return; }
  let opened = false;
  socket = ws;
  ws.onopen = () => {
    opened = true;
    wsFailures = 0;
    ws.send(JSON.stringify({ type: "auth", token: session.token, after: lastPos }));
  };
  ws.onmessage = (e) => {
    let frame;
    try { frame = JSON.parse(e.data); } catch { return; }
    handle(frame);
  };
  ws.onclose = (e) => {
    if (socket !== ws) return;
    socket = null;
    if (e.code === 4001) { session = null; save(); return; }
    if (e.code === 4003) return;
    if (!opened) {
      // The server answers HTTP but no WebSocket opens: a proxy that lets none through.
      fetch(new URL(`widget/config?key=${encodeURIComponent(KEY)}`, BASE), { cache: "no-store" })
        .then((r) => { if (r.ok && ++wsFailures >= 3) useSse = true; })
        .catch(() => {});
    }
    reconnectLater();
  };
}

// Server-Sent Events, read with fetch (it can send the Authorization header; EventSource cannot).
async function connectSse(restart) {
  if (sseAbort && !restart) return;
  if (sseAbort) sseAbort.abort();
  const ctrl = new AbortController();
  sseAbort = ctrl;
  try {
    const url = new URL("v1/realtime/events", BASE);
    if (lastPos != null) url.searchParams.set("after", String(lastPos));
    const res = await fetch(url, {
      headers: { Authorization: "Bearer " + session.token, Accept: "text/event-stream" },
      signal: ctrl.signal, credentials: "omit", cache: "no-store",
    });
    if (res.status === 401) { session = null; save(); sseAbort = null; return; }
    if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (!data) continue;
        let frame;
        try { frame = JSON.parse(data); } catch { continue; }
        if (frame.type === "close") {
          if (frame.data && frame.data.code === 4001) { session = null; save(); sseAbort = null; return; }
          continue;
        }
        handle(frame);
      }
    }
  } catch {
    if (ctrl.signal.aborted) return;
  }
  if (sseAbort !== ctrl) return;
  sseAbort = null;
  reconnectLater();
}

async function onFrame(frame) {
  const d = frame.data || {};
  switch (frame.type) {
    case "ready":
      retryMs = 500;
      if ($("status").textContent === T.connecting) status("");
      if (!conv) await loadConversation().catch(() => {});
      else await catchUp();
      break;
    case "message.created":
      if (!conv || d.conversation_id !== conv.id) await loadConversation().catch(() => {});
      if (conv && d.conversation_id === conv.id) {
        conv.last_seq = Math.max(conv.last_seq || 0, d.message.seq);
        show(d.message, { live: true });
      }
      break;
    case "conversation.assigned":
      refreshAgent();
      refreshQueue();
      break;
    case "conversation.status_changed":
      if (conv && d.conversation_id === conv.id) {
        conv.status = d.to_status;
        if (d.to_status === "resolved" || d.to_status === "closed") {
          setTimeout(refreshSurvey, 300);
        }
      }
      break;
    case "survey.sent":
      refreshSurvey();
      break;
    case "bot.started":
    case "bot.finished":
      refreshBot();
      break;
    case "agent.typing":
      if (conv && d.conversation_id === conv.id) agentTyping(d.typing);
      break;
    case "queue.position":
      if (conv && d.conversation_id === conv.id) showQueue(d);
      break;
  }
}

let typingTimer = null;
function agentTyping(on) {
  clearTimeout(typingTimer);
  $("typing").textContent = on ? fmt(T.typing, { name: agentName || T.agent }) : "";
  if (on) typingTimer = setTimeout(() => { $("typing").textContent = ""; }, 6000);
}

async function catchUp() {
  // The server replays what we missed; this also covers messages sent while the socket was down.
  if (!conv) return;
  let after = conv.last_seq || 0;
  for (let i = 0; i < 10; i++) {
    const page = await api("GET", `v1/conversations/${conv.id}/messages?after=${after}&limit=100`).catch(() => null);
    if (!page) return;
    for (const m of page.items) { show(m, { live: true }); conv.last_seq = Math.max(conv.last_seq, m.seq); }
    if (page.next_after == null) return;
    after = page.next_after;
  }
}

// -- survey ----------------------------------------------------------------------

async function refreshSurvey() {
  if (!conv) return;
  const list = await api("GET", `v1/conversations/${conv.id}/surveys`).catch(() => []);
  const survey = list.find((s) => s.status === "sent");
  if (!survey || $("survey-" + survey.id)) return;
  $("log").append(surveyCard(survey));
  scrollDown();
}

function surveyCard(s) {
  const answers = {};
  const card = el("form", { class: "card", id: "survey-" + s.id, "aria-labelledby": "survey-title-" + s.id });
  card.append(el("h2", { id: "survey-title-" + s.id, text: s.title }));
  for (const q of s.questions) {
    const set = el("fieldset", {}, el("legend", { text: q.text }));
    const stars = q.kind === "stars" || (q.kind === "scale" && cfg.widget.survey_scale === "stars");
    const row = el("div", { class: "scale" + (stars ? " stars" : "") });
    const values = q.kind === "agreement" ? AGREEMENT : range(q.low ?? 1, q.high ?? 5);
    for (const v of values) {
      const label = q.kind === "agreement" ? T[v] : stars ? fmt(T.stars, { n: v }) : String(v);
      const shownText = q.kind === "agreement" ? T[v] : stars ? "★" : String(v);
      const b = el("button", { type: "button", "aria-pressed": "false", "aria-label": label, title: label, text: shownText });
      b.addEventListener("click", () => {
        answers[q.id] = v;
        for (const other of row.querySelectorAll("button")) other.setAttribute("aria-pressed", "false");
        b.setAttribute("aria-pressed", "true");
        if (stars) row.querySelectorAll("button").forEach((o, i) => { o.textContent = values[i] <= v ? "★" : "☆"; });
      });
      row.append(b);
    }
    if (stars) row.querySelectorAll("button").forEach((o) => { o.textContent = "☆"; });
    if (q.low_label || q.high_label) row.append(el("div", { class: "ends" }, el("span", { text: q.low_label || "" }), el("span", { text: q.high_label || "" })));
    set.append(row);
    card.append(set);
  }
  let comment = null;
  if (s.comment_prompt) {
    comment = el("textarea", { rows: "2", maxlength: "1000" });
    card.append(el("label", {}, s.comment_prompt, comment));
  }
  const error = el("p", { class: "error", role: "alert" });
  card.append(error, el("button", { type: "submit", class: "primary", text: T.submit }));
  card.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", `v1/surveys/${s.id}/answers`, { answers, comment: comment && comment.value.trim() ? comment.value.trim() : null });
      card.replaceChildren(el("p", { class: "note", role: "status", text: T.surveyDone }));
    } catch (err) {
      error.textContent = err.message || T.error;
    }
  });
  return card;
}
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

// -- offline form (closed hours) and transcript -------------------------------------

function offlineForm() {
  const name = el("input", { type: "text", autocomplete: "name", maxlength: "200" });
  const email = el("input", { type: "email", autocomplete: "email", required: true, maxlength: "320" });
  const text = el("textarea", { rows: "4", required: true, maxlength: "10000" });
  const error = el("p", { class: "error", role: "alert" });
  const when = cfg.opens_at ? fmt(T.opensAt, { time: new Date(cfg.opens_at).toLocaleString(T.lang || "en") }) : "";
  const form = el("form", { class: "card", id: "offline", "aria-labelledby": "offline-title" },
    el("h2", { id: "offline-title", text: T.offlineTitle }),
    el("p", { class: "note", text: cfg.widget.offline_text || T.offlineText }),
    when ? el("p", { class: "note", text: when }) : null,
    el("label", {}, T.name, name),
    el("label", {}, T.email, email),
    el("label", {}, T.message, text),
    error,
    el("button", { type: "submit", class: "primary", text: T.leave }),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await ensureSession();
      await api("POST", "v1/offline-messages", { text: text.value.trim(), email: email.value.trim(), name: name.value.trim() || null });
      form.replaceChildren(el("p", { class: "note", role: "status", text: T.offlineDone }));
    } catch (err) {
      error.textContent = err.message || T.error;
    }
  });
  return form;
}

function transcriptForm() {
  const email = el("input", { type: "email", autocomplete: "email", maxlength: "320", required: !(user && user.email) });
  const note = el("p", { class: "note", role: "status" });
  const form = el("form", {}, el("label", {}, T.transcript, email), el("button", { type: "submit", class: "primary", text: T.submit }), note);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!conv) return;
    try {
      const r = await api("POST", `v1/conversations/${conv.id}/transcript`, { email: email.value.trim() || null });
      note.textContent = fmt(T.transcriptSent, { email: r.sent_to });
    } catch (err) {
      note.textContent = err.message || T.error;
    }
  });
  return form;
}

// -- sound -------------------------------------------------------------------------

function unlockAudio() {
  try { audio = audio || new AudioContext(); audio.resume(); } catch { audio = null; }
}
function beep() {
  if (!audio) return;
  try {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
  } catch { /* no sound, no harm */ }
}

// -- language ---------------------------------------------------------------------

async function setLocale(locale, strings) {
  const lang = String(locale || navigator.language || "en").slice(0, 2).toLowerCase();
  let base = { ...EN, lang: "en" };
  if (LANGS.includes(lang)) {
    try {
      const res = await fetch(new URL(`widget/i18n/${lang}.json`, BASE));
      if (res.ok) base = { ...base, ...(await res.json()), lang };
    } catch { /* English it is */ }
  }
  if (strings && typeof strings === "object") {
    for (const [k, v] of Object.entries(strings)) if (k in EN && typeof v === "string") base[k] = v;
    base.lang = lang;
  }
  T = base;
  if ($("title-text")) texts();
}

// -- messages from the page ---------------------------------------------------------

window.addEventListener("message", (event) => {
  if (!parentOrigin || event.origin !== parentOrigin || event.source !== window.parent) return;
  const msg = event.data;
  if (!msg || msg.chatkit !== 1) return;
  if (msg.type === "init") {
    user = msg.user || null;
    if (msg.locale || msg.strings) setLocale(msg.locale, msg.strings);
    if (msg.open) opened();
    resume();
  } else if (msg.type === "open") opened();
  else if (msg.type === "close") isOpen = false;
  else if (msg.type === "user") {
    user = msg.user || null;
    if (session && !sameUser(session.user, user)) {
      session = null; save(); conv = null; shown.clear();
      for (const n of $("log").querySelectorAll(".msg,.card,.choices,.more")) n.remove();
      resume();
    }
  } else if (msg.type === "locale") setLocale(msg.locale, msg.strings);
});

function closeSelf() {
  isOpen = false;
  tell("close");
}

function opened() {
  isOpen = true;
  unread = 0;
  tell("unread", { count: 0 });
  setTimeout(() => { $("text")?.focus(); scrollDown(); }, 30);
}

async function resume() {
  if (user && user.identityHash && !sameUser(session?.user, user)) {
    await ensureSession().catch(() => {});
  }
  if (session) connect();
}

// -- start --------------------------------------------------------------------------

async function main() {
  const res = await fetch(new URL(`widget/config?key=${encodeURIComponent(KEY)}`, BASE));
  if (!res.ok) return;
  cfg = await res.json();
  const claimed = (location.ancestorOrigins && location.ancestorOrigins[0]) || params.get("origin");
  if (!claimed || !cfg.origins.includes(claimed) || window.parent === window) return; // not embedded where allowed
  parentOrigin = claimed;
  await setLocale(null);
  applyConfig();
  build();
  texts();
  if (!cfg.open_now) {
    $("composer").hidden = true;
    $("log").append(offlineForm());
  }
  tell("ready", { color: cfg.widget.color, position: cfg.widget.position });
}

main();
