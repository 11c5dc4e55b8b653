// The stone's fields (the same in the pricing form and the inventory editor), reading and
// filling them, and the API's messages shown beside the field their JSON pointer names.

import { element } from "./dom.js";

/** The example stone of the API's documentation is the pricing form's starting point. */
const STONE = [
  { name: "carat", label: "Carat", unit: "ct", value: 1.01 },
  { name: "cut", label: "Cut", value: "Ideal" },
  { name: "color", label: "Color", value: "E" },
  { name: "clarity", label: "Clarity", value: "VS1" },
  { name: "depth", label: "Depth", unit: "%", value: 61.5 },
  { name: "table", label: "Table", unit: "%", value: 57 },
  { name: "x", label: "Length x", unit: "mm", value: 6.44 },
  { name: "y", label: "Width y", unit: "mm", value: 6.47 },
  { name: "z", label: "Depth z", unit: "mm", value: 3.97 },
];
const PRICE = { name: "price", label: "Price", unit: "USD", optional: true };

const specs = (withPrice) => (withPrice ? [...STONE, PRICE] : STONE);

/** Adds a stone's fields to the form's [data-fields] box; grades come from the API. */
export function addStoneFields(form, prefix, grades, { withPrice = false } = {}) {
  const box = form.querySelector("[data-fields]");
  for (const spec of specs(withPrice)) {
    const id = `${prefix}-${spec.name}`;
    const label = element("label", { for: id }, spec.label);
    if (spec.unit) label.append(" ", element("span", { class: "unit" }, `(${spec.unit})`));
    let control;
    if (grades[spec.name]) {
      control = element("select", { id, name: spec.name });
      control.append(...grades[spec.name].map((grade) => element("option", {}, grade)));
    } else {
      control = element("input", { id, name: spec.name, type: "number", step: "any", inputmode: "decimal" });
    }
    if (spec.value !== undefined) control.value = spec.value;
    box.append(element("div", { class: "field" }, label, control, element("p", { class: "error", id: `${id}-error`, hidden: true })));
  }
}

/** The stone in the form, as the API takes it; null (with messages shown) if a number is unreadable. */
export function readStone(form, { withPrice = false } = {}) {
  clearProblem(form);
  const stone = {};
  let unreadable = null;
  for (const spec of specs(withPrice)) {
    const control = form.elements.namedItem(spec.name);
    const text = control.value.trim();
    if (control.validity.badInput) {
      markField(control, "enter a number");
      unreadable ??= control;
    } else if (control.tagName === "SELECT") {
      stone[spec.name] = control.value;
    } else if (text !== "") {
      stone[spec.name] = Number(text);
    } else if (spec.optional) {
      stone[spec.name] = null;
    }
  }
  unreadable?.focus();
  return unreadable ? null : stone;
}

export function fillStone(form, stone, { withPrice = false } = {}) {
  clearProblem(form);
  for (const spec of specs(withPrice)) {
    form.elements.namedItem(spec.name).value = stone?.[spec.name] ?? (stone ? "" : (spec.value ?? ""));
  }
}

function markField(control, message) {
  const error = control.closest(".field").querySelector(".error");
  error.id ||= `${control.id}-error`;
  if (!("describedby" in control.dataset)) control.dataset.describedby = control.getAttribute("aria-describedby") || "";
  error.textContent = message;
  error.hidden = false;
  control.setAttribute("aria-invalid", "true");
  control.setAttribute("aria-describedby", [control.dataset.describedby, error.id].filter(Boolean).join(" "));
}

/** The field an error's JSON pointer names: "/y", "/3/y", "/query/carat_min", "/query/cut/1". */
function fieldOf(pointer) {
  const tokens = String(pointer || "").split("/").slice(1).map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
  if (tokens[0] === "query" || tokens[0] === "path") return tokens[1];
  return tokens.filter((token) => !/^\d+$/.test(token)).pop();
}

/** Shows an API error: each message beside the field its pointer names; the rest, or the whole
 * problem, in the form's problem line. */
export function showProblem(form, error, advice = "") {
  clearProblem(form);
  const elsewhere = [];
  let first = null;
  for (const { field, detail } of error.errors || []) {
    const name = fieldOf(field);
    const control = name ? form.elements.namedItem(name) : null;
    if (control && control.id) {
      markField(control, detail);
      first ??= control;
    } else {
      elsewhere.push(field ? `${field}: ${detail}` : detail);
    }
  }
  if (!first || elsewhere.length) {
    const line = form.querySelector(".problem");
    line.textContent = `${error.title}: ${elsewhere.length ? elsewhere.join("; ") : error.detail}${advice}`;
    line.hidden = false;
  }
  first?.focus();
}

export function clearProblem(form) {
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    if (control.dataset.describedby) control.setAttribute("aria-describedby", control.dataset.describedby);
    else control.removeAttribute("aria-describedby");
  }
  for (const message of form.querySelectorAll(".error, .problem")) {
    message.textContent = "";
    message.hidden = true;
  }
}

/** Runs `work` for a form unless it is already running (a second click is ignored; the button
 * keeps its focus, which disabling it would lose). */
export async function busy(form, work) {
  if (form.getAttribute("aria-busy") === "true") return undefined;
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    form.setAttribute("aria-busy", "false");
  }
}
