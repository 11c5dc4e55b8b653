// What-if on a priced stone: change one grade or measurement, see the new price beside the old
// and which factors moved.

import { call } from "./api.js";
import { element, row, scrollingTable } from "./dom.js";
import { factor, money } from "./format.js";

const FIELDS = { carat: "Carat (ct)", cut: "Cut", color: "Color", clarity: "Clarity", depth: "Depth (%)", table: "Table (%)", x: "Length x (mm)", y: "Width y (mm)", z: "Depth z (mm)" };
const MOVED = 0.001;

export function whatIf(stone, priced, grades) {
  const field = element("select", { id: "whatif-field", name: "field" }, ...Object.entries(FIELDS).map(([name, text]) => element("option", { value: name }, text)));
  const value = element("div", { class: "field" });
  const problem = element("p", { class: "problem", role: "alert", hidden: true });
  const answer = element("div", { "aria-live": "polite" });
  const form = element(
    "form",
    { id: "whatif-form", novalidate: true },
    element("div", { class: "fields" }, element("div", { class: "field" }, element("label", { for: "whatif-field" }, "Change"), field), value),
    problem,
    element("div", { class: "actions" }, element("button", { type: "submit" }, "Price it")),
  );

  function control() {
    const name = field.value;
    const input = grades[name]
      ? element("select", { id: "whatif-value", name: "value" }, ...grades[name].map((grade) => element("option", {}, grade)))
      : element("input", { id: "whatif-value", name: "value", type: "number", step: "any", inputmode: "decimal" });
    input.value = stone[name];
    value.replaceChildren(element("label", { for: "whatif-value" }, "To"), input);
  }
  field.addEventListener("change", control);
  control();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    const name = field.value;
    const text = form.elements.namedItem("value").value.trim();
    const changed = { ...stone, [name]: grades[name] ? text : Number(text) };
    if (!grades[name] && (text === "" || Number.isNaN(changed[name]))) {
      problem.textContent = "Enter a number.";
      problem.hidden = false;
      return;
    }
    try {
      const after = await call("POST", "/v1/price?explain=true", changed);
      answer.replaceChildren(...comparison(priced, after, `${FIELDS[name]} ${stone[name]} → ${changed[name]}`));
    } catch (error) {
      problem.textContent = `${error.title}: ${(error.errors || []).map((e) => e.detail).join("; ") || error.detail}`;
      problem.hidden = false;
      answer.replaceChildren();
    }
  });
  return element("div", { class: "whatif" }, element("h4", { id: "whatif-title" }, "What if…"), element("p", { class: "hint" }, "Change one grade or measurement of this stone and price it again."), form, answer);
}

function comparison(before, after, change) {
  const ratio = after.price / before.price;
  const moves = before.explanation.factors.map((old, index) => {
    const now = after.explanation.factors[index];
    const moved = Math.abs(now.factor / old.factor - 1) > MOVED;
    return { name: old.characteristic, old: old.factor, now: now.factor, moved };
  });
  return [
    element(
      "p",
      { class: "whatif-prices", "data-whatif": "" },
      `${change}: `,
      element("strong", {}, money(before.price)),
      " → ",
      element("strong", { "data-whatif-price": "" }, money(after.price)),
      ` (${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(1)}%)`,
    ),
    scrollingTable({
      labelledby: "whatif-caption",
      caption: element("caption", { id: "whatif-caption" }, "The factors before and after"),
      columns: [["Characteristic"], ["Before", true], ["After", true], ["Moved"]],
      body: element("tbody", {}, ...moves.map((m) => row([{ text: m.name, header: true }, { text: factor(m.old), class: "num" }, { text: factor(m.now), class: "num" }, m.moved ? "moved" : "—"]))),
    }),
  ];
}
