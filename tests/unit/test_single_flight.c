/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the single-flight protocol (common/b2c_single_flight.c) with
 * a fake shared cache and a fake clock. A script says what "another
 * process" does while we wait: publish a value, drop its lease, or publish
 * just as we win the lease. */
#include "unit.h"
#include "b2c_single_flight.h"
#include "b2c_log.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#define NENT  4
#define MS(n) apr_time_from_msec(n)
#define LEASE "b2c:lease:x"
#define VALUE "b2c:value:x"

typedef struct {
    const char *key;
    char val[64];
    apr_time_t expiry;
} fent_t;

typedef struct {
    b2c_lease_cache_t seam;
    fent_t ent[NENT];
    apr_time_t now;
    int sleeps, adopts, works, takes, removes, lease_in_work;
    long ours; /* the version we hold; 0: none */
    /* the script: 0 means never */
    int publish_at_sleep;    /* another publishes version 2 */
    int drop_lease_at_sleep; /* another's lease goes away */
    int publish_on_take;     /* another publishes as we win the lease */
    int published_unusable;  /* what another publishes is already too old */
} fake_t;

static fake_t fk;

static fent_t *find(const char *key)
{
    int i;
    for (i = 0; i < NENT; i++)
        if (fk.ent[i].key && !strcmp(fk.ent[i].key, key)
            && fk.ent[i].expiry > fk.now)
            return &fk.ent[i];
    return NULL;
}

static void store(const char *key, const char *val, apr_time_t expiry)
{
    fent_t *e = find(key);
    int i;
    for (i = 0; !e && i < NENT; i++)
        if (!fk.ent[i].key || fk.ent[i].expiry <= fk.now)
            e = &fk.ent[i];
    ck_assert_ptr_nonnull(e);
    e->key = key;
    apr_cpystrn(e->val, val, sizeof(e->val));
    e->expiry = expiry;
}

static void drop(const char *key)
{
    fent_t *e = find(key);
    if (e)
        e->key = NULL;
}

/* Another process's result: "version usable_until" */
static void other_publishes(void)
{
    char buf[64];
    apr_snprintf(buf, sizeof(buf), "2 %" APR_TIME_T_FMT,
                 fk.published_unusable ? fk.now : fk.now + MS(60000));
    store(VALUE, buf, fk.now + MS(60000));
}

static apr_status_t f_get(void *b, const char *key, size_t max, apr_pool_t *p,
                          char **val, size_t *len)
{
    fent_t *e = find(key);
    (void)b;
    if (!e || strlen(e->val) > max)
        return APR_NOTFOUND;
    *val = apr_pstrdup(p, e->val);
    *len = strlen(e->val);
    return APR_SUCCESS;
}

static apr_status_t f_put(void *b, const char *key, const char *val, size_t len,
                          apr_time_t expiry, apr_pool_t *p)
{
    (void)b;
    (void)len;
    (void)p;
    store(key, val, expiry);
    return APR_SUCCESS;
}

static apr_status_t f_remove(void *b, const char *key, apr_pool_t *p)
{
    (void)b;
    (void)p;
    fk.removes++;
    drop(key);
    return APR_SUCCESS;
}

static int f_take_lease(void *b, const char *key, apr_time_t expiry,
                        apr_pool_t *p)
{
    (void)b;
    (void)p;
    fk.takes++;
    if (find(key))
        return 0;
    store(key, "mine", expiry);
    if (fk.publish_on_take)
        other_publishes();
    return 1;
}

static apr_time_t f_now(void *b)
{
    (void)b;
    return fk.now;
}

static void f_sleep(void *b, apr_interval_time_t t)
{
    (void)b;
    fk.now += t;
    fk.sleeps++;
    if (fk.sleeps == fk.publish_at_sleep)
        other_publishes();
    if (fk.sleeps == fk.drop_lease_at_sleep)
        drop(LEASE);
}

