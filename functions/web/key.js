// The write key: entered once at the top of the page, kept for this browser tab only.

import { writeKey } from "./api.js";

const input = () => document.getElementById("key");
const message = () => document.getElementById("key-message");

export function initKey() {
  const form = document.getElementById("key-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input().value.trim();
    if (!key) {
      say("Enter the write key first.");
      input().focus();
      return;
    }
    writeKey.set(key);
    input().value = "";
    say("");
    show();
    document.getElementById("key-forget").focus();
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    writeKey.forget();
    show();
    input().focus();
  });
  show();
}

function show() {
  const held = Boolean(writeKey.get());
  document.getElementById("key-entry").hidden = held;
  document.getElementById("key-held").hidden = !held;
}

function say(text) {
  message().textContent = text;
}

/** Whether a write key is set; if not, says so and puts the cursor in the key field. */
export function requireKey() {
  if (writeKey.get()) return true;
  say("This change needs the write key: enter it here first.");
  input().focus();
  return false;
}

/** After a 401 the key is wrong: it is forgotten, and the advice is returned for the message. */
export function keyAdvice(error) {
  if (error.status !== 401) return "";
  writeKey.forget();
  show();
  return ". Enter a valid write key at the top of the page.";
}
