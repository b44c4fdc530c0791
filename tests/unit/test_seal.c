/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: sealing with a key ring (b2c_seal): round trips, every bit
 * flip and truncation refused, contexts and keys bound, key rotation, key
 * files checked with messages that name the file but never its content. */
#include "unit.h"
#include "b2c_seal.h"

#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_A "0123456789abcdef0123456789abcdef-A"
#define SECRET_B "0123456789abcdef0123456789abcdef-B"
#define CTX      "keys\nhttps://login.example/v2.0/.well-known/openid-configuration"

static b2c_seal_key_t *key_of(const char *secret)
{
    b2c_seal_key_t *k;

    ck_assert_int_eq(
        b2c_seal_key_from_bytes(ut_pool, secret, strlen(secret), &k),
        APR_SUCCESS);
    return k;
}

static void seal(const b2c_seal_ring_t *ring, const char *ctx, const char *text,
                 unsigned char **blob, size_t *len)
{
    ck_assert_int_eq(
        b2c_seal(ring, ut_pool, ctx, text, strlen(text), blob, len),
        APR_SUCCESS);
    ck_assert_uint_eq(*len, strlen(text) + B2C_SEAL_OVERHEAD);
}

static b2c_seal_status_t open_(const b2c_seal_ring_t *ring, const char *ctx,
                               const void *blob, size_t len, char **plain,
                               size_t *plen)
{
    return b2c_seal_open(ring, ut_pool, ctx, blob, len, plain, plen);
}

START_TEST(round_trip)
{
    b2c_seal_ring_t *ring = b2c_seal_ring_make(ut_pool, key_of(SECRET_A));
    static const char *texts[] = { "", "x", "b2c1 ctoken\n1\n2\neyJ.a.b" };
    unsigned char *blob, *blob2;
    size_t len, len2, plen, i;
    char *plain;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        seal(ring, CTX, texts[i], &blob, &len);
        ck_assert_int_eq(blob[0], B2C_SEAL_VERSION);
        ck_assert_int_eq(open_(ring, CTX, blob, len, &plain, &plen),
                         B2C_SEAL_OK);
        ck_assert_uint_eq(plen, strlen(texts[i]));
        ck_assert_str_eq(plain, texts[i]);
        /* fresh nonce each time: the same input never seals the same */
        seal(ring, CTX, texts[i], &blob2, &len2);
        ck_assert(memcmp(blob, blob2, len) != 0);
    }
    /* the plaintext is not in the blob */
    seal(ring, CTX, "secret-token-bytes-here", &blob, &len);
    for (i = 0; i + 6 <= len; i++)
        ck_assert(memcmp(blob + i, "secret", 6) != 0);
    /* binary plaintext with NULs */
    ck_assert_int_eq(b2c_seal(ring, ut_pool, "", "a\0b", 3, &blob, &len),
                     APR_SUCCESS);
    ck_assert_int_eq(open_(ring, "", blob, len, &plain, &plen), B2C_SEAL_OK);
    ck_assert_uint_eq(plen, 3);
    ck_assert(memcmp(plain, "a\0b", 3) == 0);
}
END_TEST

START_TEST(every_bit_flip_refused)
{
    b2c_seal_ring_t *ring = b2c_seal_ring_make(ut_pool, key_of(SECRET_A));
    unsigned char *blob;
    size_t len, plen = 99, i;
    char *plain = NULL;
    int bit;

    seal(ring, CTX, "b2c1 keys\n1700000000\nhttps://x/\niss\n{}", &blob, &len);
    for (i = 0; i < len; i++)
        for (bit = 0; bit < 8; bit++) {
            b2c_seal_status_t st;

            blob[i] ^= (unsigned char)(1 << bit);
            st = open_(ring, CTX, blob, len, &plain, &plen);
            ck_assert_msg(st != B2C_SEAL_OK, "flip of byte %zu bit %d opened",
                          i, bit);
            if (i == 0)
                ck_assert_int_eq(st, B2C_SEAL_BAD_VERSION);
            else if (i <= B2C_SEAL_KEY_ID_LEN)
                ck_assert_int_eq(st, B2C_SEAL_UNKNOWN_KEY);
            else
                ck_assert_int_eq(st, B2C_SEAL_FORGED);
            blob[i] ^= (unsigned char)(1 << bit);
        }
    ck_assert_ptr_null(plain); /* never touched on failure */
    ck_assert_uint_eq(plen, 99);
    ck_assert_int_eq(open_(ring, CTX, blob, len, &plain, &plen), B2C_SEAL_OK);
}
END_TEST

