// Unit tests of the field app's protocol core, run in Chromium by tests/pwa/test_pwa_unit.py.
// They run the shared conformance vectors of tests/vectors/ on the real modules and the real
// IndexedDB. Results land in window.__results; window.__done says the run is over.
import { Clock, formatStamp, parseStamp } from "/pwa/js/hlc.js";
import { canonical, decide } from "/pwa/js/merge.js";
import { pickChanges, queueEdit } from "/pwa/js/outbox.js";
import { entries } from "/pwa/js/choices.js";
import { setWords } from "/pwa/js/i18n.js";
import { bigrams, concernPeople, isSimilar, repeatVoice, similarity } from "/pwa/js/rules.js";
import { dropStore, openStore, uuid7 } from "/pwa/js/store.js";
import { syncOnce } from "/pwa/js/sync.js";

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

function check(got, want, what = "") {
  if (canonical(got) !== canonical(want)) {
    throw new Error(`${what}: got ${canonical(got)}, want ${canonical(want)}`);
  }
}

const load = async (name) => (await fetch(`/vectors/${name}.json`)).json();
const [STAMPS, MERGE, DEVICE, RULES, CHOICES] = await Promise.all(["stamps", "merge", "device", "rules", "choices"].map(load));
setWords(await (await fetch("/sync/vocabulary.json")).json());

for (const c of STAMPS.format) {
  test(`stamp format ${c.text}`, () => {
    check(formatStamp(c.wall_ms, c.counter, c.node), c.text, "format");
    check(parseStamp(c.text), { wall: c.wall_ms, counter: c.counter, node: c.node }, "parse");
  });
}
for (const text of STAMPS.invalid) {
  test(`not a stamp ${JSON.stringify(text)}`, () => {
    let threw = false;
    try {
      parseStamp(text);
    } catch {
      threw = true;
    }
    if (!threw) throw new Error("parsed");
  });
}
test("string order is time order", () => {
  const texts = STAMPS.ascending;
  check([...texts].sort(), texts, "sort");
  const byTuple = [...texts].reverse().sort((a, b) => {
    const [x, y] = [parseStamp(a), parseStamp(b)];
    return x.wall - y.wall || x.counter - y.counter || (x.node < y.node ? -1 : x.node > y.node ? 1 : 0);
  });
  check(byTuple, texts, "tuples");
});
for (const rule of ["tick", "observe"]) {
  for (const c of STAMPS[rule]) {
    test(`clock ${rule}: ${c.about}`, () => {
      const clock = new Clock(() => c.now, c.node, c.last);
      check(rule === "tick" ? clock.tick() : clock.observe(c.remote), c.expect, rule);
    });
  }
}
for (const c of MERGE.cases) {
  test(`merge: ${c.about}`, () => {
    const got = decide(c.current, c.incoming);
    check(got, { outcome: c.outcome, takesIncoming: c.takes_incoming, conflict: c.conflict });
  });
}

test("outbox: a queued field keeps its first base and place", () => {
  const first = queueEdit(null, { type: "place", id: "p", field: "name", value: "a", stamp: "s2", base: "s1" }, 1);
  const again = queueEdit(first, { type: "place", id: "p", field: "name", value: "b", stamp: "s3", base: "s2" }, 2);
  check(again, { record_type: "place", record_id: "p", field: "name", value: "b", stamp: "s3", base: "s1", seq: 1 });
});
test("outbox: a batch holds at most the record limit, each record whole", () => {
  const entries = [
    { record_type: "place", record_id: "a", field: "name", value: 1, stamp: "x", base: null, seq: 1 },
    { record_type: "place", record_id: "b", field: "name", value: 2, stamp: "x", base: null, seq: 2 },
    { record_type: "place", record_id: "a", field: "kind", value: 3, stamp: "y", base: null, seq: 3 },
  ];
  check(pickChanges(entries, 1).map((c) => [c.id, Object.keys(c.set)]), [["a", ["name", "kind"]]]);
});
test("uuid7 is a version 7 UUID that sorts by time", () => {
  const [a, b] = [uuid7(1000), uuid7(2000)];
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(a)) throw new Error(a);
  if (!(a < b)) throw new Error("order");
});
test("a failed write leaves nothing behind", async () => {
  await dropStore("unit-abort");
  const store = await openStore("unit-abort", { now: () => 1000 });
  await store.enroll({ device_id: "dev-a", token: "t" }, "pad");
  let threw = false;
  try {
    await store.write(async (tx, state) => {
      await store.edit(tx, state, "place", "p1", null, { kind: "community", name: "A" });
      throw new Error("stop");
    });
  } catch {
    threw = true;
  }
  check([threw, await store.get("p1"), await store.pendingCount()], [true, null, 0]);
  store.close();
});

