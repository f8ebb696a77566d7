// The user's latest committed imports (the import log), newest first, each
// with a button to undo it: an officer who closed the page after a wrong
// import can still take it back.

import { clear, el } from "../dom.js";
import { currentLang, formatInteger, t } from "../i18n.js";

export function createRecentImports(section, { layers, onUndo }) {
  const list = section.querySelector("ul");
  const titles = new Map(layers.map((layer) => [layer.id, layer.title]));

  function show(imports) {
    clear(list);
    for (const item of Array.isArray(imports) ? imports : []) {
      const when = new Date(item.at).toLocaleString(currentLang() === "en" ? "en-GB" : "vi-VN");
      const counts = t("recent_counts", {
        inserted: formatInteger(Number(item.inserted) || 0),
        updated: formatInteger(Number(item.updated) || 0),
      });
      const action = item.undone_at
        ? el("span", { class: "import-recent-undone", text: t("recent_undone") })
        : el("button", {
            type: "button",
            class: "edit-button edit-button--danger",
            text: t("undo"),
            // Every entry has one: its name says which import it takes back.
            "aria-label": `${t("undo")}: ${item.file_name || "—"}, ${when}`,
            onclick: () => onUndo(item.id),
          });
      list.append(
        el("li", { class: "import-recent-item", dataset: { import: String(item.id) } }, [
          el("span", { class: "import-recent-file", text: item.file_name || "—" }),
          el("span", { class: "import-recent-meta", text: `${titles.get(item.layer) || item.layer} · ${when} · ${counts}` }),
          action,
        ]),
      );
    }
    section.hidden = list.childElementCount === 0;
  }

  return { show };
}
