// Record rules the screens need, mirrored from Python (sync/rules.py and the field UI's
// similar.py). The shared vectors in tests/vectors/rules.json run against both, so they
// cannot drift.

const DROP = /[^\p{L}\p{N}]+/gu;

function normal(text) {
  return String(text ?? "").normalize("NFKC").toLowerCase().replace(DROP, "");
}

/** The overlapping character pairs of `text` (punctuation and spaces dropped). */
export function bigrams(text) {
  const clean = [...normal(text)];
  if (clean.length === 1) return new Set(clean);
  const found = new Set();
  for (let i = 0; i < clean.length - 1; i++) found.add(clean[i] + clean[i + 1]);
  return found;
}

/** The Dice coefficient of the two texts' bigram sets (0 to 1). */
export function similarity(a, b) {
  const left = bigrams(a);
  const right = bigrams(b);
  if (!left.size || !right.size) return 0;
  let shared = 0;
  for (const gram of left) if (right.has(gram)) shared += 1;
  return (2 * shared) / (left.size + right.size);
}

export const THRESHOLD = 0.3;

/** Whether two short titles probably describe the same concern. */
export function isSimilar(a, b) {
  const na = normal(a);
  const nb = normal(b);
  if ([...na].length >= 2 && [...nb].length >= 2 && (na.includes(nb) || nb.includes(na))) return true;
  return similarity(a, b) >= THRESHOLD;
}

/** (concern, person) of a further voice (附议) of a known person, else null. */
export function voiceKey(followUp) {
  if (followUp?.kind !== "support" || followUp.subject_type !== "concern" || !followUp.subject_id || !followUp.party_id) {
    return null;
  }
  return `${followUp.subject_id}\u0000${followUp.party_id}`;
}

/** Whether `followUp` repeats the voice of a person already counted on that concern. */
export function repeatVoice(followUp, voices) {
  const key = voiceKey(followUp);
  return key !== null && voices.some((v) => voiceKey(v) === key);
}

/** The link fields of a concern raised in a visit: the people chosen among those met (in the
 * visit's order), or all of them when none was chosen; `party_id` is the first. */
export function concernPeople(visitId, met, chosen = []) {
  const people = [...new Set(met)];
  const picked = new Set(chosen || []);
  const named = people.filter((p) => picked.has(p));
  const result = named.length ? named : people;
  return { visit_id: visitId, party_ids: result.length ? result : null, party_id: result.length ? result[0] : null };
}