/** A fake office: answers by path, problem+json for the refusals. */
function office(answers) {
  return async (url, init) => {
    const path = new URL(url).pathname.replace("/api/v1", "");
    const key = `${init.method || "GET"} ${path.startsWith("/blobs/") && path !== "/blobs/missing" ? "/blobs/*" : path.split("?")[0]}`;
    const [status, body] = answers[key] || [404, { code: "not_found" }];
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
}

test("a full photo quota is reported as such, and the photo waits", async () => {
  await dropStore("unit-quota");
  const store = await openStore("unit-quota", { now: () => Date.now() });
  await store.enroll({ device_id: "dev-q", token: "t" }, "pad");
  const id = await store.create("party", { kind: "resident", name: "张三" });
  await store.addPhoto("party", id, { sha256: "a".repeat(64), blob: new Blob(["x"]), media_type: "image/jpeg", size: 1 });
  const quota = { code: "payload_too_large", quota: "device", limit: 100, used: 99 };
  const fetcher = office({
    "POST /blobs/missing": [200, { missing: ["a".repeat(64)] }],
    "PUT /blobs/*": [413, quota],
    "POST /sync/push": [200, { applied: 1, unchanged: 0, conflicts: [], rejected: [] }],
    "GET /sync/pull": [200, { records: [], cursor: "c", more: false }],
  });
  const report = await syncOnce(store, fetcher, "http://office");
  check([report.ok, report.photos_failed, report.photo_quota], [true, 1, "device"], "report");
  store.close();
});

test("revoked with wipe: everything is sent, then nothing personal is left", async () => {
  await dropStore("unit-wipe");
  const store = await openStore("unit-wipe", { now: () => Date.now() });
  await store.enroll({ device_id: "dev-w", token: "t" }, "王芳的平板");
  await store.create("party", { kind: "resident", name: "张三", phone: "13800001111" });
  const pushed = [];
  const base = office({
    "POST /sync/push": [200, { applied: 1, unchanged: 0, conflicts: [], rejected: [] }],
    "GET /sync/pull": [401, { code: "device_revoked", wipe: true }],
    "POST /device/wiped": [200, { wiped: true }],
  });
  const fetcher = async (url, init) => {
    if (url.includes("/sync/push")) pushed.push(init.body);
    return base(url, init);
  };
  const report = await syncOnce(store, fetcher, "http://office");
  check([report.error, pushed.length, report.pending], ["device_wiped", 1, 0], "report");
  const state = await store.state();
  check([state.token, state.device_name, state.wiped, await store.list("party")], [null, "", true, []], "wiped");
  check(JSON.stringify(await store.search("张三")).includes("张三"), false, "search");
  store.close();
});

class Driver {
  constructor(store, clock) {
    this.store = store;
    this.clock = clock;
    this.batch = null;
  }
  async step(step) {
    const [[name, arg]] = Object.entries(step);
    await this[name](arg);
  }
  now(ms) {
    this.clock.ms = ms;
  }
  create(arg) {
    return this.store.create(arg.type, arg.fields, arg.id);
  }
  update(arg) {
    return this.store.update(arg.type, arg.id, arg.fields);
  }
  async send(arg) {
    const batch = await this.store.nextBatch();
    if (arg.none) return check(batch, null, "send");
    if (!batch) throw new Error("no batch");
    if (arg.same) check(batch, this.batch, "same batch");
    if (arg.changes) check(JSON.parse(batch.body).changes, arg.changes, "changes");
    this.batch = batch;
  }
  answer(arg) {
    return this.store.applyAnswer(this.batch.id, { ...arg, batch_id: this.batch.id });
  }
  pull(page) {
    return this.store.applyPull(page);
  }
  resync() {
    return this.store.requeueOwnWrites();
  }
  async expect(want) {
    const got = {};
    const status = await this.store.status();
    if ("pending" in want) got.pending = status.pending;
    if ("cursor" in want) got.cursor = status.cursor ?? null;
    if ("rejected" in want) got.rejected = status.rejected;
    if ("conflicts" in want) got.conflicts = status.conflicts;
    if ("outbox" in want) {
      const entries = (await this.store.pending()).map((e) => ({
        id: e.record_id, field: e.field, value: e.value, stamp: e.stamp, base: e.base,
      }));
      got.outbox = entries.sort((a, b) => (a.id + "\u0000" + a.field < b.id + "\u0000" + b.field ? -1 : 1));
    }
    if ("record" in want) {
      const record = (await this.store.get(want.record.id)) || {};
      got.record = Object.fromEntries(Object.keys(want.record).map((k) => [k, record[k] ?? null]));
    }
    check(got, want, "expect");
  }
}

DEVICE.scenarios.forEach((scenario, n) => {
  test(`device: ${scenario.about}`, async () => {
    const name = `unit-device-${n}`;
    await dropStore(name);
    const clock = { ms: 0 };
    const store = await openStore(name, { now: () => clock.ms });
    await store.enroll({ device_id: DEVICE.device_id, token: "t" }, "pad");
    const driver = new Driver(store, clock);
    try {
      for (const step of scenario.steps) await driver.step(step);
    } finally {
      store.close();
    }
  });
});

for (const c of RULES.similar) {
  test(`rules similar: ${c.a}|${c.b}`, () => {
    check(isSimilar(c.a, c.b), c.similar, "similar");
    check(Math.round(similarity(c.a, c.b) * 10000) / 10000, c.score, "score");
  });
}
for (const c of RULES.bigrams) {
  test(`rules bigrams: ${c.text}`, () => check([...bigrams(c.text)].sort(), c.bigrams, "bigrams"));
}
for (const c of RULES.voices) {
  test(`rules voice: ${c.about}`, () => check(repeatVoice(c.follow_up, c.voices), c.repeat, "repeat"));
}
for (const c of CHOICES.cases) {
  test(`rules list: ${c.about}`, () => check(entries(c.list, c.records), c.entries, "entries"));
}
for (const c of RULES.concern_people) {
  test(`rules people: ${c.about}`, () => check(concernPeople(c.visit_id, c.met, c.chosen), c.result, "people"));
}

const results = [];
const list = document.getElementById("results");
for (const { name, fn } of tests) {
  let error = null;
  try {
    await fn();
  } catch (e) {
    error = String(e && e.stack ? e.stack : e);
  }
  results.push({ name, ok: error === null, error });
  const item = document.createElement("li");
  item.textContent = `${error === null ? "ok" : "FAIL"} ${name}${error ? `: ${error}` : ""}`;
  list.append(item);
}
window.__results = results;
window.__done = true;
