// Pieces several screens show: a concern's line, a visit's line, 附议 counts, whether open.
import { nameOf } from "../choices.js";
import { casework, choiceName, t } from "../i18n.js";
import { app, h, link, tag } from "../ui.js";

/** The vocabulary's limits for titles and longer texts (sync/records.py Text(200), Text()). */
export const TITLE_MAX = 200;
export const TEXT_MAX = 10000;

/** Whether a concern still needs work (not resolved, confirmed, duplicate or rejected). */
export function isOpen(concern) {
  return !casework().closed.includes(concern.fields.status || "new");
}

/** Count the further voices (附议) on each of `concerns`: concern id -> count. */
export async function supportCounts(concerns) {
  const about = await app.store.aboutSubjects(concerns.map((c) => c.id));
  const counts = new Map();
  for (const [id, rows] of about) {
    counts.set(id, rows.filter((f) => f.type === "follow_up" && f.fields.kind === "support").length);
  }
  return counts;
}

/** The workspace's choice records (categories, visit kinds), read once per screen. */
export const choiceRecords = () => app.store.list("choice");

/** One concern as a list item: title (a link), status, category, 附议 count. */
export function concernItem(concern, { supports = 0, choiceRows = [], place = "" } = {}) {
  const f = concern.fields;
  return h("li", { class: "item", "data-concern": concern.id },
    h("div", { class: "item-title" }, link(`concern=${concern.id}`, f.title || t("untitled"))),
    h("div", { class: "item-meta" },
      tag(choiceName("concern", "status", f.status || "new"), `status-${f.status || "new"}`),
      f.category ? tag(nameOf("concern.category", choiceRows, f.category)) : null,
      supports ? tag(t("supports", { n: supports }), "supports") : null,
      place ? h("span", {}, place) : null,
      f.raised_on ? h("span", { class: "muted" }, f.raised_on) : null));
}

/** A readable line for a visit: its title, else kind · place · date. */
export function visitLine(visit, placeName = "") {
  const f = visit.fields;
  if (f.title) return f.title;
  return [choiceName("visit", "kind", f.kind), placeName, (f.started_at || "").slice(0, 16).replace("T", " ")]
    .filter(Boolean).join(" · ");
}

/** A record's human name: its name, title or note. */
export function label(record) {
  if (!record) return "";
  const f = record.fields || {};
  return String(f.name || f.title || f.note || "");
}

/** The office's note on a returned record, shown first (empty when there is none). */
export function reviewBox(record) {
  const f = record.fields;
  if (!f.review_note && f.review_status !== "needs_changes") return null;
  return h("section", { class: "card note-box", id: "review-note" },
    h("h3", {}, t("review_note"), " ",
      f.review_status ? tag(choiceName(record.type, "review_status", f.review_status), f.review_status === "needs_changes" ? "review" : "") : null),
    f.review_note ? h("p", { class: "pre" }, f.review_note) : null,
    f.review_status === "needs_changes" ? h("p", { class: "muted small" }, t("review_fix_hint")) : null);
}
