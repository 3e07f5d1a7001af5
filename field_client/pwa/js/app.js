// The field app's shell: enroll, home (pending, last sync, Sync), record a visit with the
// people met, the concerns raised and photos, and the routes to the other screens (js/screens/:
// place, visit, concern, search, attention). All data lives in IndexedDB (store.js); sync.js talks to
// the office that served this page.
import { offered } from "./choices.js";
import { choiceName, choices, fault, fieldName, getLang, ruleLimits, setLang, setWords, t } from "./i18n.js";
import { attach, photoInput, readPhotos } from "./photos.js";
import { concernPeople, repeatVoice } from "./rules.js";
import { attentionCount, attentionPage, fixPage } from "./screens/attention.js";
import { TITLE_MAX, choiceRecords } from "./screens/common.js";
import { concernPage, newConcernPage, similarOpen } from "./screens/concern.js";
import { placePage } from "./screens/place.js";
import { searchPage } from "./screens/search.js";
import { visitPage } from "./screens/visit.js";
import { openStore, uuid7 } from "./store.js";
import { enroll, syncOnce } from "./sync.js";
import { app, go, h, link, localNow, selectOf, show, withOffset } from "./ui.js";

const BASE = new URL("../", location.href).href.replace(/\/$/, "");
let store = null;
let busy = false; // a sync is running
// Home reads the store in several steps before it shows, so two renders can overlap (this tab
// saved, another tab wrote meanwhile): each takes a turn, and only the latest started shows.
let homeTurn = 0;
let homeDrawing = false; // a home render is reading and has not shown yet
// Other tabs of the app on this device: told when records change, so their home screen shows
// the same counts (IndexedDB keeps the data consistent; this keeps the screens current).
const tabs = "BroadcastChannel" in window ? new BroadcastChannel("fieldsync") : null;

const ROUTES = {
  place: placePage,
  concern: concernPage,
  "new-concern": newConcernPage,
  search: searchPage,
  attention: attentionPage,
  fix: fixPage,
  visit: visitPage,
};

/** Show the screen the address names (`#place=ID`), else home. */
function route(result = null) {
  const match = /^#([a-z-]+)(?:=(.*))?$/.exec(location.hash);
  const screen = match && ROUTES[match[1]];
  if (!screen) return home(result);
  return screen(decodeURIComponent(match[2] || ""));
}

window.addEventListener("hashchange", async () => {
  if (!store) return;
  const code = takeEnrollCode(); // the enrollment address opened on the app already showing
  const state = await store.state();
  if (state.device_id) route();
  else if (code) doEnroll(code, t("device_default"));
});

// -- start ----------------------------------------------------------------------------------------

async function start() {
  setLang(localStorage.getItem("fieldsync-lang") || "zh");
  document.getElementById("lang").addEventListener("click", switchLang);
  // The navigation always shows its screen, also when the address already names it (home
  // from the visit form, which has no address of its own).
  document.getElementById("nav").addEventListener("click", (event) => {
    const target = event.target.closest("a");
    if (!target) return;
    event.preventDefault();
    go(target.getAttribute("href").slice(1));
  });
  try {
    setWords(await (await fetch("vocabulary.json")).json());
  } catch {
    setWords(null);
  }
  registerWorker();
  store = await openStore();
  app.store = store;
  app.hooks.visitForm = visitForm;
  const code = takeEnrollCode();
  const state = await store.state();
  if (!state.device_id && code) return doEnroll(code, t("device_default"));
  if (!state.device_id) return enrollView(code);
  await route();
  warmSoon();
}

/** Have search ready before it is needed: read its texts once the screen is idle. */
function warmSoon() {
  const later = window.requestIdleCallback || ((fn) => setTimeout(fn, 200));
  later(() => store.warm().catch(() => {}));
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
  if (!app.inForm) startView();
}

function labelChrome() {
  document.getElementById("lang").textContent = getLang() === "zh" ? "English" : "中文";
  document.getElementById("update-reload").textContent = t("reload");
  document.getElementById("update-text").textContent = t("update_ready");
  document.getElementById("nav-home").textContent = t("nav_home");
  document.getElementById("nav-search").textContent = t("nav_search");
  document.getElementById("nav-attention-text").textContent = t("nav_attention");
  offlineBanner();
}

