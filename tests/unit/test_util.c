/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: strict base64url (b2c_util) and hostile-input JSON (b2c_json). */
#include "unit.h"
#include "b2c_cache_entry.h"
#include "b2c_http.h"
#include "b2c_json.h"
#include "b2c_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static apr_status_t dec(const char *in, unsigned char **out, size_t *outlen)
{
    return b2c_b64url_decode(ut_pool, in, strlen(in), out, outlen);
}

START_TEST(b64_known_vectors)
{
    /* RFC 4648 §10 vectors, in the URL-safe alphabet without padding. */
    static const char *plain[] = { "",     "f",     "fo",    "foo",
                                   "foob", "fooba", "foobar" };
    static const char *enc[] = { "",       "Zg",      "Zm8",     "Zm9v",
                                 "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
    unsigned char *out;
    size_t len, i;

    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        ck_assert_str_eq(b2c_b64url_encode(ut_pool,
                                           (const unsigned char *)plain[i],
                                           strlen(plain[i])),
                         enc[i]);
        ck_assert_int_eq(dec(enc[i], &out, &len), APR_SUCCESS);
        ck_assert_uint_eq(len, strlen(plain[i]));
        ck_assert(memcmp(out, plain[i], len) == 0);
        ck_assert_int_eq(out[len], 0); /* NUL-terminated */
    }
}
END_TEST

START_TEST(b64_url_alphabet)
{
    static const unsigned char bytes[] = { 0xfb, 0xff, 0xbf };
    unsigned char *out;
    size_t len;

    ck_assert_str_eq(b2c_b64url_encode(ut_pool, bytes, 3), "-_-_");
    ck_assert_int_eq(dec("-_-_", &out, &len), APR_SUCCESS);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(out, bytes, 3) == 0);
}
END_TEST

START_TEST(b64_rejects_padding_and_bad_chars)
{
    static const char *bad[] = { "Zg==",      "Zm8=",     "Zm9v=",   "+/+/",
                                 "Zm9v Yg",   "Zm9v\nYg", "Zm9v.Yg", "Zm9v\tYg",
                                 "Zm9vYg%3D", "Z\x80g" };
    unsigned char *out;
    size_t len, i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(dec(bad[i], &out, &len) == APR_EINVAL,
                      "accepted case %zu", i);
}
END_TEST

START_TEST(b64_rejects_len_mod4_is_1)
{
    unsigned char *out;
    size_t len;

    ck_assert_int_eq(dec("Z", &out, &len), APR_EINVAL);
    ck_assert_int_eq(dec("Zm9vY", &out, &len), APR_EINVAL);
}
END_TEST

START_TEST(b64_rejects_nonzero_trailing_bits)
{
    unsigned char *out;
    size_t len;

    /* "Zg" is canonical for "f"; "Zh" has the low 4 bits set. */
    ck_assert_int_eq(dec("Zh", &out, &len), APR_EINVAL);
    /* "Zm8" is canonical for "fo"; "Zm9" has the low 2 bits set. */
    ck_assert_int_eq(dec("Zm9", &out, &len), APR_EINVAL);
}
END_TEST

START_TEST(b64_rejects_embedded_nul)
{
    unsigned char *out;
    size_t len;

    ck_assert_int_eq(b2c_b64url_decode(ut_pool, "Zm\0v", 4, &out, &len),
                     APR_EINVAL);
}
END_TEST

START_TEST(b64_round_trip_all_lengths)
{
    unsigned char buf[300], *out;
    size_t i, len;

    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    for (i = 0; i <= sizeof(buf); i++) {
        char *e = b2c_b64url_encode(ut_pool, buf, i);
        ck_assert_uint_eq(strlen(e), (i * 4 + 2) / 3);
        ck_assert_int_eq(dec(e, &out, &len), APR_SUCCESS);
        ck_assert_uint_eq(len, i);
        ck_assert(memcmp(out, buf, i) == 0);
    }
}
END_TEST

