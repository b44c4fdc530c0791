/* SPDX-License-Identifier: Apache-2.0 */
/* The key store's decisions (see b2c_key_policy.h). Called on every
 * request with keys (usable, fresh): no allocation, no lock. */
#include "b2c_key_policy.h"

void b2c_key_policy_installed(b2c_key_state_t *st, const b2c_key_policy_t *pol,
                              apr_time_t fetched)
{
    st->fetched = fetched;
    st->next_refresh = fetched + pol->refresh_interval;
    st->retry_at = 0;
}

void b2c_key_policy_failed(b2c_key_state_t *st, apr_time_t now)
{
    st->retry_at = now + B2C_KEY_RETRY_PAUSE;
}

apr_time_t b2c_key_policy_usable_until(const b2c_key_policy_t *pol,
                                       apr_time_t fetched)
{
    return fetched + pol->refresh_interval + pol->max_stale;
}

int b2c_key_policy_usable(const b2c_key_state_t *st,
                          const b2c_key_policy_t *pol, apr_time_t now)
{
    return st->fetched && now < b2c_key_policy_usable_until(pol, st->fetched);
}

int b2c_key_policy_fresh(const b2c_key_state_t *st, const b2c_key_policy_t *pol,
                         apr_time_t now)
{
    return b2c_key_policy_usable(st, pol, now) && now < st->next_refresh;
}

int b2c_key_policy_may_try(const b2c_key_state_t *st, apr_time_t now)
{
    return now >= st->retry_at;
}

int b2c_key_policy_watchdog_due(const b2c_key_state_t *st,
                                const b2c_key_policy_t *pol, apr_time_t now)
{
    apr_interval_time_t ahead = pol->refresh_interval / 10;

    if (ahead > apr_time_from_sec(60))
        ahead = apr_time_from_sec(60);
    return st->fetched && now >= st->retry_at
           && now >= st->next_refresh - ahead;
}

int b2c_key_policy_kid_refresh_allowed(const b2c_key_state_t *st,
                                       const b2c_key_policy_t *pol,
                                       apr_time_t now)
{
    apr_interval_time_t interval = pol->kid_refresh_interval;
    apr_interval_time_t fresh =
        interval < B2C_KEY_JUST_FETCHED ? interval : B2C_KEY_JUST_FETCHED;

    /* publishers add keys well before signing with them: a kid missing
     * from keys just fetched is made up, not new */
    if (st->fetched && now - st->fetched < fresh)
        return 0;
    return !st->last_kid_refresh || now - st->last_kid_refresh >= interval;
}

int b2c_key_policy_adoptable(const b2c_key_state_t *st,
                             const b2c_key_policy_t *pol, apr_time_t theirs,
                             int need_fresh, apr_time_t now)
{
    return theirs > st->fetched
           && (!need_fresh || theirs + pol->refresh_interval > now);
}

int b2c_key_policy_look_during_pause(const b2c_key_state_t *st,
                                     const b2c_key_policy_t *pol,
                                     apr_time_t now)
{
    return !b2c_key_policy_may_try(st, now)
           && !b2c_key_policy_fresh(st, pol, now);
}
