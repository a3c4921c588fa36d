/* notify.c - see notify.h. */
#include "common.h"
#include "notify.h"

#include <openssl/evp.h>

bool conn_is_websocketd(const char *conn_id)
{
	return conn_id != NULL &&
	       strncmp(conn_id, WSD_CONN_PREFIX, strlen(WSD_CONN_PREFIX)) == 0;
}

void notify_name(char out[NOTIFY_NAME_MAX], const char *channel)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *p = out;

	memcpy(p, "parley_", 7);
	p += 7;
	if (EVP_Digest(channel, strlen(channel), md, &mdlen, EVP_sha256(),
		       NULL) != 1 || mdlen < 16)
		memset(md, 0, 16); /* never: SHA-256 is built in */
	for (int i = 0; i < 16; i++) {
		*p++ = hex[md[i] >> 4];
		*p++ = hex[md[i] & 15];
	}
	*p = '\0';
}

/* 1..max bytes of 0x21..0x7E. */
static bool is_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

void notify_parts_free(struct notify_parts *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->part[i]);
	free(p->part);
	*p = (struct notify_parts){ 0 };
}

/* Where the part starting at `at` ends: at most NOTIFY_CHUNK bytes on,
 * never inside a UTF-8 sequence (a continuation byte has the top bits 10). */
static size_t cut_at(const char *body, size_t len, size_t at)
{
	size_t end = at + NOTIFY_CHUNK;

	if (end >= len)
		return len;
	while (end > at + 1 && ((unsigned char)body[end] & 0xc0) == 0x80)
		end--;
	return end;
}

bool notify_encode(enum notify_kind kind, const char *channel,
		   const char *skip_conn, const char *nonce, const char *body,
		   size_t len, struct notify_parts *out)
{
	size_t at = 0;
	int parts = 0;

	*out = (struct notify_parts){ 0 };
	if (!is_word(channel, ID_MAX + 7) || !is_word(nonce, 16) ||
	    (skip_conn != NULL && !is_word(skip_conn, ID_MAX)))
		return false;
	/* Count first: every part's header names PARTS. */
	do {
		at = cut_at(body, len, at);
		parts++;
	} while (at < len && parts <= NOTIFY_PARTS_MAX);
	if (parts > NOTIFY_PARTS_MAX)
		return false;
	out->part = calloc((size_t)parts, sizeof(*out->part));
	if (out->part == NULL)
		return false;
	at = 0;
	for (int i = 0; i < parts; i++) {
		size_t end = cut_at(body, len, at);
		size_t cap = 64 + strlen(channel) + (skip_conn ? strlen(skip_conn)
							       : 0) +
			     (end - at);
		char *p = malloc(cap);
		int h;

		if (p == NULL) {
			notify_parts_free(out);
			return false;
		}
		h = snprintf(p, cap, "P1 %c %s %s%s %s %d/%d\n", (char)kind,
			     channel, skip_conn ? "=" : "-",
			     skip_conn ? skip_conn : "", nonce, i + 1, parts);
		memcpy(p + h, body + at, end - at);
		p[(size_t)h + (end - at)] = '\0';
		out->part[out->n++] = p;
		at = end;
	}
	return true;
}

/* The next space-separated word of [*p, end) into out (size bytes);
 * false when there is none or it does not fit. */
static bool next_word(const char **p, const char *end, char *out,
		      size_t size)
{
	const char *s = *p;
	size_t n = 0;

	while (s + n < end && s[n] != ' ' && s[n] != '\n')
		n++;
	if (n == 0 || n >= size || s + n >= end)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = s + n + 1; /* past the separator */
	return true;
}

static bool parse_count(const char *s, int *out)
{
	char *e;
	long v = strtol(s, &e, 10);

	if (e == s || (*e != '\0' && *e != '/') || v < 1 ||
	    v > NOTIFY_PARTS_MAX || *s < '1' || *s > '9')
		return false;
	*out = (int)v;
	return true;
}

