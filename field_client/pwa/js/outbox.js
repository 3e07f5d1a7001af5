// The outbox rules (docs/protocol.md sections 5 and 6), as pure functions over plain data.

/** Queue one field edit: a field already queued keeps its first base and its place. */
export function queueEdit(existing, edit, seq) {
  if (existing) return { ...existing, value: edit.value, stamp: edit.stamp };
  return {
    record_type: edit.type,
    record_id: edit.id,
    field: edit.field,
    value: edit.value,
    stamp: edit.stamp,
    base: edit.base,
    seq,
  };
}

/** Group queued entries (oldest first) into the changes of one push: at most `maxChanges`
 * records, within `maxBytes` of JSON, each with every queued write of its record. */
export function pickChanges(entries, maxChanges = 500, maxBytes = 4 * 1024 * 1024) {
  const ordered = [...entries].sort((a, b) => a.seq - b.seq);
  const changes = new Map();
  let size = 0;
  let closed = false;
  for (const entry of ordered) {
    let change = changes.get(entry.record_id);
    if (!change) {
      size += 60 + JSON.stringify(entry.value ?? null).length;
      if (closed || changes.size >= maxChanges || (changes.size > 0 && size > maxBytes)) {
        closed = true;
        continue;
      }
      change = { type: entry.record_type, id: entry.record_id, set: {} };
      changes.set(entry.record_id, change);
    } else {
      size += 60 + JSON.stringify(entry.value ?? null).length;
    }
    change.set[entry.field] = { value: entry.value ?? null, stamp: entry.stamp, base: entry.base };
  }
  return [...changes.values()];
}

/** After an answered push: the held-back values to take (their stamp beat the pushed one). */
export function settle(changes, held, isPending) {
  const takes = [];
  for (const change of changes) {
    for (const [field, write] of Object.entries(change.set)) {
      const kept = held.get(`${change.id}\u0000${field}`);
      if (!kept || isPending(change.id, field)) continue;
      takes.push({ id: change.id, field, drop: true, take: kept.stamp > write.stamp, ...kept });
    }
  }
  return takes;
}
