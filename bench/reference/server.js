#!/usr/bin/env node
// bench/reference/server.js - the reference for scripts/bench: Parley's
// client contract (PROTOCOL.md sections 1-3, the part the benchmark uses)
// in one Node.js process with `ws` and `pg`, the way a competent team
// would write it in an afternoon. Honest, not handicapped: durable INSERT
// before the ack (autocommit, synchronous_commit as the cluster has it),
// named (prepared) statements, a connection pool, per-connection frame
// order, in-process fan-out to the users' open sockets.
//
//   NODE_PATH=/usr/share/nodejs node bench/reference/server.js \
//       --port 28999 --database-url postgresql://parley@127.0.0.1:55434/parley
//
// Options: --port N [28999], --host ADDR [127.0.0.1], --database-url URL
// [$DATABASE_URL], --pool N [10], --max-payload BYTES [262144].
// Uses the product's tables (sql/001_initial.sql): connections, messages.
//
// What it does:
//   connect ?userId=ID  -> INSERT INTO connections; then the user's unacked
//                          messages (status 'sent', oldest first, at most
//                          1000), before any live event for that socket
//   sendMessage         -> minimal validation; INSERT ... ON CONFLICT
//                          (message_id) DO NOTHING; after it resolves the
//                          ack, then the `message` event to the recipient's
//                          sockets and the sender's other sockets
//   ack                 -> UPDATE ... status='delivered' ... RETURNING; the
//                          ack reply; a `status` event to the sender's sockets
//   ping                -> pong;  close -> DELETE the connection row
// Not implemented (not used by the benchmark): markRead, deleteMessage,
// getMessages, typing, groups, rate limits, auth, redelivery timers.
// Known simplification: an id the recipient already acked is listed in
// `skipped` (the product lists it in `messageIds`).
'use strict';

const http = require('http');
const crypto = require('crypto');
const path = require('path');
let WebSocket, pg;
try {
	WebSocket = require('ws');
} catch (e) {
	console.error('reference: cannot load ws; run with NODE_PATH=/usr/share/nodejs');
	process.exit(1);
}
try {
	pg = require(path.join(__dirname, 'node_modules', 'pg'));
} catch (e) {
	console.error('reference: cannot load pg; run `npm install` in ' + __dirname);
	process.exit(1);
}

// ---------------------------------------------------------------------------
// Options

function parseArgs(argv) {
	const o = { port: 28999, host: '127.0.0.1', databaseUrl: process.env.DATABASE_URL || '', pool: 10, maxPayload: 262144 };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i], v = argv[++i];
		switch (a) {
		case '--port': o.port = Number(v); break;
		case '--host': o.host = v; break;
		case '--database-url': o.databaseUrl = v; break;
		case '--pool': o.pool = Number(v); break;
		case '--max-payload': o.maxPayload = Number(v); break;
		case '-h': case '--help':
			console.log('usage: server.js --port N --database-url URL [--pool N] [--host 127.0.0.1]');
			process.exit(0);
			break;
		default:
			console.error(`reference: unknown option ${a}`);
			process.exit(64);
		}
	}
	if (!o.databaseUrl) {
		console.error('reference: --database-url is required');
		process.exit(64);
	}
	if (!(o.port > 0 && o.port < 65536) || !(o.pool >= 1 && o.pool <= 200)) {
		console.error('reference: bad --port or --pool');
		process.exit(64);
	}
	return o;
}

const opt = parseArgs(process.argv.slice(2));

// Timestamps as timestamptz text; we format them ourselves.
pg.types.setTypeParser(1184, (s) => s);
const pool = new pg.Pool({ connectionString: opt.databaseUrl, max: opt.pool });
pool.on('error', (e) => console.error('reference: idle client error: ' + e.message));

// ---------------------------------------------------------------------------
// SQL (named: each pooled client prepares it once)

const MSG_COLS = `message_id, conversation_id, sender_id, sender_name, recipient_id, content,
	sent_at_text, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS received,
	status, is_deleted, reply_to_message_id, reply_to_content, reply_to_sender_name`;

const Q = {
	connOpen: {
		name: 'conn_open',
		text: `INSERT INTO connections (connection_id, user_id, connected_at, expires_at)
		       VALUES ($1, $2, now(), now() + interval '24 hours')`,
	},
	connClose: { name: 'conn_close', text: 'DELETE FROM connections WHERE connection_id = $1' },
	pending: {
		name: 'pending',
		text: `SELECT ${MSG_COLS} FROM messages
		       WHERE recipient_id = $1 AND status = 'sent' AND NOT is_deleted
		       ORDER BY seq LIMIT 1000`,
	},
	send: {
		name: 'send',
		text: `INSERT INTO messages (message_id, conversation_id, sender_id, sender_name, recipient_id,
		         content, sent_at, sent_at_text, reply_to_message_id, reply_to_content, reply_to_sender_name)
		       VALUES ($1, $2, $3, $4, $5, $6, $7::text::timestamptz, $7::text, $8, $9, $10)
		       ON CONFLICT (message_id) DO NOTHING
		       RETURNING ${MSG_COLS}`,
	},
	existing: { name: 'existing', text: `SELECT ${MSG_COLS} FROM messages WHERE message_id = $1` },
	ack: {
		name: 'ack',
		text: `UPDATE messages SET status = 'delivered', delivered_at = now()
		       WHERE message_id = ANY($1) AND recipient_id = $2 AND status = 'sent'
		       RETURNING message_id, sender_id, conversation_id, is_deleted,
		         to_char(delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at`,
	},
};

