// The seed story through Roomkeeper's pages, in Debian's Chromium driven by Playwright.
// Run by crates/roomkeeper/tests/e2e.rs, which started the service, a real Prosody and
// the simulated Jicofo, and plays the world around the people: when this script needs
// something to happen outside the browser it prints `need <event>` and waits for `ok`.
//
// Along the way: a screenshot of each step, an accessibility scan (axe-core) of every
// page at 375 px and 1440 px wide (no serious or critical violation; nothing wider than
// a phone's screen), keyboard-only login, and the same pages in German.
//
// Environment: E2E_BASE_URL, E2E_PASSWORD (every local account's), E2E_SSO_PASSWORD (carol's
// at the OpenID provider), E2E_SCREENSHOTS (a folder).

import { mkdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import readline from 'node:readline';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const base = process.env.E2E_BASE_URL;
const password = process.env.E2E_PASSWORD;
const shots = process.env.E2E_SCREENSHOTS;
mkdirSync(`${shots}/readme`, { recursive: true });

const answers = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function need(event) {
  console.log(`need ${event}`);
  const { value, done } = await answers.next();
  if (done || value.trim() !== 'ok') throw new Error(`the test did not make ${event} happen`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// When scripts/test moves the wall clock (TEST_CLOCK_AHEAD, libfaketime in LD_PRELOAD),
// the browser alone keeps the real one: Chromium hangs at start under libfaketime, and
// nothing the server decides depends on the browser's clock (cookies carry Max-Age).
const { LD_PRELOAD: _fakeClock, ...browserEnv } = process.env;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  env: browserEnv,
});

const problems = [];
const scanned = new Set();
const lesser = []; // moderate and minor findings: reported, not failing

// Every page a person meets: no serious or critical accessibility violation, and at
// 375 px nothing sticks out sideways. A screenshot at both widths.
async function scan(page, name) {
  if (scanned.has(name)) return;
  scanned.add(name);
  const result = await new AxeBuilder({ page }).analyze();
  for (const v of result.violations.filter((v) => ['serious', 'critical'].includes(v.impact))) {
    const where = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ');
    problems.push(`${name}: ${v.id} (${v.impact}) ${v.help}: ${where}`);
  }
  for (const v of result.violations.filter((v) => !['serious', 'critical'].includes(v.impact))) {
    lesser.push(`${name}: ${v.id} (${v.impact})`);
  }
  check(result.passes.length > 10, `${name}: axe checked almost nothing (${result.passes.length} rules passed)`);
  const wide = page.viewportSize();
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  if (overflow > 375) problems.push(`${name}: ${overflow} px wide at a 375 px screen`);
  await page.screenshot({ path: `${shots}/${name}-375.png`, fullPage: true });
  await page.setViewportSize(wide);
  await page.screenshot({ path: `${shots}/${name}-1440.png`, fullPage: true });
}

async function shot(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

// The pictures in the README (copied to docs/screenshots/, see docs/TESTING.md): one part
// of a page each, small enough to read at a glance.
async function readmeShot(locator, name) {
  await locator.screenshot({ path: `${shots}/readme/${name}.png` });
}

const pages = [];
async function person(locale = 'en-GB') {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale });
  const page = await context.newPage();
  pages.push(page);
  return page;
}

// When a step fails: where each person was, and what they saw.
process.on('uncaughtException', async (error) => {
  console.error(error);
  for (const [i, page] of pages.entries()) {
    try {
      console.error(`person ${i} was at ${page.url()}`);
      await page.screenshot({ path: `${shots}/failure-${i}.png`, fullPage: true });
    } catch { /* the page is gone */ }
  }
  process.exit(1);
});

// With the keyboard alone: the username field has the focus, Tab, Enter.
async function logIn(page, username) {
  await page.goto(`${base}/login`);
  await scan(page, 'login');
  // Chromium applies `autofocus` at the page's next rendering, which on a busy machine
  // can come after the load event: wait for it (failing if it never comes).
  const focused = await page
    .waitForFunction(() => document.activeElement?.id === 'username', null, { timeout: 10000 })
    .then(() => 'username', () => page.evaluate(() => document.activeElement?.id));
  check(focused === 'username', `the login page starts with the focus on ${focused}, not the username`);
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
}

async function requestRoom(page, room, reason, coOwners = '') {
  await page.goto(`${base}/rooms/request`);
  await scan(page, 'request-room');
  await page.fill('#room', room);
  await page.fill('#reason', reason);
  await page.fill('#co_owners', coOwners);
  await submit(page, page.locator('form[action="/rooms/request"] button[type=submit]'));
}

// Set before waiting for a live change; still there afterwards means the page was not
// reloaded.
const markPage = (page) => page.evaluate(() => { window.notReloaded = true; });
const stillSamePage = async (page, what) =>
  check(await page.evaluate(() => window.notReloaded === true), `the page was reloaded for ${what}`);

