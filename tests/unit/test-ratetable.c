/* test-ratetable.c - the host's shared rate buckets (ratetable.c) in a
 * temporary file, mapped twice and by several processes at once, and
 * the client address the buckets are named by (ratelimit.c). */
#include "common.h"
#include "ratelimit.h"
#include "ratetable.h"
#include "tap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[64];

static int takes(struct rate_table *t, char kind, const char *name, int n,
		 long rate, long burst, long long now)
{
	int got = 0;

	for (int i = 0; i < n; i++)
		got += rate_table_take(t, kind, name, rate, burst, now);
	return got;
}

static void test_siphash(void)
{
	/* The reference vectors: key 00..0f, messages 00.., of 0 and 15
	 * bytes (SipHash paper, appendix A). */
	unsigned char in[15];
	uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;

	for (int i = 0; i < 15; i++)
		in[i] = (unsigned char)i;
	ok(rate_siphash(in, 0, k0, k1) == 0x726fdb47dd0e0e31ULL,
	   "SipHash-2-4 of the empty message");
	ok(rate_siphash(in, 15, k0, k1) == 0xa129ca6149be45e5ULL,
	   "SipHash-2-4 of 15 bytes");
}

static void test_buckets(void)
{
	char err[256];
	struct rate_table *t = rate_table_open(path, err, sizeof(err)), *t2;
	long long now = 5000000;
	struct stat st;

	if (!ok(t != NULL, "a new table in %s", path)) {
		diag("%s", err);
		exit(1);
	}
	if (stat(path, &st) != 0)
		st.st_mode = 0777;
	ok((st.st_mode & 0777) == 0600, "  mode 600 (%o)",
	   (unsigned)(st.st_mode & 0777));
	is_int(takes(t, RATE_FRAMES, "alice", 10, 1, 3, now), 3,
	       "a user's burst of 3, then nothing");
	is_int(takes(t, RATE_FRAMES, "bob", 10, 1, 3, now), 3,
	       "another user has a budget of their own");
	is_int(takes(t, RATE_USER_CONNECTS, "alice", 10, 1, 3, now), 3,
	       "so has the same name counted for connects");
	is_int(takes(t, RATE_FRAMES, "alice", 10, 1, 3, now + 1000), 1,
	       "a second later: one more");
	ok(rate_table_take(t, RATE_FRAMES, "alice", 0, 1, now),
	   "rate 0: not limited");

	/* A second mapping (another worker) sees the same buckets. */
	t2 = rate_table_open(path, err, sizeof(err));
	if (!ok(t2 != NULL, "the table opened again"))
		diag("%s", err);
	is_int(takes(t2, RATE_FRAMES, "alice", 5, 1, 3, now + 1000), 0,
	       "  alice's budget is spent there too");
	is_int(takes(t2, RATE_FRAMES, "carol", 5, 1, 3, now + 1000), 3,
	       "  and carol's is new");
	rate_table_close(t2);

	/* Several processes at once: no take is lost or doubled. */
	{
		int fds[2], got = 0, n;
		pid_t kids[4];
		if (pipe(fds) != 0)
			exit(1);
		for (int k = 0; k < 4; k++) {
			kids[k] = fork();
			if (kids[k] == 0) {
				n = takes(t, RATE_FRAMES, "dave", 5000, 1, 1000,
					  now);
				rate_table_close(t);
				_exit(write(fds[1], &n, sizeof(n)) ==
				      (ssize_t)sizeof(n) ? 0 : 1);
			}
		}
		close(fds[1]);
		for (int k = 0; k < 4; k++)
			waitpid(kids[k], NULL, 0);
		while (read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
			got += n;
		close(fds[0]);
		is_int(got, 1000, "4 processes at once take 20,000 times from "
		       "a burst of 1,000: exactly 1,000 granted");
	}
	{
		pid_t kid = fork();
		int status;
		if (kid == 0) {
			int n = takes(t, RATE_FRAMES, "erin", 100, 1, 60, now);
			rate_table_close(t);
			_exit(n);
		}
		ok(waitpid(kid, &status, 0) == kid && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 60, "a child process gets erin's "
		   "burst of 60");
		is_int(takes(t, RATE_FRAMES, "erin", 5, 1, 60, now), 0,
		       "  and the parent finds it spent");
	}

	/* A worker killed while it held a set's lock: the next one finds
	 * the holder dead and takes the lock over. (The layout of
	 * ratetable.c: a 4096-byte header with the SipHash key at 24 and
	 * 32, then sets of 200 bytes, the owner's pid first.) */
	{
		uint64_t k[2];
		uint32_t dead, owner = 1;
		off_t at = 0;
		pid_t kid = fork();
		long long t0;
		int fd = open(path, O_RDWR);

		if (kid == 0)
			_exit(0);
		waitpid(kid, NULL, 0);
		dead = (uint32_t)kid;
		if (fd >= 0 && pread(fd, k, sizeof(k), 24) == sizeof(k)) {
			uint64_t h = rate_siphash("f:frank", 7, k[0], k[1]);
			at = 4096 + (off_t)((h == 0 ? 1 : h) >> 32) %
			     RATE_TABLE_SETS * 200;
			ok(pwrite(fd, &dead, sizeof(dead), at) == sizeof(dead),
			   "frank's set locked by a process that died");
		}
		t0 = rate_clock_ms();
		ok(rate_table_take(t, RATE_FRAMES, "frank", 1, 1, now),
		   "  the next take goes through");
		ok(rate_clock_ms() - t0 < 1000, "  at once (%lld ms)",
		   rate_clock_ms() - t0);
		ok(pread(fd, &owner, sizeof(owner), at) == sizeof(owner) &&
		   owner == 0, "  and leaves the set unlocked");
		close(fd);
	}

	/* More names than buckets: the least recently used goes, and
	 * starts again full (never empty). */
	{
		char name[32];
		int fresh = 0;
		for (int i = 0; i < 4 * RATE_TABLE_SETS * RATE_TABLE_WAYS; i++) {
			snprintf(name, sizeof(name), "crowd-%d", i);
			fresh += takes(t, RATE_FRAMES, name, 1, 1, 1,
				       now + 2000);
		}
		is_int(fresh, 4 * RATE_TABLE_SETS * RATE_TABLE_WAYS,
		       "4 names a bucket: each new name gets its token");
		is_int(takes(t, RATE_FRAMES, "alice", 5, 1, 3, now + 2000), 3,
		       "an evicted user starts again with a full bucket");
	}
	rate_table_close(t);
}

static void test_bad_files(void)
{
	char err[256], other[80];
	int fd;

	ok(rate_table_open("", err, sizeof(err)) == NULL,
	   "an empty rate_table is refused: %s", err);
	snprintf(other, sizeof(other), "%s-link", path);
	unlink(other);
	ok(symlink(path, other) == 0 &&
	   rate_table_open(other, err, sizeof(err)) == NULL,
	   "a symlink is not followed: %s", err);
	unlink(other);
	snprintf(other, sizeof(other), "%s-short", path);
	fd = open(other, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	ok(fd >= 0 && write(fd, "x", 1) == 1, "a file of one byte");
	close(fd);
	ok(rate_table_open(other, err, sizeof(err)) == NULL,
	   "  is not a table of this version: %s", err);
	ok(chmod(other, 0622) == 0 && truncate(other, 0) == 0 &&
	   rate_table_open(other, err, sizeof(err)) == NULL,
	   "a file others may write is refused: %s", err);
	unlink(other);
}

static void test_addresses(void)
{
	char out[64];

	ok(forwarded_for("203.0.113.9", 0, out, sizeof(out)) &&
	   strcmp(out, "203.0.113.9") == 0, "one entry: it");
	ok(forwarded_for("6.6.6.6, 203.0.113.9", 0, out, sizeof(out)) &&
	   strcmp(out, "203.0.113.9") == 0,
	   "the last entry (Pushpin's), not what the client wrote");
	ok(forwarded_for("6.6.6.6,  198.51.100.1 ,10.0.0.2", 1, out,
			 sizeof(out)) && strcmp(out, "198.51.100.1") == 0,
	   "forwarded_hops 1: the one left of the last, trimmed");
	ok(!forwarded_for("10.0.0.2", 1, out, sizeof(out)),
	   "  not there: none");
	ok(!forwarded_for(NULL, 0, out, sizeof(out)), "no header: none");
	ok(!forwarded_for("1.2.3.4, ", 0, out, sizeof(out)),
	   "an empty last entry: none");
	ok(!forwarded_for("1234567890", 0, out, 8), "too long: none");

	address_bucket("203.0.113.9", out, sizeof(out));
	is_str(out, "203.0.113.9", "IPv4 as is");
	address_bucket("2001:db8:1:2:aaaa:bbbb:cccc:dddd", out, sizeof(out));
	is_str(out, "2001:db8:1:2::/64", "IPv6 as its /64");
	address_bucket("2001:DB8:1:2::5", out, sizeof(out));
	is_str(out, "2001:db8:1:2::/64", "  whatever its spelling");
	address_bucket("::ffff:203.0.113.9", out, sizeof(out));
	is_str(out, "203.0.113.9", "a v4-mapped IPv6 as IPv4");
	address_bucket("unknown", out, sizeof(out));
	is_str(out, "unknown", "anything else as given");
}

int main(void)
{
	snprintf(path, sizeof(path), "/tmp/parley-test-ratetable-%ld",
		 (long)getpid());
	unlink(path);
	test_siphash();
	test_buckets();
	test_bad_files();
	test_addresses();
	unlink(path);
	return done_testing();
}
