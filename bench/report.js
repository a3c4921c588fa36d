#!/usr/bin/env node
// bench/report.js - the tables of scripts/bench from its runs.jsonl.
//
//   node bench/report.js [--latency] RUNS.jsonl
//   node bench/report.js --connections RUNS.jsonl
//
// One line per run (loadgen's RESULT plus round and target), then the
// ratios product/reference and product/ceiling ("null") per round and
// overall (the overall ratio is that of the means over the rounds).
// --latency puts the end-to-end p99 first (the runs were at a fixed rate).
'use strict';

const fs = require('fs');

const args = process.argv.slice(2);
const latency = args.includes('--latency');
let connMode = args.includes('--connections');
const file = args.filter((a) => !a.startsWith('--')).pop();
if (!file) {
	console.error('usage: report.js [--latency|--connections] RUNS.jsonl');
	process.exit(64);
}
let runs = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
// bench/connections.js results have no latencies: report them as such.
if (!connMode && runs.length > 0 && runs.every((r) => r.e2eMs === undefined && r.opened !== undefined)) connMode = true;
runs = runs.filter((r) => (connMode ? r.opened !== undefined : r.e2eMs !== undefined));

const f = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
const pad = (s, n) => String(s).padStart(n);
const name = (t) => (t === 'null' ? 'ceiling' : t);

function table(head, rows) {
	const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
	const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : pad(c, w[i]))).join('  ');
	return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

// CPU columns (% of one core) from loadgen's --pids groups.
function cpu(r) {
	const g = (r.cpu && r.cpu.groups) || {};
	const by = (grp, comm) => (g[grp] && g[grp].by ? g[grp].by[comm] : undefined);
	return {
		pushpin: g.pushpin ? g.pushpin.pct : undefined,
		lighttpd: by('lighttpd', 'lighttpd'),
		workers: by('lighttpd', 'parley-ws'),
		server: g.reference ? g.reference.pct : undefined,
		postgres: g.postgres ? g.postgres.pct : undefined,
		loadgen: g.loadgen ? g.loadgen.pct : undefined,
		machine: r.cpu ? r.cpu.machineBusyPct : undefined,
	};
}

if (connMode) {
	const rows = runs.map((r) => [
		`${r.round} ${name(r.target)}`, r.connections, r.opened, r.failed,
		Object.keys(r.failures || {}).length ? JSON.stringify(r.failures) : '-',
		r.pinged, f(r.openSeconds, 1), f(r.connectMs && r.connectMs.p99, 1),
		r.closedDuringHold, f(r.rssKbPerConn, 1),
		r.storm ? `${r.storm.back}/${r.storm.of}` : '-',
		r.storm ? f(r.storm.seconds, 1) : '-',
		r.storm ? r.storm.retries : '-',
	]);
	console.log('\nConnections (kB/conn: private resident memory (RssAnon) of all processes of the target, after - before, per opened connection)\n');
	console.log(table(['run', 'asked', 'opened', 'failed', 'failures', 'pinged', 'open s', 'conn p99 ms', 'closed', 'kB/conn', 'storm back', 'storm s', 'retries'], rows));
	for (const r of runs) {
		if (!r.rss) continue;
		const parts = Object.entries(r.rss).map(([k, v]) => `${k} ${v.beforeKb}->${v.afterKb} kB`);
		console.log(`  ${r.round} ${name(r.target)}: ${parts.join(', ')}`);
	}
	process.exit(0);
}

