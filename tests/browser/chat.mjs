// tests/browser/chat.mjs - drives the chat page (web/) in headless
// Chromium, as two people would, for tests/integration/test_browser.py.
//
//   node tests/browser/chat.mjs --url http://127.0.0.1:PORT/ --out DIR \
//       [--modules DIR] [--chromium /usr/bin/chromium]
//
// --url is the page on a running stack (Pushpin's port), --out where the
// screenshots go, --modules the node_modules that hold playwright-core
// (default: tests/browser/node_modules, where scripts/lib.sh's
// parley_install_browser_deps puts it). It drives Debian's chromium; it
// downloads no browser. With PARLEY_CHAT_JWT_URL (a mount in auth mode
// jwt), PARLEY_CHAT_TOKEN and PARLEY_CHAT_TOKEN_USER (the token's sub) in
// the environment, a third page signs in with the token.
//
// Prints one JSON object a line: {"ok":bool,"name":"...","diag":"..."}
// for each check, {"screenshot":"PATH"} for each picture, and ends with
// {"done":true} when the scenario ran to its end. Every wait is bounded
// (10 s each, 150 s in all), and the pages may reach loopback only:
// any other request is aborted and fails a check.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
	options: {
		url: { type: 'string' },
		out: { type: 'string' },
		modules: { type: 'string' },
		chromium: { type: 'string', default: '/usr/bin/chromium' },
	},
});
const here = path.dirname(fileURLToPath(import.meta.url));
const WAIT = 10000;

