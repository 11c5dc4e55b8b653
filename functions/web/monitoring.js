// The monitoring view: each characteristic's drift against the champion's training stones,
// day after day, and the champion's error on each ingested file's fresh appraisals.

import { call, query } from "./api.js";
import { barChart } from "./charts.js";
import { element, row, scrollingTable } from "./dom.js";
import { percent, share, when } from "./format.js";

const DAYS = 30;
const NAMES = { carat: "Carat", cut: "Cut", color: "Color", clarity: "Clarity", depth: "Depth %", table: "Table %", x: "Length x", y: "Width y", z: "Depth z", price: "Price given" };

export function initMonitoring() {
  const form = document.getElementById("monitoring-form");
  const drift = document.getElementById("drift");
  const accuracy = document.getElementById("accuracy");
  const status = document.getElementById("monitoring-status");

  async function load() {
    const partner = form.elements.namedItem("partner").value.trim();
    status.textContent = "Loading…";
    try {
      const [series, report] = await Promise.all([
        call("GET", `/v1/monitoring/daily${query({ days: DAYS, partner })}`),
        call("GET", `/v1/monitoring${query({ window: "30d", partner })}`),
      ]);
      showDrift(drift, series);
      showAccuracy(accuracy, report.accuracy);
      status.textContent = `${report.drift.stones.toLocaleString("en-US")} stones priced in the last 30 days${partner ? ` for ${partner}` : ""}, ${report.drift.refused_requests.toLocaleString("en-US")} requests refused (not counted).`;
    } catch (error) {
      status.textContent = `Monitoring unavailable: ${error.title}: ${error.detail || error.message}`;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  return { show: load };
}

function showDrift(box, series) {
  if (!series.reference) {
    box.replaceChildren(element("p", { class: "notice" }, "No champion yet: nothing to compare the stones priced with."));
    return;
  }
  const first = series.days[0]?.day ?? "";
  const last = series.days.at(-1)?.day ?? "";
  const panels = Object.keys(NAMES).map((name) => {
    const days = series.days.map((day) => ({ day: day.day, figure: day.characteristics.find((f) => f.name === name) }));
    const threshold = days[0].figure.threshold;
    const crossed = days.filter((d) => d.figure.crossed).map((d) => d.day);
    const measured = days.filter((d) => d.figure.js_distance !== null);
    const worst = measured.reduce((a, b) => (b.figure.js_distance > (a?.figure.js_distance ?? -1) ? b : a), null);
    const summary =
      `${NAMES[name]}: Jensen-Shannon distance by day, threshold ${threshold}. ` +
      (worst ? `Highest ${worst.figure.js_distance.toFixed(3)} on ${worst.day}. ` : "No stone priced. ") +
      (crossed.length ? `Past the threshold on ${crossed.join(", ")}.` : "Never past the threshold with enough stones.");
    return element(
      "figure",
      { class: "chart-panel" },
      element("figcaption", {}, NAMES[name], crossed.length ? element("span", { class: "flag" }, ` drifted on ${crossed.length} day${crossed.length > 1 ? "s" : ""}`) : ""),
      barChart({
        bars: days.map((d) => ({ value: d.figure.js_distance, past: d.figure.crossed === true })),
        lines: [{ value: threshold, text: `threshold ${threshold}` }],
        top: threshold * 2,
        summary,
        first,
        last,
      }),
    );
  });
  box.replaceChildren(
    element("p", { class: "hint" }, `Against the ${series.reference.stones.toLocaleString("en-US")} training stones of ${series.reference.version}. A bar is a day's Jensen-Shannon distance (0: the same spread as the training stones); a red bar is past the dashed threshold on a day with enough stones for a verdict (500).`),
    element("div", { class: "chart-grid" }, ...panels),
  );
}

function showAccuracy(box, accuracy) {
  if (!accuracy.files.length) {
    box.replaceChildren(element("p", { class: "notice" }, "No ingested file has been scored yet."));
    return;
  }
  const files = accuracy.files;
  const cv = accuracy.cv_mape;
  const alertAt = cv === null ? null : cv * accuracy.alert_ratio;
  const lines = cv === null ? [] : [{ value: cv, text: `CV ${percent(cv, 1)}` }, { value: alertAt, text: `alert ${percent(alertAt, 1)}` }];
  const alerts = files.filter((f) => f.alert).map((f) => f.name);
  const mape = barChart({
    bars: files.map((f) => ({ value: f.mape, past: f.alert === true })),
    lines,
    summary: `Live MAPE per ingested file, oldest first: from ${percent(files[0].mape, 2)} to ${percent(files.at(-1).mape, 2)}; the champion's cross-validated MAPE ${percent(cv, 2)}. ${alerts.length ? `Past ${accuracy.alert_ratio} times it on ${alerts.join(", ")}.` : "Never past the alert line."}`,
  });
  const coverage = barChart({
    bars: files.map((f) => ({ value: f.coverage === null ? null : f.coverage * 100, past: f.coverage !== null && f.coverage < 0.8 })),
    lines: [{ value: 90, text: "90% target" }],
    top: 100,
    summary: `Share of each file's fresh stones inside the 90% range, oldest first: ${files.map((f) => share(f.coverage)).join(", ")}.`,
  });
  box.replaceChildren(
    element("div", { class: "chart-grid" }, element("figure", { class: "chart-panel" }, element("figcaption", {}, "MAPE on fresh stones (%)"), mape), element("figure", { class: "chart-panel" }, element("figcaption", {}, "90% range holds (%)"), coverage)),
    scrollingTable({
      labelledby: "accuracy-caption",
      caption: element("caption", { id: "accuracy-caption" }, "Each file's fresh stones, priced by the champion of the day"),
      columns: [["File"], ["Scored"], ["Model"], ["Stones", true], ["MAPE", true], ["Its CV MAPE", true], ["90% range holds", true], ["Alert"]],
      body: element(
        "tbody",
        {},
        ...files.map((f) =>
          row([
            { text: f.name, header: true },
            when(f.scored_at),
            f.model_version,
            { text: String(f.stones ?? "—"), class: "num" },
            { text: percent(f.mape, 2), class: "num" },
            { text: percent(f.cv_mape, 2), class: "num" },
            { text: share(f.coverage), class: "num" },
            f.alert ? "past the alert line" : "—",
          ]),
        ),
      ),
    }),
  );
}
