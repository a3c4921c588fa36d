/* buf.h - a growable byte buffer. A failed allocation sets `oom` and
 * makes every later append a no-op, so callers check once at the end. */
#ifndef PARLEY_BUF_H
#define PARLEY_BUF_H

struct buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
bool buf_append(struct buf *b, const void *data, size_t len);
bool buf_puts(struct buf *b, const char *s);
bool buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The whole file at `path` into b (NUL-terminated; b->len excludes the
 * NUL). False with a one-line reason in err when it cannot be read or is
 * larger than max bytes. */
bool buf_read_file(struct buf *b, const char *path, size_t max, char *err,
		   size_t errlen) MUST_CHECK;

#endif
