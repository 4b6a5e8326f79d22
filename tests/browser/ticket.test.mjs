// The citizen's ticket page (/ticket/{code}, where the QR code leads): number, service,
// status in Vietnamese, position and wait, kept up to date without a reload.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { APP, markPage, openPage, pageWasNotReloaded, screenshot, withDaemonAndBrowser } from './harness.mjs';

let daemon;
let browser;
withDaemonAndBrowser((d, b) => { daemon = d; browser = b; });

function openTicket(code) {
  return openPage(browser, daemon, `/ticket/${code}`, { width: 390, height: 844 }); // a phone
}

test('the position goes from 2 to 1 without a reload, then the call shows', async () => {
  const first = await daemon.walkin('khai-sinh');
  const mine = await daemon.walkin('khai-sinh');
  assert.equal(first.status, 201);
  assert.equal(mine.status, 201);
  assert.equal(mine.body.position, 2);

  const { context, page } = await openTicket(mine.body.code);
  await page.locator('#number', { hasText: mine.body.number }).waitFor({ timeout: 5000 });
  await page.locator('#service', { hasText: 'Đăng ký khai sinh' }).waitFor();
  assert.equal(await page.locator('#status').textContent(), 'Đang chờ');
  assert.equal(await page.locator('#position').textContent(), '2');
  // eta = ceil(2 × 10 min / 2 open counters serving khai-sinh) = 10 (API.md §4): worked out
  // from the contract, not taken from the daemon's answer, so a wrong eta fails here.
  assert.equal(mine.body.eta_minutes, 10, 'the API\'s eta');
  assert.equal(await page.locator('#eta').textContent(), '~10', 'the page shows about 10 minutes');
  await page.locator('#point-name', { hasText: 'Phường Cửa Nam' }).waitFor();
  await screenshot(page, 'ticket-waiting');
  await markPage(page);

  const call = await daemon.counter('cua-nam-3', 'call-next');
  assert.equal(call.body.ticket.number, first.body.number);
  await page.locator('#position', { hasText: /^1$/ }).waitFor({ timeout: 10000 });
  assert.equal((await daemon.ticket(mine.body.code)).body.position, 1, 'the API agrees');
  assert.match(await page.locator('#position-note').textContent(), /người tiếp theo/);
  await screenshot(page, 'ticket-next');

  assert.equal((await daemon.counter('cua-nam-3', 'complete')).status, 200);
  assert.equal((await daemon.counter('cua-nam-3', 'call-next')).body.ticket.number, mine.body.number);
  await page.locator('#status', { hasText: 'Đang được mời' }).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#called').textContent(), 'Mời bạn đến Quầy 3');
  assert.equal(await page.locator('#queue').isVisible(), false, 'no position once called');
  await screenshot(page, 'ticket-called');
  assert.ok(await pageWasNotReloaded(page), 'the page must update without a reload');
  await context.close();
});

test('a booking shows its slot, its check-in window, and what to bring', async () => {
  const b = await daemon.post('/v1/bookings', {
    point: 'cua-nam', service: 'cu-tru', date: '2026-11-24', start: '09:00', citizen_id: '001203004567',
  }, { token: APP });
  assert.equal(b.status, 201);
  const { context, page } = await openTicket(b.body.code);
  await page.locator('#status', { hasText: 'Đã đặt lịch' }).waitFor({ timeout: 5000 });
  const facts = await page.locator('#facts').textContent();
  assert.match(facts, /24\/11\/2026/);
  assert.match(facts, /09:00–09:30/);
  assert.match(facts, /từ 08:00 đến 09:45/);
  assert.match(await page.locator('#documents').textContent(), /Tờ khai CT01/);
  assert.match(await page.locator('#fee').textContent(), /20\.000 đồng/);
  const qr = await page.locator('#qr').evaluate((img) => img.complete && img.naturalWidth > 0);
  assert.ok(qr, 'the QR code is shown');
  await screenshot(page, 'ticket-booked');
  await context.close();
});

test('an unknown code says so', async () => {
  const { context, page } = await openTicket('ZZZZZZZZ');
  await page.locator('#msg.error', { hasText: 'Không tìm thấy vé' }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#ticket').isVisible(), false);
  await context.close();
});
