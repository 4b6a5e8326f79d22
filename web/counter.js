/* counter.js: the counter console. The staff member signs in once with the counter's token
 * (kept in sessionStorage); buttons and keyboard shortcuts act on the counter. */
"use strict";

(function () {
  var H = Hangdoi, el = H.el;
  var id = H.pathId();
  var C = "/v1/counters/" + encodeURIComponent(id);
  var KEY = "hangdoi.counter." + id;
  var REFRESH_MS = 5000;
  var WAITING_MAX = 50; /* the daemon lists at most this many waiting tickets */

  var token = sessionStorage.getItem(KEY);
  var counter = null; /* GET /v1/counters/{id} */
  var point = null; /* GET /v1/points/{point} */
  var busy = false;
  var timer = null;
  var shownWaiting = ""; /* what #waiting shows now, to rebuild it only when that changes */

  var DONE = {
    "call-next": "Đã gọi số %s",
    recall: "Đã gọi lại số %s",
    complete: "Số %s: đã giải quyết xong",
    park: "Số %s: đã tạm gác",
    "no-show": "Số %s: vắng mặt",
    transfer: "Số %s: đã chuyển sang thủ tục khác",
    call: "Đã gọi số %s"
  };

  function $(x) { return document.getElementById(x); }

  var show = H.show;

  function showError(e) {
    show("error", "Lỗi: " + (e && e.message ? e.message : String(e)));
  }

  function serviceName(sid) {
    var list = point ? point.services : [];
    for (var i = 0; i < list.length; i++) if (list[i].id === sid) return list[i].name;
    return sid;
  }

  function signIn(t) {
    return H.api("GET", C, { token: t }).then(function (r) {
      token = t;
      sessionStorage.setItem(KEY, t);
      counter = r.body;
      $("login").hidden = true;
      $("console").hidden = false;
      $("signout").hidden = false;
      show("", "");
      return loadPoint().then(function () {
        render();
        refresh();
      });
    });
  }

  function signOut(text) {
    clearTimeout(timer);
    token = null;
    counter = null;
    shownWaiting = "";
    sessionStorage.removeItem(KEY);
    $("console").hidden = true;
    $("signout").hidden = true;
    $("state").hidden = true;
    $("login").hidden = false;
    $("token").value = "";
    $("token").focus();
    show(text ? "error" : "", text || "");
  }

  function loadPoint() {
    if (point || !counter) return Promise.resolve();
    return H.api("GET", "/v1/points/" + encodeURIComponent(counter.point)).then(function (r) {
      point = r.body;
      $("point-name").textContent = point.name;
      document.title = counter.name + " · " + point.name;
    }, function () {});
  }

  /* Reads the counter (with its waiting list) again; a refused token signs out. */
  function refresh() {
    clearTimeout(timer);
    if (!token) return Promise.resolve();
    var t = token;
    return H.api("GET", C, { token: t }).then(function (r) {
      if (t === token) counter = r.body;
    }, function (e) {
      if (e.status === 401 || e.status === 403) signOut("Lỗi: " + e.message);
    }).then(function () {
      render();
      if (token) timer = setTimeout(refresh, REFRESH_MS);
    });
  }

  function render() {
    if (!counter) return;
    $("counter-name").textContent = counter.name;
    var open = counter.state === "open";
    var st = $("state");
    st.hidden = false;
    st.className = "badge " + (open ? "open" : "paused");
    st.textContent = open ? "Đang mở" : "Tạm dừng";
    $("toggle").firstChild.nodeValue = open ? "Tạm dừng quầy " : "Mở quầy ";

    var cur = counter.current;
    var box = H.clear($("current"));
    if (cur) {
      var facts = el("dl", { class: "facts" });
      var fact = function (k, v) {
        if (!v) return;
        facts.appendChild(el("dt", null, k));
        facts.appendChild(el("dd", null, v));
      };
      fact("Thủ tục", serviceName(cur.service));
      fact("Loại", cur.kind === "booking"
        ? "Đặt lịch trước" + (cur.start ? ", khung " + cur.start + "–" + cur.end : "")
        : "Lấy số tại điểm phục vụ");
      fact("Ưu tiên", cur.priority ? H.PRIORITY[cur.priority] || cur.priority : "");
      fact("Số định danh", cur.citizen_id);
      fact("Mã hồ sơ trực tuyến", cur.dossier_id);
      fact("Mã vé", cur.code);
      fact("Gọi lúc", H.hhmm(cur.called_at));
      box.appendChild(el("div", { class: "number", id: "current-number" }, cur.number));
      box.appendChild(facts);
    } else {
      box.appendChild(el("p", { class: "none" }, open ? "Chưa gọi số nào. Nhấn “Gọi số tiếp theo”." : "Quầy đang tạm dừng."));
    }
    var buttons = document.querySelectorAll("[data-action]");
    for (var i = 0; i < buttons.length; i++) {
      var act = buttons[i].getAttribute("data-action");
      var enabled = act === "toggle" || (act === "call-next" ? !cur && open : !!cur);
      buttons[i].disabled = busy || !enabled;
    }
    if (!cur) $("transfer").hidden = true;
    renderWaiting(!busy && !cur && open);
  }

  /* The waiting list in call order: the number (a button that calls it by its code, while the
   * counter could call), the service, the priority, a booking's slot; the total in the heading
   * and, for a counter of several services, the count of each. */
  function renderWaiting(canCall) {
    var list = counter.waiting;
    if (!Array.isArray(list)) { /* not told: show no list rather than an empty one */
      shownWaiting = "";
      $("waiting-total").hidden = true;
      $("waiting-counts").hidden = true;
      H.clear($("waiting"));
      return;
    }
    var key = JSON.stringify([canCall, point ? 1 : 0, list.map(function (t) {
      return [t.code, t.number, t.service, t.priority, t.start, t.end];
    })]);
    if (key === shownWaiting) return;
    shownWaiting = key;

    var total = $("waiting-total");
    total.hidden = false;
    total.textContent = list.length >= WAITING_MAX ? WAITING_MAX + "+" : String(list.length);

    var counts = H.clear($("waiting-counts"));
    var mine = counter.services || [];
    counts.hidden = mine.length < 2;
    mine.forEach(function (sid) {
      var n = list.filter(function (t) { return t.service === sid; }).length;
      counts.appendChild(el("li", { "data-service": sid },
        el("span", null, serviceName(sid)), el("span", { class: "count" }, String(n))));
    });

    var ol = H.clear($("waiting"));
    if (!list.length) {
      ol.appendChild(el("li", { class: "empty" }, "Không có ai đang chờ"));
      return;
    }
    list.forEach(function (t) {
      var what = el("span", { class: "what" }, el("span", { class: "svc" }, serviceName(t.service)));
      if (t.priority || t.kind === "booking")
        what.appendChild(el("span", { class: "meta" },
          t.priority ? el("span", { class: "prio" }, H.PRIORITY[t.priority] || t.priority) : null,
          t.kind === "booking"
            ? el("span", { class: "slot" }, "Đặt lịch" + (t.start ? ", khung " + t.start + "–" + t.end : ""))
            : null));
      ol.appendChild(el("li", { "data-code": t.code, "data-service": t.service },
        el("button", { type: "button", class: "num", "data-call": t.code, disabled: !canCall,
          title: canCall ? "Gọi số " + t.number + " ngay" : null }, t.number),
        what));
    });
  }

  /* POSTs one counter action and shows what came of it; resolves to whether it was done. */
  function act(action, body) {
    var ok = false;
    if (busy || !token) return Promise.resolve(ok);
    busy = true;
    render();
    var before = counter && counter.current ? counter.current.number : "";
    return H.api("POST", C + "/" + action, { token: token, body: body }).then(function (r) {
      ok = true;
      if (r.status === 204) {
        show("info", "Hiện không có ai đang chờ.");
      } else if (action === "open" || action === "pause") {
        counter = r.body;
        show("info", action === "open" ? "Quầy đã mở." : "Quầy đã tạm dừng.");
      } else {
        var ticket = r.body && r.body.ticket;
        show("info", DONE[action].replace("%s", ticket ? ticket.number : before));
        /* Known at once, before the refresh: the next key press acts on the new state. */
        if (counter && ticket) {
          counter.current = ticket.status === "called" ? ticket : null;
          if (counter.waiting && ticket.status === "called")
            counter.waiting = counter.waiting.filter(function (w) { return w.code !== ticket.code; });
        }
      }
    }, function (e) {
      if (e.status === 401 || e.status === 403) signOut("Lỗi: " + e.message);
      else showError(e);
    }).then(function () {
      busy = false;
      render();
      return refresh().then(function () { return ok; });
    });
  }

  function openTransfer() {
    if (!counter || !counter.current) return;
    var sel = H.clear($("transfer-service"));
    (point ? point.services : []).forEach(function (s) {
      if (s.id !== counter.current.service) sel.appendChild(el("option", { value: s.id }, s.name));
    });
    if (!sel.firstChild) {
      show("error", "Điểm phục vụ không có thủ tục khác để chuyển.");
      return;
    }
    $("transfer").hidden = false;
    sel.focus();
  }

  /* Calls a waiting or parked ticket out of order; resolves to whether it was called. */
  function callCode(code) {
    code = String(code || "").trim().toUpperCase();
    return code ? act("call", { code: code }) : Promise.resolve(false);
  }

  function onAction(action) {
    if (action === "transfer") openTransfer();
    else if (action === "toggle") act(counter && counter.state === "open" ? "pause" : "open");
    else act(action);
  }

  function setup() {
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var t = $("token").value.trim();
      if (!t) return;
      signIn(t).catch(function (e) { showError(e); });
    });
    $("signout").addEventListener("click", function () { signOut(""); });
    var buttons = document.querySelectorAll("[data-action]");
    for (var i = 0; i < buttons.length; i++)
      buttons[i].addEventListener("click", function (ev) {
        onAction(ev.currentTarget.getAttribute("data-action"));
      });
    $("transfer").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var sid = $("transfer-service").value;
      $("transfer").hidden = true;
      if (sid) act("transfer", { service: sid });
    });
    $("transfer-cancel").addEventListener("click", function () { $("transfer").hidden = true; });
    $("call-code").addEventListener("submit", function (ev) {
      ev.preventDefault();
      callCode($("code").value).then(function (done) { if (done) $("code").value = ""; });
    });
    $("waiting").addEventListener("click", function (ev) {
      var b = ev.target.closest ? ev.target.closest("button[data-call]") : null;
      if (b && !b.disabled) callCode(b.getAttribute("data-call"));
    });
    document.addEventListener("keydown", function (ev) {
      if (!token || ev.ctrlKey || ev.altKey || ev.metaKey || ev.repeat) return;
      if (ev.key === "Escape") {
        $("transfer").hidden = true;
        return;
      }
      var tag = ev.target && ev.target.tagName;
      if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
      var b = document.querySelector('[data-key="' + String(ev.key).toUpperCase().replace(/["\\]/g, "") + '"]');
      if (!b) return;
      ev.preventDefault();
      if (!b.disabled) onAction(b.getAttribute("data-action"));
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) refresh();
    });
  }

  setup();
  /* A stored token that the daemon refuses signs out; an unreachable daemon is tried again. */
  function resume() {
    signIn(token).catch(function (e) {
      if (e.status === 401 || e.status === 403) {
        signOut("Lỗi: " + e.message);
      } else {
        showError(e);
        setTimeout(resume, REFRESH_MS);
      }
    });
  }

  if (token) {
    resume();
  } else {
    $("login").hidden = false;
    $("token").focus();
  }
})();
