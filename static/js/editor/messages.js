// Messages about the feature being edited, one per topic (saving, the
// shape, a conflict...), each with optional details and buttons.

import { clear, el } from "../dom.js";

export function createMessages(container) {
  const shown = new Map();

  // kind: "info" | "success" | "warning" | "error"
  function show(key, { kind = "info", text, details = [], actions = [] }) {
    const node = el("div", {
      class: `edit-message edit-message--${kind}`,
      role: kind === "error" || kind === "warning" ? "alert" : "status",
      dataset: { message: key },
    });
    node.append(el("p", { class: "edit-message-text", text }));
    if (details.length) {
      const list = el("ul", { class: "edit-message-details" });
      for (const detail of details) list.append(el("li", {}, detail));
      node.append(list);
    }
    if (actions.length) {
      const row = el("div", { class: "edit-message-actions" });
      for (const action of actions) {
        const classes = ["edit-button"];
        if (action.primary) classes.push("edit-button--primary");
        if (action.danger) classes.push("edit-button--danger");
        row.append(
          el("button", {
            type: "button",
            class: classes.join(" "),
            id: action.id || null,
            text: action.label,
            onclick: action.onClick,
          }),
        );
      }
      node.append(row);
    }
    shown.get(key)?.remove();
    shown.set(key, node);
    container.append(node);
    return node;
  }

  function remove(key) {
    shown.get(key)?.remove();
    shown.delete(key);
  }

  function has(key) {
    return shown.has(key);
  }

  function clearAll() {
    shown.clear();
    clear(container);
  }

  // A question answered by one of its buttons, in place of a browser dialog.
  function ask(key, text, choices) {
    return new Promise((resolve) => {
      show(key, {
        kind: "warning",
        text,
        actions: choices.map((choice) => ({
          ...choice,
          onClick: () => {
            remove(key);
            resolve(choice.value);
          },
        })),
      });
      shown.get(key)?.querySelector("button")?.focus();
    });
  }

  return { show, remove, has, clearAll, ask };
}
