// Hybrid logical clock stamps (docs/protocol.md section 3): "%013d-%06d-%s", ASCII only, so
// string order is time order. The wall clock is injected, never read here.

export const MAX_COUNTER = 999999;
const STAMP_RE = /^([0-9]{13})-([0-9]{6})-([A-Za-z0-9_.:-]{1,64})$/;

/** Return the one spelling of a stamp. */
export function formatStamp(wall, counter, node) {
  return `${String(wall).padStart(13, "0")}-${String(counter).padStart(6, "0")}-${node}`;
}

/** Parse a stamp's string form; throw on anything else. */
export function parseStamp(text) {
  const match = typeof text === "string" ? STAMP_RE.exec(text) : null;
  if (!match) throw new Error(`not a stamp: ${String(text).slice(0, 80)}`);
  return { wall: Number(match[1]), counter: Number(match[2]), node: match[3] };
}

/** Whether a value is a stamp in its one spelling. */
export function isStamp(text) {
  return typeof text === "string" && STAMP_RE.test(text);
}

/** Return the node id of a stamp in string form. */
export function nodeOf(text) {
  return text.slice(21);
}

/** Return the wall-clock milliseconds of a stamp in string form. */
export function wallOf(text) {
  return Number(text.slice(0, 13));
}

/** An HLC of one node; `now()` returns epoch milliseconds. */
export class Clock {
  constructor(now, node, last = null) {
    parseStamp(formatStamp(0, 0, node)); // validates the node id
    this.now = now;
    this.node = node;
    this.last = last ? parseStamp(last) : { wall: 0, counter: 0, node };
  }

  /** Stamp a local event: strictly after every stamp seen or made. */
  tick() {
    let wall = Math.max(this.last.wall, this.now());
    let counter = wall === this.last.wall ? this.last.counter + 1 : 0;
    if (counter > MAX_COUNTER) [wall, counter] = [wall + 1, 0];
    this.last = { wall, counter, node: this.node };
    return this.toString();
  }

  /** Fold a remote stamp into the clock (receive rule); return the new reading. */
  observe(remoteText) {
    const remote = parseStamp(remoteText);
    const last = this.last;
    let wall = Math.max(last.wall, remote.wall, this.now());
    let counter;
    if (wall === last.wall && wall === remote.wall) {
      counter = Math.max(last.counter, remote.counter) + 1;
    } else if (wall === last.wall) {
      counter = last.counter + 1;
    } else if (wall === remote.wall) {
      counter = remote.counter + 1;
    } else {
      counter = 0;
    }
    if (counter > MAX_COUNTER) [wall, counter] = [wall + 1, 0];
    this.last = { wall, counter, node: this.node };
    return this.toString();
  }

  toString() {
    return formatStamp(this.last.wall, this.last.counter, this.node);
  }
}
