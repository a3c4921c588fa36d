#!/usr/bin/env node
// bench/connections.js - many idle WebSockets, then a reconnect storm.
//
//   NODE_PATH=/usr/share/nodejs node bench/connections.js --url ws://127.0.0.1:27999/ws \
//       --connections 2000 --rate 200 [options]
//
// 1. Opens N connections (URL?userId=<run>-u<i>, one user each) at R a
//    second, spread over several 127.0.0.x source addresses (localAddress)
//    so that N can exceed one address's ephemeral ports; at most
//    --max-pending handshakes at once.
// 2. Pings each once ({"action":"ping"}, paced at R a second) and counts
//    the pongs; holds them --hold seconds; counts what closes meanwhile.
// 3. Memory: RssAnon (private resident memory; VmRSS would count the
//    shared buffers every PostgreSQL backend touches) of every process of
//    the --pids trees before step 1 and after step 2; (after - before) /
//    opened = kB per connection. VmRSS is reported beside it.
// 4. Reconnect storm (unless --no-storm): every client drops its socket at
//    once (terminate: no close handshake, like a network loss) and
//    reconnects with full-jitter exponential backoff (delay = random(0,
//    min(cap, base * 2^attempt))); reports the time until all are back.
// 5. Closes everything (paced). Every loop is bounded in count and time.
//
// Options (defaults in brackets):
//   --url URL            loopback ws:// URL [required]
//   --connections N      [1000]
//   --rate R             connection opens (and pings, closes) a second [200]
//   --hold S             seconds to hold the open connections [5]
//   --sources K          source addresses 127.0.0.2 .. 127.0.0.(K+1)
//                        [ceil(N / 20000)]
//   --max-pending P      handshakes in flight at most [200]
//   --connect-timeout S  per handshake [15]
//   --no-storm           skip step 4
//   --storm-base MS      first backoff cap [1000]
//   --storm-cap MS       largest backoff [30000]
//   --storm-timeout S    give up the storm after S seconds [120]
//   --pids LIST          "name=pid,..." process trees for RSS
//   --label TEXT         name of the run
// Output: a human summary, then `RESULT {json}`. Exit status 0 (read the
// numbers), 1 usage or an internal error, 130 interrupted (SIGINT).
'use strict';

const fs = require('fs');
const crypto = require('crypto');
const { performance } = require('perf_hooks');
let WebSocket;
try {
	WebSocket = require('ws');
} catch (e) {
	console.error('connections: run with NODE_PATH=/usr/share/nodejs (Debian node-ws)');
	process.exit(1);
}

function usage(msg) {
	const lines = [];
	for (const l of fs.readFileSync(__filename, 'utf8').split('\n').slice(1)) {
		if (!l.startsWith('//')) break;
		lines.push(l.replace(/^\/\/ ?/, ''));
	}
	if (msg) console.error('connections: ' + msg);
	(msg ? console.error : console.log)(lines.join('\n'));
	process.exit(msg ? 1 : 0);
}