/* The caller's adopt: a newer version, still usable. */
static int adopt(void *baton, apr_pool_t *p, int waiting)
{
    char *val;
    size_t len;
    long v;
    apr_time_t until;
    (void)baton;
    (void)waiting;
    fk.adopts++;
    if (f_get(NULL, VALUE, 64, p, &val, &len) != APR_SUCCESS)
        return 0;
    v = strtol(val, &val, 10);
    until = (apr_time_t)strtoll(val, NULL, 10);
    if (v <= fk.ours || fk.now >= until)
        return 0;
    fk.ours = v;
    return 1;
}

/* The caller's work: fetch version 3 and publish it. */
static apr_status_t work(void *baton, apr_pool_t *p)
{
    (void)baton;
    fk.works++;
    fk.lease_in_work = find(LEASE) != NULL;
    fk.ours = 3;
    f_put(NULL, VALUE, "3 99999999999999", 16, fk.now + MS(60000), p);
    return APR_SUCCESS;
}

static apr_status_t work_without_cache(void *baton, apr_pool_t *p)
{
    (void)baton;
    (void)p;
    fk.works++;
    return APR_EGENERAL;
}

static b2c_lease_t flight(void)
{
    b2c_lease_t f;
    memset(&fk, 0, sizeof(fk));
    fk.now = apr_time_from_sec(UT_NOW);
    fk.seam.get = f_get;
    fk.seam.put = f_put;
    fk.seam.remove = f_remove;
    fk.seam.take_lease = f_take_lease;
    fk.seam.now = f_now;
    fk.seam.sleep = f_sleep;
    f.cache = &fk.seam;
    f.what = "https://login.example/x";
    f.lease_key = LEASE;
    f.lease_ttl = MS(20000);
    f.wait_max = MS(20000);
    f.poll = MS(50);
    f.adopt = adopt;
    f.work = work;
    f.baton = NULL;
    f.give_up = 0;
    return f;
}

static void other_holds_lease(void)
{
    store(LEASE, "other", fk.now + MS(20000));
}

START_TEST(lease_free_caller_works_and_releases)
{
    b2c_lease_t f = flight();
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    ck_assert_int_eq(fk.works, 1);
    ck_assert_int_eq(fk.ours, 3);
    ck_assert_int_eq(fk.sleeps, 0);
    ck_assert_int_eq(fk.lease_in_work, 1);
    ck_assert_ptr_null(find(LEASE)); /* released */
}
END_TEST

START_TEST(published_value_adopted_without_lease)
{
    b2c_lease_t f = flight();
    other_publishes();
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    ck_assert_int_eq(fk.ours, 2);
    ck_assert_int_eq(fk.works, 0);
    ck_assert_int_eq(fk.takes, 0);
}
END_TEST

START_TEST(published_just_after_winning_is_adopted)
{
    b2c_lease_t f = flight();
    fk.publish_on_take = 1;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    ck_assert_int_eq(fk.ours, 2);
    ck_assert_int_eq(fk.works, 0);
    ck_assert_ptr_null(find(LEASE)); /* the won lease is released */
}
END_TEST

START_TEST(lease_lost_waits_for_holder_result)
{
    b2c_lease_t f = flight();
    other_holds_lease();
    fk.publish_at_sleep = 3;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    ck_assert_int_eq(fk.ours, 2);
    ck_assert_int_eq(fk.works, 0);
    ck_assert_int_eq(fk.sleeps, 3);
    ck_assert_ptr_nonnull(find(LEASE)); /* the holder's, left alone */
}
END_TEST

START_TEST(holder_vanished_adopt_once_more_then_work)
{
    b2c_lease_t f = flight();
    other_holds_lease();
    fk.drop_lease_at_sleep = 2;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    /* the first look, one per round of the wait (3), one more once the
     * lease was gone; then the caller fetches itself */
    ck_assert_int_eq(fk.adopts, 5);
    ck_assert_int_eq(fk.sleeps, 2);
    ck_assert_int_eq(fk.works, 1);
    ck_assert_int_eq(fk.ours, 3);
}
END_TEST

START_TEST(holder_published_then_left_is_adopted)
{
    b2c_lease_t f = flight();
    other_holds_lease();
    /* published and dropped the lease within one poll */
    fk.publish_at_sleep = 2;
    fk.drop_lease_at_sleep = 2;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    ck_assert_int_eq(fk.ours, 2);
    ck_assert_int_eq(fk.works, 0);
}
END_TEST

