// Entry module of the import page (/import): upload a file, read it with
// the right coordinate system and encoding, check the suggested column
// mapping on a preview, dry-run, then import.

import { addReferenceOutlines, createBaseMap, setInitialView, showWorkingArea } from "./basemap.js";
import { clear, el, readConfig, showChoice } from "./dom.js";
import { formatDecimal, formatInteger, initI18n, t } from "./i18n.js";
import { createImportApi } from "./importer/api.js";
import { createMappingTable } from "./importer/mapping.js";
import { createRecentImports } from "./importer/recent.js";
import { createConstants } from "./importer/constants.js";
import { createValuesTable } from "./importer/values.js";
import { createPreview } from "./importer/preview.js";
import { createReport } from "./importer/report.js";
import { createMessages } from "./editor/messages.js";
import { formatView } from "./state.js";

const MAX_LINK_ZOOM = 17;

function megabytes(bytes) {
  return formatDecimal(bytes / 2 ** 20, bytes < 10 * 2 ** 20 ? 1 : 0);
}

// The public map and the editor read the same #map=<zoom>/<lat>/<lon>.
function viewFragment(map, bounds) {
  if (!bounds) return "";
  const zoom = Math.min(map.getBoundsZoom(bounds), MAX_LINK_ZOOM);
  const center = bounds.getCenter();
  return `${formatView({ zoom, lat: center.lat, lon: center.lng })}&`;
}

