// An admin makes a user an instructor; the instructor registers a course
// repository served over smart HTTP and makes a link with the link
// generator, on a phone-sized screen; a student follows the link to the
// synced notebook, finds the folder on their home page and syncs it again
// after the instructor publishes; the instructor sees who has which commit.
// Headless Chromium against the real hub, a real git server on 127.0.0.1
// and the student's real Jupyter server.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { git, launchChromium, startGitServer, startHub, stopServer } from './hub.mjs';

const ADMIN_PW = 'Admin-Pass-2024';
const TEACHER_PW = 'Teach-Pass-2024';
const STUDENT_PW = 'Study-Pass-2024';

function notebook(text) {
  return JSON.stringify({
    cells: [{ cell_type: 'markdown', source: [text], metadata: {} }],
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    nbformat: 4, nbformat_minor: 5,
  }) + '\n';
}

// A work tree with main (week1/intro.ipynb, README.md) and week2 (adds week2/lab.ipynb).
function makeRepo(root) {
  const work = path.join(root, 'work');
  fs.mkdirSync(path.join(work, 'week1'), { recursive: true });
  git(root, 'init', '-q', '-b', 'main', work);
  fs.writeFileSync(path.join(work, 'README.md'), '# Course\n');
  fs.writeFileSync(path.join(work, 'week1', 'intro.ipynb'), notebook('Week one'));
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'week 1');
  git(work, 'checkout', '-q', '-b', 'week2');
  fs.mkdirSync(path.join(work, 'week2'));
  fs.writeFileSync(path.join(work, 'week2', 'lab.ipynb'), notebook('Lab of week two'));
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'week 2');
  git(work, 'checkout', '-q', 'main');
  return work;
}

async function login(page, url, name, password) {
  await page.goto(url);
  await page.fill('#username', name);
  await page.fill('#password', password);
  await page.click('#login-submit');
}

