// The pricing view: one stone's price, its 90% range, the reasons and comparable stones.

import { call } from "./api.js";
import { element, row, scrollingTable } from "./dom.js";
import { addStoneFields, busy, readStone, showProblem } from "./forms.js";
import { money, stoneCells } from "./format.js";
import { waterfall } from "./waterfall.js";
import { whatIf } from "./whatif.js";

const COMPARABLES = 5;

export function initPrice(grades) {
  const form = document.getElementById("price-form");
  const result = document.getElementById("price-result");
  addStoneFields(form, "price", grades);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const stone = readStone(form);
    if (!stone) return;
    busy(form, async () => {
      result.setAttribute("aria-busy", "true");
      try {
        const priced = await call("POST", `/v1/price?explain=true&comparables=${COMPARABLES}`, stone);
        showPrice(result, priced);
        result.append(whatIf(stone, priced, grades));
      } catch (error) {
        showProblem(form, error);
        result.replaceChildren(element("p", { class: "notice" }, "No price: see the message beside the stone's fields."));
      } finally {
        result.setAttribute("aria-busy", "false");
      }
    });
  });
}

function showPrice(box, priced) {
  const { low, high, coverage } = priced.interval;
  box.replaceChildren(
    element("h3", {}, "Price"),
    element("p", { class: "price", "data-price": "" }, money(priced.price)),
    element(
      "p",
      { class: "range", "data-range": "" },
      `${Math.round(coverage * 100)}% range `,
      element("strong", {}, `${money(low)} – ${money(high)}`),
    ),
    element("p", { class: "version" }, "Model version ", element("code", {}, priced.model_version)),
    element("h4", {}, "Why this price"),
    element("p", { class: "hint" }, "A typical stone's price, times one factor for each characteristic."),
    waterfall(priced.explanation, priced.price),
    element("h4", { id: "comparables-title" }, "Comparable stones in the inventory"),
    comparables(priced.comparables || []),
  );
}

function comparables(stones) {
  if (!stones.length) return element("p", { class: "notice" }, "The inventory holds no stone of the same grades.");
  return scrollingTable({
    labelledby: "comparables-title",
    caption: element("caption", { class: "visually-hidden" }, "Same cut, color and clarity, nearest carat"),
    columns: [["Id"], ["Carat", true], ["Cut"], ["Color"], ["Clarity"], ["Price", true]],
    body: element("tbody", {}, ...stones.map((stone) => row(stoneCells(stone, ["carat", "cut", "color", "clarity", "price"])))),
  });
}
