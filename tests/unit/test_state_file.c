/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: last-good state files (b2c_state_file) in a temp directory,
 * and the keys / client-token payloads (b2c_state_entry). The tests run as
 * root here, so a read-only directory does not stop a write: a failed
 * write is provoked with a directory in the target's place instead. */
#include "unit.h"
#include "b2c_state_entry.h"
#include "b2c_state_file.h"

#include <apr_strings.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CTX_A  "keys\nhttps://a.example/v2.0/.well-known/openid-configuration"
#define CTX_B  "keys\nhttps://b.example/v2.0/.well-known/openid-configuration"
#define NAME_A "0a1b2c3d"
#define NAME_B "4e5f6a7b"
#define MAX    65536

static char *dir;
static b2c_seal_ring_t *ring;

static void sf_setup(void)
{
    char tmpl[] = "/tmp/b2c-state-test.XXXXXX";
    b2c_seal_key_t *k;

    ut_setup();
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    dir = apr_pstrdup(ut_pool, tmpl);
    ck_assert_int_eq(b2c_seal_key_generate(ut_pool, &k), APR_SUCCESS);
    ring = b2c_seal_ring_make(ut_pool, k);
}

static void sf_teardown(void)
{
    char *cmd =
        apr_psprintf(ut_pool, "chmod -R u+rwx '%s'; rm -rf '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    ut_teardown();
}

static const char *path_of(const char *name)
{
    return apr_pstrcat(ut_pool, dir, "/", name, NULL);
}

/* Entries in dir other than . and .. */
static int dir_entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static apr_status_t wr(const char *name, const char *ctx, const char *text)
{
    const char *why = NULL;
    apr_status_t rv = b2c_state_file_write(ut_pool, dir, name, ring, ctx, text,
                                           strlen(text), &why);
    if (rv == APR_SUCCESS)
        ck_assert_ptr_null(why);
    else
        ck_assert_ptr_nonnull(why);
    return rv;
}

static apr_status_t rd(const char *name, const char *ctx, size_t max,
                       char **out, const char **why)
{
    size_t len;
    *why = NULL;
    return b2c_state_file_read(ut_pool, dir, name, (uid_t)-1, ring, ctx, max,
                               out, &len, why);
}

static void corrupt(const char *name, long off, int truncate_to)
{
    const char *path = path_of(name);
    if (truncate_to >= 0) {
        ck_assert_int_eq(truncate(path, truncate_to), 0);
    }
    else {
        FILE *f = fopen(path, "r+b");
        int c;
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
        c = fgetc(f);
        ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
        fputc(c ^ 0x01, f);
        ck_assert_int_eq(fclose(f), 0);
    }
}

START_TEST(round_trip)
{
    struct stat st;
    char *out;
    const char *why;

    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_ENOENT);
    ck_assert_int_eq(wr(NAME_A, CTX_A, "payload one"), APR_SUCCESS);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_SUCCESS);
    ck_assert_str_eq(out, "payload one");
    ck_assert_int_eq(stat(path_of(NAME_A), &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    /* replaced atomically; nothing else left in the directory */
    ck_assert_int_eq(wr(NAME_A, CTX_A, "payload two"), APR_SUCCESS);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_SUCCESS);
    ck_assert_str_eq(out, "payload two");
    ck_assert_int_eq(dir_entries(), 1);
    /* the payload is not readable in the file */
    {
        char buf[256];
        FILE *f = fopen(path_of(NAME_A), "rb");
        size_t n = fread(buf, 1, sizeof(buf), f), i;
        fclose(f);
        for (i = 0; i + 7 <= n; i++)
            ck_assert(memcmp(buf + i, "payload", 7) != 0);
    }
}
END_TEST

