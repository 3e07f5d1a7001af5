// A workspace's lists (concern categories, visit kinds), as sync/choices.py builds them: the
// vocabulary's defaults overlaid by the workspace's `choice` records, which the office edits
// and devices pull. A retired entry is offered only to a record that holds it already.
import { choices, getLang } from "./i18n.js";

const FIELDS = { "concern.category": ["concern", "category"], "visit.kind": ["visit", "kind"] };
const STEP = 10;

/** The entries of a list in order: {key, name_zh, name_en, position, retired}. `records` are
 * the live `choice` records of this device. */
export function entries(listName, records) {
  const [type, field] = FIELDS[listName];
  const found = new Map();
  choices(type, field, "zh").forEach(([key, zh], i) => {
    found.set(key, { key, name_zh: zh, name_en: "", position: i * STEP, retired: false });
  });
  for (const [key, en] of choices(type, field, "en")) found.get(key).name_en = en;
  const last = Math.max(0, ...[...found.values()].map((e) => e.position));
  const sorted = [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const record of sorted) {
    const f = record.fields || {};
    if (f.list !== listName || typeof f.key !== "string") continue;
    const base = found.get(f.key);
    const zh = f.name_zh || "";
    const en = f.name_en || "";
    const position = Number.isInteger(f.position) ? f.position : base ? base.position : last + STEP;
    found.set(f.key, {
      key: f.key,
      name_zh: zh || (base ? base.name_zh : "") || en || f.key,
      name_en: en || (base ? base.name_en : "") || zh || f.key,
      position,
      retired: f.retired === true,
    });
  }
  return [...found.values()].sort((a, b) => a.position - b.position || (a.key < b.key ? -1 : 1));
}

/** An entry's name in the reader's language. */
export const entryName = (entry) => (getLang() === "en" ? entry.name_en || entry.name_zh : entry.name_zh || entry.name_en);

/** [key, name] pairs to offer: active entries, plus `held` (what the record holds) even when
 * retired, so an old record keeps its value. */
export function offered(listName, records, held = null) {
  return entries(listName, records)
    .filter((e) => !e.retired || e.key === held)
    .map((e) => [e.key, entryName(e)]);
}

/** A value's name in a list (a retired entry still has its name). */
export function nameOf(listName, records, key) {
  const entry = entries(listName, records).find((e) => e.key === key);
  return entry ? entryName(entry) : String(key ?? "");
}
