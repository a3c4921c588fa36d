#!/usr/bin/env node
// bench/loadgen.js - message load over real WebSockets, for scripts/bench.
//
//   NODE_PATH=/usr/share/nodejs node bench/loadgen.js --url ws://127.0.0.1:27999/ws [options]
//
// PAIRS pairs of users, a sender and a recipient, each on its own
// connection (URL?userId=ID). Senders send
//   {"action":"sendMessage","messageId":"<senderId>~<k>","conversationId":..,
//    "recipientId":..,"content":..}
// and recipients ack every `message` event, one frame per message:
//   {"action":"ack","messageIds":[id]}
// Closed loop (--window W, the default): every sender keeps at most W
// sends not yet answered by the server (ack or error). Open loop (--rate
// R): R messages a second in all, paced evenly over the senders; latency
// then counts from the scheduled send time (no coordinated omission) and
// "send lag" says how late the load generator itself was.
//
// Options (defaults in brackets):
//   --url URL          ws://127.0.0.1:PORT/PATH (loopback only) [required]
//   --pairs N          sender/recipient pairs [100]
//   --seconds S        measured window [10]
//   --warmup S         load before the window, not measured [2]
//   --window W         closed loop, outstanding sends per sender [8]
//   --rate R           open loop, messages/s in all (instead of --window)
//   --size B           content bytes [100]
//   --grace S          after sending stops, wait up to S s for acks and
//                      deliveries [5]; an acked message not delivered by
//                      then is "lost"
//   --ack-timeout S    a send unanswered this long frees its window slot [10]
//   --connect-concurrency N   connections opened at once [20] (Pushpin
//                      drops connections in bursts of more than ~100-200)
//   --connect-timeout S       per connection [10]
//   --pids LIST        CPU per process tree: "name=pid,name=pid" (the pid
//                      and all its descendants, threads included)
//   --proc-names LIST  CPU per process name, machine-wide:
//                      "pushpin=condure+zurl+pushpin-proxy+pushpin-handler,lighttpd"
//                      or "default" (pushpin, lighttpd, parley-ws, postgres, node)
//   --label TEXT       name of this run in the output
//   --run-id ID        prefix of the user ids [random]
//   --json-only        print only the RESULT line
//   --no-reconnect     a connection that drops stays down (by default it
//                      reconnects with jittered backoff; a sender then
//                      resends its unanswered sends with the same ids)
//
// Output: a human table, then one line `RESULT {json}`. Exit status: 0 run
// done (even with losses: read the numbers), 1 usage, 2 a connection
// failed to open before the run, 3 nothing was acked at all, 130 stopped
// by SIGINT/SIGTERM (the report covers what ran).
// Every loop is bounded in count and time; nothing but loopback is targeted.
'use strict';

const fs = require('fs');
const os = require('os');
const crypto = require('crypto');
const { performance } = require('perf_hooks');
let WebSocket;
try {
	WebSocket = require('ws');
} catch (e) {
	console.error('loadgen: cannot load the ws module; run with NODE_PATH=/usr/share/nodejs (Debian node-ws)');
	process.exit(1);
}

// ---------------------------------------------------------------------------
// Options

function usage(msg) {
	if (msg) console.error('loadgen: ' + msg);
	const head = fs.readFileSync(__filename, 'utf8').split('\n');
	const lines = [];
	for (const l of head.slice(1)) {
		if (!l.startsWith('//')) break;
		lines.push(l.replace(/^\/\/ ?/, ''));
	}
	(msg ? console.error : console.log)(lines.join('\n'));
	process.exit(msg ? 1 : 0);
}

