/* display.js: the hall display. The board comes from GET /v1/points/{point}/display; calls
 * then arrive live on the point's event stream, or by long-poll where a stream cannot be had. */
"use strict";

(function () {
  var H = Hangdoi, el = H.el;
  var point = H.pathId();
  var P = "/v1/points/" + encodeURIComponent(point);
  var HISTORY = 8; /* numbers listed under the newest one, at most */
  var REFRESH_MS = 15000; /* counters and waiting counts change without a call too */
  var POLL_WAIT = 25; /* seconds a long-poll is held */

  var state = {
    seq: 0, /* the newest call seen */
    calls: [], /* newest first, each as the API gives it */
    counters: [],
    waiting: [],
    names: {}, /* service id -> name */
    mode: "" /* "sse" or "poll" */
  };
  var speakOn = false;
  var refreshTimer = null;

  /* Merges calls (any order) into the board; returns those newer than any seen before. */
  function mergeCalls(calls) {
    var fresh = [];
    var known = {};
    state.calls.forEach(function (c) { known[c.seq] = true; });
    (calls || []).forEach(function (c) {
      if (known[c.seq]) return;
      known[c.seq] = true;
      state.calls.push(c);
      if (c.seq > state.seq) fresh.push(c);
    });
    state.calls.sort(function (a, b) { return b.seq - a.seq; });
    /* Only the day of the newest call is shown: yesterday's go with today's first call. */
    var day = state.calls.length ? String(state.calls[0].called_at).slice(0, 10) : "";
    state.calls = state.calls.filter(function (c) { return String(c.called_at).slice(0, 10) === day; });
    state.calls.length = Math.min(state.calls.length, 10); /* as many as a board has */
    fresh.sort(function (a, b) { return a.seq - b.seq; });
    if (fresh.length) state.seq = fresh[fresh.length - 1].seq;
    return fresh;
  }

  /* A board from the API. ANNOUNCE: new calls are announced (not on the first load). */
  function applyBoard(board, announce) {
    if (!board) return;
    /* Seqs only grow; a board without a call today (seq 0) is a new day: yesterday's calls go. */
    if (board.seq === 0) state.calls = [];
    state.counters = board.counters || state.counters;
    state.waiting = board.waiting || state.waiting;
    var fresh = mergeCalls(board.calls);
    if (typeof board.seq === "number" && board.seq > state.seq) state.seq = board.seq;
    render();
    if (announce && fresh.length) announceCall(fresh[fresh.length - 1]);
  }

  function onCall(call) {
    var fresh = mergeCalls([call]);
    render();
    if (fresh.length) announceCall(fresh[fresh.length - 1]);
    scheduleRefresh(300);
  }

  function render() {
    renderNow();
    var hist = H.clear(document.getElementById("history"));
    /* Each number once: a recall moves it up rather than listing it twice. */
    var listed = {};
    if (state.calls[0]) listed[state.calls[0].number] = true;
    state.calls.slice(1).forEach(function (c) {
      if (listed[c.number] || hist.childNodes.length >= HISTORY) return;
      listed[c.number] = true;
      hist.appendChild(el("li", { "data-seq": c.seq },
        el("span", { class: "num" }, c.number),
        el("span", { class: "ctr" }, c.counter_name || c.counter),
        el("span", { class: "at" }, H.hhmm(c.called_at))));
    });
    if (!hist.firstChild) hist.appendChild(el("li", { class: "empty" }, "—"));
    fit(hist);

    var ctrs = H.clear(document.getElementById("counters"));
    ctrs.classList.toggle("many", state.counters.length > 6);
    state.counters.forEach(function (k) {
      var paused = k.state !== "open";
      ctrs.appendChild(el("li", { class: paused ? "paused" : null, "data-counter": k.id },
        el("span", { class: "ctr" }, k.name),
        el("span", { class: "num" }, paused ? "Tạm dừng" : k.current || "—")));
    });

    var wait = H.clear(document.getElementById("waiting"));
    state.waiting.forEach(function (w) {
      wait.appendChild(el("li", { "data-service": w.service },
        el("span", { class: "svc" }, state.names[w.service] || w.service),
        el("span", { class: "count" }, String(w.count))));
    });
  }

  /* Drops the rows of LIST that its panel cannot show whole (the oldest are last). */
  function fit(list) {
    var panel = list.parentNode;
    while (list.childNodes.length > 1 && panel.scrollHeight > panel.clientHeight + 1)
      list.removeChild(list.lastChild);
  }

  function renderNow() {
    var box = document.getElementById("now");
    var c = state.calls[0];
    if ((c ? String(c.seq) : "") === box.getAttribute("data-seq")) return;
    box.setAttribute("data-seq", c ? c.seq : "");
    box.setAttribute("data-number", c ? c.number : "");
    H.clear(box);
    if (!c) {
      box.appendChild(el("p", { class: "d-now-line" }, "Xin kính chào quý khách",
        el("span", { class: "sub" }, "Chưa có số nào được gọi")));
      return;
    }
    box.appendChild(el("p", { class: "d-now-line" },
      "Mời công dân số ", el("strong", { class: "num" }, c.number),
      " đến ", el("strong", { class: "ctr" }, c.counter_name || c.counter)));
    if (c.recall) box.appendChild(el("p", { class: "d-recall" }, "Gọi lại"));
  }

  /* The newest call: highlighted again (even the same number, for a recall), and spoken. */
  function announceCall(call) {
    var box = document.getElementById("now");
    box.classList.remove("flash");
    void box.offsetWidth; /* restarts the animation */
    box.classList.add("flash");
    box.setAttribute("data-flashed", call.seq);
    say(call);
  }

  function say(call) {
    if (!speakOn || !window.speechSynthesis || typeof SpeechSynthesisUtterance !== "function") return;
    /* Character by character, so "A015" is read "A không một năm", not as a quantity. */
    var spelled = call.number.split("").join(" ");
    var text = "Mời công dân số " + spelled + " đến " + (call.counter_name || call.counter);
    var u = new SpeechSynthesisUtterance(text);
    u.lang = "vi-VN";
    u.rate = 0.9;
    var voices = window.speechSynthesis.getVoices() || [];
    for (var i = 0; i < voices.length; i++)
      if (/^vi/i.test(voices[i].lang)) { u.voice = voices[i]; break; }
    window.speechSynthesis.speak(u);
  }

  function setLive(mode, text) {
    var live = document.getElementById("live");
    live.setAttribute("data-mode", mode);
    live.textContent = text;
  }

  function refreshBoard() {
    return H.api("GET", P + "/display").then(function (r) {
      applyBoard(r.body, true);
    }, function () { /* the next refresh or event will do */ });
  }

  function scheduleRefresh(ms) {
    clearTimeout(refreshTimer);
    if (state.mode === "poll") return; /* every long-poll answer brings the whole board */
    refreshTimer = setTimeout(function () {
      refreshBoard().then(function () { scheduleRefresh(REFRESH_MS); });
    }, ms);
  }

  /* Live calls from the event stream; the browser reconnects and sends Last-Event-ID. */
  function startStream() {
    if (typeof window.EventSource !== "function") {
      startLongPoll();
      return;
    }
    var es = new EventSource(H.url(P + "/events"));
    var failures = 0;
    state.mode = "sse";
    es.addEventListener("open", function () {
      failures = 0;
      setLive("sse", "Trực tiếp");
      scheduleRefresh(0); /* catches calls made while connecting */
    });
    es.addEventListener("call", function (ev) {
      failures = 0;
      try {
        onCall(JSON.parse(ev.data));
      } catch (e) { /* a malformed event is skipped */ }
    });
    es.addEventListener("error", function () {
      failures++;
      setLive("reconnecting", "Đang kết nối lại…");
      /* Refused for good, or failing again and again: long-poll instead. */
      if (es.readyState === EventSource.CLOSED || failures >= 3) {
        es.close();
        startLongPoll();
      }
    });
  }

  function startLongPoll() {
    var errors = 0;
    state.mode = "poll";
    clearTimeout(refreshTimer);
    setLive("poll", "Trực tiếp (hỏi định kỳ)");
    function poll() {
      H.api("GET", P + "/display?since=" + state.seq + "&wait=" + POLL_WAIT).then(function (r) {
        errors = 0;
        setLive("poll", "Trực tiếp (hỏi định kỳ)");
        applyBoard(r.body, true);
        setTimeout(poll, 0);
      }, function () {
        errors++;
        setLive("reconnecting", "Đang kết nối lại…");
        setTimeout(poll, Math.min(30000, 1000 * Math.pow(2, errors)));
      });
    }
    poll();
  }

  function loadPoint() {
    return H.api("GET", P).then(function (r) {
      var p = r.body;
      document.getElementById("point-name").textContent = p.name;
      document.getElementById("point-address").textContent = p.address || "";
      document.title = "Gọi số · " + p.name;
      (p.services || []).forEach(function (s) { state.names[s.id] = s.name; });
    }, function () {
      setTimeout(loadPoint, 5000);
    });
  }

  /* The hall's clock is the daemon's: same time as the calls, whatever this screen's clock says. */
  var clock = { skew: 0, offset: 7 * 60 };

  function syncClock() {
    H.api("GET", "/v1/health").then(function (r) {
      var now = r.body && r.body.now;
      var m = /([+-])(\d\d):(\d\d)$/.exec(now || "");
      if (!m || isNaN(Date.parse(now))) return;
      clock.skew = Date.parse(now) - Date.now();
      clock.offset = (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
      tickClock();
    }, function () {});
  }

  function tickClock() {
    var d = new Date(Date.now() + clock.skew + clock.offset * 60000);
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    document.getElementById("clock").textContent = p(d.getUTCHours()) + ":" + p(d.getUTCMinutes());
  }

  function setupButtons() {
    var sp = document.getElementById("speak");
    if (!window.speechSynthesis) {
      sp.disabled = true;
      sp.title = "Trình duyệt không hỗ trợ đọc bằng giọng nói";
    }
    sp.addEventListener("click", function () {
      speakOn = !speakOn;
      sp.setAttribute("aria-pressed", String(speakOn));
      sp.textContent = speakOn ? "Đọc số: Bật" : "Đọc số: Tắt";
      if (!speakOn && window.speechSynthesis) window.speechSynthesis.cancel();
    });
    var fs = document.getElementById("fullscreen");
    if (!document.documentElement.requestFullscreen) fs.hidden = true;
    fs.addEventListener("click", function () {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen().catch(function () {});
    });
  }

  setupButtons();
  tickClock();
  syncClock();
  setInterval(tickClock, 5000);
  setInterval(syncClock, 600000);
  loadPoint().then(function () {
    return H.api("GET", P + "/display").then(function (r) {
      applyBoard(r.body, false);
    }, function () {});
  }).then(function () {
    render();
    startStream();
  });
})();
