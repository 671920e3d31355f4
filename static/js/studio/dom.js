// Building the studio's DOM from data: text only (textContent), never HTML from the server or the user.

/** A new element: `text` is its text, `className` its class, `dataset` its data-* values, `on<event>` a listener,
 * any other prop an attribute (true: present and empty; undefined, null or false: left out). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

export function button(text, props = {}) {
  return el("button", { type: "button", className: "button button-small button-secondary", text, ...props });
}

/** Rebuilds a container's children and puts the focus back on the element that had it (by id). */
export function rebuild(container, build) {
  const active = document.activeElement && container.contains(document.activeElement) ? document.activeElement.id : null;
  container.textContent = "";
  build();
  if (active) {
    const again = document.getElementById(active);
    if (again) again.focus();
  }
}
