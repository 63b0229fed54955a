/* chatkit widget loader: the launcher, the command queue and the lazily loaded chat frame.
 *
 *   <script src="https://chat.example/widget/loader.js" data-website-key="KEY" async></script>
 *   <script>window.chatkit=window.chatkit||function(){(chatkit.q=chatkit.q||[]).push(arguments)};
 *           chatkit('setUser', {id: 'u-42', name: 'Ada', identityHash: '...'});</script>
 *
 * No style element and no inline script are added to the page: the launcher and the
 * frame are styled through CSSOM (element.style), which a strict Content-Security-Policy
 * (style-src without 'unsafe-inline') allows. Messages from the frame are accepted only
 * from the chat server's origin and from the frame's own window.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__chatkitLoaded) return;
  window.__chatkitLoaded = true;
  var key = script.getAttribute("data-website-key") || "";
  var src = new URL(script.src, location.href);
  var chatOrigin = src.origin;
  var frameUrl = new URL("frame.html", src);
  frameUrl.searchParams.set("key", key);
  frameUrl.searchParams.set("origin", location.origin);
  var activeKey = "chatkit.active." + key;
  var TEXTS = {
    en: ["Open chat", "Close chat", "unread"],
    ko: ["채팅 열기", "채팅 닫기", "읽지 않음"],
    tr: ["Sohbeti aç", "Sohbeti kapat", "okunmamış"],
  };
  var lang = (navigator.language || "en").slice(0, 2).toLowerCase();
  var state = {
    open: false,
    frame: null,
    ready: false,
    unread: 0,
    user: null,
    locale: null,
    strings: null,
    outbox: [],
    color: script.getAttribute("data-color") || "#1f5fbf",
    side: script.getAttribute("data-position") === "left" ? "left" : "right",
  };
  var handlers = { ready: [], message: [], unread: [], open: [], close: [] };

  function css(el, styles) {
    for (var k in styles) el.style.setProperty(k, styles[k]);
  }
  function words() {
    return TEXTS[state.locale || lang] || TEXTS.en;
  }
  function emit(name, data) {
    (handlers[name] || []).slice().forEach(function (fn) {
      try {
        fn(data);
      } catch (e) {
        setTimeout(function () {
          throw e;
        });
      }
    });
  }

  // -- the launcher --------------------------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";
  var button = document.createElement("button");
  button.type = "button";
  button.id = "chatkit-launcher";
  button.setAttribute("aria-haspopup", "dialog");
  button.setAttribute("aria-expanded", "false");
  var icon = document.createElementNS(SVG, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("width", "28");
  icon.setAttribute("height", "28");
  icon.setAttribute("aria-hidden", "true");
  icon.setAttribute("focusable", "false");
  var path = document.createElementNS(SVG, "path");
  path.setAttribute("fill", "currentColor");
  var CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  var CROSS = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";
  path.setAttribute("d", CHAT);
  icon.appendChild(path);
  button.appendChild(icon);
  var badge = document.createElement("span");
  badge.setAttribute("aria-hidden", "true");
  button.appendChild(badge);
  css(button, {
    position: "fixed",
    bottom: "20px",
    width: "56px",
    height: "56px",
    "border-radius": "50%",
    border: "0",
    padding: "0",
    margin: "0",
    cursor: "pointer",
    color: "#fff",
    "box-shadow": "0 4px 14px rgba(0,0,0,.3)",
    "z-index": "2147483000",
    display: "flex",
    "align-items": "center",
    "justify-content": "center",
  });
  css(badge, {
    position: "absolute",
    top: "-4px",
    right: "-4px",
    "min-width": "20px",
    height: "20px",
    padding: "0 5px",
    "box-sizing": "border-box",
    "border-radius": "10px",
    background: "#b00020",
    color: "#fff",
    font: "bold 12px/20px system-ui, sans-serif",
    "text-align": "center",
    display: "none",
  });
  button.addEventListener("focus", function () {
    css(button, { outline: "3px solid #111", "outline-offset": "3px" });
  });
  button.addEventListener("blur", function () {
    button.style.removeProperty("outline");
  });
  button.addEventListener("click", function () {
    state.open ? close() : open();
  });

  function paint() {
    css(button, { background: state.color, left: "auto", right: "auto" });
    button.style.setProperty(state.side, "20px");
    var w = words();
    var label = state.open ? w[1] : w[0];
    if (state.unread && !state.open) label += " (" + state.unread + " " + w[2] + ")";
    button.setAttribute("aria-label", label);
    button.setAttribute("aria-expanded", String(state.open));
    path.setAttribute("d", state.open ? CROSS : CHAT);
    badge.textContent = state.unread > 99 ? "99+" : String(state.unread);
    badge.style.display = state.unread && !state.open ? "block" : "none";
    if (state.frame) layout();
  }

  // -- the frame -----------------------------------------------------------------
  function layout() {
    var f = state.frame;
    var small = window.innerWidth < 480;
    css(f, {
      position: "fixed",
      border: "0",
      "z-index": "2147483001",
      background: "#fff",
      "color-scheme": "light",
      display: state.open ? "block" : "none",
      left: "auto",
      right: "auto",
    });
    if (small) {
      css(f, { top: "0", bottom: "0", left: "0", width: "100%", height: "100%", "border-radius": "0", "box-shadow": "none" });
      button.style.display = state.open ? "none" : "flex";
    } else {
      f.style.removeProperty("top");
      f.style.setProperty(state.side, "20px");
      css(f, {
        bottom: "88px",
        width: "380px",
        height: "min(640px, calc(100vh - 108px))",
        "border-radius": "12px",
        "box-shadow": "0 8px 30px rgba(0,0,0,.25)",
      });
      button.style.display = "flex";
    }
  }

  function load() {
    if (state.frame) return;
    var f = document.createElement("iframe");
    f.id = "chatkit-frame";
    f.title = "Chat";
    f.src = frameUrl.href;
    f.setAttribute("allow", "autoplay");
    f.setAttribute("referrerpolicy", "origin");
    state.frame = f;
    button.setAttribute("aria-controls", f.id);
    layout();
    document.body.appendChild(f);
  }

  function post(msg) {
    msg.chatkit = 1;
    if (state.ready && state.frame && state.frame.contentWindow) {
      state.frame.contentWindow.postMessage(msg, chatOrigin);
    } else {
      state.outbox.push(msg);
    }
  }

  function open() {
    load();
    state.open = true;
    state.unread = 0;
    paint();
    post({ type: "open" });
    if (state.ready) state.frame.focus();
    emit("open");
  }
  function close(fromFrame) {
    if (!state.open) return;
    state.open = false;
    paint();
    if (!fromFrame) post({ type: "close" });
    button.focus();
    emit("close");
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== chatOrigin || !state.frame || event.source !== state.frame.contentWindow) return;
    var msg = event.data;
    if (!msg || msg.chatkit !== 1 || typeof msg.type !== "string") return;
    if (msg.type === "ready") {
      state.ready = true;
      if (msg.color) state.color = String(msg.color);
      if (msg.position === "left" || msg.position === "right") state.side = msg.position;
      paint();
      var queued = state.outbox;
      state.outbox = [];
      post({ type: "init", user: state.user, locale: state.locale, strings: state.strings, open: state.open });
      queued.forEach(post);
      if (state.open) state.frame.focus();
      emit("ready", { websiteKey: key });
    } else if (msg.type === "active") {
      try {
        msg.active ? localStorage.setItem(activeKey, "1") : localStorage.removeItem(activeKey);
      } catch (e) {}
    } else if (msg.type === "message") {
      emit("message", { text: String(msg.text || ""), author: String(msg.author || ""), id: String(msg.id || "") });
    } else if (msg.type === "unread") {
      state.unread = state.open ? 0 : Math.max(0, msg.count | 0);
      paint();
      emit("unread", { count: state.unread });
    } else if (msg.type === "close") {
      close(true);
    }
  });
  window.addEventListener("resize", function () {
    if (state.frame) layout();
  });

  // -- the command queue -----------------------------------------------------------
  var commands = {
    open: open,
    close: function () {
      close(false);
    },
    toggle: function () {
      state.open ? close(false) : open();
    },
    setUser: function (user) {
      state.user = user && typeof user === "object" ? {
        id: user.id == null ? null : String(user.id),
        email: user.email == null ? null : String(user.email),
        name: user.name == null ? null : String(user.name),
        identityHash: user.identityHash == null ? null : String(user.identityHash),
        identityTimestamp: user.identityTimestamp == null ? null : Number(user.identityTimestamp),
      } : null;
      if (state.frame) post({ type: "user", user: state.user });
    },
    setLocale: function (locale, strings) {
      state.locale = String(locale || "").slice(0, 2).toLowerCase() || null;
      state.strings = strings && typeof strings === "object" ? strings : null;
      paint();
      if (state.frame) post({ type: "locale", locale: state.locale, strings: state.strings });
    },
    on: function (name, fn) {
      if (handlers[name] && typeof fn === "function") handlers[name].push(fn);
    },
    off: function (name, fn) {
      if (handlers[name]) handlers[name] = handlers[name].filter(function (h) { return h !== fn; });
    },
  };
  function run(args) {
    var cmd = commands[args[0]];
    if (cmd) cmd.apply(null, Array.prototype.slice.call(args, 1));
    else if (window.console) console.warn("chatkit: unknown command", args[0]);
  }
  var queued = (window.chatkit && window.chatkit.q) || [];
  window.chatkit = function () {
    run(arguments);
  };
  queued.forEach(run);

  function start() {
    paint();
    document.body.appendChild(button);
    var active = false;
    try {
      active = localStorage.getItem(activeKey) === "1";
    } catch (e) {}
    if (active) load(); // a conversation is going on: listen for replies (unread badge)
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
