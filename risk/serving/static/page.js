// Choosing a band, "new / moved up" or a size shows it at once; the Show button does the same
// without JavaScript.
(function () {
  ["band", "change", "size"].forEach(function (id) {
    var select = document.getElementById(id);
    if (select && select.form) {
      select.addEventListener("change", function () { select.form.submit(); });
    }
  });
})();
