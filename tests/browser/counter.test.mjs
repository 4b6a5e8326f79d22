// The counter console (/counter/{counter}): sign in once with the counter's token, act with
// buttons and keyboard shortcuts, see the API's errors in Vietnamese with their codes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ADMIN, APP, counterToken, kioskToken, markPage, openPage, pageWasNotReloaded, screenshot, withDaemonAndBrowser,
} from './harness.mjs';

let daemon;
let browser;
withDaemonAndBrowser((d, b) => { daemon = d; browser = b; });

function openConsole(counter) {
  return openPage(browser, daemon, `/counter/${counter}`, { width: 1280, height: 800 });
}

async function signIn(page, token) {
  await page.locator('#token').fill(token);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
}

test('sign in, call next with a click, complete with the keyboard shortcut', async () => {
  const t = await daemon.walkin('cu-tru');
  assert.equal(t.status, 201);
  const { context, page } = await openConsole('cua-nam-2');

  // A wrong token is refused with the contract's code, and nothing is shown of the counter.
  await signIn(page, 'not-a-token');
  await page.locator('#msg.error', { hasText: 'unauthorized' }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#console').isVisible(), false);
  await screenshot(page, 'counter-sign-in');

  await signIn(page, counterToken('cua-nam-2'));
  await page.locator('#console').waitFor({ state: 'visible', timeout: 5000 });
  // The console is shown before the counter is read: wait for its name and state.
  await page.locator('#counter-name', { hasText: /^Quầy 2$/ }).waitFor({ timeout: 5000 });
  await page.locator('#state', { hasText: /^Đang mở$/ }).waitFor({ timeout: 5000 });
  await page.locator('#point-name', { hasText: 'Phường Cửa Nam' }).waitFor();
  // The one waiting ticket of the counter's only service, and the total in the heading.
  await page.locator(`#waiting li[data-code="${t.body.code}"] .num`, { hasText: t.body.number }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#waiting li').count(), 1);
  assert.equal(await page.locator('#waiting-total').textContent(), '1');
  assert.equal(await page.locator('#waiting-counts').isVisible(), false, 'no per-service counts for one service');
  // Every action shows its shortcut on its button.
  const callNext = page.locator('[data-action="call-next"]');
  assert.equal(await callNext.locator('kbd').textContent(), 'N');
  assert.equal(await page.locator('[data-action="complete"] kbd').textContent(), 'H');
  assert.equal(await page.locator('[data-action="complete"]').isDisabled(), true, 'nothing to complete yet');
  await screenshot(page, 'counter-signed-in');

  await callNext.click();
  await page.locator('#current-number', { hasText: t.body.number }).waitFor({ timeout: 5000 });
  await page.locator('#msg.info', { hasText: `Đã gọi số ${t.body.number}` }).waitFor();
  const state = await daemon.counterState('cua-nam-2');
  assert.equal(state.status, 200);
  assert.equal(state.body.current.number, t.body.number);
  assert.equal(state.body.current.status, 'called');
  await screenshot(page, 'counter-called');

  await page.locator('[data-action="complete"]:not([disabled])').waitFor();
  await page.keyboard.press('h');
  await page.locator('#msg.info', { hasText: `Số ${t.body.number}: đã giải quyết xong` }).waitFor({ timeout: 5000 });
  assert.equal((await daemon.ticket(t.body.code)).body.status, 'served');
  assert.equal((await daemon.counterState('cua-nam-2')).body.current, null);
  assert.equal(await page.locator('#current-number').count(), 0);

  // The token is kept for the session: a reload needs no new sign-in; signing out forgets it.
  await page.reload();
  await page.locator('#console').waitFor({ state: 'visible', timeout: 5000 });
  await page.getByRole('button', { name: 'Đăng xuất' }).click();
  await page.locator('#login').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await context.close();
});

test('an API error is shown in Vietnamese with its code', async () => {
  const t = await daemon.walkin('khai-sinh');
  assert.equal(t.status, 201);
  const { context, page } = await openConsole('cua-nam-3');
  await signIn(page, counterToken('cua-nam-3'));
  await page.locator('#console').waitFor({ state: 'visible', timeout: 5000 });
  await page.locator('[data-action="call-next"]:not([disabled])').waitFor();
  // Paused from elsewhere, then asked to call a ticket by its code: 409 invalid_state.
  assert.equal((await daemon.counter('cua-nam-3', 'pause')).status, 200);
  await page.locator('#code').fill(t.body.code);
  await page.getByRole('button', { name: 'Gọi', exact: true }).click();
  const msg = page.locator('#msg.error');
  await msg.waitFor({ timeout: 5000 });
  const text = await msg.textContent();
  assert.match(text, /Thao tác không phù hợp với trạng thái hiện tại/);
  assert.match(text, /invalid_state/);
  await page.locator('#state', { hasText: 'Tạm dừng' }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#code').inputValue(), t.body.code, 'kept to try again');
  await screenshot(page, 'counter-error');

  // Open again with its shortcut, then the call goes through.
  await page.keyboard.press('d');
  await page.locator('#state', { hasText: 'Đang mở' }).waitFor({ timeout: 5000 });
  assert.equal((await daemon.counterState('cua-nam-3')).body.state, 'open');
  // An unknown code: 404 not_found, in words and code.
  await page.locator('#code').fill('ZZZZZZZZ');
  await page.getByRole('button', { name: 'Gọi', exact: true }).click();
  await page.locator('#msg.error', { hasText: /Không tìm thấy.*not_found/ }).waitFor({ timeout: 5000 });
  await page.locator('[data-action="call-next"]:not([disabled])').waitFor();
  await page.keyboard.press('n');
  await page.locator('#current-number', { hasText: t.body.number }).waitFor({ timeout: 5000 });
  await context.close();
});

test('transfer offers the point\'s services; a parked ticket is called back by its code', async () => {
  const t = await daemon.walkin('cu-tru');
  assert.equal(t.status, 201);
  const { context, page } = await openConsole('cua-nam-1');
  await signIn(page, counterToken('cua-nam-1'));
  await page.locator('[data-action="call-next"]:not([disabled])').waitFor({ timeout: 5000 });
  await page.keyboard.press('n');
  await page.locator('#current-number', { hasText: t.body.number }).waitFor({ timeout: 5000 });

  await page.keyboard.press('c');
  const select = page.locator('#transfer-service');
  await select.waitFor({ state: 'visible' });
  const offered = await select.locator('option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
  assert.deepEqual(offered, [['khai-sinh', 'Đăng ký khai sinh']], 'the other services of the point');
  await screenshot(page, 'counter-transfer');
  await page.getByRole('button', { name: 'Chuyển', exact: true }).click();
  await page.locator('#msg.info', { hasText: 'đã chuyển' }).waitFor({ timeout: 5000 });
  let ticket = (await daemon.ticket(t.body.code)).body;
  assert.equal(ticket.status, 'waiting');
  assert.equal(ticket.service, 'khai-sinh');
  assert.equal(ticket.number, t.body.number);

  // Called again, parked with G, then called back by its code.
  await page.locator('[data-action="call-next"]:not([disabled])').waitFor();
  await page.keyboard.press('n');
  await page.locator('#msg.info', { hasText: `Đã gọi số ${t.body.number}` }).waitFor({ timeout: 5000 });
  await page.locator('[data-action="park"]:not([disabled])').waitFor();
  await page.keyboard.press('g');
  await page.locator('#msg.info', { hasText: 'đã tạm gác' }).waitFor({ timeout: 5000 });
  assert.equal((await daemon.ticket(t.body.code)).body.status, 'parked');
  await page.locator('#code').fill(t.body.code.toLowerCase());
  await page.getByRole('button', { name: 'Gọi', exact: true }).click();
  await page.locator('#current-number', { hasText: t.body.number }).waitFor({ timeout: 5000 });
  ticket = (await daemon.ticket(t.body.code)).body;
  assert.equal(ticket.status, 'called');
  assert.equal(ticket.counter, 'cua-nam-1');
  await context.close();
});

test('the waiting list: the counter\'s services only, in call order, updated after a call', async () => {
  const kiosk = kioskToken('cua-nam');
  const first = await daemon.walkin('cu-tru');
  const second = await daemon.walkin('cu-tru');
  const other = await daemon.walkin('khai-sinh');
  const elderly = await daemon.walkin('cu-tru', 'cua-nam', { priority: 'elderly' });
  for (const r of [first, second, other, elderly]) assert.equal(r.status, 201, r.text);
  // A booking for the next slot, checked in now: it waits from its slot's start, after the walk-ins.
  const booked = await daemon.post('/v1/bookings', {
    point: 'cua-nam', service: 'cu-tru', date: '2026-11-23', start: '08:30', citizen_id: '001203004005',
  }, { token: APP });
  assert.equal(booked.status, 201, booked.text);
  const checkin = await daemon.post('/v1/points/cua-nam/checkin', { code: booked.body.code }, { token: kiosk });
  assert.equal(checkin.status, 200, checkin.text);

  const { context, page } = await openConsole('cua-nam-2');
  await signIn(page, counterToken('cua-nam-2'));
  await page.locator('#console').waitFor({ state: 'visible', timeout: 5000 });
  await markPage(page);
  const order = [elderly, first, second, checkin].map((r) => r.body.number);
  const rows = page.locator('#waiting li');
  const numbers = () => rows.locator('.num').allTextContents();
  await page.locator('#waiting li .num').first().waitFor({ timeout: 5000 });
  assert.deepEqual(await numbers(), order, 'cu-tru only, the priority walk-in first, the booking last');
  assert.equal(await page.locator('#waiting-total').textContent(), '4');
  const head = rows.first();
  assert.equal(await head.getAttribute('data-code'), elderly.body.code);
  assert.equal(await head.locator('.svc').textContent(), 'Đăng ký thường trú');
  assert.equal(await head.locator('.prio').textContent(), 'Người cao tuổi');
  assert.equal(await rows.nth(1).locator('.prio').count(), 0, 'no mark without a priority');
  assert.equal(await rows.nth(1).locator('.slot').count(), 0, 'a walk-in has no slot');
  assert.equal(await rows.last().locator('.slot').textContent(), 'Đặt lịch, khung 08:30–09:00');
  assert.equal(await page.locator(`#waiting [data-code="${other.body.code}"]`).count(), 0,
    'not a service of this counter');
  await screenshot(page, 'counter-waiting');

  // Call next: the priority walk-in is called and leaves the list, without a reload.
  await page.locator('[data-action="call-next"]:not([disabled])').click();
  await page.locator('#current-number', { hasText: elderly.body.number }).waitFor({ timeout: 5000 });
  await page.locator('#waiting-total', { hasText: /^3$/ }).waitFor({ timeout: 5000 });
  assert.deepEqual(await numbers(), order.slice(1));
  // While a ticket is being served, the numbers cannot be called from the list.
  assert.equal(await rows.first().locator('.num').isDisabled(), true);
  assert.ok(await pageWasNotReloaded(page));
  await screenshot(page, 'counter-waiting-called');

  // Done with it, a number in the list is called out of order with a click on it.
  await page.keyboard.press('h');
  await page.locator('#msg.info', { hasText: 'đã giải quyết xong' }).waitFor({ timeout: 5000 });
  const pick = page.locator(`#waiting li[data-code="${second.body.code}"] .num:not([disabled])`);
  await pick.click({ timeout: 5000 });
  await page.locator('#current-number', { hasText: second.body.number }).waitFor({ timeout: 5000 });
  await page.locator('#msg.info', { hasText: `Đã gọi số ${second.body.number}` }).waitFor();
  assert.deepEqual(await numbers(), [first.body.number, checkin.body.number]);
  const state = (await daemon.counterState('cua-nam-2')).body;
  assert.equal(state.current.code, second.body.code);
  assert.deepEqual(state.waiting.map((w) => w.number), [first.body.number, checkin.body.number]);

  // Emptied: the list says so.
  for (const next of [first, checkin]) {
    await page.keyboard.press('h');
    await page.locator('[data-action="call-next"]:not([disabled])').waitFor({ timeout: 5000 });
    await page.keyboard.press('n');
    await page.locator('#current-number', { hasText: next.body.number }).waitFor({ timeout: 5000 });
  }
  await page.locator('#waiting li.empty', { hasText: 'Không có ai đang chờ' }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#waiting-total').textContent(), '0');
  await screenshot(page, 'counter-waiting-empty');
  assert.ok(await pageWasNotReloaded(page));
  await context.close();
});

test('a counter of two services counts each of them above its list', async () => {
  // The next morning (the day's walk-in limits start again, and what earlier tests left
  // waiting has expired), one cu-tru walk-in and two of khai-sinh, on top of any still waiting.
  assert.equal((await daemon.setClock('2026-11-24T08:00:00+07:00')).status, 200);
  const waiting = async (service) => {
    const r = await daemon.get(`/v1/points/cua-nam/queue?service=${service}`, { token: ADMIN });
    assert.equal(r.status, 200);
    return r.body.tickets.length;
  };
  const before = { 'cu-tru': await waiting('cu-tru'), 'khai-sinh': await waiting('khai-sinh') };
  for (const service of ['cu-tru', 'khai-sinh', 'khai-sinh']) {
    assert.equal((await daemon.walkin(service)).status, 201);
  }
  const { context, page } = await openConsole('cua-nam-1');
  await signIn(page, counterToken('cua-nam-1'));
  await page.locator('#console').waitFor({ state: 'visible', timeout: 5000 });
  const counts = page.locator('#waiting-counts');
  await counts.waitFor({ state: 'visible', timeout: 5000 });
  const pairs = await counts.locator('li').evaluateAll((ls) =>
    ls.map((l) => [l.getAttribute('data-service'), l.querySelector('.count').textContent]));
  assert.deepEqual(pairs, [['cu-tru', String(before['cu-tru'] + 1)],
    ['khai-sinh', String(before['khai-sinh'] + 2)]]);
  assert.equal(await page.locator('#waiting li .num').count(),
    before['cu-tru'] + before['khai-sinh'] + 3);
  await screenshot(page, 'counter-waiting-two-services');
  await context.close();
});
