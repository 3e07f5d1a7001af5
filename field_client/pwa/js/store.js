// The app's local store over IndexedDB: records, the outbox of unpushed edits, push batches,
// held-back pulled values, rejections, conflicts and the device state. Every operation runs in
// one transaction, so a closed tab or a crash leaves a consistent store, and two tabs take
// turns (IndexedDB serialises read-write transactions over the same stores).
import { Clock, formatStamp, nodeOf, parseStamp } from "./hlc.js";
import { all, drop, open, req, run } from "./idb.js";
import { pickChanges, queueEdit, settle } from "./outbox.js";

const VERSION = 3;
const STORES = ["records", "outbox", "batches", "held", "rejections", "conflicts", "state", "search", "blobs"];
const DELETED = "_deleted";

function upgrade(db, oldVersion, tx) {
  if (oldVersion < 1) {
    const records = db.createObjectStore("records", { keyPath: "id" });
    records.createIndex("type", "type");
    db.createObjectStore("outbox", { keyPath: ["record_id", "field"] }).createIndex("seq", "seq");
    db.createObjectStore("batches", { keyPath: "id" }).createIndex("created", "created");
    db.createObjectStore("held", { keyPath: ["record_id", "field"] });
    db.createObjectStore("rejections", { keyPath: "n", autoIncrement: true });
    db.createObjectStore("conflicts", { keyPath: "id" });
    db.createObjectStore("state", { keyPath: "key" });
  }
  if (oldVersion < 2) {
    // Version 2: the screens' indexes (records by place, by subject), the search texts kept at
    // write time, and the photos' bytes (blobs) by their hash.
    const records = tx.objectStore("records");
    records.createIndex("place", ["fields.place_id", "type"]);
    records.createIndex("subject", "fields.subject_id");
    const search = db.createObjectStore("search", { keyPath: "id" });
    db.createObjectStore("blobs", { keyPath: "sha256" });
    records.openCursor().onsuccess = (event) => {
      const cursor = event.target.result;
      if (!cursor) return;
      const row = searchRow(cursor.value);
      if (row) search.put(row);
      cursor.continue();
    };
  }
  if (oldVersion < 3) {
    // Version 3: what the home screen and its badge read among 10,000 records without reading
    // them all: visits by when they happened, records the office reviewed.
    const records = tx.objectStore("records");
    records.createIndex("started", "fields.started_at");
    records.createIndex("review_status", "fields.review_status");
    records.createIndex("review_note", "fields.review_note");
  }
}

// The record types search finds, and the fields it looks in (text people typed, not references).
const SEARCHED = new Set(["place", "party", "visit", "concern"]);
const SEARCH_FIELDS = ["name", "title", "address", "phone", "organisation", "description", "summary", "notes", "resolution", "responsible_unit"];

/** Fold text for search: NFKC (full-width letters and digits as ASCII), lower case. */
export function fold(text) {
  return String(text ?? "").normalize("NFKC").toLowerCase();
}

/** The search row of a record: its searched text folded, or null for other types. */
function searchRow(record) {
  if (!SEARCHED.has(record.type)) return null;
  const parts = SEARCH_FIELDS.map((f) => record.fields?.[f]).filter((v) => typeof v === "string" && v);
  return { id: record.id, type: record.type, deleted: Boolean(record.deleted), text: fold(parts.join("\n")) };
}

/** Keep a record and its search row in one transaction. */
function putRecord(tx, record) {
  tx.objectStore("records").put(record);
  const row = searchRow(record);
  if (row) tx.objectStore("search").put(row);
}

