/*
 * web/chat.js - the chat page's client (web/index.html; README, "The
 * chat page"): one WebSocket to Parley, the contract of PROTOCOL.md, no
 * framework and no build step.
 *
 * - Connects as a user id (auth mode none: ?userId=) or with a JWT (auth
 *   mode jwt: ?token=, the user being its "sub" claim), and reconnects
 *   with exponential backoff and jitter (1 s doubling to 30 s).
 * - Sends with a messageId made here, kept in an outbox and sent again
 *   after every reconnect (and after `unavailable` or `rate_limited`)
 *   until its ack comes: the server stores a messageId once.
 * - Acks every message event (until a device acks, the server delivers
 *   it again), drops duplicates by messageId, and marks read what the
 *   open conversation shows.
 * - Shows ticks from acks and status events (sent, delivered, read; for
 *   a group the least advanced member's), typing indicators both ways,
 *   and groups: create, add members, leave, send, learned from group
 *   events and messages.
 * - Remembers the conversations it has seen per user (localStorage; the
 *   server has no action to list them) and loads their history with
 *   getMessages when one is opened, and again after a reconnect.
 *
 * It trusts nothing it receives: every text goes into the page as
 * textContent, never as HTML.
 */
'use strict';

const ID = /^[\x21-\x7e]{1,128}$/;          // PROTOCOL section 1
const RANK = { failed: -1, pending: 0, sent: 1, delivered: 2, read: 3 };
const TICKS = { failed: '!', pending: '\u25cb', sent: '\u2713',
	delivered: '\u2713\u2713', read: '\u2713\u2713' };
const TYPING_EVERY = 3000;   // ms between our typing frames while typing
const TYPING_IDLE = 4000;    // ms without a key: we stopped typing
const TYPING_SHOWN = 6000;   // ms a peer's typing shows without news

const S = {
	ws: null, auth: null, me: null, stopped: true,
	attempt: 0, timer: null, drawTimer: null, ackTimer: null,
	convs: new Map(),    // conversationId -> conversation (see conv())
	byId: new Map(),     // messageId -> message
	outbox: new Map(),   // messageId -> sendMessage frame, until acked
	acks: [],            // messageIds to ack
	current: null,       // the open conversation's id
	drawn: null,         // the conversation drawn last
	toEnd: false,        // scroll to the end at the next drawing
	seq: 0,              // arrival order, breaks ties between equal times
	typingSentAt: 0, typingIdle: null, typingConv: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
	const e = document.createElement(tag);
	if (cls) e.className = cls;
	if (text !== undefined) e.textContent = text;
	return e;
}

