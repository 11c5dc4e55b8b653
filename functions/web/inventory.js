// The inventory view: the stones with the API's filters and cursor pagination; add, edit and
// delete a stone (with the write key).

import { call, query, unchangedSince } from "./api.js";
import { confirmAction, openDialog } from "./dialogs.js";
import { element, row } from "./dom.js";
import { addStoneFields, busy, clearProblem, fillStone, readStone, showProblem } from "./forms.js";
import { money, number, stoneCells } from "./format.js";
import { keyAdvice, requireKey } from "./key.js";

const GRADED = ["cut", "color", "clarity"];
const RANGES = ["carat_min", "carat_max", "price_min", "price_max", "limit"];
const COLUMNS = ["carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z", "price"];

export function initInventory(grades) {
  const filters = document.getElementById("filter-form");
  const table = document.getElementById("inventory-table");
  const region = table.closest(".table-scroll");
  const status = document.getElementById("inventory-status");
  const caption = document.getElementById("inventory-caption");
  const pager = {
    first: document.getElementById("page-first"),
    previous: document.getElementById("page-previous"),
    next: document.getElementById("page-next"),
  };
  const dialog = document.getElementById("stone-dialog");
  const editor = document.getElementById("stone-form");
  let cursors = [null];
  let nextCursor = null;
  let loaded = false;

  const box = filters.querySelector("[data-grade-filters]");
  for (const name of GRADED) {
    const fieldset = element("fieldset", { class: "grade-filter" }, element("legend", {}, name[0].toUpperCase() + name.slice(1)));
    grades[name].forEach((grade, i) => {
      const id = `filter-${name}-${i}`;
      fieldset.append(
        element(
          "span",
          { class: "check" },
          element("input", { type: "checkbox", id, name, value: grade }),
          element("label", { for: id }, grade),
        ),
      );
    });
    box.append(fieldset);
  }
  addStoneFields(editor, "stone", grades, { withPrice: true });

  function filterQuery() {
    const data = new FormData(filters);
    const parameters = {};
    for (const name of GRADED) parameters[name] = data.getAll(name).join(",");
    for (const name of RANGES) parameters[name] = String(data.get(name) ?? "").trim();
    return parameters;
  }

  async function load() {
    const parameters = { ...filterQuery(), cursor: cursors.at(-1) };
    status.textContent = "Loading stones…";
    try {
      const page = await call("GET", `/v1/diamonds${query(parameters)}`);
      clearProblem(filters);
      render(page, Number(parameters.limit));
      loaded = true;
    } catch (error) {
      status.textContent = "";
      showProblem(filters, error);
    }
  }

  function render(page, limit) {
    nextCursor = page.next_cursor;
    const start = (cursors.length - 1) * limit;
    const body = table.tBodies[0];
    body.replaceChildren(
      ...page.items.map((stone) => row([...stoneCells(stone, COLUMNS), actions(stone)])),
    );
    const shown = page.items.length ? `${start + 1}–${start + page.items.length}` : "none";
    const total = page.total.toLocaleString("en-US");
    caption.textContent = `Stones ${shown} of ${total}`;
    status.textContent = `${total} ${page.total === 1 ? "stone matches" : "stones match"}; showing ${shown}.`;
    pager.previous.disabled = pager.first.disabled = cursors.length === 1;
    pager.next.disabled = nextCursor === null || nextCursor === undefined;
    if (document.activeElement?.disabled) region.focus();
  }

  function actions(stone) {
    const edit = element("button", { type: "button", "aria-label": `Edit stone ${stone.id}` }, "Edit");
    const remove = element("button", { type: "button", class: "danger", "aria-label": `Delete stone ${stone.id}` }, "Delete");
    edit.addEventListener("click", () => openEditor(stone));
    remove.addEventListener("click", () => {
      if (!requireKey()) return;
      confirmAction({
        title: `Delete stone ${stone.id}?`,
        text: `${number(stone.carat)} ct ${stone.cut} ${stone.color} ${stone.clarity}, ${money(stone.price)}. It leaves the inventory for good.`,
        confirm: "Delete the stone",
        fallback: region,
        act: async () => {
          await call("DELETE", `/v1/diamonds/${stone.id}`, undefined, unchangedSince(stone.revision));
          await load();
          status.textContent = `Stone ${stone.id} deleted.`;
        },
      });
    });
    return element("span", { class: "row-actions" }, edit, remove);
  }

  function openEditor(stone) {
    if (!requireKey()) return;
    editor.dataset.id = stone ? stone.id : "";
    editor.dataset.revision = stone ? stone.revision : "";
    document.getElementById("stone-dialog-title").textContent = stone ? `Edit stone ${stone.id}` : "Add a stone";
    fillStone(editor, stone, { withPrice: true });
    openDialog(dialog, region);
  }

  editor.addEventListener("submit", (event) => {
    event.preventDefault();
    const stone = readStone(editor, { withPrice: true });
    if (!stone) return;
    const id = editor.dataset.id;
    busy(editor, async () => {
      try {
        const saved = id
          ? await call("PUT", `/v1/diamonds/${id}`, stone, unchangedSince(editor.dataset.revision))
          : await call("POST", "/v1/diamonds", stone);
        dialog.close();
        await load();
        status.textContent = id ? `Stone ${saved.id} saved.` : `Stone ${saved.id} added.`;
      } catch (error) {
        showProblem(editor, error, keyAdvice(error));
      }
    });
  });

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    cursors = [null];
    load();
  });
  filters.addEventListener("reset", () => {
    clearProblem(filters);
    cursors = [null];
    setTimeout(load);
  });
  document.getElementById("add-stone").addEventListener("click", () => openEditor(null));
  pager.next.addEventListener("click", () => {
    cursors.push(nextCursor);
    load();
  });
  pager.previous.addEventListener("click", () => {
    cursors.pop();
    load();
  });
  pager.first.addEventListener("click", () => {
    cursors = [null];
    load();
  });

  return {
    show: () => {
      if (!loaded) load();
    },
  };
}
