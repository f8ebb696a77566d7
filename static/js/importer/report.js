// What a run answered: counts, notes, the rejected rows (each one that has
// a place can be shown on the map) and, after a real import, where to see
// the features.

import { clear, el } from "../dom.js";
import { formatInteger, t } from "../i18n.js";

const MAX_REJECTED = 200;

function heading(report) {
  if (report.committed) return { kind: "success", text: t("report_committed") };
  if (report.dry_run) return { kind: report.rejected?.length ? "warning" : "info", text: t("report_dry") };
  return { kind: "error", text: t("report_nothing") };
}

export function createReport(section, { onPlace, onUndo }) {
  const title = section.querySelector("#import-report-title");
  const summary = section.querySelector("#import-report-summary");
  const notes = section.querySelector("#import-report-notes");
  const rejectedTitle = section.querySelector("#import-rejected-title");
  const rejectedList = section.querySelector("#import-rejected");
  const rejectedFile = section.querySelector("#import-rejected-file");
  const result = section.querySelector("#import-result");

  function count(label, value, key) {
    return [el("dt", { text: label }), el("dd", { dataset: { count: key }, text: formatInteger(Number(value) || 0) })];
  }

  function show(report, links) {
    const rejected = Array.isArray(report.rejected) ? report.rejected : [];
    const head = heading(report);
    title.textContent = head.text;
    section.dataset.kind = head.kind;
    section.dataset.state = report.committed ? "committed" : report.dry_run ? "dry" : "refused";

    clear(summary);
    summary.append(...count(t("rows_read"), report.rows_read, "rows_read"));
    if (report.committed) {
      summary.append(...count(t("inserted"), report.inserted, "inserted"));
      if (report.updated) summary.append(...count(t("updated"), report.updated, "updated"));
      if (report.unchanged) summary.append(...count(t("unchanged"), report.unchanged, "unchanged"));
    } else {
      summary.append(...count(t("would_load"), report.would_load, "would_load"));
      // Keyed by a field or id: how the rows would go in.
      if (report.would_update || report.unchanged) {
        summary.append(...count(t("would_insert"), report.would_insert, "would_insert"));
        summary.append(...count(t("would_update"), report.would_update, "would_update"));
        summary.append(...count(t("unchanged"), report.unchanged, "unchanged"));
      }
    }
    // Rows, not reasons: a row may be rejected for several.
    const rows = Number(report.rows_read) - Number(report.would_load);
    summary.append(...count(t("rejected"), Number.isFinite(rows) && rows >= 0 ? rows : rejected.length, "rejected"));

    clear(notes);
    const lines = [...(report.notes || [])];
    if (report.unknown_columns?.length) lines.push(t("not_imported_columns", { columns: report.unknown_columns.join(", ") }));
    if (!report.committed && !report.dry_run && rejected.length) lines.push(t("skip_hint"));
    for (const line of lines) notes.append(el("li", { text: line }));

    clear(rejectedList);
    rejectedTitle.hidden = rejected.length === 0;
    for (const entry of rejected.slice(0, MAX_REJECTED)) {
      const text = t("rejected_row", { row: formatInteger(Number(entry.row)), reason: entry.reason });
      const location = Array.isArray(entry.location) && entry.location.length === 2 ? entry.location.map(Number) : null;
      const item = el("li", { class: "import-rejected-item", dataset: { row: String(entry.row) } });
      if (location && location.every(Number.isFinite)) {
        item.append(
          el("button", {
            type: "button",
            class: "import-rejected-place",
            title: t("show_on_map"),
            text,
            onclick: () => onPlace(location, text),
          }),
        );
      } else {
        item.append(el("span", { text }));
      }
      rejectedList.append(item);
    }
    // The server sends at most its own limit of reasons, and says how many there were.
    const total = Math.max(Number(report.rejected_total) || 0, rejected.length);
    const shown = Math.min(rejected.length, MAX_REJECTED);
    if (total > shown) {
      rejectedList.append(el("li", { class: "import-rejected-more", text: t("rejected_more", { n: formatInteger(total - shown) }) }));
    }

    // Every reason, not only those sent with the report, as a file to fix the source by.
    clear(rejectedFile);
    rejectedFile.hidden = !(total > 0 && links?.rejected);
    if (!rejectedFile.hidden) {
      rejectedFile.append(el("a", { id: "import-rejected-download", href: links.rejected, download: "", text: t("rejected_download") }));
    }

    clear(result);
    result.hidden = !report.committed;
    if (report.committed && links) {
      result.append(
        el("a", { class: "edit-button edit-button--primary", id: "import-see-map", href: links.map, text: t("see_on_map") }),
        " ",
        el("a", { class: "edit-button", id: "import-see-editor", href: links.editor, text: t("see_in_editor") }),
      );
      // Only an import that wrote something is in the log, with something to undo.
      if (report.import) {
        result.append(" ", el("button", { type: "button", class: "edit-button edit-button--danger", id: "import-undo", text: t("undo"), onclick: onUndo }));
      }
    }
    section.hidden = false;
  }

  function hide() {
    section.hidden = true;
  }

  // The import was taken back: its links lead to nothing of it any more.
  function undone(text) {
    title.textContent = t("report_undone");
    section.dataset.state = "undone";
    section.dataset.kind = "info";
    clear(result);
    result.append(el("span", { id: "import-undone", text }));
  }

  return { show, hide, undone };
}