function parseArgs(argv) {
	const o = {
		url: null, pairs: 100, seconds: 10, warmup: 2, window: null,
		rate: null, size: 100, grace: 5, ackTimeout: 10,
		connectConcurrency: 20, connectTimeout: 10, pids: null,
		procNames: null, label: '', runId: null, jsonOnly: false, reconnect: true,
	};
	const num = (name, v, min, max) => {
		const n = Number(v);
		if (v === undefined || !Number.isFinite(n) || n < min || n > max)
			usage(`${name}: a number in ${min}..${max} expected, got '${v}'`);
		return n;
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const v = () => argv[++i];
		switch (a) {
		case '--url': o.url = v(); break;
		case '--pairs': o.pairs = Math.floor(num(a, v(), 1, 20000)); break;
		case '--seconds': o.seconds = num(a, v(), 0.5, 3600); break;
		case '--warmup': o.warmup = num(a, v(), 0, 600); break;
		case '--window': o.window = Math.floor(num(a, v(), 1, 10000)); break;
		case '--rate': o.rate = num(a, v(), 0.1, 1e6); break;
		case '--size': o.size = Math.floor(num(a, v(), 1, 60000)); break;
		case '--grace': o.grace = num(a, v(), 0, 600); break;
		case '--ack-timeout': o.ackTimeout = num(a, v(), 0.1, 600); break;
		case '--connect-concurrency': o.connectConcurrency = Math.floor(num(a, v(), 1, 10000)); break;
		case '--connect-timeout': o.connectTimeout = num(a, v(), 0.1, 600); break;
		case '--pids': o.pids = v(); break;
		case '--proc-names': o.procNames = v(); break;
		case '--label': o.label = v() || ''; break;
		case '--run-id': o.runId = v(); break;
		case '--json-only': o.jsonOnly = true; break;
		case '--no-reconnect': o.reconnect = false; break;
		case '-h': case '--help': usage(); break;
		default: usage(`unknown option '${a}'`);
		}
	}
	if (!o.url) usage('--url is required');
	if (o.window !== null && o.rate !== null) usage('--window and --rate exclude each other');
	if (o.rate === null && o.window === null) o.window = 8;
	let u;
	try {
		u = new URL(o.url);
	} catch (e) {
		usage(`--url: not a URL: ${o.url}`);
	}
	if (u.protocol !== 'ws:') usage('--url must be ws://');
	const h = u.hostname.replace(/^\[|\]$/g, '');
	if (!(/^127\.\d+\.\d+\.\d+$/.test(h) || h === 'localhost' || h === '::1'))
		usage(`--url must be on loopback (127.0.0.0/8, localhost, ::1), not ${h}`);
	if (o.runId === null)
		o.runId = 'b' + Date.now().toString(36) + crypto.randomBytes(3).toString('hex');
	if (!/^[\x21-\x7e]{1,60}$/.test(o.runId) || o.runId.includes('~'))
		usage('--run-id: printable ASCII without "~", at most 60 bytes');
	return o;
}

const opt = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------
const { CpuSampler } = require('./cpu');

// ---------------------------------------------------------------------------
// State

const now = () => performance.now();
function round(x, d) {
	if (x === null || x === undefined || !Number.isFinite(x)) return null;
	const m = 10 ** d;
	return Math.round(x * m) / m;
}

const content = 'x'.repeat(opt.size);
const run = opt.runId;
const msgs = new Map(); // messageId -> {s: send time, a: ack time, d: first delivery, n: deliveries, m: measured?, st}
const stats = {
	sent: 0, sentMeasured: 0, acked: 0, ackedDuplicate: 0, errors: {}, errorsBy: {}, refused: 0,
	ackTimeouts: 0, foreign: 0, statusEvents: 0, recipientAckReplies: 0,
	connectFailures: {}, closes: {}, sendSkipped: 0, lag: [],
	deliveredInWindow: 0, ackedInWindow: 0, unexpectedFrames: 0,
	closesBy: {}, reconnects: 0, reconnectFailures: {}, reconnectGaveUp: 0, resent: 0,
};
let phase = 'connecting'; // connecting, warmup, measure, grace, done
let tMeasure0 = 0, tMeasure1 = 0, tStop = 0;

function countErr(code, action, who) {
	stats.errors[code] = (stats.errors[code] || 0) + 1;
	const k = `${code}/${action || '-'}/${who}`;
	stats.errorsBy[k] = (stats.errorsBy[k] || 0) + 1;
	if (code === 'rate_limited') stats.refused++;
}

const senders = [], recipients = [];
for (let i = 0; i < opt.pairs; i++) {
	const s = {
		i, role: 'sender', user: `${run}-s${i}`, peer: `${run}-r${i}`, conv: `${run}-c${i}`,
		k: 0, outstanding: new Map(), ws: null, blockedUntil: 0, open: false,
	};
	senders.push(s);
	recipients.push({ i, role: 'recipient', user: `${run}-r${i}`, ws: null, open: false, pongs: 0 });
}