START_TEST(every_truncation_refused)
{
    b2c_seal_ring_t *ring = b2c_seal_ring_make(ut_pool, key_of(SECRET_A));
    unsigned char *blob, *longer;
    size_t len, plen, i;
    char *plain;

    seal(ring, CTX, "some entry text", &blob, &len);
    for (i = 0; i < len; i++) {
        b2c_seal_status_t st = open_(ring, CTX, blob, i, &plain, &plen);
        ck_assert_msg(st != B2C_SEAL_OK, "prefix of %zu bytes opened", i);
        if (i < B2C_SEAL_OVERHEAD)
            ck_assert_int_eq(st, B2C_SEAL_MALFORMED);
    }
    /* nor with bytes appended, nor with the front cut */
    longer = apr_pcalloc(ut_pool, len + 1);
    memcpy(longer, blob, len);
    ck_assert_int_eq(open_(ring, CTX, longer, len + 1, &plain, &plen),
                     B2C_SEAL_FORGED);
    ck_assert_int_ne(open_(ring, CTX, blob + 1, len - 1, &plain, &plen),
                     B2C_SEAL_OK);
    ck_assert_int_eq(open_(ring, CTX, NULL, 0, &plain, &plen),
                     B2C_SEAL_MALFORMED);
}
END_TEST

START_TEST(other_context_refused)
{
    b2c_seal_ring_t *ring = b2c_seal_ring_make(ut_pool, key_of(SECRET_A));
    unsigned char *blob;
    size_t len, plen;
    char *plain;

    seal(ring, CTX, "entry", &blob, &len);
    ck_assert_int_eq(open_(ring, CTX "x", blob, len, &plain, &plen),
                     B2C_SEAL_FORGED);
    ck_assert_int_eq(open_(ring, "", blob, len, &plain, &plen),
                     B2C_SEAL_FORGED);
    ck_assert_int_eq(
        open_(ring, "keys\nhttps://login.example/", blob, len, &plain, &plen),
        B2C_SEAL_FORGED);
    seal(ring, "", "entry", &blob, &len);
    ck_assert_int_eq(open_(ring, CTX, blob, len, &plain, &plen),
                     B2C_SEAL_FORGED);
}
END_TEST

START_TEST(rotation)
{
    b2c_seal_key_t *a = key_of(SECRET_A), *b = key_of(SECRET_B);
    b2c_seal_ring_t *old_ring = b2c_seal_ring_make(ut_pool, a);
    b2c_seal_ring_t *new_ring = b2c_seal_ring_make(ut_pool, b);
    b2c_seal_ring_t *b_only = b2c_seal_ring_make(ut_pool, b);
    unsigned char *blob, *blob_new;
    size_t len, len_new, plen;
    char *plain;

    ck_assert_int_eq(b2c_seal_ring_add_old(new_ring, a), APR_SUCCESS);
    ck_assert_int_eq(b2c_seal_ring_add_old(new_ring, a),
                     APR_EINVAL); /* twice */
    ck_assert_int_eq(b2c_seal_ring_add_old(new_ring, b),
                     APR_EINVAL); /* current */
    seal(old_ring, CTX, "old", &blob, &len);
    ck_assert_int_eq(open_(new_ring, CTX, blob, len, &plain, &plen),
                     B2C_SEAL_OK);
    ck_assert_str_eq(plain, "old");
    /* the new ring seals with the current key, which the old ring lacks */
    seal(new_ring, CTX, "new", &blob_new, &len_new);
    ck_assert(memcmp(blob_new + 1, blob + 1, B2C_SEAL_KEY_ID_LEN) != 0);
    ck_assert_int_eq(open_(b_only, CTX, blob_new, len_new, &plain, &plen),
                     B2C_SEAL_OK);
    ck_assert_int_eq(open_(old_ring, CTX, blob_new, len_new, &plain, &plen),
                     B2C_SEAL_UNKNOWN_KEY);
    ck_assert_int_eq(open_(b_only, CTX, blob, len, &plain, &plen),
                     B2C_SEAL_UNKNOWN_KEY);
}
END_TEST

START_TEST(ring_limit)
{
    b2c_seal_ring_t *ring = b2c_seal_ring_make(ut_pool, key_of(SECRET_A));
    int i;

    for (i = 0; i < B2C_SEAL_MAX_OLD; i++) {
        b2c_seal_key_t *k;
        ck_assert_int_eq(b2c_seal_key_generate(ut_pool, &k), APR_SUCCESS);
        ck_assert_int_eq(b2c_seal_ring_add_old(ring, k), APR_SUCCESS);
    }
    ck_assert_int_eq(b2c_seal_ring_add_old(ring, key_of(SECRET_B)), APR_EINVAL);
}
END_TEST

