// A concern: its facts, the steps a representative may take (sync.casework, exported with the
// vocabulary), photos, follow-ups and further voices (附议, one per person: sync/rules.py
// mirrored in rules.js); and a new concern at a place, with similar open concerns offered
// for 附议 before a new one is made.
import { nameOf, offered } from "../choices.js";
import { casework, choiceName, choices, fieldName, t } from "../i18n.js";
import { attach, gallery, photoInput, readPhotos } from "../photos.js";
import { isSimilar, repeatVoice, similarity } from "../rules.js";
import { uuid7 } from "../store.js";
import { app, empty, go, h, heading, link, nowIso, selectOf, show, tag, today, when } from "../ui.js";
import { TEXT_MAX, TITLE_MAX, choiceRecords, isOpen, reviewBox, supportCounts, visitLine } from "./common.js";

/** The concern forms' inputs for each field: the edit form's and the new concern form's. */
const EDIT_INPUTS = { title: "edit_title", description: "edit_description", category: "edit_category", priority: "edit_priority", raised_by_group: "edit_group" };
const NEW_INPUTS = { title: "title", description: "description", category: "category", priority: "priority", raised_by_group: "raised_by_group" };

/** The values of a concern form's own fields (`inputs`: field -> input name), checked as the
 * server checks them (lengths in code points, as Python's len()); returns [values, problem]. */
function readConcern(form, inputs, choiceRows) {
  const value = (field) => form.elements[inputs[field]].value.trim();
  const title = value("title");
  if (!title) return [null, t("needs") + t("concern_title")];
  if ([...title].length > TITLE_MAX) return [null, t("too_long") + t("concern_title")];
  const description = value("description");
  if ([...description].length > TEXT_MAX) return [null, t("too_long") + fieldName("description")];
  const category = value("category");
  if (!offered("concern.category", choiceRows).some(([k]) => k === category)) return [null, t("bad_choice") + fieldName("category")];
  return [{ title, description: description || null, category, priority: value("priority") || null,
    raised_by_group: value("raised_by_group") || null }, ""];
}

/** The values a move to `target` writes (sync.casework.status_change): the status, and
 * `resolved_on` (today) when the concern becomes resolved without a date yet. */
export function statusChange(fields, target, day) {
  const values = { status: target };
  if (casework().resolved.includes(target) && !fields.resolved_on) values.resolved_on = day;
  return values;
}

/** The people a voice may name: the concern's own people, then those of its place. */
async function peopleNear(concern) {
  const own = concern.fields.party_ids || (concern.fields.party_id ? [concern.fields.party_id] : []);
  const near = concern.fields.place_id ? await app.store.atPlace(concern.fields.place_id, "party") : [];
  const found = new Map();
  for (const p of [...(await app.store.getMany(own)), ...near]) found.set(p.id, p);
  return [...found.values()];
}

