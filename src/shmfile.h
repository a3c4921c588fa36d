/* shmfile.h - a file that every process of the host maps as shared
 * memory (the rate table, the metrics).
 *
 * Trust: the file is the workers' own. It is opened with O_NOFOLLOW and
 * must be a regular file owned by this process's user (or root) and
 * writable by nobody else, and either empty (made anew: it grows to its
 * size, all zeros) or exactly the size asked for. What is in it is the
 * caller's to check: no offset is ever read from it here.
 */
#ifndef PARLEY_SHMFILE_H
#define PARLEY_SHMFILE_H

#include "common.h"

/* Under the file's lock, once mapped: a fresh mapping is all zeros;
 * set it up, or check an old one. False, with a reason in err: the file
 * is not used. */
typedef bool (*shm_file_setup)(void *map, char *err, size_t errlen);

/* Maps `size` bytes of the file at path (what: its name in errors, e.g.
 * "rate table"), creating it with mode 600; NULL with a reason in err.
 * Processes that map it at once wait on each other (flock), so setup
 * runs in one at a time. */
void *shm_file_map(const char *path, size_t size, const char *what,
		   shm_file_setup setup, char *err, size_t errlen) MUST_CHECK;
void shm_file_unmap(void *map, size_t size);

#endif
