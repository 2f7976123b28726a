// The form designer's drag and drop: SortableJS reorders the field list, and the list's
// own form (the keyed order of its hidden inputs) is posted, as the keyboard buttons are.
// htmx swaps the designer in place after each change, so new lists are started on load.
(function () {
  "use strict";
  function start(root) {
    if (typeof Sortable === "undefined") return;
    root.querySelectorAll("form[data-sortable]").forEach(function (form) {
      var list = form.querySelector("ol");
      if (!list || list.dataset.sortableStarted) return;
      list.dataset.sortableStarted = "1";
      Sortable.create(list, {
        handle: ".handle",
        animation: 120,
        forceFallback: true,
        fallbackOnBody: true,
        onEnd: function (event) {
          if (event.oldIndex !== event.newIndex) setTimeout(function () { form.requestSubmit(); }, 0);
        },
      });
    });
  }
  document.addEventListener("htmx:load", function (event) { start(event.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { start(document); });
  } else {
    start(document);
  }
})();
