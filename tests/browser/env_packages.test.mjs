// An admin installs a package from the Packages page and watches the live log
// finish — headless Chromium, the real hub, real pip against a real index.
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

// tests/integration/pkgindex.py builds the test packages and serves them.
async function startIndex() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coursehub-index-'));
  const proc = spawn('/usr/bin/python3', [path.join(here, '..', 'integration', 'pkgindex.py'), 'serve', dir],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = readline.createInterface({ input: proc.stdout });
  const url = await new Promise((resolve, reject) => {
    rl.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`the package index exited (${code})`)));
  });
  return { url, stop() { proc.kill('SIGTERM'); fs.rmSync(dir, { recursive: true, force: true }); } };
}

test('install a package from the Packages page and watch its log finish', { timeout: 300000 }, async () => {
  const index = await startIndex();
  const hub = await startHub({ config: { user_environment: { index_url: index.url } } });
  const browser = await launchChromium();
  try {
    hub.cli(['env', 'init']);
    hub.cli(['user', 'add', 'root-admin', '--admin', '--password-stdin'], `${ADMIN_PW}\n`);
    const page = await (await browser.newContext()).newPage();
    await page.goto(hub.url + 'hub/admin/packages');
    await page.fill('#username', 'root-admin');
    await page.fill('#password', ADMIN_PW);
    await page.click('#login-submit');
    await page.waitForURL(/\/hub\/admin\/packages$/);
    await page.waitForSelector('#packages tbody tr[data-package="pip"]');

    await page.fill('#specs', 'chgamma');
    await page.click('#install');
    await page.waitForSelector('#job-status[data-state="done"]', { timeout: 240000 });
    const status = await page.textContent('#job-status');
    assert.match(status, /^Done: installed: chalpha 2\.0, chbeta 2\.0, chgamma 1\.0\./);
    assert.match(status, /Restart your kernel to use the new packages/);
    assert.equal(await page.getAttribute('#job-status', 'data-result'), 'succeeded');
    const log = await page.textContent('#job-log');
    assert.match(log, /coursehub: step 1\/2: pip wheel/);
    assert.match(log, /Successfully installed chalpha-2\.0 chbeta-2\.0 chgamma-1\.0/);
    assert.equal(await page.evaluate(() => document.getElementById('job-progress').value), 1);

    // The tables follow: the package is listed, the change is in the history.
    await page.waitForSelector('#packages tbody tr[data-package="chgamma"]');
    await page.fill('#pkg-search', 'chg');
    assert.equal(await page.locator('#packages tbody tr:not([hidden])').count(), 1);
    const entry = page.locator('#history > li').first();
    assert.match(await entry.textContent(), /install chgamma — succeeded, by root-admin \(web\)/);
    assert.match(await entry.textContent(), /\+ chgamma 1\.0/);
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/packages.png`, fullPage: true });
  } finally {
    await browser.close();
    await hub.stop();
    hub.cleanup();
    index.stop();
  }
});
