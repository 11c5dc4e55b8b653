// The models view: every version with its metrics and the champion marked; promote (the
// rollback too); retrain, with the run followed until it ends; the files ingested.

import { call, query } from "./api.js";
import { confirmAction } from "./dialogs.js";
import { element, row, scrollingTable } from "./dom.js";
import { busy, showProblem } from "./forms.js";
import { number, percent, share, when } from "./format.js";
import { keyAdvice, requireKey } from "./key.js";

const ENDED = new Set(["succeeded", "failed", "rejected_input"]);
const POLL_MS = 1500;
const INGESTIONS_PAGE = 10;

export function initModels() {
  const table = document.getElementById("models-table");
  const region = table.closest(".table-scroll");
  const status = document.getElementById("models-status");
  const retrain = document.getElementById("retrain-form");
  const runBox = document.getElementById("run");
  let following = null;

  async function loadModels() {
    try {
      const list = await call("GET", "/v1/models");
      const models = [...list.models].sort((a, b) => (a.version < b.version ? 1 : -1));
      table.tBodies[0].replaceChildren(...models.map(modelRow));
      if (!models.length) status.textContent = "No model has been trained yet: retrain to make the first.";
    } catch (error) {
      status.textContent = `The models could not be read. ${error.title}: ${error.detail}`;
    }
  }

  function modelRow(model) {
    const serving = model.champion
      ? element("span", { class: "badge" }, "Champion")
      : promoteButton(model.version);
    const tr = row([
      { text: element("code", {}, model.version), header: true },
      when(model.created_at),
      { text: number(model.rows), class: "num" },
      { text: percent(model.cv_mape, 2), class: "num" },
      { text: percent(model.holdout_mape, 2), class: "num" },
      { text: share(model.interval_coverage), class: "num" },
      serving,
    ]);
    if (model.champion) tr.classList.add("champion");
    tr.dataset.version = model.version;
    return tr;
  }

  function promoteButton(version) {
    const button = element("button", { type: "button", "aria-label": `Promote version ${version}` }, "Promote");
    button.addEventListener("click", () => {
      if (!requireKey()) return;
      confirmAction({
        title: `Promote ${version}?`,
        text: "This version starts pricing every stone within seconds; the current champion stays available to promote back.",
        confirm: "Promote",
        reason: "rollback from the pricing desk",
        fallback: region,
        act: async (reason) => {
          await call("POST", `/v1/models/${encodeURIComponent(version)}/promote`, reason ? { reason } : {});
          await loadModels();
          status.textContent = `${version} is the champion now.`;
        },
      });
    });
    return button;
  }

  function showRun(run, note = "") {
    const gate = run.gate ? `${run.gate.decision}: ${run.gate.reason}` : null;
    const facts = [
      ["Status", element("strong", { "data-run-status": run.status }, run.status)],
      ["Trigger", run.trigger],
      ["Stones", run.rows === undefined ? null : number(run.rows)],
      ["Started", run.started_at ? when(run.started_at) : null],
      ["Stages", run.stages && Object.keys(run.stages).length ? Object.entries(run.stages).map(([name, s]) => `${name} ${number(s)} s`).join(", ") : null],
      ["Gate", gate],
      ["Version", run.version ? element("code", {}, run.version) : null],
      ["Error", run.error],
    ];
    const list = element("dl", { class: "facts" });
    for (const [term, value] of facts) {
      if (value !== null && value !== undefined && value !== "") list.append(element("dt", {}, term), element("dd", {}, value));
    }
    runBox.dataset.run = run.run_id;
    runBox.replaceChildren(
      element("h4", {}, "Run ", element("code", {}, run.run_id)),
      note ? element("p", { class: "hint" }, note) : null,
      list,
    );
  }

  async function follow(runId, note = "") {
    following = runId;
    while (following === runId) {
      let run;
      try {
        run = await call("GET", `/v1/runs/${encodeURIComponent(runId)}`);
      } catch (error) {
        runBox.replaceChildren(element("p", { class: "problem" }, `The run could not be read. ${error.title}: ${error.detail}`));
        break;
      }
      showRun(run, note);
      if (ENDED.has(run.status)) {
        await loadModels();
        status.textContent = `Run ${runId} ${run.status.replace("_", " ")}${run.gate ? ` (${run.gate.decision})` : ""}.`;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    if (following === runId) following = null;
  }

  async function latestRun() {
    if (following) return;
    try {
      const { runs, running, queued } = await call("GET", "/v1/runs");
      const runId = running || queued || runs.at(-1);
      if (!runId || following) return;
      const run = await call("GET", `/v1/runs/${encodeURIComponent(runId)}`);
      if (following) return;
      if (ENDED.has(run.status)) showRun(run, "The latest run.");
      else follow(runId, "The latest run, still going.");
    } catch {
      // no run to show: the retrain form is enough
    }
  }

  retrain.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!requireKey()) return;
    busy(retrain, async () => {
      following = "starting";
      runBox.replaceChildren(element("p", { class: "notice" }, "Starting a run…"));
      try {
        const reason = retrain.elements.namedItem("reason").value.trim();
        const started = await call("POST", "/v1/retrain", reason ? { reason } : {});
        const behind = started.running ? `; it starts when run ${started.running} ends` : "";
        const note = started.coalesced
          ? `A follow-up run had already been asked for: this request joins it${behind}.`
          : `Training on ${number(started.rows)} stones${behind}.`;
        follow(started.run_id, note);
      } catch (error) {
        following = null;
        runBox.replaceChildren();
        showProblem(retrain, error, keyAdvice(error));
      }
    });
  });

  const ingestions = ingestionLedger(document.getElementById("ingestions"));

  return {
    show: () => {
      loadModels();
      latestRun();
      ingestions.load();
    },
  };
}

