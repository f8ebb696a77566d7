// Interface strings come translated from the server (the page's JSON block);
// the scripts only look them up and fill in {placeholders}.

let strings = {};
let lang = "vi";
let pluralRules = new Intl.PluralRules("vi");

export function initI18n(config, doc = document) {
  const block = doc.getElementById("vung-strings");
  const fromPage = block ? JSON.parse(block.textContent) : {};
  strings = { ...(config.strings || {}), ...fromPage };
  lang = config.lang || doc.documentElement.lang || "vi";
  pluralRules = new Intl.PluralRules(locale());
}

export function currentLang() {
  return lang;
}

export function locale() {
  return lang === "vi" ? "vi-VN" : lang;
}

export function t(key, vars = {}) {
  const template = strings[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (match, name) =>
    Object.hasOwn(vars, name) ? String(vars[name]) : match,
  );
}

export function tn(key, n, vars = {}) {
  const form = pluralRules.select(n);
  const chosen = strings[`${key}_${form}`] !== undefined ? `${key}_${form}` : `${key}_other`;
  return t(chosen, { n: formatInteger(n), ...vars });
}

export function formatInteger(value) {
  // Years and small counts read better without a thousands separator.
  const grouping = Math.abs(value) >= 10000;
  return new Intl.NumberFormat(locale(), { useGrouping: grouping, maximumFractionDigits: 0 }).format(value);
}

export function formatDecimal(value, digits = 2) {
  return new Intl.NumberFormat(locale(), {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value);
}

// Metres to the nearest ten under a kilometre, then kilometres ("1,2 km" in Vietnamese).
export function formatDistance(metres) {
  const tens = Math.round(metres / 10) * 10;
  if (tens < 1000) {
    return new Intl.NumberFormat(locale(), { style: "unit", unit: "meter", maximumFractionDigits: 0 }).format(tens);
  }
  const digits = metres < 10000 ? 1 : 0;
  return new Intl.NumberFormat(locale(), { style: "unit", unit: "kilometer", maximumFractionDigits: digits })
    .format(metres / 1000);
}

export function formatDate(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeZone: "UTC" }).format(date);
}

// The header's language links reload the page in the other language and keep
// what its address holds: the query (the statistics' filters) and the hash
// (the map's and the editor's view, layers and filters).
export function updateLanguageLinks(doc, { query = "", hash = "" } = {}) {
  for (const link of doc.querySelectorAll(".lang-link")) {
    const params = new URLSearchParams(query);
    params.set("lang", link.dataset.lang);
    link.setAttribute("href", `?${params}${hash}`);
  }
}
