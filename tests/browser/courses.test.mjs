// An admin makes a user an instructor; the instructor registers a course
// repository and makes a link with the link generator — in headless
// Chromium against the real hub, on a phone-sized screen for the instructor.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { launchChromium, startHub } from './hub.mjs';

const ADMIN_PW = 'Admin-Pass-2024';
const TEACHER_PW = 'Teach-Pass-2024';

function git(cwd, ...args) {
  const r = spawnSync('git', args, {
    cwd, encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.edu', GIT_COMMITTER_NAME: 'T',
      GIT_COMMITTER_EMAIL: 't@example.edu', GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

// A bare repository with main (week1/intro.ipynb, README.md) and week2 (adds week2/lab.ipynb).
function makeRepo(root) {
  const work = path.join(root, 'work');
  fs.mkdirSync(path.join(work, 'week1'), { recursive: true });
  git(root, 'init', '-q', '-b', 'main', work);
  fs.writeFileSync(path.join(work, 'README.md'), '# Course\n');
  fs.writeFileSync(path.join(work, 'week1', 'intro.ipynb'), '{}\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'week 1');
  git(work, 'checkout', '-q', '-b', 'week2');
  fs.mkdirSync(path.join(work, 'week2'));
  fs.writeFileSync(path.join(work, 'week2', 'lab.ipynb'), '{}\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'week 2');
  git(work, 'checkout', '-q', 'main');
  const bare = path.join(root, 'data-course.git');
  git(root, 'clone', '-q', '--bare', work, bare);
  return 'file://' + bare;
}

test('an instructor registers a course and makes a link', { timeout: 180000 }, async () => {
  const repoRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'coursehub-repo-'));
  const repo = makeRepo(repoRoot);
  // Local repositories are refused unless an admin allows them.
  const hub = await startHub({ config: { gitpuller: { allowed_sources: [`file://${repoRoot}/`] } } });
  const browser = await launchChromium();
  try {
    hub.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], `${ADMIN_PW}\n`);
    hub.cli(['user', 'add', 'ines', '--password-stdin'], `${TEACHER_PW}\n`);

    // The admin makes ines an instructor on the admin page.
    const admin = await (await browser.newContext()).newPage();
    await admin.goto(hub.url + 'hub/admin');
    await admin.fill('#username', 'admin');
    await admin.fill('#password', ADMIN_PW);
    await admin.click('#login-submit');
    await admin.waitForURL(/\/hub\/admin$/);
    await admin.click('tr[data-user="ines"] button:has-text("Make instructor")');
    assert.match(await admin.textContent('#admin-message'), /ines is now an instructor/);

    // ines, on a phone, registers the course.
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: hub.url.replace(/\/$/, '') });
    const page = await context.newPage();
    await page.goto(hub.url + 'hub/login');
    await page.fill('#username', 'ines');
    await page.fill('#password', TEACHER_PW);
    await page.click('#login-submit');
    await page.waitForURL(/\/hub\/home$/);
    await page.click('#nav-courses');
    await page.waitForURL(/\/hub\/courses$/);
    assert.ok(await page.isVisible('#no-courses'));
    await page.fill('#course-repo', repo);
    await page.fill('#course-title', 'Data <8>');
    await page.fill('#course-file', 'week1/intro.ipynb');
    await page.click('#course-register');
    await page.waitForURL(/\/hub\/courses\/\d+\?done=created$/);
    assert.equal(await page.textContent('#course-title'), 'Data <8>');

    // The generator offers the repository's branches and the default file.
    assert.deepEqual(await page.$$eval('#gen-branch option', (os) => os.map((o) => o.value)), ['main', 'week2']);
    assert.equal(await page.inputValue('#gen-file'), 'week1/intro.ipynb');
    let link = new URL(await page.inputValue('#gen-link'));
    assert.equal(link.pathname, '/hub/user-redirect/git-pull');
    assert.equal(link.searchParams.get('repo'), repo);
    assert.equal(link.searchParams.get('urlpath'), 'lab/tree/data-course/week1/intro.ipynb');

    // Switching the branch brings that branch's files; picking one updates the link and its QR code.
    await page.selectOption('#gen-branch', 'week2');
    await page.waitForFunction(() => [...document.querySelectorAll('#gen-file option')]
      .some((o) => o.value === 'week2/lab.ipynb'));
    await page.selectOption('#gen-file', 'week2/lab.ipynb');
    await page.check('#gen-app-classic');
    await page.waitForFunction(() => document.querySelector('#gen-link').value.includes('week2%2Flab.ipynb')
      && document.querySelector('#gen-link').value.includes('notebooks'));
    link = new URL(await page.inputValue('#gen-link'));
    assert.equal(link.searchParams.get('branch'), 'week2');
    assert.equal(link.searchParams.get('urlpath'), 'notebooks/data-course/week2/lab.ipynb');
    await page.waitForFunction(() => {
      const img = document.querySelector('#gen-qr');
      return img.complete && img.naturalWidth > 0 && img.src.includes('week2');
    });

    // A target folder and another hub's nbgitpuller link.
    await page.fill('#gen-target', 'fall/data8');
    await page.fill('#gen-hub', 'https://other.example.edu/');
    await page.waitForFunction(() => !document.querySelector('#nbgitpuller-row').hidden
      && document.querySelector('#gen-link').value.includes('fall%2Fdata8'));
    const other = new URL(await page.inputValue('#gen-nbgitpuller'));
    assert.equal(other.origin, 'https://other.example.edu');
    assert.equal(other.searchParams.get('targetpath'), 'fall/data8');

    // A bad target is refused with a message, and the link is left as it was.
    await page.fill('#gen-target', '../escape');
    await page.waitForFunction(() => !document.querySelector('#link-error').hidden);
    assert.match(await page.textContent('#link-error'), /target/);
    await page.fill('#gen-target', 'fall/data8');
    await page.waitForFunction(() => document.querySelector('#link-error').hidden);

    // Copy puts the link on the clipboard.
    await page.click('#copy-link');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await page.inputValue('#gen-link'));

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the course page scrolls sideways on a phone by ${overflow}px`);
    if (process.env.SCREENSHOT_DIR) {
      await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/course-phone.png`, fullPage: true });
    }

    // The projector view shows the QR code of the current link.
    await page.click('#gen-projector');
    await page.waitForURL(/\/qr\?/);
    assert.match(await page.textContent('#projector-link'), /week2%2Flab\.ipynb/);
    assert.ok(await page.isVisible('#projector-qr svg'));
  } finally {
    await browser.close();
    await hub.stop();
    hub.cleanup();
    fs.rmSync(repoRoot, { recursive: true, force: true });
  }
});