START_TEST(foreign_file_refused)
{
    char *out;
    const char *why;

    ck_assert_int_eq(wr(NAME_A, CTX_A, "tenant a"), APR_SUCCESS);
    ck_assert_int_eq(wr(NAME_B, CTX_B, "tenant b"), APR_SUCCESS);
    /* b's file copied over a's */
    ck_assert_int_eq(rename(path_of(NAME_B), path_of(NAME_A)), 0);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
    ck_assert_str_eq(why, "authentication failed");
    /* the same context under another name: the name is bound too */
    ck_assert_int_eq(wr(NAME_B, CTX_A, "tenant a"), APR_SUCCESS);
    ck_assert_int_eq(rename(path_of(NAME_B), path_of(NAME_A)), 0);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
    /* a file sealed by another key */
    {
        b2c_seal_key_t *k;
        b2c_seal_ring_t *saved = ring;
        ck_assert_int_eq(b2c_seal_key_generate(ut_pool, &k), APR_SUCCESS);
        ring = b2c_seal_ring_make(ut_pool, k);
        ck_assert_int_eq(wr(NAME_A, CTX_A, "other server"), APR_SUCCESS);
        ring = saved;
        ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
        ck_assert_str_eq(why, "sealed with a key not configured");
    }
}
END_TEST

START_TEST(truncated_and_altered_refused)
{
    struct stat st;
    char *out;
    const char *why;
    long i;

    ck_assert_int_eq(wr(NAME_A, CTX_A, "a payload of some length"),
                     APR_SUCCESS);
    ck_assert_int_eq(stat(path_of(NAME_A), &st), 0);
    for (i = 0; i < st.st_size; i++) {
        corrupt(NAME_A, i, -1);
        ck_assert_msg(rd(NAME_A, CTX_A, MAX, &out, &why) == APR_EINVAL,
                      "change at %ld accepted", i);
        corrupt(NAME_A, i, -1);
    }
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_SUCCESS);
    corrupt(NAME_A, 0, (int)st.st_size - 1);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
    corrupt(NAME_A, 0, 0);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
    ck_assert_str_eq(why, "truncated or malformed");
}
END_TEST

START_TEST(mode_symlink_dir_size)
{
    char *out;
    const char *why;

    ck_assert_int_eq(wr(NAME_A, CTX_A, "payload"), APR_SUCCESS);
    ck_assert_int_eq(chmod(path_of(NAME_A), 0666), 0);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
    ck_assert_str_eq(why, "writable by group or others");
    ck_assert_int_eq(chmod(path_of(NAME_A), 0620), 0);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
    ck_assert_int_eq(chmod(path_of(NAME_A), 0644), 0); /* readable is fine */
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_SUCCESS);
    /* size over max */
    ck_assert_int_eq(rd(NAME_A, CTX_A, 10, &out, &why), APR_EINVAL);
    ck_assert_str_eq(why, "larger than allowed");
    /* a symlink to a good file */
    ck_assert_int_eq(rename(path_of(NAME_A), path_of("real")), 0);
    ck_assert_int_eq(symlink(path_of("real"), path_of(NAME_A)), 0);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why),
                     APR_FROM_OS_ERROR(ELOOP));
    ck_assert_str_eq(why, "a symbolic link");
    /* a directory */
    ck_assert_int_eq(unlink(path_of(NAME_A)), 0);
    ck_assert_int_eq(mkdir(path_of(NAME_A), 0700), 0);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
    ck_assert_str_eq(why, "not a regular file");
    ck_assert_int_eq(rmdir(path_of(NAME_A)), 0);
    /* a FIFO must not block the reader */
    ck_assert_int_eq(mkfifo(path_of(NAME_A), 0600), 0);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
    ck_assert_str_eq(why, "not a regular file");
}
END_TEST

START_TEST(owner_checked)
{
    char *out;
    const char *why;
    size_t len;

    ck_assert_int_eq(wr(NAME_A, CTX_A, "payload"), APR_SUCCESS);
    if (geteuid() != 0)
        return; /* only root can give a file away */
    ck_assert_int_eq(chown(path_of(NAME_A), 12345, 12345), 0);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
    ck_assert_str_eq(why, "owned by another user");
    ck_assert_int_eq(b2c_state_file_read(ut_pool, dir, NAME_A, 12345, ring,
                                         CTX_A, MAX, &out, &len, &why),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "payload");
}
END_TEST