async function startView() {
  const state = await store.state();
  return state.device_id ? route() : enrollView("");
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
    if (!registration) return; // workers blocked (a browser setting or a test)
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

tabs?.addEventListener("message", (event) => {
  if (event.data !== "changed") return;
  store?.forget(); // another tab wrote: nothing kept here is current
  // Home on screen, or on its way there (its reads may have missed that write): draw it anew.
  const onHome = homeDrawing || document.getElementById("pending");
  if (store && !app.inForm && !busy && onHome) home();
});

function changed() {
  tabs?.postMessage("changed");
}

/** A sentence for an error thrown while writing to the device's storage. */
function storageProblem(error) {
  if (error?.name === "QuotaExceededError") return t("storage_full");
  return t("save_failed") + (error?.message || String(error));
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
    if (app.inForm || busy || !navigator.onLine) return;
    const state = await store.state();
    if (!state.device_id) return;
    const report = await runSync();
    if (report && report.error === "offline") autoSync(attempt + 1);
  }, attempt === 0 ? 500 : 1000 * 2 ** attempt);
}

// -- enroll ---------------------------------------------------------------------------------------

function enrollView(code, error = "") {
  app.inForm = false;
  document.getElementById("nav").hidden = true;
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

/** Show the attention count on the navigation button. */
async function badge() {
  const count = await attentionCount();
  const node = document.getElementById("attention-count");
  node.textContent = String(count);
  node.hidden = count === 0;
}

async function home(result = null) {
  const turn = ++homeTurn;
  homeDrawing = true;
  try {
    const view = await homeView(result);
    if (turn === homeTurn) show(...view); // else a later render read the store after this one
  } finally {
    if (turn === homeTurn) homeDrawing = false;
  }
}

/** Read what home shows; return its nodes. */
async function homeView(result) {
  app.inForm = false;
  if (!result && app.flash) {
    result = app.flash; // the sentence of what was just saved
    app.flash = "";
  }
  document.getElementById("nav").hidden = false;
  badge();
  const status = await store.status();
  // The latest visits and their places only (an index, not the whole store): the home screen
  // opens as fast with 10,000 records as with ten.
  const visits = await store.recentVisits(20);
  const visited = (await store.getMany([...new Set(visits.map((v) => v.fields.place_id).filter(Boolean))]))
    .filter((p) => p.type === "place");
  const places = new Map(visited.map((p) => [p.id, p.fields.name]));
  const recent = visited.map((p) => p.id);
  if (recent.length < 8) {
    const placeRows = await store.list("place");
    for (const p of placeRows.sort((a, b) => (a.fields.name || "").localeCompare(b.fields.name || "", "zh-CN"))) {
      if (places.has(p.id)) continue;
      places.set(p.id, p.fields.name);
      recent.push(p.id);
    }
  }
  const storage = h("p", { class: "muted", id: "storage" });
  navigator.storage?.estimate?.().then(({ usage }) => {
    storage.textContent = t("storage", { used: `${((usage || 0) / 1024 / 1024).toFixed(1)} MB` });
  });
  return [
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
    h("h2", {}, t("places_recent")),
    recent.length
      ? h("div", { class: "chips", id: "places" }, recent.slice(0, 8).map((id) => link(`place=${id}`, places.get(id) || "", { class: "button second" })))
      : null,
    h("h2", {}, t("visits")),
    visits.length
      ? h("ul", { class: "list", id: "visits" }, visits.slice(0, 20).map((v) => h("li", {},
          link(`visit=${v.id}`, `${choiceName("visit", "kind", v.fields.kind)} · ${places.get(v.fields.place_id) || ""} · ${(v.fields.started_at || "").slice(0, 16).replace("T", " ")}`))))
      : h("p", { class: "muted" }, t("no_visits")),
    storage,
  ];
}

/** Run one sync from the home screen, with live progress and a plain-words result. One tab
 * syncs at a time (Web Locks): another tab that asks meanwhile is told so. */
async function runSync() {
  if (busy) return null;
  if (!navigator.locks) return syncHere();
  return navigator.locks.request("fieldsync-sync", { ifAvailable: true }, async (lock) => {
    if (lock) return syncHere();
    const report = { ok: false, error: "busy_elsewhere", message: "" };
    if (!app.inForm) await home(sentence(report));
    return report;
  });
}

async function syncHere() {
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
  } catch (error) {
    // Not a protocol stop: the device's storage refused a write (full) or another fault.
    // Whatever was written before stays; the sync can run again.
    const full = error?.name === "QuotaExceededError";
    report = { ok: false, error: full ? "storage_full" : "other", message: error?.message || String(error) };
  } finally {
    busy = false;
  }
  changed();
  warmSoon();
  if (!app.inForm) {
    if (!location.hash) await home(sentence(report));
    else {
      app.flash = sentence(report);
      await route();
    }
  }
  badge();
  return report;
}

