// The browser tests' harness: a real hangdoid on a free loopback port with a temporary
// config and database and the test clock (Monday 2026-11-23 08:00 in Hanoi), the same
// catalogue as tests/integration/conftest.py, and headless Chromium driven by playwright-core.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.HANGDOID || path.join(ROOT, 'build', 'hangdoid');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'tests', 'artifacts');

export const START = '2026-11-23T08:00:00+07:00';
export const APP = 'app-token-0001';
export const ADMIN = 'admin-token-0001';
const SECRET = 'test-secret-0123456789abcdef0123456789';
const WEEKDAY_HOURS = ['07:30-12:00', '13:30-17:00'];

export const kioskToken = (point) => `kiosk-${point}-token`;
export const counterToken = (counter) => `counter-${counter}-token`;

/** Two points; cua-nam is closed on Thursday 2026-11-26 (as conftest.py's catalogue). */
export function catalogue() {
  const hours = { sat: ['07:30-11:30'], sun: [] };
  for (const d of ['mon', 'tue', 'wed', 'thu', 'fri']) hours[d] = WEEKDAY_HOURS;
  const points = [
    {
      id: 'cua-nam', name: 'Phường Cửa Nam', address: 'Số 1 Phố Hàng Bông',
      hours, closed: ['2026-11-26'],
      services: [
        { id: 'cu-tru', name: 'Đăng ký thường trú', prefix: 'A', slot_minutes: 30,
          slot_capacity: 3, walkin_daily_limit: 5, avg_service_minutes: 12,
          documents: ['Tờ khai CT01'], fee_vnd: 20000 },
        { id: 'khai-sinh', name: 'Đăng ký khai sinh', prefix: 'B', slot_minutes: 15,
          slot_capacity: 2, walkin_daily_limit: 100, avg_service_minutes: 10 },
      ],
      counters: [
        { id: 'cua-nam-1', name: 'Quầy 1', services: ['cu-tru', 'khai-sinh'] },
        { id: 'cua-nam-2', name: 'Quầy 2', services: ['cu-tru'] },
        { id: 'cua-nam-3', name: 'Quầy 3', services: ['khai-sinh'] },
      ],
    },
    {
      id: 'kim-lien', name: 'Phường Kim Liên', address: 'Số 2 Phố Lương Định Của',
      hours,
      services: [
        { id: 'cu-tru', name: 'Đăng ký thường trú', prefix: 'A', slot_minutes: 30,
          slot_capacity: 3, walkin_daily_limit: 50, avg_service_minutes: 15 },
      ],
      counters: [{ id: 'kim-lien-1', name: 'Quầy 1', services: ['cu-tru'] }],
    },
  ];
  const tokens = [
    { name: 'app', role: 'app', token: APP },
    { name: 'ops', role: 'admin', token: ADMIN },
  ];
  for (const p of points) {
    tokens.push({ name: `kiosk-${p.id}`, role: 'kiosk', point: p.id, token: kioskToken(p.id) });
    for (const c of p.counters)
      tokens.push({ name: `quay-${c.id}`, role: 'counter', counter: c.id, token: counterToken(c.id) });
  }
  return {
    listen: '127.0.0.1:0', database: '', utc_offset: '+07:00',
    citizen_id_secret: SECRET,
    rate_limit: { per_ip_per_second: 0, burst: 0 },
    tokens, points,
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A running daemon: its base URL, API helpers, and stop() (SIGTERM; resolves to the exit code). */
export async function startDaemon() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangdoi-browser-'));
  const port = await freePort();
  const config = catalogue();
  config.listen = `127.0.0.1:${port}`;
  config.database = path.join(dir, 'hangdoi.db');
  const configPath = path.join(dir, 'hangdoi.json');
  fs.writeFileSync(configPath, JSON.stringify(config));
  const log = fs.openSync(path.join(dir, 'daemon.log'), 'a');
  const proc = spawn(BIN, ['--config', configPath, '--test-clock', START],
    { stdio: ['ignore', log, log] });
  let exited = null;
  const exit = new Promise((resolve) => proc.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  const base = `http://127.0.0.1:${port}`;
  const logs = () => fs.readFileSync(path.join(dir, 'daemon.log'), 'utf8');

  async function request(method, p, { token, body } = {}) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(base + p, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    return { status: res.status, body: json, text };
  }

  const deadline = Date.now() + 10000;
  for (;;) {
    if (exited) throw new Error(`hangdoid exited ${exited.code}: ${logs()}`);
    try {
      if ((await request('GET', '/v1/health')).status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`hangdoid did not answer: ${logs()}`);
    }
    await sleep(50);
  }

  return {
    base, port, dir, logs, request,
    get: (p, opts) => request('GET', p, opts),
    post: (p, body, opts = {}) => request('POST', p, { ...opts, body }),
    /** A walk-in from the point's kiosk; PRIORITY (e.g. 'elderly') is sent only when given. */
    walkin: (service = 'cu-tru', point = 'cua-nam', { priority } = {}) =>
      request('POST', `/v1/points/${point}/tickets`, {
        token: kioskToken(point), body: priority ? { service, priority } : { service },
      }),
    counter: (counter, action, body) =>
      request('POST', `/v1/counters/${counter}/${action}`, { token: counterToken(counter), body }),
    counterState: (counter) =>
      request('GET', `/v1/counters/${counter}`, { token: counterToken(counter) }),
    ticket: (code) => request('GET', `/v1/tickets/${code}`),
    /** Sets the test clock (PUT /v1/admin/clock) to NOW, an ISO instant with its offset. */
    setClock: (now) => request('PUT', '/v1/admin/clock', { token: ADMIN, body: { now } }),
    /** SIGTERM, then the exit status (null if it had to be killed). */
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 30000);
        await exit;
        clearTimeout(t);
      }
      fs.closeSync(log);
      const code = exited.signal ? null : exited.code;
      if (code === 0) fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}

/**
 * One daemon and one browser for a test file: started before its tests (handed to READY),
 * closed after them; the daemon must exit 0 on SIGTERM.
 */
export function withDaemonAndBrowser(ready) {
  let daemon;
  let browser;
  before(async () => {
    daemon = await startDaemon();
    browser = await launchBrowser();
    ready(daemon, browser);
  });
  after(async () => {
    if (browser) await browser.close();
    if (daemon) assert.equal(await daemon.stop(), 0, 'hangdoid must exit 0 on SIGTERM');
  });
}

/**
 * Opens the daemon's PATH in a new context of the given viewport, in Vietnamese; a 200.
 * initScripts: functions run in the page before its own scripts (page.addInitScript), in order;
 * beforeGoto: called with the page before it navigates (to listen to or route its requests).
 */
export async function openPage(browser, daemon, urlPath, viewport, { initScripts = [], beforeGoto } = {}) {
  const context = await browser.newContext({ viewport, locale: 'vi-VN' });
  const page = await context.newPage();
  for (const script of initScripts) await page.addInitScript(script);
  if (beforeGoto) await beforeGoto(page);
  const res = await page.goto(`${daemon.base}${urlPath}`);
  assert.equal(res.status(), 200);
  return { context, page, res };
}

/** Saves a screenshot as tests/artifacts/NAME.png. */
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** Marks the page's window: the mark survives anything but a reload or a navigation. */
export async function markPage(page) {
  await page.evaluate(() => { window.__hangdoiMark = 'still here'; });
}

export async function pageWasNotReloaded(page) {
  return (await page.evaluate(() => window.__hangdoiMark)) === 'still here';
}