const o = {
	url: null, connections: 1000, rate: 200, hold: 5, sources: null, maxPending: 200,
	connectTimeout: 15, storm: true, stormBase: 1000, stormCap: 30000, stormTimeout: 120,
	pids: null, label: '',
};
{
	const a = process.argv.slice(2);
	const num = (n, v, min, max) => {
		const x = Number(v);
		if (!Number.isFinite(x) || x < min || x > max) usage(`${n}: ${min}..${max} expected, got '${v}'`);
		return x;
	};
	for (let i = 0; i < a.length; i++) {
		const k = a[i], v = () => a[++i];
		switch (k) {
		case '--url': o.url = v(); break;
		case '--connections': o.connections = Math.floor(num(k, v(), 1, 200000)); break;
		case '--rate': o.rate = num(k, v(), 0.1, 100000); break;
		case '--hold': o.hold = num(k, v(), 0, 3600); break;
		case '--sources': o.sources = Math.floor(num(k, v(), 1, 250)); break;
		case '--max-pending': o.maxPending = Math.floor(num(k, v(), 1, 100000)); break;
		case '--connect-timeout': o.connectTimeout = num(k, v(), 0.1, 600); break;
		case '--no-storm': o.storm = false; break;
		case '--storm-base': o.stormBase = num(k, v(), 1, 600000); break;
		case '--storm-cap': o.stormCap = num(k, v(), 1, 600000); break;
		case '--storm-timeout': o.stormTimeout = num(k, v(), 1, 3600); break;
		case '--pids': o.pids = v(); break;
		case '--label': o.label = v() || ''; break;
		case '-h': case '--help': usage(); break;
		default: usage(`unknown option '${k}'`);
		}
	}
	if (!o.url) usage('--url is required');
	const u = new URL(o.url);
	if (u.protocol !== 'ws:' || !/^127\.\d+\.\d+\.\d+$|^localhost$/.test(u.hostname)) usage('--url: ws:// on 127.0.0.0/8 only');
	if (o.sources === null) o.sources = Math.max(1, Math.ceil(o.connections / 20000));
}

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
const run = 'c' + Date.now().toString(36) + crypto.randomBytes(2).toString('hex');

// RSS of process trees ----------------------------------------------------------

function procTable() {
	const out = [];
	for (const n of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(n)) continue;
		try {
			const s = fs.readFileSync(`/proc/${n}/stat`, 'latin1');
			const r = s.lastIndexOf(')');
			const ppid = Number(s.slice(r + 2).split(' ')[1]);
			const st = fs.readFileSync(`/proc/${n}/status`, 'latin1');
			// RssAnon: private memory. VmRSS would also count the
			// shared memory each PostgreSQL backend touches.
			const m = /RssAnon:\s+(\d+)/.exec(st), v = /VmRSS:\s+(\d+)/.exec(st);
			out.push({ pid: Number(n), ppid, comm: s.slice(s.indexOf('(') + 1, r), rss: m ? Number(m[1]) : 0, vmrss: v ? Number(v[1]) : 0 });
		} catch (e) {
			/* gone */
		}
	}
	return out;
}

function rssByTree() {
	const res = {};
	if (!o.pids) return res;
	const t = procTable();
	const kids = new Map();
	for (const p of t) {
		if (!kids.has(p.ppid)) kids.set(p.ppid, []);
		kids.get(p.ppid).push(p);
	}
	const byPid = new Map(t.map((p) => [p.pid, p]));
	for (const part of o.pids.split(',').filter(Boolean)) {
		const [name, pid] = part.split('=');
		const root = byPid.get(Number(pid));
		let kb = 0, procs = 0, vm = 0;
		const by = {};
		const todo = root ? [root] : [];
		for (let n = 0; todo.length && n < 100000; n++) {
			const p = todo.pop();
			kb += p.rss;
			vm += p.vmrss;
			procs++;
			by[p.comm] = (by[p.comm] || 0) + p.rss;
			for (const k of kids.get(p.pid) || []) todo.push(k);
		}
		res[name] = { kb, vmRssKb: vm, procs, by };
	}
	return res;
}

// Clients -------------------------------------------------------------------

const clients = [];
for (let i = 0; i < o.connections; i++) {
	clients.push({ i, user: `${run}-u${i}`, src: `127.0.0.${2 + (i % o.sources)}`, ws: null, open: false, pong: false, attempts: 0 });
}
const st = {
	failures: {}, connectMs: [], closedDuringHold: {}, pongs: 0, pending: 0,
	phase: 'open', stormFailures: {}, stormRetries: 0,
};
const bump = (m, k) => (m[k] = (m[k] || 0) + 1);

