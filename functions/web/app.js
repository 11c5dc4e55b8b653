// The pricing desk: five views of the REST API (price a stone, the inventory, the models,
// monitoring, the partners), chosen by the address's fragment (#price, #inventory, #models,
// #monitoring, #partners).

import { grades } from "./api.js";
import { initDialogs } from "./dialogs.js";
import { initFilePricing } from "./file-pricing.js";
import { initInventory } from "./inventory.js";
import { initKey } from "./key.js";
import { initModels } from "./models.js";
import { initMonitoring } from "./monitoring.js";
import { initPartners } from "./partners.js";
import { initPrice } from "./price.js";

const TITLES = {
  price: "Price a stone",
  inventory: "Inventory",
  models: "Models",
  monitoring: "Monitoring",
  partners: "Partners",
};

function route(views, moveFocus) {
  const wanted = location.hash.slice(1);
  const name = wanted in TITLES ? wanted : "price";
  for (const view of Object.keys(TITLES)) document.getElementById(`view-${view}`).hidden = view !== name;
  for (const link of document.querySelectorAll("[data-view]")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${TITLES[name]} · Pricing desk`;
  if (moveFocus) document.getElementById(`${name}-title`).focus();
  views[name]?.show();
}

async function start() {
  const loading = document.getElementById("loading");
  let scale;
  try {
    scale = await grades();
  } catch (error) {
    loading.textContent = `The pricing service does not answer (${error.title || error.message}). Reload the page to try again.`;
    loading.classList.add("problem");
    return;
  }
  initKey();
  initDialogs();
  initPrice(scale);
  initFilePricing();
  const views = {
    inventory: initInventory(scale),
    models: initModels(),
    monitoring: initMonitoring(),
    partners: initPartners(),
  };
  loading.remove();
  window.addEventListener("hashchange", () => route(views, true));
  route(views, false);
  document.body.dataset.ready = "true";
}

start();
