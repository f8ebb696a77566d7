// Entry module of the editor page (/edit): pick a layer, select or draw a
// feature, fill in its attributes and save it through the write API.

import { bboxParam, fetchItems } from "./api.js";
import { debounce, el, readConfig } from "./dom.js";
import { formatInteger, initI18n, t, updateLanguageLinks } from "./i18n.js";
import { NetworkError, createWriteApi, featureId } from "./editor/api.js";
import { addReferenceOutlines, createBaseMap, setInitialView, showWorkingArea } from "./basemap.js";
import { createConflict } from "./editor/conflict.js";
import { createDrawing } from "./editor/draw.js";
import { createBackground, createFeatureList, featureLabel } from "./editor/features.js";
import { createForm } from "./editor/form.js";
import { createHistoryPanel, formatDateTime } from "./editor/history.js";
import { createMessages } from "./editor/messages.js";
import { createProblems } from "./editor/problems.js";
import { formatView, parseHash as parseMapHash } from "./state.js";

const L = window.L;

const MAX_FEATURES = 2000;
const RELOAD_DELAY_MS = 250;
const MESSAGE_MS = 6000;

// #map=<zoom>/<lat>/<lon>&layer=<id>&feature=<id>: a reload reopens the
// same feature in the same place. The view is read as the public map reads it.
function parseHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const feature = params.get("feature");
  return {
    view: parseMapHash(hash).view,
    layer: params.get("layer"),
    feature: feature && /^[\w-]{1,64}$/.test(feature) ? feature : null,
  };
}

function formatHash(map, layerId, feature) {
  const center = map.getCenter();
  const zoom = map.getZoom();
  const parts = [formatView({ zoom, lat: center.lat, lon: center.lng })];
  if (layerId) parts.push(`layer=${encodeURIComponent(layerId)}`);
  if (feature !== null && feature !== undefined) parts.push(`feature=${encodeURIComponent(feature)}`);
  return `#${parts.join("&")}`;
}

function vertexCount(geometry) {
  if (!geometry) return 0;
  const count = (coords) => (typeof coords[0] === "number" ? 1 : coords.reduce((sum, c) => sum + count(c), 0));
  return count(geometry.coordinates || []);
}

