// Modal dialogs: focus goes back where it came from (or to a fallback when that element is
// gone), Escape and Cancel close them.

import { busy, clearProblem, showProblem } from "./forms.js";
import { keyAdvice } from "./key.js";

export function initDialogs() {
  for (const button of document.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
  const dialog = document.getElementById("confirm-dialog");
  const form = document.getElementById("confirm-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const act = dialog.act;
    if (!act) return;
    busy(form, async () => {
      try {
        await act(form.elements.namedItem("reason").value.trim());
        dialog.close();
      } catch (error) {
        showProblem(form, error, keyAdvice(error));
      }
    });
  });
}

export function openDialog(dialog, fallback) {
  const opener = document.activeElement;
  dialog.addEventListener(
    "close",
    () => {
      const target = opener?.isConnected && !opener.closest("[hidden]") ? opener : fallback;
      target?.focus();
    },
    { once: true },
  );
  dialog.showModal();
}

/** Asks before an action; `act(reason)` runs on confirmation, its API errors shown in the dialog. */
export function confirmAction({ title, text, confirm, reason = null, act, fallback }) {
  const dialog = document.getElementById("confirm-dialog");
  const form = document.getElementById("confirm-form");
  clearProblem(form);
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-yes").textContent = confirm;
  const reasonField = form.querySelector("[data-reason]");
  reasonField.hidden = reason === null;
  form.elements.namedItem("reason").value = reason ?? "";
  dialog.act = act;
  openDialog(dialog, fallback);
  (reason === null ? form.querySelector("[data-close]") : form.elements.namedItem("reason")).focus();
}