test('an instructor registers a course and makes a link that takes a student to the notebook',
  { timeout: 400000 }, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coursehub-courses-browser-'));
    const work = makeRepo(root);
    const srv = await startGitServer(path.join(root, 'srv'), { 'data-course': work });
    const repo = srv.urls['data-course'];
    // Loopback servers are refused unless an admin allows them.
    const hub = await startHub({ config: { gitpuller: { allowed_sources: [srv.base_url + '/'] } } });
    const browser = await launchChromium();
    let studentStarted = false;
    try {
      hub.cli(['user', 'add', 'admin', '--admin', '--password-stdin'], `${ADMIN_PW}\n`);
      hub.cli(['user', 'add', 'ines', '--password-stdin'], `${TEACHER_PW}\n`);
      hub.cli(['user', 'add', 'sam', '--password-stdin'], `${STUDENT_PW}\n`);

      // The admin makes ines an instructor on the admin page.
      const admin = await (await browser.newContext()).newPage();
      await login(admin, hub.url + 'hub/admin', 'admin', ADMIN_PW);
      await admin.waitForURL(/\/hub\/admin$/);
      await admin.click('tr[data-user="ines"] button:has-text("Make instructor")');
      assert.match(await admin.textContent('#admin-message'), /ines is now an instructor/);

      // ines, on a phone, registers the course.
      const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: hub.url.replace(/\/$/, '') });
      const page = await context.newPage();
      await login(page, hub.url + 'hub/login', 'ines', TEACHER_PW);
      await page.waitForURL(/\/hub\/home$/);
      await page.click('#nav-courses');
      await page.waitForURL(/\/hub\/courses$/);
      assert.ok(await page.isVisible('#no-courses'));
      await page.fill('#course-repo', repo);
      await page.fill('#course-title', 'Data <8>');
      await page.fill('#course-file', 'week1/intro.ipynb');
      await page.click('#course-register');
      await page.waitForURL(/\/hub\/courses\/\d+\?done=created$/);
      const coursePage = page.url().replace(/\?.*$/, '');
      assert.equal(await page.textContent('#course-title'), 'Data <8>');
      assert.ok(await page.isVisible('#no-students'));

      // The generator offers upstream's branches and the default file.
      assert.deepEqual(await page.$$eval('#gen-branch option', (os) => os.map((o) => o.value)), ['main', 'week2']);
      assert.equal(await page.inputValue('#gen-file'), 'week1/intro.ipynb');
      let link = new URL(await page.inputValue('#gen-link'));
      assert.equal(link.pathname, '/hub/user-redirect/git-pull');
      assert.equal(link.searchParams.get('repo'), repo);
      assert.equal(link.searchParams.get('urlpath'), 'lab/tree/data-course/week1/intro.ipynb');

      // Switching the branch brings that branch's files from the mirror;
      // picking one updates the link and its QR code.
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
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.equal(copied, await page.inputValue('#gen-link'));
      assert.equal(new URL(copied).searchParams.get('urlpath'), 'notebooks/fall/data8/week2/lab.ipynb');

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

      // sam follows the copied link: sign-in, the sync, and the notebook in the classic interface.
      const studentContext = await browser.newContext();
      const student = await studentContext.newPage();
      await student.goto(copied);
      await student.waitForURL(/\/hub\/login\?next=/);
      await student.fill('#username', 'sam');
      await student.fill('#password', STUDENT_PW);
      await student.click('#login-submit');
      studentStarted = true;
      await student.waitForURL(`${hub.url}user/sam/notebooks/fall/data8/week2/lab.ipynb`, { timeout: 180000 });
      await student.waitForFunction(() => document.querySelector('#notebook-container .cell')
        ?.textContent.includes('Lab of week two'), null, { timeout: 120000 });
      const week2 = git(work, 'rev-parse', 'week2');

      // sam's home page lists the folder with its commit and a "Sync now" button.
      await student.close({ runBeforeUnload: false });
      const home = await studentContext.newPage();
      await home.goto(hub.url + 'hub/home');
      const row = home.locator('#synced tr[data-folder="fall/data8"]');
      assert.match(await row.textContent(), /Data <8>/);
      assert.equal(await row.locator('.commit').textContent(), week2.slice(0, 10));
      assert.equal(await row.locator('.last-failed').count(), 0);

      // The instructor's course page: sam is on the latest commit of week2.
      await page.goto(coursePage);
      assert.equal(await page.getAttribute('#students tr[data-user="sam"]', 'data-state'), 'latest');
      assert.match(await page.textContent('#n-latest'), /^1 on the latest/);

      // ines publishes an update: sam is now behind, until "Sync now" brings it.
      git(work, 'checkout', '-q', 'week2');
      fs.writeFileSync(path.join(work, 'week2', 'solutions.md'), '# Solutions\n');
      git(work, 'add', '-A');
      git(work, 'commit', '-q', '-m', 'solutions');
      git(work, 'push', '-q', repo, 'week2');
      const update = git(work, 'rev-parse', 'week2');
      await page.goto(coursePage);
      assert.equal(await page.getAttribute('#students tr[data-user="sam"]', 'data-state'), 'behind');
      assert.match(await page.textContent('#n-behind'), /^1 on an older commit/);

      await home.click('#synced tr[data-folder="fall/data8"] .sync-now');
      await home.waitForURL(/\/user\/sam\/(lab\/tree|tree)\/fall\/data8/, { timeout: 180000 });
      assert.ok(fs.existsSync(path.join(hub.prefix, 'home', 'sam', 'fall', 'data8', 'week2', 'solutions.md')));
      await home.goto(hub.url + 'hub/home');
      assert.equal(await home.locator('#synced tr[data-folder="fall/data8"] .commit').textContent(),
        update.slice(0, 10));
      await page.goto(coursePage);
      assert.equal(await page.getAttribute('#students tr[data-user="sam"]', 'data-state'), 'latest');
    } finally {
      await browser.close();
      if (studentStarted) await stopServer(hub, 'sam');
      await hub.stop();
      await srv.stop();
      hub.cleanup();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