function connect(c, onFail) {
	return new Promise((resolve) => {
		const t = now();
		let done = false;
		st.pending++;
		const ws = new WebSocket(`${o.url}?userId=${encodeURIComponent(c.user)}`, {
			perMessageDeflate: false, localAddress: c.src, handshakeTimeout: o.connectTimeout * 1000,
		});
		const fin = (err) => {
			if (done) return;
			done = true;
			st.pending--;
			if (err) {
				bump(onFail, err);
				resolve(false);
			} else {
				resolve(true);
			}
		};
		ws.on('unexpected-response', (req, res) => {
			res.resume();
			fin(`HTTP ${res.statusCode}`);
			ws.terminate();
		});
		ws.on('error', (e) => fin(e.code || e.message || 'error'));
		ws.on('open', () => {
			c.ws = ws;
			c.open = true;
			st.connectMs.push(now() - t);
			fin(null);
		});
		ws.on('message', (data) => {
			try {
				const ev = JSON.parse(data.toString());
				if (ev.type === 'pong' && !c.pong) {
					c.pong = true;
					st.pongs++;
				}
			} catch (e) {
				/* not JSON */
			}
		});
		ws.on('close', (code) => {
			if (c.ws === ws) {
				c.open = false;
				if (st.phase === 'hold') bump(st.closedDuringHold, String(code));
			}
			fin(`closed ${code} before open`);
		});
	});
}

function pct(xs, p) {
	if (!xs.length) return null;
	const a = Float64Array.from(xs).sort();
	return a[Math.min(a.length - 1, Math.max(0, Math.ceil(a.length * p) - 1))];
}

async function paced(items, fn, budgetMs) {
	const t0 = now(), iv = 1000 / o.rate, ps = [];
	for (let i = 0; i < items.length; i++) {
		if (now() - t0 > budgetMs) break;
		const due = t0 + i * iv;
		const w = due - now();
		if (w > 1) await sleep(w);
		while (st.pending >= o.maxPending && now() - t0 < budgetMs) await sleep(5);
		ps.push(fn(items[i]));
	}
	await Promise.all(ps);
}

