/* SPDX-License-Identifier: Apache-2.0 */
/* Retry and expiry arithmetic for token requests: Retry-After, the
 * backoff between failed attempts, and when a token is refreshed and
 * until when it is used. Pure functions of their arguments (the clock is
 * passed in). */
#include "b2c_backoff.h"

#include <apr_date.h>
#include <apr_time.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#define ONE_DAY 86400LL

long long b2c_retry_after_seconds(const char *value, long long now)
{
    size_t n;
    long long secs = 0;

    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n == 0)
        return -1;

    if (strspn(value, "0123456789") >= n) { /* delay-seconds */
        size_t i;
        for (i = 0; i < n; i++) {
            secs = secs * 10 + (value[i] - '0');
            if (secs > ONE_DAY)
                return ONE_DAY;
        }
        return secs;
    }
    else {
        char date[64]; /* IMF-fixdate is 29 characters */
        apr_time_t when;
        if (n >= sizeof(date))
            return -1;
        memcpy(date, value, n);
        date[n] = '\0';
        if ((when = apr_date_parse_http(date)) == APR_DATE_BAD)
            return -1;
        secs = (long long)apr_time_sec(when) - now;
        return secs < 0 ? 0 : secs > ONE_DAY ? ONE_DAY : secs;
    }
}

long long b2c_backoff_seconds(int failures, long long base, long long cap,
                              long long retry_after, double rnd)
{
    long long delay = 0, exp, half;
    int i;

    if (cap > ONE_DAY)
        cap = ONE_DAY;
    if (base > cap)
        base = cap;
    if (failures >= 1 && base > 0) {
        exp = base;
        for (i = 1; i < failures && exp < cap; i++)
            exp *= 2; /* exp <= cap <= ONE_DAY before doubling: no overflow */
        if (exp > cap)
            exp = cap;
        if (!(rnd >= 0.0)) /* NaN too */
            rnd = 0.0;
        if (rnd >= 1.0)
            rnd = 0.999999;
        half = exp / 2;
        delay = (exp - half) + (long long)floor(rnd * (double)(half + 1));
    }
    if (retry_after > delay) /* the server knows best, even beyond cap */
        delay = retry_after;
    return delay > ONE_DAY ? ONE_DAY : delay;
}

static long long add_saturating(long long a, long long b)
{
    if (b > 0 && a > LLONG_MAX - b)
        return LLONG_MAX;
    return a + b;
}

long long b2c_token_refresh_at(long long obtained, long long lifetime)
{
    long long at;

    if (lifetime <= 0)
        return obtained;
    at = lifetime - lifetime / 5; /* 80%, rounded up */
    if (lifetime - at < 30)
        at = lifetime - 30;
    if (at < lifetime / 2)
        at = lifetime / 2;
    return add_saturating(obtained, at);
}

long long b2c_token_usable_until(long long obtained, long long lifetime)
{
    long long margin;

    if (lifetime <= 0)
        return obtained;
    margin = lifetime / 10 < 5 ? lifetime / 10 : 5;
    return add_saturating(obtained, lifetime - margin);
}
