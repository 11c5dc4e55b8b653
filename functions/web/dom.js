// Building the page's elements from data, never from HTML strings: what the API returns is
// always text on the page, never markup.

/** A new element: attributes (false or null ones left out) and children (strings or nodes). */
export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** A table row of cells; a cell is text or a node, and {text, class} for a classed cell. */
export function row(cells) {
  const tr = element("tr");
  for (const cell of cells) {
    if (cell && typeof cell === "object" && !(cell instanceof Node)) {
      tr.append(element(cell.header ? "th" : "td", { class: cell.class, scope: cell.header ? "row" : null }, cell.text));
    } else {
      tr.append(element("td", {}, cell ?? ""));
    }
  }
  return tr;
}

/** A table in a region that scrolls sideways on a narrow screen (and takes keyboard focus to
 * do so); columns are [title, numeric]. */
export function scrollingTable({ labelledby, caption, columns, body }) {
  const head = element(
    "tr",
    {},
    ...columns.map(([title, numeric]) => element("th", { scope: "col", class: numeric ? "num" : null }, title)),
  );
  return element(
    "div",
    { class: "table-scroll", role: "region", "aria-labelledby": labelledby, tabindex: "0" },
    element("table", {}, caption, element("thead", {}, head), body),
  );
}
