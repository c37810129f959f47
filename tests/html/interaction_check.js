// Appended to a rendered report by html_report_browser_test.py: drives the
// page's interactive parts with synthetic events and writes one PASS/FAIL line
// per check into a pre element with id hl-selftest, after the page's script.
(function () {
  "use strict";
  var out = [];
  function ok(name, cond) { out.push((cond ? "PASS " : "FAIL ") + name); }
  function text(id) { var e = document.getElementById(id); return e ? e.textContent : ""; }
  function fire(e, type) {
    var r = e.getBoundingClientRect();
    e.dispatchEvent(new MouseEvent(type, {bubbles: true, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2}));
  }
  var tip = document.getElementById("tooltip");
  try {
    // Leak table: expand every row, sort by blocks.
    var rows = document.querySelectorAll("tr.leak-row");
    for (var i = 0; i < rows.length; i++) rows[i].click();
    ok("leak rows expand into stacks", document.querySelectorAll("tr.stackrow").length === rows.length);
    ok("expanded stack shows hostile frame as text", text("hl-leak-table").indexOf("<script>alert(1)</script>") >= 0);
    ok("expanded stack shows operator<< as text", text("hl-leak-table").indexOf("operator<<(std::ostream&") >= 0);
    var ths = document.querySelectorAll("#hl-leak-table th.sortable");
    var blocksTh = null;
    for (var t = 0; t < ths.length; t++) if (/^blocks/.test(ths[t].textContent)) blocksTh = ths[t];
    blocksTh.click();
    var cells = document.querySelectorAll("tr.leak-row td:nth-child(4)"), sorted = true;
    for (var c = 1; c < cells.length; c++) {
      if (+cells[c - 1].textContent.replace(/,/g, "") < +cells[c].textContent.replace(/,/g, "")) sorted = false;
    }
    ok("leak table sorts by blocks", cells.length > 2 && sorted);
    // Show reachable rows.
    var chips = document.querySelectorAll("#hl-leaks .chip.off");
    var before = document.querySelectorAll("tr.leak-row").length;
    if (chips.length) chips[0].click();
    ok("kind filter shows hidden rows", document.querySelectorAll("tr.leak-row").length > before);
    // Pinners expand.
    var prow = document.querySelector("#hl-pinners tr.row");
    prow.click();
    ok("pinner row expands", text("hl-pinners").indexOf("run_phase(int)") >= 0);
    // Heap map: hover and click the pinning chunk.
    var pin = document.querySelector("#hl-heapmap-end rect[fill='#c2188b']");
    fire(pin, "mousemove");
    ok("heap map hover shows tooltip", tip.style.display === "block" && tip.textContent.indexOf("pinning chunk") >= 0);
    fire(pin, "click");
    var det = text("hl-heapmap-details");
    ok("heap map click shows size and stack", det.indexOf("48 B") >= 0 && det.indexOf("pin_top()") >= 0);
    var mixed = document.querySelector("#hl-heapmap-peak rect[data-c]");
    fire(mixed, "click");
    ok("heap map click on another cell", text("hl-heapmap-details").indexOf("size") >= 0);
    // Timeline hover.
    var tsvg = document.getElementById("hl-timeline-svg");
    var hit = tsvg.lastChild;
    fire(hit, "mousemove");
    ok("timeline hover shows values", tip.style.display === "block" && tip.textContent.indexOf("heap extent") >= 0);
    fire(hit, "mouseleave");
    ok("tooltip hides", tip.style.display === "none");
    // Flame graph: zoom, switch tree, reset.
    var nodes = document.querySelectorAll("#hl-flame-svg rect.fnode");
    fire(nodes[nodes.length - 1], "click");
    ok("flame graph zooms", text("hl-flame").indexOf("zoomed into") >= 0);
    var buttons = document.querySelectorAll("#hl-flame button");
    buttons[1].click();
    ok("flame graph switches to allocated bytes", buttons[1].className === "on" &&
       document.querySelectorAll("#hl-flame-svg rect.fnode").length > 3 && text("hl-flame").indexOf("fill_heap") >= 0);
    fire(document.querySelector("#hl-flame-svg rect.fnode"), "mousemove");
    ok("flame graph hover shows bytes", tip.textContent.indexOf("bytes") >= 0);
    // Still no element came from the data.
    ok("no injected elements", document.querySelectorAll("img").length === 0 && document.scripts.length === 3);
  } catch (e) {
    out.push("FAIL exception: " + e.message);
  }
  ok("page status still ok", document.getElementById("heaplens-status").getAttribute("data-status") === "ok");
  var pre = document.createElement("pre");
  pre.id = "hl-selftest";
  pre.textContent = out.join("\n");
  document.body.appendChild(pre);
})();
