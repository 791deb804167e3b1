// An admin manages the token the hub uses for a private course repository on
// /hub/admin/credentials: a prefix with a password in it is refused with the
// typed fields kept (never the token); the stored credential shows only the
// token's last 4 characters; "Test" reaches the private repository; a wrong
// token after "Rotate" is reported as rejected; "Revoke" deletes it.
// Headless Chromium against the real hub and a real smart-HTTP git server on
// 127.0.0.1 whose private area wants HTTP Basic auth.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { git, launchChromium, startGitServer, startHub } from './hub.mjs';

const ADMIN_PW = 'Admin-Pass-2024';

test('an admin stores, tests, rotates and revokes the token of a private course repository',
  { timeout: 300000 }, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coursehub-credentials-browser-'));
    const work = path.join(root, 'work');
    git(root, 'init', '-q', '-b', 'main', work);
    fs.writeFileSync(path.join(work, 'README.md'), '# Private course\n');
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', 'first');
    const srv = await startGitServer(path.join(root, 'srv'), { 'private:secret-course': work });
    const repo = srv.urls['secret-course'];
    const prefix = `${srv.base_url}/private/`;
    const hub = await startHub({ config: { gitpuller: { allowed_sources: [srv.base_url + '/'] } } });
    const browser = await launchChromium();
    try {
      hub.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], `${ADMIN_PW}\n`);
      const page = await (await browser.newContext()).newPage();
      page.on('dialog', (d) => d.accept());
      await page.goto(hub.url + 'hub/admin/credentials');
      await page.fill('#username', 'admin');
      await page.fill('#password', ADMIN_PW);
      await page.click('#login-submit');
      await page.waitForURL(/\/hub\/admin\/credentials$/);
      assert.ok(await page.isVisible('#no-credentials'));

      // A password inside the prefix is refused; what was typed stays, except the token.
      const withPassword = prefix.replace('http://', `http://${srv.username}:${srv.password}@`);
      await page.fill('#cred-prefix', withPassword);
      await page.fill('#cred-username', srv.username);
      await page.fill('#cred-secret', srv.password);
      await page.click('#cred-add');
      await page.waitForSelector('#credentials-error');
      assert.match(await page.textContent('#credentials-error'), /must not contain a user name or password/);
      assert.ok(await page.isVisible('#no-credentials'));
      assert.equal(await page.inputValue('#cred-username'), srv.username);
      assert.equal(await page.inputValue('#cred-secret'), '');

      // Stored: listed by prefix, the token only as its last 4 characters.
      await page.fill('#cred-prefix', prefix);
      await page.fill('#cred-secret', srv.password);
      await page.click('#cred-add');
      await page.waitForURL(/\/hub\/admin\/credentials\?done=added/);
      assert.match(await page.textContent('#credentials-message'), /Stored the credential for/);
      const row = page.locator(`#credentials tr[data-prefix="${prefix}"]`);
      assert.equal(await row.locator('td[data-label="User"]').textContent(), srv.username);
      assert.equal(await row.locator('.last4').textContent(), '…' + srv.password.slice(-4));
      assert.match(await row.locator('.status').textContent(), /not used yet/);
      assert.ok(!(await page.content()).includes(srv.password), 'the token is on the page');

      // "Test" reaches the private repository with it.
      await row.locator('input[name="url"]').fill(repo);
      await row.locator('.test-button').click();
      await page.waitForSelector('#test-result');
      assert.match(await page.textContent('#test-result'), /OK\./);
      assert.match(await page.textContent('#test-result'), /accepted the credential: 1 branch\(es\), default main/);
      assert.match(await row.locator('.status').textContent(), /working/);

      // A wrong token after "Rotate": the test says the server refused it, and the row says rejected.
      await row.locator('summary:has-text("Rotate")').click();
      await row.locator('input[name="secret"]').fill('not-the-right-token');
      await row.locator('button:has-text("Save new token")').click();
      await page.waitForURL(/done=rotated/);
      assert.equal(await row.locator('.last4').textContent(), '…oken');
      await row.locator('input[name="url"]').fill(repo);
      await row.locator('.test-button').click();
      await page.waitForSelector('#test-result');
      assert.match(await page.textContent('#test-result'), /failed \(auth\)/);
      assert.match(await row.locator('.status').textContent(), /rejected/);
      assert.ok(!(await page.content()).includes('not-the-right-token'), 'the new token is on the page');

      // "Revoke" (after the confirmation) deletes it.
      await row.locator('button:has-text("Revoke")').click();
      await page.waitForURL(/done=revoked/);
      assert.match(await page.textContent('#credentials-message'), /Revoked the credential for/);
      assert.ok(await page.isVisible('#no-credentials'));
      const stored = fs.readFileSync(path.join(hub.prefix, 'state', 'credentials.json'), 'utf8');
      assert.ok(!stored.includes(prefix), 'the revoked credential is still stored');
    } finally {
      await browser.close();
      await hub.stop();
      await srv.stop();
      hub.cleanup();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