function sentence(report) {
  if (report.ok) {
    const parts = [t("synced", report)];
    if (report.conflicts) parts.push(t("synced_conflicts", { n: report.conflicts }));
    if (report.rejected) parts.push(t("synced_rejected", { n: report.rejected }));
    if (report.returned) parts.push(t("synced_returned", { n: report.returned }));
    if (report.photos_failed) parts.push(t(report.photo_quota ? `photo_quota_${report.photo_quota}` : "synced_photos_failed", { n: report.photos_failed }));
    return parts.join(" ");
  }
  const known = ["offline", "timeout", "server_error", "device_revoked", "device_wiped", "clock_skew", "unauthorized", "busy_elsewhere", "storage_full"];
  return known.includes(report.error) ? t(report.error) : t("other_error") + (report.message || report.error);
}

// -- record a visit -------------------------------------------------------------------------------

function personRow() {
  return h("div", { class: "row person" },
    h("div", {}, h("label", {}, t("person_name")), h("input", { name: "person_name", maxlength: "200" })),
    h("div", {}, h("label", {}, fieldName("kind")), selectOf("person_kind", choices("party", "kind"), "resident")));
}

/** One concern of the visit form; once its title is typed, similar open concerns at the place
 * are offered for 附议 instead of a new concern. */
function concernRow(categories, placeOf) {
  const similar = h("div", { class: "similar-row" });
  const title = h("input", { name: "concern_title", maxlength: "200", onchange: async () => {
    const found = await similarOpen(placeOf(), title.value);
    similar.replaceChildren(...(found.length ? [
      h("label", {}, t("similar_found")),
      selectOf("support_of", [["", t("save_anyway")], ...found.map((c) => [c.id, `${t("support_this")}：${c.fields.title}`])], found[0].id),
    ] : []));
  } });
  return h("div", { class: "concern" },
    h("div", { class: "row" },
      h("div", {}, h("label", {}, t("concern_title")), title),
      h("div", {}, h("label", {}, fieldName("category")), selectOf("concern_category", categories, "other"))),
    similar);
}

/** The visit form; `place` (from its page) is filled in. */
async function visitForm({ place: chosen = null } = {}) {
  app.inForm = true;
  const places = await store.list("place");
  const choiceRows = await choiceRecords();
  const categories = offered("concern.category", choiceRows);
  const placeOf = () => places.find((p) => p.fields.name === form.elements.place_name.value.trim())?.id || null;
  const people = h("fieldset", { id: "people" }, h("legend", {}, t("people_met")), personRow());
  const concerns = h("fieldset", { id: "concerns" }, h("legend", {}, t("concerns_raised")), concernRow(categories, placeOf));
  const error = h("p", { class: "error", role: "alert", hidden: true, id: "form-error" });
  const form = h(
    "form",
    { id: "visit-form", onsubmit: (e) => { e.preventDefault(); saveVisit(form, places, error); } },
    h("h2", {}, t("record_visit")),
    h("label", { for: "visit_kind" }, fieldName("kind")),
    selectOf("visit_kind", offered("visit.kind", choiceRows), "home_visit"),
    h("label", { for: "place_name" }, t("place_name")),
    h("input", { id: "place_name", name: "place_name", list: "places", maxlength: "200", required: true, value: chosen?.fields.name || "" }),
    h("datalist", { id: "places" }, places.map((p) => h("option", { value: p.fields.name }))),
    h("label", { for: "place_kind" }, t("new_place_kind")),
    selectOf("place_kind", choices("place", "kind"), "compound"),
    h("label", { for: "started_at" }, t("when")),
    h("input", { id: "started_at", name: "started_at", type: "datetime-local", value: localNow(), required: true }),
    people,
    h("div", { class: "actions" }, h("button", { type: "button", class: "second", id: "add-person", onclick: () => people.append(personRow()) }, t("add_person"))),
    concerns,
    h("div", { class: "actions" }, h("button", { type: "button", class: "second", id: "add-concern", onclick: () => concerns.append(concernRow(categories, placeOf)) }, t("add_concern"))),
    photoInput("visit-photos"),
    error,
    h("div", { class: "actions" },
      h("button", { type: "submit", id: "save-visit" }, t("save")),
      h("button", { type: "button", class: "second", id: "cancel-visit", onclick: () => go(chosen ? `place=${chosen.id}` : "") }, t("cancel"))),
  );
  show(form);
}

