// The form designer's drag and drop: SortableJS reorders the field list, and the list's
// own form (the keyed order of its hidden inputs) is posted, as the keyboard buttons are.
(function () {
  "use strict";
  function start() {
    if (typeof Sortable === "undefined") return;
    document.querySelectorAll("form[data-sortable]").forEach(function (form) {
      var list = form.querySelector("ol");
      if (!list) return;
      Sortable.create(list, {
        handle: ".handle",
        animation: 120,
        onEnd: function (event) {
          if (event.oldIndex !== event.newIndex) form.requestSubmit();
        },
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
