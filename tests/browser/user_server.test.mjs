// A student signs in, starts their server from the home page, follows the
// pending page into Jupyter, opens a notebook and runs a cell — headless
// Chromium against the real hub and a real Jupyter server behind its proxy.
import assert from 'node:assert/strict';
import test from 'node:test';
import { launchChromium, startHub } from './hub.mjs';

const PW = 'Student-Pass-77';

test('sign in, start the server, open a notebook and run a cell', { timeout: 300000 }, async () => {
  const hub = await startHub({ config: { services: { cull: { enabled: false } } } });
  const browser = await launchChromium();
  try {
    hub.cli(['user', 'add', 'student', '--password-stdin'], `${PW}\n`);
    const page = await (await browser.newContext()).newPage();
    await page.goto(hub.url + 'hub/login?next=%2Fhub%2Fhome');
    await page.fill('#username', 'student');
    await page.fill('#password', PW);
    await page.click('#login-submit');
    await page.waitForURL(/\/hub\/home$/);
    assert.equal(await page.getAttribute('#server-state', 'data-state'), 'stopped');

    // Start: the pending page follows the progress and moves on by itself.
    await page.click('#start-server');
    await page.waitForURL(/\/user\/student\/(tree|lab)/, { timeout: 180000 });

    // A notebook with one cell, created through the proxied contents API as
    // JupyterLab would, then opened in the classic notebook UI.
    const created = await page.evaluate(async (base) => {
      const xsrf = (document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/) || [])[1] || '';
      const r = await fetch(base + 'user/student/api/contents/answer.ipynb', {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', 'X-XSRFToken': decodeURIComponent(xsrf) },
        body: JSON.stringify({
          type: 'notebook',
          content: {
            cells: [{ cell_type: 'code', source: '6*7', metadata: {}, outputs: [], execution_count: null }],
            metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
            nbformat: 4, nbformat_minor: 5,
          },
        }),
      });
      return r.status;
    }, hub.url);
    assert.ok(created === 201 || created === 200, `creating the notebook answered ${created}`);

    await page.goto(hub.url + 'user/student/notebooks/answer.ipynb');
    // The kernel connects over the proxied WebSocket and goes idle.
    await page.waitForFunction(
      () => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected(),
      null, { timeout: 120000 });
    await page.click('.cell .input_area');
    await page.keyboard.press('Shift+Enter');
    const output = page.locator('.cell .output_subarea').first();
    await output.waitFor({ timeout: 120000 });
    assert.equal((await output.textContent()).trim(), '42');

    // Back home, the server shows as running, with a way to stop it.
    await page.goto(hub.url + 'hub/home');
    assert.equal(await page.getAttribute('#server-state', 'data-state'), 'running');
    await page.click('#stop-server');
    await page.waitForURL(/\/hub\/home$/);
    for (let i = 0; i < 600; i++) {
      await page.goto(hub.url + 'hub/home');
      if (await page.getAttribute('#server-state', 'data-state') === 'stopped') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await page.getAttribute('#server-state', 'data-state'), 'stopped');
  } finally {
    // Servers outlive the hub by design: stop this one before cleaning up.
    try {
      const token = hub.cli(['token', 'create', 'student']).trim();
      const headers = { Authorization: `token ${token}` };
      await fetch(hub.url + 'hub/api/users/student/server', { method: 'DELETE', headers });
      for (let i = 0; i < 600; i++) {
        const user = await (await fetch(hub.url + 'hub/api/users/student', { headers })).json();
        if (!user.servers || !user.servers['']) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } catch (e) {
      console.error(`cleanup: ${e}`);
    }
    await browser.close();
    await hub.stop();
    hub.cleanup();
  }
});
