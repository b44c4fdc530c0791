/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the key store's decisions (common/b2c_key_policy.c) with the
 * clock passed in: refresh schedule and the watchdog's window, the stale
 * period, the unknown-kid window and interval, the retry pause and which
 * published generations are worth adopting. */
#include "unit.h"
#include "b2c_key_policy.h"

#define SEC(n) apr_time_from_sec(n)
#define T0     SEC(UT_NOW)

/* 1 h schedule, 5 min between kid refreshes, 1 day stale. */
static const b2c_key_policy_t pol = { SEC(3600), SEC(300), SEC(86400) };

static b2c_key_state_t installed_at(apr_time_t fetched)
{
    b2c_key_state_t st = { 0, 0, 0, 0 };
    b2c_key_policy_installed(&st, &pol, fetched);
    return st;
}

START_TEST(no_keys_are_neither_usable_nor_due)
{
    b2c_key_state_t st = { 0, 0, 0, 0 };
    ck_assert(!b2c_key_policy_usable(&st, &pol, T0));
    ck_assert(!b2c_key_policy_fresh(&st, &pol, T0));
    ck_assert(!b2c_key_policy_watchdog_due(&st, &pol, T0));
    ck_assert(b2c_key_policy_may_try(&st, T0));
    ck_assert(b2c_key_policy_kid_refresh_allowed(&st, &pol, T0));
}
END_TEST

START_TEST(refresh_schedule_is_fetched_plus_interval)
{
    b2c_key_state_t st = installed_at(T0);
    ck_assert(st.next_refresh == T0 + SEC(3600));
    ck_assert(b2c_key_policy_fresh(&st, &pol, T0 + SEC(3599)));
    ck_assert(!b2c_key_policy_fresh(&st, &pol, T0 + SEC(3600)));
    ck_assert(b2c_key_policy_usable(&st, &pol, T0 + SEC(3600)));
}
END_TEST

START_TEST(watchdog_runs_ahead_by_min_tenth_or_minute)
{
    b2c_key_state_t st = installed_at(T0);
    b2c_key_policy_t shortp = { SEC(300), SEC(300), 0 };
    /* 1 h: a tenth is 6 min, capped at 60 s */
    ck_assert(!b2c_key_policy_watchdog_due(&st, &pol, T0 + SEC(3539)));
    ck_assert(b2c_key_policy_watchdog_due(&st, &pol, T0 + SEC(3540)));
    /* 5 min: a tenth, 30 s */
    b2c_key_policy_installed(&st, &shortp, T0);
    ck_assert(!b2c_key_policy_watchdog_due(&st, &shortp, T0 + SEC(269)));
    ck_assert(b2c_key_policy_watchdog_due(&st, &shortp, T0 + SEC(270)));
}
END_TEST

START_TEST(stale_period_ends_at_interval_plus_max_stale)
{
    b2c_key_state_t st = installed_at(T0);
    ck_assert(b2c_key_policy_usable(&st, &pol, T0 + SEC(3600 + 86399)));
    ck_assert(!b2c_key_policy_usable(&st, &pol, T0 + SEC(3600 + 86400)));
    ck_assert(b2c_key_policy_usable_until(&pol, T0) == T0 + SEC(3600 + 86400));
}
END_TEST

START_TEST(retry_pause_after_failure)
{
    b2c_key_state_t st = installed_at(T0);
    apr_time_t due = T0 + SEC(3600);
    b2c_key_policy_failed(&st, due);
    ck_assert(!b2c_key_policy_may_try(&st, due + SEC(9)));
    ck_assert(!b2c_key_policy_watchdog_due(&st, &pol, due + SEC(9)));
    ck_assert(b2c_key_policy_may_try(&st, due + SEC(10)));
    ck_assert(b2c_key_policy_watchdog_due(&st, &pol, due + SEC(10)));
    /* the keys stay in use during the pause */
    ck_assert(b2c_key_policy_usable(&st, &pol, due + SEC(5)));
    /* new keys end the pause */
    b2c_key_policy_installed(&st, &pol, due + SEC(5));
    ck_assert(b2c_key_policy_may_try(&st, due + SEC(5)));
}
END_TEST

