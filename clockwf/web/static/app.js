// clockwf dashboard: refresh the live part of a page in place, and explain timeline marks.
// Written for this package (no framework, no asset from elsewhere).
(function () {
  "use strict";

  function refresh(live) {
    if (document.hidden) return;
    var active = document.activeElement;
    if (active && live.contains(active) && active.tagName !== "BODY") return;
    fetch(window.location.href, {headers: {"X-Clockwf-Live": "1"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) live.innerHTML = html; })
      .catch(function () { /* the next round tries again */ });
  }

  function explain(at) {
    var box = document.getElementById("explain");
    var id = document.getElementById("wf-title");
    if (!box || !id) return;
    var url = "/api/v1/workflows/" + encodeURIComponent(id.textContent.trim()) +
      "/explain?at=" + encodeURIComponent(at);
    fetch(url, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (doc) {
        document.getElementById("explain-at").textContent = at;
        document.getElementById("explain-text").textContent = doc.message || doc.error || "";
        box.hidden = false;
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("live");
    if (live && live.dataset.live) {
      window.setInterval(function () { refresh(live); }, parseInt(live.dataset.live, 10));
    }
    document.addEventListener("click", function (event) {
      var target = event.target.closest ? event.target.closest("[data-at]") : null;
      if (target) explain(target.getAttribute("data-at"));
    });
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      if (event.key === "Enter" && target.getAttribute && target.getAttribute("data-at")) {
        explain(target.getAttribute("data-at"));
      }
    });
  });
})();