const q = (query, values) => pool.query({ ...query, values });

// ---------------------------------------------------------------------------
// Validation helpers

const ID_RE = /^[\x21-\x7e]{1,128}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const MAX_CONTENT = 65536;

function nowText() {
	return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function send(ws, type, data) {
	if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type, data }));
}

function error(ws, code, message, action, messageId) {
	const d = { code, message };
	if (action) d.action = action;
	if (messageId) d.messageId = messageId;
	send(ws, 'error', d);
}

function messageData(r) {
	return {
		messageId: r.message_id,
		conversationId: r.conversation_id,
		senderId: r.sender_id,
		senderName: r.sender_name,
		recipientId: r.recipient_id,
		content: r.is_deleted ? '' : r.content,
		timestamp: r.sent_at_text !== null ? r.sent_at_text : r.received,
		status: r.status,
		isDeleted: r.is_deleted,
		replyToMessageId: r.reply_to_message_id,
		replyToContent: r.reply_to_content === null ? null : r.is_deleted ? '' : r.reply_to_content,
		replyToSenderName: r.reply_to_sender_name,
	};
}

// ---------------------------------------------------------------------------
// Sockets by user

const users = new Map(); // userId -> Set of sockets

function toUser(userId, type, data, except) {
	const set = users.get(userId);
	if (!set) return;
	const text = JSON.stringify({ type, data });
	for (const ws of set) {
		if (ws === except || ws.readyState !== WebSocket.OPEN) continue;
		if (ws.ready) ws.send(text);
		else ws.held.push(text); // still sending its backlog
	}
}

function optStr(f, name) {
	const v = f[name];
	if (v === undefined || v === null) return null;
	if (typeof v !== 'string') throw { code: 'invalid_field', message: `${name} must be a string` };
	if (v.includes('\u0000')) throw { code: 'invalid_field', message: `${name} contains U+0000` };
	return v;
}

function reqStr(f, name) {
	const v = optStr(f, name);
	if (v === null) throw { code: 'missing_field', message: `${name} is required` };
	if (v === '') throw { code: 'invalid_field', message: `${name} must not be empty` };
	return v;
}

async function onSend(ws, f) {
	let mid = null;
	try {
		mid = optStr(f, 'messageId');
		if (mid !== null && !ID_RE.test(mid)) throw { code: 'invalid_field', message: 'messageId: 1..128 printable ASCII bytes' };
		const recipient = reqStr(f, 'recipientId');
		const conv = reqStr(f, 'conversationId');
		const content = reqStr(f, 'content');
		if (!ID_RE.test(recipient) || !ID_RE.test(conv)) throw { code: 'invalid_field', message: 'ids: 1..128 printable ASCII bytes' };
		const senderId = optStr(f, 'senderId');
		if (senderId !== null && senderId !== ws.userId) throw { code: 'forbidden', message: "'senderId' must be the connected user" };
		const ts = optStr(f, 'timestamp');
		if (ts !== null && !RFC3339.test(ts)) throw { code: 'invalid_field', message: 'timestamp must be RFC 3339' };
		if (Buffer.byteLength(content) > MAX_CONTENT) throw { code: 'too_large', message: 'content too large' };
		if (mid === null) mid = crypto.randomUUID();
		const values = [mid, conv, ws.userId, optStr(f, 'senderName'), recipient, content, ts,
			optStr(f, 'replyToMessageId'), optStr(f, 'replyToContent'), optStr(f, 'replyToSenderName')];
		let res;
		try {
			res = await q(Q.send, values);
		} catch (e) {
			throw { code: e.code === '22007' || e.code === '22008' ? 'invalid_field' : 'unavailable', message: 'storage: ' + e.message };
		}
		let row, duplicate = false;
		if (res.rowCount === 1) {
			row = res.rows[0];
		} else {
			const ex = await q(Q.existing, [mid]).catch(() => null);
			if (!ex || ex.rowCount !== 1) throw { code: 'unavailable', message: 'retry' };
			row = ex.rows[0];
			if (row.sender_id !== ws.userId) throw { code: 'conflict', message: 'this messageId is taken by another sender' };
			duplicate = true;
		}
		// Committed (autocommit): ack first, then fan out.
		send(ws, 'ack', { action: 'sendMessage', messageId: mid, status: row.status, duplicate, timestamp: row.received });
		if (!duplicate) {
			const data = messageData(row);
			toUser(recipient, 'message', data, ws);
			if (recipient !== ws.userId) toUser(ws.userId, 'message', data, ws);
		}
	} catch (e) {
		if (e && e.code && typeof e.message === 'string' && !(e instanceof Error)) error(ws, e.code, e.message, 'sendMessage', mid);
		else error(ws, 'internal', String(e && e.message), 'sendMessage', mid);
	}
}

