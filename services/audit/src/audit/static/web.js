// Progressive enhancement only: every page works without this script.
// The rating form: choosing 1-5 writes "Mã SL-…: đánh giá n/5." into the reply text.
document.addEventListener("DOMContentLoaded", function () {
  var stars = document.getElementById("rate-stars");
  var text = document.getElementById("rate-text");
  if (!stars || !text) return;
  stars.hidden = false;
  stars.addEventListener("change", function (event) {
    var input = event.target;
    if (!input || input.name !== "diem") return;
    var prefix = "Mã " + input.dataset.code + ": đánh giá ";
    var rest = text.value.replace(/^Mã \S+: đánh giá \d\/5\.?\s*/, "");
    text.value = prefix + input.value + "/5. " + rest;
  });
});