// Clicks a form's button and waits for the page the form leads to.
async function submit(page, button) {
  const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame() });
  await button.click();
  await navigated;
  await page.waitForLoadState();
}

// With the keyboard alone: Tab until `target` has the focus (it must be in the tab
// order, within 80 stops), then Enter.
async function pressWithKeyboard(page, target) {
  for (let stops = 0; stops < 80; stops++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((element) => element === document.activeElement)) {
      const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame() });
      await page.keyboard.press('Enter');
      await navigated;
      await page.waitForLoadState();
      return;
    }
  }
  throw new Error('a button cannot be reached with the Tab key');
}

const row = (page, who) => page.locator('#meeting li', { hasText: who });

// --- The lecturer asks for `logic`; the admin approves and whitelists lecturer-* ---
const lecturer = await person();
await logIn(lecturer, 'lecturer');
await scan(lecturer, 'home-empty');
await shot(lecturer, '01-lecturer-home');
await requestRoom(lecturer, 'logic', 'My lecture "Logic I", Mondays 10:15.', 'assistant');
await shot(lecturer, '02-request-sent');
await lecturer.goto(`${base}/requests`);
await scan(lecturer, 'my-requests');

const admin = await person();
await logIn(admin, 'root');
await admin.goto(`${base}/admin/requests`);
await scan(admin, 'admin-requests');
const request = admin.locator('article.request', { hasText: 'logic' });
await request.locator('input[name=pattern]').fill('lecturer-*');
await shot(admin, '03-admin-approves');
await readmeShot(request, '1-admin-approves');
await submit(admin, request.locator('form[action$="/approve"] button[type=submit]'));
for (const path of ['/', '/admin/rooms', '/admin/users', '/admin/patterns', '/admin/audit',
  '/admin/recordings', '/admin/jitsi', '/profile']) {
  await admin.goto(`${base}${path}`);
  await scan(admin, `admin${path.replaceAll('/', '-')}`);
}
await admin.goto(`${base}/admin/patterns`);
await admin.getByText('lecturer-*').first().waitFor();

// --- The second request matches the pattern: approved at once ---
await requestRoom(lecturer, 'lecturer-seminar', 'Seminar for my students.');
await lecturer.goto(`${base}/`);
await lecturer.locator('a', { hasText: 'lecturer-seminar' }).first().waitFor();
await lecturer.locator('a', { hasText: 'logic' }).first().waitFor();
await scan(lecturer, 'home');
await shot(lecturer, '04-lecturer-rooms');

// --- evilstudent was first in the meeting, became moderator and locked it ---
await need('evilstudent-locks');
await submit(lecturer, lecturer.locator('a', { hasText: /^logic$/ }).first());
const roomUrl = lecturer.url();
await row(lecturer, 'evilstudent').locator('.badge.on').waitFor();
await lecturer.locator('#meeting form:has(input[value=remove_password]) button').waitFor();
await scan(lecturer, 'room-locked');
await shot(lecturer, '05-evilstudent-is-moderator-and-locked');
await readmeShot(lecturer.locator('#meeting'), '2-evilstudent-locked-the-room');

// Revoke him, then remove his password, with the keyboard alone.
await pressWithKeyboard(lecturer, row(lecturer, 'evilstudent').locator('button[value=revoke]'));
await row(lecturer, 'evilstudent').waitFor();
check(await row(lecturer, 'evilstudent').locator('.badge.on').count() === 0, 'evilstudent is still moderator');
await pressWithKeyboard(lecturer, lecturer.locator('#meeting form:has(input[value=remove_password]) button'));
await lecturer.locator('#meeting form:has(input[value=remove_password])').waitFor({ state: 'detached' });
await shot(lecturer, '06-revoked-and-unlocked');
await need('evilstudent-tries-again');

// The lecturer joins the meeting: he appears without a reload; he makes himself moderator.
await markPage(lecturer);
await need('lecturer-joins');
await row(lecturer, 'Prof. Lecturer').waitFor();
await stillSamePage(lecturer, 'the lecturer joining');
await shot(lecturer, '07-lecturer-joined');
await submit(lecturer, row(lecturer, 'Prof. Lecturer').locator('button[value=grant]'));
await row(lecturer, 'Prof. Lecturer').locator('.badge.on').waitFor();
await scan(lecturer, 'room-running');
await shot(lecturer, '08-lecturer-is-moderator');
await readmeShot(lecturer.locator('#meeting'), '3-lecturer-is-moderator');

// --- A recording arrives and appears by itself ---
await markPage(lecturer);
await need('recording');
await lecturer.locator('#recordings a[href^="/recordings/"]').first().waitFor({ timeout: 15000 });
await stillSamePage(lecturer, 'the recording');
await scan(lecturer, 'room-with-recording');
await shot(lecturer, '09-recording-listed');
const recordingPath = await lecturer.locator('#recordings a[href^="/recordings/"]').first().getAttribute('href');