// ---------------------------------------------------------------------------
// Connections

function connect(c, onFrame) {
	return new Promise((resolve) => {
		const url = `${opt.url}${opt.url.includes('?') ? '&' : '?'}userId=${encodeURIComponent(c.user)}`;
		let done = false;
		const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: opt.connectTimeout * 1000 });
		const fin = (err) => {
			if (done) return;
			done = true;
			resolve(err);
		};
		ws.on('unexpected-response', (req, res) => {
			fin(`HTTP ${res.statusCode}`);
			res.resume();
			ws.terminate();
		});
		ws.on('error', (e) => fin(e.code || e.message || 'error'));
		ws.on('open', () => {
			c.ws = ws;
			c.open = true;
			fin(null);
		});
		ws.on('message', (data, isBinary) => {
			if (c.ws === ws) onFrame(c, data, isBinary);
		});
		ws.on('close', (code) => {
			if (c.ws === ws && c.open) {
				c.open = false;
				if (phase !== 'done') {
					const k = String(code);
					stats.closes[k] = (stats.closes[k] || 0) + 1;
					const r = `${c.role}:${code}`;
					stats.closesBy[r] = (stats.closesBy[r] || 0) + 1;
					scheduleReconnect(c, onFrame);
				}
			}
			fin(`closed ${code} before open`);
		});
	});
}

// A connection that drops during the load comes back as a client would:
// full-jitter exponential backoff (random(0, min(4 s, 250 ms * 2^n))), at
// most 8 attempts in a row and 20 reconnects per connection. A sender
// then resends its unanswered sends with the same messageIds (the
// contract's idempotency); a recipient gets its backlog from the server
// (the product and the reference store it; the ceiling cannot).
function scheduleReconnect(c, onFrame) {
	if (!opt.reconnect || phase === 'done' || phase === 'connecting') return;
	const attempt = c.attempts || 0;
	if (attempt >= 8 || (c.reconnects || 0) >= 20) {
		stats.reconnectGaveUp++;
		return;
	}
	c.attempts = attempt + 1;
	const delay = Math.random() * Math.min(4000, 250 * 2 ** attempt);
	setTimeout(async () => {
		if (phase === 'done') return;
		const err = await connect(c, onFrame);
		if (err) {
			stats.reconnectFailures[err] = (stats.reconnectFailures[err] || 0) + 1;
			scheduleReconnect(c, onFrame);
			return;
		}
		c.attempts = 0;
		c.reconnects = (c.reconnects || 0) + 1;
		stats.reconnects++;
		if (c.role === 'sender' && c.outstanding.size > 0) {
			const ids = [...c.outstanding.keys()];
			for (const id of ids) {
				c.outstanding.delete(id);
				c.outstanding.set(id, now());
				stats.resent++;
				c.ws.send(sendFrame(c, id));
			}
		}
		if (c.role === 'sender' && opt.window !== null) {
			for (let n = 0; n < opt.window && sending() && c.outstanding.size < opt.window; n++) sendOne(c);
		}
	}, delay);
}

async function connectAll() {
	const all = [...recipients.map((r) => [r, onRecipientFrame]), ...senders.map((s) => [s, onSenderFrame])];
	let next = 0, failed = 0;
	const worker = async () => {
		while (next < all.length) {
			const [c, f] = all[next++];
			const err = await connect(c, f);
			if (err) {
				failed++;
				stats.connectFailures[err] = (stats.connectFailures[err] || 0) + 1;
			}
		}
	};
	const n = Math.min(opt.connectConcurrency, all.length);
	await Promise.all(Array.from({ length: n }, worker));
	return failed;
}

// Frames received -----------------------------------------------------------

function parse(data, isBinary) {
	if (isBinary) return null;
	try {
		const ev = JSON.parse(data.toString());
		return ev && typeof ev === 'object' ? ev : null;
	} catch (e) {
		return null;
	}
}

