// A visit: kind, title, place, time, the people met, the concerns raised, summary and
// attendee count, with the office's review note first when it sent the visit back; and a form
// for the visit's own fields (an ordinary edit through the outbox: the server marks a returned
// visit `resubmitted` when it arrives), as the Python field UI's visit page.
import { offered } from "../choices.js";
import { choiceName, fault, fieldName, ruleLimits, t } from "../i18n.js";
import { app, empty, go, h, heading, link, localNow, show, tag, when, withOffset } from "../ui.js";
import { TEXT_MAX, TITLE_MAX, choiceRecords, concernItem, reviewBox, visitLine } from "./common.js";

const COUNT_MAX = 1_000_000;

/** An ISO time as a datetime-local value in this device's time zone ("" for none). */
export function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : localNow(d);
}

/** The values of the visit form's fields, checked by the visit form's rules; returns
 * [values, problem]. `before` holds the inputs' first values: a time left as it was is not
 * written again (the input drops its seconds). */
export function readVisit(form, before, kinds) {
  const value = (name) => form.elements[name].value.trim();
  const kind = value("visit_kind");
  if (!kinds.some(([k]) => k === kind)) return [null, t("bad_choice") + fieldName("kind")];
  const title = value("visit_title");
  if ([...title].length > TITLE_MAX) return [null, `${fieldName("title")}: ${fault("too_long", { max: TITLE_MAX })}`];
  const summary = value("visit_summary");
  if ([...summary].length > TEXT_MAX) return [null, `${fieldName("summary")}: ${fault("too_long", { max: TEXT_MAX })}`];
  const values = { kind, title: title || null, summary: summary || null };
  const started = value("started_at");
  if (!started) return [null, t("needs") + t("when")];
  const ended = value("ended_at");
  const limit = Date.now() + ruleLimits().field_allowance_ms;
  for (const [name, local, label] of [["started_at", started, t("when")], ["ended_at", ended, fieldName("ended_at")]]) {
    if (!local || local === before[name]) continue;
    const iso = withOffset(local);
    if (new Date(iso).getTime() > limit) return [null, `${label}: ${fault("in_future")}`];
    values[name] = iso;
  }
  if (!ended && before.ended_at) values.ended_at = null;
  if (ended && new Date(ended).getTime() < new Date(started).getTime()) return [null, `${fieldName("ended_at")}: ${t("ends_before")}`];
  const count = value("attendee_count");
  if (count) {
    if (!/^\d+$/.test(count) || Number(count) > COUNT_MAX) return [null, `${fieldName("attendee_count")}: ${t("whole_number")}`];
    values.attendee_count = Number(count);
  } else values.attendee_count = null;
  return [values, ""];
}

/** Show the visit page of `visitId`. */
export async function visitPage(visitId) {
  app.inForm = false;
  const store = app.store;
  const visit = await store.get(visitId);
  if (!visit || visit.type !== "visit" || visit.deleted) return go("", t("not_found"));
  const f = visit.fields;
  const [place, ...met] = await store.getMany([f.place_id || "", ...(f.party_ids || [])]).then((rows) => [
    rows.find((r) => r.id === f.place_id), ...(f.party_ids || []).map((id) => rows.find((r) => r.id === id)).filter(Boolean)]);
  const raised = f.place_id ? (await store.atPlace(f.place_id, "concern")).filter((c) => c.fields.visit_id === visit.id && !c.deleted) : [];
  const choiceRows = await choiceRecords();
  const kinds = offered("visit.kind", choiceRows);
  const before = { started_at: localInput(f.started_at), ended_at: localInput(f.ended_at) };
  const error = h("p", { class: "error", role: "alert", hidden: true, id: "visit-error" });
  const input = (name, attrs) => h("input", { id: name, name, onfocus: () => { app.inForm = true; }, ...attrs });
  const form = h("form", { id: "visit-edit", onsubmit: async (e) => {
    e.preventDefault();
    const [values, problem] = readVisit(form, before, kinds);
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      return;
    }
    const changed = await store.update("visit", visit.id, values);
    app.inForm = false;
    const { pending } = await store.status();
    go(`visit=${visit.id}`, changed.length ? `${t("visit_saved")} ${t("saved", { n: pending })}` : t("nothing_changed"));
  } },
  h("h3", {}, t("visit_edit")),
  h("label", { for: "visit_kind" }, fieldName("kind")),
  h("select", { id: "visit_kind", name: "visit_kind" }, kinds.map(([v, name]) => h("option", { value: v, selected: v === f.kind }, name))),
  h("label", { for: "visit_title" }, fieldName("title")),
  input("visit_title", { maxlength: String(TITLE_MAX), value: f.title || "" }),
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "started_at" }, t("when")), input("started_at", { type: "datetime-local", required: true, value: before.started_at })),
    h("div", {}, h("label", { for: "ended_at" }, fieldName("ended_at")), input("ended_at", { type: "datetime-local", value: before.ended_at }))),
  h("label", { for: "attendee_count" }, fieldName("attendee_count")),
  input("attendee_count", { inputmode: "numeric", value: f.attendee_count ?? "" }),
  h("label", { for: "visit_summary" }, fieldName("summary")),
  h("textarea", { id: "visit_summary", name: "visit_summary", maxlength: String(TEXT_MAX), onfocus: () => { app.inForm = true; } }, f.summary || ""),
  error,
  h("div", { class: "actions" }, h("button", { type: "submit", id: "save-visit-edit" }, t("save"))));
  const fact = (name, value) => (value || value === 0 ? [h("dt", {}, name), h("dd", {}, value)] : []);
  show(
    h("div", { class: "page-head", id: "visit", "data-id": visit.id },
      h("p", { class: "muted small" }, t("visit_page")),
      h("h2", { id: "visit-title" }, visitLine(visit, place?.fields.name)),
      h("p", {}, tag(choiceName("visit", "kind", f.kind)), visit.pending.length ? tag(t("pending"), "pending") : null)),
    reviewBox(visit),
    h("section", { class: "card" }, h("dl", { class: "facts" },
      fact(fieldName("place_id"), place ? link(`place=${place.id}`, place.fields.name || "") : t("no_place")),
      fact(t("when"), when(f.started_at)),
      fact(fieldName("ended_at"), when(f.ended_at)),
      fact(fieldName("attendee_count"), f.attendee_count ?? ""),
      fact(fieldName("summary"), f.summary ? h("span", { class: "pre", id: "visit-summary" }, f.summary) : ""))),
    h("section", { class: "card", id: "visit-people" },
      heading(3, t("people_met"), met.length),
      met.length ? h("ul", { class: "list" }, met.map((p) => h("li", { class: "item" }, p.fields.name || "—", " ", tag(choiceName("party", "kind", p.fields.kind))))) : empty()),
    h("section", { class: "card", id: "visit-concerns" },
      heading(3, t("concerns_raised"), raised.length),
      raised.length ? h("ul", { class: "list" }, raised.map((c) => concernItem(c, { choiceRows }))) : empty()),
    h("section", { class: "card" }, form),
  );
}
