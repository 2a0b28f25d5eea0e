// The site for every reader (issue 19). Jupyter Book adds every .js file in
// _static/ to every page.
//
// Tables on phones: a table wider than the page scrolls inside its own box
// (the theme's .pst-scrollable-table-container, which it makes focusable).
// Nothing showed that half its columns were out of sight. Each such box gets
// a visible hint above it ("scroll sideways") and the class
// `scrolls-sideways` (a right edge that fades once the end is reached);
// both follow the window's width. tests/test_site.py checks them at 390 px.
//
// Print: paper is white, so a page printed in dark mode is printed in the
// light colours, and the reader's mode comes back afterwards.
(function () {
  "use strict";
  const HINT = "Wide table: scroll sideways for more columns \u2192";

  function hintFor(box) {
    let hint = box.previousElementSibling;
    if (!hint || !hint.classList.contains("table-scroll-hint")) {
      hint = document.createElement("p");
      hint.className = "table-scroll-hint";
      hint.textContent = HINT;
      box.before(hint);
    }
    return hint;
  }

  function update(box) {
    const wide = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("scrolls-sideways", wide);
    box.classList.toggle(
      "at-the-end",
      wide && box.scrollLeft + box.clientWidth >= box.scrollWidth - 1
    );
    hintFor(box).classList.toggle("is-shown", wide);
    if (wide) {
      box.setAttribute("tabindex", "0"); // a keyboard can scroll it
    }
  }

  function updateAll() {
    document
      .querySelectorAll(".bd-article .pst-scrollable-table-container")
      .forEach(update);
  }

  function start() {
    updateAll();
    document
      .querySelectorAll(".bd-article .pst-scrollable-table-container")
      .forEach((box) =>
        box.addEventListener("scroll", () => update(box), { passive: true })
      );
    window.addEventListener("resize", updateAll);
    let modeOnScreen = null;
    window.addEventListener("beforeprint", () => {
      modeOnScreen = document.documentElement.dataset.theme;
      document.documentElement.dataset.theme = "light";
    });
    window.addEventListener("afterprint", () => {
      if (modeOnScreen) {
        document.documentElement.dataset.theme = modeOnScreen;
      }
    });
    // Tabs and dropdowns reveal tables that had no width while hidden.
    document.addEventListener("click", () => requestAnimationFrame(updateAll));
    // A dropdown (<details>) opened by a click, a key or a script.
    document.addEventListener("toggle", updateAll, true);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
