/* ticket.js: the citizen's ticket (where its QR code leads): number, service, status,
 * position and wait, read again every few seconds while the ticket is still in play. */
"use strict";

(function () {
  var H = Hangdoi, el = H.el;
  var code = H.pathId();
  var T = "/v1/tickets/" + encodeURIComponent(code);
  var FAST_MS = 3000; /* waiting, called or parked: things move */
  var SLOW_MS = 30000; /* booked: nothing moves until check-in */
  var DONE = { served: 1, no_show: 1, cancelled: 1, expired: 1 };

  var point = null;
  var timer = null;
  var errors = 0;

  function $(x) { return document.getElementById(x); }

  var show = H.show;

  function loadPoint(pid) {
    if (point && point.id === pid) return Promise.resolve();
    return H.api("GET", "/v1/points/" + encodeURIComponent(pid)).then(function (r) {
      point = r.body;
      $("point-name").textContent = point.name;
      $("point-address").textContent = point.address || "";
    }, function () {});
  }

  function find(list, id) {
    for (var i = 0; list && i < list.length; i++) if (list[i].id === id) return list[i];
    return null;
  }

  function render(t) {
    var svc = point ? find(point.services, t.service) : null;
    var ctr = point ? find(point.counters, t.counter) : null;
    $("ticket").hidden = false;
    $("service").textContent = svc ? svc.name : t.service;
    $("number").textContent = t.number;
    document.title = "Số " + t.number + (svc ? " · " + svc.name : "");
    var st = $("status");
    st.setAttribute("data-status", t.status);
    st.textContent = H.STATUS[t.status] || t.status;

    var called = $("called");
    called.hidden = t.status !== "called";
    if (t.status === "called") called.textContent = "Mời bạn đến " + (ctr ? ctr.name : t.counter || "quầy");

    var waiting = t.status === "waiting" && t.position !== null;
    $("queue").hidden = !waiting;
    if (waiting) {
      $("position").textContent = String(t.position);
      $("position-note").textContent = t.position === 1 ? "Bạn là người tiếp theo" : "còn " + (t.position - 1) + " người trước bạn";
      $("eta").textContent = t.eta_minutes === null ? "—" : "~" + t.eta_minutes;
    }

    var facts = H.clear($("facts"));
    function fact(k, v) {
      if (!v) return;
      facts.appendChild(el("dt", null, k));
      facts.appendChild(el("dd", null, v));
    }
    fact("Ngày", H.dmy(t.date));
    if (t.kind === "booking") fact("Khung giờ", t.start + "–" + t.end);
    if (t.status === "booked" && t.checkin_from)
      fact("Xác nhận có mặt", "từ " + H.hhmm(t.checkin_from) + " đến " + H.hhmm(t.checkin_until) + " tại kiosk");
    fact("Ưu tiên", t.priority ? H.PRIORITY[t.priority] || t.priority : "");
    if (t.status === "parked") fact("Lưu ý", "Bổ sung giấy tờ rồi báo lại cán bộ để được gọi tiếp");

    var qr = $("qr");
    if (qr.hidden) {
      qr.src = H.url(T + "/qr.svg");
      qr.hidden = false;
    }
    $("code").textContent = "Mã vé: " + t.code;

    if (svc && ((svc.documents && svc.documents.length) || svc.fee_vnd)) {
      $("documents").hidden = false;
      var ul = H.clear($("documents-list"));
      (svc.documents || []).forEach(function (d) { ul.appendChild(el("li", null, d)); });
      $("fee").textContent = "Lệ phí: " + (svc.fee_vnd ? svc.fee_vnd.toLocaleString("vi-VN") + " đồng" : "miễn phí");
    }
  }

  function stamp() {
    var d = new Date();
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    $("updated").textContent = "Cập nhật lúc " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) +
      " · tự động làm mới";
  }

  function load() {
    clearTimeout(timer);
    return H.api("GET", T).then(function (r) {
      var t = r.body;
      errors = 0;
      return loadPoint(t.point).then(function () {
        show("", "");
        render(t);
        stamp();
        if (DONE[t.status]) {
          timer = null;
          $("updated").textContent = "";
        } else {
          timer = setTimeout(load, t.status === "booked" ? SLOW_MS : FAST_MS);
        }
      });
    }, function (e) {
      if (e.status === 404) {
        $("ticket").hidden = true;
        show("error", "Không tìm thấy vé có mã " + code + ". Vui lòng kiểm tra lại mã trên phiếu.");
        return;
      }
      errors++;
      show("error", "Chưa cập nhật được: " + e.message + ". Đang thử lại…");
      timer = setTimeout(load, Math.min(60000, FAST_MS * Math.pow(2, errors)));
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer) load();
  });
  load();
})();