START_TEST(value_expired_while_waiting_is_not_adopted)
{
    b2c_lease_t f = flight();
    other_holds_lease();
    fk.published_unusable = 1;
    fk.publish_at_sleep = 1;
    fk.drop_lease_at_sleep = 3;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    ck_assert_int_eq(fk.works, 1);
    ck_assert_int_eq(fk.ours, 3);
}
END_TEST

START_TEST(wait_bounded_by_timeout)
{
    b2c_lease_t f = flight();
    apr_time_t start = fk.now;
    f.lease_ttl = MS(3600000);
    store(LEASE, "other", fk.now + MS(3600000)); /* a holder that hangs */
    f.wait_max = MS(1000);
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    ck_assert_int_eq(fk.works, 1);
    ck_assert(fk.now - start >= MS(1000));
    ck_assert(fk.now - start < MS(1000) + f.poll);
    ck_assert_int_eq(fk.sleeps, 20);
}
END_TEST

/* issue 12: with give_up, a waiter never waits past wait_max in all and
 * never fetches while the holder is alive but slow. */
START_TEST(give_up_bounds_the_wait_and_does_not_work)
{
    b2c_lease_t f = flight();
    apr_time_t start = fk.now;
    f.lease_ttl = MS(3600000);
    store(LEASE, "other", fk.now + MS(3600000)); /* a holder that hangs */
    f.wait_max = MS(1000);
    f.give_up = 1;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_TIMEUP);
    ck_assert_int_eq(fk.works, 0);
    ck_assert(fk.now - start >= MS(1000));
    ck_assert(fk.now - start <= MS(1000));
}
END_TEST

START_TEST(give_up_never_sleeps_past_the_bound)
{
    b2c_lease_t f = flight();
    apr_time_t start = fk.now;
    store(LEASE, "other", fk.now + MS(3600000));
    f.wait_max = MS(1030); /* not a multiple of the poll */
    f.give_up = 1;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_TIMEUP);
    ck_assert(fk.now - start == MS(1030));
    ck_assert_int_eq(fk.sleeps, 21);
}
END_TEST

START_TEST(give_up_still_adopts_the_holders_result)
{
    b2c_lease_t f = flight();
    other_holds_lease();
    f.give_up = 1;
    fk.publish_at_sleep = 2;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    ck_assert_int_eq(fk.works, 0);
}
END_TEST

START_TEST(give_up_works_when_holder_vanished)
{
    b2c_lease_t f = flight();
    other_holds_lease();
    f.give_up = 1;
    fk.drop_lease_at_sleep = 2;
    b2c_lease_run(&f, ut_pool);
    ck_assert_int_eq(fk.works, 1);
}
END_TEST

START_TEST(no_cache_always_the_callers_turn)
{
    b2c_lease_t f = flight();
    f.cache = NULL;
    f.work = work_without_cache;
    other_publishes(); /* invisible without a cache */
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_EGENERAL);
    ck_assert_int_eq(fk.works, 1);
    ck_assert_int_eq(fk.adopts, 0);
    ck_assert_int_eq(b2c_lease_join(&f, ut_pool), 0);
}
END_TEST

START_TEST(join_waits_only_while_a_lease_is_held)
{
    b2c_lease_t f = flight();
    ck_assert_int_eq(b2c_lease_join(&f, ut_pool), 0);
    ck_assert_int_eq(fk.sleeps, 0);
    other_holds_lease();
    fk.publish_at_sleep = 2;
    ck_assert_int_eq(b2c_lease_join(&f, ut_pool), 1);
    ck_assert_int_eq(fk.ours, 2);
    ck_assert_int_eq(fk.works, 0);
}
END_TEST

/* The log seam: what the protocol says while it waits. */
static char logged[1024];
static int logged_level;

static int log_all(void *baton, int level)
{
    (void)baton;
    return level <= B2C_LOG_DEBUG;
}

static void log_keep(void *baton, int level, const char *line)
{
    (void)baton;
    logged_level = level;
    apr_cpystrn(logged + strlen(logged), line, sizeof(logged) - strlen(logged));
    apr_cpystrn(logged + strlen(logged), "\n", sizeof(logged) - strlen(logged));
}

