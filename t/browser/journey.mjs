// The dashboard journey in a real headless Chromium (Debian's /usr/bin/chromium), driven by
// playwright-core. Run by t/browser/00-journey.t, which makes the accounts and passes:
//   CA_BASE_URL      the Apache::Test server, e.g. http://localhost:8529
//   CA_SANDBOX_URL   the provider sandbox
//   CA_MEMBER_EMAIL / CA_ADMIN_EMAIL / CA_PASSWORD   two fresh accounts
//   CA_SHOTS         directory for the screenshots (t/logs/screenshots)
//   CA_CHROMIUM      the browser (default /usr/bin/chromium)
// Every check is one JSON line on stdout: {"ok": bool, "name": "...", "detail": "..."};
// facts the .t checks afterwards (endpoint id, key hints) are lines {"fact": {...}}.
// No key or token is ever printed: keys are reported as booleans or hints only.
import { chromium } from 'playwright-core';
import dns from 'node:dns';
import fs from 'node:fs';
import path from 'node:path';

// The test server listens on 127.0.0.1 only, and "localhost" resolves to ::1 first. Node 20
// tries both addresses; Debian 12's Node 18 tries only the first, so its fetch() would fail.
dns.setDefaultResultOrder('ipv4first');

const BASE = process.env.CA_BASE_URL;
const SITE = process.env.CA_SITE_URL || BASE;
const MEMBER = process.env.CA_MEMBER_EMAIL;
const ADMIN = process.env.CA_ADMIN_EMAIL;
const PASSWORD = process.env.CA_PASSWORD;
const SHOTS = process.env.CA_SHOTS;
const XSS_NAME = '<img src=x onerror="window.__caXss=1">Journey & co';

let failures = 0;
function check(ok, name, detail) {
    if (!ok) {
        failures++;
    }
    process.stdout.write(JSON.stringify({ ok: !!ok, name, detail: ok ? undefined : detail }) + '\n');
    return !!ok;
}
function fact(f) {
    process.stdout.write(JSON.stringify({ fact: f }) + '\n');
}

// Poll `fn` (a promise of a truthy value) until it answers truthy; no timing is asserted,
// the deadline only ends a test that would otherwise hang.
async function until(fn, tries = 60, pauseMs = 500) {
    for (let i = 0; i < tries; i++) {
        const v = await fn().catch(() => null);
        if (v) {
            return v;
        }
        await new Promise((r) => setTimeout(r, pauseMs));
    }
    return null;
}

async function shot(page, name, opts = {}) {
    const file = path.join(SHOTS, name + '.png');
    await page.screenshot({ path: file, fullPage: true, ...opts });
    return file;
}

