// @ts-check
// A button that asks before it acts, without a dialog: the first click turns its text into the
// question ("Really remove alice?") for a few seconds, and only a click on the question acts.
// The page has one beside the open conversation's title, to remove a friend or leave a group:
// window.confirm would stop the page (and cannot be answered in a headless test), and a single
// click is too easy to make by mistake for something the other side sees at once.

/** What the button is for: a conversation key, its label, and the question a first click asks. */
/** @typedef {{ key: string, label: string, question: string }} ConfirmTarget */

export class ConfirmButton {
  /** @type {HTMLButtonElement} */
  #button;
  /** @type {(key: string) => Promise<void>} */
  #act;
  #armedMs;
  /** @type {ConfirmTarget | null} */
  #target = null;
  /** True while the question is shown. */
  #armed = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #disarmTimer;

  /**
   * @param {HTMLButtonElement} button
   * @param {(key: string) => Promise<void>} act what a confirmed click does; shows its own errors
   * @param {number} [armedMs] how long the question waits for its click (default 4000)
   */
  constructor(button, act, armedMs = 4000) {
    this.#button = button;
    this.#act = act;
    this.#armedMs = armedMs;
    button.addEventListener("click", () => void this.#clicked());
  }

  /** Shows the button for `target`, or hides it (null); another target drops the question. */
  show(/** @type {ConfirmTarget | null} */ target) {
    if (target?.key !== this.#target?.key) this.#disarm();
    this.#target = target;
    this.#button.hidden = target === null;
    this.#draw();
  }

  async #clicked() {
    const target = this.#target;
    if (!target || this.#button.disabled) return;
    if (!this.#armed) {
      this.#armed = true;
      this.#draw();
      this.#disarmTimer = setTimeout(() => this.#disarm(), this.#armedMs);
      return;
    }
    this.#disarm();
    this.#button.disabled = true;
    try {
      await this.#act(target.key);
    } finally {
      this.#button.disabled = false;
    }
  }

  #disarm() {
    clearTimeout(this.#disarmTimer);
    this.#armed = false;
    this.#draw();
  }

  #draw() {
    const target = this.#target;
    if (!target) return;
    this.#button.textContent = this.#armed ? target.question : target.label;
    this.#button.toggleAttribute("data-armed", this.#armed);
  }
}
