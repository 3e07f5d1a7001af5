// Search that works for Chinese: any few characters of a name, place, visit or concern text
// (a substring of the text each record keeps in the search store at write time).
import { choiceName, t } from "../i18n.js";
import { app, h, heading, link, show, tag } from "../ui.js";
import { choiceRecords, concernItem, visitLine } from "./common.js";

let timer = null;

/** Show the search screen, with the results of `q` when given. */
export async function searchPage(q = "") {
  app.inForm = false;
  const results = h("div", { id: "search-results", "aria-live": "polite" });
  const input = h("input", { type: "search", id: "q", name: "q", value: q, placeholder: t("search_placeholder"),
    "aria-label": t("search"), autocomplete: "off", maxlength: "200",
    oninput: () => {
      clearTimeout(timer);
      timer = setTimeout(() => render(input.value, results), 150);
    } });
  show(
    h("h2", {}, t("search")),
    h("form", { id: "search-form", class: "search-box", onsubmit: (e) => {
      e.preventDefault();
      clearTimeout(timer);
      history.replaceState(null, "", `#search=${encodeURIComponent(input.value.trim())}`);
      render(input.value, results);
    } }, input, h("button", { type: "submit", id: "search-go" }, t("search"))),
    results,
  );
  input.focus();
  await render(q, results);
}

async function render(q, results) {
  const text = q.trim().slice(0, 200);
  if (!text) {
    results.replaceChildren(h("p", { class: "muted" }, t("search_hint")));
    return;
  }
  const started = performance.now();
  const found = await app.store.search(text);
  const ms = performance.now() - started;
  const placeIds = new Set([...found.party, ...found.visit, ...found.concern].map((r) => r.fields.place_id).filter(Boolean));
  const places = new Map((await app.store.getMany([...placeIds])).map((p) => [p.id, p.fields.name || ""]));
  const choiceRows = await choiceRecords();
  const sections = [];
  if (found.place.length) {
    sections.push(h("section", { class: "card", id: "found-places" }, heading(3, t("search_places"), found.place.length),
      h("ul", { class: "list" }, found.place.map((p) => h("li", { class: "item" }, link(`place=${p.id}`, p.fields.name || ""), " ",
        tag(choiceName("place", "kind", p.fields.kind)), " ", h("span", { class: "muted" }, p.fields.address || ""))))));
  }
  if (found.party.length) {
    sections.push(h("section", { class: "card", id: "found-people" }, heading(3, t("search_people"), found.party.length),
      h("ul", { class: "list" }, found.party.map((p) => h("li", { class: "item" }, p.fields.name || "—", " ",
        tag(choiceName("party", "kind", p.fields.kind)), " ",
        p.fields.place_id ? link(`place=${p.fields.place_id}`, places.get(p.fields.place_id) || "") : null)))));
  }
  if (found.visit.length) {
    sections.push(h("section", { class: "card", id: "found-visits" }, heading(3, t("search_visits"), found.visit.length),
      h("ul", { class: "list" }, found.visit.map((v) => h("li", { class: "item" },
        v.fields.place_id ? link(`place=${v.fields.place_id}`, visitLine(v, places.get(v.fields.place_id))) : visitLine(v),
        v.fields.summary ? h("div", { class: "muted" }, v.fields.summary) : null)))));
  }
  if (found.concern.length) {
    sections.push(h("section", { class: "card", id: "found-concerns" }, heading(3, t("search_concerns"), found.concern.length),
      h("ul", { class: "list" }, found.concern.map((c) => concernItem(c, { choiceRows, place: places.get(c.fields.place_id) || "" })))));
  }
  results.dataset.ms = String(Math.round(ms));
  results.replaceChildren(...(sections.length ? sections : [h("p", { class: "muted", id: "nothing" }, t("search_nothing", { q: text }))]));
}
