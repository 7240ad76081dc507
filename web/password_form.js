// @ts-check
// The "Change password" form under the user's name (index.html's #account): the current
// password and the new one twice, checked here, then CHANGE_PASSWORD through the link, which
// keeps the fresh session token of the reply (the server revokes every other). Errors show under
// the form: a wrong current password is errno 1, and it counts as a failed login, so five within
// a minute are errno 8.

import { RequestError } from "./chat_link.js";

/** @typedef {import("./chat_link.js").ChatLink} ChatLink */

const field = (
  /** @type {string} */ id,
) => /** @type {HTMLInputElement} */ (document.getElementById(id));

/**
 * Wires the form; `changed` runs after a change succeeded (the page stores the new token). The
 * returned function closes the form and forgets what was typed (after a change, at logout).
 * @param {ChatLink} link @param {() => void} changed @returns {() => void}
 */
export function setUpPasswordForm(link, changed) {
  const account = /** @type {HTMLDetailsElement} */ (document.getElementById("account"));
  const form = /** @type {HTMLFormElement} */ (document.getElementById("password-form"));
  const error = /** @type {HTMLElement} */ (document.getElementById("password-error"));
  const current = field("current-password");
  const next = field("new-password");
  const again = field("new-password-again");
  const submit = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));

  const close = () => {
    form.reset();
    error.textContent = "";
    account.open = false;
  };

  /** The first thing to fix before asking the server, with the field to fix it in. */
  const problem = () => {
    if (!current.value) return { at: current, text: "Enter your current password." };
    if (!next.value) return { at: next, text: "Enter a new password." };
    if (next.value !== again.value) return { at: again, text: "The new passwords differ." };
    return null;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const found = problem();
    if (found) {
      error.textContent = found.text;
      found.at.focus();
      return;
    }
    submit.disabled = true;
    try {
      await link.changePassword(current.value, next.value);
    } catch (failure) {
      const wrong = failure instanceof RequestError && failure.errno === 1;
      error.textContent = wrong
        ? "The current password is wrong."
        : failure instanceof Error
        ? failure.message
        : String(failure);
      current.focus();
      current.select();
      return;
    } finally {
      submit.disabled = false;
    }
    close();
    changed();
  });
  return close;
}
