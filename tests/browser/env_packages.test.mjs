// Admins install packages from the Packages page and watch the live log
// finish: a second admin opening the page sees the same stream, and a second
// install queues visibly — headless Chromium, the real hub, real pip against
// a real index.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { launchChromium, startHub } from './hub.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ADMIN_PW = 'Admin-Pass-2024';
const SECOND_PW = 'Second-Admin-77';
const HELD = 'chbeta-1.0-py3-none-any.whl';

// tests/integration/pkgindex.py builds the test packages and serves them;
// downloads of `held` wait until release(held).
async function startIndex(held) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coursehub-index-'));
  const proc = spawn('/usr/bin/python3',
    [path.join(here, '..', 'integration', 'pkgindex.py'), 'serve', dir, ...held.flatMap((h) => ['--hold', h])],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = readline.createInterface({ input: proc.stdout });
  const reached = new Set();
  const waiters = [];
  const url = await new Promise((resolve, reject) => {
    rl.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`the package index exited (${code})`)));
  });
  rl.on('line', (line) => {
    const m = line.match(/^reached (.+)$/);
    if (m) reached.add(m[1]);
    for (const w of waiters.splice(0)) w();
  });
  return {
    url,
    async reached(name) {
      while (!reached.has(name)) await new Promise((r) => waiters.push(r));
    },
    release(name) { proc.stdin.write(`release ${name}\n`); },
    stop() { proc.kill('SIGTERM'); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

async function openAsAdmin(browser, hub, name, password) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(hub.url + 'hub/admin/packages');
  await page.fill('#username', name);
  await page.fill('#password', password);
  await page.click('#login-submit');
  await page.waitForURL(/\/hub\/admin\/packages$/);
  await page.waitForSelector('#packages tbody tr[data-package="pip"]');
  return page;
}

test('two admins: a live install followed from a second page, a second install queued', { timeout: 400000 }, async () => {
  const index = await startIndex([HELD]);
  const hub = await startHub({ config: { user_environment: { index_url: index.url } } });
  const browser = await launchChromium();
  try {
    hub.cli(['env', 'init']);
    hub.cli(['user', 'add', 'root-admin', '--admin', '--password-stdin'], `${ADMIN_PW}\n`);
    hub.cli(['user', 'add', 'second-admin', '--admin', '--password-stdin'], `${SECOND_PW}\n`);
    const first = await openAsAdmin(browser, hub, 'root-admin', ADMIN_PW);
    assert.equal(await first.textContent('#env-installer'), 'pip');

    // The first admin's install runs, held while pip downloads chbeta 1.0.
    await first.fill('#specs', 'chbeta==1.0');
    await first.click('#install');
    await index.reached(HELD);
    await first.waitForSelector('#job-status[data-state="running"]');

    // A second admin opening the page follows the same change, live.
    const second = await openAsAdmin(browser, hub, 'second-admin', SECOND_PW);
    await second.waitForSelector('#job-status[data-state="running"]');
    assert.equal(await second.textContent('#job-title'), 'install chbeta==1.0');
    const sameLog = async () => {
      for (let i = 0; i < 600; i++) {
        const [a, b] = [await first.textContent('#job-log'), await second.textContent('#job-log')];
        if (a === b && /Collecting chbeta==1\.0/.test(a)) return a;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the two pages never showed the same log');
    };
    assert.match(await sameLog(), /^coursehub: step 1\/2: pip wheel/);

    // Its own install waits its turn, visibly, on both pages.
    await second.fill('#specs', 'chgamma');
    await second.click('#install');
    await second.waitForSelector('#job-status[data-state="queued"]');
    assert.match(await second.textContent('#job-status'), /^Queued behind 1 change\(s\)/);
    const queued = first.locator('#job-queue li[data-state="queued"]');
    await queued.waitFor();
    assert.match(await queued.textContent(), /install chgamma, by second-admin \(web\): Queued behind 1 change\(s\)/);

    index.release(HELD);
    await first.waitForSelector('#job-status[data-state="done"]', { timeout: 240000 });
    assert.match(await first.textContent('#job-status'), /^Done: installed: chbeta 1\.0\. Restart your kernel to use the new packages/);
    await second.waitForSelector('#job-status[data-state="done"]', { timeout: 240000 });
    const status = await second.textContent('#job-status');
    assert.match(status, /^Done: installed: chalpha 2\.0, chgamma 1\.0; upgraded: chbeta 1\.0 -> 2\.0\./);
    assert.match(status, /Restart your kernel to use the new packages/);
    assert.equal(await second.getAttribute('#job-status', 'data-result'), 'succeeded');
    const log = await second.textContent('#job-log');
    assert.match(log, /coursehub: step 1\/2: pip wheel/);
    assert.match(log, /Successfully installed chalpha-2\.0 chbeta-2\.0 chgamma-1\.0/);
    assert.equal(await second.evaluate(() => document.getElementById('job-progress').value), 1);
    await first.waitForSelector('#queue-panel', { state: 'hidden' });

    // The tables follow: the package is listed, the changes are in the history.
    await second.waitForSelector('#packages tbody tr[data-package="chgamma"]');
    await second.fill('#pkg-search', 'chg');
    assert.equal(await second.locator('#packages tbody tr:not([hidden])').count(), 1);
    const entries = second.locator('#history > li');
    assert.match(await entries.nth(0).textContent(), /install chgamma — succeeded, by second-admin \(web\)/);
    assert.match(await entries.nth(0).textContent(), /\+ chgamma 1\.0/);
    assert.match(await entries.nth(1).textContent(), /install chbeta==1\.0 — succeeded, by root-admin \(web\)/);
    if (process.env.SCREENSHOT_DIR) await second.screenshot({ path: `${process.env.SCREENSHOT_DIR}/packages.png`, fullPage: true });
  } finally {
    await browser.close();
    await hub.stop();
    hub.cleanup();
    index.stop();
  }
});
