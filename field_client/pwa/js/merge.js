// The server's decision for one pushed field write (docs/protocol.md section 5). The app does
// not merge; this is here so the shared vectors hold the JavaScript reading of the rules too.
import { nodeOf } from "./hlc.js";

/** Return a canonical JSON text of a value (object keys sorted), for equality. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Decide one write against the held value: {outcome, takesIncoming, conflict}. */
export function decide(current, incoming) {
  const result = (outcome, takesIncoming = false, conflict = false) => ({
    outcome,
    takesIncoming,
    conflict,
  });
  if (incoming.base !== null && !(incoming.stamp > incoming.base)) return result("malformed");
  if (current === null) return result("fast_forward", true);
  const sameNode = nodeOf(current.stamp) === nodeOf(incoming.stamp);
  if (sameNode && current.stamp >= incoming.stamp) return result("replay");
  if (sameNode || current.stamp === incoming.base) return result("fast_forward", true);
  const greater = incoming.stamp > current.stamp;
  if (canonical(current.value) === canonical(incoming.value)) {
    return result("concurrent_equal", greater);
  }
  return result(greater ? "concurrent_replaced" : "concurrent_kept", greater, true);
}