// Play it (the video element says it plays), seek, download.
async function playAndDownload(page, who) {
  await page.goto(`${base}${recordingPath}`);
  await page.evaluate(() => { const v = document.querySelector('video'); v.muted = true; return v.play(); });
  await page.waitForFunction(() => {
    const v = document.querySelector('video');
    return v && !v.paused && v.currentTime > 0.3;
  }, null, { timeout: 15000 });
  const landed = await page.evaluate(() => new Promise((resolve) => {
    const v = document.querySelector('video');
    v.addEventListener('seeked', () => resolve(v.currentTime), { once: true });
    v.currentTime = 3;
  }));
  check(Math.abs(landed - 3) < 0.5, `${who}: seeking to 3 s landed at ${landed}`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('a[download]').first().click(),
  ]);
  const name = download.suggestedFilename();
  check(name === process.env.E2E_RECORDING_NAME, `${who}: the download is called ${name}, not ${process.env.E2E_RECORDING_NAME}`);
  const size = (await stat(await download.path())).size;
  check(size > 10000, `${who}: the download has ${size} bytes`);
  console.log(`step ${who} played, seeked to ${landed.toFixed(1)} s and downloaded ${name} (${size} bytes)`);
}
await playAndDownload(lecturer, 'lecturer');
await scan(lecturer, 'recording');
await shot(lecturer, '10-recording-playing');
await readmeShot(lecturer.locator('main'), '4-recording');
await lecturer.setViewportSize({ width: 375, height: 740 });
await lecturer.goto(roomUrl);
await lecturer.locator('#meeting').scrollIntoViewIfNeeded();
await lecturer.screenshot({ path: `${shots}/readme/5-room-on-a-phone.png` });
await lecturer.setViewportSize({ width: 1440, height: 900 });

// A share link for someone without an account: it plays without logging in.
await lecturer.goto(`${base}${recordingPath}`);
await submit(lecturer, lecturer.locator('form[action$="/links"] button[type=submit]'));
const shareUrl = await lecturer.locator('#new-link').inputValue();
const outsider = await person();
await outsider.goto(shareUrl);
await outsider.evaluate(() => { const v = document.querySelector('video'); v.muted = true; return v.play(); });
await outsider.waitForFunction(() => !document.querySelector('video').paused);
// The link is the video itself (Chromium's own player), not a page of ours to scan.
console.log('step the share link plays without an account');

// --- The co-owner can do the same; anyone else gets "not found" ---
const assistant = await person();
await logIn(assistant, 'assistant');
await assistant.locator('a', { hasText: /^logic$/ }).first().waitFor();
await playAndDownload(assistant, 'assistant');

// A student, carol, logs in with her university account, on the provider's own page.
const student = await person();
await student.goto(`${base}/login`);
await scan(student, 'login-with-sso');
await submit(student, student.getByRole('link', { name: 'Log in with University account' }));
await student.fill('input[name=login]', 'carol');
await student.fill('input[name=password]', process.env.E2E_SSO_PASSWORD);
await submit(student, student.locator('button[type=submit]'));
await student.waitForURL(`${base}/`);
await student.getByText('Request a room').first().waitFor();
for (const path of [recordingPath, new URL(roomUrl).pathname]) {
  const answer = await student.goto(`${base}${path}`);
  check(answer.status() === 404, `a stranger got ${answer.status()} for ${path}`);
  await student.getByText('not yours to see').first().waitFor();
}
await scan(student, 'not-found');
await shot(student, '11-stranger-not-found');

// --- The same pages in German ---
const german = await person('de-DE');
await logIn(german, 'lecturer');
await german.getByText('Ihre Räume').first().waitFor();
await scan(german, 'de-home');
await german.goto(roomUrl);
await scan(german, 'de-room');
await german.goto(`${base}${recordingPath}`);
await scan(german, 'de-recording');
await german.goto(`${base}/rooms/request`);
await scan(german, 'de-request-room');
await shot(german, '12-german');

