// The dashboard designer's grid: a card is moved by dragging its handle (SortableJS) or by
// its arrow buttons (with the keyboard too), resized by dragging its corner or choosing its
// columns, and taken out with Remove. Only the page changes: the grid's form posts the
// whole arrangement once, on Save, exactly as it does without JavaScript.
(function () {
  "use strict";
  var WIDTHS = 4;

  function cards(list) {
    return Array.prototype.filter.call(list.children, function (item) { return item.matches("li[data-widget]"); });
  }

  function setWidth(card, width) {
    card.className = card.className.replace(/\bspan-\d\b/, "span-" + width);
    card.querySelector("select[name=width]").value = String(width);
  }

  function start(form) {
    var list = form.querySelector("ol.designer-widgets");
    var status = form.querySelector("#grid-status");
    if (!list || list.dataset.gridStarted) return;
    list.dataset.gridStarted = "1";

    function changed(message) {
      status.textContent = message || form.dataset.unsaved || "";
    }

    if (typeof Sortable !== "undefined") {
      Sortable.create(list, {
        handle: ".handle",
        animation: 120,
        forceFallback: true,
        fallbackOnBody: true,
        onEnd: function (event) { if (event.oldIndex !== event.newIndex) changed(); },
      });
    }

    form.addEventListener("click", function (event) {
      var button = event.target.closest("button[name=move]");
      if (!button) return;
      event.preventDefault();
      var card = button.closest("li");
      var up = button.value.indexOf("up:") === 0;
      var other = up ? card.previousElementSibling : card.nextElementSibling;
      if (other) list.insertBefore(card, up ? other : other.nextElementSibling);
      button.focus();
      changed((cards(list).indexOf(card) + 1) + " / " + cards(list).length);
    });

    form.addEventListener("change", function (event) {
      var card = event.target.closest("li[data-widget]");
      if (!card) return;
      if (event.target.name === "width") setWidth(card, event.target.value);
      if (event.target.name === "remove") card.classList.toggle("removed", event.target.checked);
      changed();
    });

    list.addEventListener("pointerdown", function (event) {
      var corner = event.target.closest(".widget-resize");
      if (!corner) return;
      event.preventDefault();
      var card = corner.closest("li");
      var columns = getComputedStyle(list).gridTemplateColumns.split(" ").length;
      var gap = parseFloat(getComputedStyle(list).columnGap) || 0;
      var column = (list.clientWidth - gap * (columns - 1)) / columns;
      var left = card.getBoundingClientRect().left;
      function follow(move) {
        var spans = Math.round((move.clientX - left + gap) / (column + gap));
        setWidth(card, Math.max(1, Math.min(WIDTHS, spans)));
      }
      function stop() {
        document.removeEventListener("pointermove", follow);
        document.removeEventListener("pointerup", stop);
        changed();
      }
      document.addEventListener("pointermove", follow);
      document.addEventListener("pointerup", stop);
    });
  }

  function startAll() {
    document.querySelectorAll("form#widget-grid").forEach(start);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
