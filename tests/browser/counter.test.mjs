// The counter console (/counter/{counter}): sign in once with the counter's token, act with
// buttons and keyboard shortcuts, see the API's errors in Vietnamese with their codes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { counterToken, launchBrowser, screenshot, startDaemon } from './harness.mjs';

let daemon;
let browser;

before(async () => {
  daemon = await startDaemon();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (daemon) assert.equal(await daemon.stop(), 0, 'hangdoid must exit 0 on SIGTERM');
});

async function openConsole(counter) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'vi-VN' });
  const page = await context.newPage();
  const res = await page.goto(`${daemon.base}/counter/${counter}`);
  assert.equal(res.status(), 200);
  return { context, page };
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
  assert.equal(await page.locator('#counter-name').textContent(), 'Quầy 2');
  assert.equal(await page.locator('#state').textContent(), 'Đang mở');
  await page.locator('#point-name', { hasText: 'Phường Cửa Nam' }).waitFor();
  // The waiting count of the counter's only service.
  await page.locator('#waiting li[data-service="cu-tru"] .count', { hasText: /^1$/ }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#waiting li').count(), 1, 'only the services this counter serves');
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
