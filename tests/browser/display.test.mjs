// The hall display (/display/{point}): live calls from the event stream, recalls highlighted
// again, and the long-poll fallback where an event stream cannot be had.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markPage, openPage, pageWasNotReloaded, screenshot, withDaemonAndBrowser } from './harness.mjs';

let daemon;
let browser;
withDaemonAndBrowser((d, b) => { daemon = d; browser = b; });

// What the display asks the speech engine to say is recorded instead of spoken.
function recordSpeech() {
  window.__spoken = [];
  if (window.speechSynthesis)
    window.speechSynthesis.speak = (u) => window.__spoken.push({ text: u.text, lang: u.lang });
}

function removeEventSource() { delete window.EventSource; }

async function openDisplay(point, { noEventSource = false, refuseStream = false } = {}) {
  const streams = [];
  const { context, page, res } = await openPage(browser, daemon, `/display/${point}`,
    { width: 1600, height: 900 }, {
      initScripts: noEventSource ? [recordSpeech, removeEventSource] : [recordSpeech],
      async beforeGoto(p) {
        p.on('request', (req) => { if (req.url().endsWith('/events')) streams.push(req.url()); });
        if (refuseStream)
          await p.route('**/events', (route) => route.fulfill({ status: 503, body: 'unavailable' }));
      },
    });
  assert.match(res.headers()['content-type'], /^text\/html/);
  return { context, page, streams };
}

const highlighted = (page) => page.evaluate(() => {
  const now = document.getElementById('now');
  return {
    number: now.getAttribute('data-number'),
    seq: Number(now.getAttribute('data-seq')),
    flashed: Number(now.getAttribute('data-flashed')),
    flashing: now.classList.contains('flash'),
    text: now.textContent.replace(/\s+/g, ' ').trim(),
  };
});

test('a call made through the API shows without a reload, and a recall is highlighted again', async () => {
  const a1 = await daemon.walkin('cu-tru');
  const a2 = await daemon.walkin('cu-tru');
  assert.equal(a1.status, 201);
  assert.equal(a2.status, 201);

  const { context, page } = await openDisplay('cua-nam');
  await page.locator('#live[data-mode="sse"]').waitFor({ timeout: 10000 });
  await page.locator('#point-name', { hasText: 'Phường Cửa Nam' }).waitFor();
  // The board as loaded: both tickets wait for "Đăng ký thường trú", nobody is called.
  const waitingRow = page.locator('#waiting li[data-service="cu-tru"]');
  await assert.doesNotReject(waitingRow.locator('.count', { hasText: /^2$/ }).waitFor({ timeout: 5000 }));
  assert.match(await waitingRow.textContent(), /Đăng ký thường trú/);
  await markPage(page);

  const call = await daemon.counter('cua-nam-1', 'call-next');
  assert.equal(call.status, 200);
  assert.equal(call.body.ticket.number, a1.body.number);
  await page.waitForFunction(
    (n) => document.getElementById('now').getAttribute('data-number') === n,
    a1.body.number, { timeout: 10000 });
  // What a citizen in the hall sees: the number and the counter, on screen.
  const nowBox = page.locator('#now');
  assert.equal(await nowBox.isVisible(), true, 'the current call is on screen');
  assert.equal(await nowBox.locator('.num').innerText(), a1.body.number);
  assert.equal(await nowBox.locator('.ctr').innerText(), 'Quầy 1');
  const first = await highlighted(page);
  assert.equal(first.text.includes(`Mời công dân số ${a1.body.number} đến Quầy 1`), true, first.text);
  assert.equal(first.flashing, true);
  assert.equal(first.flashed, first.seq);
  // The counter's number and the waiting count follow the call.
  await page.locator('#counters li[data-counter="cua-nam-1"] .num', { hasText: a1.body.number })
    .waitFor({ timeout: 5000 });
  await waitingRow.locator('.count', { hasText: /^1$/ }).waitFor({ timeout: 5000 });
  await screenshot(page, 'display-call');

  // The same ticket called again: shown again with a new event, highlighted again.
  const recall = await daemon.counter('cua-nam-1', 'recall');
  assert.equal(recall.status, 200);
  await page.waitForFunction((seq) => Number(document.getElementById('now').getAttribute('data-flashed')) > seq,
    first.seq, { timeout: 10000 });
  const again = await highlighted(page);
  assert.equal(again.number, a1.body.number);
  assert.ok(again.seq > first.seq);
  assert.equal(again.flashing, true);
  assert.match(again.text, /Gọi lại/);
  const board = await daemon.get('/v1/points/cua-nam/display');
  assert.equal(board.body.calls[0].seq, again.seq, 'the highlighted call is the newest of the board');
  assert.equal(board.body.calls[0].recall, true);
  // The number is on top once: not listed again among the latest calls.
  assert.equal(await page.locator('#history li', { hasText: a1.body.number }).count(), 0);
  assert.ok(await pageWasNotReloaded(page), 'the display must update without a reload');
  await screenshot(page, 'display-recall');

  // The spoken announcement is off until the button turns it on, then speaks Vietnamese.
  const speak = page.locator('#speak');
  assert.equal(await speak.getAttribute('aria-pressed'), 'false');
  assert.deepEqual(await page.evaluate(() => window.__spoken), [], 'silent by default');
  await speak.click();
  assert.equal(await speak.getAttribute('aria-pressed'), 'true');
  assert.match(await speak.textContent(), /Bật/);
  assert.equal((await daemon.counter('cua-nam-1', 'recall')).status, 200);
  await page.waitForFunction(() => window.__spoken.length === 1, null, { timeout: 10000 });
  const [said] = await page.evaluate(() => window.__spoken);
  assert.equal(said.lang, 'vi-VN');
  assert.equal(said.text, `Mời công dân số ${a1.body.number.split('').join(' ')} đến Quầy 1`);
  await context.close();
});