async function onAck(ws, f) {
	const ids = f.messageIds;
	if (ids === undefined || ids === null) return error(ws, 'missing_field', 'messageIds is required', 'ack');
	if (!Array.isArray(ids) || ids.length < 1 || ids.length > 500 || !ids.every((x) => typeof x === 'string' && ID_RE.test(x))) {
		return error(ws, 'invalid_field', 'messageIds: 1..500 ids', 'ack');
	}
	let res;
	try {
		res = await q(Q.ack, [ids, ws.userId]);
	} catch (e) {
		return error(ws, 'unavailable', 'storage: ' + e.message, 'ack');
	}
	const applied = new Set(res.rows.map((r) => r.message_id));
	send(ws, 'ack', { action: 'ack', messageIds: ids.filter((x) => applied.has(x)), skipped: ids.filter((x) => !applied.has(x)) });
	for (const r of res.rows) {
		toUser(r.sender_id, 'status', { messageId: r.message_id, conversationId: r.conversation_id, status: 'delivered', isDeleted: r.is_deleted, at: r.at });
	}
}

async function onFrame(ws, data, isBinary) {
	let f;
	if (isBinary) return error(ws, 'invalid_json', 'binary frames are not supported');
	try {
		f = JSON.parse(data.toString());
	} catch (e) {
		return error(ws, 'invalid_json', 'not JSON');
	}
	if (!f || typeof f !== 'object' || Array.isArray(f)) return error(ws, 'invalid_json', 'a JSON object expected');
	if (f.action === undefined || f.action === null) return error(ws, 'missing_field', 'action is required');
	switch (f.action) {
	case 'sendMessage': return onSend(ws, f);
	case 'ack': return onAck(ws, f);
	case 'ping': return send(ws, 'pong', {});
	default: return error(ws, 'unknown_action', 'unknown action', typeof f.action === 'string' ? f.action : undefined);
	}
}

// ---------------------------------------------------------------------------
// Server

const server = http.createServer((req, res) => {
	res.writeHead(400, { 'Content-Type': 'text/plain' });
	res.end('This is a WebSocket endpoint: connect with a WebSocket client.\n');
});
const wss = new WebSocket.Server({ noServer: true, maxPayload: opt.maxPayload, perMessageDeflate: false });

function reject(socket, status, text) {
	socket.write(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text) + 1}\r\nConnection: close\r\n\r\n${text}\n`);
	socket.destroy();
}

server.on('upgrade', (req, socket, head) => {
	const u = new URL(req.url, 'http://x');
	const ids = u.searchParams.getAll('userId');
	if (ids.length !== 1 || !ID_RE.test(ids[0])) return reject(socket, '400 Bad Request', 'userId missing or invalid');
	const userId = ids[0];
	const connId = crypto.randomUUID();
	// Store the connection before accepting, so that a database that is
	// down fails the handshake with 503 as the product does.
	q(Q.connOpen, [connId, userId]).then(() => {
		wss.handleUpgrade(req, socket, head, (ws) => onOpen(ws, userId, connId));
	}, (e) => {
		console.error('reference: connect: ' + e.message);
		reject(socket, '503 Service Unavailable', 'storage is unavailable; retry');
	});
});

function onOpen(ws, userId, connId) {
	ws.userId = userId;
	ws.connId = connId;
	ws.ready = false;
	ws.held = [];
	let set = users.get(userId);
	if (!set) users.set(userId, (set = new Set()));
	set.add(ws);
	// Frames of one connection are handled one after the other (order
	// per sender is part of the contract); connections run concurrently.
	let chain = q(Q.pending, [userId]).then((res) => {
		for (const r of res.rows) send(ws, 'message', messageData(r));
	}, (e) => console.error('reference: backlog: ' + e.message)).then(() => {
		ws.ready = true;
		for (const t of ws.held) if (ws.readyState === WebSocket.OPEN) ws.send(t);
		ws.held = [];
	});
	ws.on('message', (data, isBinary) => {
		chain = chain.then(() => onFrame(ws, data, isBinary)).catch((e) => console.error('reference: ' + (e && e.stack)));
	});
	ws.on('close', () => {
		set.delete(ws);
		if (set.size === 0 && users.get(userId) === set) users.delete(userId);
		chain.then(() => q(Q.connClose, [connId])).catch((e) => console.error('reference: disconnect: ' + e.message));
	});
	ws.on('error', () => {});
}

server.listen(opt.port, opt.host, () => {
	console.log(`reference: listening on ws://${opt.host}:${opt.port}/ws (pool ${opt.pool}, pid ${process.pid})`);
});

let stopping = false;
function stop() {
	if (stopping) process.exit(1);
	stopping = true;
	for (const c of wss.clients) c.terminate();
	server.close();
	setTimeout(() => pool.end().finally(() => process.exit(0)), 300).unref();
	setTimeout(() => process.exit(0), 3000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