bool notify_decode(const char *payload, size_t len, struct notify_header *h)
{
	const char *p = payload, *end = payload + len, *nl;
	char word[ID_MAX + 16], kind[4];
	char *slash;

	*h = (struct notify_header){ 0 };
	nl = memchr(payload, '\n', len);
	if (nl == NULL)
		return false;
	if (!next_word(&p, nl + 1, word, sizeof(word)) ||
	    strcmp(word, "P1") != 0 || p[-1] != ' ')
		return false;
	if (!next_word(&p, nl + 1, kind, sizeof(kind)) || p[-1] != ' ' ||
	    (strcmp(kind, "m") != 0 && strcmp(kind, "c") != 0))
		return false;
	h->kind = kind[0] == 'm' ? NOTIFY_MESSAGE : NOTIFY_CLOSE;
	if (!next_word(&p, nl + 1, h->channel, sizeof(h->channel)) ||
	    p[-1] != ' ')
		return false;
	if (!next_word(&p, nl + 1, word, sizeof(word)) || p[-1] != ' ')
		return false;
	if (strcmp(word, "-") == 0)
		h->skip[0] = '\0';
	else if (word[0] == '=' && word[1] != '\0' &&
		 strlen(word + 1) < sizeof(h->skip))
		strcpy(h->skip, word + 1);
	else
		return false;
	if (!next_word(&p, nl + 1, h->nonce, sizeof(h->nonce)) ||
	    p[-1] != ' ')
		return false;
	if (!next_word(&p, nl + 1, word, sizeof(word)) || p - 1 != nl)
		return false;
	slash = strchr(word, '/');
	if (slash == NULL || !parse_count(word, &h->part) ||
	    !parse_count(slash + 1, &h->parts) || h->part > h->parts)
		return false;
	h->body = nl + 1;
	h->len = (size_t)(end - (nl + 1));
	return true;
}

void notify_join_init(struct notify_join *j)
{
	*j = (struct notify_join){ 0 };
}

static void slot_clear(struct notify_join *j, int i)
{
	free(j->slot[i].data);
	j->slot[i].data = NULL;
	j->slot[i].len = 0;
	j->slot[i].next = 0;
	j->slot[i].nonce[0] = '\0';
}

void notify_join_free(struct notify_join *j)
{
	for (int i = 0; i < NOTIFY_JOIN_SLOTS; i++)
		slot_clear(j, i);
}

static char *copy_body(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

int notify_join_add(struct notify_join *j, const struct notify_header *h,
		    char **body, size_t *len)
{
	int i, use = -1;
	char *more;

	*body = NULL;
	*len = 0;
	if (h->parts == 1) {
		*body = copy_body(h->body, h->len);
		*len = h->len;
		return *body ? 1 : -1;
	}
	for (i = 0; i < NOTIFY_JOIN_SLOTS; i++)
		if (j->slot[i].next != 0 &&
		    strcmp(j->slot[i].nonce, h->nonce) == 0)
			break;
	if (i == NOTIFY_JOIN_SLOTS) {
		if (h->part != 1)
			return -1; /* its beginning was dropped */
		/* A free slot, or else the oldest one's publish is dropped. */
		for (i = 0; i < NOTIFY_JOIN_SLOTS; i++) {
			if (j->slot[i].next == 0) {
				use = i;
				break;
			}
			if (use < 0 || j->slot[i].age < j->slot[use].age)
				use = i;
		}
		i = use;
		slot_clear(j, i);
		snprintf(j->slot[i].nonce, sizeof(j->slot[i].nonce), "%s",
			 h->nonce);
		j->slot[i].next = 1;
		j->slot[i].parts = h->parts;
		j->slot[i].age = ++j->clock;
	}
	if (h->part != j->slot[i].next || h->parts != j->slot[i].parts) {
		slot_clear(j, i);
		return -1;
	}
	more = realloc(j->slot[i].data, j->slot[i].len + h->len + 1);
	if (more == NULL) {
		slot_clear(j, i);
		return -1;
	}
	memcpy(more + j->slot[i].len, h->body, h->len);
	j->slot[i].data = more;
	j->slot[i].len += h->len;
	j->slot[i].data[j->slot[i].len] = '\0';
	if (h->part < h->parts) {
		j->slot[i].next++;
		return 0;
	}
	*body = j->slot[i].data;
	*len = j->slot[i].len;
	j->slot[i].data = NULL; /* the caller's now */
	slot_clear(j, i);
	return 1;
}
