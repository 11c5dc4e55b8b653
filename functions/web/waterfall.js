// The explanation as a waterfall: the base price, each characteristic's factor moving the
// running price up or down, and the price they multiply out to. Each step is a list item whose
// text says what its bar shows, so the chart reads the same without seeing it.

import { element } from "./dom.js";
import { factor, money } from "./format.js";

export function waterfall(explanation, price) {
  let running = explanation.base_price;
  const steps = [{ label: "Base price", from: 0, to: running, kind: "total", value: money(running) }];
  for (const item of explanation.factors) {
    const next = running * item.factor;
    steps.push({
      label: item.label,
      from: running,
      to: next,
      kind: item.factor >= 1 ? "up" : "down",
      value: `${factor(item.factor)} → ${money(next)}`,
    });
    running = next;
  }
  steps.push({ label: "Price", from: 0, to: price, kind: "total", value: money(price) });

  const top = Math.max(...steps.map((step) => Math.max(step.from, step.to)));
  const list = element("ol", { class: "waterfall" });
  for (const step of steps) {
    const bar = element("span", { class: `bar ${step.kind}` });
    bar.style.marginLeft = `${(100 * Math.min(step.from, step.to)) / top}%`;
    bar.style.width = `${Math.max((100 * Math.abs(step.to - step.from)) / top, 0.6)}%`;
    list.append(
      element(
        "li",
        { class: `step ${step.kind}` },
        element("span", { class: "step-label" }, step.label),
        element("span", { class: "track", "aria-hidden": "true" }, bar),
        element("span", { class: "step-value" }, step.value),
      ),
    );
  }
  return list;
}
