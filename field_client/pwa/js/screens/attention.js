// What needs attention: changes the server refused (with its reasons in the reader's language,
// from the fault codes, and a form to fix them), conflicts the office is reviewing, and the
// office's review notes, as the Python field UI's attention page.
import { offered } from "../choices.js";
import { choiceName, choices, fault, fieldName, knownFault, t, typeName } from "../i18n.js";
import { app, go, h, heading, link, show, tag, withOffset } from "../ui.js";
import { choiceRecords, label, visitLine } from "./common.js";

/** The server's reasons for one field, in the reader's language (its English text when the
 * code is unknown here). */
export function reasons(rejection, field) {
  const texts = rejection.errors?.[field] || [];
  const codes = rejection.codes?.[field] || [];
  return (Array.isArray(texts) ? texts : [texts]).map((text, i) => {
    const entry = codes[i];
    return entry && knownFault(entry.code) ? fault(entry.code, entry.params || {}) : String(text);
  });
}

/** A value as short text (a choice by its name, a list of ids by the records' names). */
function shown(type, field, value, names) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.map((v) => names.get(v) || String(v).slice(0, 8)).join("、");
  if (typeof value === "string" && choices(type, field).length) return choiceName(type, field, value);
  return typeof value === "string" ? value : JSON.stringify(value);
}

async function namesOf(ids) {
  const rows = await app.store.getMany([...new Set(ids.filter((v) => typeof v === "string"))]);
  return new Map(rows.map((r) => [r.id, label(r)]));
}

/** Show the attention screen. */
export async function attentionPage() {
  app.inForm = false;
  const store = app.store;
  const [rejected, conflicts, reviews] = await Promise.all([store.rejections(), store.conflicts(), store.reviewNotes()]);
  const ids = [...rejected.map((r) => r.record_id), ...conflicts.map((c) => c.record_id)];
  for (const r of rejected) for (const v of Object.values(r.values)) if (Array.isArray(v)) ids.push(...v);
  for (const c of conflicts) for (const side of [c.kept, c.other]) if (Array.isArray(side?.value)) ids.push(...side.value);
  const names = await namesOf(ids);
  const placeNames = await namesOf(reviews.map((r) => r.fields.place_id));
  const nothing = !rejected.length && !conflicts.length && !reviews.length;
  show(
    h("h2", {}, t("attention")),
    nothing ? h("p", { class: "card muted", id: "attention-nothing" }, t("attention_nothing")) : null,
    rejected.length ? h("section", { class: "card", id: "rejected" },
      heading(3, t("attention_rejected"), rejected.length),
      h("p", { class: "muted small" }, t("attention_rejected_hint")),
      h("ul", { class: "list" }, rejected.map((r) => h("li", { class: "item", "data-rejection": String(r.n) },
        h("div", { class: "item-title" }, tag(typeName(r.record_type)), " ", names.get(r.record_id) || label({ fields: r.values }) || r.record_id.slice(0, 8)),
        Object.keys(r.errors || {}).map((field) => h("div", { class: "error reason" }, `${fieldName(field)}：${reasons(r, field).join("；")}`)),
        h("div", { class: "actions" }, link(`fix=${r.n}`, t("attention_fix"), { class: "button" })))))) : null,
    reviews.length ? h("section", { class: "card", id: "reviews" },
      heading(3, t("attention_reviews"), reviews.length),
      h("ul", { class: "list" }, reviews.map((r) => h("li", { class: "item", "data-review": r.id },
        h("div", { class: "item-title" }, tag(typeName(r.type)), " ",
          r.type === "concern" ? link(`concern=${r.id}`, r.fields.title || t("untitled"))
            : link(`visit=${r.id}`, visitLine(r, placeNames.get(r.fields.place_id))),
          r.fields.review_status ? [" ", tag(choiceName(r.type, "review_status", r.fields.review_status), r.fields.review_status === "needs_changes" ? "review" : "")] : null),
        r.fields.review_note ? h("p", { class: "note-box pre" }, r.fields.review_note) : null)))) : null,
    conflicts.length ? h("section", { class: "card", id: "conflicts" },
      heading(3, t("attention_conflicts"), conflicts.length),
      h("p", { class: "muted small" }, t("attention_conflicts_hint")),
      h("ul", { class: "list" }, conflicts.map((c) => h("li", { class: "item", "data-conflict": c.id },
        h("div", { class: "item-title" }, tag(typeName(c.type)), " ", names.get(c.record_id) || c.record_id.slice(0, 8), " · ", fieldName(c.field)),
        h("div", { class: "conflict-values" },
          h("div", {}, h("div", { class: "muted small" }, t("attention_kept")), shown(c.type, c.field, c.kept?.value, names)),
          h("div", {}, h("div", { class: "muted small" }, t("attention_other")), shown(c.type, c.field, c.other?.value, names))))))) : null,
  );
}

