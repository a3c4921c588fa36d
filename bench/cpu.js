// bench/cpu.js - CPU time per process group from /proc, for the load
// generators (bench/loadgen.js, bench/groups.js): utime + stime of every
// thread of a process, over a measured window.
//
//   const { CpuSampler } = require('./cpu');
//   const cpu = new CpuSampler('pushpin=1234,lighttpd=5678', 'default');
//   cpu.start(); ...; cpu.stop(); cpu.result()
//   -> {groups: {name: {pct, procs, by: {comm: pct}}}, machineBusyPct, cores, seconds}
//
// pids: "name=pid,..." (a process and its descendants); names:
// "group=comm+comm,comm" (processes by /proc/PID/comm), or "default".
'use strict';

const fs = require('fs');
const os = require('os');
const { performance } = require('perf_hooks');

function round(x, d) {
	if (x === null || x === undefined || !Number.isFinite(x)) return null;
	const m = 10 ** d;
	return Math.round(x * m) / m;
}

const CLK_TCK = 100; // Linux's USER_HZ on every architecture Debian ships

function readStat(pid) {
	let s;
	try {
		s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
	} catch (e) {
		return null;
	}
	const l = s.indexOf('('), r = s.lastIndexOf(')');
	if (l < 0 || r < 0) return null;
	const f = s.slice(r + 2).split(' ');
	return {
		pid, comm: s.slice(l + 1, r), ppid: Number(f[1]),
		ticks: Number(f[11]) + Number(f[12]), start: Number(f[19]),
	};
}

function allStats() {
	const out = [];
	let names;
	try {
		names = fs.readdirSync('/proc');
	} catch (e) {
		return out;
	}
	for (const n of names) {
		if (!/^\d+$/.test(n)) continue;
		const st = readStat(n);
		if (st) out.push(st);
	}
	return out;
}

function uptimeTicks() {
	try {
		return Number(fs.readFileSync('/proc/uptime', 'latin1').split(' ')[0]) * CLK_TCK;
	} catch (e) {
		return 0;
	}
}

function machineTicks() {
	// First line of /proc/stat: cpu user nice system idle iowait irq softirq steal
	try {
		const f = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
		const idle = f[3] + (f[4] || 0);
		const total = f.slice(0, 8).reduce((a, b) => a + (b || 0), 0);
		return { busy: total - idle, total };
	} catch (e) {
		return null;
	}
}

const DEFAULT_NAMES = 'pushpin=condure+zurl+pushpin-proxy+pushpin-handler+pushpin,lighttpd,parley-ws,postgres,node';

class CpuSampler {
	constructor(pidsSpec, namesSpec) {
		this.trees = []; // {name, root}
		this.names = []; // {name, comms:Set}
		if (pidsSpec) {
			for (const part of pidsSpec.split(',').filter(Boolean)) {
				const m = /^([^=]+)=(\d+)$/.exec(part.trim());
				if (!m) throw new Error(`--pids: expected name=pid, got '${part}'`);
				this.trees.push({ name: m[1], root: Number(m[2]) });
			}
		}
		if (namesSpec) {
			if (namesSpec === 'default') namesSpec = DEFAULT_NAMES;
			for (const part of namesSpec.split(',').filter(Boolean)) {
				const [name, list] = part.includes('=') ? part.split('=', 2) : [part, part];
				// /proc/PID/comm is cut to 15 bytes.
				this.names.push({ name, comms: new Set(list.split('+').map((c) => c.slice(0, 15))) });
			}
		}
		this.enabled = this.trees.length > 0 || this.names.length > 0;
		this.procs = new Map(); // pid -> {group, comm, first, last}
		this.selfPid = process.pid;
	}

	sample(initial) {
		if (!this.enabled) return;
		const stats = allStats();
		const byPid = new Map(stats.map((s) => [s.pid | 0, s]));
		const kids = new Map();
		for (const s of stats) {
			if (!kids.has(s.ppid)) kids.set(s.ppid, []);
			kids.get(s.ppid).push(s);
		}
		const seen = (s, group) => {
			const key = `${s.pid}/${s.start}`; // pids can be reused
			let p = this.procs.get(key);
			if (!p) {
				// Born inside the window: its whole CPU time counts.
				const born = !initial && s.start >= this.startTicks;
				p = { group, comm: s.comm, first: born ? 0 : s.ticks, last: s.ticks };
				this.procs.set(key, p);
			}
			p.last = s.ticks;
		};
		for (const t of this.trees) {
			const root = byPid.get(t.root);
			if (!root) continue;
			const todo = [root];
			for (let n = 0; todo.length > 0 && n < 100000; n++) {
				const s = todo.pop();
				seen(s, t.name);
				for (const k of kids.get(s.pid | 0) || []) todo.push(k);
			}
		}
		for (const g of this.names) {
			for (const s of stats) if (g.comms.has(s.comm)) seen(s, g.name);
		}
	}

	start() {
		this.startTicks = uptimeTicks();
		this.t0 = performance.now();
		this.m0 = machineTicks();
		this.sample(true);
		this.timer = setInterval(() => this.sample(false), 1000);
	}

	stop() {
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
		if (!this.enabled) return;
		this.sample(false);
		this.t1 = performance.now();
		this.m1 = machineTicks();
	}

	// {group: {pct, by: {comm: pct}}}, % of one core over the window.
	result() {
		const out = {};
		const secs = (this.t1 - this.t0) / 1000;
		if (!this.enabled || !(secs > 0)) return { groups: out };
		for (const p of this.procs.values()) {
			const d = Math.max(0, p.last - p.first) / CLK_TCK;
			const g = out[p.group] || (out[p.group] = { pct: 0, procs: 0, by: {} });
			g.pct += (d / secs) * 100;
			g.procs += 1;
			g.by[p.comm] = (g.by[p.comm] || 0) + (d / secs) * 100;
		}
		for (const g of Object.values(out)) {
			g.pct = round(g.pct, 1);
			for (const k of Object.keys(g.by)) g.by[k] = round(g.by[k], 1);
		}
		let machine = null;
		if (this.m0 && this.m1 && this.m1.total > this.m0.total) {
			machine = round(((this.m1.busy - this.m0.busy) / (this.m1.total - this.m0.total)) * 100, 1);
		}
		return { groups: out, machineBusyPct: machine, cores: os.cpus().length, seconds: round(secs, 2) };
	}
}

module.exports = { CpuSampler, DEFAULT_NAMES };
