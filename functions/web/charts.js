// Bar charts in plain SVG: one bar a day (or a file), a dashed line for the threshold, the
// bars past it in another colour and marked in the chart's text alternative, so the chart
// reads the same without seeing it.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 320;
const HEIGHT = 120;
const PAD = { top: 8, right: 6, bottom: 18, left: 34 };

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

const label = (value) => (Math.abs(value) >= 10 ? value.toFixed(0) : value.toFixed(2));

/** bars: [{value (null: nothing to show), past (bool)}]; lines: [{value, text}] drawn across;
 * `summary` is the chart's text alternative. */
export function barChart({ bars, lines = [], top, summary, first = "", last = "" }) {
  const highest = Math.max(top ?? 0, ...bars.map((bar) => bar.value ?? 0), ...lines.map((line) => line.value)) || 1;
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const y = (value) => PAD.top + innerHeight * (1 - Math.min(value, highest) / highest);
  const step = innerWidth / Math.max(bars.length, 1);
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": summary, class: "chart" });
  chart.append(
    svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(0), y2: y(0), class: "axis" }),
    svg("text", { x: PAD.left - 4, y: y(highest) + 4, class: "tick", "text-anchor": "end" }, label(highest)),
    svg("text", { x: PAD.left - 4, y: y(0), class: "tick", "text-anchor": "end" }, "0"),
    svg("text", { x: PAD.left, y: HEIGHT - 3, class: "tick" }, first),
    svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 3, class: "tick", "text-anchor": "end" }, last),
  );
  bars.forEach((bar, index) => {
    if (bar.value === null || bar.value === undefined) return;
    const height = Math.max(y(0) - y(bar.value), 1);
    chart.append(
      svg("rect", {
        x: PAD.left + index * step + step * 0.15,
        y: y(0) - height,
        width: Math.max(step * 0.7, 1),
        height,
        class: bar.past ? "bar-past" : "bar-ok",
      }),
    );
  });
  for (const line of lines) {
    chart.append(
      svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(line.value), y2: y(line.value), class: "threshold" }),
      svg("text", { x: PAD.left + 3, y: y(line.value) - 3, class: "tick" }, line.text),
    );
  }
  return chart;
}
