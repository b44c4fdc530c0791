/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: mod_b2c_auth's validated-token cache
 * (common/b2c_token_cache.c), which is httpd-free: hits need the whole
 * token and the same context, expiry and capacity hold, and a verdict
 * outlives its eviction for as long as the request that holds it. */
#include "unit.h"
#include "b2c_token_cache.h"

#include <apr_strings.h>
#include <string.h>

#define CTX                                                                    \
    "https://login.example/v2.0/.well-known/openid-configuration\n1\n300"

static apr_status_t release_json(void *json)
{
    json_decref(json);
    return APR_SUCCESS;
}

static b2c_verdict_t verdict_for(const char *sub)
{
    b2c_verdict_t v;
    b2c_claim_export_t *x;

    v.claims = json_pack("{s:s, s:[s,s]}", "sub", sub, "roles", "a", "b");
    apr_pool_cleanup_register(ut_pool, v.claims, release_json,
                              apr_pool_cleanup_null);
    v.nexports = b2c_claims_render_exports(ut_pool, v.claims, "B2C_CLAIM_", &x);
    v.exports = x;
    return v;
}

static const char *export_text(const b2c_verdict_t *v, const char *env)
{
    int i;
    for (i = 0; i < v->nexports; i++)
        if (!strcmp(v->exports[i].env, env))
            return v->exports[i].text;
    return NULL;
}

/* A token-shaped string; `tag` goes in the middle, the tail stays fixed. */
static const char *token(const char *tag)
{
    return apr_pstrcat(ut_pool, "eyJhbGciOiJSUzI1NiJ9.", tag,
                       ".SIGNATURE-that-is-the-same-for-all-of-these", NULL);
}

START_TEST(token_cache_hit_needs_whole_token_and_context)
{
    b2c_token_cache_t *c;
    b2c_verdict_t v = verdict_for("alice"), got;
    const char *t1 = token("AAAA"), *t2 = token("AAAB");

    ck_assert_int_eq(b2c_token_cache_create(ut_pool, 100, &c), APR_SUCCESS);
    ck_assert(b2c_token_cache_enabled(c));
    ck_assert(
        !b2c_token_cache_get(c, CTX, t1, strlen(t1), UT_NOW, ut_pool, &got));
    b2c_token_cache_put(c, CTX, t1, strlen(t1), &v, UT_NOW + 60, UT_NOW);
    ck_assert(
        b2c_token_cache_get(c, CTX, t1, strlen(t1), UT_NOW, ut_pool, &got));
    ck_assert_ptr_eq(got.claims, v.claims);
    ck_assert_str_eq(export_text(&got, "B2C_CLAIM_sub"), "alice");
    ck_assert_str_eq(export_text(&got, "B2C_CLAIM_roles"), "a,b");
    /* same length and tail, other bytes in the middle: a miss */
    ck_assert(
        !b2c_token_cache_get(c, CTX, t2, strlen(t2), UT_NOW, ut_pool, &got));
    /* a prefix of the token: a miss */
    ck_assert(!b2c_token_cache_get(c, CTX, t1, strlen(t1) - 1, UT_NOW, ut_pool,
                                   &got));
    /* the same token under other settings: a miss */
    ck_assert(!b2c_token_cache_get(c, CTX "x", t1, strlen(t1), UT_NOW, ut_pool,
                                   &got));
}
END_TEST

START_TEST(token_cache_honours_expiry)
{
    b2c_token_cache_t *c;
    b2c_verdict_t v = verdict_for("bob"), got;
    const char *t = token("exp");

    ck_assert_int_eq(b2c_token_cache_create(ut_pool, 10, &c), APR_SUCCESS);
    b2c_token_cache_put(c, CTX, t, strlen(t), &v, UT_NOW + 5, UT_NOW);
    ck_assert(
        b2c_token_cache_get(c, CTX, t, strlen(t), UT_NOW + 5, ut_pool, &got));
    ck_assert(
        !b2c_token_cache_get(c, CTX, t, strlen(t), UT_NOW + 6, ut_pool, &got));
    /* already expired when offered: not stored */
    b2c_token_cache_put(c, CTX, t, strlen(t), &v, UT_NOW - 1, UT_NOW);
    ck_assert(
        !b2c_token_cache_get(c, CTX, t, strlen(t), UT_NOW, ut_pool, &got));
}
END_TEST