START_TEST(names_checked)
{
    char *out;
    const char *why;

    ck_assert(b2c_state_file_name_ok("0a1b2c-keys.state"));
    ck_assert(!b2c_state_file_name_ok(""));
    ck_assert(!b2c_state_file_name_ok(".hidden"));
    ck_assert(!b2c_state_file_name_ok("a/b"));
    ck_assert(!b2c_state_file_name_ok(".."));
    ck_assert(!b2c_state_file_name_ok("a b"));
    ck_assert(!b2c_state_file_name_ok(NULL));
    ck_assert_int_eq(wr("../escape", CTX_A, "x"), APR_EINVAL);
    ck_assert_int_eq(wr(".tmp", CTX_A, "x"), APR_EINVAL);
    ck_assert_int_eq(rd("a/b", CTX_A, MAX, &out, &why), APR_EINVAL);
    ck_assert_int_eq(dir_entries(), 0);
}
END_TEST

START_TEST(failed_write_leaves_nothing)
{
    char *out;
    const char *why;

    /* rename over a non-empty directory fails after the temp file was
     * written: the temp file must go, the directory stay */
    ck_assert_int_eq(mkdir(path_of(NAME_A), 0700), 0);
    ck_assert_int_eq(mkdir(path_of(NAME_A "/x"), 0700), 0);
    ck_assert_int_ne(wr(NAME_A, CTX_A, "payload"), APR_SUCCESS);
    ck_assert_int_eq(dir_entries(), 1);
    ck_assert_int_eq(rd(NAME_A, CTX_A, MAX, &out, &why), APR_EINVAL);
    /* a missing directory, and a symlink as the directory */
    ck_assert_int_ne(b2c_state_file_write(ut_pool, path_of("nope"), NAME_A,
                                          ring, CTX_A, "x", 1, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(symlink(dir, path_of("link")), 0);
    ck_assert_int_ne(b2c_state_file_write(ut_pool, path_of("link"), NAME_B,
                                          ring, CTX_A, "x", 1, &why),
                     APR_SUCCESS);
    ck_assert_str_eq(why, "cannot open the state directory");
    ck_assert_int_eq(dir_entries(), 2);
    /* nor is a file read through a symlinked directory */
    ck_assert_int_eq(wr(NAME_B, CTX_A, "payload"), APR_SUCCESS);
    {
        size_t len;
        ck_assert_int_ne(b2c_state_file_read(ut_pool, path_of("link"), NAME_B,
                                             (uid_t)-1, ring, CTX_A, MAX, &out,
                                             &len, &why),
                         APR_SUCCESS);
        ck_assert_str_eq(why, "cannot open the state directory");
    }
    ck_assert_int_eq(unlink(path_of(NAME_B)), 0);
    /* not root: a read-only directory refuses the temp file */
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(dir, 0500), 0);
        ck_assert_int_ne(wr(NAME_B, CTX_A, "payload"), APR_SUCCESS);
        ck_assert_int_eq(chmod(dir, 0700), 0);
        ck_assert_int_eq(dir_entries(), 2);
    }
}
END_TEST

