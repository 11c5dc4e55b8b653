// The partners view: every partner with its plan and this month's usage, the requests a day
// as a plain SVG chart, and a partner's keys: issue one (shown once), rotate, revoke.

import { call } from "./api.js";
import { confirmAction } from "./dialogs.js";
import { element, row, scrollingTable } from "./dom.js";
import { number, when } from "./format.js";
import { keyAdvice, requireKey } from "./key.js";

const SVG = "http://www.w3.org/2000/svg";

export function initPartners() {
  const table = document.getElementById("partners-table");
  const status = document.getElementById("partners-status");
  const chart = document.getElementById("usage-chart");
  const panel = document.getElementById("partner-keys");
  const keysBox = document.getElementById("keys");
  const issued = document.getElementById("issued");
  let chosen = null;

  async function load() {
    if (!requireKey()) {
      status.textContent = "Enter an admin key at the top of the page to see the partners.";
      return;
    }
    try {
      const [list, usage] = await Promise.all([call("GET", "/v1/partners"), call("GET", "/v1/usage")]);
      const used = Object.fromEntries(usage.partners.map((total) => [total.partner, total]));
      table.tBodies[0].replaceChildren(...list.partners.map((partner) => partnerRow(partner, used[partner.name])));
      chart.replaceChildren(usageChart(usage));
      status.textContent = list.partners.length ? "" : "No partner yet: add one with `diamonds partners add`.";
    } catch (error) {
      status.textContent = `The partners could not be read. ${error.title}: ${error.detail}${keyAdvice(error)}`;
    }
  }

  function partnerRow(partner, used) {
    const open = element("button", { type: "button", "aria-label": `Keys of ${partner.name}` }, "Keys");
    open.addEventListener("click", () => showKeys(partner.name, true));
    const name = partner.deleted_at ? `${partner.name} (deleted)` : partner.name;
    return row([
      { text: name, header: true },
      { text: number(partner.requests_per_minute), class: "num" },
      { text: number(partner.stones_per_month), class: "num" },
      { text: number(used ? used.stones : 0), class: "num" },
      { text: number(used ? used.requests : 0), class: "num" },
      partner.scopes.join(", "),
      partner.deleted_at ? "—" : open,
    ]);
  }

  async function showKeys(name, moveFocus) {
    chosen = name;
    panel.hidden = false;
    document.getElementById("keys-title").textContent = `Keys of ${name}`;
    try {
      const { keys } = await call("GET", `/v1/partners/${encodeURIComponent(name)}/keys`);
      const body = element("tbody", {}, ...keys.map(keyRow));
      keysBox.replaceChildren(
        scrollingTable({
          labelledby: "keys-caption",
          caption: element("caption", { id: "keys-caption" }, `The keys of ${name}: never their secrets.`),
          columns: [["Key"], ["Scopes"], ["Issued"], ["Expires"], ["Stops"], ["Last used"], ["Actions"]],
          body,
        }),
      );
    } catch (error) {
      keysBox.replaceChildren(element("p", { class: "problem" }, `${error.title}: ${error.detail}${keyAdvice(error)}`));
    }
    if (moveFocus) document.getElementById("keys-title").focus();
  }

  function keyRow(key) {
    const working = !key.revoked_at || new Date(key.revoked_at) > new Date();
    const actions = element("span", { class: "actions" });
    if (working) actions.append(keyButton("Rotate", key, rotate), keyButton("Revoke", key, revoke));
    const tr = row([
      { text: element("code", {}, key.prefix), header: true },
      key.scopes.join(", "),
      when(key.created_at),
      when(key.expires_at),
      when(key.revoked_at),
      when(key.last_used_at),
      actions,
    ]);
    tr.dataset.key = key.id;
    return tr;
  }

  function keyButton(label, key, action) {
    const button = element("button", { type: "button", "aria-label": `${label} key ${key.prefix}` }, label);
    button.addEventListener("click", () => action(key));
    return button;
  }

  function showIssued(key, note) {
    const value = element("code", { "data-issued-key": "" }, key.key);
    issued.replaceChildren(
      element("p", {}, element("strong", {}, "The new key, shown this once: "), value),
      element("p", { class: "hint" }, note),
    );
  }

  function rotate(key) {
    confirmAction({
      title: `Rotate ${key.prefix}?`,
      text: "A new key is issued with the same scopes; the old one keeps working for 24 hours.",
      confirm: "Rotate",
      fallback: panel,
      act: async () => {
        const path = `/v1/partners/${encodeURIComponent(chosen)}/keys/${key.id}/rotate`;
        const fresh = await call("POST", path, {});
        showIssued(fresh, `Give it to ${chosen} now; ${key.prefix} stops in 24 hours.`);
        await showKeys(chosen, false);
      },
    });
  }

  function revoke(key) {
    confirmAction({
      title: `Revoke ${key.prefix}?`,
      text: "The key stops on every instance within seconds. This cannot be undone.",
      confirm: "Revoke",
      fallback: panel,
      act: async () => {
        await call("DELETE", `/v1/partners/${encodeURIComponent(chosen)}/keys/${key.id}`);
        issued.replaceChildren(element("p", {}, `${key.prefix} is revoked.`));
        await showKeys(chosen, false);
      },
    });
  }

  document.getElementById("issue-key").addEventListener("click", async () => {
    if (!requireKey() || !chosen) return;
    try {
      const fresh = await call("POST", `/v1/partners/${encodeURIComponent(chosen)}/keys`, {});
      showIssued(fresh, `Give it to ${chosen} now: it is stored only as a hash and cannot be shown again.`);
      await showKeys(chosen, false);
    } catch (error) {
      issued.replaceChildren(element("p", { class: "problem" }, `${error.title}: ${error.detail}${keyAdvice(error)}`));
    }
  });

  return { show: load };
}

/** Requests a day per partner as bars, drawn as SVG elements (no markup strings, no script). */
function usageChart(usage) {
  const days = {};
  for (const entry of usage.days) days[entry.day] = (days[entry.day] || 0) + entry.requests;
  const names = Object.keys(days).sort();
  if (!names.length) return element("p", { class: "notice" }, `No request yet in ${usage.month}.`);
  const most = Math.max(...Object.values(days));
  const width = 600;
  const height = 160;
  const step = width / names.length;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 20}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("class", "usage-chart");
  const title = document.createElementNS(SVG, "title");
  title.textContent = `Requests a day in ${usage.month}, all partners: ${names.map((d) => `${d} ${days[d]}`).join(", ")}`;
  svg.append(title);
  names.forEach((day, index) => {
    const bar = document.createElementNS(SVG, "rect");
    const tall = Math.max(1, (days[day] / most) * height);
    bar.setAttribute("x", String(index * step + step * 0.1));
    bar.setAttribute("y", String(height - tall));
    bar.setAttribute("width", String(step * 0.8));
    bar.setAttribute("height", String(tall));
    bar.setAttribute("class", "bar");
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", String(index * step + step / 2));
    label.setAttribute("y", String(height + 15));
    label.setAttribute("text-anchor", "middle");
    label.textContent = day.slice(8);
    svg.append(bar, label);
  });
  return svg;
}
