/* SPDX-License-Identifier: Apache-2.0 */
/* Last-good state on disk: one sealed file per piece of state (the keys of
 * a metadata URL, a client's token) in a state directory, written
 * atomically and read with care. Pure file I/O (POSIX) + b2c_seal; no
 * httpd headers; never logs (*why is a short reason for the caller's log
 * line and never holds file content).
 *
 * File: exactly one b2c_seal blob (see b2c_seal.h), sealed under the AAD
 * context "b2c-state-file\n" NAME "\n" CONTEXT, so a file renamed, copied
 * from another URL or client, or a shared-cache value dropped in its place
 * does not open.
 *
 * Guaranteed by write: a temp file ".NAME.XXXXXX" in the same directory
 * (O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode 0600), written whole,
 * fsync'd, renamed over NAME, the directory fsync'd; on any failure the
 * temp file is removed and NAME is untouched. Readers see the old or the
 * new file, never a mix. Concurrent writers of one NAME: the last rename
 * wins (the caller holds a lock, or accepts that).
 * dir itself is opened with O_NOFOLLOW by both: a symlink there (rather
 * than in a parent directory) is refused.
 * Guaranteed by read: NAME is opened without following a symlink and
 * without blocking on a FIFO; it is refused unless a regular file owned by
 * the effective uid, root or also_owner, not writable by group or others,
 * at most max bytes, read whole, and opening under the context.
 *
 * NOT checked here (the caller's job): freshness (a valid older file of
 * the same NAME opens: compare the time inside), the payload's meaning
 * (b2c_state_entry.h, then the JWKS parse and the issuer against the
 * configuration), and that dir itself is safe (b2c_state_dir_check at
 * startup). NAME comes from the caller, e.g. hex of a hash of CONTEXT. */
#ifndef B2C_STATE_FILE_H
#define B2C_STATE_FILE_H

#include "b2c_seal.h"

#include <apr_pools.h>
#include <stddef.h>
#include <sys/types.h>

/* 1 when name may be a state file name: 1..200 bytes of [A-Za-z0-9_.-],
 * not starting with '.' (temp files do). */
int b2c_state_file_name_ok(const char *name);

/* APR_EINVAL for a bad name; an OS error (the temp file removed) when a
 * step fails, with *why saying which. */
apr_status_t b2c_state_file_write(apr_pool_t *p, const char *dir,
                                  const char *name, const b2c_seal_ring_t *ring,
                                  const char *context, const void *payload,
                                  size_t len, const char **why);

/* APR_SUCCESS with the payload (from p, NUL after *len bytes);
 * APR_ENOENT when there is no such file (a first start: nothing to log;
 * also when dir is missing, which b2c_state_dir_check reports);
 * APR_EINVAL or an OS error otherwise, with *why. also_owner: one more
 * owner uid to accept (the user children run as), or (uid_t)-1. */
apr_status_t b2c_state_file_read(apr_pool_t *p, const char *dir,
                                 const char *name, uid_t also_owner,
                                 const b2c_seal_ring_t *ring,
                                 const char *context, size_t max,
                                 char **payload, size_t *len, const char **why);

/* The directory: exists, is a directory (not a symlink), owned by the
 * effective uid, root or also_owner, not writable by group or others.
 * APR_SUCCESS, or a status with *why. */
apr_status_t b2c_state_dir_check(apr_pool_t *p, const char *dir,
                                 uid_t also_owner, const char **why);

#endif