/** Show the concern page of `concernId`. */
export async function concernPage(concernId) {
  app.inForm = false;
  const store = app.store;
  const concern = await store.get(concernId);
  if (!concern || concern.type !== "concern" || concern.deleted) return go("", t("not_found"));
  const f = concern.fields;
  const [place, visit] = await store.getMany([f.place_id, f.visit_id].filter(Boolean)).then((rows) => [
    rows.find((r) => r.id === f.place_id), rows.find((r) => r.id === f.visit_id)]);
  const notes = (await store.aboutSubject(concernId)).filter((r) => r.type === "follow_up");
  notes.sort((a, b) => (b.fields.happened_at || "").localeCompare(a.fields.happened_at || ""));
  const supports = notes.filter((n) => n.fields.kind === "support").length;
  const people = await peopleNear(concern);
  const names = new Map(people.map((p) => [p.id, p.fields.name || choiceName("party", "kind", p.fields.kind)]));
  const choiceRows = await choiceRecords();
  const status = f.status || "new";
  const steps = casework().representative_steps[status] || [];
  const photos = await gallery(concernId);
  const error = h("p", { class: "error", role: "alert", id: "follow-up-error", hidden: true });
  const fact = (name, value) => (value ? [h("dt", {}, name), h("dd", {}, value)] : []);
  const form = h("form", { id: "follow-up-form", onsubmit: (e) => { e.preventDefault(); saveFollowUp(concern, notes, form, error); } },
    h("h3", {}, t("follow_up_add")),
    h("label", { for: "follow_kind" }, t("follow_up_kind")),
    selectOf("follow_kind", choices("follow_up", "kind"), "note"),
    h("div", { class: "row" },
      h("div", {}, h("label", { for: "follow_group" }, fieldName("group")),
        selectOf("follow_group", [["", "—"], ...choices("follow_up", "group")], "")),
      people.length ? h("div", {}, h("label", { for: "follow_party" }, t("voice_of")),
        selectOf("follow_party", [["", "—"], ...people.map((p) => [p.id, names.get(p.id)])], "")) : null),
    h("label", { for: "follow_note" }, fieldName("note")),
    h("textarea", { id: "follow_note", name: "note", maxlength: String(TEXT_MAX), onfocus: () => { app.inForm = true; } }),
    error,
    h("div", { class: "actions" }, h("button", { type: "submit", id: "save-follow-up" }, t("save"))));
  show(
    h("div", { class: "page-head", id: "concern", "data-id": concern.id },
      h("p", { class: "muted small" }, t("concern_page")),
      h("h2", { id: "concern-title" }, f.title || t("untitled")),
      h("p", {}, tag(choiceName("concern", "status", status), `status-${status}`),
        f.category ? tag(nameOf("concern.category", choiceRows, f.category)) : null,
        f.priority ? tag(choiceName("concern", "priority", f.priority)) : null,
        supports ? tag(t("supports", { n: supports }), "supports") : null,
        concern.pending.length ? tag(t("pending"), "pending") : null)),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "support", onclick: () => addSupport(concern, notes) }, `＋ ${t("support")}`),
      place ? link(`place=${place.id}`, place.fields.name || "", { class: "button second" }) : null),
    reviewBox(concern),
    h("section", { class: "card" }, h("dl", { class: "facts" },
      fact(fieldName("place_id"), place ? link(`place=${place.id}`, place.fields.name || "") : t("no_place")),
      fact(t("from_visit"), visit ? visitLine(visit, place?.fields.name) : ""),
      fact(t("raised_by"), (f.party_ids || (f.party_id ? [f.party_id] : [])).map((p) => names.get(p) || "—").join("、")),
      fact(fieldName("raised_on"), f.raised_on),
      fact(fieldName("raised_by_group"), f.raised_by_group ? choiceName("concern", "raised_by_group", f.raised_by_group) : ""),
      fact(fieldName("responsible_unit"), f.responsible_unit),
      fact(fieldName("resolution"), f.resolution),
      fact(fieldName("due_on"), f.due_on),
      fact(fieldName("description"), f.description ? h("span", { class: "pre" }, f.description) : ""))),
    concernEdit(concern, choiceRows),
    h("section", { class: "card", id: "steps" },
      h("h3", {}, t("change_status")),
      steps.length
        ? [h("div", { class: "actions" }, steps.map((s, i) => h("button", {
            type: "button", class: i ? "second" : null, "data-step": s,
            onclick: () => takeStep(concern, s) }, t("step_to", { status: choiceName("concern", "status", s) })))),
          h("p", { class: "muted small" }, t("steps_office"))]
        : h("p", { class: "muted" }, t("steps_none"))),
    h("section", { class: "card", id: "photos-card" },
      h("h3", {}, t("photo_title")),
      photos || empty(),
      h("form", { id: "photo-form", onsubmit: (e) => { e.preventDefault(); addPhotos(concern, e.target); } },
        photoInput("concern-photos"),
        h("p", { class: "error", role: "alert", hidden: true, id: "photo-error" }),
        h("div", { class: "actions" }, h("button", { type: "submit", class: "second", id: "add-photos" }, t("photo_add"))))),
    h("section", { class: "card", id: "follow-ups" },
      h("h3", {}, t("follow_ups")),
      notes.length ? h("ul", { class: "list" }, notes.map((n) => h("li", { class: "item", "data-kind": n.fields.kind },
        tag(choiceName("follow_up", "kind", n.fields.kind)),
        n.fields.group ? tag(choiceName("follow_up", "group", n.fields.group)) : null,
        n.fields.party_id && names.get(n.fields.party_id) ? h("span", {}, names.get(n.fields.party_id), " ") : null,
        h("span", { class: "muted small" }, when(n.fields.happened_at)),
        n.fields.note ? h("div", { class: "pre" }, n.fields.note) : null))) : empty(),
      form),
  );
}

/** The form for a concern's own fields (title, description, category, priority, who raised
 * it): an ordinary edit through the outbox, open at once when the office sent it back. */
