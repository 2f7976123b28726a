// Formflow's own script: small, no framework. htmx does partial page updates.
// Every page works without it; this only makes forms quicker to fill in.
"use strict";

(() => {
  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // The side menu on small screens.
  function toggleMenu(toggle) {
    const target = document.getElementById(toggle.dataset.toggle);
    if (!target) return;
    const open = target.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  }

  // Subtables: a new row is a copy of the <template> row with the next free index.
  function addRow(button) {
    const fieldset = button.closest("fieldset");
    const table = fieldset.querySelector("table[data-rows]");
    const template = fieldset.querySelector("template[data-row-template]");
    const index = Number(table.dataset.nextIndex || "0");
    table.dataset.nextIndex = String(index + 1);
    const body = table.tBodies[0];
    body.insertAdjacentHTML("beforeend", template.innerHTML.replaceAll("__index__", String(index)));
    const row = body.lastElementChild;
    if (window.htmx) window.htmx.process(row);
    row.querySelector("input:not([type=hidden]), select, textarea")?.focus();
    scheduleConditions(button.closest("form"));
  }

  function removeRow(button) {
    const form = button.closest("form");
    button.closest("tr").remove();
    scheduleConditions(form);
  }

  // Link fields: picking a match stores its id; typing again forgets the pick.
  function chooseLink(button) {
    const picker = button.closest("[data-link]");
    picker.querySelector("input[type=hidden]").value = button.dataset.id;
    const box = picker.querySelector("input[type=search]");
    box.value = button.dataset.title;
    box.dataset.picked = button.dataset.title;
    window.htmx?.trigger(box, "htmx:abort");
    picker.querySelector(".link-results").replaceChildren();
    box.focus();
    scheduleConditions(picker.closest("form"));
  }

  // visible_if / required_if: the server works them out with the service's own rules.
  const timers = new WeakMap();

  function scheduleConditions(form) {
    if (!form || !form.dataset.conditions) return;
    clearTimeout(timers.get(form));
    timers.set(form, setTimeout(() => applyConditions(form), 150));
  }

  async function applyConditions(form) {
    const data = new FormData(form);
    for (const [name, value] of [...data.entries()]) {
      if (value instanceof File) data.delete(name);
    }
    let answer;
    try {
      const response = await fetch(form.dataset.conditions, {
        method: "POST",
        body: data,
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) return;
      answer = await response.json();
    } catch {
      return; // offline or the server is busy: the form stays as it is
    }
    // What the chosen links fill in or look up: shown at once, saved by the server alike.
    for (const [key, text] of Object.entries(answer.values || {})) {
      const shown = form.querySelector(`[data-field="${key}"] > .readonly`);
      if (shown) shown.textContent = text;
    }
    const visible = new Set(answer.visible);
    const required = new Set(answer.required);
    for (const field of form.querySelectorAll("[data-field]")) {
      const key = field.dataset.field;
      field.hidden = !visible.has(key);
      for (const mark of field.querySelectorAll(":scope [data-required-mark]")) {
        mark.classList.toggle("required", required.has(key));
      }
    }
    // Subtable rows: each row the server worked out ("items.3") has its cells shown or not.
    for (const table of form.querySelectorAll("table[data-rows]")) {
      for (const row of table.querySelectorAll(":scope > tbody > tr[data-row]")) {
        const prefix = `${table.dataset.rows}.${row.dataset.row}`;
        if (!visible.has(prefix)) continue;
        for (const cell of row.querySelectorAll(":scope > td[data-cell]")) {
          const path = `${prefix}.${cell.dataset.cell}`;
          cell.classList.toggle("off", !visible.has(path));
          cell.classList.toggle("needed", required.has(path));
        }
      }
    }
  }

  // Files: say at once when a file is too large, rather than after the upload.
  function checkFileSize(input) {
    const limit = Number(input.dataset.maxBytes || "0");
    const tooLarge = limit && [...input.files].some((file) => file.size > limit);
    input.setCustomValidity(tooLarge ? input.closest("fieldset").querySelector(".help").textContent : "");
    if (tooLarge) input.reportValidity();
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest(
      "[data-toggle], [data-add-row], [data-remove-row], [data-link-choose]",
    );
    if (!target) return;
    if (target.matches("[data-toggle]")) toggleMenu(target);
    else if (target.matches("[data-add-row]")) addRow(target);
    else if (target.matches("[data-remove-row]")) removeRow(target);
    else chooseLink(target);
  });

  document.addEventListener("input", (event) => {
    const box = event.target.closest("[data-link] input[type=search]");
    if (!box) return;
    box.closest("[data-link]").querySelector("input[type=hidden]").value = "";
    delete box.dataset.picked;
  });

  // A pick stands until the person types again: refocusing the box (which asks for
  // matches) or an answer still on its way must not open a second list of results
  // under the record just chosen.
  const pickedBox = (element) =>
    element?.matches?.("[data-link] input[type=search]") &&
    element.dataset.picked !== undefined &&
    element.dataset.picked === element.value;
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (pickedBox(event.detail.elt)) event.preventDefault();
  });
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (pickedBox(event.detail.requestConfig?.elt)) event.detail.shouldSwap = false;
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches("input[type=file][data-max-bytes]")) checkFileSize(event.target);
    scheduleConditions(event.target.closest("form[data-conditions]"));
  });

  document.addEventListener("submit", (event) => {
    const message = event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // List filters: leave empty ones out of the request, so the address stays readable.
  document.addEventListener("htmx:configRequest", (event) => {
    const { verb, parameters } = event.detail;
    if (verb !== "get" || typeof parameters?.entries !== "function") return;
    const names = new Set([...parameters.entries()].map(([name]) => name));
    for (const name of names) {
      if (parameters.getAll(name).every((value) => value === "")) parameters.delete(name);
    }
  });

  // Close link results and the account menu with Escape.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const picker = event.target.closest?.("[data-link]");
    picker?.querySelector(".link-results")?.replaceChildren();
    document.querySelector("details.user-menu[open]")?.removeAttribute("open");
  });

  // The account menu and link results close when a tap lands anywhere else.
  document.addEventListener("click", (event) => {
    const menu = document.querySelector("details.user-menu[open]");
    if (menu && !menu.contains(event.target)) menu.removeAttribute("open");
    for (const results of document.querySelectorAll("[data-link] .link-results")) {
      if (!results.closest("[data-link]").contains(event.target)) results.replaceChildren();
    }
  });

  // A refused save comes back with its problems marked; take the person to the first one,
  // which on a phone is often screens below the summary at the top.
  function focusFirstProblem() {
    if (document.activeElement && document.activeElement !== document.body) return;
    document.querySelector('form [aria-invalid="true"]')?.focus();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusFirstProblem);
  } else {
    focusFirstProblem();
  }
})();