function onSenderFrame(s, data, isBinary) {
	const ev = parse(data, isBinary);
	if (!ev) {
		stats.unexpectedFrames++;
		return;
	}
	const d = ev.data || {};
	if (ev.type === 'ack' && d.action === 'sendMessage') {
		const m = msgs.get(d.messageId);
		if (!m || m.a !== undefined) return;
		const t = now();
		m.a = t;
		m.st = 'acked';
		stats.acked++;
		if (d.duplicate) stats.ackedDuplicate++;
		if (t >= tMeasure0 && t < tMeasure1) stats.ackedInWindow++;
		freeSlot(s, d.messageId, 0);
	} else if (ev.type === 'error') {
		countErr(d.code || 'unknown', d.action, 'sender');
		// A sender sends only sendMessage (and one ping before the
		// load): an error that names no known messageId (a refused
		// frame is not parsed, so rate_limited names nothing) answers
		// the oldest unanswered send, since one connection's answers
		// come in frame order.
		let id = d.messageId;
		if ((!id || !s.outstanding.has(id)) && d.action !== 'ping' && s.outstanding.size > 0) {
			id = s.outstanding.keys().next().value;
		}
		if (id && s.outstanding.has(id)) {
			const m = msgs.get(id);
			if (m) m.st = 'error:' + (d.code || 'unknown');
			// Back off a little so that a refusing server does not
			// turn the closed loop into a hot loop.
			freeSlot(s, id, 50);
		}
	} else if (ev.type === 'status') {
		stats.statusEvents++;
	} else if (ev.type === 'pong') {
		s.pongs = (s.pongs || 0) + 1;
	} else if (ev.type !== 'message') {
		stats.unexpectedFrames++;
	}
}

function onRecipientFrame(r, data, isBinary) {
	const ev = parse(data, isBinary);
	if (!ev) {
		stats.unexpectedFrames++;
		return;
	}
	const d = ev.data || {};
	if (ev.type === 'message') {
		const id = d.messageId;
		const m = typeof id === 'string' ? msgs.get(id) : undefined;
		if (!m || d.recipientId !== r.user) {
			stats.foreign++;
		} else {
			const t = now();
			if (m.n === 0) {
				m.d = t;
				if (t >= tMeasure0 && t < tMeasure1) stats.deliveredInWindow++;
			}
			m.n++;
		}
		if (r.open && typeof id === 'string') {
			r.ws.send(JSON.stringify({ action: 'ack', messageIds: [id] }));
		}
	} else if (ev.type === 'ack') {
		stats.recipientAckReplies++;
	} else if (ev.type === 'error') {
		countErr(d.code || 'unknown', d.action, 'recipient');
	} else if (ev.type === 'pong') {
		r.pongs++;
	} else {
		stats.unexpectedFrames++;
	}
}

// Sending -------------------------------------------------------------------

function sending() {
	return phase === 'warmup' || phase === 'measure';
}

function sendOne(s, sched) {
	if (!s.open) return false;
	const id = `${s.user}~${s.k++}`;
	const t = now();
	const m = { s: sched === undefined ? t : sched, n: 0, m: phase === 'measure', st: 'sent' };
	msgs.set(id, m);
	s.outstanding.set(id, t);
	stats.sent++;
	if (m.m) stats.sentMeasured++;
	if (sched !== undefined && m.m) stats.lag.push(t - sched);
	s.ws.send(sendFrame(s, id));
	return true;
}

function sendFrame(s, id) {
	return JSON.stringify({
		action: 'sendMessage', messageId: id, conversationId: s.conv,
		recipientId: s.peer, content,
	});
}

function freeSlot(s, id, delayMs) {
	if (!s.outstanding.delete(id)) return;
	if (opt.window === null) return; // open loop: slots do not pace
	if (delayMs > 0) {
		setTimeout(() => {
			if (sending() && s.outstanding.size < opt.window) sendOne(s);
		}, delayMs);
	} else if (sending() && s.outstanding.size < opt.window) {
		sendOne(s);
	}
}

function startClosedLoop() {
	for (const s of senders) for (let j = 0; j < opt.window; j++) sendOne(s);
}

// Open loop: message j (all senders together) is due at t0 + j / rate; it
// goes to sender j % pairs.
let olTimer = null;
function startOpenLoop() {
	const t0 = now();
	const interval = 1000 / opt.rate;
	const maxOutstanding = 10000; // per sender: a stalled server cannot eat all memory
	let j = 0;
	const tick = () => {
		olTimer = null;
		if (!sending()) return;
		const t = now();
		for (let n = 0; n < 100000; n++) {
			const due = t0 + j * interval;
			if (due > t) break;
			const s = senders[j % senders.length];
			j++;
			if (s.outstanding.size >= maxOutstanding || !sendOne(s, due)) stats.sendSkipped++;
		}
		const wait = Math.max(0, t0 + j * interval - now());
		olTimer = setTimeout(tick, Math.min(wait, 1000));
	};
	tick();
}

