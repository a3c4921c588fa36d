#!/usr/bin/env node
// bench/groups.js - group-message load over real WebSockets, for
// scripts/bench-groups.
//
//   NODE_PATH=/usr/share/nodejs node bench/groups.js --url ws://127.0.0.1:27999/ws --members 100 [options]
//
// GROUPS groups of MEMBERS users, each member on its own connection
// (URL?userId=ID). The first member of each group creates it
// (createGroup) and is its sender; every other member acks each
// `message` event it gets (one ack frame per message, as bench/loadgen.js
// does). With --members 1 there are no groups: GROUPS one-to-one pairs
// (sender and recipient), the same load over the one-to-one path, for the
// side-by-side figures.
// Open loop: --rate R messages a second in all, paced evenly over the
// senders; send->ack latency counts from the scheduled send time.
//
// Options (defaults in brackets):
//   --url URL        ws://127.0.0.1:PORT/PATH (loopback only) [required]
//   --members N      members per group, the sender included; 1: one-to-one [100]
//   --groups G       groups (or pairs) [1]
//   --rate R         messages/s in all [20]
//   --seconds S      sending window [10]
//   --grace S        after sending stops, wait up to S s for deliveries [10]
//   --connect-concurrency N   connections opened at once [20]
//   --ack-jitter MS  each member acks after a random 0..MS ms [0]: on
//                    loopback every member answers at once, where real
//                    members, on their own networks, spread out
// A member connection that drops reconnects after a random 0.2-1 s (at
// most 20 times), as clients should, and gets its backlog again; a
// sender that drops ends its sending (its unanswered sends are counted).
//   --no-create      no createGroup: for a backend that knows a group by
//                    its members' names (bench/null-backend.c's groups)
//   --pids LIST      CPU per process tree over the window, "name=pid,..."
//                    (bench/cpu.js)
//   --label TEXT     name of this run in the output
//   --run-id ID      prefix of user and group ids [random]
// Before the measured window each sender sends one warm-up message
// (acked by the members, not counted).
//
// Counted: sends, acks, refused (any error answer to a send, or to an
// ack: a refused ack is a bug), send->ack p50/p99/max; member deliveries
// (a message event for a message of this run), duplicates (the same
// message twice to one member), lost (acked, but not delivered to a
// member by the end of the grace time), member deliveries per second
// over the sending window; send->delivery p50/p99 over every member
// delivery, and send->last member (the whole fan-out) p50/p99 over the
// messages every member got.
// Output: a human summary, then one line `RESULT {json}`. Exit 0 when the
// run completed (read the numbers), 1 usage, 2 connect or setup failed.
// Every loop is bounded in count and time; only loopback is targeted.
'use strict';

const crypto = require('crypto');
const { performance } = require('perf_hooks');
const { CpuSampler } = require('./cpu');
let WebSocket;
try {
	WebSocket = require('ws');
} catch (e) {
	console.error('groups: cannot load ws; run with NODE_PATH=/usr/share/nodejs');
	process.exit(1);
}

function parseArgs(argv) {
	const o = { members: 100, groups: 1, rate: 20, seconds: 10, grace: 10,
		    concurrency: 20, ackJitter: 0, label: '', create: true, pids: null, runId: crypto.randomBytes(4).toString('hex') };
	for (let i = 2; i < argv.length; i++) {
		const a = argv[i], v = argv[i + 1];
		const num = () => { const n = Number(v); if (!(n > 0)) usage(`bad ${a}`); i++; return n; };
		switch (a) {
		case '--url': o.url = v; i++; break;
		case '--members': o.members = num(); break;
		case '--groups': o.groups = num(); break;
		case '--rate': o.rate = num(); break;
		case '--seconds': o.seconds = num(); break;
		case '--grace': o.grace = num(); break;
		case '--connect-concurrency': o.concurrency = num(); break;
		case '--ack-jitter': o.ackJitter = Number(v); i++; break;
		case '--label': o.label = v; i++; break;
		case '--no-create': o.create = false; break;
		case '--pids': o.pids = v; i++; break;
		case '--run-id': o.runId = v; i++; break;
		default: usage(`unknown option ${a}`);
		}
	}
	if (!o.url) usage('--url is required');
	const host = new URL(o.url).hostname;
	if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]')
		usage('only loopback URLs');
	if (o.members * o.groups > 20000) usage('at most 20,000 connections');
	return o;
}

