// The web client in a real browser: Debian's headless Chromium driven by
// playwright-core. Starts the real server binary on an ephemeral port, opens
// the page twice, creates a group on page A, joins it from both, sends one
// message from each, and checks that each page shows both messages with the
// right sender ids (each page's own id being the one it shows for itself).
// Then page A deletes the group and both pages must show the close, code
// 1000, reason "group deleted". A screenshot goes to build/browser-chat.png.
// Then the page resumes (groupchat.v1): page A, loaded through a TCP proxy
// the test cuts, loses its connection while B sends, joins again by itself
// with since and shows exactly what it missed, once, in order; cut again
// while more than the history holds is sent, it shows a reset line.
// Last, against a second server with an admin token and a join secret, the
// page must ask for each token on its 401, then create and join with them.
//
// Usage (from the repository root): node test/browser/chat.spec.mjs
// Environment: GROUPCHAT_BIN (default build/release/groupchat),
// CHROMIUM (default /usr/bin/chromium), SCREENSHOT (default
// build/browser-chat.png; a phone-width one goes beside it, -phone.png).
// Prints one line per check and closes with "browser: N passed, N failed".

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.GROUPCHAT_BIN || 'build/release/groupchat';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOT = process.env.SCREENSHOT || 'build/browser-chat.png';
const PHONE_SHOT = SHOT.replace(/(\.png)?$/, '-phone.png');
const WAIT = 10000;      // ms for any one thing the page should show
const OVERALL = 90000;   // ms for the whole run

// A group id that needs escaping both in the query and as a path segment.
const GROUP = `browser ${process.pid}/ü&é?#%`;
const CID = /^[0-9a-f]{6}$/;

let passed = 0, failed = 0, skipped = 0;
let aborted = false;

// Runs one check unless an earlier one failed (later checks build on it).
async function check(name, fn) {
	if (aborted) {
		skipped++;
		console.log(`  skip  ${name}`);
		return;
	}
	try {
		await fn();
		passed++;
		console.log(`  ok    ${name}`);
	} catch (e) {
		failed++;
		aborted = true;
		console.log(`  FAIL  ${name}\n        ${String(e && e.stack || e).split('\n').join('\n        ')}`);
	}
}

function assert(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

// Starts the server and resolves with its port, read from the "start" log
// line on stderr.
function startServer(env = {}) {
	const proc = spawn(BIN, ['--port', '0', '--listen', '127.0.0.1', '--log-level', 'info'],
		{ stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
	let err = '';
	const port = new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`no start line within ${WAIT} ms:\n${err}`)), WAIT);
		proc.stderr.on('data', (d) => {
			err += d;
			const m = /\bstart\b.*\bport=(\d+)/.exec(err);
			if (m) {
				clearTimeout(timer);
				resolve(Number(m[1]));
			}
		});
		proc.on('error', (e) => { clearTimeout(timer); reject(e); });
		proc.on('exit', (code, sig) => {
			clearTimeout(timer);
			reject(new Error(`server exited (${code ?? sig}) before it started:\n${err}`));
		});
	});
	return { proc, port, stderr: () => err };
}

// Resolves with the exit code once proc exits, or null after ms.
function exited(proc, ms) {
	if (proc.exitCode !== null || proc.signalCode !== null)
		return Promise.resolve(proc.exitCode);
	return new Promise((resolve) => {
		const timer = setTimeout(() => resolve(null), ms);
		proc.once('exit', (code) => { clearTimeout(timer); resolve(code); });
	});
}

// The messages a page shows, as [sender, text] pairs.
function messages(page) {
	return page.$$eval('#messages li.msg', (lis) => lis.map((li) =>
		[li.querySelector('.sender').textContent, li.querySelector('.text').textContent]));
}

async function waitMessages(page, n) {
	await page.waitForFunction((k) => document.querySelectorAll('#messages li.msg').length >= k,
		n, { timeout: WAIT });
	return messages(page);
}

async function ownId(page) {
	await page.waitForFunction(() => document.getElementById('you').dataset.cid, null,
		{ timeout: WAIT });
	return page.$eval('#you', (el) => el.dataset.cid);
}

async function join(page) {
	await page.fill('#group-id', GROUP);
	await page.click('#join');
	await page.waitForSelector('#conn[data-state="open"]', { timeout: WAIT });
}

async function send(page, text) {
	await page.fill('#message', text);
	await page.press('#message', 'Enter');
}