test('without EventSource the display long-polls and still shows a call', async () => {
  const { context, page, streams } = await openDisplay('kim-lien', { noEventSource: true });
  await page.locator('#live[data-mode="poll"]').waitFor({ timeout: 10000 });
  await markPage(page);
  const t = await daemon.walkin('cu-tru', 'kim-lien');
  assert.equal(t.status, 201);
  const call = await daemon.counter('kim-lien-1', 'call-next');
  assert.equal(call.status, 200);
  await page.waitForFunction(
    (n) => document.getElementById('now').getAttribute('data-number') === n,
    t.body.number, { timeout: 5000 });
  const now = await highlighted(page);
  assert.ok(now.text.includes(`Mời công dân số ${t.body.number} đến Quầy 1`), now.text);
  assert.deepEqual(streams, [], 'no event stream was asked for');
  assert.ok(await pageWasNotReloaded(page));
  await screenshot(page, 'display-longpoll');
  await context.close();
});

test('when the event stream is refused the display falls back to long-poll', async () => {
  const { context, page, streams } = await openDisplay('cua-nam', { refuseStream: true });
  await page.locator('#live[data-mode="poll"]').waitFor({ timeout: 10000 });
  assert.ok(streams.length >= 1, 'the stream was tried first');
  const t = await daemon.walkin('khai-sinh');
  assert.equal(t.status, 201);
  const call = await daemon.counter('cua-nam-3', 'call-next');
  assert.equal(call.status, 200);
  await page.waitForFunction(
    (n) => document.getElementById('now').getAttribute('data-number') === n,
    t.body.number, { timeout: 5000 });
  assert.ok((await highlighted(page)).text.includes(`Mời công dân số ${t.body.number} đến Quầy 3`));
  await context.close();
});

test('the first call of a new day clears the previous day\'s calls', async () => {
  const monday = await daemon.walkin('cu-tru');
  assert.equal(monday.status, 201);
  assert.equal((await daemon.counter('cua-nam-2', 'call-next')).status, 200);
  const { context, page } = await openDisplay('cua-nam');
  await page.locator('#live[data-mode="sse"]').waitFor({ timeout: 10000 });
  assert.ok(await page.locator('#history li[data-seq]').count() > 0, 'Monday\'s earlier calls are listed');

  // Done on Monday, so the counter is free on Tuesday whether or not the day's end releases it.
  assert.equal((await daemon.counter('cua-nam-2', 'complete')).status, 200, 'Monday\'s ticket is done');

  const r = await daemon.setClock('2026-11-24T08:00:00+07:00');
  assert.equal(r.status, 200);
  const tuesday = await daemon.walkin('cu-tru');
  assert.equal(tuesday.status, 201);
  const call = await daemon.counter('cua-nam-2', 'call-next');
  assert.equal(call.status, 200);
  assert.equal(call.body.ticket.date, '2026-11-24');
  await page.waitForFunction(
    (n) => document.getElementById('now').getAttribute('data-number') === n,
    tuesday.body.number, { timeout: 10000 });
  assert.equal(await page.locator('#history li[data-seq]').count(), 0, 'no call of Monday is left');
  await context.close();
});