/* issue 12: a process in its retry pause looks for what others published
 * (no keys at all, or keys due); not outside a pause, not with fresh keys. */
START_TEST(pause_looks_at_shared_cache)
{
    b2c_key_state_t none = { 0, 0, 0, 0 };
    b2c_key_state_t st = installed_at(T0);
    apr_time_t due = T0 + SEC(3600);

    ck_assert(!b2c_key_policy_look_during_pause(&none, &pol, T0));
    b2c_key_policy_failed(&none, T0);
    ck_assert(b2c_key_policy_look_during_pause(&none, &pol, T0 + SEC(1)));
    ck_assert(!b2c_key_policy_look_during_pause(&none, &pol, T0 + SEC(10)));
    ck_assert(!b2c_key_policy_look_during_pause(&st, &pol, T0 + SEC(1)));
    b2c_key_policy_failed(&st, due);
    ck_assert(b2c_key_policy_look_during_pause(&st, &pol, due + SEC(1)));
    /* adopting ends the pause: no more looks */
    b2c_key_policy_installed(&st, &pol, due + SEC(2));
    ck_assert(!b2c_key_policy_look_during_pause(&st, &pol, due + SEC(3)));
}
END_TEST

START_TEST(unknown_kid_window_and_interval)
{
    b2c_key_state_t st = installed_at(T0);
    b2c_key_policy_t quick = { SEC(3600), SEC(10), SEC(86400) };
    /* keys just fetched: a missing kid is made up */
    ck_assert(!b2c_key_policy_kid_refresh_allowed(&st, &pol, T0 + SEC(29)));
    ck_assert(b2c_key_policy_kid_refresh_allowed(&st, &pol, T0 + SEC(30)));
    /* the window is min(30 s, the kid interval) */
    ck_assert(b2c_key_policy_kid_refresh_allowed(&st, &quick, T0 + SEC(10)));
    ck_assert(!b2c_key_policy_kid_refresh_allowed(&st, &quick, T0 + SEC(9)));
    /* at most one kid refresh per interval */
    st.last_kid_refresh = T0 + SEC(100);
    ck_assert(!b2c_key_policy_kid_refresh_allowed(&st, &pol, T0 + SEC(399)));
    ck_assert(b2c_key_policy_kid_refresh_allowed(&st, &pol, T0 + SEC(400)));
}
END_TEST

START_TEST(adopt_only_newer_and_for_schedule_within_schedule)
{
    b2c_key_state_t st = installed_at(T0);
    b2c_key_state_t none = { 0, 0, 0, 0 };
    apr_time_t now = T0 + SEC(4000);
    ck_assert(!b2c_key_policy_adoptable(&st, &pol, T0, 0, now));
    ck_assert(!b2c_key_policy_adoptable(&st, &pol, T0 - 1, 0, now));
    ck_assert(b2c_key_policy_adoptable(&st, &pol, T0 + SEC(1), 0, now));
    /* a scheduled refresh wants one still within its schedule */
    ck_assert(!b2c_key_policy_adoptable(&st, &pol, T0 + SEC(400), 1, now));
    ck_assert(b2c_key_policy_adoptable(&st, &pol, T0 + SEC(401), 1, now));
    ck_assert(b2c_key_policy_adoptable(&none, &pol, T0, 0, now));
}
END_TEST

Suite *key_policy_suite(void)
{
    Suite *s = suite_create("key_policy");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, no_keys_are_neither_usable_nor_due);
    tcase_add_test(tc, refresh_schedule_is_fetched_plus_interval);
    tcase_add_test(tc, watchdog_runs_ahead_by_min_tenth_or_minute);
    tcase_add_test(tc, stale_period_ends_at_interval_plus_max_stale);
    tcase_add_test(tc, retry_pause_after_failure);
    tcase_add_test(tc, pause_looks_at_shared_cache);
    tcase_add_test(tc, unknown_kid_window_and_interval);
    tcase_add_test(tc, adopt_only_newer_and_for_schedule_within_schedule);
    suite_add_tcase(s, tc);
    return s;
}
