// The office pages' few behaviours, as delegated listeners: the Content-Security-Policy allows
// no inline scripts or event handlers, so templates mark elements with data attributes instead.

// <form data-confirm="question">: ask before sending.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// <select|input data-choose="value"> in a form with "choice" radios: using it picks that choice.
function choose(event) {
  const field = event.target;
  if (!(field instanceof HTMLSelectElement || field instanceof HTMLInputElement)) return;
  const choice = field.dataset.choose && field.form?.elements.namedItem("choice");
  if (choice) {
    choice.value = field.dataset.choose;
  }
}
document.addEventListener("change", choose);
document.addEventListener("input", choose);

// Each cell of a list table carries its column's name, shown before it when the table is laid
// out as cards on a narrow screen (office.css).
function labelCells() {
  for (const table of document.querySelectorAll(".tablewrap table")) {
    const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, index) => {
        if (names[index] && !cell.dataset.label) cell.dataset.label = names[index];
      });
    }
  }
}
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", labelCells);
} else {
  labelCells();
}