// Ack timeouts: a send that the server never answers frees its slot.
function sweepTimeouts() {
	const t = now(), lim = opt.ackTimeout * 1000;
	for (const s of senders) {
		for (const [id, ts] of s.outstanding) {
			if (t - ts < lim) break; // insertion order = send order
			stats.ackTimeouts++;
			const m = msgs.get(id);
			if (m && m.st === 'sent') m.st = 'timeout';
			freeSlot(s, id, 0);
		}
	}
}

// ---------------------------------------------------------------------------
// Statistics and report

function pct(sorted, p) {
	if (sorted.length === 0) return null;
	const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1));
	return sorted[i];
}

function dist(xs) {
	const a = Float64Array.from(xs).sort();
	return {
		n: a.length,
		p50: round(pct(a, 0.5), 2), p90: round(pct(a, 0.9), 2),
		p99: round(pct(a, 0.99), 2), max: round(a.length ? a[a.length - 1] : null, 2),
	};
}

function summarize(cpu) {
	const ackLat = [], e2e = [];
	let delivered = 0, deliveredMeasured = 0, duplicates = 0, lost = 0, lostMeasured = 0;
	let unanswered = 0, ackedMeasured = 0, refusedMeasured = 0;
	for (const m of msgs.values()) {
		if (m.n > 0) delivered++;
		if (m.n > 1) duplicates += m.n - 1;
		const acked = m.a !== undefined;
		if (acked && m.n === 0) {
			lost++;
			if (m.m) lostMeasured++;
		}
		if (!acked && m.st === 'sent') unanswered++;
		if (!m.m) continue;
		if (m.n > 0) deliveredMeasured++;
		if (acked) {
			ackedMeasured++;
			ackLat.push(m.a - m.s);
		}
		if (m.st === 'error:rate_limited') refusedMeasured++;
		if (m.n > 0) e2e.push(m.d - m.s);
	}
	const secs = (tMeasure1 - tMeasure0) / 1000;
	const closes = Object.values(stats.closes).reduce((a, b) => a + b, 0);
	return {
		label: opt.label,
		url: opt.url,
		mode: opt.rate !== null ? 'rate' : 'window',
		window: opt.window,
		rate: opt.rate,
		pairs: opt.pairs,
		connections: opt.pairs * 2,
		size: opt.size,
		warmup: opt.warmup,
		seconds: round(secs, 3),
		runId: run,
		sent: stats.sent,
		acked: stats.acked,
		delivered,
		sentMeasured: stats.sentMeasured,
		ackedMeasured,
		deliveredMeasured,
		deliveredPerSec: round(stats.deliveredInWindow / secs, 1),
		ackedPerSec: round(stats.ackedInWindow / secs, 1),
		sendAckMs: dist(ackLat),
		e2eMs: dist(e2e),
		lost,
		lostMeasured,
		duplicates,
		unanswered,
		ackTimeouts: stats.ackTimeouts,
		ackedDuplicateFlag: stats.ackedDuplicate,
		refused: stats.refused,
		refusedMeasured,
		errors: { ...stats.errors },
		errorsBy: { ...stats.errorsBy },
		errorCount: Object.entries(stats.errors).filter(([k]) => k !== 'rate_limited').reduce((a, [, v]) => a + v, 0),
		foreign: stats.foreign,
		unexpectedFrames: stats.unexpectedFrames,
		statusEvents: stats.statusEvents,
		recipientAckReplies: stats.recipientAckReplies,
		sendSkipped: stats.sendSkipped,
		sendLagMs: opt.rate !== null ? dist(stats.lag) : null,
		connectFailures: stats.connectFailures,
		closes: { ...stats.closes },
		closesBy: { ...stats.closesBy },
		closeCount: closes,
		reconnects: stats.reconnects,
		reconnectFailures: { ...stats.reconnectFailures },
		reconnectGaveUp: stats.reconnectGaveUp,
		resent: stats.resent,
		graceSeconds: round((tStop ? (now() - tStop) : 0) / 1000, 2),
		cpu,
	};
}