async function saveVisit(form, places, error) {
  const value = (name) => form.elements[name].value.trim();
  const fail = (text) => {
    error.textContent = text;
    error.hidden = false;
  };
  const placeName = value("place_name");
  const started = value("started_at");
  const persons = [...form.querySelectorAll(".person")]
    .map((row) => [row.querySelector("[name=person_name]").value.trim(), row.querySelector("[name=person_kind]").value])
    .filter(([name]) => name);
  const raised = [...form.querySelectorAll(".concern")]
    .map((row) => ({
      title: row.querySelector("[name=concern_title]").value.trim(),
      category: row.querySelector("[name=concern_category]").value,
      supportOf: row.querySelector("[name=support_of]")?.value || "",
    }))
    .filter((c) => c.title);
  const missing = [];
  if (!placeName) missing.push(t("place_name"));
  if (!started) missing.push(t("when"));
  if (missing.length) return fail(t("needs") + missing.join("、"));
  const texts = [[t("place_name"), placeName], ...persons.map(([name]) => [t("person_name"), name]),
    ...raised.map(({ title }) => [t("concern_title"), title])];
  const long = texts.find(([, text]) => [...text].length > TITLE_MAX);
  if (long) return fail(`${long[0]}: ${fault("too_long", { max: TITLE_MAX })}`);
  const startedAt = withOffset(started);
  if (new Date(startedAt).getTime() > Date.now() + ruleLimits().field_allowance_ms) {
    return fail(`${t("when")}: ${fault("in_future")}`);
  }
  const [photos, problem] = await readPhotos(form.querySelector("input[type=file]"));
  if (problem) return fail(problem);
  const items = [];
  const place = places.find((p) => p.fields.name === placeName);
  const placeId = place ? place.id : uuid7();
  if (!place) items.push({ type: "place", id: placeId, fields: { kind: value("place_kind"), name: placeName } });
  const partyIds = persons.map(([name, kind]) => {
    const id = uuid7();
    items.push({ type: "party", id, fields: { kind, name, place_id: placeId } });
    return id;
  });
  const visitId = uuid7();
  items.push({ type: "visit", id: visitId, fields: { kind: value("visit_kind"), place_id: placeId, started_at: startedAt, party_ids: partyIds } });
  const links = concernPeople(visitId, partyIds);
  const happened = startedAt.length === 22 ? `${startedAt.slice(0, 16)}:00${startedAt.slice(16)}` : startedAt;
  for (const { title, category, supportOf } of raised) {
    if (supportOf) {
      const fields = { subject_type: "concern", subject_id: supportOf, kind: "support", note: title, happened_at: happened };
      if (links.party_id) fields.party_id = links.party_id;
      // one voice per person and concern (sync/rules.py): two rows for one concern count once
      const voices = items.filter((item) => item.type === "follow_up").map((item) => item.fields);
      if (!repeatVoice(fields, voices)) items.push({ type: "follow_up", id: uuid7(), fields });
      continue;
    }
    items.push({ type: "concern", id: uuid7(), fields: {
      title, category, status: "new", priority: "normal", place_id: placeId, ...links, raised_on: started.slice(0, 10),
    } });
  }
  try {
    await store.createMany(items);
  } catch (trouble) {
    // Nothing of this visit was kept (one transaction) and the form keeps what was typed.
    return fail(storageProblem(trouble));
  }
  try {
    await attach("visit", visitId, photos);
  } catch (trouble) {
    // The visit is saved; its photos are not: say so on home.
    changed();
    app.inForm = false;
    return go("", storageProblem(trouble));
  }
  changed();
  app.inForm = false;
  const status = await store.status();
  go("", t("saved", { n: status.pending }));
}

start();