function concernEdit(concern, choiceRows) {
  const f = concern.fields;
  const error = h("p", { class: "error", role: "alert", hidden: true, id: "concern-edit-error" });
  const focus = () => { app.inForm = true; };
  const form = h("form", { id: "concern-edit", onsubmit: async (e) => {
    e.preventDefault();
    const [values, problem] = readConcern(form, EDIT_INPUTS, choiceRows);
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      return;
    }
    const changed = await app.store.update("concern", concern.id, values);
    app.inForm = false;
    go(`concern=${concern.id}`, changed.length ? t("concern_saved") : t("nothing_changed"));
  } },
  h("label", { for: "edit_title" }, t("concern_title")),
  h("input", { id: "edit_title", name: "edit_title", maxlength: String(TITLE_MAX), value: f.title || "", onfocus: focus }),
  h("label", { for: "edit_description" }, fieldName("description")),
  h("textarea", { id: "edit_description", name: "edit_description", maxlength: String(TEXT_MAX), onfocus: focus }, f.description || ""),
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "edit_category" }, fieldName("category")), selectOf("edit_category", offered("concern.category", choiceRows), f.category || "other")),
    h("div", {}, h("label", { for: "edit_priority" }, fieldName("priority")), selectOf("edit_priority", [["", "—"], ...choices("concern", "priority")], f.priority || ""))),
  h("label", { for: "edit_group" }, fieldName("raised_by_group")),
  selectOf("edit_group", [["", "—"], ...choices("concern", "raised_by_group")], f.raised_by_group || ""),
  error,
  h("div", { class: "actions" }, h("button", { type: "submit", id: "save-concern-edit" }, t("save"))));
  return h("details", { class: "card", id: "concern-edit-card", open: f.review_status === "needs_changes" },
    h("summary", {}, t("concern_edit")), form);
}

async function takeStep(concern, status) {
  const steps = casework().representative_steps[concern.fields.status || "new"] || [];
  if (!steps.includes(status)) return;
  await app.store.update("concern", concern.id, statusChange(concern.fields, status, today()));
  go(`concern=${concern.id}`, t("status_changed", { status: choiceName("concern", "status", status) }));
}

/** Save a further voice unless that person's voice is already counted; return whether saved. */
async function saveVoice(concernId, fields, voices) {
  const followUp = { subject_type: "concern", subject_id: concernId, kind: "support", happened_at: nowIso(), ...fields };
  const clean = Object.fromEntries(Object.entries(followUp).filter(([, v]) => v !== null && v !== "" && v !== undefined));
  if (repeatVoice(clean, voices.map((v) => v.fields))) return false;
  await app.store.create("follow_up", clean, uuid7());
  return true;
}

async function addSupport(concern, notes) {
  await saveVoice(concern.id, {}, notes);
  go(`concern=${concern.id}`, t("supported"));
}

async function saveFollowUp(concern, notes, form, error) {
  const kind = form.elements.follow_kind.value;
  const note = form.elements.note.value.trim();
  const group = form.elements.follow_group.value || null;
  const party = form.elements.follow_party?.value || null;
  if (!note && kind !== "support") {
    error.textContent = t("needs") + fieldName("note");
    error.hidden = false;
    return;
  }
  if ([...note].length > TEXT_MAX) {
    error.textContent = t("too_long") + fieldName("note");
    error.hidden = false;
    return;
  }
  app.inForm = false;
  if (kind === "support") {
    const saved = await saveVoice(concern.id, { group, note, party_id: party }, notes);
    return go(`concern=${concern.id}`, t(saved ? "supported" : "voice_counted"));
  }
  const fields = { subject_type: "concern", subject_id: concern.id, kind, group, note, party_id: party, happened_at: nowIso() };
  await app.store.create("follow_up", Object.fromEntries(Object.entries(fields).filter(([, v]) => v)), uuid7());
  go(`concern=${concern.id}`, t("follow_up_saved"));
}

async function addPhotos(concern, form) {
  const error = form.querySelector("#photo-error");
  const input = form.querySelector("input[type=file]");
  if (!input.files.length) {
    error.textContent = t("photo_none_chosen");
    error.hidden = false;
    return;
  }
  const [photos, problem] = await readPhotos(input);
  if (problem) {
    error.textContent = problem;
    error.hidden = false;
    return;
  }
  const n = await attach("concern", concern.id, photos);
  go(`concern=${concern.id}`, t("photo_added", { n }));
}

/** Open concerns at a place (or anywhere) whose title is like `title`, most alike first. */
export async function similarOpen(placeId, title, limit = 5) {
  if (!title.trim()) return [];
  const candidates = placeId ? await app.store.atPlace(placeId, "concern") : await app.store.list("concern");
  const found = candidates.filter((c) => isOpen(c) && isSimilar(title, c.fields.title || ""));
  found.sort((a, b) => similarity(title, b.fields.title || "") - similarity(title, a.fields.title || ""));
  return found.slice(0, limit);
}