START_TEST(same_id_other_key_forged)
{
    /* a blob whose key id is ours but which another key sealed */
    b2c_seal_key_t *a = key_of(SECRET_A);
    b2c_seal_ring_t *ra = b2c_seal_ring_make(ut_pool, a);
    b2c_seal_ring_t *rb = b2c_seal_ring_make(ut_pool, key_of(SECRET_B));
    unsigned char *ba, *bb;
    size_t la, lb, plen;
    char *plain;

    seal(ra, CTX, "entry", &ba, &la);
    seal(rb, CTX, "entry", &bb, &lb);
    memcpy(bb + 1, ba + 1, B2C_SEAL_KEY_ID_LEN);
    ck_assert_int_eq(open_(ra, CTX, bb, lb, &plain, &plen), B2C_SEAL_FORGED);
}
END_TEST

START_TEST(key_from_bytes_bounds)
{
    static char big[B2C_SEAL_MAX_SECRET + 1];
    b2c_seal_key_t *k;

    ck_assert_int_eq(b2c_seal_key_from_bytes(ut_pool, SECRET_A, 31, &k),
                     APR_EINVAL);
    ck_assert_int_eq(b2c_seal_key_from_bytes(ut_pool, SECRET_A, 32, &k),
                     APR_SUCCESS);
    ck_assert_int_eq(b2c_seal_key_from_bytes(ut_pool, big, sizeof(big), &k),
                     APR_EINVAL);
    ck_assert_int_eq(b2c_seal_key_from_bytes(ut_pool, big, sizeof(big) - 1, &k),
                     APR_SUCCESS);
    ck_assert_str_eq(b2c_seal_key_id_hex(ut_pool, key_of(SECRET_A)),
                     b2c_seal_key_id_hex(ut_pool, key_of(SECRET_A)));
    ck_assert_str_ne(b2c_seal_key_id_hex(ut_pool, key_of(SECRET_A)),
                     b2c_seal_key_id_hex(ut_pool, key_of(SECRET_B)));
    ck_assert_uint_eq(strlen(b2c_seal_key_id_hex(ut_pool, k)), 16);
}
END_TEST

/* A file in a fresh temp dir with the given content and mode. */
static char *tmpdir;

static void files_setup(void)
{
    char tmpl[] = "/tmp/b2c-seal-test.XXXXXX";

    ut_setup();
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    tmpdir = apr_pstrdup(ut_pool, tmpl);
}

