/* Fieldsync field UI: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function csrfOf(form) { var i = form && form.querySelector("input[name=csrf_token]"); return i ? i.value : ""; }
  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); });
  }

  /* ---- home: server check, sync with live progress ---------------------------------- */
  function showStatus(s) {
    if (!s) return;
    var pending = $("#pending-count");
    if (pending) pending.firstChild.nodeValue = String(s.pending);
    var last = $("#last-sync");
    if (last) last.textContent = s.last_sync;
    var server = $("#server-state");
    if (server && s.server !== "checking") {
      server.dataset.state = s.server;
      var dot = server.querySelector(".dot");
      dot.className = "dot " + ({ ok: "ok", down: "bad", none: "none" }[s.server] || "wait");
      server.querySelector(".server-text").textContent = s.server_text;
    }
  }

  function refreshSections(sels) {
    fetch(location.pathname, { credentials: "same-origin" }).then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        sels.forEach(function (sel) {
          var fresh = doc.querySelector(sel), old = $(sel);
          if (fresh && old) old.replaceWith(fresh);
        });
      }).catch(function () {});
  }

  function initHome() {
    var card = $("#sync-card");
    if (!card) return;
    var cards = $("#status-cards");
    getJSON(cards.dataset.statusUrl + "?check=1").then(showStatus).catch(function () {});

    var form = $("#sync-form"), button = $("#sync-button");
    var progress = $("#sync-progress"), bar = $("#sync-bar"), stage = $("#sync-stage");
    var counts = $("#sync-counts"), result = $("#sync-result"), fix = $("#sync-fix");
    var label = button.textContent.trim(), started = 0;

    function render(job) {
      stage.textContent = job.stages_text || job.stage_text || "";
      if (job.total) {
        bar.classList.remove("indeterminate");
        bar.firstElementChild.style.width = Math.min(100, Math.round(100 * job.done / job.total)) + "%";
        counts.textContent = job.done + " / " + job.total;
      } else {
        bar.classList.add("indeterminate");
        counts.textContent = job.done ? String(job.done) : "";
      }
    }

    function finish(job) {
      var wait = Math.max(0, 700 - (Date.now() - started));  // let the progress be seen
      stage.textContent = job.stages_text || "";  // the stages this sync went through
      setTimeout(function () {
        progress.classList.add("hidden");
        result.textContent = job.message || "";
        result.className = "result " + (job.ok ? "ok" : "bad");
        fix.classList.toggle("hidden", !job.rejected);
        button.disabled = false;
        button.textContent = label;
        card.dataset.state = job.state;
        showStatus(job.status);
        card.dataset.stages = (job.stages || []).join(" ");
        // what the sync brought in: visits, the attention card and the 待处理 badge
        refreshSections(["#recent-visits-card", "#attention-card", "#nav"]);
        getJSON(cards.dataset.statusUrl + "?check=1").then(showStatus).catch(function () {});
      }, wait);
    }

    function poll() {
      getJSON(card.dataset.statusUrl).then(function (job) {
        if (job.state === "running") { render(job); setTimeout(poll, 300); }
        else finish(job);
      }).catch(function () { setTimeout(poll, 1000); });
    }

    function begin() {
      started = Date.now();
      button.disabled = true;
      button.textContent = button.dataset.busy || "…";
      result.classList.add("hidden");
      fix.classList.add("hidden");
      progress.classList.remove("hidden");
      card.dataset.state = "running";
    }

    button.dataset.busy = card.dataset.busyLabel || "…";
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      begin();
      fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfOf(form) }
      }).then(function (r) { return r.json(); }).then(function (job) {
        render(job); setTimeout(poll, 250);
      }).catch(function () { setTimeout(poll, 500); });
    });
    if (card.dataset.state === "running") { started = Date.now(); poll(); }
  }

  /* ---- repeating rows (new people, concerns) --------------------------------------- */
  function initRows() {
    $all("[data-add-row]").forEach(function (btn) {
      var box = $("#" + btn.dataset.addRow + "-rows");
      if (!box) return;
      btn.addEventListener("click", function () {
        var first = box.firstElementChild;
        var row = first.cloneNode(true);
        $all("input", row).forEach(function (i) { i.value = ""; });
        $all("select", row).forEach(function (s) { s.selectedIndex = 0; });
        $all(".error-text", row).forEach(function (e) { e.remove(); });
        $all(".has-error", row).forEach(function (e) { e.classList.remove("has-error"); });
        $all("label.check", row).forEach(function (e) { e.remove(); });
        var n = box.children.length;  /* each row's inputs keep their own labels */
        $all("[id]", row).forEach(function (e) { e.id = e.id.replace(/-\d+$/, "-" + n); });
        $all("label[for]", row).forEach(function (e) {
          e.htmlFor = e.htmlFor.replace(/-\d+$/, "-" + n);
        });
        $all("[aria-invalid]", row).forEach(function (e) { e.removeAttribute("aria-invalid"); });
        $all("[aria-describedby]", row).forEach(function (e) { e.removeAttribute("aria-describedby"); });
        var sim = $("[data-similar]", row);
        if (sim) { sim.innerHTML = ""; sim.classList.add("hidden"); }
        box.appendChild(row);
        bindSimilar(row);
        var input = $("input[type=text]", row);
        if (input) input.focus();
      });
    });
  }

  /* ---- place: a tapped recent place and a typed name exclude each other ------------- */
  function initPlace() {
    var typed = $("#f-place_name");
    if (!typed) return;
    typed.addEventListener("input", function () {
      if (typed.value.trim()) $all("#recent-places input").forEach(function (r) { r.checked = false; });
    });
    $all("#recent-places input").forEach(function (r) {
      r.addEventListener("change", function () { if (r.checked) typed.value = ""; });
    });
  }

  function placeQuery() {
    var sel = $("#f-place_id");
    if (sel) return "place_id=" + encodeURIComponent(sel.value);
    var typed = $("#f-place_name");
    if (typed && typed.value.trim()) return "place_name=" + encodeURIComponent(typed.value.trim());
    var chip = $("#place-card input[name=place_id]:checked");
    return "place_id=" + encodeURIComponent(chip ? chip.value : "");
  }

  /* ---- similar open concerns while a title is typed -------------------------------- */
  function bindSimilar(row) {
    var form = row.closest("form");
    if (!form || !form.dataset.similarUrl) return;
    var input = $("input[name=concern_title], input[name=title]", row);
    var box = $("[data-similar]", row);
    var hidden = $("input[name=concern_support_of], input[name=support_of]", row);
    if (!input || !box) return;
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      if (hidden) hidden.value = "";
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (q.length < 2) { box.classList.add("hidden"); return; }
        getJSON(form.dataset.similarUrl + "?" + placeQuery() + "&title=" + encodeURIComponent(q))
          .then(function (data) { showSimilar(box, hidden, data); })
          .catch(function () {});
      }, 300);
    });
  }

  function showSimilar(box, hidden, data) {
    box.innerHTML = "";
    if (!data.similar || !data.similar.length) { box.classList.add("hidden"); return; }
    var head = document.createElement("div");
    head.textContent = data.label;
    box.appendChild(head);
    var list = document.createElement("ul");
    data.similar.forEach(function (s) {
      var li = document.createElement("li");
      var text = document.createElement("span");
      text.textContent = s.title + " · " + s.status + (s.supports ? " · " + s.supports : "");
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "btn";
      btn.textContent = data.action;
      btn.addEventListener("click", function () {  // tap again to keep it a new concern
        var chosen = hidden && hidden.value === s.id;
        $all("button", list).forEach(function (b) {
          b.textContent = data.action;
          b.classList.remove("primary");
        });
        if (hidden) hidden.value = chosen ? "" : s.id;
        if (!chosen) { btn.textContent = data.chosen; btn.classList.add("primary"); }
      });
      li.appendChild(text);
      li.appendChild(btn);
      list.appendChild(li);
    });
    box.appendChild(list);
    box.classList.remove("hidden");
  }

  /* ---- errors: tie each message to its input, then bring the first one into view ---- */
  function initErrors() {
    $all(".error-text[id]").forEach(function (msg) {
      var box = msg.closest(".field") || msg.parentElement;
      var input = box && $("input:not([type=hidden]), select, textarea", box);
      if (!input) return;
      input.setAttribute("aria-invalid", "true");
      if (!input.getAttribute("aria-describedby")) input.setAttribute("aria-describedby", msg.id);
    });
    var first = $(".has-error");
    if (!first) return;
    var target = $("input:not([type=hidden]), select, textarea", first) || first;
    first.scrollIntoView({ block: "center" });  /* centred: never behind the sticky save bar */
    if (target.focus) target.focus({ preventScroll: true });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initErrors();
    initHome();
    initRows();
    initPlace();
    $all(".concern-row").forEach(bindSimilar);
  });
})();
