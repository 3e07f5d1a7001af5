// The app's local store over IndexedDB: records, the outbox of unpushed edits, push batches,
// held-back pulled values, rejections, conflicts and the device state. Every operation runs in
// one transaction, so a closed tab or a crash leaves a consistent store, and two tabs take
// turns (IndexedDB serialises read-write transactions over the same stores).
import { Clock, formatStamp, nodeOf, parseStamp } from "./hlc.js";
import { all, drop, open, req, run } from "./idb.js";
import { pickChanges, queueEdit, settle } from "./outbox.js";

const VERSION = 1;
const STORES = ["records", "outbox", "batches", "held", "rejections", "conflicts", "state"];
const DELETED = "_deleted";

function upgrade(db) {
  const records = db.createObjectStore("records", { keyPath: "id" });
  records.createIndex("type", "type");
  db.createObjectStore("outbox", { keyPath: ["record_id", "field"] }).createIndex("seq", "seq");
  db.createObjectStore("batches", { keyPath: "id" }).createIndex("created", "created");
  db.createObjectStore("held", { keyPath: ["record_id", "field"] });
  db.createObjectStore("rejections", { keyPath: "n", autoIncrement: true });
  db.createObjectStore("conflicts", { keyPath: "id" });
  db.createObjectStore("state", { keyPath: "key" });
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
    return run(this.db, STORES, "readwrite", async (tx) => {
      const state = await readState(tx);
      const result = await fn(tx, state);
      tx.objectStore("state").put(state);
      return result;
    });
  }

  /** Run `fn(tx, state)` in one read-only transaction. */
  read(fn) {
    return run(this.db, STORES, "readonly", async (tx) => fn(tx, await readState(tx)));
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
    tx.objectStore("records").put(record);
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

  // -- sync -----------------------------------------------------------------------------------

  /** Return the oldest unanswered batch {id, body} (sent again unchanged), or make one from
   * the outbox and keep it before it is sent; null when nothing is queued. */
  nextBatch(maxChanges = 500) {
    return this.write(async (tx, state) => {
      const waiting = await req(tx.objectStore("batches").index("created").openCursor());
      if (waiting) return { id: waiting.value.id, body: waiting.value.body };
      const entries = await all(tx.objectStore("outbox"));
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
    if (record) tx.objectStore("records").put(record);
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
    tx.objectStore("records").put(record);
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
      tx.objectStore("records").put(record);
    }
  }

  observeIn(state, serverTime) {
    if (!serverTime) return;
    const clock = this.clockOf(state);
    clock.observe(serverTime);
    state.last_stamp = clock.toString();
  }

  /** Apply a pulled page and save its cursor in the same transaction; return its size. A
   * pulled field does not replace an unpushed edit of it (sent or not): it is held back. */
  applyPull(page) {
    const records = Array.isArray(page.records) ? page.records : [];
    return this.write(async (tx, state) => {
      const store = tx.objectStore("records");
      const held = tx.objectStore("held");
      const mine = new Map();
      for (const entry of await all(tx.objectStore("outbox"))) {
        if (!mine.has(entry.record_id)) mine.set(entry.record_id, new Set());
        mine.get(entry.record_id).add(entry.field);
      }
      const anyHeld = (await req(held.count())) > 0;
      for (const pulled of records) {
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
        const local = ours ? await req(store.get(pulled.id)) : null;
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
        store.put(record);
      }
      state.cursor = page.cursor ?? null;
      this.observeIn(state, page.server_time);
      return records.length;
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
        if (record) tx.objectStore("records").put(record);
      }
      state.last_stamp = clock.toString();
      state.restamp_needed = false;
      return ids.length;
    });
  }
}

function setField(record, field, value, stamp) {
  record.stamps[field] = stamp;
  if (field === DELETED) record.deleted = Boolean(value);
  else record.fields[field] = value;
}

async function readState(tx) {
  return (await req(tx.objectStore("state").get("device"))) || { key: "device" };
}
