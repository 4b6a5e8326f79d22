/* common.js: what the hall display, the counter console and the ticket page share:
 * calls to the API (relative URLs, so the pages work at any host, port or prefix),
 * the Vietnamese words for statuses and error codes, small DOM helpers. */
"use strict";

var Hangdoi = (function () {
  /* Every page lives one level below the root: /display/{point}, /counter/{id}, /ticket/{code}. */
  var base = new URL("..", location.href);

  function url(path) {
    return new URL(path.replace(/^\//, ""), base).toString();
  }

  /* The last segment of the page's path: the point, counter or ticket it is about. */
  function pathId() {
    var parts = location.pathname.split("/").filter(Boolean);
    return decodeURIComponent(parts[parts.length - 1] || "");
  }

  var ERRORS = {
    invalid_json: "Dữ liệu gửi đi không hợp lệ",
    invalid_field: "Thông tin chưa đúng",
    unauthorized: "Mã truy cập không đúng hoặc đã hết hiệu lực",
    forbidden: "Mã truy cập này không dùng được cho quầy này",
    not_found: "Không tìm thấy",
    method_not_allowed: "Thao tác không được hỗ trợ",
    slot_full: "Khung giờ đã hết chỗ",
    duplicate_booking: "Công dân đã có lịch hẹn cho thủ tục này trong ngày",
    too_many_bookings: "Công dân đã có quá nhiều lịch hẹn",
    daily_limit_reached: "Đã hết số thứ tự trong ngày",
    booking_suspended: "Công dân đang bị tạm khóa đặt lịch",
    invalid_state: "Thao tác không phù hợp với trạng thái hiện tại",
    payload_too_large: "Dữ liệu gửi đi quá lớn",
    unsupported_media_type: "Định dạng dữ liệu không được hỗ trợ",
    outside_horizon: "Ngày nằm ngoài thời gian cho phép đặt lịch",
    closed: "Điểm phục vụ không làm việc vào thời gian này",
    slot_passed: "Khung giờ đã bắt đầu",
    checkin_not_open: "Chưa đến giờ xác nhận có mặt",
    checkin_closed: "Đã hết giờ xác nhận có mặt",
    wrong_point: "Lịch hẹn thuộc điểm phục vụ khác",
    idempotency_mismatch: "Yêu cầu trùng khóa nhưng khác nội dung",
    rate_limited: "Quá nhiều yêu cầu, vui lòng thử lại sau giây lát",
    unavailable: "Hệ thống tạm thời không phục vụ được, chưa có thay đổi nào",
    network: "Không kết nối được tới máy chủ"
  };

  var STATUS = {
    booked: "Đã đặt lịch",
    waiting: "Đang chờ",
    called: "Đang được mời",
    served: "Đã giải quyết xong",
    no_show: "Vắng mặt",
    parked: "Tạm gác, chờ gọi lại",
    cancelled: "Đã hủy",
    expired: "Hết hiệu lực"
  };

  var PRIORITY = {
    elderly: "Người cao tuổi",
    disabled: "Người khuyết tật",
    pregnant: "Phụ nữ mang thai",
    child_under_6: "Trẻ em dưới 6 tuổi",
    merit: "Người có công"
  };

  /* An API failure: the contract's code, HTTP status and a Vietnamese message. */
  function ApiError(status, code, message, field) {
    this.status = status;
    this.code = code;
    this.field = field || null;
    this.message = (ERRORS[code] || "Lỗi") + (field ? " (" + field + ")" : "") + " [" + code + "]";
    this.detail = message || "";
  }

  /* fetch() a JSON endpoint; resolves to {status, body}, rejects with an ApiError. */
  function api(method, path, opts) {
    opts = opts || {};
    var headers = { Accept: "application/json" };
    var init = { method: method, headers: headers, cache: "no-store" };
    if (opts.token) headers.Authorization = "Bearer " + opts.token;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    if (opts.signal) init.signal = opts.signal;
    return fetch(url(path), init).then(
      function (res) {
        return res.text().then(function (text) {
          var body = null;
          try {
            body = text ? JSON.parse(text) : null;
          } catch (e) {
            body = null;
          }
          if (res.ok) return { status: res.status, body: body };
          var err = body && body.error ? body.error : {};
          throw new ApiError(res.status, err.code || "http_" + res.status, err.message, err.field);
        });
      },
      function (e) {
        if (e && e.name === "AbortError") throw e;
        throw new ApiError(0, "network", String(e));
      }
    );
  }

  /* Creates an element: el("div", {class: "x"}, "text", child, ...). */
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs)
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] === null || attrs[k] === undefined || attrs[k] === false) return;
        if (k === "class") e.className = attrs[k];
        else if (k === "text") e.textContent = attrs[k];
        else e.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
      });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  /* "2026-11-23T09:05:00+07:00" -> "09:05", as the daemon wrote it (its own offset). */
  function hhmm(instant) {
    var m = /T(\d\d:\d\d)/.exec(instant || "");
    return m ? m[1] : "";
  }

  /* "2026-11-24" -> "24/11/2026" */
  function dmy(date) {
    var m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(date || "");
    return m ? m[3] + "/" + m[2] + "/" + m[1] : date || "";
  }

  /* The page's message line (#msg): KIND is its class (info, error); no text hides it. */
  function show(kind, text) {
    var m = document.getElementById("msg");
    m.className = "msg " + kind;
    m.textContent = text;
    m.hidden = !text;
  }

  return {
    url: url, pathId: pathId, api: api, ApiError: ApiError, el: el, clear: clear,
    hhmm: hhmm, dmy: dmy, show: show, STATUS: STATUS, PRIORITY: PRIORITY, ERRORS: ERRORS
  };
})();
