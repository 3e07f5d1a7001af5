// What every screen shares: the app's state (the store, whether a form is open), making
// elements, showing a screen, links between screens (`#place=ID`), and times.
import { getLang, t } from "./i18n.js";

/** The running app: its store, whether the user is in a form (no automatic sync then), a
 * sentence to show on the next screen, and hooks app.js fills in (visitForm, home). */
export const app = { store: null, inForm: false, flash: "", hooks: {} };

/** Make an element: h("p", {class: "x"}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** Show a screen in <main>, with the sentence left by the last action on top. */
export function show(...nodes) {
  const main = document.getElementById("main");
  const flash = app.flash ? h("p", { class: "result", role: "status", id: "flash" }, app.flash) : null;
  app.flash = "";
  main.replaceChildren(...[flash, ...nodes].filter(Boolean));
  window.scrollTo(0, 0);
}

/** Go to a screen: "place=ID", "search", "" (home). */
export function go(route, flash = "") {
  if (flash) app.flash = flash;
  const hash = route ? `#${route}` : "";
  if (location.hash === hash || (!route && !location.hash)) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

/** A link to a screen. */
export function link(route, text, attrs = {}) {
  return h("a", { href: `#${route}`, ...attrs }, text);
}

/** A select of [value, label] pairs. */
export function selectOf(name, pairs, value = null, attrs = {}) {
  return h("select", { name, id: name, ...attrs }, pairs.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

/** A small tag. */
export const tag = (text, cls = "") => h("span", { class: `tag ${cls}`.trim() }, text);

/** Show an epoch-ms or ISO time in the reader's language ("" for none). */
export function when(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB", { dateStyle: "short", timeStyle: "short" });
}

/** A time (now by default) as a datetime-local value in this device's time zone (minutes). */
export function localNow(d = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value with this device's offset (an ISO time the protocol takes). */
export function withOffset(local) {
  const minutes = -new Date(local).getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** Now as an ISO time with this device's offset, to the second. */
export function nowIso() {
  const local = localNow();
  const seconds = String(new Date().getSeconds()).padStart(2, "0");
  const full = withOffset(local);
  return `${full.slice(0, 16)}:${seconds}${full.slice(16)}`;
}

/** Today's date here (YYYY-MM-DD). */
export const today = () => localNow().slice(0, 10);

/** A heading with a count badge. */
export function heading(level, text, count = null, attrs = {}) {
  return h(`h${level}`, attrs, text, count === null ? null : h("span", { class: "badge" }, String(count)));
}

/** "None yet" for an empty section. */
export const empty = () => h("p", { class: "muted empty" }, t("none"));