// --- The room guard protects the seminar room; the lecturer joins as moderator ---
await lecturer.goto(`${base}/`);
await submit(lecturer, lecturer.locator('a', { hasText: 'lecturer-seminar' }).first());
const seminarUrl = lecturer.url();
await lecturer.locator('#guard').waitFor();
await lecturer.locator('#guard input[name=password_guard]').check();
await lecturer.locator('#guard input[name=moderator_guard][value=until_owner]').check();
await submit(lecturer, lecturer.locator('#guard form[action$="/guard"] button[type=submit]'));
await lecturer.locator('.notice.ok').waitFor();
check((await lecturer.locator('#guard input[name=moderator_guard][value=until_owner]').isChecked()), 'the guard setting was not kept');
await scan(lecturer, 'room-guard');
await shot(lecturer, '13-room-guard-on');
// evilstudent comes first and locks: the guard undoes it before the lecturer looks.
await need('seminar-evilstudent-locks');
await lecturer.goto(seminarUrl);
await row(lecturer, 'evilstudent').waitFor();
check(await row(lecturer, 'evilstudent').locator('.badge.on').count() === 0, 'evilstudent is still moderator under the guard');
check(await lecturer.locator('#meeting form:has(input[value=remove_password])').count() === 0, 'the guard left the password');
await lecturer.getByText('The guard removed a password').first().waitFor();
await shot(lecturer, '14-guard-removed-the-lock');
// One click: the meeting opens in a new tab with his code; he is moderator once in. (The
// meeting server is not reachable from here: the link is read from the redirect.)
await markPage(lecturer);
const [meetingTab, joinAnswer] = await Promise.all([
  lecturer.waitForEvent('popup'),
  lecturer.context().waitForEvent('response', (r) => new URL(r.url()).pathname.endsWith('/join')),
  lecturer.locator('#guard form[action$="/join"] button').click(),
]);
check(joinAnswer.status() === 303, `the button answered ${joinAnswer.status()}`);
const joinUrl = new URL(joinAnswer.headers()['location']);
check(joinUrl.href.startsWith('https://meet.example.org/lecturer-seminar#userInfo.displayName='), `the button leads to ${joinUrl.href}`);
const displayName = JSON.parse(decodeURIComponent(joinUrl.hash.slice('#userInfo.displayName='.length)));
check(/\(RK-[A-Z0-9]{10}\)$/.test(displayName), `the name carries no code: ${displayName}`);
await meetingTab.close();
await need(`join-with ${displayName}`);
await row(lecturer, '1ec7aaaa').locator('.badge.on').waitFor();
// The history says so as it happens (it was written before he was made moderator).
await lecturer.locator('#history').getByText('Joined as moderator').first().waitFor();
await stillSamePage(lecturer, 'the lecturer joining as moderator');
check(!(await lecturer.locator('#meeting').innerText()).includes('RK-'), 'the page shows the code');
await scan(lecturer, 'room-guard-moderator');
await shot(lecturer, '15-joined-as-moderator');

// --- The owner's lobby: nobody gets in before the lecturer lets them in, from his phone ---
await lecturer.goto(seminarUrl);
await lecturer.locator('#guard input[name=lobby][value=always]').check();
await submit(lecturer, lecturer.locator('#guard form[action$="/guard"] button[type=submit]'));
await lecturer.locator('.notice.ok').waitFor();
check(await lecturer.locator('#guard input[name=lobby][value=always]').isChecked(), 'the lobby setting was not kept');
// The guard turns jitsi-meet's lobby on in the running meeting; the page shows it live.
await lecturer.locator('#lobby').waitFor();
await need('latecomer-knocks');
await lecturer.locator('#lobby').getByText('latecomer').waitFor();
await scan(lecturer, 'room-lobby');
await lecturer.setViewportSize({ width: 375, height: 740 });
await lecturer.locator('#lobby').scrollIntoViewIfNeeded();
await lecturer.screenshot({ path: `${shots}/readme/6-lobby-on-a-phone.png` });
await shot(lecturer, '16-someone-waits-in-the-lobby');
await submit(lecturer, lecturer.getByRole('button', { name: 'Let in: 1a7e1a7e' }));
await need('latecomer-is-in');
await lecturer.setViewportSize({ width: 1440, height: 900 });
await row(lecturer, '1a7e1a7e').waitFor();
await lecturer.locator('#history').getByText('Let in from the lobby').first().waitFor();
check(await lecturer.locator('#lobby').getByText('latecomer').count() === 0, 'the latecomer is still listed as waiting');
await shot(lecturer, '17-let-in-from-the-lobby');

// --- Admin pages that need something to show ---
// A recording of a room nobody registered waits for an admin.
await need('unassigned-recording');
await admin.goto(`${base}/admin/recordings`);
await admin.locator('form[action$="/assign"]').first().waitFor();
await scan(admin, 'admin-recordings-unassigned');
// Disabling someone who owns rooms asks first what becomes of them (nothing is changed).
await admin.goto(`${base}/admin/users`);
await submit(admin, admin.getByRole('button', { name: 'Disable: lecturer' }));
await admin.locator('#transfer-to').waitFor();
await scan(admin, 'admin-disable-owner');

await browser.close();
console.log(`step axe scanned ${scanned.size} pages at 375 and 1440 px; moderate or minor findings: ${lesser.length ? lesser.join(', ') : 'none'}`);
if (problems.length) {
  console.error(`Pages with problems:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('done');
process.exit(0);
