// icpgate console: the only script the console's CSP allows. Everything works without it;
// it adds an opt-in auto-refresh of the health page, submits filter selects on change, and
// shows RFC 3339 times in the browser's time zone on hover.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("autorefresh");
  if (box) {
    var on = sessionStorage.getItem("icpgate-autorefresh") === "1";
    box.checked = on;
    var timer = on ? setTimeout(function () { location.reload(); }, 10000) : null;
    box.addEventListener("change", function () {
      sessionStorage.setItem("icpgate-autorefresh", box.checked ? "1" : "0");
      if (timer) { clearTimeout(timer); timer = null; }
      if (box.checked) { timer = setTimeout(function () { location.reload(); }, 10000); }
    });
  }
  document.querySelectorAll("form.filters select").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d.getTime())) { t.title = d.toLocaleString(); }
  });
});