START_TEST(sha256_vector)
{
    unsigned char h[32];

    b2c_sha256("abc", 3, h);
    ck_assert_str_eq(b2c_b64url_encode(ut_pool, h, 32),
                     "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    ck_assert_str_eq(
        b2c_hex_encode(ut_pool, h, 32),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_str_eq(b2c_hex_encode(ut_pool, h, 0), "");
}
END_TEST

static apr_status_t parse(const char *s, size_t len, json_t **out,
                          const char **err)
{
    return b2c_json_parse_object(ut_pool, s, len, out, err);
}
#define PARSE(s, o, e) parse((s), strlen(s), (o), (e))

START_TEST(json_accepts_object)
{
    json_t *o;
    const char *err;

    ck_assert_int_eq(PARSE("{\"a\":\"b\",\"n\":1}", &o, &err), APR_SUCCESS);
    ck_assert_str_eq(b2c_json_string(o, "a"), "b");
    ck_assert_ptr_null(b2c_json_string(o, "n"));
    ck_assert_ptr_null(b2c_json_string(o, "missing"));
}
END_TEST

START_TEST(json_rejects_duplicates)
{
    json_t *o;
    const char *err = NULL;

    ck_assert_int_eq(PARSE("{\"alg\":\"RS256\",\"alg\":\"none\"}", &o, &err),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(strstr(err, "none")); /* never quotes the input */
    ck_assert_int_eq(PARSE("{\"a\":{\"b\":1,\"b\":2}}", &o, &err), APR_EINVAL);
}
END_TEST

START_TEST(json_rejects_trailing_garbage)
{
    json_t *o;
    const char *err;

    ck_assert_int_eq(PARSE("{\"a\":1}x", &o, &err), APR_EINVAL);
    ck_assert_int_eq(PARSE("{\"a\":1}{\"b\":2}", &o, &err), APR_EINVAL);
    ck_assert_int_eq(PARSE("{\"a\":1}  \n", &o, &err),
                     APR_SUCCESS); /* whitespace ok */
}
END_TEST

START_TEST(json_rejects_non_object)
{
    static const char *docs[] = { "[]",   "[{\"a\":1}]", "\"s\"", "1",
                                  "true", "null",        "" };
    json_t *o;
    const char *err;
    size_t i;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        ck_assert_msg(PARSE(docs[i], &o, &err) == APR_EINVAL,
                      "accepted case %zu", i);
    ck_assert_int_eq(parse(NULL, 0, &o, &err), APR_EINVAL);
}
END_TEST

START_TEST(json_rejects_nul)
{
    static const char raw[] = "{\"a\":\"b\0c\"}";
    json_t *o;
    const char *err;

    ck_assert_int_eq(parse(raw, sizeof(raw) - 1, &o, &err), APR_EINVAL);
    ck_assert_int_eq(PARSE("{\"a\":\"b\\u0000c\"}", &o, &err), APR_EINVAL);
    ck_assert_int_eq(PARSE("{\"a\\u0000\":1}", &o, &err), APR_EINVAL);
}
END_TEST

START_TEST(json_rejects_oversized)
{
    size_t n = B2C_JSON_MAX_BYTES + 16;
    char *big = apr_palloc(ut_pool, n);
    json_t *o;
    const char *err;

    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    ck_assert_int_eq(parse(big, n, &o, &err), APR_EINVAL);
}
END_TEST

START_TEST(json_numeric_date)
{
    json_t *o;
    const char *err;
    long long v = 0;

    ck_assert_int_eq(
        PARSE("{\"i\":1700000000,\"r\":1700000000.0,\"f\":1.5,\"s\":\"1\","
              "\"b\":true,\"n\":null,\"big\":1e300,\"neg\":-5,"
              "\"huge\":9223372036854775807}",
              &o, &err),
        APR_SUCCESS);
    ck_assert_int_eq(b2c_json_numeric_date(o, "i", &v), 1);
    ck_assert(v == 1700000000LL);
    ck_assert_int_eq(b2c_json_numeric_date(o, "r", &v), 1);
    ck_assert(v == 1700000000LL);
    ck_assert_int_eq(b2c_json_numeric_date(o, "f", &v), -1);
    ck_assert_int_eq(b2c_json_numeric_date(o, "s", &v), -1);
    ck_assert_int_eq(b2c_json_numeric_date(o, "b", &v), -1);
    ck_assert_int_eq(b2c_json_numeric_date(o, "n", &v), -1);
    ck_assert_int_eq(b2c_json_numeric_date(o, "big", &v), -1);
    ck_assert_int_eq(b2c_json_numeric_date(o, "huge", &v), -1);
    ck_assert_int_eq(b2c_json_numeric_date(o, "neg", &v), 1);
    ck_assert_int_eq(b2c_json_numeric_date(o, "absent", &v), 0);
}
END_TEST

START_TEST(json_deep_nesting_does_not_crash)
{
    size_t depth = 100000, i;
    char *doc = apr_palloc(ut_pool, 2 * depth + 16);
    size_t n = 0;
    json_t *o;
    const char *err;

    n += (size_t)sprintf(doc, "{\"a\":");
    for (i = 0; i < depth; i++)
        doc[n++] = '[';
    for (i = 0; i < depth; i++)
        doc[n++] = ']';
    doc[n++] = '}';
    ck_assert_int_eq(parse(doc, n, &o, &err),
                     APR_EINVAL); /* jansson's depth limit */
}
END_TEST

/* issue 11, finding 5: every number in a cache entry is a time or duration
 * in seconds; beyond year 9999 it is refused, so callers can turn it into
 * microseconds and add two of them without overflow */
START_TEST(cache_times_bounded)
{
    long long v = 7;
    char buf[32];

    ck_assert(b2c_cache_parse_int("1700000000", &v) && v == 1700000000LL);
    ck_assert(b2c_cache_parse_int("-5", &v) && v == -5);
    snprintf(buf, sizeof(buf), "%lld", B2C_TIME_MAX);
    ck_assert(b2c_cache_parse_int(buf, &v) && v == B2C_TIME_MAX);
    v = 7;
    snprintf(buf, sizeof(buf), "%lld", B2C_TIME_MAX + 1);
    ck_assert(!b2c_cache_parse_int(buf, &v) && v == 7);
    snprintf(buf, sizeof(buf), "-%lld", B2C_TIME_MAX + 1);
    ck_assert(!b2c_cache_parse_int(buf, &v));
    ck_assert(!b2c_cache_parse_int("4611686018427387904", &v)); /* 2^62 */
    ck_assert(!b2c_cache_parse_int("9007199254740992", &v));    /* 2^53 */
    ck_assert(!b2c_cache_parse_int("9223372036854775807", &v));
    ck_assert(B2C_TIME_MAX * 1000000 * 2 / 2 / 1000000 == B2C_TIME_MAX);
}
END_TEST

static int internal(const char *text)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;

    memset(&v4, 0, sizeof(v4));
    memset(&v6, 0, sizeof(v6));
    if (inet_pton(AF_INET, text, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        return b2c_http_address_is_internal((struct sockaddr *)&v4);
    }
    ck_assert_int_eq(inet_pton(AF_INET6, text, &v6.sin6_addr), 1);
    v6.sin6_family = AF_INET6;
    return b2c_http_address_is_internal((struct sockaddr *)&v6);
}

/* issue 11, finding 10: what a fetch named in .htaccess may not reach */
START_TEST(http_internal_addresses)
{
    static const char *const inside[] = {
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "::ffff:169.254.169.254",
    };
    static const char *const outside[] = {
        "20.190.151.7", "40.126.1.1",          "8.8.8.8",     "172.15.255.255",
        "172.32.0.1",   "192.169.0.1",         "100.128.0.1", "169.253.1.1",
        "2603:1026::1", "::ffff:20.190.151.7", "2001:db8::1",
    };
    size_t i;

    for (i = 0; i < sizeof(inside) / sizeof(inside[0]); i++)
        ck_assert_msg(internal(inside[i]), "%s", inside[i]);
    for (i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
        ck_assert_msg(!internal(outside[i]), "%s", outside[i]);
}
END_TEST

/* The guard acts on the address DNS gave: "localhost" is refused like
 * 127.0.0.1; a numeric address the allow-list names is let through (here
 * to a closed port: a connection error, not a refusal). */
START_TEST(http_refuses_internal_after_resolution)
{
    b2c_http_options_t o = { 2000, 2000, 4096, NULL, 1, NULL };
    apr_array_header_t *allow =
        apr_array_make(ut_pool, 1, sizeof(const char *));
    b2c_http_response_t resp;
    const char *err;

    ck_assert_int_eq(b2c_http_global_init(), APR_SUCCESS);
    ck_assert_int_eq(
        b2c_http_get(ut_pool, "http://127.0.0.1:1/x", &o, &resp, &err),
        APR_EACCES);
    ck_assert_ptr_nonnull(strstr(err, "internal address"));
    ck_assert_int_eq(
        b2c_http_get(ut_pool, "http://localhost:1/x", &o, &resp, &err),
        APR_EACCES);
    ck_assert_int_eq(b2c_http_get(ut_pool, "http://[::1]:1/x", &o, &resp, &err),
                     APR_EACCES);
    APR_ARRAY_PUSH(allow, const char *) = "127.0.0.1";
    o.allowed_addrs = allow;
    ck_assert_int_ne(
        b2c_http_get(ut_pool, "http://127.0.0.1:1/x", &o, &resp, &err),
        APR_EACCES);
    o.refuse_internal = 0;
    o.allowed_addrs = NULL;
    ck_assert_int_ne(
        b2c_http_get(ut_pool, "http://127.0.0.1:1/x", &o, &resp, &err),
        APR_EACCES);
}
END_TEST

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *b64 = tcase_create("base64url");
    TCase *json = tcase_create("json");

    tcase_add_checked_fixture(b64, ut_setup, ut_teardown);
    tcase_add_test(b64, b64_known_vectors);
    tcase_add_test(b64, b64_url_alphabet);
    tcase_add_test(b64, b64_rejects_padding_and_bad_chars);
    tcase_add_test(b64, b64_rejects_len_mod4_is_1);
    tcase_add_test(b64, b64_rejects_nonzero_trailing_bits);
    tcase_add_test(b64, b64_rejects_embedded_nul);
    tcase_add_test(b64, b64_round_trip_all_lengths);
    tcase_add_test(b64, sha256_vector);
    tcase_add_test(b64, cache_times_bounded);
    tcase_add_test(b64, http_internal_addresses);
    tcase_add_test(b64, http_refuses_internal_after_resolution);
    suite_add_tcase(s, b64);

    tcase_add_checked_fixture(json, ut_setup, ut_teardown);
    tcase_add_test(json, json_accepts_object);
    tcase_add_test(json, json_rejects_duplicates);
    tcase_add_test(json, json_rejects_trailing_garbage);
    tcase_add_test(json, json_rejects_non_object);
    tcase_add_test(json, json_rejects_nul);
    tcase_add_test(json, json_rejects_oversized);
    tcase_add_test(json, json_numeric_date);
    tcase_add_test(json, json_deep_nesting_does_not_crash);
    suite_add_tcase(s, json);
    return s;
}