/** Return a UUIDv7 (time-ordered) as a string. */
export function uuid7(now = Date.now()) {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Open the store named `name`; `now()` gives epoch milliseconds (tests inject one). */
export async function openStore(name = "fieldsync", { now = () => Date.now() } = {}) {
  return new Store(await open(name, VERSION, upgrade), name, now);
}

/** Delete the store named `name` (tests). */
export const dropStore = drop;

class Store {
  constructor(db, name, now) {
    this.db = db;
    this.name = name;
    this.now = now;
  }

  close() {
    this.db.close();
  }

  /** Run `fn(tx, state)` in one read-write transaction; the state row is saved after it. */
  write(fn) {
    this.forget();
    const done = run(this.db, STORES, "readwrite", async (tx) => {
      const state = await readState(tx);
      const result = await fn(tx, state);
      tx.objectStore("state").put(state);
      return result;
    });
    return done.finally(() => this.forget());
  }

  /** Run `fn(tx, state)` in one read-only transaction. */
  read(fn) {
    return run(this.db, STORES, "readonly", async (tx) => fn(tx, await readState(tx)));
  }

  /** Drop what this tab keeps in memory of the store (after a write here or in another tab). */
  forget() {
    this.searchRows = null;
  }

  clockOf(state) {
    if (!state.device_id) throw new Error("not enrolled");
    return new Clock(this.now, state.device_id, state.last_stamp);
  }

  // -- device ---------------------------------------------------------------------------------

  /** Keep an enrollment answer: the token stays in this database, never in a URL. */
  enroll(answer, deviceName) {
    return this.write(async (_tx, state) => {
      Object.assign(state, {
        device_id: answer.device_id,
        token: answer.token,
        device_name: deviceName,
        user: answer.user || {},
        workspace: answer.workspace || {},
        cursor: null,
        revoked: false,
        last_stamp: null,
      });
      if (answer.server_time) {
        const clock = this.clockOf(state);
        clock.observe(answer.server_time);
        state.last_stamp = clock.toString();
      }
    });
  }

  /** Return the device state (credentials, cursor, clock, last sync). */
  state() {
    return this.read(async (_tx, state) => state);
  }

  /** Delete every record, person, photo, search copy, queued edit and name this device holds
   * (revoke with wipe, docs/protocol.md section 8; the sync calls it with an empty outbox).
   * Keep only the device id and clock. Return how many records went. */
  wipe() {
    return this.write(async (tx, state) => {
      const gone = await req(tx.objectStore("records").count());
      for (const name of STORES) if (name !== "state") tx.objectStore(name).clear();
      Object.assign(state, { user: {}, device_name: "", cursor: null, wiped: true });
      return gone;
    });
  }

  /** Merge `values` into the device state. */
  setState(values) {
    return this.write(async (_tx, state) => Object.assign(state, values));
  }

  // -- local edits ----------------------------------------------------------------------------

  /** Create a record; return its id. */
  async create(type, fields, id = null) {
    const recordId = id || uuid7(this.now());
    await this.write(async (tx, state) => {
      if (await req(tx.objectStore("records").get(recordId))) throw new Error("id exists");
      await this.edit(tx, state, type, recordId, null, fields);
    });
    return recordId;
  }

  /** Create several records in one transaction (a visit with its people and concerns). */
  createMany(items) {
    return this.write(async (tx, state) => {
      for (const { type, id, fields } of items) {
        await this.edit(tx, state, type, id, null, fields);
      }
      return items.map((item) => item.id);
    });
  }

  /** Change fields of a record; return the names of the fields that changed. */
  update(type, id, fields) {
    return this.write(async (tx, state) => {
      const row = await req(tx.objectStore("records").get(id));
      if (!row || row.type !== type) throw new Error(`unknown ${type} ${id}`);
      const changed = {};
      for (const [name, value] of Object.entries(fields)) {
        const now = name === DELETED ? row.deleted : row.fields[name];
        if (JSON.stringify(now ?? null) !== JSON.stringify(value ?? null)) changed[name] = value;
      }
      if (Object.keys(changed).length) await this.edit(tx, state, type, id, row, changed);
      return Object.keys(changed).sort();
    });
  }

  /** Apply one edit to record, outbox and clock inside a transaction. */
  async edit(tx, state, type, id, row, values) {
    const clock = this.clockOf(state);
    const stamp = clock.tick();
    state.last_stamp = stamp;
    const record = row || { id, type, fields: {}, stamps: {}, deleted: false, meta: {} };
    const outbox = tx.objectStore("outbox");
    for (const [field, value] of Object.entries(values)) {
      const existing = await req(outbox.get([id, field]));
      const edit = { type, id, field, value, stamp, base: record.stamps[field] ?? null };
      state.seq = (state.seq || 0) + 1;
      outbox.put(queueEdit(existing, edit, state.seq));
      record.stamps[field] = stamp;
      if (field === DELETED) record.deleted = Boolean(value);
      else record.fields[field] = value;
    }
    record.updated = this.now();
    putRecord(tx, record);
  }

  // -- reading --------------------------------------------------------------------------------

  /** Return a record with `pending` (its fields edited here, not yet pushed), or null. */
  get(id) {
    return this.read(async (tx) => {
      const record = await req(tx.objectStore("records").get(id));
      if (!record) return null;
      const range = IDBKeyRange.bound([id, ""], [id, "\uffff"]);
      const entries = await all(tx.objectStore("outbox"), range);
      return { ...record, pending: entries.map((e) => e.field) };
    });
  }

  /** Read the search texts into memory ahead of the first search (when the app is idle). */
  warm() {
    return this.read(async (tx) => {
      if (!this.searchRows) this.searchRows = await all(tx.objectStore("search"));
    });
  }

  /** Return the `n` latest visits by when they happened (newest first). */
  recentVisits(n = 20) {
    return this.read(async (tx) => {
      const found = [];
      const cursor = tx.objectStore("records").index("started").openCursor(null, "prev");
      await new Promise((resolve, reject) => {
        cursor.onerror = () => reject(cursor.error);
        cursor.onsuccess = () => {
          const at = cursor.result;
          if (!at || found.length >= n) return resolve();
          if (at.value.type === "visit" && !at.value.deleted) found.push(at.value);
          at.continue();
        };
      });
      return found;
    });
  }

  /** Return the live records of a type. */
  list(type) {
    return this.read(async (tx) => {
      const rows = await all(tx.objectStore("records").index("type"), type);
      return rows.filter((r) => !r.deleted);
    });
  }

  /** Return the outbox entries, oldest first. */
  pending() {
    return this.read(async (tx) => all(tx.objectStore("outbox").index("seq")));
  }

  /** Count the records with unpushed edits. */
  async pendingCount() {
    const entries = await this.pending();
    return new Set(entries.map((e) => e.record_id)).size;
  }

  /** Return {pending, rejected, conflicts, last_sync, ...state} for the home screen. */
  status() {
    return this.read(async (tx, state) => {
      const entries = await all(tx.objectStore("outbox"));
      const rejections = await all(tx.objectStore("rejections"));
      const conflicts = await all(tx.objectStore("conflicts"));
      return {
        ...state,
        pending: new Set(entries.map((e) => e.record_id)).size,
        rejected: rejections.filter((r) => !r.fixed).length,
        conflicts: conflicts.filter((c) => c.open).length,
      };
    });
  }

  /** Return the changes the server refused and not fixed yet. */
  rejections() {
    return this.read(async (tx) => (await all(tx.objectStore("rejections"))).filter((r) => !r.fixed));
  }

  // -- the screens ----------------------------------------------------------------------------

  /** Return the live records of `type` at a place (the place index, no scan). */
  atPlace(placeId, type) {
    return this.read(async (tx) => {
      const rows = await all(tx.objectStore("records").index("place"), IDBKeyRange.only([placeId, type]));
      return rows.filter((r) => !r.deleted);
    });
  }

  /** Return the live records (follow-ups, attachments) whose subject is `subjectId`. */
  aboutSubject(subjectId) {
    return this.read(async (tx) => {
      const rows = await all(tx.objectStore("records").index("subject"), subjectId);
      return rows.filter((r) => !r.deleted);
    });
  }

  /** Everything the place page shows, read in one transaction with every request asked at
   * once: {place, parent, concern, visit, party, project, place_children, choice, about}
   * (`about`: concern id -> its follow-ups and attachments). Null for an unknown place. */
  placeView(placeId) {
    return this.read(async (tx) => {
      const records = tx.objectStore("records");
      const live = (rows) => rows.filter((r) => !r.deleted);
      const byPlace = records.index("place");
      const types = ["concern", "visit", "party", "project", "place"];
      const [place, choice, ...lists] = await Promise.all([
        req(records.get(placeId)),
        all(records.index("type"), "choice"),
        ...types.map((type) => all(byPlace, IDBKeyRange.only([placeId, type]))),
      ]);
      if (!place || place.deleted || place.type !== "place") return null;
      const view = { place, choice: live(choice), about: new Map() };
      types.forEach((type, n) => {
        view[type === "place" ? "place_children" : type] = live(lists[n]);
      });
      const subject = records.index("subject");
      const [parent, ...about] = await Promise.all([
        place.fields.parent_id ? req(records.get(place.fields.parent_id)) : null,
        ...view.concern.map((c) => all(subject, c.id)),
      ]);
      view.parent = parent && !parent.deleted ? parent : null;
      view.concern.forEach((c, n) => view.about.set(c.id, live(about[n])));
      return view;
    });
  }

  /** Return the live records about each of `subjectIds` (one transaction, asked at once):
   * a Map from subject id to its follow-ups and attachments. */
  aboutSubjects(subjectIds) {
    return this.read(async (tx) => {
      const index = tx.objectStore("records").index("subject");
      const rows = await Promise.all(subjectIds.map((id) => all(index, id)));
      return new Map(subjectIds.map((id, n) => [id, rows[n].filter((r) => !r.deleted)]));
    });
  }

  /** Return live records by id (unknown ids left out), in the order asked. */
  getMany(ids) {
    return this.read(async (tx) => {
      const store = tx.objectStore("records");
      const rows = await Promise.all(ids.map((id) => req(store.get(id))));
      return rows.filter((r) => r && !r.deleted);
    });
  }

  /** Find places, people, visits and concerns whose text contains `text` (Chinese included:
   * a substring of the folded text each record keeps in the search store at write time).
   * Return {place: [...], party: [...], visit: [...], concern: [...]}, each at most `limit`. */
  search(text, limit = 50) {
    const needle = fold(text).trim();
    const found = { place: [], party: [], visit: [], concern: [] };
    if (!needle) return Promise.resolve(found);
    return this.read(async (tx) => {
      const records = tx.objectStore("records");
      // The search texts stay in memory between searches (dropped by any write), so only the
      // first search after a change reads them all from IndexedDB.
      if (!this.searchRows) this.searchRows = await all(tx.objectStore("search"));
      const rows = this.searchRows;
      for (let i = rows.length - 1; i >= 0; i--) {
        const row = rows[i]; // newest first: ids are time-ordered
        if (!row.deleted && found[row.type].length < limit && row.text.includes(needle)) found[row.type].push(row.id);
      }
      for (const type of Object.keys(found)) {
        found[type] = (await Promise.all(found[type].map((id) => req(records.get(id))))).filter(Boolean);
      }
      return found;
    });
  }

  /** Return the conflicts the server reported that are still open, newest first. */
  conflicts() {
    return this.read(async (tx) => (await all(tx.objectStore("conflicts"))).filter((c) => c.open).reverse());
  }

  /** Return visits and concerns the office reviewed with a note or asked to change. */
  reviewNotes() {
    return this.read(async (tx) => {
      const records = tx.objectStore("records");
      const asked = await all(records.index("review_status"), "needs_changes");
      const noted = await all(records.index("review_note"));
      const rows = [...new Map([...asked, ...noted].map((r) => [r.id, r])).values()];
      return rows
        .filter((r) => (r.type === "visit" || r.type === "concern") && !r.deleted)
        .filter((r) => r.fields.review_status === "needs_changes" || r.fields.review_note)
        .sort((a, b) => (b.updated || 0) - (a.updated || 0));
    });
  }

  /** Return one rejection (also fixed ones) by its number, or null. */
  rejection(n) {
    return this.read(async (tx) => (await req(tx.objectStore("rejections").get(n))) || null);
  }

  /** Fix a rejected change: queue the corrected `values` as a new edit (even when equal to what
   * the record shows: the server never took them) and mark the rejection fixed. */
  fixRejection(n, values) {
    return this.write(async (tx, state) => {
      const rejection = await req(tx.objectStore("rejections").get(n));
      if (!rejection) throw new Error(`unknown rejection ${n}`);
      const row = await req(tx.objectStore("records").get(rejection.record_id));
      await this.edit(tx, state, rejection.record_type, rejection.record_id, row || null, values);
      rejection.fixed = true;
      rejection.fixed_at = this.now();
      tx.objectStore("rejections").put(rejection);
      return Object.keys(values);
    });
  }

  // -- photos ---------------------------------------------------------------------------------

  /** Keep a photo's bytes and create the attachment record naming them, in one transaction;
   * return the attachment's id. `photo` is {sha256, blob, media_type, size}. */
  addPhoto(subjectType, subjectId, photo) {
    const id = uuid7(this.now());
    return this.write(async (tx, state) => {
      const blobs = tx.objectStore("blobs");
      if (!(await req(blobs.get(photo.sha256)))) {
        blobs.put({ sha256: photo.sha256, blob: photo.blob, media_type: photo.media_type, size: photo.size, uploaded: false, failed: null });
      }
      const fields = { subject_type: subjectType, subject_id: subjectId, sha256: photo.sha256, media_type: photo.media_type, size: photo.size };
      await this.edit(tx, state, "attachment", id, null, fields);
      return id;
    });
  }

  /** Return a kept blob {sha256, blob, media_type, uploaded, failed}, or null. */
  blob(sha256) {
    return this.read(async (tx) => (await req(tx.objectStore("blobs").get(sha256))) || null);
  }

  /** Keep a blob fetched from the office (a photo taken on another device). */
  keepBlob(sha256, blob, mediaType) {
    return this.write(async (tx) => {
      tx.objectStore("blobs").put({ sha256, blob, media_type: mediaType, size: blob.size, uploaded: true, failed: null });
    });
  }

  /** Return the hashes of the blobs this device took and the office does not have yet. */
  blobsToUpload() {
    return this.read(async (tx) => {
      const rows = await all(tx.objectStore("blobs"));
      return rows.filter((b) => !b.uploaded).map((b) => b.sha256);
    });
  }

  /** Mark a blob uploaded (`failed` null) or its upload failed (`failed`: the reason). */
  markBlob(sha256, failed = null) {
    return this.write(async (tx) => {
      const blobs = tx.objectStore("blobs");
      const row = await req(blobs.get(sha256));
      if (!row) return;
      if (failed === null) Object.assign(row, { uploaded: true, failed: null });
      else row.failed = failed;
      blobs.put(row);
    });
  }

  /** Return the ids of queued attachments whose blob is here but not uploaded: they wait. */
  heldAttachments() {
    return this.read(async (tx) => {
      const waiting = new Set((await all(tx.objectStore("blobs"))).filter((b) => !b.uploaded).map((b) => b.sha256));
      if (!waiting.size) return new Set();
      const held = new Set();
      for (const entry of await all(tx.objectStore("outbox"))) {
        if (entry.record_type !== "attachment" || held.has(entry.record_id)) continue;
        const record = await req(tx.objectStore("records").get(entry.record_id));
        if (record && waiting.has(record.fields.sha256)) held.add(entry.record_id);
      }
      return held;
    });
  }

  // -- sync -----------------------------------------------------------------------------------

  /** Return the oldest unanswered batch {id, body} (sent again unchanged), or make one from
   * the outbox (leaving out the records in `hold`) and keep it before it is sent; null when
   * nothing is queued. */
  nextBatch(maxChanges = 500, hold = new Set()) {
    return this.write(async (tx, state) => {
      const waiting = await req(tx.objectStore("batches").index("created").openCursor());
      if (waiting) return { id: waiting.value.id, body: waiting.value.body };
      const entries = (await all(tx.objectStore("outbox"))).filter((e) => !hold.has(e.record_id));
      if (!entries.length) return null;
      const changes = pickChanges(entries, maxChanges);
      const clock = this.clockOf(state);
      const deviceTime = clock.tick();
      state.last_stamp = deviceTime;
      const id = uuid7(this.now());
      const body = JSON.stringify({ batch_id: id, device_time: deviceTime, changes });
      state.batch_n = (state.batch_n || 0) + 1;
      tx.objectStore("batches").put({ id, body, device_time: deviceTime, created: state.batch_n });
      return { id, body };
    });
  }

  /** Apply the server's answer to a batch: drop what it took, keep refused changes with their
   * reasons, show values it kept over ours, settle held-back values; return counts. */
  applyAnswer(batchId, answer) {
    return this.write(async (tx, state) => {
      const batch = await req(tx.objectStore("batches").get(batchId));
      if (!batch) return { sent: 0, conflicts: 0, rejected: 0 };
      const { changes, device_time: deviceTime } = JSON.parse(batch.body);
      const rejected = Array.isArray(answer.rejected) ? answer.rejected : [];
      const conflicts = Array.isArray(answer.conflicts) ? answer.conflicts : [];
      for (const item of rejected) await this.reject(tx, changes, deviceTime, item);
      const outbox = tx.objectStore("outbox");
      for (const change of changes) {
        for (const field of Object.keys(change.set)) {
          const entry = await req(outbox.get([change.id, field]));
          if (entry && entry.stamp < deviceTime) outbox.delete([change.id, field]);
        }
      }
      if (!state.max_acked || state.max_acked < deviceTime) state.max_acked = deviceTime;
      const pushed = new Map();
      for (const c of changes) for (const [f, w] of Object.entries(c.set)) pushed.set(`${c.id}\u0000${f}`, w.stamp);
      for (const item of conflicts) await this.keepConflict(tx, item, pushed);
      await this.settleHeld(tx, changes);
      tx.objectStore("batches").delete(batchId);
      this.observeIn(state, answer.server_time);
      return { sent: changes.length - rejected.length, conflicts: conflicts.length, rejected: rejected.length };
    });
  }

  async reject(tx, changes, deviceTime, item) {
    const change = Number.isInteger(item?.index) ? changes[item.index] : undefined;
    if (!change) return;
    const values = {};
    for (const [field, write] of Object.entries(change.set)) values[field] = write.value;
    tx.objectStore("rejections").add({
      record_type: change.type,
      record_id: change.id,
      values,
      errors: item.errors || {},
      codes: item.codes || {},
      created: this.now(),
      fixed: false,
    });
    const outbox = tx.objectStore("outbox");
    const record = await req(tx.objectStore("records").get(change.id));
    for (const [field, write] of Object.entries(change.set)) {
      const entry = await req(outbox.get([change.id, field]));
      if (entry && entry.stamp < deviceTime) outbox.delete([change.id, field]);
      if (record && record.stamps[field] === write.stamp) {
        if (write.base === null) delete record.stamps[field];
        else record.stamps[field] = write.base;
      }
    }
    if (record) putRecord(tx, record);
  }

  async keepConflict(tx, item, pushed) {
    if (!item || typeof item !== "object" || !item.id) return;
    tx.objectStore("conflicts").put({ ...item, id: String(item.id), open: true });
    const kept = item.kept || {};
    const mine = pushed.get(`${item.record_id}\u0000${item.field}`);
    if (!kept.stamp || mine === undefined || kept.stamp === mine) return;
    if (await req(tx.objectStore("outbox").get([item.record_id, item.field]))) return;
    const record = await req(tx.objectStore("records").get(item.record_id));
    if (!record) return;
    setField(record, item.field, kept.value, kept.stamp);
    putRecord(tx, record);
  }

  async settleHeld(tx, changes) {
    const heldStore = tx.objectStore("held");
    const held = new Map();
    for (const c of changes) {
      for (const field of Object.keys(c.set)) {
        const value = await req(heldStore.get([c.id, field]));
        if (value) held.set(`${c.id}\u0000${field}`, value);
      }
    }
    if (!held.size) return;
    const queued = new Set();
    for (const c of changes) {
      for (const field of Object.keys(c.set)) {
        if (await req(tx.objectStore("outbox").get([c.id, field]))) queued.add(`${c.id}\u0000${field}`);
      }
    }
    const takes = settle(changes, held, (id, field) => queued.has(`${id}\u0000${field}`));
    for (const item of takes) {
      heldStore.delete([item.id, item.field]);
      if (!item.take) continue;
      const record = await req(tx.objectStore("records").get(item.id));
      if (!record || (record.stamps[item.field] || "") >= item.stamp) continue;
      setField(record, item.field, item.value, item.stamp);
      putRecord(tx, record);
    }
  }

  observeIn(state, serverTime) {
    if (!serverTime) return;
    const clock = this.clockOf(state);
    clock.observe(serverTime);
    state.last_stamp = clock.toString();
  }

  /** Apply a pulled page and save its cursor in the same transaction; return its counts:
   * `received` (the page's size), `new` (records that change something here, not this
   * device's own writes coming back) and `returned` (office review notes new here). A
   * pulled field does not replace an unpushed edit of it (sent or not): it is held back. */
  applyPull(page) {
    const records = Array.isArray(page.records) ? page.records : [];
    const counts = { received: records.length, new: 0, returned: 0 };
    return this.write(async (tx, state) => {
      const store = tx.objectStore("records");
      const held = tx.objectStore("held");
      const mine = new Map();
      for (const entry of await all(tx.objectStore("outbox"))) {
        if (!mine.has(entry.record_id)) mine.set(entry.record_id, new Set());
        mine.get(entry.record_id).add(entry.field);
      }
      const anyHeld = (await req(held.count())) > 0;
      // Every record's row as held before, asked for at once (not one round trip each).
      const befores = await Promise.all(records.map((pulled) => req(store.get(pulled.id))));
      for (const [n, pulled] of records.entries()) {
        const record = {
          id: pulled.id,
          type: pulled.type,
          fields: { ...(pulled.fields || {}) },
          stamps: { ...(pulled.stamps || {}) },
          deleted: Boolean(pulled.deleted),
          meta: pulled.meta || {},
          updated: this.now(),
        };
        const ours = mine.get(pulled.id);
        const before = befores[n];
        const local = ours ? before : null;
        countPulled(counts, pulled, before);
        for (const field of local ? ours : []) {
          if (field in record.stamps) {
            const value = field === DELETED ? record.deleted : record.fields[field];
            held.put({ record_id: pulled.id, field, value, stamp: record.stamps[field] });
          }
          if (field in local.stamps) record.stamps[field] = local.stamps[field];
          if (field === DELETED) record.deleted = local.deleted;
          else if (field in local.fields) record.fields[field] = local.fields[field];
        }
        if (anyHeld) {
          for (const field of Object.keys(record.stamps)) {
            if (!ours?.has(field)) held.delete([pulled.id, field]);
          }
        }
        putRecord(tx, record);
      }
      state.cursor = page.cursor ?? null;
      this.observeIn(state, page.server_time);
      return counts;
    });
  }

  /** resync_required: queue this device's own writes again, drop unanswered batches and
   * forget the cursor; return how many field writes were queued. */
  requeueOwnWrites() {
    return this.write(async (tx, state) => {
      const outbox = tx.objectStore("outbox");
      let count = 0;
      for (const record of await all(tx.objectStore("records"))) {
        for (const [field, stamp] of Object.entries(record.stamps)) {
          if (nodeOf(stamp) !== state.device_id) continue;
          if (await req(outbox.get([record.id, field]))) continue;
          const value = field === DELETED ? record.deleted : record.fields[field];
          state.seq = (state.seq || 0) + 1;
          outbox.put(queueEdit(null, { type: record.type, id: record.id, field, value, stamp, base: null }, state.seq));
          count += 1;
        }
      }
      tx.objectStore("batches").clear();
      tx.objectStore("held").clear();
      state.cursor = null;
      return count;
    });
  }

  /** After clock_skew (clock fixed): fresh stamps for every queued edit; return the count of
   * records. The new stamps sort after every stamp the server took from this device. */
  restampPending(serverTime = null) {
    return this.write(async (tx, state) => {
      const entries = await all(tx.objectStore("outbox"));
      const clock = this.clockOf(state);
      let top = formatStamp(this.now(), 0, state.device_id);
      for (const text of [state.max_acked, serverTime, ...entries.map((e) => e.base)]) {
        if (text && text > top) top = text;
      }
      clock.last = parseStamp(top);
      tx.objectStore("batches").clear();
      const ids = [...new Set(entries.map((e) => e.record_id))];
      for (const id of ids) {
        const stamp = clock.tick();
        const record = await req(tx.objectStore("records").get(id));
        for (const entry of entries.filter((e) => e.record_id === id)) {
          if (record && record.stamps[entry.field] === entry.stamp) record.stamps[entry.field] = stamp;
          tx.objectStore("outbox").put({ ...entry, stamp });
        }
        if (record) putRecord(tx, record);
      }
      state.last_stamp = clock.toString();
      state.restamp_needed = false;
      return ids.length;
    });
  }
}

const REVIEW_FIELDS = ["review_status", "review_note"];

/** Count a pulled record as the Python client does (field_client/replica.py _pull_counts). */
function countPulled(counts, pulled, before) {
  const stamps = pulled.stamps || {};
  const local = before ? before.stamps : null;
  if (local && Object.entries(stamps).every(([k, v]) => local[k] === v)) return;
  counts.new += 1;
  const fields = pulled.fields || {};
  const reviewed = fields.review_status === "needs_changes" || Boolean(fields.review_note);
  const fresh = REVIEW_FIELDS.some((k) => k in stamps && (local || {})[k] !== stamps[k]);
  if ((pulled.type === "visit" || pulled.type === "concern") && reviewed && fresh) counts.returned += 1;
}

function setField(record, field, value, stamp) {
  record.stamps[field] = stamp;
  if (field === DELETED) record.deleted = Boolean(value);
  else record.fields[field] = value;
}

async function readState(tx) {
  return (await req(tx.objectStore("state").get("device"))) || { key: "device" };
}
