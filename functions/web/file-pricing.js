// Pricing a CSV file through the batch endpoint: the same file comes back with price,
// price_low, price_high, model_version and error columns (as `diamonds price` writes it).
// The API refuses a whole request for one implausible stone, so the stones it names are set
// aside with its message and the rest priced again.

import { call } from "./api.js";
import { formatCsv, parseCsv } from "./csv.js";
import { element } from "./dom.js";
import { busy, clearProblem } from "./forms.js";

const CHARACTERISTICS = ["carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z"];
const GRADED = new Set(["cut", "color", "clarity"]);
const MAX_STONES = 10000;
const ATTEMPTS = 3;

export function initFilePricing() {
  const form = document.getElementById("file-form");
  const input = document.getElementById("file-input");
  const result = document.getElementById("file-result");
  const problem = form.querySelector(".problem");
  let download = null;

  const fail = (message) => {
    problem.textContent = message;
    problem.hidden = false;
    input.focus();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearProblem(form);
    const file = input.files[0];
    if (!file) return fail("Choose a CSV file first.");
    busy(form, async () => {
      result.replaceChildren(element("p", { class: "notice" }, `Pricing ${file.name}…`));
      try {
        const priced = await priceFile(await file.text());
        if (download) URL.revokeObjectURL(download);
        download = URL.createObjectURL(new Blob([priced.csv], { type: "text/csv" }));
        const name = file.name.replace(/\.csv$/i, "") + "-priced.csv";
        result.replaceChildren(
          element(
            "p",
            { class: "status" },
            `${priced.priced} of ${priced.rows} stones priced with model ${priced.version || "—"}`,
            priced.refused ? `; ${priced.refused} refused (see the error column).` : ".",
          ),
          element("p", {}, element("a", { href: download, download: name, class: "button" }, `Download ${name}`)),
        );
      } catch (error) {
        result.replaceChildren();
        fail(error.title ? `${error.title}: ${error.detail}` : error.message);
      }
    });
  });
}

async function priceFile(text) {
  const [header, ...lines] = parseCsv(text);
  if (!header || !lines.length) throw new Error("The file holds no stone: it needs a header line and one line a stone.");
  const names = header.map((name) => name.trim().toLowerCase());
  const missing = CHARACTERISTICS.filter((name) => !names.includes(name));
  if (missing.length) throw new Error(`The file has no column ${missing.join(", ")}.`);
  if (lines.length > MAX_STONES) throw new Error(`The file holds ${lines.length} stones; at most ${MAX_STONES} at a time.`);

  const stones = lines.map((cells) => stoneOf(names, cells));
  const errors = new Map();
  let version = "";
  let prices = new Map();
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const pending = stones.map((_, index) => index).filter((index) => !errors.has(index));
    if (!pending.length) break;
    try {
      const answer = await call("POST", "/v1/price", pending.map((index) => stones[index]));
      version = answer.model_version;
      prices = new Map(pending.map((index, position) => [index, answer.prices[position]]));
      break;
    } catch (error) {
      const named = error.status === 422 ? refusals(error.errors, pending) : new Map();
      if (!named.size) throw error;
      for (const [index, message] of named) errors.set(index, message);
    }
  }
  const rows = [[...header, "price", "price_low", "price_high", "model_version", "error"]];
  lines.forEach((cells, index) => {
    const price = prices.get(index);
    rows.push([
      ...cells,
      price ? price.price.toFixed(2) : "",
      price ? price.interval.low.toFixed(2) : "",
      price ? price.interval.high.toFixed(2) : "",
      price ? version : "",
      errors.get(index) || "",
    ]);
  });
  return { csv: formatCsv(rows), rows: lines.length, priced: prices.size, refused: errors.size, version };
}

function stoneOf(names, cells) {
  const stone = {};
  for (const name of CHARACTERISTICS) {
    const text = (cells[names.indexOf(name)] ?? "").trim();
    if (text === "") continue;
    const value = Number(text);
    stone[name] = GRADED.has(name) || !Number.isFinite(value) ? text : value;
  }
  return stone;
}

/** The API's messages per stone of the file, from pointers such as "/3/y" into the list sent. */
function refusals(problems, pending) {
  const found = new Map();
  for (const { field, detail } of problems) {
    const [, position, name] = String(field).split("/");
    const index = pending[Number(position)];
    if (index === undefined || !/^\d+$/.test(position)) return new Map();
    found.set(index, [found.get(index), `${name}: ${detail}`].filter(Boolean).join("; "));
  }
  return found;
}
