/* SPDX-License-Identifier: Apache-2.0 */
/* Retry and expiry arithmetic for token requests: Retry-After, the backoff
 * between failed attempts, and when to refresh and stop using a token.
 * Pure functions: the clock and the randomness are passed in. */
#ifndef B2C_BACKOFF_H
#define B2C_BACKOFF_H

/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; seconds
 * from now, or -1 when absent/invalid. Capped at one day. */
long long b2c_retry_after_seconds(const char *value, long long now);

/* Seconds to wait before attempt number `failures` (1 = after the first
 * failure): exponential from base to cap, with "equal jitter" (half fixed,
 * half random from rnd in [0,1)), never less than retry_after (which wins
 * over cap), and never more than one day. failures < 1 or base <= 0: no
 * delay beyond retry_after. */
long long b2c_backoff_seconds(int failures, long long base, long long cap,
                              long long retry_after, double rnd);

/* When to refresh a token obtained at `obtained` lasting `lifetime`
 * seconds: at 80% of its life but at least 30 s before it expires (for
 * very short tokens: half way). And until when to use it: up to 5 s (or
 * a tenth of its life, when shorter) before expiry. Both return `obtained`
 * for lifetime <= 0 and saturate instead of overflowing. */
long long b2c_token_refresh_at(long long obtained, long long lifetime);
long long b2c_token_usable_until(long long obtained, long long lifetime);

#endif
