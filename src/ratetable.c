/* ratetable.c - see ratetable.h. */
#include "common.h"
#include "ratetable.h"
#include "ratelimit.h"
#include "shmfile.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#define RT_MAGIC 0x3154415259524c50ULL /* "PLRYRAT1" little-endian */
#define RT_STEAL_MS 1000 /* a lock held this long is taken over */

struct rt_bucket {
	uint64_t key;   /* 0: free */
	int64_t tokens; /* thousandths of a token (ratelimit.h) */
	int64_t at;     /* rate_clock_ms() of the last take; 0: full */
};

struct rt_set {
	uint32_t owner; /* pid holding the set's lock; 0: free */
	uint32_t unused;
	struct rt_bucket bucket[RATE_TABLE_WAYS];
};

struct rt_header {
	uint64_t magic; /* written last, once the rest is set */
	uint64_t sets, ways;
	uint64_t k0, k1; /* the SipHash key of bucket names */
	char pad[4096 - 5 * sizeof(uint64_t)];
};

struct rt_file {
	struct rt_header h;
	struct rt_set set[RATE_TABLE_SETS];
};

struct rate_table {
	struct rt_file *f;
	uint64_t k0, k1;
};

long long rate_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- SipHash-2-4 (Aumasson and Bernstein) -------------------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND \
	do { \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

uint64_t rate_siphash(const void *in, size_t len, uint64_t k0, uint64_t k1)
{
	const unsigned char *p = in;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, whole = len - len % 8;

	for (i = 0; i < whole; i += 8) {
		m = 0;
		for (int j = 7; j >= 0; j--)
			m = m << 8 | p[i + (size_t)j];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (int j = 0; i + (size_t)j < len; j++)
		b |= (uint64_t)p[i + (size_t)j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- opening ------------------------------------------------------------ */

/* A fresh file: its geometry and key, then the magic that says so. */
static bool init_header(struct rt_header *h, char *err, size_t errlen)
{
	uint64_t key[2];

	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return false;
	}
	h->sets = RATE_TABLE_SETS;
	h->ways = RATE_TABLE_WAYS;
	h->k0 = key[0];
	h->k1 = key[1];
	__atomic_store_n(&h->magic, RT_MAGIC, __ATOMIC_RELEASE);
	return true;
}

/* Under the file's lock: a fresh file gets its header; an old one must
 * be this layout. */
static bool setup_file(void *map, char *err, size_t errlen)
{
	struct rt_file *f = map;

	if (__atomic_load_n(&f->h.magic, __ATOMIC_ACQUIRE) == 0 &&
	    !init_header(&f->h, err, errlen))
		return false;
	if (f->h.magic != RT_MAGIC || f->h.sets != RATE_TABLE_SETS ||
	    f->h.ways != RATE_TABLE_WAYS) {
		snprintf(err, errlen, "not a rate table of this version; "
			 "remove it (it is made anew)");
		return false;
	}
	return true;
}

static void forget_pid(void);
static bool atfork_set;

struct rate_table *rate_table_open(const char *path, char *err,
				   size_t errlen)
{
	struct rate_table *t;
	struct rt_file *f;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "rate_table is empty: it must name a "
			 "file (on a tmpfs, e.g. /dev/shm/parley-rates)");
		return NULL;
	}
	f = shm_file_map(path, sizeof(*f), "rate table", setup_file, err,
			 errlen);
	if (f == NULL)
		return NULL;
	t = malloc(sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		shm_file_unmap(f, sizeof(*f));
		return NULL;
	}
	t->f = f;
	t->k0 = f->h.k0;
	t->k1 = f->h.k1;
	if (!atfork_set) {
		/* A worker forked from the process that opened the table
		 * (parley-ws --listen) has a pid of its own. */
		atfork_set = pthread_atfork(NULL, NULL, forget_pid) == 0;
	}
	return t;
}

void rate_table_close(struct rate_table *t)
{
	if (t == NULL)
		return;
	shm_file_unmap(t->f, sizeof(*t->f));
	free(t);
}

/* ---- taking ------------------------------------------------------------- */

/* This process's pid, the lock owner's mark: getpid() is a system call
 * (~300 ns here), so it is asked once, and again in a forked child. */
static pid_t self_pid;

static void forget_pid(void)
{
	self_pid = 0;
}

static uint32_t self(void)
{
	if (self_pid == 0)
		self_pid = getpid();
	return (uint32_t)self_pid;
}

static void set_lock(struct rt_set *s)
{
	uint32_t me = self(), owner = 0;
	long long since = 0;

	for (unsigned spins = 0;; spins++) {
		owner = 0;
		if (__atomic_compare_exchange_n(&s->owner, &owner, me, false,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
		if (spins < 100)
			continue;
		sched_yield();
		if (spins % 64 != 0)
			continue;
		if (since == 0)
			since = rate_clock_ms();
		/* The holder died, or has held it for a second: take it. */
		if ((kill((pid_t)owner, 0) != 0 && errno == ESRCH) ||
		    rate_clock_ms() - since > RT_STEAL_MS) {
			if (__atomic_compare_exchange_n(&s->owner, &owner, me,
							false, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				return;
			since = 0;
		}
	}
}

static void set_unlock(struct rt_set *s)
{
	uint32_t me = self();

	/* Not ours any more (taken over): leave it to its new holder. */
	(void)__atomic_compare_exchange_n(&s->owner, &me, 0, false,
					  __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* The bucket of key in s: its own, else a free one, else the least
 * recently used (which starts again full). */
static struct rt_bucket *find_bucket(struct rt_set *s, uint64_t key)
{
	struct rt_bucket *victim = &s->bucket[0];

	for (int i = 0; i < RATE_TABLE_WAYS; i++)
		if (s->bucket[i].key == key)
			return &s->bucket[i];
	for (int i = 1; i < RATE_TABLE_WAYS && victim->key != 0; i++)
		if (s->bucket[i].key == 0 || s->bucket[i].at < victim->at)
			victim = &s->bucket[i];
	*victim = (struct rt_bucket){ .key = key };
	return victim;
}

bool rate_table_take(struct rate_table *t, char kind, const char *name,
		     long rate, long burst, long long now_ms)
{
	char buf[2 + 256];
	size_t n = strlen(name);
	uint64_t key;
	struct rt_set *s;
	struct rt_bucket *b;
	long long tokens, at;
	bool ok;

	if (rate <= 0)
		return true;
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[0] = kind;
	buf[1] = ':';
	memcpy(buf + 2, name, n);
	key = rate_siphash(buf, n + 2, t->k0, t->k1);
	if (key == 0)
		key = 1;
	s = &t->f->set[(key >> 32) % RATE_TABLE_SETS];
	set_lock(s);
	b = find_bucket(s, key);
	tokens = b->tokens;
	at = b->at;
	ok = rate_take(&tokens, &at, now_ms, rate, burst);
	b->tokens = tokens;
	b->at = at;
	set_unlock(s);
	return ok;
}
