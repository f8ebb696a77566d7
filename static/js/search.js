// The name search box and its list of hits.

import { clear, debounce, el } from "./dom.js";
import { t, tn } from "./i18n.js";
import { featureName } from "./layers.js";

const TYPING_PAUSE_MS = 400;

export function createSearchBox(doc, { onQuery, onPick }) {
  const form = doc.getElementById("search-form");
  const input = doc.getElementById("search-input");
  const section = doc.getElementById("search-results");
  const summary = doc.getElementById("search-summary");
  const list = doc.getElementById("search-list");
  let lastQuery = input.value.trim();

  function submit() {
    const q = input.value.trim();
    if (q === lastQuery) return;
    lastQuery = q;
    onQuery(q);
  }
  const submitLater = debounce(submit, TYPING_PAUSE_MS);
  input.addEventListener("input", submitLater);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitLater.cancel();
    lastQuery = null;
    submit();
  });

  function setQuery(q) {
    lastQuery = q;
    if (input.value.trim() !== q) input.value = q;
  }

  function showHits(q, hits) {
    clear(list);
    section.hidden = false;
    summary.textContent = hits.length ? tn("results", hits.length) : t("no_results", { q });
    for (const hit of hits) list.append(hitItem(hit, onPick));
  }

  function showError() {
    clear(list);
    section.hidden = false;
    summary.textContent = t("search_error");
  }

  function hide() {
    clear(list);
    summary.textContent = "";
    section.hidden = true;
  }

  return { setQuery, showHits, showError, hide };
}

function hitItem(hit, onPick) {
  const props = hit.feature.properties || {};
  const place = [props.commune, props.district].filter(Boolean).join(", ");
  const button = el("button", { type: "button", class: "search-hit", onclick: () => onPick(hit) }, [
    el("span", { class: "search-hit-name", text: featureName(hit.feature) || "—" }),
    el("span", { class: "search-hit-meta", text: place ? `${hit.layer.title} · ${place}` : hit.layer.title }),
  ]);
  return el("li", {}, button);
}
