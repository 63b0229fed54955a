// DOM helpers: every text a user wrote goes in with textContent, never as HTML.

/**
 * Make an element. `attrs` sets properties/attributes (class, id, aria-*, data-*, on* handlers);
 * children are nodes or strings (strings become text nodes).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "text") el.textContent = String(value);
    else if (key === "href") {
      const safe = safeHref(value);
      if (safe) {
        el.setAttribute("href", safe);
        el.setAttribute("rel", "noopener noreferrer");
        el.setAttribute("target", "_blank");
      }
    } else if (key in el && !key.includes("-") && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Only http(s) and mailto links; anything else (javascript:, data:...) gives null. */
export function safeHref(value) {
  try {
    const url = new URL(String(value), document.baseURI);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

const BIDI = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

/**
 * Text with its direction controls shown, not obeyed: a right-to-left override
 * (U+202E) in "\u202Eexe.txt" would make it look like "txt.exe".
 */
export function visible(text) {
  return String(text).replace(BIDI, (c) => `[U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}]`);
}

const LINK = /\b(?:https?:\/\/|mailto:)[^\s<>"']+/gi;

/** Text with its http(s)/mailto URLs as links; everything else stays text. */
export function linkify(raw) {
  const text = visible(raw);
  const out = [];
  let last = 0;
  for (const match of String(text).matchAll(LINK)) {
    let url = match[0].replace(/[.,;:!?)\]]+$/, "");
    if (match.index > last) out.push(String(text).slice(last, match.index));
    const href = safeHref(url);
    out.push(href ? h("a", { href, class: "msg-link" }, url) : url);
    last = match.index + url.length;
  }
  if (last < String(text).length) out.push(String(text).slice(last));
  return out;
}

/** "3 min", "2 h", "4 d" since an ISO time. */
export function since(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

/** Local date and time of an ISO time. */
export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** The mood as a word. */
export function moodWord(mood) {
  if (mood === null || mood === undefined) return "";
  if (mood < -0.25) return "negative";
  return mood > 0.25 ? "positive" : "neutral";
}
