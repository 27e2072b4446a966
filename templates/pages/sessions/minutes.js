// The roster and the correction form: the minutes attended that what is typed makes,
// shown before saving. The server computes and checks the same; without this script
// the forms still work, they only show the figure after saving.
(function () {
  "use strict";

  function field(line, name) {
    return line.querySelector("[data-" + name + "]");
  }

  function show(line) {
    var scheduled = parseInt(line.getAttribute("data-scheduled"), 10);
    var status = field(line, "status").value;
    var late = parseInt(field(line, "late").value, 10) || 0;
    var left = parseInt(field(line, "left").value, 10) || 0;
    var out = field(line, "attended");
    var minutes = "";
    if (status === "present") {
      minutes = scheduled;
    } else if (status === "absent_excused" || status === "absent_unexcused") {
      minutes = 0;
    } else if (status === "late" || status === "left_early") {
      // Not yet a figure until the minutes missed are said, and fewer than all of them.
      var said = status === "late" ? late > 0 : left > 0;
      if (said && late + left < scheduled) minutes = scheduled - late - left;
    }
    out.textContent = minutes === "" ? (status ? "\u2014" : "") : minutes + " of " + scheduled;
  }

  function lines() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-scheduled]"));
  }

  // A new status starts from its own minutes: present and absences have none to type;
  // late and left early ask for theirs.
  document.addEventListener("change", function (event) {
    var line = event.target.closest("[data-scheduled]");
    if (!line) return;
    if (event.target.hasAttribute("data-status")) {
      field(line, "late").value = "0";
      field(line, "left").value = "0";
      var status = event.target.value;
      if (status === "late") field(line, "late").select();
      if (status === "left_early") field(line, "left").select();
    }
    show(line);
  });
  document.addEventListener("input", function (event) {
    var line = event.target.closest("[data-scheduled]");
    if (line) show(line);
  });

  var markAll = document.querySelector("[data-mark-all]");
  if (markAll) {
    markAll.addEventListener("click", function (event) {
      event.preventDefault();
      lines().forEach(function (line) {
        field(line, "status").value = "present";
        field(line, "late").value = "0";
        field(line, "left").value = "0";
        show(line);
      });
    });
  }
  lines().forEach(show);
})();
