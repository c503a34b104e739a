// Choosing a band shows it at once; the Show button does the same without JavaScript.
(function () {
  var band = document.getElementById("band");
  if (band && band.form) {
    band.addEventListener("change", function () { band.form.submit(); });
  }
})();
