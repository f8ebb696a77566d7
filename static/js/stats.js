// Statistics page: one chart per table from the figures embedded in the page,
// and filters that refresh the figures in place (the server renders them).

import { debounce } from "./dom.js";
import { formatDecimal, formatInteger, initI18n, locale, t, updateLanguageLinks } from "./i18n.js";

const SMALL_SCREEN = "(max-width: 720px)";
const BAR_HEIGHT = 26; // pixels per place on the chart
const PALETTE = [
  "#2e7d32", "#1565c0", "#b7791f", "#b71c1c", "#6a1b9a", "#00838f",
  "#ef6c00", "#4e342e", "#ad1457", "#558b2f", "#283593", "#827717",
  "#81c784", "#64b5f6", "#ffb74d", "#e57373", "#ba68c8", "#4dd0e1",
  "#a1887f", "#f06292", "#9e9d24", "#546e7a", "#7986cb", "#ffd54f",
];

const charts = [];

function readFigures(root) {
  const block = root.querySelector("#stats-data");
  return block ? JSON.parse(block.textContent) : { tables: [] };
}

// Categories in the order the layer declares its choices; "not set" last.
function categoryOrder(groups, row) {
  return groups.map((g) => {
    const index = g.choices.findIndex((c) => c.value === row[g.name]);
    return index === -1 ? g.choices.length : index;
  });
}

function compareOrder(a, b) {
  for (let i = 0; i < a.length; i += 1) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return 0;
}

// Places down the side, one stacked bar segment per category.
export function chartData(table) {
  const groups = table.columns.filter((c) => c.kind === "group");
  const places = table.columns.filter((c) => c.kind === "place");
  const measure = table.measure === "area" ? "area_ha" : "count";
  const placeIndex = new Map();
  const series = new Map();
  for (const row of table.rows) {
    const placeKey = JSON.stringify(places.map((p) => [row[p.name], row[`${p.name}_code`]]));
    if (!placeIndex.has(placeKey)) placeIndex.set(placeKey, { index: placeIndex.size, label: row.place });
    const seriesKey = JSON.stringify(groups.map((g) => row[g.name]));
    if (!series.has(seriesKey)) {
      series.set(seriesKey, {
        label: groups.map((g) => row[`${g.name}_label`]).join(" · "),
        order: categoryOrder(groups, row),
        values: new Map(),
      });
    }
    const cell = series.get(seriesKey).values;
    const at = placeIndex.get(placeKey).index;
    cell.set(at, (cell.get(at) ?? 0) + row[measure]);
  }
  const labels = [...placeIndex.values()].map((p) => p.label);
  const datasets = [...series.values()]
    .sort((a, b) => compareOrder(a.order, b.order))
    .map((s, i) => ({
      label: s.label,
      data: labels.map((_, at) => s.values.get(at) ?? null),
      backgroundColor: PALETTE[i % PALETTE.length],
      borderWidth: 0,
    }));
  return { labels, datasets };
}

// Axis steps need no trailing zeros (100, 2.5), unlike the figures themselves.
function axisFormat() {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 });
}

function formatValue(table, value) {
  return table.measure === "area" ? formatDecimal(value, 2) : formatInteger(value);
}

function drawChart(canvas, table) {
  const data = chartData(table);
  const measureColumn = table.columns.find((c) => c.kind === (table.measure === "area" ? "area" : "count"));
  canvas.parentElement.style.height = `${Math.max(160, 90 + data.labels.length * BAR_HEIGHT)}px`;
  const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  return new window.Chart(canvas, {
    type: "bar",
    data,
    options: {
      indexAxis: "y",
      responsive: true,
      maintainAspectRatio: false,
      animation: reduceMotion ? false : { duration: 300 },
      scales: {
        x: {
          stacked: true,
          beginAtZero: true,
          title: { display: true, text: measureColumn.label },
          ticks: { callback: (value) => axisFormat().format(value) },
        },
        y: { stacked: true, ticks: { autoSkip: false } },
      },
      plugins: {
        legend: { position: "top", labels: { boxWidth: 14 } },
        tooltip: {
          callbacks: {
            label: (item) => `${item.dataset.label}: ${formatValue(table, item.parsed.x)}`,
          },
        },
      },
    },
  });
}

function drawCharts(root) {
  while (charts.length) charts.pop().destroy();
  if (!window.Chart) return;
  const figures = readFigures(root);
  for (const table of figures.tables) {
    const canvas = root.querySelector(`canvas[data-table="${CSS.escape(table.id)}"]`);
    if (canvas && table.rows.length) charts.push(drawChart(canvas, table));
  }
}

function formParams(form) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (String(value).trim() !== "") params.append(name, String(value).trim());
  }
  return params;
}

function setupFilters(doc) {
  const form = doc.getElementById("stats-filters");
  const status = doc.getElementById("stats-status");
  let latest = 0;

  async function refresh() {
    const params = formParams(form);
    const ticket = ++latest;
    const current = doc.getElementById("stats-results");
    current.setAttribute("aria-busy", "true");
    status.textContent = t("updating");
    try {
      const response = await fetch(`${form.getAttribute("action")}?${params}`, {
        headers: { Accept: "text/html" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("stats-results");
      if (!fresh) throw new Error("no figures in the answer");
      if (ticket !== latest) return; // a newer request is on its way
      const results = doc.getElementById("stats-results");
      results.replaceWith(doc.adoptNode(fresh));
      drawCharts(fresh);
      const query = params.toString();
      window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
      updateLanguageLinks(doc, { query: params });
      status.textContent = t("updated");
    } catch {
      if (ticket !== latest) return;
      current.removeAttribute("aria-busy");
      status.textContent = t("update_error");
    }
  }

  const typed = debounce(refresh, 400);
  form.addEventListener("change", (event) => {
    if (event.target.name === "q") return; // typing has its own pace
    typed.cancel();
    refresh();
  });
  form.elements.q?.addEventListener("input", typed);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    typed.cancel();
    refresh();
  });
  updateLanguageLinks(doc, { query: formParams(form) });
}

function start(doc = document) {
  const figures = readFigures(doc);
  initI18n({ lang: figures.lang });
  if (window.matchMedia(SMALL_SCREEN).matches) {
    doc.getElementById("stats-filter-box")?.removeAttribute("open");
  }
  drawCharts(doc);
  setupFilters(doc);
}

start();