async function closeShown(page) {
	await page.waitForSelector('#conn[data-state="closed"]', { timeout: WAIT });
	return page.$eval('#conn', (el) => ({
		code: el.dataset.code, reason: el.dataset.reason, text: el.textContent,
		log: document.querySelector('#messages li.sys:last-child').textContent,
	}));
}

// A TCP proxy to port on 127.0.0.1 that the test can cut: cut() drops
// every connection and refuses new ones until mend().
function startProxy(port) {
	const socks = new Set();
	let blocked = false;
	const srv = createServer((c) => {
		if (blocked) {
			c.destroy();
			return;
		}
		const s = connect(port, '127.0.0.1');
		const done = () => {
			c.destroy();
			s.destroy();
			socks.delete(c);
			socks.delete(s);
		};
		socks.add(c);
		socks.add(s);
		for (const x of [c, s]) {
			x.on('error', done);
			x.on('close', done);
		}
		c.pipe(s);
		s.pipe(c);
	});
	return {
		port: new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv.address().port))),
		cut() {
			blocked = true;
			for (const x of socks)
				x.destroy();
			socks.clear();
		},
		mend() { blocked = false; },
		close() {
			this.cut();
			srv.close();
		},
	};
}

// The texts of the messages a page shows.
async function texts(page) {
	return (await messages(page)).map((m) => m[1]);
}

async function waitTexts(page, want) {
	const w = JSON.stringify(want);
	try {
		await page.waitForFunction((k) => JSON.stringify([...document.querySelectorAll(
			'#messages li.msg .text')].map((t) => t.textContent)) === k, w, { timeout: WAIT });
	} catch (e) {
		throw new Error(`shows ${JSON.stringify(await texts(page))}, want ${w}`);
	}
}

// Sends n messages from a fresh WebSocket in page's own context (no
// subprotocol) and waits for their n echoes.
function flood(page, seg, n) {
	return page.evaluate(async ({ seg, n }) => {
		const ws = new WebSocket(`ws://${location.host}/groups/${seg}`);
		await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
		let got = 0;
		const done = new Promise((resolve) => { ws.onmessage = () => { if (++got === n) resolve(); }; });
		for (let i = 0; i < n; i++)
			ws.send(`flood ${i}`);
		await done;
		ws.close(1000);
	}, { seg, n });
}

// 32 bytes each, the shortest the server takes.
const SECRETS = {
	GROUPCHAT_ADMIN_TOKEN: 'browser-adm1n-browser-adm1n-brow',
	GROUPCHAT_JOIN_SECRET: 'browser-j0in-browser-j0in-browse',
};

