// The student's click in headless Chromium against the real hub and a real
// smart-HTTP git server: an anonymous click on a git-pull link, sign-in,
// the progress page, and the notebook; XSS through repo and branch names is
// inert; a failed sync offers retry and "continue without syncing".
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { git, launchChromium, startGitServer, startHub, stopServer } from './hub.mjs';

const PASSWORD = 'Student-Pass-1';
const NOTEBOOK = JSON.stringify({
  cells: [{ cell_type: 'code', source: ['print(6 * 7)\n'], metadata: {}, outputs: [], execution_count: null }],
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  nbformat: 4, nbformat_minor: 5,
}) + '\n';

test('an anonymous click signs in, shows progress and opens the notebook', { timeout: 300000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coursehub-gitpull-browser-'));
  const work = path.join(root, 'teacher');
  fs.mkdirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(work, 'intro.ipynb'), NOTEBOOK);
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'first');
  const srv = await startGitServer(path.join(root, 'srv'), { course: work });
  const hub = await startHub({
    config: {
      auth: { type: 'firstuse', firstuse: { create_users: true } },
      user_environment: { default_app: 'classic' },
      gitpuller: { allowed_sources: [srv.base_url + '/'] },
    },
  });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    let page = await context.newPage();
    const query = new URLSearchParams({ repo: srv.urls.course, branch: 'main', subPath: 'intro.ipynb' });
    await page.goto(`${hub.url}hub/user-redirect/git-pull?${query}`);
    assert.match(page.url(), /\/hub\/login\?next=/);
    await page.fill('#username', 'ana');
    await page.fill('#password', PASSWORD);
    const landing = `${hub.url}user/ana/notebooks/course/intro.ipynb`;
    await page.click('#login-submit');
    await page.waitForURL(/\/user\/ana\/git-pull\?/);
    assert.equal(new URL(page.url()).searchParams.get('repo'), srv.urls.course);
    await page.waitForURL(landing, { timeout: 120000 });
    assert.ok(fs.existsSync(path.join(hub.prefix, 'home', 'ana', 'course', 'intro.ipynb')));

    // Through the hub's proxy, the student's own server opens the notebook and runs a cell.
    await page.waitForSelector('#notebook-container .cell', { timeout: 120000 });
    await page.click('#notebook-container .cell .input_area');
    await page.keyboard.press('Shift+Enter');
    await page.waitForFunction(() => document.querySelector('.output_area pre')?.textContent.includes('42'),
      null, { timeout: 120000 });

    // XSS through repo and branch names is inert, and the error offers a way on.
    // (A fresh tab: the notebook's tab would ask before being left.)
    await page.close({ runBeforeUnload: false });
    page = await context.newPage();
    let alerted = false;
    page.on('dialog', async (d) => { alerted = true; await d.dismiss(); });
    const evil = new URLSearchParams({
      repo: 'https://example.invalid/"><img src=x onerror=alert(1)>.git',
      branch: '<script>alert(2)</script>', targetpath: 'evil',
    });
    await page.goto(`${hub.url}user/ana/git-pull?${evil}`);
    await page.waitForSelector('#gitpull-error:not([hidden])', { timeout: 60000 });
    assert.equal(await page.textContent('#gitpull-branch'), '<script>alert(2)</script>');
    assert.equal(await page.locator('#gitpull-repo').textContent(), 'https://example.invalid/"><img src=x onerror=alert(1)>.git');
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.ok(await page.isVisible('#gitpull-retry'));
    assert.equal(await page.getAttribute('#gitpull-continue', 'href'), '/user/ana/');
    assert.equal(alerted, false);
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/gitpull-error.png`, fullPage: true });
  } finally {
    await browser.close();
    await stopServer(hub, 'ana');
    await hub.stop();
    await srv.stop();
    hub.cleanup();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