function fmt(x, d = 1) {
	return x === null || x === undefined ? '-' : typeof x === 'number' ? x.toFixed(d) : String(x);
}

function printHuman(r) {
	const out = [];
	const p = (k, v) => out.push(`  ${k.padEnd(28)} ${v}`);
	out.push(`loadgen ${r.label ? r.label + ' ' : ''}${r.url}  run ${r.runId}`);
	p('load', r.mode === 'rate' ? `open loop, ${r.rate} msg/s in all` : `closed loop, window ${r.window} per sender`);
	p('pairs / connections', `${r.pairs} / ${r.connections}`);
	p('content bytes', r.size);
	p('warmup / window', `${r.warmup} s / ${r.seconds} s`);
	p('sent / acked / delivered', `${r.sent} / ${r.acked} / ${r.delivered}  (all phases)`);
	p('  of them in the window', `${r.sentMeasured} / ${r.ackedMeasured} / ${r.deliveredMeasured}`);
	p('delivered/s (window)', fmt(r.deliveredPerSec));
	p('acked/s (window)', fmt(r.ackedPerSec));
	out.push(`  ${'latency ms'.padEnd(28)} ${'p50'.padStart(9)} ${'p90'.padStart(9)} ${'p99'.padStart(9)} ${'max'.padStart(9)}`);
	for (const [k, d] of [['send->ack', r.sendAckMs], ['send->delivery (e2e)', r.e2eMs]].concat(r.sendLagMs ? [['send lag (loadgen)', r.sendLagMs]] : [])) {
		out.push(`  ${('  ' + k).padEnd(28)} ${fmt(d.p50, 2).padStart(9)} ${fmt(d.p90, 2).padStart(9)} ${fmt(d.p99, 2).padStart(9)} ${fmt(d.max, 2).padStart(9)}`);
	}
	p('lost (acked, not delivered)', `${r.lost} (window: ${r.lostMeasured})`);
	p('duplicates', r.duplicates);
	p('refused (rate_limited)', r.refused);
	p('error frames', Object.keys(r.errors).length ? JSON.stringify(r.errors) : 0);
	if (Object.keys(r.errorsBy).length) p('  by code/action/receiver', JSON.stringify(r.errorsBy));
	p('unanswered sends', `${r.unanswered} (ack timeouts ${r.ackTimeouts})`);
	p('status events to senders', r.statusEvents);
	p('foreign/unexpected frames', `${r.foreign} / ${r.unexpectedFrames}`);
	p('connect failures', Object.keys(r.connectFailures).length ? JSON.stringify(r.connectFailures) : 0);
	p('closes during run', r.closeCount ? JSON.stringify(r.closesBy) : 0);
	if (r.closeCount || r.reconnects) {
		p('  reconnects / resent sends', `${r.reconnects} / ${r.resent} (failed attempts ${JSON.stringify(r.reconnectFailures)}, gave up ${r.reconnectGaveUp})`);
	}
	if (r.cpu && r.cpu.groups && Object.keys(r.cpu.groups).length) {
		out.push(`  CPU, % of one core over ${r.cpu.seconds} s (machine: ${fmt(r.cpu.machineBusyPct)}% of ${r.cpu.cores} cores busy)`);
		for (const [g, v] of Object.entries(r.cpu.groups)) {
			const by = Object.entries(v.by).sort((a, b) => b[1] - a[1]).map(([c, x]) => `${c} ${fmt(x)}`).join(', ');
			out.push(`    ${g.padEnd(26)} ${fmt(v.pct).padStart(6)}   (${v.procs} procs: ${by})`);
		}
	}
	console.log(out.join('\n'));
}

// ---------------------------------------------------------------------------
// Main

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

function closeAll() {
	for (const c of [...senders, ...recipients]) {
		if (c.ws) {
			try {
				c.ws.close(1000);
			} catch (e) {
				/* already closed */
			}
		}
	}
}

async function waitClosed(ms) {
	const t = now();
	while (now() - t < ms) {
		if ([...senders, ...recipients].every((c) => !c.ws || c.ws.readyState === WebSocket.CLOSED)) return;
		await sleep(50);
	}
	for (const c of [...senders, ...recipients]) if (c.ws) c.ws.terminate();
}

