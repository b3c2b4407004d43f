// swingtrader dashboard: a countdown, and action buttons that POST with the CSRF token. No build step.
(function () {
  "use strict";

  function fmt(s) {
    if (s <= 0) return "due now";
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (h ? "" : sec + "s");
  }

  function countdowns() {
    var els = document.querySelectorAll("[data-countdown]");
    if (!els.length) return;
    var start = Date.now();
    els.forEach(function (el) { el.dataset.base = el.dataset.countdown; });
    setInterval(function () {
      var gone = (Date.now() - start) / 1000;
      els.forEach(function (el) { el.textContent = fmt(Number(el.dataset.base) - gone); });
    }, 1000);
  }

  function actions() {
    var token = document.querySelector('meta[name="csrf-token"]').content;
    var out = document.getElementById("action-result");
    document.querySelectorAll("button[data-action]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var url = btn.dataset.action;
        if (btn.dataset.taskFrom) url += encodeURIComponent(document.getElementById(btn.dataset.taskFrom).value);
        btn.disabled = true;
        fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": token } })
          .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
          .then(function (res) {
            out.textContent = res.ok ? "done: " + res.body.action : "refused: " + (res.body.detail || res.body.error);
            if (res.ok) setTimeout(function () { location.reload(); }, 600);
          })
          .catch(function (e) { out.textContent = "failed: " + e; })
          .finally(function () { btn.disabled = false; });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { countdowns(); actions(); });
})();