function usage(msg) {
	console.error(`groups: ${msg}`);
	process.exit(1);
}

const o = parseArgs(process.argv);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const stats = {
	sent: 0, acked: 0, refused: 0, refusedAcks: 0, refusedCodes: {},
	deliveries: 0, windowDeliveries: 0, duplicates: 0, latencies: [],
	deliveryLatencies: [],
	closes: 0, reconnects: 0, setupErrors: 0,
};
let windowStart = 0, windowEnd = Infinity;

// One connection: the events go to onEvent; bounded connect time.
function open(user, onEvent) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(`${o.url}?userId=${encodeURIComponent(user)}`,
					 { perMessageDeflate: false, maxPayload: 1 << 24 });
		const t = setTimeout(() => { ws.terminate(); reject(new Error(`connect ${user}: timeout`)); }, 15000);
		ws.on('open', () => { clearTimeout(t); resolve(ws); });
		ws.on('error', (e) => { clearTimeout(t); reject(e); });
		ws.on('close', () => { stats.closes++; });
		ws.on('message', (raw) => {
			let ev;
			try { ev = JSON.parse(raw); } catch (e) { return; }
			onEvent(ev, ws);
		});
	});
}

async function pool(tasks, n) {
	const out = new Array(tasks.length);
	let next = 0;
	async function worker() {
		while (next < tasks.length) {
			const i = next++;
			out[i] = await tasks[i]();
		}
	}
	await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
	return out;
}

