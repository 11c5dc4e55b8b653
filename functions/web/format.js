// How figures are written on the page.

const dollars = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const plain = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

export const money = (value) => (value === null || value === undefined ? "—" : dollars.format(value));
export const number = (value) => (value === null || value === undefined ? "—" : plain.format(value));
export const percent = (value, digits = 1) =>
  value === null || value === undefined ? "—" : `${Number(value).toFixed(digits)}%`;
/** A share given as a fraction (0.9), written as a percentage (90.0%). */
export const share = (value, digits = 1) =>
  value === null || value === undefined ? "—" : percent(Number(value) * 100, digits);
export const factor = (value) => `×${value.toFixed(value >= 10 ? 1 : 2)}`;

/** An ISO timestamp as a short local date and time. */
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

const GRADES = new Set(["cut", "color", "clarity"]);

/** A stone's cells for a table row: its id as the row's header, then the named fields. */
export const stoneCells = (stone, names) => [
  { text: String(stone.id), header: true },
  ...names.map((name) =>
    GRADES.has(name) ? stone[name] : { text: name === "price" ? money(stone[name]) : number(stone[name]), class: "num" },
  ),
];