/** Show the form for one concern raised at a place, outside a visit. */
export async function newConcernPage(placeId) {
  app.inForm = true;
  const places = await app.store.list("place");
  places.sort((a, b) => (a.fields.name || "").localeCompare(b.fields.name || "", "zh-CN"));
  const choiceRows = await choiceRecords();
  const similarBox = h("div", { id: "similar", "aria-live": "polite" });
  const error = h("p", { class: "error", role: "alert", hidden: true, id: "concern-error" });
  const form = h("form", { id: "concern-form", onsubmit: (e) => { e.preventDefault(); saveConcern(form, similarBox, error, choiceRows, false); } },
    h("h2", {}, t("concern_new")),
    h("label", { for: "place_id" }, fieldName("place_id")),
    selectOf("place_id", [["", t("no_place")], ...places.map((p) => [p.id, p.fields.name || ""])], placeId || ""),
    h("label", { for: "title" }, t("concern_title")),
    h("input", { id: "title", name: "title", maxlength: String(TITLE_MAX), required: true, placeholder: t("concern_title_ph") }),
    h("label", { for: "description" }, fieldName("description")),
    h("textarea", { id: "description", name: "description", maxlength: String(TEXT_MAX) }),
    h("div", { class: "row" },
      h("div", {}, h("label", { for: "category" }, fieldName("category")), selectOf("category", offered("concern.category", choiceRows), "other")),
      h("div", {}, h("label", { for: "priority" }, fieldName("priority")), selectOf("priority", choices("concern", "priority"), "normal"))),
    h("label", { for: "raised_by_group" }, fieldName("raised_by_group")),
    selectOf("raised_by_group", [["", "—"], ...choices("concern", "raised_by_group")], ""),
    photoInput("new-concern-photos"),
    similarBox,
    error,
    h("div", { class: "actions" },
      h("button", { type: "submit", id: "save-concern" }, t("save")),
      h("button", { type: "button", class: "second", onclick: () => go(placeId ? `place=${placeId}` : "") }, t("cancel"))));
  show(form);
}

async function saveConcern(form, similarBox, error, choiceRows, confirmed) {
  const placeId = form.elements.place_id.value.trim() || null;
  const fail = (text) => {
    error.textContent = text;
    error.hidden = false;
  };
  const [values, wrong] = readConcern(form, NEW_INPUTS, choiceRows);
  if (wrong) return fail(wrong);
  const [photos, problem] = await readPhotos(form.querySelector("input[type=file]"));
  if (problem) return fail(problem);
  const { title, raised_by_group: group } = values;
  if (!confirmed) {
    const similar = await similarOpen(placeId, title);
    if (similar.length) return offerSimilar(similar, { title, group, photos }, form, similarBox, error, choiceRows);
  }
  const fields = { ...values, status: "new", place_id: placeId, raised_on: today() };
  const id = uuid7();
  await app.store.create("concern", Object.fromEntries(Object.entries(fields).filter(([, v]) => v)), id);
  await attach("concern", id, photos);
  app.inForm = false;
  const { pending } = await app.store.status();
  go(`concern=${id}`, `${t("concern_created")} ${t("saved", { n: pending })}`);
}

async function offerSimilar(similar, typed, form, similarBox, error, choiceRows) {
  const supports = await supportCounts(similar);
  similarBox.replaceChildren(
    h("section", { class: "card similar" },
      heading(3, t("similar_found")),
      h("ul", { class: "list" }, similar.map((c) => h("li", { class: "item", "data-similar": c.id },
        h("div", { class: "item-title" }, c.fields.title || ""),
        h("div", { class: "item-meta" }, tag(choiceName("concern", "status", c.fields.status || "new")),
          supports.get(c.id) ? tag(t("supports", { n: supports.get(c.id) })) : null),
        h("button", { type: "button", class: "support-this", onclick: async () => {
          const notes = await app.store.aboutSubject(c.id);
          await saveVoice(c.id, { group: typed.group, note: typed.title }, notes);
          await attach("concern", c.id, typed.photos);
          app.inForm = false;
          go(`concern=${c.id}`, t("supported"));
        } }, t("support_this"))))),
      h("div", { class: "actions" }, h("button", { type: "button", class: "second", id: "create-anyway",
        onclick: () => saveConcern(form, similarBox, error, choiceRows, true) }, t("save_anyway")))));
  similarBox.scrollIntoView?.({ block: "nearest" });
}
