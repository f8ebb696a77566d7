// Small DOM builders. Data only ever reaches the page as text nodes or
// attributes, never as HTML.

export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    setAttribute(node, key, value);
  }
  append(node, children);
  return node;
}

function setAttribute(node, key, value) {
  if (value === null || value === undefined || value === false) return;
  if (key === "text") node.textContent = String(value);
  else if (key === "class") node.className = value;
  else if (key === "dataset") Object.assign(node.dataset, value);
  else if (key === "style") Object.assign(node.style, value);
  else if (key.startsWith("on") && typeof value === "function") {
    node.addEventListener(key.slice(2), value);
  } else node.setAttribute(key, value === true ? "" : String(value));
}

export function append(node, children) {
  for (const child of [].concat(children)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// A narrow select cuts long labels off: its tooltip gives the chosen one whole.
export function showChoice(select) {
  select.title = select.selectedOptions[0]?.text || "";
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// Leaflet's attribution control takes HTML strings, so text must be escaped.
export function escapeHtml(text) {
  return String(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

// Only web links may become href/src; "javascript:" and the like stay text.
export function safeUrl(value) {
  if (typeof value !== "string" || value.trim() === "") return null;
  try {
    const url = new URL(value.trim(), window.location.origin);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export function debounce(fn, wait) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

// What the server tells a page's script: JSON in <script id="vung-config">, read as data, never run.
export function readConfig(doc) {
  return JSON.parse(doc.getElementById("vung-config").textContent);
}