function ingestionLedger(box) {
  let cursor = null;
  let body = null;

  async function load(more = false) {
    if (!more) cursor = null;
    let page;
    try {
      page = await call("GET", `/v1/ingestions${query({ limit: INGESTIONS_PAGE, cursor })}`);
    } catch (error) {
      box.replaceChildren(
        element(
          "p",
          { class: "notice" },
          error.status === 404
            ? "This server keeps no ledger of ingested files yet."
            : `The ledger could not be read. ${error.title}: ${error.detail}`,
        ),
      );
      return;
    }
    if (!more) {
      body = element("tbody");
      box.replaceChildren(table(body));
    }
    const rows = page.items.map(ingestionRow);
    body.append(...rows);
    if (more) rows[0]?.firstChild.focus();
    cursor = page.next_cursor ?? null;
    box.querySelector(".more")?.remove();
    if (!page.items.length && !more) box.replaceChildren(element("p", { class: "notice" }, "No file has been ingested yet."));
    if (cursor !== null) {
      const button = element("button", { type: "button", class: "more" }, "Show older files");
      button.addEventListener("click", () => load(true));
      box.append(button);
    }
  }

  return { load: () => load(false) };
}

function table(body) {
  return scrollingTable({
    labelledby: "ingestions-caption",
    caption: element(
      "caption",
      { id: "ingestions-caption" },
      "Files ingested, newest first. The champion's error is its MAPE on the file's stones it had not trained on, before retraining.",
    ),
    columns: [
      ["Received"], ["File"], ["Status"], ["Champion's error on them", true], ["Rows read", true], ["Accepted", true],
      ["Quarantined", true], ["Inserted", true], ["Unchanged", true], ["Champion then"], ["Run"],
    ],
    body,
  });
}

function ingestionRow(item) {
  const unscored = item.champion_mape === null || item.champion_mape === undefined;
  const tr = row([
    { text: when(item.received_at), header: true },
    item.name,
    item.error ? `${item.status}: ${item.error}` : item.status,
    { text: unscored ? "—" : `${percent(item.champion_mape)} (${number(item.champion_scored)} stones)`, class: "num" },
    { text: number(item.rows_read), class: "num" },
    { text: number(item.accepted), class: "num" },
    { text: number(item.rejected), class: "num" },
    { text: number(item.inserted), class: "num" },
    { text: number(item.unchanged), class: "num" },
    item.champion_version ? element("code", {}, item.champion_version) : "—",
    item.run_id ? element("code", {}, item.run_id) : "—",
  ]);
  tr.firstChild.tabIndex = -1;
  return tr;
}