const rows = runs.map((r) => {
	const c = cpu(r);
	const errs = Object.entries(r.errors || {}).filter(([k]) => k !== 'rate_limited').reduce((a, [, v]) => a + v, 0);
	const base = [
		`${r.round} ${name(r.target)}`, r.mode === 'rate' ? `${r.rate}/s` : `w${r.window}`,
		f(r.deliveredPerSec, 0),
	];
	const lat = [f(r.e2eMs.p50, 1), f(r.e2eMs.p99, 1), f(r.sendAckMs.p50, 1), f(r.sendAckMs.p99, 1)];
	return base.concat(latency ? [f(r.e2eMs.p99, 1), f(r.e2eMs.p50, 1), f(r.sendAckMs.p50, 1), f(r.sendAckMs.p99, 1)] : lat, [
		r.lost, r.duplicates, r.refused, errs, r.closeCount + Object.values(r.connectFailures || {}).reduce((a, b) => a + b, 0),
		f(c.pushpin), f(c.lighttpd), f(c.workers), f(c.server), f(c.postgres), f(c.loadgen), f(c.machine),
	]);
});
const head = ['run', 'load', 'deliv/s'].concat(
	latency ? ['e2e p99', 'e2e p50', 'ack p50', 'ack p99'] : ['e2e p50', 'e2e p99', 'ack p50', 'ack p99'],
	['lost', 'dup', 'refused', 'errors', 'conn', 'pushpin%', 'lighttpd%', 'workers%', 'server%', 'postgres%', 'loadgen%', 'machine%'],
);
console.log('\nRuns (latency in ms; CPU in % of one core over the measured window; machine = % of all cores busy)\n');
console.log(table(head, rows));

// Ratios
const rounds = [...new Set(runs.map((r) => r.round))].filter((n) => n > 0).sort((a, b) => a - b);
const get = (round, target) => runs.filter((r) => r.round === round && r.target === target).pop();
const ratio = (a, b) => (a !== undefined && b !== undefined && b !== 0 && a !== null && b !== null ? a / b : null);
const metrics = [
	['delivered/s', (r) => r.deliveredPerSec],
	['e2e p50', (r) => r.e2eMs.p50],
	['e2e p99', (r) => r.e2eMs.p99],
	['ack p99', (r) => r.sendAckMs.p99],
];
if (latency) metrics.unshift(metrics.splice(2, 1)[0]);
const ratioRows = [];
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
for (const [label, pick] of metrics) {
	for (const other of ['reference', 'null']) {
		const per = rounds.map((n) => {
			const p = get(n, 'product'), o = get(n, other);
			return p && o ? ratio(pick(p), pick(o)) : null;
		});
		const ps = rounds.map((n) => get(n, 'product')).filter(Boolean).map(pick).filter((x) => x !== null);
		const os = rounds.map((n) => get(n, other)).filter(Boolean).map(pick).filter((x) => x !== null);
		const overall = ratio(mean(ps), mean(os));
		if (per.every((x) => x === null) && overall === null) continue;
		ratioRows.push([`${label}  product/${name(other)}`, ...per.map((x) => f(x, 2)), f(overall, 2)]);
	}
}
if (ratioRows.length) {
	console.log('\nRatios (throughput: higher is better for the product; latency: lower is better)\n');
	console.log(table(['metric', ...rounds.map((n) => `round ${n}`), 'overall'], ratioRows));
}
const bad = runs.filter((r) => r.lost || r.duplicates || r.closeCount);
if (bad.length) {
	console.log('\nNote: ' + bad.map((r) => `${name(r.target)}#${r.round}: lost ${r.lost}, duplicates ${r.duplicates}, closes ${JSON.stringify(r.closes)}`).join('; '));
}
const refused = runs.filter((r) => r.refused > 0);
if (refused.length) {
	console.log('\nWarning: ' + refused.map((r) => `${name(r.target)}#${r.round} refused ${r.refused} frames (rate_limited)`).join('; ') +
		'. The target\'s rate limit capped the offered load: compare with care, or lift it (scripts/bench --product-conf \'rate_limit = 100000\' --product-conf \'rate_burst = 100000\').');
}
const cap = runs.find((r) => r.round === 0 && r.target === 'null');
if (cap) console.log(`\nCeiling capacity (round 0, closed loop): ${f(cap.deliveredPerSec, 0)} delivered/s`);