static int count_hits(b2c_token_cache_t *c, int n, const char *prefix,
                      long long now)
{
    b2c_verdict_t got;
    int i, hits = 0;
    for (i = 0; i < n; i++) {
        const char *t = token(apr_psprintf(ut_pool, "%s%d", prefix, i));
        hits += b2c_token_cache_get(c, CTX, t, strlen(t), now, ut_pool, &got);
    }
    return hits;
}

START_TEST(token_cache_capacity_is_exact_and_expired_entries_make_room)
{
    b2c_token_cache_t *c;
    b2c_verdict_t v = verdict_for("carol");
    int i;

    ck_assert_int_eq(b2c_token_cache_create(ut_pool, 20, &c), APR_SUCCESS);
    for (i = 0; i < 500; i++) {
        const char *t = token(apr_psprintf(ut_pool, "old%d", i));
        b2c_token_cache_put(c, CTX, t, strlen(t), &v, UT_NOW + 10, UT_NOW);
    }
    ck_assert_int_le(count_hits(c, 500, "old", UT_NOW), 20);
    ck_assert_int_ge(count_hits(c, 500, "old", UT_NOW), 16);
    /* once those expire, new tokens find room again */
    for (i = 0; i < 500; i++) {
        const char *t = token(apr_psprintf(ut_pool, "new%d", i));
        b2c_token_cache_put(c, CTX, t, strlen(t), &v, UT_NOW + 100,
                            UT_NOW + 20);
    }
    ck_assert_int_eq(count_hits(c, 500, "old", UT_NOW + 20), 0);
    ck_assert_int_ge(count_hits(c, 500, "new", UT_NOW + 20), 16);
}
END_TEST

START_TEST(token_cache_verdict_outlives_the_cache)
{
    apr_pool_t *cache_pool, *req_pool;
    b2c_token_cache_t *c;
    b2c_verdict_t v = verdict_for("dave"), got;
    const char *t = token("life");

    apr_pool_create(&cache_pool, NULL);
    apr_pool_create(&req_pool, NULL);
    ck_assert_int_eq(b2c_token_cache_create(cache_pool, 10, &c), APR_SUCCESS);
    b2c_token_cache_put(c, CTX, t, strlen(t), &v, UT_NOW + 60, UT_NOW);
    ck_assert(
        b2c_token_cache_get(c, CTX, t, strlen(t), UT_NOW, req_pool, &got));
    apr_pool_destroy(cache_pool); /* the cache lets go of its entries */
    ck_assert_str_eq(export_text(&got, "B2C_CLAIM_sub"), "dave");
    ck_assert_str_eq(json_string_value(json_object_get(got.claims, "sub")),
                     "dave");
    apr_pool_destroy(req_pool); /* the last reference: freed (ASan checks) */
}
END_TEST

START_TEST(token_cache_zero_entries_stores_nothing)
{
    b2c_token_cache_t *c;
    b2c_verdict_t v = verdict_for("erin"), got;
    const char *t = token("zero");

    ck_assert_int_eq(b2c_token_cache_create(ut_pool, 0, &c), APR_SUCCESS);
    ck_assert(!b2c_token_cache_enabled(c));
    b2c_token_cache_put(c, CTX, t, strlen(t), &v, UT_NOW + 60, UT_NOW);
    ck_assert(
        !b2c_token_cache_get(c, CTX, t, strlen(t), UT_NOW, ut_pool, &got));
}
END_TEST

Suite *token_cache_suite(void)
{
    Suite *s = suite_create("token_cache");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, ut_setup, ut_teardown);
    tcase_add_test(tc, token_cache_hit_needs_whole_token_and_context);
    tcase_add_test(tc, token_cache_honours_expiry);
    tcase_add_test(tc,
                   token_cache_capacity_is_exact_and_expired_entries_make_room);
    tcase_add_test(tc, token_cache_verdict_outlives_the_cache);
    tcase_add_test(tc, token_cache_zero_entries_stores_nothing);
    suite_add_tcase(s, tc);
    return s;
}
