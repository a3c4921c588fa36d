/* shmfile.c - see shmfile.h. */
#include "common.h"
#include "shmfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Under flock: a new file grows to size; an old one must be that size
 * and safe to trust. */
static void *map_locked(int fd, const char *path, size_t size,
			const char *what, char *err, size_t errlen)
{
	struct stat st;
	void *map;

	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 022) != 0 ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		snprintf(err, errlen, "%s: not a regular file of this user "
			 "(uid %ld) or root, writable by it alone; remove it",
			 path, (long)geteuid());
		return NULL;
	}
	if (st.st_size != 0 && (size_t)st.st_size != size) {
		snprintf(err, errlen, "%s: %lld bytes, not a %s of this "
			 "version (%zu); remove it (it is made anew)", path,
			 (long long)st.st_size, what, size);
		return NULL;
	}
	if (st.st_size == 0 && ftruncate(fd, (off_t)size) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return NULL;
	}
	return map;
}

void *shm_file_map(const char *path, size_t size, const char *what,
		   shm_file_setup setup, char *err, size_t errlen)
{
	void *map;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/* Workers start together: one of them creates, the others wait. */
	if (flock(fd, LOCK_EX) != 0) {
		snprintf(err, errlen, "%s: flock: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	map = map_locked(fd, path, size, what, err, errlen);
	if (map != NULL && !setup(map, err, errlen)) {
		munmap(map, size);
		map = NULL;
	}
	/* Unlocked by hand: the mapping keeps the open file, and with it
	 * the lock, after close(). */
	(void)flock(fd, LOCK_UN);
	close(fd);
	return map;
}

void shm_file_unmap(void *map, size_t size)
{
	if (map != NULL)
		munmap(map, size);
}