async function main() {
	let stop = false;
	const onSig = () => {
		if (stop) process.exit(130);
		stop = true;
	};
	process.on('SIGINT', onSig);
	process.on('SIGTERM', onSig);
	const rssBefore = rssByTree();
	const t0 = now();
	// Bounded: the opens take N/R seconds; allow twice that plus timeouts.
	const openBudget = (o.connections / o.rate) * 2000 + o.connectTimeout * 1000 + 10000;
	await paced(clients, (c) => (stop ? null : connect(c, st.failures)), openBudget);
	const openSeconds = (now() - t0) / 1000;
	const opened = clients.filter((c) => c.open).length;

	// Ping each, paced.
	st.phase = 'ping';
	await paced(clients.filter((c) => c.open), async (c) => c.ws.send('{"action":"ping"}'), openBudget);
	const tp = now();
	while (!stop && now() - tp < 10000 && st.pongs < clients.filter((c) => c.open).length) await sleep(50);
	const pinged = st.pongs;

	st.phase = 'hold';
	const th = now();
	while (!stop && now() - th < o.hold * 1000) await sleep(100);
	st.phase = 'measure';
	const stillOpen = clients.filter((c) => c.open).length;
	const rssAfter = rssByTree();
	let beforeKb = 0, afterKb = 0;
	const rss = {};
	for (const k of Object.keys(rssAfter)) {
		const b = rssBefore[k] ? rssBefore[k].kb : 0;
		rss[k] = {
			beforeKb: b, afterKb: rssAfter[k].kb, procsAfter: rssAfter[k].procs, byAfter: rssAfter[k].by,
			vmRssBeforeKb: rssBefore[k] ? rssBefore[k].vmRssKb : 0, vmRssAfterKb: rssAfter[k].vmRssKb,
		};
		beforeKb += b;
		afterKb += rssAfter[k].kb;
	}

	// Reconnect storm.
	let storm = null;
	if (o.storm && !stop && stillOpen > 0) {
		st.phase = 'storm';
		const back = clients.filter((c) => c.open);
		for (const c of back) {
			c.open = false;
			const w = c.ws;
			c.ws = null;
			w.terminate();
		}
		const ts = now();
		let ok = 0, gaveUp = 0;
		const one = async (c) => {
			for (let attempt = 0; attempt < 12; attempt++) {
				const capMs = Math.min(o.stormCap, o.stormBase * 2 ** attempt);
				await sleep(Math.random() * capMs);
				if (stop || now() - ts > o.stormTimeout * 1000) break;
				while (st.pending >= o.maxPending * 5 && now() - ts < o.stormTimeout * 1000) await sleep(5);
				if (attempt > 0) st.stormRetries++;
				if (await connect(c, st.stormFailures)) {
					ok++;
					return now() - ts;
				}
			}
			gaveUp++;
			return null;
		};
		const times = (await Promise.all(back.map(one))).filter((x) => x !== null);
		storm = {
			of: back.length, back: ok, gaveUp, retries: st.stormRetries, failures: st.stormFailures,
			seconds: round(times.length ? Math.max(...times) / 1000 : null, 2),
			p50s: round(pct(times, 0.5) / 1000, 2), p99s: round(pct(times, 0.99) / 1000, 2),
		};
	}

	// Close, paced.
	st.phase = 'close';
	const open = clients.filter((c) => c.open);
	await paced(open, async (c) => c.ws.close(1000), (open.length / o.rate) * 2000 + 5000);
	const tc = now();
	while (now() - tc < 5000 && clients.some((c) => c.ws && c.ws.readyState !== WebSocket.CLOSED)) await sleep(50);
	for (const c of clients) if (c.ws) c.ws.terminate();

	const r = {
		label: o.label, url: o.url, runId: run, connections: o.connections, rate: o.rate,
		sources: o.sources, opened, failed: o.connections - opened, failures: st.failures,
		openSeconds: round(openSeconds, 2),
		connectMs: { p50: round(pct(st.connectMs, 0.5), 1), p99: round(pct(st.connectMs, 0.99), 1), max: round(pct(st.connectMs, 1), 1) },
		pinged, stillOpenAfterHold: stillOpen, closedDuringHold: Object.values(st.closedDuringHold).reduce((a, b) => a + b, 0),
		closeCodesDuringHold: st.closedDuringHold, rss,
		rssKbPerConn: opened > 0 && o.pids ? round((afterKb - beforeKb) / opened, 2) : null,
		storm,
	};
	const p = (k, v) => console.log(`  ${k.padEnd(30)} ${v}`);
	console.log(`connections ${o.label} ${o.url} run ${run}`);
	p('asked / opened / failed', `${r.connections} / ${r.opened} / ${r.failed} ${r.failed ? JSON.stringify(r.failures) : ''}`);
	p('open time', `${r.openSeconds} s at ${o.rate}/s from ${o.sources} source address(es)`);
	p('connect ms p50 / p99 / max', `${r.connectMs.p50} / ${r.connectMs.p99} / ${r.connectMs.max}`);
	p('pongs', `${pinged} of ${opened}`);
	p('closed while held', `${r.closedDuringHold} ${r.closedDuringHold ? JSON.stringify(r.closeCodesDuringHold) : ''}`);
	for (const [k, v] of Object.entries(rss)) p(`RssAnon ${k}`, `${v.beforeKb} -> ${v.afterKb} kB (${v.procsAfter} procs; VmRSS ${v.vmRssBeforeKb} -> ${v.vmRssAfterKb} kB)`);
	p('RssAnon per connection', r.rssKbPerConn === null ? '-' : `${r.rssKbPerConn} kB`);
	if (storm) {
		p('storm: back / of', `${storm.back} / ${storm.of} (gave up ${storm.gaveUp}, retries ${storm.retries})`);
		p('storm: all back after', `${storm.seconds} s (p50 ${storm.p50s} s, p99 ${storm.p99s} s)`);
		p('storm: failed attempts', JSON.stringify(storm.failures));
	}
	console.log('RESULT ' + JSON.stringify(r));
	process.exit(stop ? 130 : 0);
}

main().catch((e) => {
	console.error('connections: ' + (e && e.stack ? e.stack : e));
	process.exit(1);
});
