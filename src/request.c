/* request.c - see request.h. */
#include "common.h"
#include "request.h"
#include "delivery.h"
#include "handlers.h"
#include "outbox.h"
#include "log.h"

static enum request_result open_session(struct app *app,
					const struct auth *auth,
					struct session *s, const char **why)
{
	struct bridge *io = s->io;
	int status;

	/* Counted before authentication: guessing tokens costs attempts. */
	if (!connect_allowed_from(app, io->address)) {
		*why = "too many connection attempts from this address; retry "
		       "later";
		return REQUEST_TOO_MANY;
	}
	status = auth_open(auth, io->query, io->authorization,
			   s->state.user_id, why);
	if (status != 0)
		return status == 401 ? REQUEST_UNAUTHORIZED : REQUEST_BAD;
	s->user_id = s->state.user_id;
	switch (handle_open(app, s)) {
	case OPEN_OK:
		break;
	case OPEN_TOO_MANY:
		*why = "too many connections for this user";
		return REQUEST_TOO_MANY;
	case OPEN_RATE_LIMITED:
		*why = "too many connection attempts for this user; retry "
		       "later";
		return REQUEST_TOO_MANY;
	case OPEN_UNAVAILABLE:
		*why = "storage is unavailable; retry";
		return REQUEST_UNAVAILABLE;
	}
	io->accept(io->ctx, app->cfg->keepalive_interval,
		   app->cfg->client_ping_interval);
	return REQUEST_OK;
}

/* Several frames in one request share one transaction: one COMMIT (one
 * WAL flush) for all, and their acks and publishes wait for it. Pushpin
 * batches the frames that arrive while a connection's previous request
 * is in flight, so under load most requests carry several. */
static void begin_frames(struct app *app, struct session *s,
			 const struct ws_event *events, size_t n)
{
	size_t texts = 0;

	for (size_t i = 0; i < n; i++)
		texts += events[i].type == WS_TEXT;
	if (texts >= 2 && db_begin(app->db) == DB_OK)
		s->outbox.holding = true;
}

static void end_frames(struct app *app, struct session *s, bool keep)
{
	if (!s->outbox.holding)
		return;
	s->outbox.holding = false;
	if (!keep) {
		db_rollback(app->db);
		outbox_fail(s);
	} else if (db_commit(app->db) == DB_OK) {
		outbox_release(app, s);
	} else {
		log_warn("connection %s: the COMMIT of a request's frames "
			 "failed; they are answered unavailable", s->conn_id);
		outbox_fail(s);
	}
}

enum request_result handle_request(struct app *app, const struct auth *auth,
				   struct bridge *io,
				   const struct ws_event *events, size_t n,
				   const char **why)
{
	struct session s = { .conn_id = io->conn_id, .io = io };
	struct conn_state was;
	bool closed = false, began = false;

	conn_state_load(&s.state, io->get_state, io->ctx);
	was = s.state;
	if (s.state.phase != PHASE_NONE)
		s.user_id = s.state.user_id;
	for (size_t i = 0; i < n && !closed; i++) {
		const struct ws_event *ev = &events[i];
		const char *data = ev->data ? ev->data : "";
		enum request_result r;

		if (ev->type == WS_OPEN) {
			r = open_session(app, auth, &s, why);
			if (r != REQUEST_OK) {
				end_frames(app, &s, false);
				return r;
			}
			continue;
		}
		if (s.user_id == NULL) {
			*why = "no session: events before OPEN";
			end_frames(app, &s, false);
			return REQUEST_BAD;
		}
		switch (ev->type) {
		case WS_TEXT:
			if (!began) {
				begin_frames(app, &s, events + i, n - i);
				began = true;
			}
			handle_text(app, &s, data, ev->len);
			break;
		case WS_BINARY:
			handle_unsupported(app, &s, "binary");
			break;
		case WS_PING:
			io->frame(io->ctx, WS_PONG, data, ev->len);
			break;
		case WS_CLOSE:
			handle_close(app, &s);
			/* The held acks go before the CLOSE: nothing follows
			 * it to the client. */
			end_frames(app, &s, true);
			/* Answer with the client's code: a clean close. */
			io->frame(io->ctx, WS_CLOSE, ev->data,
				  ev->data && ev->len >= 2 ? 2 : 0);
			closed = true;
			break;
		case WS_DISCONNECT:
			handle_close(app, &s);
			closed = true;
			break;
		case WS_PONG:
			/* Our pull ping's answer: the request is all. A
			 * probe's answer also starts a due sweep. */
			if (delivery_is_probe(data, ev->len))
				s.probe_answered = true;
			break;
		case WS_OPEN:
			break;
		}
	}
	end_frames(app, &s, true);
	if (s.user_id == NULL)
		return REQUEST_OK; /* an empty body before OPEN: nothing */
	if (!closed) {
		delivery_due(app, &s);
		conn_state_save(&s.state, &was, io->set_state, io->ctx);
	}
	return REQUEST_OK;
}
