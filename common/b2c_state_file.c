/* SPDX-License-Identifier: Apache-2.0 */
/* Sealed state files: atomic write, careful read (see b2c_state_file.h). */
#include "b2c_state_file.h"
#include "b2c_util.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NAME 200

int b2c_state_file_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    return n > 0 && n <= MAX_NAME && name[0] != '.'
           && strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                           "abcdefghijklmnopqrstuvwxyz0123456789_.-")
                  == n;
}

static const char *aad(apr_pool_t *p, const char *name, const char *context)
{
    return apr_pstrcat(p, "b2c-state-file\n", name, "\n", context, NULL);
}

static int owner_ok(uid_t uid, uid_t also_owner)
{
    return uid == geteuid() || uid == 0
           || (also_owner != (uid_t)-1 && uid == also_owner);
}

static apr_status_t os_fail(const char **why, const char *what, int e)
{
    *why = what;
    return APR_FROM_OS_ERROR(e ? e : EIO);
}

static int write_all(int fd, const unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        buf += n;
        len -= (size_t)n;
    }
    return 1;
}

apr_status_t b2c_state_file_write(apr_pool_t *p, const char *dir,
                                  const char *name, const b2c_seal_ring_t *ring,
                                  const char *context, const void *payload,
                                  size_t len, const char **why)
{
    unsigned char *blob, rnd[6];
    size_t blen;
    const char *tmp = NULL;
    int dfd, fd = -1, e, tries;

    if (!b2c_state_file_name_ok(name)) {
        *why = "bad state file name";
        return APR_EINVAL;
    }
    if (b2c_seal(ring, p, aad(p, name, context), payload, len, &blob, &blen)
        != APR_SUCCESS) {
        *why = "sealing failed";
        return APR_EGENERAL;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return os_fail(why, "cannot open the state directory", errno);
    for (tries = 0; fd < 0 && tries < 5; tries++) {
        if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS)
            break;
        tmp = apr_pstrcat(p, ".", name, ".",
                          b2c_hex_encode(p, rnd, sizeof(rnd)), NULL);
        fd = openat(dfd, tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        e = errno;
        close(dfd);
        return os_fail(why, "cannot create a temporary file", e);
    }
    /* the umask may take bits away, never add: say 0600 exactly */
    if (fchmod(fd, 0600) != 0 || !write_all(fd, blob, blen)) {
        *why = "cannot write the temporary file";
        goto fail;
    }
    if (fsync(fd) != 0) {
        *why = "cannot sync the temporary file";
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        *why = "cannot close the temporary file";
        goto fail;
    }
    fd = -1;
    if (renameat(dfd, tmp, dfd, name) != 0) {
        *why = "cannot rename the temporary file into place";
        goto fail;
    }
    /* the rename is durable once the directory is on disk */
    if (fsync(dfd) != 0) {
        e = errno;
        close(dfd);
        return os_fail(why, "cannot sync the state directory", e);
    }
    close(dfd);
    return APR_SUCCESS;

fail:
    e = errno;
    if (fd >= 0)
        close(fd);
    unlinkat(dfd, tmp, 0);
    close(dfd);
    return APR_FROM_OS_ERROR(e ? e : EIO);
}

apr_status_t b2c_state_file_read(apr_pool_t *p, const char *dir,
                                 const char *name, uid_t also_owner,
                                 const b2c_seal_ring_t *ring,
                                 const char *context, size_t max,
                                 char **payload, size_t *len, const char **why)
{
    unsigned char *buf;
    struct stat st;
    size_t got = 0;
    b2c_seal_status_t sst;
    int dfd, fd, e;

    if (!b2c_state_file_name_ok(name)) {
        *why = "bad state file name";
        return APR_EINVAL;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return os_fail(why, "cannot open the state directory", errno);
    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    e = errno;
    close(dfd);
    if (fd < 0) {
        if (e == ENOENT) {
            *why = "no state file";
            return APR_ENOENT;
        }
        return os_fail(why, e == ELOOP ? "a symbolic link" : "cannot open", e);
    }
    if (fstat(fd, &st) != 0) {
        e = errno;
        close(fd);
        return os_fail(why, "cannot stat", e);
    }
    if (!S_ISREG(st.st_mode))
        *why = "not a regular file";
    else if (!owner_ok(st.st_uid, also_owner))
        *why = "owned by another user";
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        *why = "writable by group or others";
    else if ((unsigned long long)st.st_size > max)
        *why = "larger than allowed";
    else
        *why = NULL;
    if (*why) {
        close(fd);
        return APR_EINVAL;
    }
    buf = apr_palloc(p, (size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != (size_t)st.st_size) {
        *why = "short read";
        return APR_EINVAL;
    }
    sst = b2c_seal_open(ring, p, aad(p, name, context), buf, got, payload, len);
    if (sst != B2C_SEAL_OK) {
        *why = b2c_seal_status_text(sst);
        return sst == B2C_SEAL_ERROR ? APR_EGENERAL : APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t b2c_state_dir_check(apr_pool_t *p, const char *dir,
                                 uid_t also_owner, const char **why)
{
    struct stat st;

    (void)p;
    if (lstat(dir, &st) != 0)
        return os_fail(why, "cannot stat the state directory", errno);
    if (!S_ISDIR(st.st_mode))
        *why = "the state directory is not a directory";
    else if (!owner_ok(st.st_uid, also_owner))
        *why = "the state directory is owned by another user";
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        *why = "the state directory is writable by group or others";
    else
        return APR_SUCCESS;
    return APR_EINVAL;
}
