// The popups of a published map (layers.publish_map): the public map's own
// popup code, bundled by scripts/vendor.sh into one classic script that the
// standalone page carries inline, as the global VungPopup.

export { initI18n } from "./i18n.js";
export { buildPopup } from "./popup.js";