static void capture(void)
{
    logged[0] = '\0';
    logged_level = 0;
    b2c_log_set(log_all, log_keep, NULL);
}

START_TEST(log_lines_say_what_was_waited_for)
{
    b2c_lease_t f = flight();
    capture();
    other_holds_lease();
    fk.publish_at_sleep = 2;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    b2c_log_set(NULL, NULL, NULL);
    ck_assert_str_eq(logged,
                     "B2C00101: https://login.example/x: another process is "
                     "fetching; waiting up to 20000 ms for its result\n"
                     "B2C00102: https://login.example/x: took the result "
                     "another process published after 100 ms\n");
    ck_assert_int_eq(logged_level, B2C_LOG_DEBUG);
}
END_TEST

START_TEST(log_line_when_holder_left_without_result)
{
    b2c_lease_t f = flight();
    capture();
    other_holds_lease();
    fk.drop_lease_at_sleep = 1;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    b2c_log_set(NULL, NULL, NULL);
    ck_assert_ptr_nonnull(strstr(logged, "B2C00103: https://login.example/x: "
                                         "the process that was fetching left "
                                         "without a result\n"));
    ck_assert_int_eq(fk.works, 1);
}
END_TEST

START_TEST(log_line_when_giving_up_is_info)
{
    b2c_lease_t f = flight();
    capture();
    store(LEASE, "other", fk.now + MS(3600000));
    f.wait_max = MS(1000);
    f.give_up = 1;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_TIMEUP);
    b2c_log_set(NULL, NULL, NULL);
    ck_assert_ptr_nonnull(strstr(logged, "B2C00104: https://login.example/x: "
                                         "no result from the process fetching "
                                         "it within 1000 ms: giving up\n"));
    ck_assert_int_eq(logged_level, B2C_LOG_INFO);
}
END_TEST

START_TEST(no_seam_no_lines)
{
    b2c_lease_t f = flight();
    ck_assert(!b2c_log_enabled(B2C_LOG_ERR)); /* nothing set */
    capture();
    b2c_log_set(NULL, log_keep, NULL);
    ck_assert(b2c_log_enabled(B2C_LOG_DEBUG)); /* no filter: all */
    b2c_log_set(log_all, log_keep, NULL);
    ck_assert(!b2c_log_enabled(B2C_LOG_DEBUG + 1));
    b2c_log_set(NULL, NULL, NULL);
    other_holds_lease();
    fk.publish_at_sleep = 1;
    ck_assert_int_eq(b2c_lease_run(&f, ut_pool), APR_SUCCESS);
    ck_assert_str_eq(logged, "");
}
END_TEST

Suite *single_flight_suite(void)
{
    Suite *s = suite_create("single_flight");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, ut_setup, ut_teardown);
    tcase_add_test(tc, lease_free_caller_works_and_releases);
    tcase_add_test(tc, published_value_adopted_without_lease);
    tcase_add_test(tc, published_just_after_winning_is_adopted);
    tcase_add_test(tc, lease_lost_waits_for_holder_result);
    tcase_add_test(tc, holder_vanished_adopt_once_more_then_work);
    tcase_add_test(tc, holder_published_then_left_is_adopted);
    tcase_add_test(tc, value_expired_while_waiting_is_not_adopted);
    tcase_add_test(tc, wait_bounded_by_timeout);
    tcase_add_test(tc, give_up_bounds_the_wait_and_does_not_work);
    tcase_add_test(tc, give_up_never_sleeps_past_the_bound);
    tcase_add_test(tc, give_up_still_adopts_the_holders_result);
    tcase_add_test(tc, give_up_works_when_holder_vanished);
    tcase_add_test(tc, no_cache_always_the_callers_turn);
    tcase_add_test(tc, join_waits_only_while_a_lease_is_held);
    tcase_add_test(tc, log_lines_say_what_was_waited_for);
    tcase_add_test(tc, log_line_when_holder_left_without_result);
    tcase_add_test(tc, log_line_when_giving_up_is_info);
    tcase_add_test(tc, no_seam_no_lines);
    suite_add_tcase(s, tc);
    return s;
}
