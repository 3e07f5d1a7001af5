// The field app's screens: enroll, home (pending, last sync, Sync), record a visit with the
// people met and the concerns raised. All data lives in IndexedDB (store.js); sync.js talks to
// the office that served this page.
import { choiceName, choices, fault, fieldName, getLang, setLang, setWords, t } from "./i18n.js";
import { openStore, uuid7 } from "./store.js";
import { enroll, syncOnce } from "./sync.js";

const BASE = new URL("../", location.href).href.replace(/\/$/, "");
const main = document.getElementById("main");
let store = null;
let busy = false; // a sync is running
let inForm = false; // the user is filling in a form: no automatic sync

/** Make an element: h("p", {class: "x"}, "text", child). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

function show(...nodes) {
  main.replaceChildren(...nodes);
  window.scrollTo(0, 0);
}

function selectOf(name, pairs, value = null) {
  return h("select", { name, id: name }, pairs.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

// -- start ----------------------------------------------------------------------------------------

async function start() {
  setLang(localStorage.getItem("fieldsync-lang") || "zh");
  document.getElementById("lang").addEventListener("click", switchLang);
  try {
    setWords(await (await fetch("vocabulary.json")).json());
  } catch {
    setWords(null);
  }
  registerWorker();
  store = await openStore();
  const code = takeEnrollCode();
  const state = await store.state();
  if (!state.device_id && code) return doEnroll(code, t("device_default"));
  if (!state.device_id) return enrollView(code);
  return home();
}

/** Take `#enroll=CODE` from the address and remove it, so no code stays in the URL. */
function takeEnrollCode() {
  const match = /(?:^#|&)enroll=([^&]+)/.exec(location.hash);
  if (!match) return "";
  history.replaceState(null, "", location.pathname + location.search);
  return decodeURIComponent(match[1]);
}

function switchLang() {
  setLang(getLang() === "zh" ? "en" : "zh");
  localStorage.setItem("fieldsync-lang", getLang());
  labelChrome();
  if (!inForm) startView();
}

function labelChrome() {
  document.getElementById("lang").textContent = getLang() === "zh" ? "English" : "中文";
  document.getElementById("update-reload").textContent = t("reload");
  document.getElementById("update-text").textContent = t("update_ready");
  offlineBanner();
}

async function startView() {
  const state = await store.state();
  return state.device_id ? home() : enrollView("");
}

function registerWorker() {
  labelChrome();
  if (!("serviceWorker" in navigator) || !window.isSecureContext) {
    const notice = document.getElementById("notice");
    notice.textContent = t("no_offline");
    notice.hidden = false;
    return;
  }
  navigator.serviceWorker.register("sw.js").then((registration) => {
    registration.addEventListener("updatefound", () => {
      const worker = registration.installing;
      worker?.addEventListener("statechange", () => {
        if (worker.state === "installed" && navigator.serviceWorker.controller) offerUpdate(worker);
      });
    });
    if (registration.waiting && navigator.serviceWorker.controller) offerUpdate(registration.waiting);
  });
  if (navigator.storage?.persist) navigator.storage.persist().catch(() => {});
}

function offerUpdate(worker) {
  const bar = document.getElementById("update");
  bar.hidden = false;
  document.getElementById("update-reload").onclick = () => {
    navigator.serviceWorker.addEventListener("controllerchange", () => location.reload());
    worker.postMessage("update");
  };
}

function offlineBanner() {
  const notice = document.getElementById("notice");
  if (!window.isSecureContext) return;
  notice.textContent = t("offline_banner");
  notice.hidden = navigator.onLine;
}

window.addEventListener("offline", offlineBanner);
window.addEventListener("online", () => {
  offlineBanner();
  autoSync(0);
});

/** Sync when the network comes back, with backoff; never while a form is open. */
function autoSync(attempt) {
  if (attempt > 5 || !store) return;
  setTimeout(async () => {
    if (inForm || busy || !navigator.onLine) return;
    const state = await store.state();
    if (!state.device_id) return;
    const report = await runSync();
    if (report && report.error === "offline") autoSync(attempt + 1);
  }, attempt === 0 ? 500 : 1000 * 2 ** attempt);
}

// -- enroll ---------------------------------------------------------------------------------------

function enrollView(code, error = "") {
  inForm = false;
  const form = h(
    "form",
    { id: "enroll-form", onsubmit: (e) => {
      e.preventDefault();
      doEnroll(form.elements.code.value.trim(), form.elements.device_name.value.trim() || t("device_default"));
    } },
    h("h2", {}, t("enroll_title")),
    h("p", { class: "muted" }, t("enroll_help")),
    h("label", { for: "code" }, t("code")),
    h("input", { id: "code", name: "code", value: code, required: true, autocomplete: "off", maxlength: "64" }),
    h("label", { for: "device_name" }, t("device_name")),
    h("input", { id: "device_name", name: "device_name", value: t("device_default"), maxlength: "100" }),
    error ? h("p", { class: "error", role: "alert" }, t("enroll_failed") + error) : null,
    h("div", { class: "actions" }, h("button", { type: "submit", id: "enroll" }, t("enroll"))),
  );
  show(form);
}

async function doEnroll(code, deviceName) {
  show(h("p", { class: "muted" }, t("enrolling")));
  try {
    await enroll(store, fetch.bind(window), BASE, code, deviceName);
  } catch (error) {
    const message = error.code === "offline" ? t("offline") : error.message || String(error);
    return enrollView(code, message);
  }
  return home();
}

// -- home -----------------------------------------------------------------------------------------

function when(ms) {
  if (!ms) return t("never");
  return new Date(ms).toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB");
}

async function home(result = null) {
  inForm = false;
  const status = await store.status();
  const visits = (await store.list("visit")).sort((a, b) => (b.fields.started_at || "").localeCompare(a.fields.started_at || ""));
  const places = new Map((await store.list("place")).map((p) => [p.id, p.fields.name]));
  const storage = h("p", { class: "muted", id: "storage" });
  navigator.storage?.estimate?.().then(({ usage }) => {
    storage.textContent = t("storage", { used: `${((usage || 0) / 1024 / 1024).toFixed(1)} MB` });
  });
  show(
    h("p", { class: "muted" }, `${t("workspace")}: ${status.workspace?.name || ""}`),
    h(
      "div",
      { class: "stats" },
      h("div", { class: "stat" }, t("pending"), h("b", { id: "pending" }, String(status.pending))),
      h("div", { class: "stat" }, t("last_sync"), h("b", { id: "last-sync", class: "small" }, when(status.last_sync))),
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", id: "sync", onclick: () => runSync() }, t("sync")),
      h("button", { type: "button", id: "record-visit", class: "second", onclick: visitForm }, t("record_visit")),
    ),
    h("progress", { id: "progress", hidden: true, max: "1", value: "0" }),
    h("p", { id: "sync-stage", class: "muted", "aria-live": "polite" }),
    h("p", { id: "sync-result", class: "result", role: "status", hidden: !result }, result || ""),
    h("h2", {}, t("visits")),
    visits.length
      ? h("ul", { class: "list", id: "visits" }, visits.slice(0, 20).map((v) => h("li", {},
          `${choiceName("visit", "kind", v.fields.kind)} · ${places.get(v.fields.place_id) || ""} · ${(v.fields.started_at || "").slice(0, 16).replace("T", " ")}`)))
      : h("p", { class: "muted" }, t("no_visits")),
    storage,
  );
}

/** Run one sync from the home screen, with live progress and a plain-words result. */
async function runSync() {
  if (busy) return null;
  busy = true;
  const button = document.getElementById("sync");
  const bar = document.getElementById("progress");
  const stage = document.getElementById("sync-stage");
  if (button) {
    button.disabled = true;
    button.textContent = t("syncing");
  }
  if (bar) bar.hidden = false;
  let report;
  try {
    report = await syncOnce(store, fetch.bind(window), BASE, (name, done, total) => {
      if (stage) stage.textContent = `${t(`stage_${name}`)} ${done}${total ? ` / ${total}` : ""}`;
      if (bar) {
        if (total) bar.value = done / total;
        else bar.removeAttribute("value");
      }
    });
  } finally {
    busy = false;
  }
  if (!inForm) await home(sentence(report));
  return report;
}

function sentence(report) {
  if (report.ok) {
    const parts = [t("synced", report)];
    if (report.conflicts) parts.push(t("synced_conflicts", { n: report.conflicts }));
    if (report.rejected) parts.push(t("synced_rejected", { n: report.rejected }));
    return parts.join(" ");
  }
  const known = ["offline", "server_error", "device_revoked", "clock_skew", "unauthorized"];
  return known.includes(report.error) ? t(report.error) : t("other_error") + (report.message || report.error);
}

// -- record a visit -------------------------------------------------------------------------------

function localNow() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function withOffset(local) {
  const minutes = -new Date(local).getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

function personRow() {
  return h("div", { class: "row person" },
    h("div", {}, h("label", {}, t("person_name")), h("input", { name: "person_name", maxlength: "200" })),
    h("div", {}, h("label", {}, fieldName("kind")), selectOf("person_kind", choices("party", "kind"), "resident")));
}

function concernRow() {
  return h("div", { class: "row concern" },
    h("div", {}, h("label", {}, t("concern_title")), h("input", { name: "concern_title", maxlength: "200" })),
    h("div", {}, h("label", {}, fieldName("category")), selectOf("concern_category", choices("concern", "category"), "other")));
}

async function visitForm() {
  inForm = true;
  const places = await store.list("place");
  const people = h("fieldset", { id: "people" }, h("legend", {}, t("people_met")), personRow());
  const concerns = h("fieldset", { id: "concerns" }, h("legend", {}, t("concerns_raised")), concernRow());
  const error = h("p", { class: "error", role: "alert", hidden: true, id: "form-error" });
  const form = h(
    "form",
    { id: "visit-form", onsubmit: (e) => { e.preventDefault(); saveVisit(form, places, error); } },
    h("h2", {}, t("record_visit")),
    h("label", { for: "visit_kind" }, fieldName("kind")),
    selectOf("visit_kind", choices("visit", "kind"), "home_visit"),
    h("label", { for: "place_name" }, t("place_name")),
    h("input", { id: "place_name", name: "place_name", list: "places", maxlength: "200", required: true }),
    h("datalist", { id: "places" }, places.map((p) => h("option", { value: p.fields.name }))),
    h("label", { for: "place_kind" }, t("new_place_kind")),
    selectOf("place_kind", choices("place", "kind"), "compound"),
    h("label", { for: "started_at" }, t("when")),
    h("input", { id: "started_at", name: "started_at", type: "datetime-local", value: localNow(), required: true }),
    people,
    h("div", { class: "actions" }, h("button", { type: "button", class: "second", id: "add-person", onclick: () => people.append(personRow()) }, t("add_person"))),
    concerns,
    h("div", { class: "actions" }, h("button", { type: "button", class: "second", id: "add-concern", onclick: () => concerns.append(concernRow()) }, t("add_concern"))),
    error,
    h("div", { class: "actions" },
      h("button", { type: "submit", id: "save-visit" }, t("save")),
      h("button", { type: "button", class: "second", onclick: () => home() }, t("cancel"))),
  );
  show(form);
}

async function saveVisit(form, places, error) {
  const value = (name) => form.elements[name].value.trim();
  const placeName = value("place_name");
  const started = value("started_at");
  const rows = (selector, nameField, kindField) => [...form.querySelectorAll(selector)]
    .map((row) => [row.querySelector(`[name=${nameField}]`).value.trim(), row.querySelector(`[name=${kindField}]`).value])
    .filter(([name]) => name);
  const persons = rows(".person", "person_name", "person_kind");
  const raised = rows(".concern", "concern_title", "concern_category");
  const missing = [];
  if (!placeName) missing.push(t("place_name"));
  if (!started) missing.push(t("when"));
  if (missing.length) {
    error.textContent = t("needs") + missing.join("、");
    error.hidden = false;
    return;
  }
  const startedAt = withOffset(started);
  if (new Date(startedAt).getTime() > Date.now() + 5 * 60 * 1000) {
    error.textContent = `${t("when")}: ${fault("in_future")}`;
    error.hidden = false;
    return;
  }
  const items = [];
  let place = places.find((p) => p.fields.name === placeName);
  const placeId = place ? place.id : uuid7();
  if (!place) items.push({ type: "place", id: placeId, fields: { kind: value("place_kind"), name: placeName } });
  const partyIds = persons.map(([name, kind]) => {
    const id = uuid7();
    items.push({ type: "party", id, fields: { kind, name, place_id: placeId } });
    return id;
  });
  const visitId = uuid7();
  items.push({ type: "visit", id: visitId, fields: { kind: value("visit_kind"), place_id: placeId, started_at: startedAt, party_ids: partyIds } });
  for (const [title, category] of raised) {
    items.push({ type: "concern", id: uuid7(), fields: {
      title, category, status: "new", priority: "normal", place_id: placeId, visit_id: visitId,
      party_ids: partyIds, party_id: partyIds[0] ?? null, raised_on: started.slice(0, 10),
    } });
  }
  await store.createMany(items);
  inForm = false;
  const status = await store.status();
  await home(t("saved", { n: status.pending }));
}

start();