async function main() {
	const server = startServer();
	let browser = null, secured = null;
	const pageErrors = [], consoleErrors = [];
	const watchdog = setTimeout(() => {
		console.log(`  FAIL  the whole run took over ${OVERALL} ms`);
		console.log(`browser: ${passed} passed, ${failed + 1} failed`);
		server.proc.kill('SIGKILL');
		process.exit(1);
	}, OVERALL);

	try {
		let port, a, b, idA, idB;
		await check('server starts and reports its port', async () => {
			port = await server.port;
			assert(port > 0, `port ${port}`);
		});
		await check('chromium launches', async () => {
			browser = await chromium.launch({
				executablePath: CHROMIUM,
				args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
					'--no-first-run', '--disable-background-networking',
					'--disable-component-update', '--disable-sync'],
			});
			const ctx = await browser.newContext({ viewport: { width: 900, height: 860 } });
			a = await ctx.newPage();
			b = await ctx.newPage();
			for (const [name, p] of [['A', a], ['B', b]]) {
				p.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
				p.on('console', (m) => {
					if (m.type() === 'error')
						consoleErrors.push(`${name}: ${m.text()}`);
				});
			}
		});
		await check('GET / serves the page to both', async () => {
			for (const p of [a, b]) {
				const r = await p.goto(`http://127.0.0.1:${port}/`);
				assert(r.status() === 200, `status ${r.status()}`);
				assert(/^text\/html/.test(r.headers()['content-type']), r.headers()['content-type']);
				assert(await p.title() === 'groupchat', `title ${await p.title()}`);
			}
		});
		await check('page A creates the group', async () => {
			await a.fill('#group-id', GROUP);
			await a.click('#create');
			await a.waitForSelector('#group-status.ok', { timeout: WAIT });
			const s = await a.textContent('#group-status');
			assert(s === `201: created group with id: ${GROUP}`, `status "${s}"`);
		});
		await check('both pages join', async () => {
			await join(a);
			await join(b);
		});
		await check('A sends and learns its own id from the echo', async () => {
			await send(a, 'hello from A');
			idA = await ownId(a);
			assert(CID.test(idA), `A's id "${idA}"`);
		});
		await check('B sends and learns its own id from the echo', async () => {
			await send(b, 'hello from B <b>&amp;</b>');
			idB = await ownId(b);
			assert(CID.test(idB), `B's id "${idB}"`);
			assert(idA !== idB, `both pages think they are ${idA}`);
		});
		await check('each page shows both messages with the right sender ids', async () => {
			const want = JSON.stringify([[idA, 'hello from A'], [idB, 'hello from B <b>&amp;</b>']]);
			for (const [name, p] of [['A', a], ['B', b]]) {
				const got = await waitMessages(p, 2);
				assert(JSON.stringify(got) === want, `page ${name} shows ${JSON.stringify(got)}, want ${want}`);
			}
			assert(await a.$$eval('#messages li.mine', (l) => l.length) === 1, 'A marks one message as its own');
			assert(await b.$$eval('#messages li.mine', (l) => l.length) === 1, 'B marks one message as its own');
		});
		await check('/stats agrees: one group, two members, two messages in, four out', async () => {
			const r = await a.request.get(`http://127.0.0.1:${port}/stats`);
			const st = await r.json();
			const g = st.groups.find((x) => x.id === GROUP);
			assert(g, `group missing from ${JSON.stringify(st)}`);
			assert(g.members === 2 && g.running === true, JSON.stringify(g));
			assert(g.messages_in === 2 && g.messages_out === 4, JSON.stringify(g));
		});
		await check('page A deletes the group', async () => {
			await a.click('#delete');
			await a.waitForFunction(() => /^200: /.test(document.getElementById('group-status').textContent),
				null, { timeout: WAIT });
			const s = await a.textContent('#group-status');
			assert(s === `200: deleted group with id: ${GROUP}`, `status "${s}"`);
		});
		await check('both pages show the close: code 1000, reason "group deleted"', async () => {
			for (const [name, p] of [['A', a], ['B', b]]) {
				const c = await closeShown(p);
				assert(c.code === '1000' && c.reason === 'group deleted',
					`page ${name}: code ${c.code}, reason "${c.reason}"`);
				assert(c.text.includes('1000') && c.text.includes('group deleted'), `page ${name} says "${c.text}"`);
				assert(c.log.includes('1000') && c.log.includes('group deleted'), `page ${name} logs "${c.log}"`);
				assert(await p.isDisabled('#send'), `page ${name} can still send`);
			}
		});
		await check(`screenshot saved to ${SHOT}`, async () => {
			mkdirSync(dirname(SHOT), { recursive: true });
			await a.screenshot({ path: SHOT, fullPage: true });
		});
		await check(`fits a phone screen (${PHONE_SHOT})`, async () => {
			await b.setViewportSize({ width: 360, height: 740 });
			const w = await b.evaluate(() => document.documentElement.scrollWidth);
			assert(w <= 360, `page is ${w} px wide at 360`);
			await b.screenshot({ path: PHONE_SHOT, fullPage: true });
		});
		await check('no script errors so far', async () => {
			const all = pageErrors.concat(consoleErrors);
			assert(all.length === 0, all.join('\n'));
		});
		const RG = `resume ${process.pid}`;
		let proxy = null;
		await check('resume: page A joins through a proxy, B directly, in groupchat.v1', async () => {
			proxy = startProxy(port);
			const pport = await proxy.port;
			await b.setViewportSize({ width: 900, height: 860 });
			await b.goto(`http://127.0.0.1:${port}/`);
			await a.goto(`http://127.0.0.1:${pport}/`);
			await b.fill('#group-id', RG);
			await b.click('#create');
			await b.waitForSelector('#group-status.ok', { timeout: WAIT });
			for (const p of [a, b]) {
				await p.fill('#group-id', RG);
				await p.click('#join');
				await p.waitForSelector('#conn[data-state="open"]', { timeout: WAIT });
			}
			await send(b, 'before');
			await waitTexts(a, ['before']);
		});
		await check('resume: cut off, A joins again by itself and shows what it missed, once', async () => {
			proxy.cut();
			await a.waitForSelector('#conn:not([data-state="open"])', { timeout: WAIT });
			await send(b, 'away 1');
			await send(b, 'away 2');
			await waitTexts(b, ['before', 'away 1', 'away 2']);
			proxy.mend();
			await waitTexts(a, ['before', 'away 1', 'away 2']);
			await a.waitForSelector('#conn[data-state="open"]', { timeout: WAIT });
			const lines = await a.$$eval('#messages li.sys', (l) => l.map((li) => li.textContent));
			assert(lines.some((t) => /again; what was sent meanwhile follows/.test(t)),
				`A says ${JSON.stringify(lines)}`);
			assert(await a.$$eval('#messages li.reset', (l) => l.length) === 0, 'A shows a reset');
			await send(b, 'after');
			await waitTexts(a, ['before', 'away 1', 'away 2', 'after']);
		});
		await check('resume: cut off while more than the history is sent, A shows a reset line', async () => {
			proxy.cut();
			await a.waitForSelector('#conn:not([data-state="open"])', { timeout: WAIT });
			await flood(b, encodeURIComponent(RG), 120);
			proxy.mend();
			await a.waitForSelector('#messages li.sys.reset', { timeout: WAIT });
			await a.waitForSelector('#conn[data-state="open"]', { timeout: WAIT });
			const line = await a.$eval('#messages li.reset', (li) => li.textContent);
			assert(/messages sent meanwhile are lost/.test(line), `A says "${line}"`);
			await send(b, 'after reset');
			await waitTexts(a, ['before', 'away 1', 'away 2', 'after', 'after reset']);
			proxy.close();
			await b.click('#leave');
			await b.waitForSelector('#conn[data-state="closed"]', { timeout: WAIT });
		});
		await check('joining a group that does not exist says so', async () => {
			await b.fill('#group-id', `${GROUP} (gone)`);
			await b.click('#join');
			await b.waitForSelector('#conn[data-state="closed"]', { timeout: WAIT });
			await b.waitForFunction(() => /no group/.test(document.getElementById('group-status').textContent),
				null, { timeout: WAIT });
		});
		await check('a secured server: the page asks for the admin token on 401, then creates', async () => {
			secured = startServer(SECRETS);
			const sport = await secured.port;
			await b.goto(`http://127.0.0.1:${sport}/`);
			assert(await b.isHidden('#admin-token-row') && await b.isHidden('#join-token-row'),
				'token fields shown before any 401');
			await b.fill('#group-id', 'secured');
			await b.click('#create');
			await b.waitForSelector('#admin-token-row:not([hidden])', { timeout: WAIT });
			assert(/^401: /.test(await b.textContent('#group-status')), await b.textContent('#group-status'));
			await b.fill('#admin-token', SECRETS.GROUPCHAT_ADMIN_TOKEN);
			await b.click('#create');
			await b.waitForSelector('#group-status.ok', { timeout: WAIT });
			const st = await b.textContent('#group-status');
			assert(st === '201: created group with id: secured', `status "${st}"`);
		});
		await check('a secured server: the page asks for a join token on 401, then joins', async () => {
			await b.click('#join');
			await b.waitForSelector('#join-token-row:not([hidden])', { timeout: WAIT });
			assert(/join token/.test(await b.textContent('#group-status')), await b.textContent('#group-status'));
			const token = execFileSync(BIN, ['token', '--group', 'secured', '--ttl', '5m'],
				{ env: { ...process.env, ...SECRETS }, encoding: 'utf8' }).trim();
			await b.fill('#join-token', token);
			await b.click('#join');
			await b.waitForSelector('#conn[data-state="open"]', { timeout: WAIT });
			await send(b, 'signed in');
			await b.waitForFunction(() => [...document.querySelectorAll('#messages li.msg .text')]
				.some((t) => t.textContent === 'signed in'), null, { timeout: WAIT });
		});
		await check('no uncaught exception on either page', async () => {
			// The refused join logs console errors by design: only
			// exceptions count from there on.
			assert(pageErrors.length === 0, pageErrors.join('\n'));
		});
	} finally {
		if (browser)
			await browser.close().catch(() => {});
		aborted = false;
		await check('server exits 0 on SIGTERM', async () => {
			server.proc.kill('SIGTERM');
			const code = await exited(server.proc, WAIT);
			assert(code === 0, `exit ${code}\n${server.stderr()}`);
		});
		if (secured) {
			await check('the secured server exits 0 on SIGTERM and never logged a secret', async () => {
				secured.proc.kill('SIGTERM');
				const code = await exited(secured.proc, WAIT);
				assert(code === 0, `exit ${code}\n${secured.stderr()}`);
				for (const v of Object.values(SECRETS))
					assert(!secured.stderr().includes(v), `the log shows ${v}`);
			});
		}
		clearTimeout(watchdog);
	}
	console.log(`browser: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
	process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
	console.log(`  FAIL  ${e && e.stack || e}`);
	console.log(`browser: ${passed} passed, ${failed + 1} failed`);
	process.exit(1);
});