function pct(sorted, p) {
	if (sorted.length === 0) return null;
	return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function main() {
	const oneToOne = o.members === 1;
	const perGroup = oneToOne ? 2 : o.members;
	const groups = [];
	const acked = new Map();     // messageId -> group index
	const pending = new Map();   // messageId -> scheduled time
	const sentAt = new Map();    // messageId -> scheduled time, kept
	const lastAt = new Map();    // messageId -> [members reached, latest delivery]
	const seenBy = [];           // per group: Map member -> Set of ids

	for (let g = 0; g < o.groups; g++) {
		const users = [];
		for (let m = 0; m < perGroup; m++) users.push(`${o.runId}-g${g}-u${m}`);
		groups.push({ conv: `${o.runId}-g${g}`, users, sender: null, created: null });
		seenBy.push(new Map());
	}
	// Members (not the senders) first: they ack what they get, and come
	// back when dropped.
	let stopping = false;
	const member = (g, user, onEvent, attempt) => open(user, onEvent).then((ws) => {
		ws.on('close', () => {
			if (stopping || attempt >= 20) return;
			setTimeout(() => {
				stats.reconnects++;
				member(g, user, onEvent, attempt + 1).catch(() => {});
			}, 200 + Math.random() * 800);
		});
		return ws;
	});
	const tasks = [];
	groups.forEach((grp, g) => {
		grp.users.slice(1).forEach((user) => {
			seenBy[g].set(user, new Set());
			tasks.push(() => member(g, user, (ev, ws) => {
				if (ev.type === 'error' && ev.data && ev.data.action === 'ack') {
					stats.refusedAcks++;
					stats.refusedCodes[`ack:${ev.data.code}`] = (stats.refusedCodes[`ack:${ev.data.code}`] || 0) + 1;
				}
				if (ev.type !== 'message') return;
				const id = ev.data.messageId;
				if (!id.startsWith(o.runId)) { // the warm-up's: acked, not counted
					if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ action: 'ack', messageIds: [id] }));
					return;
				}
				const set = seenBy[g].get(user);
				if (set.has(id)) stats.duplicates++;
				else {
					set.add(id);
					stats.deliveries++;
					const now = performance.now();
					const at = sentAt.get(id);
					if (at !== undefined) {
						stats.deliveryLatencies.push(now - at);
						const l = lastAt.get(id) || [0, 0];
						lastAt.set(id, [l[0] + 1, Math.max(l[1], now - at)]);
					}
					if (now >= windowStart && now <= windowEnd) stats.windowDeliveries++;
				}
				const ack = () => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ action: 'ack', messageIds: [id] })); };
				if (o.ackJitter > 0) setTimeout(ack, Math.random() * o.ackJitter);
				else ack();
			}, 0));
		});
	});
	const t0 = performance.now();
	try {
		await pool(tasks, o.concurrency);
	} catch (e) {
		console.error(`groups: ${e.message}`);
		process.exit(2);
	}
	const connectS = (performance.now() - t0) / 1000;
	// Senders: connect, create the group, then send.
	await pool(groups.map((grp) => async () => {
		grp.sender = await open(grp.users[0], (ev) => {
			if (ev.type === 'ack' && ev.data.action === 'createGroup') {
				grp.created && grp.created(true);
			} else if (ev.type === 'error' && ev.data.action === 'createGroup') {
				grp.created && grp.created(false);
			} else if (ev.type === 'ack' && ev.data.action === 'sendMessage') {
				const at = pending.get(ev.data.messageId);
				if (at === undefined) return;
				pending.delete(ev.data.messageId);
				stats.acked++;
				acked.set(ev.data.messageId, groups.indexOf(grp));
				stats.latencies.push(performance.now() - at);
			} else if (ev.type === 'error' && ev.data.action === 'sendMessage') {
				if (!pending.has(ev.data.messageId)) return;
				pending.delete(ev.data.messageId);
				stats.refused++;
				stats.refusedCodes[ev.data.code] = (stats.refusedCodes[ev.data.code] || 0) + 1;
			}
		});
		if (oneToOne || !o.create) return;
		const ok = await new Promise((resolve) => {
			grp.created = resolve;
			grp.sender.send(JSON.stringify({ action: 'createGroup', conversationId: grp.conv,
							 members: grp.users.slice(1) }));
			setTimeout(() => resolve(false), 15000);
		});
		if (!ok) stats.setupErrors++;
	}), o.concurrency).catch((e) => { console.error(`groups: ${e.message}`); process.exit(2); });
	if (stats.setupErrors > 0) {
		console.error(`groups: ${stats.setupErrors} createGroup failed`);
		process.exit(2);
	}
	await sleep(1000); // the group events pass
	// One message per group first, not counted: the workers' first use of
	// the group statements (prepared on first use) and cold caches. Its
	// deliveries are acked but not counted (their ids lack the run's
	// message prefix).
	for (const grp of groups) {
		const f = { action: 'sendMessage', messageId: `warm-${o.runId}-${grp.conv}`,
			    conversationId: grp.conv, content: 'warm-up' };
		if (oneToOne) f.recipientId = grp.users[1];
		grp.sender.send(JSON.stringify(f));
	}
	await sleep(3000);
	// Open loop, paced evenly over the senders.
	const content = 'x'.repeat(100);
	const cpu = new CpuSampler(o.pids, null);
	cpu.start();
	const interval = 1000 / o.rate;
	const total = Math.round(o.rate * o.seconds);
	windowStart = performance.now();
	windowEnd = windowStart + o.seconds * 1000;
	for (let k = 0; k < total; k++) {
		const at = windowStart + k * interval;
		const wait = at - performance.now();
		if (wait > 1) await sleep(wait);
		const g = k % groups.length, grp = groups[g];
		// <senderId>~<k>: bench/null-backend.c finds the sender of an
		// acked id by it (the product takes it as any id).
		const id = `${grp.users[0]}~m${k}`;
		const f = { action: 'sendMessage', messageId: id, conversationId: grp.conv, content };
		if (oneToOne) f.recipientId = grp.users[1];
		pending.set(id, at);
		sentAt.set(id, at);
		stats.sent++;
		grp.sender.send(JSON.stringify(f));
	}
	const expected = () => {
		let n = 0;
		for (const [, g] of acked) n += groups[g].users.length - 1;
		return n;
	};
	const graceEnd = performance.now() + o.grace * 1000;
	// Until every send is answered and every acked one delivered to every
	// member, or the grace time is up.
	while (performance.now() < graceEnd && (pending.size > 0 || stats.deliveries < expected()))
		await sleep(100);
	stopping = true;
	cpu.stop();
	let lost = 0;
	for (const [id, g] of acked)
		for (const [, set] of seenBy[g]) if (!set.has(id)) lost++;
	const lat = stats.latencies.sort((a, b) => a - b);
	const dlat = stats.deliveryLatencies.sort((a, b) => a - b);
	const whole = [];
	for (const [id, g] of acked) {
		const l = lastAt.get(id);
		if (l && l[0] === groups[g].users.length - 1) whole.push(l[1]);
	}
	whole.sort((a, b) => a - b);
	const ms = (xs, p) => (xs.length ? +pct(xs, p).toFixed(1) : null);
	const r = {
		label: o.label || (oneToOne ? 'one-to-one' : `group-${o.members}`),
		members: o.members, groups: o.groups, rate: o.rate, seconds: o.seconds,
		connections: groups.length * perGroup, connect_s: +connectS.toFixed(1),
		sent: stats.sent, acked: stats.acked, unanswered: pending.size,
		refused: stats.refused, refused_acks: stats.refusedAcks, refused_codes: stats.refusedCodes,
		ack_p50_ms: lat.length ? +pct(lat, 0.5).toFixed(1) : null,
		ack_p99_ms: lat.length ? +pct(lat, 0.99).toFixed(1) : null,
		ack_max_ms: lat.length ? +lat[lat.length - 1].toFixed(1) : null,
		delivery_p50_ms: ms(dlat, 0.5), delivery_p99_ms: ms(dlat, 0.99),
		fanout_p50_ms: ms(whole, 0.5), fanout_p99_ms: ms(whole, 0.99), fanout_n: whole.length,
		cpu: cpu.result(),
		deliveries: stats.deliveries, expected_deliveries: expected(),
		deliveries_per_s: +(stats.windowDeliveries / o.seconds).toFixed(1),
		lost, duplicates: stats.duplicates, closes: stats.closes, reconnects: stats.reconnects,
		ack_jitter_ms: o.ackJitter,
	};
	console.log(`${r.label}: ${r.connections} connections (${r.connect_s} s to open), ` +
		    `sent ${r.sent} acked ${r.acked} refused ${r.refused} (acks refused ${r.refused_acks}), ` +
		    `send->ack p50 ${r.ack_p50_ms} ms p99 ${r.ack_p99_ms} ms, ` +
		    `send->delivery p50 ${r.delivery_p50_ms} ms p99 ${r.delivery_p99_ms} ms, ` +
		    `send->last member p50 ${r.fanout_p50_ms} ms p99 ${r.fanout_p99_ms} ms, ` +
		    `deliveries ${r.deliveries}/${r.expected_deliveries} (${r.deliveries_per_s}/s in the window), ` +
		    `lost ${r.lost} duplicates ${r.duplicates}, closes ${r.closes} reconnects ${r.reconnects}, unanswered ${r.unanswered}`);
	const g = r.cpu.groups || {};
	if (Object.keys(g).length)
		console.log(`  CPU, % of one core over ${r.cpu.seconds} s: ` +
			    Object.entries(g).map(([k, v]) => `${k} ${v.pct}`).join(', '));
	console.log(`RESULT ${JSON.stringify(r)}`);
	for (const grp of groups) if (grp.sender) grp.sender.terminate();
	process.exit(0);
}

main().catch((e) => { console.error(`groups: ${e.stack}`); process.exit(2); });