static void files_teardown(void)
{
    char *cmd = apr_psprintf(ut_pool, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    ut_teardown();
}

static const char *put_file(const char *name, const char *content, size_t len,
                            mode_t mode)
{
    const char *path = apr_pstrcat(ut_pool, tmpdir, "/", name, NULL);
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(content, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

START_TEST(key_file_good_and_deterministic)
{
    /* what `openssl rand -base64 32` writes: 44 characters and a newline */
    const char *content = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8w=\n";
    const char *path = put_file("k", content, strlen(content), 0600);
    const char *path2 = put_file("k2", content, strlen(content) - 1, 0600);
    b2c_seal_key_t *k1, *k2, *k3;
    const char *err = NULL, *warn = "x";

    ck_assert_int_eq(b2c_seal_key_load(ut_pool, path, &k1, &err, &warn),
                     APR_SUCCESS);
    ck_assert_ptr_null(warn);
    ck_assert_int_eq(b2c_seal_key_load(ut_pool, path, &k2, &err, NULL),
                     APR_SUCCESS);
    /* the trailing newline is not part of the secret */
    ck_assert_int_eq(b2c_seal_key_load(ut_pool, path2, &k3, &err, NULL),
                     APR_SUCCESS);
    ck_assert_str_eq(b2c_seal_key_id_hex(ut_pool, k1),
                     b2c_seal_key_id_hex(ut_pool, k2));
    ck_assert_str_eq(b2c_seal_key_id_hex(ut_pool, k1),
                     b2c_seal_key_id_hex(ut_pool, k3));
    /* same file, same key: one server seals, another opens */
    {
        b2c_seal_ring_t *r1 = b2c_seal_ring_make(ut_pool, k1);
        b2c_seal_ring_t *r2 = b2c_seal_ring_make(ut_pool, k2);
        unsigned char *blob;
        size_t len, plen;
        char *plain;

        seal(r1, CTX, "fleet", &blob, &len);
        ck_assert_int_eq(open_(r2, CTX, blob, len, &plain, &plen), B2C_SEAL_OK);
    }
    /* a CRLF from an editor goes too */
    path2 = put_file("k3", "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8w=\r\n",
                     46, 0600);
    ck_assert_int_eq(b2c_seal_key_load(ut_pool, path2, &k3, &err, NULL),
                     APR_SUCCESS);
    ck_assert_str_eq(b2c_seal_key_id_hex(ut_pool, k1),
                     b2c_seal_key_id_hex(ut_pool, k3));
    /* a file others can read loads, with a warning naming it */
    path = put_file("k4", content, strlen(content), 0644);
    ck_assert_int_eq(b2c_seal_key_load(ut_pool, path, &k1, &err, &warn),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(warn);
    ck_assert_ptr_nonnull(strstr(warn, path));
}
END_TEST

START_TEST(key_file_refused)
{
    const char *secretish = "SECRETSECRETSECRETSECRETSECRET1"; /* 31 bytes */
    const char *cases[4], *err, *missing;
    b2c_seal_key_t *k;
    int i;

    cases[0] = put_file("short", secretish, strlen(secretish), 0600);
    cases[1] =
        put_file("short-nl", "SECRETSECRETSECRETSECRETSECRET1\n", 32, 0600);
    cases[2] = put_file("empty", "", 0, 0600);
    cases[3] = put_file("newline", "\n", 1, 0600);
    for (i = 0; i < 4; i++) {
        err = NULL;
        ck_assert_int_ne(b2c_seal_key_load(ut_pool, cases[i], &k, &err, NULL),
                         APR_SUCCESS);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, cases[i]) != NULL, "no file name in: %s",
                      err);
        ck_assert_msg(strstr(err, "SECRET") == NULL, "content in: %s", err);
    }
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    missing = apr_pstrcat(ut_pool, tmpdir, "/missing", NULL);
    ck_assert_int_ne(b2c_seal_key_load(ut_pool, missing, &k, &err, NULL),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, missing));
    /* a directory */
    ck_assert_int_eq(b2c_seal_key_load(ut_pool, tmpdir, &k, &err, NULL),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
    /* too large */
    {
        char *big = apr_pcalloc(ut_pool, B2C_SEAL_MAX_SECRET + 2);
        memset(big, 'S', B2C_SEAL_MAX_SECRET + 1);
        cases[0] = put_file("big", big, B2C_SEAL_MAX_SECRET + 1, 0600);
        ck_assert_int_eq(b2c_seal_key_load(ut_pool, cases[0], &k, &err, NULL),
                         APR_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, cases[0]));
        ck_assert_ptr_null(strstr(err, "SSSS"));
    }
}
END_TEST

START_TEST(ring_load)
{
    const char *a = put_file("a", SECRET_A "\n", strlen(SECRET_A) + 1, 0600);
    const char *b = put_file("b", SECRET_B, strlen(SECRET_B), 0600);
    const char *a2 = put_file("a2", SECRET_A, strlen(SECRET_A), 0600);
    const char *paths[3], *err, *warn;
    b2c_seal_ring_t *ring, *old;
    unsigned char *blob;
    size_t len, plen;
    char *plain;

    paths[0] = b;
    paths[1] = a;
    ck_assert_int_eq(b2c_seal_ring_load(ut_pool, paths, 2, &ring, &err, &warn),
                     APR_SUCCESS);
    old = b2c_seal_ring_make(ut_pool, key_of(SECRET_A));
    seal(old, CTX, "by a", &blob, &len);
    ck_assert_int_eq(open_(ring, CTX, blob, len, &plain, &plen), B2C_SEAL_OK);
    seal(ring, CTX, "by b", &blob, &len);
    ck_assert_int_eq(open_(old, CTX, blob, len, &plain, &plen),
                     B2C_SEAL_UNKNOWN_KEY);
    /* the same secret twice (a copy of the file) */
    paths[2] = a2;
    ck_assert_int_eq(b2c_seal_ring_load(ut_pool, paths, 3, &ring, &err, &warn),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, a2));
    ck_assert_int_eq(b2c_seal_ring_load(ut_pool, paths, 0, &ring, &err, &warn),
                     APR_EINVAL);
}
END_TEST

START_TEST(status_texts)
{
    int st;
    for (st = B2C_SEAL_OK; st <= B2C_SEAL_ERROR; st++)
        ck_assert_ptr_nonnull(b2c_seal_status_text((b2c_seal_status_t)st));
    ck_assert_str_eq(b2c_seal_status_text(B2C_SEAL_FORGED),
                     "authentication failed");
}
END_TEST

Suite *seal_suite(void)
{
    Suite *s = suite_create("seal");
    TCase *t = tcase_create("blob");
    TCase *f = tcase_create("key files");

    tcase_add_checked_fixture(t, ut_setup, ut_teardown);
    tcase_add_test(t, round_trip);
    tcase_add_test(t, every_bit_flip_refused);
    tcase_add_test(t, every_truncation_refused);
    tcase_add_test(t, other_context_refused);
    tcase_add_test(t, rotation);
    tcase_add_test(t, ring_limit);
    tcase_add_test(t, same_id_other_key_forged);
    tcase_add_test(t, key_from_bytes_bounds);
    tcase_add_test(t, status_texts);
    suite_add_tcase(s, t);
    tcase_add_checked_fixture(f, files_setup, files_teardown);
    tcase_add_test(f, key_file_good_and_deterministic);
    tcase_add_test(f, key_file_refused);
    tcase_add_test(f, ring_load);
    suite_add_tcase(s, f);
    return s;
}