// A version 4 UUID (crypto.randomUUID needs a secure context; a page on
// http://HOST: is one only on loopback).
function uuid() {
	const b = crypto.getRandomValues(new Uint8Array(16));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function better(a, b) {
	return (RANK[b] ?? -2) > (RANK[a] ?? -2) ? b : a;
}

function notice(text) {
	$('notice').textContent = text;
	$('notice').dataset.at = String(Date.now());
}

// The "sub" claim of a JWT, unverified: only to know who we are.
function tokenSubject(token) {
	try {
		let p = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
		p += '='.repeat((4 - (p.length % 4)) % 4);
		const bytes = Uint8Array.from(atob(p), (c) => c.charCodeAt(0));
		const sub = JSON.parse(new TextDecoder().decode(bytes)).sub;
		return typeof sub === 'string' && ID.test(sub) ? sub : null;
	} catch (e) {
		return null;
	}
}

// ---- connection -------------------------------------------------------

function defaultUrl() {
	return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

function setState(state, text) {
	const s = $('conn-status');
	s.dataset.state = state;
	s.textContent = text;
	$('disconnect').disabled = S.stopped;
}

function send(frame) {
	if (!S.ws || S.ws.readyState !== WebSocket.OPEN) return false;
	S.ws.send(JSON.stringify(frame));
	return true;
}

function open() {
	S.timer = null;
	const base = $('ws-url').value.trim() || defaultUrl();
	const q = S.auth.token ? 'token=' + encodeURIComponent(S.auth.token)
		: 'userId=' + encodeURIComponent(S.auth.userId);
	setState('connecting', 'connecting\u2026');
	let ws;
	try {
		ws = new WebSocket(base + (base.includes('?') ? '&' : '?') + q);
	} catch (e) {
		notice(`bad URL: ${e.message}`);
		return retry();
	}
	S.ws = ws;
	ws.onopen = () => {
		S.attempt = 0;
		setState('open', `connected as ${S.me}`);
		// Whatever was sent and not acked goes again, same messageIds.
		for (const frame of S.outbox.values()) send(frame);
		// Events missed while away (status, history): the open
		// conversation reloads now, the others when opened.
		for (const c of S.convs.values()) c.loaded = false;
		for (const m of S.byId.values()) m.readSent = false;
		if (S.current) show(S.current);
	};
	ws.onmessage = (e) => {
		let ev;
		try {
			ev = JSON.parse(e.data);
		} catch (err) {
			return;
		}
		if (ev && typeof ev === 'object') onEvent(ev.type, ev.data || {});
	};
	ws.onclose = () => {
		if (S.ws !== ws) return;
		S.ws = null;
		if (!S.stopped) retry();
	};
}

// Exponential backoff with jitter: 1, 2, 4 ... 30 s, each between half
// and all of it, so that clients cut off together do not return together.
function retry() {
	const cap = Math.min(30000, 1000 * 2 ** S.attempt);
	const delay = Math.round(cap / 2 + Math.random() * cap / 2);
	S.attempt++;
	setState('waiting', `reconnecting in ${Math.ceil(delay / 1000)} s`);
	S.timer = setTimeout(open, delay);
}

function stop() {
	S.stopped = true;
	clearTimeout(S.timer);
	S.timer = null;
	if (S.ws) {
		const ws = S.ws;
		S.ws = null;
		ws.close();
	}
	setState('idle', 'not connected');
}

function start(e) {
	e.preventDefault();
	const token = $('token').value.trim();
	const user = $('user-id').value.trim();
	const me = token ? tokenSubject(token) : user;
	if (!token && !ID.test(user)) {
		return notice('A user id is 1 to 128 printable ASCII characters, no spaces.');
	}
	if (!me) return notice('The token has no readable "sub" claim.');
	stop();
	if (me !== S.me) reset(me);
	S.auth = token ? { token } : { userId: user };
	S.stopped = false;
	S.attempt = 0;
	if (!token) localStorage.setItem('parley:user', user);
	open();
}

// ---- state ----------------------------------------------------------

function storeKey() {
	return 'parley:conversations:' + S.me;
}

function save() {
	const list = [...S.convs.values()].map((c) => ({ id: c.id, group: c.group,
		peer: c.peer, title: c.title, members: c.members, left: c.left,
		active: c.active }));
	localStorage.setItem(storeKey(), JSON.stringify(list));
}

function reset(me) {
	S.me = me;
	S.convs.clear();
	S.byId.clear();
	S.outbox.clear();
	S.current = null;
	let saved = [];
	try {
		saved = JSON.parse(localStorage.getItem(storeKey()) || '[]');
	} catch (e) { /* a damaged entry: start afresh */ }
	for (const c of saved) if (c && ID.test(c.id)) conv(c.id, c);
	draw();
}

// The conversation `id`, made if new; `info` fills in what is known.
function conv(id, info = {}) {
	let c = S.convs.get(id);
	if (!c) {
		c = { id, group: false, peer: null, title: null, members: null,
			left: false, active: 0, msgs: new Map(), typing: new Map(),
			loaded: false, hasMore: false };
		S.convs.set(id, c);
	}
	for (const k of ['group', 'peer', 'title', 'members', 'left', 'active']) {
		if (info[k] !== undefined && info[k] !== null) c[k] = info[k];
	}
	return c;
}

function convTitle(c) {
	if (c.group) return c.title || 'Group ' + c.id.slice(0, 8);
	return c.peer === S.me ? `${c.peer} (you)` : c.peer || c.id;
}

// A one-to-one conversation's id: the same from both sides.
function directId(peer) {
	const id = 'dm:' + [S.me, peer].sort().join(':');
	return id.length <= 128 ? id : 'dm:' + uuid();
}

function unread(c) {
	let n = 0;
	for (const m of c.msgs.values()) if (!m.out && m.status !== 'read') n++;
	return n;
}

// A message event's or history entry's data into its conversation.
function addMessage(d, live) {
	if (!ID.test(d.messageId || '') || !ID.test(d.conversationId || '')) return;
	const out = d.senderId === S.me;
	const group = d.recipientId === null || d.recipientId === undefined;
	const c = conv(d.conversationId, group ? { group: true }
		: { peer: out ? d.recipientId : d.senderId });
	let m = S.byId.get(d.messageId);
	if (!m) {
		m = { id: d.messageId, conv: c.id, out, sender: d.senderId,
			status: 'pending', receipts: {}, seq: live ? ++S.seq : -(++S.seq) };
		S.byId.set(m.id, m);
		c.msgs.set(m.id, m);
	}
	m.content = d.isDeleted ? '' : String(d.content ?? '');
	m.deleted = !!d.isDeleted;
	m.time = d.timestamp || m.time;
	// A group message's own status stays "sent" for its sender: its
	// ticks come from the members' receipts (status events).
	m.status = better(m.status, out && group && d.status !== 'pending'
		? 'sent' : d.status);
	c.active = Math.max(c.active, Date.parse(m.time) || 0);
}

function groupStatus(c, m) {
	const others = (c.members || []).filter((u) => u !== S.me);
	const seen = Object.values(m.receipts);
	if (others.length === 0) {
		return seen.reduce(better, 'sent');
	}
	return others.map((u) => m.receipts[u] || 'sent')
		.reduce((a, b) => (RANK[b] < RANK[a] ? b : a));
}

// ---- events from the server --------------------------------------------

function onEvent(type, d) {
	switch (type) {
	case 'message':
		addMessage(d, true);
		queueAck(d.messageId);
		if (d.conversationId === S.current) markShown();
		save();
		break;
	case 'messages': {
		if (!ID.test(d.conversationId || '')) return;
		const c = conv(d.conversationId);
		for (const m of d.messages || []) addMessage(m, false);
		c.hasMore = !!d.hasMore;
		if (c.id === S.current) markShown();
		break;
	}
	case 'ack':
		gotAck(d);
		break;
	case 'status': {
		const m = S.byId.get(d.messageId);
		if (!m) break;
		if (d.isDeleted) {
			m.deleted = true;
			m.content = '';
		}
		if (d.userId) {
			m.receipts[d.userId] = better(m.receipts[d.userId], d.status);
			m.status = better(m.status, groupStatus(S.convs.get(m.conv), m));
		} else {
			m.status = better(m.status, d.status);
		}
		break;
	}
	case 'typing':
		gotTyping(d);
		break;
	case 'group': {
		const c = conv(d.conversationId, { group: true, title: d.title,
			members: d.members, left: !(d.members || []).includes(S.me) });
		c.active = Math.max(c.active, Date.parse(d.at) || 0);
		save();
		break;
	}
	case 'error':
		gotError(d);
		break;
	default:
		return;
	}
	draw();
}

function gotAck(d) {
	if (d.action === 'sendMessage') {
		S.outbox.delete(d.messageId);
		const m = S.byId.get(d.messageId);
		if (m) {
			m.status = better(m.status, 'sent');
			m.time = d.timestamp || m.time;
		}
	} else if (d.action === 'markRead') {
		for (const id of d.messageIds || []) {
			const m = S.byId.get(id);
			if (m) m.status = 'read';
		}
	} else if (d.action === 'createGroup') {
		const c = conv(d.conversationId, { group: true });
		save();
		show(c.id);
	}
}

function gotTyping(d) {
	let c = d.conversationId && S.convs.get(d.conversationId);
	if (!c) {
		c = [...S.convs.values()].find((x) => !x.group && x.peer === d.senderId);
	}
	if (!c && d.conversationId && ID.test(d.conversationId)) {
		c = conv(d.conversationId, { peer: d.senderId });
	}
	if (!c) return;
	clearTimeout(c.typing.get(d.senderId));
	c.typing.delete(d.senderId);
	if (d.isTyping !== false) {
		c.typing.set(d.senderId, setTimeout(() => {
			c.typing.delete(d.senderId);
			draw();
		}, TYPING_SHOWN));
	}
}

function gotError(d) {
	notice(`${d.code}: ${d.message}`);
	const frame = d.messageId && d.action === 'sendMessage' && S.outbox.get(d.messageId);
	if (!frame) return;
	if (d.code === 'unavailable' || d.code === 'rate_limited') {
		// Retryable: the same frame again a little later.
		setTimeout(() => S.outbox.has(frame.messageId) && send(frame),
			1000 + Math.random() * 2000);
		return;
	}
	S.outbox.delete(d.messageId);
	const m = S.byId.get(d.messageId);
	if (m) m.status = 'failed';
}

// ---- what we send -------------------------------------------------------

function queueAck(id) {
	if (!ID.test(id || '')) return;
	S.acks.push(id);
	if (!S.ackTimer) S.ackTimer = setTimeout(flushAcks, 0);
}

// Acks go in frames of at most 500 ids. Ids that cannot go now are
// dropped: the server delivers what is unacked again on the next
// connection, and they are acked then.
function flushAcks() {
	S.ackTimer = null;
	while (S.acks.length) {
		send({ action: 'ack', messageIds: [...new Set(S.acks.splice(0, 500))] });
	}
}

// markRead what the open conversation shows, while the page is seen.
function markShown() {
	const c = S.convs.get(S.current);
	if (!c || document.visibilityState !== 'visible') return;
	const ids = [...c.msgs.values()]
		.filter((m) => !m.out && m.status !== 'read' && !m.readSent)
		.map((m) => m.id);
	for (let i = 0; i < ids.length; i += 500) {
		const part = ids.slice(i, i + 500);
		if (send({ action: 'markRead', messageIds: part })) {
			for (const id of part) S.byId.get(id).readSent = true;
		}
	}
}

function sendText(text) {
	const c = S.convs.get(S.current);
	if (!c || c.left || !text) return;
	const frame = { action: 'sendMessage', messageId: uuid(),
		conversationId: c.id, senderName: S.me, content: text };
	if (!c.group) frame.recipientId = c.peer;
	S.outbox.set(frame.messageId, frame);
	addMessage({ ...frame, senderId: S.me, recipientId: c.group ? null : c.peer,
		timestamp: new Date().toISOString(), status: 'pending' }, true);
	send(frame);
	save();
	S.toEnd = true;
	draw();
}

function sendTyping(c, isTyping) {
	const frame = { action: 'typing', conversationId: c.id, isTyping };
	if (!c.group) frame.recipientId = c.peer;
	send(frame);
}

function typed() {
	const c = S.convs.get(S.current);
	if (!c || c.left) return;
	clearTimeout(S.typingIdle);
	if (!$('message-input').value) return stopTyping();
	if (Date.now() - S.typingSentAt > TYPING_EVERY || S.typingConv !== c.id) {
		sendTyping(c, true);
		S.typingSentAt = Date.now();
		S.typingConv = c.id;
	}
	S.typingIdle = setTimeout(stopTyping, TYPING_IDLE);
}

function stopTyping() {
	clearTimeout(S.typingIdle);
	const c = S.typingConv && S.convs.get(S.typingConv);
	if (c) sendTyping(c, false);
	S.typingConv = null;
	S.typingSentAt = 0;
}

// Opens conversation `id`: its history, then markRead.
function show(id) {
	if (S.typingConv && S.typingConv !== id) stopTyping();
	if (S.current !== id) $('message-input').value = '';
	S.current = id;
	const c = S.convs.get(id);
	if (c && !c.loaded && send({ action: 'getMessages', conversationId: id, limit: 50 })) {
		c.loaded = true;
	}
	markShown();
	draw();
}

function loadOlder() {
	const c = S.convs.get(S.current);
	if (!c) return;
	const stored = sorted(c).filter((m) => RANK[m.status] > RANK.pending);
	if (stored.length) {
		send({ action: 'getMessages', conversationId: c.id, before: stored[0].id, limit: 50 });
	}
}

// ---- drawing ----------------------------------------------------------

function sorted(c) {
	const t = (m) => Date.parse(m.time) || 0;
	return [...c.msgs.values()].sort((a, b) => t(a) - t(b) || a.seq - b.seq);
}

// Redraws once after a burst of changes.
function draw() {
	if (!S.drawTimer) S.drawTimer = setTimeout(drawNow, 0);
}

function drawNow() {
	S.drawTimer = null;
	const list = $('conversations');
	list.replaceChildren();
	const convs = [...S.convs.values()].sort((a, b) => b.active - a.active);
	for (const c of convs) {
		const li = el('li', c.id === S.current ? 'conv selected' : 'conv');
		li.dataset.conversationId = c.id;
		li.dataset.group = String(c.group);
		const n = unread(c);
		li.dataset.unread = String(n);
		li.append(el('span', 'title', convTitle(c)));
		if (n) li.append(el('span', 'unread', String(n)));
		if (c.typing.size) li.append(el('span', 'typing', 'typing\u2026'));
		const last = sorted(c).pop();
		if (last) li.append(el('span', 'last', last.deleted ? 'deleted' : last.content));
		li.tabIndex = 0;
		li.onclick = () => show(c.id);
		li.onkeydown = (e) => e.key === 'Enter' && show(c.id);
		list.append(li);
	}

	const c = S.convs.get(S.current);
	$('chat').dataset.conversationId = c ? c.id : '';
	$('chat-title').textContent = c ? convTitle(c) : 'No conversation open';
	$('chat-members').textContent = c && c.group && c.members
		? (c.left ? 'you left \u00b7 ' : '') + c.members.join(', ') : '';
	$('group-tools').hidden = !(c && c.group && !c.left);
	$('message-input').disabled = $('send').disabled = !c || c.left;
	$('load-older').hidden = !(c && c.hasMore);

	// Scrolling: to the end for a conversation just opened, a message
	// just sent or a reader at the end already; older messages put in
	// above keep what is on screen where it was.
	const box = $('scroller');
	const ul = $('messages');
	const stick = S.drawn !== S.current || S.toEnd ||
		box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
	const first = ul.firstElementChild && ul.firstElementChild.dataset.messageId;
	const fromEnd = box.scrollHeight - box.scrollTop;
	S.drawn = S.current;
	S.toEnd = false;
	ul.replaceChildren();
	for (const m of c ? sorted(c) : []) {
		const li = el('li', m.out ? 'msg out' : 'msg in');
		li.dataset.messageId = m.id;
		li.dataset.direction = m.out ? 'out' : 'in';
		li.dataset.status = m.status;
		if (c.group && !m.out) li.append(el('span', 'sender', m.sender));
		li.append(el('span', m.deleted ? 'content deleted' : 'content',
			m.deleted ? 'message deleted' : m.content));
		const meta = el('span', 'meta');
		const when = Date.parse(m.time);
		if (when) {
			meta.append(el('time', null, new Date(when).toLocaleTimeString([],
				{ hour: '2-digit', minute: '2-digit' })));
		}
		if (m.out) {
			const ticks = el('span', 'ticks ' + m.status, TICKS[m.status]);
			ticks.title = c.group ? Object.entries(m.receipts)
				.map(([u, s]) => `${u}: ${s}`).join('\n') || m.status : m.status;
			meta.append(ticks);
		}
		li.append(meta);
		ul.append(li);
	}
	if (stick) {
		box.scrollTop = box.scrollHeight;
	} else if (ul.firstElementChild && ul.firstElementChild.dataset.messageId !== first) {
		box.scrollTop = box.scrollHeight - fromEnd;
	}

	const who = c ? [...c.typing.keys()] : [];
	const typing = $('typing');
	typing.hidden = who.length === 0;
	typing.textContent = who.length ? `${who.join(', ')} ${who.length > 1 ? 'are' : 'is'} typing\u2026` : '';
}

// ---- wiring ------------------------------------------------------------

function members(text) {
	return text.split(/[\s,]+/).filter(Boolean);
}

function wire() {
	$('ws-url').placeholder = defaultUrl();
	$('user-id').value = localStorage.getItem('parley:user') || '';
	$('login').onsubmit = start;
	$('disconnect').onclick = stop;
	$('new-chat-form').onsubmit = (e) => {
		e.preventDefault();
		const peer = $('new-peer').value.trim();
		if (!S.me) return notice('Connect first.');
		if (!ID.test(peer)) return notice('A user id is 1 to 128 printable ASCII characters.');
		const known = [...S.convs.values()].find((c) => !c.group && c.peer === peer);
		const c = known || conv(directId(peer), { peer, active: Date.now() });
		$('new-peer').value = '';
		save();
		show(c.id);
	};
	$('new-group-form').onsubmit = (e) => {
		e.preventDefault();
		const list = members($('group-members').value);
		if (!list.every((u) => ID.test(u))) return notice('Members are user ids, separated by commas.');
		const frame = { action: 'createGroup', members: list };
		if ($('group-title').value.trim()) frame.title = $('group-title').value.trim();
		if (!send(frame)) return notice('Not connected.');
		$('group-title').value = $('group-members').value = '';
	};
	$('group-tools').onsubmit = (e) => {
		e.preventDefault();
		const list = members($('add-members').value);
		if (!list.length || !list.every((u) => ID.test(u))) return;
		send({ action: 'addMembers', conversationId: S.current, members: list });
		$('add-members').value = '';
	};
	$('leave-group').onclick = () => send({ action: 'leaveGroup', conversationId: S.current });
	$('composer').onsubmit = (e) => {
		e.preventDefault();
		const text = $('message-input').value;
		$('message-input').value = '';
		stopTyping();
		sendText(text.trim() ? text : '');
	};
	$('message-input').oninput = typed;
	$('load-older').onclick = loadOlder;
	document.addEventListener('visibilitychange', markShown);
	draw();
}

// For tests/browser/chat.mjs: lose the connection as a network would.
window.parleyChat = {
	dropConnection() {
		if (S.ws) S.ws.close();
	},
};

wire();