function emit(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

let failed = 0;
function check(cond, name, diag) {
	if (!cond) failed++;
	emit(diag === undefined || cond ? { ok: !!cond, name } : { ok: !!cond, name, diag: String(diag) });
	return cond;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const isLoopback = (u) => LOOPBACK.has(new URL(u).hostname);

if (!opt.url || !opt.out || !isLoopback(opt.url)) {
	console.error('usage: chat.mjs --url http://127.0.0.1:PORT/ --out DIR (loopback only)');
	process.exit(64);
}
setTimeout(() => {
	check(false, 'the scenario finished within 150 s');
	process.exit(1);
}, 150000).unref();

const require = createRequire(import.meta.url);
const { chromium } = require(path.join(opt.modules || path.join(here, 'node_modules'), 'playwright-core'));

const run = crypto.randomBytes(4).toString('hex');
const A = `alice-${run}`;
const B = `bob-${run}`;
const blocked = [];
const pageErrors = [];

async function newPage(browser) {
	const ctx = await browser.newContext({ viewport: { width: 1000, height: 620 } });
	ctx.setDefaultTimeout(WAIT);
	await ctx.route('**/*', (route) => {
		const u = route.request().url();
		if (isLoopback(u)) return route.continue();
		blocked.push(u);
		return route.abort();
	});
	const page = await ctx.newPage();
	page.on('pageerror', (e) => pageErrors.push(String(e)));
	return page;
}

async function login(page, user) {
	await page.fill('#user-id', user);
	await page.click('#connect');
	await page.waitForSelector('#conn-status[data-state="open"]');
}

const msg = (id) => `#messages li[data-message-id="${id}"]`;
const item = (conv) => `#conversations li[data-conversation-id="${conv}"]`;

// The status of message `id` on `page` once it is one of `want`.
async function statusOf(page, id, want) {
	await page.waitForFunction(([sel, w]) => {
		const li = document.querySelector(sel);
		return li && w.includes(li.dataset.status);
	}, [msg(id), want], { timeout: WAIT });
	return page.getAttribute(msg(id), 'data-status');
}

// Sends `text` from `page`'s open conversation; returns its messageId.
async function sendText(page, text) {
	const before = await page.locator('#messages li[data-direction="out"]').count();
	await page.fill('#message-input', text);
	await page.press('#message-input', 'Enter');
	const li = page.locator('#messages li[data-direction="out"]').nth(before);
	await li.waitFor();
	return li.getAttribute('data-message-id');
}

async function shoot(page, name) {
	const file = path.join(opt.out, name);
	await page.screenshot({ path: file });
	emit({ screenshot: file });
}

async function scenario(browser) {
	const pa = await newPage(browser);
	const pb = await newPage(browser);
	await pa.goto(opt.url);
	await pb.goto(opt.url);
	check(await pa.title() === 'Parley', 'the page loads at /');

	await login(pa, A);
	await login(pb, B);
	check(true, `${A} and ${B} connect`);

	// A opens a chat with B and sends.
	await pa.fill('#new-peer', B);
	await pa.click('#new-chat');
	await pa.waitForSelector('#chat:not([data-conversation-id=""])');
	const conv = await pa.getAttribute('#chat', 'data-conversation-id');
	const text = `Hello ${B}, from the browser`;
	const id1 = await sendText(pa, text);
	check(/^[0-9a-f-]{36}$/.test(id1 || ''), 'the page makes the messageId (a UUID)', id1);

	// B gets it in the list, unread, and acks it: A sees "delivered".
	await pb.waitForSelector(`${item(conv)}[data-unread="1"]`);
	check(await pb.textContent(`${item(conv)} .last`) === text,
		'the recipient sees the conversation with the message, unread');
	check(await statusOf(pa, id1, ['delivered', 'read']) === 'delivered',
		'the sender sees the delivered tick (the recipient acked, has not read)');

	// B opens it: markRead, A sees "read".
	await pb.click(item(conv));
	await pb.waitForSelector(msg(id1));
	check(await pb.textContent(`${msg(id1)} .content`) === text,
		'the recipient sees the message in the open conversation');
	check(await statusOf(pa, id1, ['read']) === 'read',
		'the sender sees the read tick once the recipient viewed it');
	await pb.waitForSelector(`${item(conv)}[data-unread="0"]`);
	check(true, 'the recipient has nothing unread');

	// Typing, both ways.
	await pa.locator('#message-input').pressSequentially('I am typ', { delay: 20 });
	await pb.waitForSelector('#typing:not([hidden])');
	check((await pb.textContent('#typing')).includes(A),
		'the recipient sees the typing indicator', await pb.textContent('#typing'));
	await pa.fill('#message-input', '');
	await pb.waitForSelector('#typing[hidden]', { state: 'attached' });
	check(true, 'the typing indicator goes away when the sender stops');

	await pb.locator('#message-input').pressSequentially('Hi', { delay: 20 });
	await pa.waitForSelector('#typing:not([hidden])');
	check((await pa.textContent('#typing')).includes(B),
		'the sender sees the other side typing too');
	await pb.fill('#message-input', '');
	const reply = 'Hi! Got it.';
	const id2 = await sendText(pb, reply);
	await pa.waitForSelector(msg(id2));
	check(await statusOf(pb, id2, ['read']) === 'read',
		'a reply to the open conversation is read at once');
	await pb.locator('#message-input').pressSequentially('One more thing', { delay: 20 });
	await pa.waitForSelector('#typing:not([hidden])');
	await shoot(pa, 'chat.png');
	await pb.fill('#message-input', '');

	// A loses the connection and sends meanwhile: the outbox sends it
	// after the reconnect (backoff), and the ack comes.
	await pa.evaluate(() => window.parleyChat.dropConnection());
	const id3 = await sendText(pa, 'Sent while the connection was down');
	check(await pa.getAttribute(msg(id3), 'data-status') === 'pending',
		'a message sent while disconnected waits in the outbox');
	await pa.waitForSelector('#conn-status[data-state="waiting"]');
	await pa.waitForSelector('#conn-status[data-state="open"]');
	check(true, 'the page reconnects by itself');
	check(['delivered', 'read'].includes(await statusOf(pa, id3, ['delivered', 'read'])),
		'the message is sent after the reconnect and reaches the recipient');
	await pb.waitForSelector(msg(id3));
	check(await pb.locator(msg(id3)).count() === 1, 'the recipient shows it once');

	// B reloads: the conversation is remembered, its history loaded.
	await pb.reload();
	check(await pb.inputValue('#user-id') === B, 'the page remembers the user id');
	await pb.click('#connect');
	await pb.waitForSelector('#conn-status[data-state="open"]');
	await pb.click(item(conv));
	await pb.waitForSelector(msg(id3));
	const history = await pb.locator('#messages li.msg').evaluateAll(
		(lis) => lis.map((li) => li.dataset.messageId));
	check(JSON.stringify(history) === JSON.stringify([id1, id2, id3]),
		'after a reload the history comes from getMessages, oldest first', history);

	// A group: A creates it with B, B learns it from the group event.
	const title = `Team ${run}`;
	await pa.fill('#group-title', title);
	await pa.fill('#group-members', B);
	await pa.click('#create-group');
	await pa.waitForSelector('#conversations li.selected[data-group="true"]');
	const group = await pa.getAttribute('#chat', 'data-conversation-id');
	await pb.waitForSelector(item(group));
	check(await pb.textContent(`${item(group)} .title`) === title,
		'the member sees the new group with its title');
	await pa.waitForFunction(() => document.getElementById('chat-members').textContent.includes(','));
	const gid = await sendText(pa, 'Hello, team');
	await pb.waitForSelector(`${item(group)}[data-unread="1"]`);
	check(await statusOf(pa, gid, ['delivered', 'read']) === 'delivered',
		'group: the sender sees the member\'s delivered receipt');
	await pb.click(item(group));
	await pb.waitForSelector(msg(gid));
	check(await pb.textContent(`${msg(gid)} .sender`) === A,
		'group: the member sees who sent it');
	check(await statusOf(pa, gid, ['read']) === 'read',
		'group: the sender sees the read receipt');
	await shoot(pb, 'chat-recipient.png');

	// A third user signs in with a token (auth mode jwt) and writes to A.
	const jwt = process.env.PARLEY_CHAT_JWT_URL;
	const C = process.env.PARLEY_CHAT_TOKEN_USER;
	if (jwt && C && process.env.PARLEY_CHAT_TOKEN) {
		const pc = await newPage(browser);
		await pc.goto(opt.url);
		await pc.fill('#token', process.env.PARLEY_CHAT_TOKEN);
		await pc.fill('#ws-url', jwt);
		await pc.click('#connect');
		await pc.waitForSelector('#conn-status[data-state="open"]');
		check((await pc.textContent('#conn-status')).includes(C),
			'a token signs in as its sub (auth mode jwt)');
		await pc.fill('#new-peer', A);
		await pc.click('#new-chat');
		const direct = await pc.getAttribute('#chat', 'data-conversation-id');
		await sendText(pc, 'Hello from a token');
		await pa.waitForSelector(`${item(direct)}[data-unread="1"]`);
		check(await pa.textContent(`${item(direct)} .last`) === 'Hello from a token'
			&& await pa.textContent(`${item(direct)} .title`) === C,
			'a message from the token user reaches the other mount\'s user');
	}

	check(blocked.length === 0, 'the pages requested nothing outside loopback', blocked.join(' '));
	check(pageErrors.length === 0, 'no script errors', pageErrors.join('\n'));
	return [pa, pb];
}

let browser;
try {
	fs.mkdirSync(opt.out, { recursive: true });
	browser = await chromium.launch({
		executablePath: opt.chromium,
		timeout: 30000,
		// As root (CI) Chromium needs --no-sandbox; the rest keep it off
		// the network, which is closed here anyway.
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update',
			'--disable-sync'],
	});
	await scenario(browser);
	emit({ done: true });
} catch (e) {
	check(false, 'the scenario ran to its end', e && e.stack ? e.stack : e);
	// A picture of each page as it was, for the failure's log.
	for (const [i, ctx] of (browser ? browser.contexts() : []).entries()) {
		for (const page of ctx.pages()) {
			await shoot(page, `failure-${i}.png`).catch(() => {});
		}
	}
} finally {
	if (browser) await browser.close().catch(() => {});
}
process.exit(failed ? 1 : 0);