START_TEST(dir_check)
{
    const char *why;

    ck_assert_int_eq(chmod(dir, 0700), 0);
    ck_assert_int_eq(b2c_state_dir_check(ut_pool, dir, (uid_t)-1, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(chmod(dir, 0777), 0);
    ck_assert_int_eq(b2c_state_dir_check(ut_pool, dir, (uid_t)-1, &why),
                     APR_EINVAL);
    ck_assert_int_eq(chmod(dir, 0700), 0);
    ck_assert_int_eq(symlink(dir, path_of("link")), 0);
    ck_assert_int_eq(
        b2c_state_dir_check(ut_pool, path_of("link"), (uid_t)-1, &why),
        APR_EINVAL);
    ck_assert_int_ne(
        b2c_state_dir_check(ut_pool, path_of("none"), (uid_t)-1, &why),
        APR_SUCCESS);
}
END_TEST

/* ---- payloads ---- */

START_TEST(keys_entry)
{
    b2c_keys_entry_t in = { UT_NOW - 10, "https://a.example/m",
                            "https://iss/v2.0", "{\"keys\":[]}\n" };
    b2c_keys_entry_t out;
    char *buf;
    size_t len;
    const char *why;

    ck_assert_int_eq(b2c_keys_entry_pack(ut_pool, &in, &buf, &len),
                     APR_SUCCESS);
    ck_assert_str_eq(
        buf, "b2c1 keys\n1699999990\nhttps://a.example/m\nhttps://iss/v2.0\n"
             "{\"keys\":[]}\n");
    ck_assert_int_eq(
        b2c_keys_entry_unpack(ut_pool, buf, len, UT_NOW, in.url, &out, &why),
        APR_SUCCESS);
    ck_assert(out.fetched == in.fetched);
    ck_assert_str_eq(out.issuer, in.issuer);
    ck_assert_str_eq(out.jwks, in.jwks);
    ck_assert_int_eq(
        b2c_keys_entry_unpack(ut_pool, buf, len, UT_NOW, NULL, &out, &why),
        APR_SUCCESS);
    ck_assert_int_eq(b2c_keys_entry_unpack(ut_pool, buf, len, UT_NOW,
                                           "https://b/", &out, &why),
                     APR_EINVAL);
    ck_assert_str_eq(why, "another metadata URL");
    /* fetched in the future by more than a minute */
    ck_assert_int_eq(
        b2c_keys_entry_unpack(ut_pool, buf, len, UT_NOW - 71, NULL, &out, &why),
        APR_EINVAL);
    ck_assert_str_eq(why, "bad fetch time");
    ck_assert_int_eq(
        b2c_keys_entry_unpack(ut_pool, buf, len, UT_NOW - 69, NULL, &out, &why),
        APR_SUCCESS);
    /* what cannot be packed */
    in.issuer = "bad\nissuer";
    ck_assert_int_eq(b2c_keys_entry_pack(ut_pool, &in, &buf, &len), APR_EINVAL);
    in.issuer = "x";
    in.jwks = "";
    ck_assert_int_eq(b2c_keys_entry_pack(ut_pool, &in, &buf, &len), APR_EINVAL);
    in.jwks = "{}";
    in.fetched = 0;
    ck_assert_int_eq(b2c_keys_entry_pack(ut_pool, &in, &buf, &len), APR_EINVAL);
    /* hostile entries */
    {
        static const char *bad[] = {
            "b2c1 keys\n-5\nhttps://a/\niss\n{}",
            "b2c1 keys\n 5\nhttps://a/\niss\n{}",
            "b2c1 keys\n99999999999999999999\nhttps://a/\niss\n{}",
            "b2c1 keys\n5\n\niss\n{}",
            "b2c1 keys\n5\nhttps://a/\n\n{}",
            "b2c1 keys\n5\nhttps://a/\nis s\n{}",
            "b2c1 keys\n5\nhttps://a/\niss\n",
            "b2c1 keys\n5\nhttps://a/\niss",
            "b2c1 ctoken\n5\n5\ntok",
        };
        size_t i;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            ck_assert_msg(b2c_keys_entry_unpack(ut_pool, bad[i], strlen(bad[i]),
                                                UT_NOW, NULL, &out, &why)
                              == APR_EINVAL,
                          "accepted case %zu", i);
    }
}
END_TEST

START_TEST(ctoken_entry)
{
    b2c_ctoken_entry_t in = { UT_NOW - 100, 3600, "eyJ0.eyJ1.c2ln" }, out;
    char *buf;
    size_t len;
    const char *why;

    ck_assert_int_eq(b2c_ctoken_entry_pack(ut_pool, &in, &buf, &len),
                     APR_SUCCESS);
    ck_assert_str_eq(buf, "b2c1 ctoken\n1699999900\n3600\neyJ0.eyJ1.c2ln");
    ck_assert_int_eq(
        b2c_ctoken_entry_unpack(ut_pool, buf, len, UT_NOW, &out, &why),
        APR_SUCCESS);
    ck_assert(out.obtained == in.obtained && out.lifetime == 3600);
    ck_assert_str_eq(out.token, in.token);
    /* expired at obtained + lifetime */
    ck_assert_int_eq(
        b2c_ctoken_entry_unpack(ut_pool, buf, len, UT_NOW + 3500, &out, &why),
        APR_EINVAL);
    ck_assert_str_eq(why, "expired");
    ck_assert_int_eq(
        b2c_ctoken_entry_unpack(ut_pool, buf, len, UT_NOW + 3499, &out, &why),
        APR_SUCCESS);
    /* bounds on pack */
    in.lifetime = 0;
    ck_assert_int_eq(b2c_ctoken_entry_pack(ut_pool, &in, &buf, &len),
                     APR_EINVAL);
    in.lifetime = B2C_STATE_MAX_LIFETIME + 1;
    ck_assert_int_eq(b2c_ctoken_entry_pack(ut_pool, &in, &buf, &len),
                     APR_EINVAL);
    in.lifetime = 60;
    in.token = "two words";
    ck_assert_int_eq(b2c_ctoken_entry_pack(ut_pool, &in, &buf, &len),
                     APR_EINVAL);
    {
        static const char *bad[] = {
            "b2c1 ctoken\n1699999900\n0\ntok",
            "b2c1 ctoken\n1699999900\n-1\ntok",
            "b2c1 ctoken\n1699999900\n31708801\ntok",
            "b2c1 ctoken\n1700000061\n3600\ntok", /* future */
            "b2c1 ctoken\n0\n3600\ntok",
            "b2c1 ctoken\n1699999900\n3600\n",
            "b2c1 ctoken\n1699999900\n3600\ntok en",
            "b2c1 ctoken\n1699999900\n3600\ntok\n",
            "b2c1 ctoken\n4611686018427387904\n4611686018427387904\nt",
            "b2c1 ctoken\n1699999900\n3600",
            "b2c1 keys\n1699999900\n3600\ntok",
        };
        size_t i;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            ck_assert_msg(b2c_ctoken_entry_unpack(ut_pool, bad[i],
                                                  strlen(bad[i]), UT_NOW, &out,
                                                  &why)
                              == APR_EINVAL,
                          "accepted case %zu", i);
    }
}
END_TEST

START_TEST(token_state_end_to_end)
{
    b2c_ctoken_entry_t in = { UT_NOW, 3600, "eyJ0.eyJ1.c2ln" }, out;
    char *buf, *got;
    size_t len, glen;
    const char *why;

    ck_assert_int_eq(b2c_ctoken_entry_pack(ut_pool, &in, &buf, &len),
                     APR_SUCCESS);
    ck_assert_int_eq(b2c_state_file_write(ut_pool, dir, NAME_A, ring,
                                          "client api", buf, len, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(b2c_state_file_read(ut_pool, dir, NAME_A, (uid_t)-1, ring,
                                         "client api", MAX, &got, &glen, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(
        b2c_ctoken_entry_unpack(ut_pool, got, glen, UT_NOW, &out, &why),
        APR_SUCCESS);
    ck_assert_str_eq(out.token, in.token);
}
END_TEST

Suite *state_file_suite(void)
{
    Suite *s = suite_create("state_file");
    TCase *t = tcase_create("files");
    TCase *e = tcase_create("entries");

    tcase_add_checked_fixture(t, sf_setup, sf_teardown);
    tcase_add_test(t, round_trip);
    tcase_add_test(t, foreign_file_refused);
    tcase_add_test(t, truncated_and_altered_refused);
    tcase_add_test(t, mode_symlink_dir_size);
    tcase_add_test(t, owner_checked);
    tcase_add_test(t, names_checked);
    tcase_add_test(t, failed_write_leaves_nothing);
    tcase_add_test(t, dir_check);
    tcase_add_test(t, token_state_end_to_end);
    suite_add_tcase(s, t);
    tcase_add_checked_fixture(e, ut_setup, ut_teardown);
    tcase_add_test(e, keys_entry);
    tcase_add_test(e, ctoken_entry);
    suite_add_tcase(s, e);
    return s;
}
