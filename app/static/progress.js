// A distribution's progress, kept moving without reloading the page (delivery/_progress.html).
// It polls the distribution's JSON about once a second while anything is queued or running,
// then stops. It only changes text and attributes of what the page rendered (never HTML), so
// what a student's name or git's stderr holds stays text. Without this script the page shows
// the state at load time.
(function () {
  "use strict";

  var PERIOD_MS = 1000;
  var MAX_PERIOD_MS = 10000; // after errors, back off up to this

  function shortTime(iso) {
    return iso.slice(0, 19).replace("T", " ") + " UTC";
  }

  function setTime(cell, iso) {
    cell.textContent = "";
    if (!iso) {
      var none = document.createElement("span");
      none.className = "muted";
      none.textContent = "\u2014";
      cell.appendChild(none);
      return;
    }
    var time = document.createElement("time");
    time.setAttribute("datetime", iso);
    time.textContent = shortTime(iso);
    cell.appendChild(time);
  }

  function setWay(cell, words) {
    cell.textContent = "";
    if (words) {
      cell.textContent = words;
      return;
    }
    var none = document.createElement("span");
    none.className = "muted";
    none.textContent = "\u2014";
    cell.appendChild(none);
  }

  function setCommit(cell, commit) {
    cell.textContent = "";
    var shown = document.createElement(commit ? "code" : "span");
    if (commit) {
      shown.title = commit;
      shown.textContent = commit.slice(0, 7);
    } else {
      shown.className = "muted";
      shown.textContent = "\u2014";
    }
    cell.appendChild(shown);
  }

  function follow(root) {
    var url = root.getAttribute("data-progress");
    var show = root.getAttribute("data-show") || "all";
    var rows = {};
    root.querySelectorAll("tbody tr[data-username]").forEach(function (row) {
      rows[row.getAttribute("data-username")] = row;
    });

    function update(data) {
      root.querySelectorAll("[data-count]").forEach(function (el) {
        var key = el.getAttribute("data-count");
        if (key in data) el.textContent = String(data[key]);
      });
      var ended = data.done + data.attention + data.failed + (data.superseded || 0);
      var bar = root.querySelector("[data-bar]");
      if (bar) {
        bar.max = data.total || 1;
        bar.value = ended;
        bar.textContent = ended + " of " + data.total;
      }
      var endedText = root.querySelector("[data-ended]");
      if (endedText) endedText.textContent = String(ended);
      var visible = 0;
      data.deliveries.forEach(function (d) {
        var row = rows[d.username];
        if (!row) return;
        row.setAttribute("data-state", d.state);
        row.querySelector('[data-cell="said"]').textContent = d.said;
        setWay(row.querySelector('[data-cell="way"]'), d.way_said);
        setCommit(row.querySelector('[data-cell="commit"]'), d.commit);
        setTime(row.querySelector('[data-cell="time"]'), d.finished_at || d.started_at);
        var keep = show === "all" || d.state === show;
        row.hidden = !keep;
        if (keep) visible += 1;
      });
      var none = root.querySelector("[data-none]");
      if (none) none.hidden = visible > 0;
      var retry = root.querySelector("[data-when-failed]");
      if (retry) retry.hidden = data.failed === 0;
    }

    function unfinished(data) {
      return data.queued + data.running;
    }

    function stop(message) {
      var live = root.querySelector("[data-live]");
      if (!live) return;
      if (message) {
        live.textContent = "; " + message;
      } else {
        live.hidden = true;
      }
    }

    function poll(period) {
      var request = new XMLHttpRequest();
      request.open("GET", url);
      request.setRequestHeader("Accept", "application/json");
      request.onload = function () {
        if (request.status !== 200) {
          // Signed out, or the distribution is gone: reloading says why.
          stop("no longer updating: reload the page");
          return;
        }
        var data = JSON.parse(request.responseText);
        update(data);
        if (unfinished(data)) {
          window.setTimeout(function () { poll(PERIOD_MS); }, PERIOD_MS);
        } else {
          stop();
        }
      };
      request.onerror = function () {
        var next = Math.min(period * 2, MAX_PERIOD_MS);
        window.setTimeout(function () { poll(next); }, next);
      };
      request.send();
    }

    var live = root.querySelector("[data-live]");
    if (live && !live.hidden) poll(PERIOD_MS);
  }

  document.querySelectorAll("[data-progress]").forEach(follow);
})();