function startEditor(doc) {
  const config = readConfig(doc);
  initI18n(config, doc);
  const api = createWriteApi(config);
  const mapElement = doc.getElementById("edit-map");
  const map = createBaseMap(mapElement, config, { zoomPosition: "topright" });
  showWorkingArea(map, config.workingArea);
  const statusElement = doc.getElementById("edit-status");
  const section = doc.getElementById("edit-feature");
  const formElement = doc.getElementById("edit-form");
  const title = doc.getElementById("edit-feature-title");
  const meta = doc.getElementById("edit-feature-meta");
  const picker = doc.getElementById("edit-layer");
  const shapeTools = doc.getElementById("edit-shape-tools");
  const messages = createMessages(doc.getElementById("edit-messages"));

  let pending = 0;
  const track = async (promise) => {
    mapElement.dataset.pending = String(++pending);
    try {
      return await promise;
    } finally {
      mapElement.dataset.pending = String(--pending);
    }
  };
  mapElement.dataset.pending = "0";

  let statusTimer = null;
  function status(text, { transient = true } = {}) {
    clearTimeout(statusTimer);
    statusElement.textContent = text || "";
    if (text && transient) statusTimer = setTimeout(() => status(""), MESSAGE_MS);
  }

  // What is being edited. id null: a new feature, not saved yet.
  let layer = null;
  let current = null;
  let dirty = false;
  // Attribute-only saves leave the shape alone, so old data that would no
  // longer pass today's shape checks can still have its attributes fixed.
  let reshaped = false;
  let form = null;
  let loadGeneration = 0;

  const districts = Array.isArray(config.user?.districts) ? new Set(config.user.districts.map(String)) : null;
  const background = createBackground(map, {
    onPick: (id) => select(id),
    isBusy: () => draw.busy(),
    mayEdit: (feature) => !districts || districts.has(String(feature.properties?.district_code ?? "")),
  });
  const list = createFeatureList(doc, { onPick: (id) => select(id, { fit: true }) });
  const draw = createDrawing(map, { onCreate: drawn, onChange: shapeChanged });
  const problems = createProblems(map, messages, {
    names: (id) => {
      const feature = background.get(id);
      return feature ? featureLabel(feature) : `#${id}`;
    },
    highlight: (ids) => background.highlight(ids),
    useRepaired: (geometry) => {
      draw.load(geometry);
      shapeChanged();
      messages.show("repair", { kind: "info", text: t("repair_applied") });
    },
  });
  const conflict = createConflict(map, messages, {
    loadTheirs,
    useShape: (geometry) => {
      draw.load(geometry);
      shapeChanged();
    },
    useValues: (props) => {
      form.setValues({ ...current.feature?.properties, ...props });
      setDirty(true);
    },
  });
  const history = createHistoryPanel(doc, map, { onRestore: restore });

  function shapeChanged() {
    reshaped = true;
    setDirty(true);
  }

  function setDirty(value) {
    dirty = value;
    section.dataset.dirty = String(value);
    showMeta();
  }

  function writeHash() {
    const hash = formatHash(map, layer?.id, current?.id ?? null);
    window.history.replaceState(null, "", hash);
    updateLanguageLinks(doc, { hash });
  }

  function showScope() {
    const scope = doc.getElementById("edit-scope");
    const codes = config.user?.districts;
    if (!Array.isArray(codes)) {
      scope.textContent = t("scope_all");
      return;
    }
    const names = codes.map((code) => config.districts?.find((d) => d.code === code)?.name ?? code);
    scope.textContent = t("scope_districts", { districts: names.join(", ") });
  }

  function buildPicker() {
    for (const item of config.layers) {
      picker.append(el("option", { value: item.id, text: item.title }));
    }
    picker.disabled = config.layers.length < 2;
    picker.addEventListener("change", async () => {
      const wanted = picker.value;
      if (!(await confirmDiscard())) {
        picker.value = layer.id;
        return;
      }
      chooseLayer(wanted);
    });
  }

  function chooseLayer(layerId) {
    layer = config.layers.find((item) => item.id === layerId) || config.layers[0];
    picker.value = layer.id;
    deselect();
    form = createForm(formElement, layer, { onInput: () => setDirty(true) });
    draw.setLayer(layer);
    background.setLayer(layer);
    buildShapeTools();
    writeHash();
    return reloadFeatures();
  }

  function buildShapeTools() {
    const tool = (id, label, onclick) =>
      el("button", { type: "button", class: "edit-button edit-button--small", id, text: label, onclick });
    shapeTools.replaceChildren();
    if (layer.geometry !== "Point") {
      shapeTools.append(
        tool("edit-add-part", t("add_part"), () => {
          draw.addPart();
          status(t("add_part_hint"));
        }),
      );
    }
    shapeTools.append(tool("edit-check", t("check_shape"), checkShape));
  }

  async function reloadFeatures() {
    if (!layer) return;
    const generation = ++loadGeneration;
    const layerId = layer.id;
    try {
      const collection = await track(
        fetchItems(config.apiBase, layerId, { bbox: bboxParam(map.getBounds().pad(0.1)), limit: MAX_FEATURES }),
      );
      if (generation !== loadGeneration || layerId !== layer.id) return;
      const features = collection.features || [];
      background.setFeatures(features);
      background.hide(current?.id ?? null);
      list.show(background.features({ editable: true }), features.length >= MAX_FEATURES);
      list.select(current?.id ?? null);
      if (features.length >= MAX_FEATURES) status(t("too_many", { n: formatInteger(MAX_FEATURES) }));
    } catch {
      if (generation === loadGeneration) status(t("load_error", { layer: layer.title }));
    }
  }
  const reloadLater = debounce(reloadFeatures, RELOAD_DELAY_MS);

  // Never drop unsaved work without asking.
  async function confirmDiscard() {
    if (!current || !dirty) return true;
    const answer = await messages.ask("discard", t("discard_confirm"), [
      { value: true, label: t("discard_yes"), danger: true, id: "edit-discard-yes" },
      { value: false, label: t("cancel"), id: "edit-discard-no" },
    ]);
    return answer;
  }

  async function select(id, { fit = false } = {}) {
    if (current && String(current.id) === String(id)) return;
    if (!(await confirmDiscard())) return;
    try {
      const answer = await track(api.read(layer.id, id));
      open(answer.body, answer.etag);
      if (fit) fitToWork();
    } catch (error) {
      status(error?.status === 404 ? t("not_found") : t("load_error", { layer: layer.title }));
    }
  }

  function fitToWork() {
    const bounds = draw.bounds();
    if (bounds?.isValid() && !map.getBounds().contains(bounds)) {
      map.fitBounds(bounds, { maxZoom: 17, padding: [32, 32] });
    }
  }

  function open(feature, etag) {
    draw.stopTools();
    clearFeedback();
    current = { id: feature.id, etag, feature };
    reshaped = false;
    background.hide(feature.id);
    list.select(feature.id);
    draw.load(feature.geometry);
    form.setValues(feature.properties || {});
    showSection(true);
    showTitle();
    setDirty(false);
    writeHash();
    if (history.isOpen()) loadHistory();
  }

  function startNew(part) {
    clearFeedback();
    background.hide(null);
    current = { id: null, etag: null, feature: null };
    list.select(null);
    draw.load(null);
    draw.adopt(part);
    reshaped = true;
    form.setValues({});
    showSection(true);
    history.reset();
    showTitle();
    setDirty(true);
    writeHash();
    formElement.querySelector("input, select, textarea")?.focus({ preventScroll: true });
  }

  function deselect() {
    draw.stopTools();
    draw.clear();
    clearFeedback();
    current = null;
    background.hide(null);
    list.select(null);
    showSection(false);
    history.reset();
    setDirty(false);
    if (layer) writeHash();
  }

  function showSection(open) {
    if (open) resetHelp();
    section.hidden = !open;
    doc.getElementById("edit-help").hidden = open;
  }

  function clearFeedback() {
    messages.clearAll();
    problems.clear();
    conflict.clear();
    form?.clearErrors();
    form?.clearNotes();
  }

  function showTitle() {
    // A draft has no history yet, and discarding it is "Undo changes".
    doc.getElementById("edit-delete").hidden = current.id === null;
    history.toggle.hidden = current.id === null;
    const props = current.feature?.properties;
    title.textContent =
      current.id === null ? t("new_feature", { layer: layer.title }) : featureLabel({ properties: props });
  }

  function showMeta() {
    if (!current) {
      meta.textContent = "";
      return;
    }
    const props = current.feature?.properties || {};
    const parts = [];
    if (current.id !== null && props.version !== undefined) {
      parts.push(props.updated_at
        ? t("version_meta", { version: formatInteger(Number(props.version)), at: formatDateTime(props.updated_at) })
        : t("version_short", { version: formatInteger(Number(props.version)) }));
    }
    if (dirty) parts.push(t("unsaved"));
    meta.textContent = parts.join(" · ");
  }

  // A shape was drawn with the toolbar.
  async function drawn(part) {
    if (!current || !dirty) {
      startNew(part);
      return;
    }
    const name = featureLabel({ properties: form.values() });
    const choices = [{ value: "new", label: t("new_start"), danger: true, id: "edit-new-start" }];
    const canJoin = layer.geometry !== "Point" && !(part instanceof L.Marker) && draw.geometry()?.type !== "Point";
    if (canJoin) choices.push({ value: "part", label: t("new_part", { name }), id: "edit-new-part" });
    choices.push({ value: "cancel", label: t("new_cancel"), id: "edit-new-cancel" });
    const answer = await messages.ask("new", t("new_or_part", { name }), choices);
    if (answer === "new") startNew(part);
    else if (answer === "part") {
      draw.adopt(part);
      setDirty(true);
    } else map.removeLayer(part);
  }

  // The feature as it would be sent: only the fields the officer may set.
  function draft() {
    return { type: "Feature", geometry: draw.geometry(), properties: form.values() };
  }

  function changes(feature) {
    if (!reshaped) return { properties: feature.properties };
    return { geometry: feature.geometry, properties: feature.properties };
  }

  // A saved feature names itself, so the server does not count it as overlapping itself.
  function forChecking(feature) {
    return current?.id === null || current?.id === undefined ? feature : { ...feature, id: current.id };
  }

  function checkLocally(feature) {
    const errors = form.check();
    if (!feature.geometry) errors.push({ field: "geometry", message: t("no_geometry") });
    const max = Number(config.maxVertices);
    const vertices = vertexCount(feature.geometry);
    if (max && vertices > max) {
      const message = t("too_many_vertices", { n: formatInteger(vertices), max: formatInteger(max) });
      errors.push({ field: "geometry", message });
    }
    return errors;
  }

  async function save(event) {
    event?.preventDefault();
    if (!current) return;
    draw.stopTools();
    const feature = draft();
    messages.remove("save");
    messages.remove("repair");
    problems.clear();
    const local = checkLocally(feature);
    if (local.length) {
      showValidation(local, feature, { askRepair: false });
      return;
    }
    const saveButton = doc.getElementById("edit-save");
    saveButton.disabled = true;
    status(t("saving"), { transient: false });
    try {
      const answer = current.id === null
        ? await track(api.create(layer.id, feature))
        : await track(api.patch(layer.id, current.id, changes(feature), current.etag));
      saved(answer, current.id === null);
    } catch (error) {
      status("");
      failed(error, feature);
    } finally {
      saveButton.disabled = false;
    }
  }

  function saved(answer, created) {
    const feature = answer.body || {};
    if (feature.id === undefined || feature.id === null) feature.id = featureId(answer);
    conflict.clear();
    form.clearErrors();
    open(feature, answer.etag);
    background.upsert(feature);
    background.hide(feature.id);
    list.show(background.features({ editable: true }), false);
    list.select(feature.id);
    status(created ? t("created") : t("saved"));
    const warnings = Array.isArray(feature.warnings) ? feature.warnings : [];
    if (warnings.length) problems.showWarnings(warnings);
    else messages.show("save", { kind: "success", text: created ? t("created") : t("saved") });
  }

  function failed(error, feature) {
    if (error instanceof NetworkError) {
      messages.show("save", { kind: "error", text: t("network_error") });
      return;
    }
    switch (error.status) {
      case 401:
        messages.show("save", { kind: "error", text: t("session_expired") });
        return;
      case 403:
        messages.show("save", { kind: "error", text: t("forbidden"), details: error.message ? [error.message] : [] });
        return;
      case 404:
        // Deleted meanwhile: the drawing stays and the next save creates it again.
        current = { ...current, id: null, etag: null };
        showTitle();
        writeHash();
        messages.show("save", { kind: "error", text: t("not_found") });
        return;
      case 409:
      case 412:
        conflict.report({
          geometry: reshaped ? feature.geometry : null,
          properties: feature.properties,
          base: current.feature?.properties,
        });
        return;
      case 400:
      case 422:
        showValidation(error.errors.length ? error.errors : [{ field: "geometry", message: error.message }], feature, {
          askRepair: true,
          description: error.message,
        });
        return;
      default:
        messages.show("save", { kind: "error", text: t("save_error", { reason: error.message }) });
    }
  }

  function showValidation(errors, feature, { askRepair, description } = {}) {
    const rest = form.showErrors(errors);
    const geometryErrors = rest.filter((error) => error.field === "geometry" || !error.field);
    const other = rest.filter((error) => !geometryErrors.includes(error));
    const besideFields = errors.length - rest.length;
    // Shape problems get their own message; this one covers the fields.
    if (besideFields || other.length || !geometryErrors.length) {
      messages.show("save", {
        kind: "error",
        text: description && !errors.length ? description : t("invalid"),
        details: other.map((error) => `${error.field}: ${error.message}`),
      });
    } else {
      messages.remove("save");
    }
    if (geometryErrors.length) {
      problems.show(geometryErrors);
      if (askRepair) offerRepair(feature);
    }
  }

  async function offerRepair(feature) {
    try {
      const answer = await track(api.validate(layer.id, forChecking(feature)));
      if (answer.body?.repaired) problems.offerRepair(answer.body.repaired);
    } catch {
      // No repair on offer; the errors are shown already.
    }
  }

  async function checkShape() {
    const feature = draft();
    problems.clear();
    messages.remove("repair");
    if (!feature.geometry) {
      problems.show([{ field: "geometry", message: t("no_geometry") }]);
      return;
    }
    try {
      const answer = await track(api.validate(layer.id, forChecking(feature)));
      const body = answer.body || {};
      const geometryErrors = (body.errors || []).filter((error) => error.field === "geometry" || !error.field);
      form.showErrors((body.errors || []).filter((error) => !geometryErrors.includes(error)));
      if (body.valid || !geometryErrors.length) {
        const warnings = Array.isArray(body.warnings) ? body.warnings : [];
        if (body.valid && warnings.length) problems.showWarnings(warnings, t("shape_warnings"));
        else if (body.valid) messages.show("save", { kind: "success", text: t("shape_ok") });
        else messages.show("save", { kind: "error", text: t("invalid") });
      } else {
        messages.remove("save");
        problems.show(geometryErrors);
      }
      if (body.repaired && !body.valid) problems.offerRepair(body.repaired);
    } catch (error) {
      failed(error, feature);
    }
  }

  async function loadTheirs() {
    try {
      const answer = await track(api.read(layer.id, current.id));
      const feature = answer.body;
      current = { id: feature.id ?? current.id, etag: answer.etag, feature };
      reshaped = false;
      draw.load(feature.geometry);
      form.setValues(feature.properties || {});
      showTitle();
      setDirty(false);
      background.upsert(feature);
      background.hide(current.id);
      if (history.isOpen()) loadHistory();
      return { feature, layer };
    } catch (error) {
      if (error?.status === 404) failed(error, draft());
      else status(t("load_error", { layer: layer.title }));
      return null;
    }
  }

  async function remove() {
    if (!current) return;
    draw.stopTools();
    if (current.id === null) {
      deselect();
      return;
    }
    const name = featureLabel(current.feature);
    const answer = await messages.ask("delete", t("delete_confirm", { name }), [
      { value: true, label: t("delete_yes"), danger: true, id: "edit-delete-yes" },
      { value: false, label: t("cancel"), id: "edit-delete-no" },
    ]);
    if (!answer) return;
    const { id, etag } = current;
    try {
      await track(api.remove(layer.id, id, etag));
    } catch (error) {
      failed(error, draft());
      return;
    }
    background.remove(id);
    list.show(background.features({ editable: true }), false);
    deselect();
    status(t("deleted"));
    showDeleted(id, name);
  }

  // A deleted feature can be brought back from the note left in the panel.
  function showDeleted(id, name) {
    const note = doc.getElementById("edit-help");
    note.replaceChildren(
      el("span", { text: `${t("deleted_note", { name })} ` }),
      el("button", {
        type: "button",
        class: "edit-button edit-button--small",
        id: "edit-undelete",
        text: t("restore_last"),
        onclick: () => undelete(id),
      }),
    );
  }

  async function undelete(id) {
    try {
      const answer = await track(api.history(layer.id, id));
      const versions = answer.body?.versions || [];
      const last = versions.find((version) => version.operation !== "delete");
      if (!last) return;
      const restored = await track(api.restore(layer.id, id, last.version, null));
      resetHelp();
      saved(restored, false);
      status(t("restored", { version: formatInteger(Number(last.version)) }));
    } catch (error) {
      messages.show("save", { kind: "error", text: t("save_error", { reason: error.message }) });
    }
  }

  function resetHelp() {
    doc.getElementById("edit-help").textContent = helpText;
  }

  async function loadHistory() {
    if (!current || current.id === null) {
      history.show([]);
      return;
    }
    history.showLoading();
    try {
      const answer = await track(api.history(layer.id, current.id));
      history.show(answer.body?.versions || []);
    } catch {
      history.showError();
    }
  }

  async function restore(version) {
    if (!current || current.id === null) return;
    if (!(await confirmDiscard())) return;
    try {
      const answer = await track(api.restore(layer.id, current.id, version.version, current.etag));
      saved(answer, false);
      status(t("restored", { version: formatInteger(Number(version.version)) }));
    } catch (error) {
      failed(error, { geometry: draw.geometry(), properties: form.values() });
    }
  }

  function revert() {
    if (!current) return;
    if (current.id === null) {
      deselect();
      return;
    }
    draw.stopTools();
    clearFeedback();
    draw.load(current.feature.geometry);
    form.setValues(current.feature.properties || {});
    reshaped = false;
    setDirty(false);
  }

  const helpText = doc.getElementById("edit-help").textContent;
  formElement.addEventListener("submit", save);
  doc.getElementById("edit-revert").addEventListener("click", revert);
  doc.getElementById("edit-close").addEventListener("click", async () => {
    if (await confirmDiscard()) deselect();
  });
  doc.getElementById("edit-delete").addEventListener("click", remove);
  history.toggle.addEventListener("click", () => {
    const open = !history.isOpen();
    history.setOpen(open);
    if (open) loadHistory();
  });
  window.addEventListener("beforeunload", (event) => {
    if (current && dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  showScope();
  if (!config.layers.length) {
    doc.getElementById("edit-help").textContent = t("no_layers");
    picker.disabled = true;
    setInitialView(map, null, config);
    doc.body.dataset.editorReady = "true";
    return;
  }
  buildPicker();
  const wanted = parseHash(window.location.hash);
  setInitialView(map, wanted.view, config);
  addReferenceOutlines(map, config);
  map.on("moveend", () => {
    writeHash();
    reloadLater();
  });
  // Someone edited the address bar or followed a link within the page.
  window.addEventListener("hashchange", async () => {
    const asked = parseHash(window.location.hash);
    if (asked.view) map.setView([asked.view.lat, asked.view.lon], asked.view.zoom);
    if (asked.layer && asked.layer !== layer.id && config.layers.some((item) => item.id === asked.layer)) {
      if (!(await confirmDiscard())) {
        writeHash();
        return;
      }
      await chooseLayer(asked.layer);
    }
    if (asked.feature) await select(asked.feature, { fit: !asked.view });
  });
  chooseLayer(wanted.layer).then(async () => {
    if (wanted.feature) await select(wanted.feature, { fit: !wanted.view });
    doc.body.dataset.editorReady = "true";
  });
}

startEditor(document);
