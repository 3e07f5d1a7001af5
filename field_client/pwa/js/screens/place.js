// Before you walk in: a place's open concerns, recent visits, projects, people and the places
// inside it, as the Python field UI's place page. Every list comes from an index (no scan).
import { choiceName, t } from "../i18n.js";
import { app, empty, go, h, heading, link, show, tag } from "../ui.js";
import { concernItem, isOpen, visitLine } from "./common.js";

/** Show the place page of `placeId`. */
export async function placePage(placeId) {
  app.inForm = false;
  const started = performance.now();
  const store = app.store;
  const view = await store.placeView(placeId);
  if (!view) return go("", t("not_found"));
  const { place, parent, visit: visits, party: people, project: projects, place_children: children, choice: choiceRows } = view;
  const open = view.concern.filter(isOpen).sort((a, b) => (b.fields.raised_on || "").localeCompare(a.fields.raised_on || ""));
  const supports = new Map(open.map((c) => [c.id, view.about.get(c.id).filter((f) => f.type === "follow_up" && f.fields.kind === "support").length]));
  visits.sort((a, b) => (b.fields.started_at || "").localeCompare(a.fields.started_at || ""));
  const f = place.fields;
  show(
    h("div", { class: "page-head", id: "place", "data-id": place.id },
      h("p", { class: "muted small" }, t("place_before")),
      h("h2", { id: "place-name" }, f.name || ""),
      h("p", { class: "muted" }, tag(choiceName("place", "kind", f.kind)),
        parent ? link(`place=${parent.id}`, parent.fields.name || "") : null, " ", f.address || "")),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "visit-here", onclick: () => app.hooks.visitForm({ place }) }, `＋ ${t("place_visit_here")}`),
      h("button", { type: "button", class: "second", id: "concern-here", onclick: () => go(`new-concern=${place.id}`) }, t("place_concern_here"))),
    f.notes ? h("p", { class: "card pre" }, f.notes) : null,
    h("div", { class: "grid" },
      h("section", { class: "card", id: "open-concerns" },
        heading(3, t("place_open_concerns"), open.length),
        open.length ? h("ul", { class: "list" }, open.map((c) => concernItem(c, { supports: supports.get(c.id), choiceRows }))) : empty()),
      h("section", { class: "card", id: "recent-visits" },
        heading(3, t("place_recent_visits")),
        visits.length ? h("ul", { class: "list" }, visits.slice(0, 10).map((v) => h("li", { class: "item" }, link(`visit=${v.id}`, visitLine(v, f.name)),
          v.fields.summary ? h("div", { class: "muted" }, v.fields.summary) : null))) : empty()),
      h("section", { class: "card", id: "people" },
        heading(3, t("place_people")),
        people.length ? h("ul", { class: "list" }, people.map((p) => h("li", { class: "item" },
          h("div", { class: "item-title" }, p.fields.name || "—"),
          h("div", { class: "item-meta" }, tag(choiceName("party", "kind", p.fields.kind)), p.fields.organisation || "")))) : empty(),
        children.length ? h("div", { class: "chips" }, children.map((c) => link(`place=${c.id}`, c.fields.name || "", { class: "button second" }))) : null),
      projects.length ? h("section", { class: "card", id: "projects" },
        heading(3, t("place_projects")),
        h("ul", { class: "list" }, projects.map((p) => h("li", { class: "item" }, p.fields.title || "",
          " ", tag(choiceName("project", "status", p.fields.status)),
          Number.isInteger(p.fields.progress) ? ` ${t("place_progress", { n: p.fields.progress })}` : "")))) : null),
  );
  document.getElementById("place").dataset.ms = String(Math.round(performance.now() - started));
}