const NUMBERS = new Set(["attendee_count", "progress", "lat", "lon", "size", "position", "days"]);
const FIXED = (field) => field.startsWith("_") || field.endsWith("_id") || field.endsWith("_ids") || field === "duplicate_of" || field === "sha256";

/** The input of one refused field: a choice list, a time, a number, or text; references stay. */
function fixInput(type, field, value, choiceRows) {
  const id = `f_${field}`;
  if (FIXED(field)) return null;
  let pairs = choices(type, field);
  if (type === "concern" && field === "category") pairs = offered("concern.category", choiceRows);
  if (pairs.length) {
    return h("select", { id, name: id }, pairs.map(([v, name]) => h("option", { value: v, selected: v === value }, name)));
  }
  if (field.endsWith("_at")) {
    return h("input", { id, name: id, type: "datetime-local", value: typeof value === "string" ? value.slice(0, 16) : "" });
  }
  if (field.endsWith("_on")) return h("input", { id, name: id, type: "date", value: typeof value === "string" ? value : "" });
  if (NUMBERS.has(field)) return h("input", { id, name: id, inputmode: "decimal", value: value ?? "" });
  const text = value === null || value === undefined ? "" : String(value);
  return text.length > 120 || ["description", "summary", "notes", "note", "resolution"].includes(field)
    ? h("textarea", { id, name: id }, text)
    : h("input", { id, name: id, value: text });
}

function readInput(field, input) {
  const text = input.value.trim();
  if (!text) return null;
  if (field.endsWith("_at")) return withOffset(text.slice(0, 16));
  if (NUMBERS.has(field)) {
    const number = Number(text);
    return Number.isFinite(number) ? number : text;
  }
  return text;
}

/** Show the fix form of rejection `n`: the refused values beside the server's reasons. */
export async function fixPage(n) {
  const rejection = await app.store.rejection(Number(n));
  if (!rejection || rejection.fixed) return go("attention");
  app.inForm = true;
  const choiceRows = await choiceRecords();
  const names = await namesOf(Object.values(rejection.values).flat());
  const fields = Object.keys(rejection.values).sort((a, b) => Number(!rejection.errors?.[b]) - Number(!rejection.errors?.[a]) || 0);
  const form = h("form", { id: "fix-form", onsubmit: async (e) => {
    e.preventDefault();
    const values = {};
    for (const field of fields) {
      const input = form.elements[`f_${field}`];
      values[field] = input ? readInput(field, input) : rejection.values[field];
    }
    await app.store.fixRejection(rejection.n, values);
    app.inForm = false;
    go("attention", t("attention_fixed"));
  } },
  h("h2", {}, t("attention_fix_title")),
  h("p", {}, tag(typeName(rejection.record_type)), " ", names.get(rejection.record_id) || label({ fields: rejection.values })),
  fields.map((field) => {
    const input = fixInput(rejection.record_type, field, rejection.values[field], choiceRows);
    return h("div", { class: "fix-field", "data-field": field },
      h("label", { for: `f_${field}` }, fieldName(field)),
      reasons(rejection, field).map((text) => h("p", { class: "error reason" }, text)),
      input || h("p", { class: "muted" }, shown(rejection.record_type, field, rejection.values[field], names)));
  }),
  h("div", { class: "actions" },
    h("button", { type: "submit", id: "save-fix" }, t("save")),
    h("button", { type: "button", class: "second", onclick: () => go("attention") }, t("cancel"))));
  show(form);
}

/** How many things need the representative (the badge of the attention button). */
export async function attentionCount() {
  const [status, reviews] = await Promise.all([app.store.status(), app.store.reviewNotes()]);
  return status.rejected + reviews.length;
}