async function noHorizontalScroll(page) {
    return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

// Keyboard: pressing Tab from the top of the page reaches `selector` within `max` presses.
async function tabReaches(page, selector, max = 40) {
    await page.evaluate(() => {
        if (document.activeElement && document.activeElement.blur) {
            document.activeElement.blur();
        }
        window.scrollTo(0, 0);
    });
    await page.locator('body').focus().catch(() => {});
    for (let i = 0; i < max; i++) {
        await page.keyboard.press('Tab');
        const hit = await page.evaluate((sel) => {
            const el = document.querySelector(sel);
            return !!el && document.activeElement === el;
        }, selector);
        if (hit) {
            return true;
        }
    }
    return false;
}

async function callEndpoint(url, key) {
    const res = await fetch(url, { headers: key ? { Authorization: 'Bearer ' + key } : {} });
    let body = null;
    try {
        body = await res.json();
    } catch (e) {
        body = null;
    }
    return { status: res.status, body };
}

async function login(page, email) {
    await page.goto(BASE + '/login.html');
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(PASSWORD);
    // Enter in the password field submits the form (keyboard only)
    await page.locator('#password').press('Enter');
    await page.waitForURL(/\/dashboard\.html/);
    await page.locator('#user-email').filter({ hasText: email }).waitFor();
}

async function openTab(page, name) {
    await page.locator('#tab-' + name).click();
    await page.locator('#panel-' + name).waitFor({ state: 'visible' });
}

// The endpoint's row in the endpoints table
function endpointRow(page, epId) {
    return page.locator('#endpoints-table tbody tr').filter({ hasText: epId });
}

async function confirmDialog(page, grace) {
    const dlg = page.locator('#confirm-dialog');
    await dlg.waitFor({ state: 'visible' });
    if (grace !== undefined) {
        await page.locator('#confirm-grace-select').selectOption(String(grace));
    }
    await page.locator('#confirm-ok').click();
    await dlg.waitFor({ state: 'hidden' });
}

async function main() {
    fs.mkdirSync(SHOTS, { recursive: true });
    const browser = await chromium.launch({
        executablePath: process.env.CA_CHROMIUM || '/usr/bin/chromium',
        headless: true,
        chromiumSandbox: false,
        args: ['--disable-gpu', '--no-first-run', '--disable-dev-shm-usage']
    });
    const pageErrors = [];
    const cspViolations = [];
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e && e.message)));
    page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) {
            cspViolations.push(m.text());
        }
    });
    page.on('dialog', (d) => d.dismiss());    // no window.alert from stored XSS may block

    // ---- public pages and login, desktop -------------------------------------------------
    // from the host that serves htdocs/ at its root, as a deployment does (index.html at /)
    for (const p of ['index', 'privacy', 'terms', 'support', 'contact', 'login', 'signup']) {
        const res = await page.goto(SITE + '/' + (p === 'index' ? '' : p + '.html'));
        check(res && res.status() === 200, `${p}.html loads`, res && res.status());
        if (p === 'index') {
            check(/Client API/.test(await page.title()), 'index: the site\'s own home page at /',
                  await page.title());
        }
        await shot(page, `desktop-${p}`);
    }
    await page.goto(BASE + '/login.html');
    check(await tabReaches(page, '#email'), 'login: Tab reaches the email field');
    check(await tabReaches(page, '#login-submit'), 'login: Tab reaches the sign-in button');
    await page.locator('#email').fill(MEMBER);
    await page.locator('#password').fill('not the password at all');
    await page.locator('#password').press('Enter');
    const wrong = await until(async () => {
        const t = await page.locator('#login-message').textContent();
        return t && t.trim() ? t : null;
    });
    check(wrong && /not correct/.test(wrong), 'login: a wrong password is said in plain words',
          wrong);
    await shot(page, 'desktop-login-error');

    await login(page, MEMBER);
    check(true, 'login: Enter in the password field signs in');

    // ---- connect the sandbox provider through its OAuth page ------------------------------
    await openTab(page, 'connections');
    const connectBtn = page.getByRole('button', { name: 'Connect Provider Sandbox', exact: true });
    await connectBtn.waitFor();
    await shot(page, 'desktop-connections-empty');
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(process.env.CA_SANDBOX_URL)),
                       connectBtn.click()]);
    check(page.url().includes('/oauth/authorize'), 'connect: the browser is on the provider\'s authorize page',
          page.url().replace(/[?].*/, ''));
    await shot(page, 'desktop-sandbox-authorize');
    await page.locator('select[name="user"]').selectOption('demo');
    await Promise.all([page.waitForURL(/\/dashboard\.html/),
                       page.locator('button[name="decision"][value="approve"]').click()]);
    const connMsg = await until(async () => {
        const t = await page.locator('#page-message').textContent();
        return t && t.trim() ? t : null;
    });
    check(/is connected/.test(connMsg || ''), 'connect: back on the dashboard, "connected" is said',
          connMsg);
    check(!/code=|state=/.test(page.url()), 'connect: no code or state left in the address bar');
    const connRow = page.locator('#connections-table tbody tr')
        .filter({ has: page.locator('.badge', { hasText: /^ok$/ }) }).first();
    await connRow.waitFor();
    const connText = await connRow.textContent();
    check(/Demo/.test(connText) && /OAuth/.test(connText), 'connect: the OAuth connection is listed as ok',
          connText);
    check(/Scopes: \S/.test(connText), 'connect: the granted scopes are shown', connText);
    await shot(page, 'desktop-connections');

    // the connect form follows the provider's auth mode: an API key ...
    await page.getByRole('button', { name: 'Connect Client Commander (API key)', exact: true }).click();
    await page.locator('#connect-dialog').waitFor({ state: 'visible' });
    const akLabels = await page.locator('#connect-fields label').allTextContents();
    check(akLabels.length === 1 && /API key/.test(akLabels[0]), 'connect form: an API key provider asks for the key',
          JSON.stringify(akLabels));
    check(await page.locator('#connect-fields input').getAttribute('type') === 'password',
          'connect form: the pasted key is a password field');
    await page.locator('#connect-fields input').fill('ccmd_live_wrong_0000000000000000');
    await page.locator('#connect-fields input').press('Enter');
    const akErr = await until(async () => {
        const t = await page.locator('#connect-message').textContent();
        return t && t.trim() ? t : null;
    });
    check(akErr && /API key/i.test(akErr) && !/ccmd_live_wrong/.test(akErr),
          'connect form: a refused key is said in plain words (without echoing it)', akErr);
    await shot(page, 'desktop-connect-apikey-error');
    await page.locator('#connect-cancel').click();
    await page.locator('#connect-dialog').waitFor({ state: 'hidden' });
    // the dialog's close event (a queued task) empties the fields
    check(await until(async () => (await page.locator('#connect-fields input').count()) === 0),
          'connect form: closing it drops the pasted key');
    // ... or client credentials, with the fields the provider file asks for
    const ccBtn = page.getByRole('button', { name: 'Connect Provider Sandbox (client credentials)', exact: true });
    check((await ccBtn.count()) === 1, 'connect form: the client-credentials provider has its button');
    if (await ccBtn.count()) {
        await ccBtn.click();
        await page.locator('#connect-dialog').waitFor({ state: 'visible' });
        const ccLabels = await page.locator('#connect-fields label').allTextContents();
        check(ccLabels.join('|') === 'Client id|Client secret',
              'connect form: a client-credentials provider asks for client id and secret', ccLabels.join('|'));
        await shot(page, 'desktop-connect-credentials');
        await page.keyboard.press('Escape');
        await page.locator('#connect-dialog').waitFor({ state: 'hidden' });
    }

    // ---- a client-scoped endpoint through the company and client pickers ----------------
    await openTab(page, 'endpoints');
    await page.locator('input[name="scope_kind"][value="client"]').check();
    // the company list comes from the provider; search narrows it
    await page.locator('#company-options button').first().waitFor();
    const companies = await page.locator('#company-options button').count();
    await page.locator('#company-search').fill('acme');
    const acme = page.locator('#company-options button');
    await until(async () => (await acme.count()) === 1);
    check(companies > 1 && (await acme.count()) === 1,
          'picker: the company search narrows the provider\'s list', `${companies} -> ${await acme.count()}`);
    // keyboard: Enter in the search picks the only match, without submitting the form
    await page.locator('#company-search').press('Enter');
    check(await page.locator('#create-company-id').inputValue() === 'co_acme',
          'picker: Enter picks the only company (co_acme)');
    await page.locator('#client-options button').first().waitFor();
    const firstClient = page.locator('#client-options button').first();
    const clientText = await firstClient.textContent();
    await firstClient.click();
    const clientId = await page.locator('#create-client-id').inputValue();
    check(/^cl_acme_/.test(clientId), 'picker: a client of Acme is picked from the provider\'s list',
          clientId + ' ' + clientText);
    check(await page.locator('#key-box').isHidden(), 'no key shown before one is created');
    await page.locator('#create-name').fill(XSS_NAME);
    await shot(page, 'desktop-endpoint-form');
    await page.locator('#create-submit').click();
    await page.locator('#key-box').waitFor({ state: 'visible' });
    const key = await page.locator('#key-value').inputValue();
    const url = (await page.locator('#key-url').textContent()).trim();
    check(/^cak_[A-Za-z0-9_-]{40,}$/.test(key), 'create: the key is shown (cak_...)');
    check(/^https?:\/\/.+\/api\/ep_[A-Za-z0-9_-]+$/.test(url), 'create: the endpoint URL is shown', url);
    const warning = await page.locator('#key-box').textContent();
    check(/shown only once/i.test(warning), 'create: the one-time warning is shown');
    const epId = url.replace(/.*\/api\//, '');
    fact({ endpoint: epId, key_hint: key.slice(-4) });
    // the screenshot of the key box masks the key (and the URL is harmless)
    await shot(page, 'desktop-key-once-masked', { mask: [page.locator('#key-value')] });
    check((await page.locator('#key-copy').count()) === 1, 'create: a copy button is offered');

    // the stored name with markup is shown as text, never run
    const row = endpointRow(page, epId);
    await row.waitFor();
    const rowText = await row.textContent();
    check(rowText.includes('<img src=x onerror='), 'XSS: the stored name is shown as text', rowText);
    check((await row.locator('img').count()) === 0, 'XSS: no <img> element was made from the name');
    check(await page.evaluate(() => window.__caXss === undefined), 'XSS: the onerror code never ran');

    // after a reload the key is gone for good
    await page.locator('#key-done').click();
    await page.reload();
    await endpointRow(page, epId).waitFor();
    const html = await page.content();
    check(!html.includes(key), 'reload: the key is nowhere in the page any more');
    check(await page.locator('#key-box').isHidden(), 'reload: the key box is hidden');
    check((await endpointRow(page, epId).textContent()).includes(key.slice(-4)),
          'reload: the endpoint shows only a hint of the key');
    await shot(page, 'desktop-endpoints');

    // ---- call the endpoint with an HTTP client -------------------------------------------
    const first = await callEndpoint(url + '/clients', key);
    check(first.status === 200, 'call: GET /clients with the key answers 200', first.status);
    const recs = first.body && Array.isArray(first.body.data) ? first.body.data : [];
    check(recs.length === 1 && recs[0].id === clientId,
          'call: a client-scoped endpoint returns exactly its client', JSON.stringify(recs.map((r) => r.id)));
    const stranger = await callEndpoint(url + '/clients', null);
    check(stranger.status === 401, 'call: without the key 401', stranger.status);

    // ---- the call in the request log (written asynchronously: reload until it is there) --
    await openTab(page, 'logs');
    await page.locator('#logs-endpoint').selectOption(epId);
    await page.locator('#logs-status').selectOption('2xx');
    const logRow = page.locator('#logs-table tbody tr').filter({ hasText: epId })
        .filter({ hasText: 'clients' });
    const seen = await until(async () => {
        await page.locator('#logs-form button[type="submit"]').click();
        await page.waitForLoadState('networkidle');
        return (await logRow.count()) > 0;
    });
    check(seen, 'log: the call is in the request log (filtered by endpoint and 2xx)');
    if (seen) {
        check(/GET/.test(await logRow.first().textContent()) && /200/.test(await logRow.first().textContent()),
              'log: method GET, status 200');
        await logRow.first().locator('button', { hasText: 'Details' }).click();
        await page.locator('#log-dialog').waitFor({ state: 'visible' });
        const detail = await page.locator('#log-detail').textContent();
        check(detail.includes('Caller address') && detail.includes('Request id'),
              'log: the detail view shows the caller address and the request id', detail);
        check(!detail.includes(key), 'log: the key is not in the log detail');
        await shot(page, 'desktop-log-detail');
        await page.locator('#log-close').press('Enter');
        await page.locator('#log-dialog').waitFor({ state: 'hidden' });
    }
    await shot(page, 'desktop-logs');

    // ---- ... and in the usage chart -------------------------------------------------------
    await openTab(page, 'usage');
    await page.locator('#usage-endpoint').selectOption(epId);
    const counted = await until(async () => {
        await page.locator('#usage-form button[type="submit"]').click();
        await page.waitForLoadState('networkidle');
        const t = await page.locator('#usage-summary').textContent();
        return /^[1-9]\d* requests/.test(t || '') ? t : null;
    });
    check(counted, 'usage: the summary counts the call', counted);
    check((await page.locator('#chart-requests canvas').count()) === 1,
          'usage: the requests chart is drawn by uPlot (a canvas)');
    check((await page.locator('#chart-errors canvas').count()) === 1, 'usage: the errors chart is drawn');
    const chartData = await page.evaluate(() => {
        const rows = Array.from(document.querySelectorAll('#usage-table tbody tr'));
        return rows.map((r) => r.textContent);
    });
    check(chartData.length >= 1 && !/No requests/.test(chartData[0]),
          'usage: the table under the charts lists the period of the call', JSON.stringify(chartData));
    await shot(page, 'desktop-usage');

    // a custom range: said in words when it is incomplete or backwards, else counted
    const localInput = (secondsAgo) => page.evaluate((ago) => {
        const d = new Date(Date.now() - ago * 1000);
        d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
        return d.toISOString().slice(0, 16);
    }, secondsAgo);
    await page.locator('#usage-range').selectOption('custom');
    check(await page.locator('#usage-since').isVisible(), 'usage: a custom range shows From and Until');
    await page.locator('#usage-form button[type="submit"]').click();
    check(/Choose when the range starts/.test(await page.locator('#usage-message').textContent()),
          'usage: a custom range without From is refused in words');
    await page.locator('#usage-since').fill(await localInput(3600));
    await page.locator('#usage-until').fill(await localInput(7200));
    await page.locator('#usage-form button[type="submit"]').click();
    check(/must end \(Until\) after it starts/.test(await page.locator('#usage-message').textContent()),
          'usage: a range that ends before it starts is refused in words');
    await page.locator('#usage-since').fill(await localInput(3 * 3600));
    await page.locator('#usage-until').fill('');
    await page.locator('#usage-bucket').selectOption('hour');
    const [customRes] = await Promise.all([
        page.waitForResponse((r) => r.url().includes('/dashboard/api/usage?')),
        page.locator('#usage-form button[type="submit"]').click(),
    ]);
    const customUrl = new URL(customRes.url());
    const span = Number(customUrl.searchParams.get('until')) - Number(customUrl.searchParams.get('since'));
    check(customRes.status() === 200 && customUrl.searchParams.get('bucket') === 'hour'
          && span > 3 * 3600 - 120 && span < 3 * 3600 + 120,
          'usage: the custom range asks for the last 3 hours per hour', customUrl.search);
    const customSaid = await until(async () => {
        const t = await page.locator('#usage-summary').textContent();
        return /^[1-9]\d* requests/.test(t || '') ? t : null;
    });
    check(customSaid && await page.locator('#usage-message').isHidden(),
          'usage: the custom range counts the call', customSaid);
    await shot(page, 'desktop-usage-custom');
    await page.locator('#usage-range').selectOption('86400/hour');
    check(await page.locator('#usage-since').isHidden(), 'usage: a preset hides From and Until again');

    // an answer without per-period percentiles and items (an older or newer server): the
    // page says so instead of drawing nothing or failing
    await page.route('**/dashboard/api/usage?**', async (route) => {
        const res = await route.fetch();
        const j = await res.json();
        (j.series || []).forEach((b) => { delete b.p50_ms; delete b.p95_ms; delete b.items; });
        if (j.totals) {
            delete j.totals.items;
        }
        await route.fulfill({ response: res, json: j });
    });
    await page.locator('#usage-form button[type="submit"]').click();
    await page.locator('#chart-latency .chart-note').waitFor();
    check(/does not report/.test(await page.locator('#chart-latency').textContent()),
          'usage: without percentiles the latency chart says so in words');
    check(/does not report/.test(await page.locator('#chart-items').textContent()),
          'usage: without items the records chart says so in words');
    check((await page.locator('#chart-requests canvas').count()) === 1,
          'usage: the requests chart is still drawn');
    await shot(page, 'desktop-usage-degraded');
    await page.unroute('**/dashboard/api/usage?**');

    // ---- deactivate: the call now fails ---------------------------------------------------
    await openTab(page, 'endpoints');
    await endpointRow(page, epId).locator('button', { hasText: 'Deactivate' }).click();
    await confirmDialog(page);
    await until(async () => /inactive/.test(await endpointRow(page, epId).textContent()));
    check(/inactive/.test(await endpointRow(page, epId).textContent()), 'deactivate: the row says inactive');
    const off = await callEndpoint(url + '/clients', key);
    check(off.status === 403 && off.body && off.body.code === 'endpoint_inactive',
          'deactivate: the call now answers 403 endpoint_inactive', off.status);

    // ---- reissue (old key stops at once), activate: the new key works -------------------
    await endpointRow(page, epId).locator('button', { hasText: 'Reissue key' }).click();
    await confirmDialog(page, 0);
    await page.locator('#key-box').waitFor({ state: 'visible' });
    const key2 = await page.locator('#key-value').inputValue();
    check(/^cak_/.test(key2) && key2 !== key, 'reissue: a new key is shown once');
    await shot(page, 'desktop-key-reissued-masked', { mask: [page.locator('#key-value')] });
    await page.locator('#key-done').click();
    check(await page.locator('#key-value').inputValue() === '', 'reissue: "stored" clears the key from the page');
    await endpointRow(page, epId).locator('button', { hasText: /^Activate$/ }).click();
    await confirmDialog(page);
    await until(async () => !/inactive/.test(await endpointRow(page, epId).textContent()));
    const fresh = await callEndpoint(url + '/clients', key2);
    check(fresh.status === 200, 'reissue: the new key works', fresh.status);
    const old = await callEndpoint(url + '/clients', key);
    check(old.status === 401, 'reissue: the old key is refused (401)', old.status);
    fact({ key2_hint: key2.slice(-4) });

    // ---- keyboard: the tabs by arrow keys, the main actions by Tab -----------------------
    await page.locator('#tab-endpoints').focus();
    await page.keyboard.press('ArrowRight');
    check(await page.evaluate(() => document.activeElement.id === 'tab-connections'
                              && !document.getElementById('panel-connections').hidden),
          'keyboard: ArrowRight moves to the next section');
    await page.keyboard.press('Home');
    check(await tabReaches(page, '#create-submit', 200), 'keyboard: Tab reaches "Create endpoint"');
    check(await tabReaches(page, '#sign-out', 40), 'keyboard: Tab reaches "Sign out"');

    // ---- the contact form, with markup in it (the admin must see it as text) --------------
    await page.goto(BASE + '/contact.html');
    await page.locator('#contact-name').fill('<b>Bold</b> <script>window.__caXss=2</script>');
    await page.locator('#contact-email').fill('journey@example.test');
    await page.locator('#contact-company').fill('Journey & Sons');
    await page.locator('#contact-text').fill('Hello <img src=x onerror="window.__caXss=3">');
    await Promise.all([page.waitForURL(/thanks\.html/), page.locator('#contact-submit').click()]);
    check(/thanks\.html/.test(page.url()), 'contact: the message is sent');
    await shot(page, 'desktop-thanks');
    const sheetOk = await page.evaluate(() => document.styleSheets.length > 0);
    check(sheetOk, 'pages load their own stylesheet');

    // ---- phone width: every page without horizontal scrolling ----------------------------
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 },
                                             isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const ph = await phone.newPage();
    ph.on('pageerror', (e) => pageErrors.push(String(e && e.message)));
    for (const p of ['privacy', 'terms', 'support', 'contact', 'login', 'signup']) {
        await ph.goto(BASE + '/' + p + '.html');
        check(await noHorizontalScroll(ph), `phone: ${p}.html has no horizontal scroll`);
        await shot(ph, `phone-${p}`);
    }
    await login(ph, MEMBER);
    for (const tab of ['endpoints', 'connections', 'logs', 'usage']) {
        await openTab(ph, tab);
        if (tab === 'logs') {
            await ph.locator('#logs-table tbody tr').first().waitFor().catch(() => {});
        }
        if (tab === 'usage') {
            await ph.locator('#chart-requests canvas, #chart-requests .chart-note').first().waitFor();
        }
        check(await noHorizontalScroll(ph), `phone: the ${tab} section has no horizontal page scroll`,
              await ph.evaluate(() => document.documentElement.scrollWidth + ' > ' + window.innerWidth));
        await shot(ph, `phone-dashboard-${tab}`);
    }
    await phone.close();

    // ---- an admin: audit trail and contact messages -------------------------------------
    const actx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const ap = await actx.newPage();
    ap.on('pageerror', (e) => pageErrors.push(String(e && e.message)));
    ap.on('dialog', (d) => d.dismiss());
    await login(ap, ADMIN);
    await ap.locator('#tab-audit').waitFor({ state: 'visible' });
    await openTab(ap, 'audit');
    const auditRows = ap.locator('#audit-table tbody tr').filter({ hasText: epId });
    await until(async () => (await auditRows.count()) >= 4);
    const auditText = (await auditRows.allTextContents()).join('\n');
    for (const a of ['endpoint.create', 'endpoint.deactivate', 'key.reissue', 'endpoint.activate']) {
        check(auditText.includes(a) && auditText.includes(MEMBER), `audit: ${a} by the member is listed`);
    }
    await shot(ap, 'desktop-audit');
    // the filters: only this endpoint's events, then none for a kind it is not
    await ap.locator('#audit-kind').selectOption('endpoint');
    await ap.locator('#audit-target').fill(epId);
    await Promise.all([
        ap.waitForResponse((r) => r.url().includes('/dashboard/api/audit?')
                           && r.url().includes('target_kind=endpoint')),
        ap.locator('#audit-form button[type="submit"]').click(),
    ]);
    const filtered = await until(async () => {
        const t = await ap.locator('#audit-table tbody tr').allTextContents();
        return t.length >= 4 && t.every((x) => x.includes(epId)) ? t : null;
    });
    check(filtered, 'audit: filtered to one endpoint, every event listed is about it',
          String(await ap.locator('#audit-table tbody tr').count()));
    await ap.locator('#audit-kind').selectOption('connection');
    await ap.locator('#audit-form button[type="submit"]').click();
    await ap.locator('#audit-empty').waitFor({ state: 'visible' });
    check((await ap.locator('#audit-table tbody tr').count()) === 0,
          'audit: no connection event has the endpoint\'s id: "No events match"');
    await shot(ap, 'desktop-audit-filtered');
    await openTab(ap, 'messages');
    const msgRow = ap.locator('#messages-table tbody tr').filter({ hasText: 'journey@example.test' }).first();
    await msgRow.waitFor();
    const msgText = await msgRow.textContent();
    check(msgText.includes('<b>Bold</b>') && msgText.includes('<img src=x'),
          'messages: the markup of the message is shown as text', msgText);
    check((await msgRow.locator('b, img, script').count()) === 0, 'messages: no element made from it');
    check(await ap.evaluate(() => window.__caXss === undefined), 'messages: no payload ran');
    await shot(ap, 'desktop-messages');
    await openTab(ap, 'endpoints');
    await endpointRow(ap, epId).waitFor();
    check((await endpointRow(ap, epId).textContent()).includes(MEMBER),
          'admin: the member\'s endpoint is listed with its owner');
    const admHtml = await ap.content();
    check(!admHtml.includes(key2) && !admHtml.includes(key), 'admin: no key in the admin\'s page');
    await ap.locator('#sign-out').click();
    await ap.waitForURL(/login\.html/);
    check(/signed out/i.test(await ap.locator('#login-message').textContent()), 'sign out: said so');
    await actx.close();

    // ---- the member deletes the account: the endpoint's key stops working -----------------
    await login(page, MEMBER);
    const before = await page.evaluate(async (ep) => {
        const r = await fetch('/dashboard/api/endpoints/' + encodeURIComponent(ep));
        const j = await r.json();
        return { status: j.endpoint.status, scope_kind: j.endpoint.scope_kind,
                 company_id: j.endpoint.company_id, client_id: j.endpoint.client_id,
                 keys: j.keys.map((k) => ({ usable: k.usable })) };
    }, epId);
    fact({ before_delete: before });
    await page.locator('#account-delete-open').click();
    await page.locator('#account-dialog').waitFor({ state: 'visible' });
    await shot(page, 'desktop-account-delete');
    await page.locator('#account-password').fill(PASSWORD);
    await Promise.all([page.waitForURL(/login\.html\?deleted=1/), page.locator('#account-delete').click()]);
    check(/deleted/.test(await page.locator('#login-message').textContent()), 'account: deleted, and said so');
    const gone = await callEndpoint(url + '/clients', key2);
    check(gone.status === 401 || gone.status === 404, 'account: the endpoint key stops working', gone.status);
    fact({ account_deleted: true });

    check(await page.evaluate(() => window.__caXss === undefined), 'XSS: no payload ran anywhere');
    check(pageErrors.length === 0, 'no script errors in the pages', pageErrors.join(' | '));
    check(cspViolations.length === 0, 'no Content-Security-Policy violations', cspViolations.join(' | '));
    await ctx.close();
    await browser.close();
}

main().catch((e) => {
    check(false, 'the journey ran to its end', String(e && e.stack ? e.stack : e).slice(0, 2000));
}).finally(() => {
    process.exitCode = failures ? 1 : 0;
});