let interrupted = false;
async function main() {
	process.on('SIGINT', () => {
		if (interrupted) process.exit(130);
		interrupted = true;
	});
	process.on('SIGTERM', () => {
		interrupted = true;
	});
	const cpu = new CpuSampler(opt.pids, opt.procNames);
	if (opt.pids) cpu.trees.push({ name: 'loadgen', root: process.pid });

	const failed = await connectAll();
	if (failed > 0) {
		console.error(`loadgen: ${failed} of ${opt.pairs * 2} connections failed to open: ${JSON.stringify(stats.connectFailures)}`);
		phase = 'done';
		closeAll();
		await waitClosed(2000);
		const r = summarize(null);
		console.log('RESULT ' + JSON.stringify({ ...r, failed: 'connect' }));
		process.exit(2);
	}
	// Every connection answers a ping through the whole chain before the
	// load starts, --connect-concurrency at a time: Pushpin drops
	// connections (1006) when a few hundred requests arrive at once.
	const everyone = [...recipients, ...senders];
	const tp = now();
	for (let i = 0; i < everyone.length && now() - tp < 30000; i += opt.connectConcurrency) {
		const batch = everyone.slice(i, i + opt.connectConcurrency);
		for (const c of batch) if (c.open) c.ws.send('{"action":"ping"}');
		const tb = now();
		while (now() - tb < 10000 && !batch.every((c) => !c.open || (c.pongs || 0) >= 1)) await sleep(5);
	}
	const down = everyone.filter((c) => !c.open || !(c.pongs >= 1));
	if (down.length > 0) {
		console.error(`loadgen: ${down.length} connections closed or did not answer a ping before the load: ${JSON.stringify(stats.closes)}`);
		phase = 'done';
		closeAll();
		await waitClosed(2000);
		console.log('RESULT ' + JSON.stringify({ ...summarize(null), failed: 'ping' }));
		process.exit(2);
	}
	await sleep(200);

	const sweeper = setInterval(sweepTimeouts, 500);
	const tStart = now();
	tMeasure0 = tStart + opt.warmup * 1000;
	tMeasure1 = tMeasure0 + opt.seconds * 1000;
	phase = opt.warmup > 0 ? 'warmup' : 'measure';
	if (phase === 'measure') cpu.start();
	if (opt.rate !== null) startOpenLoop();
	else startClosedLoop();
	while (!interrupted && now() < tMeasure1) {
		if (phase === 'warmup' && now() >= tMeasure0) {
			phase = 'measure';
			cpu.start();
		}
		await sleep(Math.max(1, Math.min(100, (phase === 'warmup' ? tMeasure0 : tMeasure1) - now())));
	}
	if (phase === 'warmup') cpu.start();
	tMeasure1 = Math.min(tMeasure1, now());
	if (tMeasure1 <= tMeasure0) tMeasure1 = tMeasure0 + 1;
	cpu.stop();
	phase = 'grace';
	tStop = now();
	if (olTimer) clearTimeout(olTimer);

	// Grace: wait for outstanding acks and for every acked message to be
	// delivered, at most --grace seconds.
	const pending = () => {
		for (const s of senders) if (s.outstanding.size > 0) return true;
		for (const m of msgs.values()) if (m.a !== undefined && m.n === 0) return true;
		return false;
	};
	while (!interrupted && now() - tStop < opt.grace * 1000 && pending()) await sleep(100);
	// Let the last acks of recipients reach the server (and status events
	// come back) before closing.
	if (!interrupted) await sleep(Math.min(500, opt.grace * 1000));
	clearInterval(sweeper);
	const r = summarize(cpu.result());
	phase = 'done';
	closeAll();
	await waitClosed(3000);
	if (!opt.jsonOnly) printHuman(r);
	console.log('RESULT ' + JSON.stringify(r));
	// 130 when interrupted: the calling shell then stops too (a program
	// that handles SIGINT itself does not make bash act on it).
	process.exit(interrupted ? 130 : r.acked > 0 ? 0 : 3);
}

main().catch((e) => {
	console.error('loadgen: ' + (e && e.stack ? e.stack : e));
	process.exit(1);
});
