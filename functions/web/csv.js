// Comma-separated files (RFC 4180): quoted fields, doubled quotes, CRLF or LF line ends.

export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  const source = text.replace(/^\uFEFF/, "");
  for (let i = 0; i < source.length; i += 1) {
    const char = source[i];
    if (quoted) {
      if (char !== '"') field += char;
      else if (source[i + 1] === '"') {
        field += '"';
        i += 1;
      } else quoted = false;
    } else if (char === '"' && field === "") quoted = true;
    else if (char === ",") {
      row.push(field);
      field = "";
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && source[i + 1] === "\n") i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += char;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((cells) => cells.length > 1 || cells[0].trim() !== "");
}

// A text cell a spreadsheet would run as a formula (=, +, -, @, tab or CR first) gets a leading
// apostrophe, as in the files the service writes (training/spreadsheet.py); numbers stay numbers.
const FORMULA = /^[=+\-@\t\r]/;
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const asText = (text) => (FORMULA.test(text) && !NUMBER.test(text) ? `'${text}` : text);

const cell = (value) => {
  const text = asText(value === null || value === undefined ? "" : String(value));
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

export const formatCsv = (rows) => rows.map((cells) => cells.map(cell).join(",")).join("\r\n") + "\r\n";
