// A student signs up, an admin approves them in another browser, the student
// signs in — in headless Chromium against the real hub.
import assert from 'node:assert/strict';
import test from 'node:test';
import { launchChromium, startHub } from './hub.mjs';

const ADMIN_PW = 'Admin-Pass-2024';
const STUDENT_PW = 'Student-Pass-77';

test('sign up, get approved by an admin in another browser, sign in', { timeout: 180000 }, async () => {
  const hub = await startHub();
  const browser = await launchChromium();
  try {
    hub.cli(['user', 'add', 'teacher', '--admin', '--password-stdin'], `${ADMIN_PW}\n`);

    // The student is on a phone-sized screen.
    const student = await (await browser.newContext({ viewport: { width: 375, height: 740 } })).newPage();
    await student.goto(hub.url + 'hub/home');
    assert.match(student.url(), /\/hub\/login\?next=%2Fhub%2Fhome$/);
    await student.click('#signup-link');
    await student.fill('#username', 'Student');
    await student.fill('#password', STUDENT_PW);
    await student.fill('#password_confirm', STUDENT_PW);
    await student.click('#signup-submit');
    assert.match(await student.textContent('#signup-done'), /admin must approve/);
    const overflow = await student.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the sign-up page scrolls sideways on a phone by ${overflow}px`);

    // Not approved yet.
    await student.goto(hub.url + 'hub/login');
    await student.fill('#username', 'student');
    await student.fill('#password', STUDENT_PW);
    await student.click('#login-submit');
    assert.match(await student.textContent('#login-error'), /approval/);

    // The admin, in a separate browser context, approves the sign-up.
    const admin = await (await browser.newContext()).newPage();
    await admin.goto(hub.url + 'hub/authorize');
    await admin.fill('#username', 'teacher');
    await admin.fill('#password', ADMIN_PW);
    await admin.click('#login-submit');
    await admin.waitForURL(/\/hub\/authorize$/);
    await admin.click('#approve-student');
    assert.match(await admin.textContent('#authorize-message'), /Approved student/);
    assert.ok(await admin.isVisible('#no-pending'));
    await admin.goto(hub.url + 'hub/admin?q=stud');
    assert.equal(await admin.locator('tr[data-user="student"] .badge').first().textContent(), 'approved');

    // Now the student gets in, and lands where they wanted to go.
    await student.goto(hub.url + 'hub/login?next=%2Fhub%2Fhome');
    await student.fill('#username', 'student');
    await student.fill('#password', STUDENT_PW);
    await student.click('#login-submit');
    await student.waitForURL(/\/hub\/home$/);
    assert.match(await student.textContent('h1'), /Welcome, student/);
    const overflowHome = await student.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflowHome <= 0, `the home page scrolls sideways on a phone by ${overflowHome}px`);
    if (process.env.SCREENSHOT_DIR) {
      await student.screenshot({ path: `${process.env.SCREENSHOT_DIR}/home-phone.png`, fullPage: true });
      await admin.screenshot({ path: `${process.env.SCREENSHOT_DIR}/admin.png`, fullPage: true });
    }

    // Logging out ends the session.
    await student.click('#logout');
    await student.goto(hub.url + 'hub/home');
    assert.match(student.url(), /\/hub\/login/);
  } finally {
    await browser.close();
    await hub.stop();
    hub.cleanup();
  }
});
