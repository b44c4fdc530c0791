/* SPDX-License-Identifier: Apache-2.0 */
/* The key store's decisions, as pure functions of a small state, the
 * configured intervals and "now": when keys are fresh, usable (stale
 * period), due for the watchdog, retried after a failure, refreshed on an
 * unknown kid, and when a generation another process published is worth
 * adopting. mod_b2c_auth/key_store.c keeps the locks, the I/O and the
 * logging and asks these; unit tests pass the clock in. */
#ifndef B2C_KEY_POLICY_H
#define B2C_KEY_POLICY_H

#include <apr_time.h>

typedef struct {
    apr_interval_time_t refresh_interval;
    apr_interval_time_t kid_refresh_interval;
    apr_interval_time_t max_stale; /* use past schedule, during outages */
} b2c_key_policy_t;

/* What a process knows about one URL's keys. All zero: no keys yet. */
typedef struct {
    apr_time_t fetched;          /* when the keys in use were served; 0 none */
    apr_time_t next_refresh;     /* scheduled refresh due */
    apr_time_t retry_at;         /* after a failure: no attempt before */
    apr_time_t last_kid_refresh; /* last refresh caused by an unknown kid */
} b2c_key_state_t;

/* After a failed refresh, no attempt for this long. */
#define B2C_KEY_RETRY_PAUSE apr_time_from_sec(10)
/* Keys younger than this (or the kid interval, if shorter) are what the
 * identity platform publishes now: an unknown kid then causes no refetch. */
#define B2C_KEY_JUST_FETCHED apr_time_from_sec(30)

/* New keys fetched at fetched are in use: schedule the next refresh
 * (fetched + interval) and end any retry pause. */
void b2c_key_policy_installed(b2c_key_state_t *st, const b2c_key_policy_t *pol,
                              apr_time_t fetched);

/* A refresh failed at now: pause retries for B2C_KEY_RETRY_PAUSE. */
void b2c_key_policy_failed(b2c_key_state_t *st, apr_time_t now);

/* Keys to use: until fetched + interval + max_stale. */
int b2c_key_policy_usable(const b2c_key_state_t *st,
                          const b2c_key_policy_t *pol, apr_time_t now);

/* Until when a published generation fetched at fetched may be used. */
apr_time_t b2c_key_policy_usable_until(const b2c_key_policy_t *pol,
                                       apr_time_t fetched);

/* Usable and not yet due for its scheduled refresh. */
int b2c_key_policy_fresh(const b2c_key_state_t *st, const b2c_key_policy_t *pol,
                         apr_time_t now);

/* Not in a retry pause. */
int b2c_key_policy_may_try(const b2c_key_state_t *st, apr_time_t now);

/* The watchdog refreshes a little ahead of schedule, min(interval/10,
 * 60 s), so requests never find keys due; never during a retry pause. */
int b2c_key_policy_watchdog_due(const b2c_key_state_t *st,
                                const b2c_key_policy_t *pol, apr_time_t now);

/* An unknown kid may cause a refetch: the keys are not just fetched
 * (min(B2C_KEY_JUST_FETCHED, kid interval)) and the last kid refresh is a
 * kid interval ago. */
int b2c_key_policy_kid_refresh_allowed(const b2c_key_state_t *st,
                                       const b2c_key_policy_t *pol,
                                       apr_time_t now);

/* Adopt a generation another process published at theirs: it is newer
 * than ours, and for a scheduled refresh (need_fresh) still within
 * schedule. */
int b2c_key_policy_adoptable(const b2c_key_state_t *st,
                             const b2c_key_policy_t *pol, apr_time_t theirs,
                             int need_fresh, apr_time_t now);

/* In a retry pause without fresh keys: the process must not fetch, but
 * looks for a generation another process published (the stamp entry
 * first, so this is cheap) instead of waiting the pause out (issue 12). */
int b2c_key_policy_look_during_pause(const b2c_key_state_t *st,
                                     const b2c_key_policy_t *pol,
                                     apr_time_t now);

#endif