function startImport(doc) {
  const config = readConfig(doc);
  initI18n(config, doc);
  const api = createImportApi(config);
  const byId = (id) => doc.getElementById(id);

  const mapElement = byId("import-map");
  const map = createBaseMap(mapElement, config, { zoomPosition: "topright" });
  showWorkingArea(map, config.workingArea);
  setInitialView(map, null, config);
  addReferenceOutlines(map, config);
  const panel = byId("import-panel");
  // On phones the panel is a sheet over the bottom of the map.
  const covered = () => (getComputedStyle(panel).position === "absolute" ? panel.offsetHeight : 0);
  const preview = createPreview(map, { covered });

  const messages = createMessages(byId("import-messages"));
  const statusElement = byId("import-status");
  const layerPicker = byId("import-layer");
  const fileInput = byId("import-file");
  const drop = byId("import-drop");
  const fileName = byId("import-file-name");
  const readSection = byId("import-step-read");
  const sourceRow = byId("import-source-layer-row");
  const sourcePicker = byId("import-source-layer");
  const crsInput = byId("import-crs");
  const encodingPicker = byId("import-encoding");
  const inspectButton = byId("import-inspect");
  const mappingSection = byId("import-step-mapping");
  const mappingSummary = byId("import-inspect-summary");
  const mappingNotes = byId("import-inspect-notes");
  const missingElement = byId("import-missing");
  const skipInvalid = byId("import-skip-invalid");
  const repair = byId("import-repair");
  const keyPicker = byId("import-key");
  const dryRunButton = byId("import-dry-run");
  const runButton = byId("import-run");
  const table = createMappingTable(byId("import-mapping-body"), { onChange: mappingChanged });
  const constants = createConstants(byId("import-constants"), { onChange: constantsChanged });
  const values = createValuesTable(byId("import-values"), {
    onChange: () => {
      invalidateReport();
      refreshButtons();
    },
  });
  let valuesLayer = null; // the layer the words' table was made for
  const report = createReport(byId("import-report"), {
    onPlace: (location, text) => preview.place(location, text),
    onUndo: () => undoImport(imported),
  });
  const recent = createRecentImports(byId("import-recent"), { layers: config.layers, onUndo: (id) => undoImport(id) });

  // The list is a convenience: without it the page works as before.
  async function loadRecent() {
    try {
      recent.show(await api.recent());
    } catch {
      recent.show([]);
    }
  }

  let upload = null; // what the server answered to the upload
  let inspected = null; // what it answered to the last inspect
  let done = false; // imported for real: this upload is spent
  let imported = null; // the id of this page's committed import, in the import log
  let busy = false;
  let keyChosen = false; // the user chose how rows match features for this reading: no default overrides it

  mapElement.dataset.pending = "0";
  function setBusy(value, text = "") {
    busy = value;
    mapElement.dataset.pending = value ? "1" : "0";
    doc.body.classList.toggle("is-busy", value);
    panel.setAttribute("aria-busy", String(value));
    statusElement.textContent = text;
    refreshButtons();
  }

  function progressText(job) {
    if (job.phase === "checking") return t("progress_checking");
    if (job.phase === "saving") return t("progress_saving");
    const done = formatInteger(Number(job.rows_done) || 0);
    return job.rows_total
      ? t("progress_reading", { done, total: formatInteger(Number(job.rows_total)) })
      : t("progress_reading_open", { done });
  }

  function layer() {
    return config.layers.find((item) => item.id === layerPicker.value) || null;
  }

  // context: "upload" | "inspect" | "run", one message each.
  function showError(error, context) {
    let text;
    if (error.network) text = t("network_error");
    else if (error.status === 401 || error.status === 419) text = t("session_expired");
    else if (error.status === 403) text = error.message && error.code !== null ? error.message : t("forbidden");
    else if (error.status === 413) text = t("too_large", { max: megabytes(config.maxUploadBytes || 0) });
    else text = error.message;
    messages.show(context, { kind: "error", text: t(`${context}_failed`, { reason: text }) });
  }

  // Take a committed import back (the server keeps what a colleague changed since): this page's own,
  // or one of the recent list.
  async function undoImport(importId) {
    const button = importId === imported ? byId("import-undo") : null;
    if (!importId || busy || !window.confirm(t("undo_confirm"))) return;
    setBusy(true, t("undoing"));
    let answer;
    try {
      answer = await api.undo(importId, () => setBusy(true, t("undoing")));
    } catch (error) {
      // Undone already (409), or refused by the rules (its job failed, 422): asking again changes nothing.
      if ((error.status === 409 || error.status === 422) && button) button.disabled = true;
      showError(error, "undo");
      return;
    } finally {
      setBusy(false);
      loadRecent();
    }
    let text = t("undone", {
      removed: formatInteger(answer.removed),
      restored: formatInteger(answer.restored),
      changed: formatInteger(answer.changed_since),
    });
    if (answer.unrecorded) text += ` ${t("undo_unrecorded", { n: formatInteger(answer.unrecorded) })}`;
    if (button) report.undone(text);
    statusElement.textContent = text;
  }

  // Required fields neither a column nor a value for every row fills, and fields two columns fill.
  function problems() {
    const { missing, twice } = table.problems();
    const given = constants.chosen();
    return { missing: missing.filter((f) => !(f.name in given)), twice };
  }

  function refreshButtons() {
    const ready = Boolean(inspected) && !done;
    const { missing, twice } = problems();
    const blocked = !ready || missing.length > 0 || twice.length > 0;
    dryRunButton.disabled = busy || blocked;
    runButton.disabled = busy || blocked;
    inspectButton.disabled = busy || !upload || done;
    fileInput.disabled = busy;
    layerPicker.disabled = busy || done;
  }

  function showProblems() {
    const { missing, twice } = problems();
    const lines = [];
    if (missing.length) lines.push(t("missing_required", { fields: missing.map(table.label).join(", ") }));
    if (twice.length) lines.push(t("mapped_twice", { fields: twice.map(table.label).join(", ") }));
    clear(missingElement);
    for (const line of lines) missingElement.append(el("p", { text: line }));
    missingElement.hidden = lines.length === 0;
  }

  function buildKeyPicker() {
    const previous = keyPicker.value;
    clear(keyPicker);
    keyPicker.append(el("option", { value: "", text: t("key_none") }));
    for (const f of table.mappedFields()) keyPicker.append(el("option", { value: f.name, text: table.label(f) }));
    // A file exported from this app names its features by id: sent back, it updates them in place.
    const columns = (inspected?.answer?.columns || []).map((column) => column.trim().toLowerCase());
    if (columns.includes("id")) keyPicker.append(el("option", { value: "id", text: t("key_id") }));
    const kept = [...keyPicker.options].some((o) => o.value === previous) ? previous : "";
    // An export's id and version columns together: by id, unless the user chose otherwise for this reading
    // (added as new, every row would be a copy).
    keyPicker.value = !keyChosen && columns.includes("id") && columns.includes("version") ? "id" : kept;
    showChoice(keyPicker);
  }

  // A report no longer describes what Import would do once anything changes.
  function invalidateReport() {
    if (done) return;
    report.hide();
    preview.clearPlace();
    preview.markRejected([]);
  }

  function mappingChanged() {
    values.follow(table.mapping());
    constants.show(table.problems().missing, table.label);
    showProblems();
    buildKeyPicker();
    invalidateReport();
    refreshButtons();
  }

  function constantsChanged() {
    showProblems();
    invalidateReport();
    refreshButtons();
  }

  function readOptions() {
    const crs = crsInput.value.trim();
    return {
      layer: layerPicker.value,
      source_layer: upload?.layers?.length > 1 ? sourcePicker.value : upload?.layers?.[0] ?? null,
      crs: crs || null,
      encoding: encodingPicker.value || null,
    };
  }

  function resetAfterUpload() {
    inspected = null;
    valuesLayer = null;
    done = false;
    imported = null;
    for (const input of mappingSection.querySelectorAll("select, input")) input.disabled = false;
    mappingSection.hidden = true;
    report.hide();
    preview.clear();
    messages.clearAll();
  }

  async function sendFile(file) {
    if (!file || busy) return;
    resetAfterUpload();
    upload = null;
    readSection.hidden = true;
    // Another file may come from elsewhere: start from what it says itself.
    crsInput.value = "";
    encodingPicker.value = "";
    fileName.textContent = file.name;
    const max = Number(config.maxUploadBytes) || 0;
    if (max && file.size > max) {
      messages.show("upload", { kind: "error", text: t("too_large_file", { name: file.name, max: megabytes(max) }) });
      refreshButtons();
      return;
    }
    setBusy(true, t("uploading", { name: file.name }));
    try {
      upload = await api.upload(file);
    } catch (error) {
      showError(error, "upload");
      return;
    } finally {
      setBusy(false);
    }
    showUpload();
    // One layer, or a file that says where it is: read it straight away.
    if ((upload.layers || []).length <= 1) await inspect();
  }

  function showUpload() {
    byId("import-file-summary").textContent = t("file_summary", {
      name: upload.filename || fileName.textContent,
      format: upload.format || "?",
    });
    const notes = byId("import-file-notes");
    clear(notes);
    for (const note of upload.notes || []) notes.append(el("li", { text: note }));
    clear(sourcePicker);
    for (const name of upload.layers || []) sourcePicker.append(el("option", { value: name, text: name }));
    sourceRow.hidden = (upload.layers || []).length <= 1;
    crsInput.placeholder = t("crs_placeholder");
    readSection.hidden = false;
    refreshButtons();
  }

  // After work that disabled what had focus, focus goes to `target`, what answered; but back to `origin`,
  // the control that started it, while the user is still on it (the layer picker's arrow keys), and
  // nowhere if the user has moved on meanwhile.
  function focusAnswer(target, origin = null) {
    const active = doc.activeElement;
    const lost = !active || active === doc.body || active.disabled;
    if (origin && !origin.disabled && (lost || active === origin)) origin.focus();
    else if (lost) target.focus();
  }

  async function inspect(origin = null) {
    if (!upload || busy) return;
    keyChosen = false;
    messages.remove("inspect");
    messages.remove("run");
    inspected = null;
    mappingSection.hidden = true;
    report.hide();
    preview.clear();
    const options = readOptions();
    setBusy(true, t("reading"));
    try {
      inspected = { options, answer: await api.inspect(upload.upload, options) };
    } catch (error) {
      showError(error, "inspect");
      // A wrong or missing coordinate system or text encoding is the usual cause: go there, with the
      // reason kept in sight (on a phone, focusing the box alone scrolled it away).
      if (/crs|epsg|coordinate|degree|toạ độ|tọa độ/i.test(error.message)) crsInput.focus({ preventScroll: true });
      else if (/encoding|bảng mã|utf-8/i.test(error.message)) encodingPicker.focus({ preventScroll: true });
      byId("import-messages").scrollIntoView({ block: "nearest" });
      return;
    } finally {
      setBusy(false);
    }
    showInspected(origin);
  }

  function showInspected(origin = null) {
    const answer = inspected.answer;
    const features = answer.preview?.features || [];
    const known = answer.count !== null && answer.count !== undefined;
    mappingSummary.textContent = t(known ? "inspect_summary" : "inspect_summary_uncounted", {
      n: formatInteger(Number(answer.count) || 0),
      crs: answer.crs || t("crs_unknown"),
    });
    crsInput.placeholder = answer.crs ? t("crs_from_file", { crs: answer.crs }) : t("crs_placeholder");
    // The file's notes the reading answered (an encoding or a coordinate system given) are gone from it.
    const still = new Set(answer.notes || []);
    const fileNotes = byId("import-file-notes");
    clear(fileNotes);
    for (const note of upload.notes || []) if (still.has(note)) fileNotes.append(el("li", { text: note }));
    clear(mappingNotes);
    const notes = [...(answer.notes || [])];
    if (known && features.length < Number(answer.count)) {
      notes.push(t("preview_partial", { shown: formatInteger(features.length), n: formatInteger(Number(answer.count)) }));
    }
    for (const note of notes) mappingNotes.append(el("li", { text: note }));
    table.show(layer(), answer.columns || [], answer.mapping || {}, features);
    // Picks made for the words of this upload and layer are kept through another reading.
    if (valuesLayer !== layer()?.id) values.reset(layer());
    valuesLayer = layer()?.id;
    values.replace(answer.unmatched, table.mapping());
    constants.show(table.problems().missing, table.label);
    showProblems();
    buildKeyPicker();
    mappingSection.hidden = false;
    refreshButtons();
    if (answer.preview) preview.show(answer.preview, layer()?.style);
    focusAnswer(byId("import-step-mapping-title"), origin);
  }

  async function run(dryRun) {
    if (!inspected || busy || done) return;
    const { missing, twice } = problems();
    if (missing.length || twice.length) {
      showProblems();
      return;
    }
    messages.remove("run");
    preview.clearPlace();
    const body = {
      ...inspected.options,
      mapping: table.mapping(),
      values: values.chosen(),
      set: constants.chosen(),
      dry_run: dryRun,
      skip_invalid: skipInvalid.checked,
      repair: repair.checked,
      key: keyPicker.value || null,
    };
    setBusy(true, dryRun ? t("checking") : t("importing"));
    let answer;
    try {
      answer = dryRun
        ? await api.run(upload.upload, body)
        : await api.runInBackground(upload.upload, body, (job) => setBusy(true, progressText(job)));
    } catch (error) {
      showError(error, "run");
      return;
    } finally {
      setBusy(false);
    }
    values.add(answer.unmatched, body.mapping); // words beyond the previewed rows
    if (answer.committed) {
      loadRecent();
      done = true;
      imported = answer.import;
      // This upload is spent: its mapping no longer changes anything.
      for (const select of mappingSection.querySelectorAll("select, input")) select.disabled = true;
    }
    preview.markRejected((answer.rejected || []).map((entry) => entry.row));
    if (answer.committed) preview.fit();
    const layerId = body.layer;
    const fragment = viewFragment(map, preview.bounds());
    report.show(answer, {
      map: `/#${fragment}layers=${encodeURIComponent(layerId)}`,
      editor: `/edit#${fragment}layer=${encodeURIComponent(layerId)}`,
      rejected: api.rejectedUrl(upload.upload),
    });
    if (answer.committed) {
      statusElement.textContent = t("imported_status", { n: formatInteger(Number(answer.inserted) + Number(answer.updated || 0)) });
    }
    refreshButtons();
    focusAnswer(byId("import-report-title")); // the button pressed was disabled while the page worked
  }

  // Layers this user may import into.
  for (const item of config.layers) layerPicker.append(el("option", { value: item.id, text: item.title }));
  for (const item of config.encodings || []) encodingPicker.append(el("option", { value: item.value, text: item.label }));
  byId("import-max-size").textContent = t("max_size", { max: megabytes(Number(config.maxUploadBytes) || 0) });

  if (!config.layers.length) {
    messages.show("layers", { kind: "warning", text: t("no_layers") });
    fileInput.disabled = true;
    layerPicker.disabled = true;
    doc.body.dataset.importReady = "true";
    return;
  }

  layerPicker.addEventListener("change", () => {
    // Suggestions depend on the layer's fields: read the file again.
    if (upload && !done) inspect(layerPicker);
  });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files?.[0];
    // Cleared so that choosing the same file again, once fixed, sends it again.
    fileInput.value = "";
    sendFile(file);
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      if (!busy) drop.classList.add("is-over");
    });
  }
  for (const type of ["dragleave", "dragend"]) drop.addEventListener(type, () => drop.classList.remove("is-over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("is-over");
    const file = event.dataTransfer?.files?.[0];
    if (file && !busy) sendFile(file);
  });
  for (const input of [sourcePicker, crsInput, encodingPicker]) {
    input.addEventListener("change", () => {
      if (!inspected || done) return;
      // The preview and mapping came from other options: read again first.
      inspected = null;
      mappingSection.hidden = true;
      report.hide();
      preview.clear();
      refreshButtons();
    });
  }
  byId("import-read-form").addEventListener("submit", (event) => {
    event.preventDefault();
    inspect();
  });
  for (const input of [skipInvalid, repair]) input.addEventListener("change", invalidateReport);
  keyPicker.addEventListener("change", () => {
    keyChosen = true;
    showChoice(keyPicker);
    invalidateReport();
  });
  dryRunButton.addEventListener("click", () => run(true));
  runButton.addEventListener("click", () => run(false));
  window.addEventListener("beforeunload", (event) => {
    if (busy) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  refreshButtons();
  loadRecent();
  doc.body.dataset.importReady = "true";
}

startImport(document);
