// Pieces several screens show: a concern's line, a visit's line, 附议 counts, whether open.
import { nameOf } from "../choices.js";
import { casework, choiceName, t } from "../i18n.js";
import { app, h, link, tag } from "../ui.js";

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
