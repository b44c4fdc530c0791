/* SPDX-License-Identifier: Apache-2.0 */
/* Validated-token cache (see b2c_token_cache.h).
 *
 * Entries are compared on the whole token and context, so the hash only
 * picks a shard and a bucket. The table is split into shards, each under
 * its own mutex, so threads seldom meet on a lock; a cache smaller than the
 * shard count has one shard per entry. An entry is one malloc'ed block
 * with a reference count: requests that use it hold a reference until
 * their pool is cleared, so dropping it never pulls the strings out from
 * under a request. */
#include "b2c_token_cache.h"

#include <apr_atomic.h>
#include <apr_thread_mutex.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#define NSHARDS 16

typedef struct entry {
    struct entry *next;
    apr_uint32_t refs; /* the cache's one, plus one per request */
    apr_uint64_t hash;
    long long expires_at;
    size_t token_len;
    const char *token; /* these point into the same block */
    const char *context;
    b2c_verdict_t verdict;
} entry_t;

typedef struct {
    apr_thread_mutex_t *lock;
    entry_t **buckets;
    apr_uint64_t mask;
    int count, capacity;
    long long sweep_after; /* full: nothing expires before this */
} shard_t;

struct b2c_token_cache {
    shard_t shards[NSHARDS];
    int nshards;
    int max_entries;
    apr_uint64_t seed;
};

static void entry_unref(entry_t *e)
{
    if (apr_atomic_dec32(&e->refs) == 0) {
        json_decref(e->verdict.claims);
        free(e);
    }
}

static apr_status_t release_entry(void *e)
{
    entry_unref(e);
    return APR_SUCCESS;
}

/* At process exit: drop the cache's references. */
static apr_status_t release_all(void *baton)
{
    b2c_token_cache_t *c = baton;
    int i;
    apr_uint64_t b;

    for (i = 0; i < c->nshards; i++) {
        shard_t *s = &c->shards[i];
        for (b = 0; s->buckets && b <= s->mask; b++) {
            entry_t *e = s->buckets[b], *next;
            for (; e; e = next) {
                next = e->next;
                entry_unref(e);
            }
            s->buckets[b] = NULL;
        }
        s->count = 0;
    }
    return APR_SUCCESS;
}

apr_status_t b2c_token_cache_create(apr_pool_t *p, int max_entries,
                                    b2c_token_cache_t **out)
{
    b2c_token_cache_t *c = apr_pcalloc(p, sizeof(*c));
    int i;

    c->max_entries = max_entries;
    c->nshards = max_entries < NSHARDS ? max_entries : NSHARDS;
    if (RAND_bytes((unsigned char *)&c->seed, sizeof(c->seed)) != 1)
        c->seed = (apr_uint64_t)(apr_uintptr_t)c ^ 0x9e3779b97f4a7c15ULL;
    *out = c;
    for (i = 0; i < c->nshards; i++) {
        shard_t *s = &c->shards[i];
        apr_uint64_t n = 1;
        apr_status_t rv;

        /* the shards' capacities add up to max_entries exactly */
        s->capacity = max_entries / c->nshards + (i < max_entries % c->nshards);
        while (n < (apr_uint64_t)s->capacity)
            n <<= 1;
        s->mask = n - 1;
        s->buckets = apr_pcalloc(p, sizeof(entry_t *) * n);
        if ((rv =
                 apr_thread_mutex_create(&s->lock, APR_THREAD_MUTEX_DEFAULT, p))
            != APR_SUCCESS)
            return rv;
    }
    apr_pool_cleanup_register(p, c, release_all, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

int b2c_token_cache_enabled(const b2c_token_cache_t *c)
{
    return c && c->max_entries > 0;
}

/* A fast seeded hash of the whole token, eight bytes at a time. It only
 * spreads tokens over shards and buckets; equality is memcmp's job. */
static apr_uint64_t token_hash(const b2c_token_cache_t *c, const char *token,
                               size_t len)
{
    const apr_uint64_t k = 0x9fb21c651e98df25ULL;
    apr_uint64_t h = c->seed ^ (len * k), w;
    size_t i;

    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&w, token + i, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    if (i < len) {
        w = 0;
        memcpy(&w, token + i, len - i);
        h = (h ^ w) * k;
    }
    h ^= h >> 32;
    return h * k;
}

static shard_t *shard_of(b2c_token_cache_t *c, apr_uint64_t h)
{
    return &c->shards[h % (apr_uint64_t)c->nshards];
}

static entry_t **bucket_of(shard_t *s, apr_uint64_t h)
{
    return &s->buckets[(h >> 8) & s->mask];
}

static entry_t **find_locked(shard_t *s, apr_uint64_t h, const char *context,
                             const char *token, size_t len)
{
    entry_t **pe;

    for (pe = bucket_of(s, h); *pe; pe = &(*pe)->next) {
        entry_t *e = *pe;
        if (e->hash == h && e->token_len == len && !memcmp(e->token, token, len)
            && !strcmp(e->context, context))
            return pe;
    }
    return pe;
}

static void unlink_locked(shard_t *s, entry_t **pe)
{
    entry_t *e = *pe;
    *pe = e->next;
    s->count--;
    entry_unref(e);
}

int b2c_token_cache_get(b2c_token_cache_t *c, const char *context,
                        const char *token, size_t len, long long now,
                        apr_pool_t *p, b2c_verdict_t *out)
{
    apr_uint64_t h;
    shard_t *s;
    entry_t **pe, *e = NULL;

    if (c->max_entries == 0)
        return 0;
    h = token_hash(c, token, len);
    s = shard_of(c, h);
    apr_thread_mutex_lock(s->lock);
    pe = find_locked(s, h, context, token, len);
    if (*pe && now > (*pe)->expires_at)
        unlink_locked(s, pe);
    else if (*pe) {
        e = *pe;
        apr_atomic_inc32(&e->refs);
    }
    apr_thread_mutex_unlock(s->lock);
    if (!e)
        return 0;
    apr_pool_cleanup_register(p, e, release_entry, apr_pool_cleanup_null);
    *out = e->verdict;
    return 1;
}

/* The entry as one block: header, exports, then the strings. */
static entry_t *entry_make(const char *context, const char *token, size_t len,
                           const b2c_verdict_t *v)
{
    size_t clen = strlen(context) + 1, size, i;
    size_t xsize = sizeof(b2c_claim_export_t) * (size_t)v->nexports;
    b2c_claim_export_t *x;
    entry_t *e;
    char *at;

    size = sizeof(*e) + xsize + clen + len + 1;
    for (i = 0; i < (size_t)v->nexports; i++)
        size += strlen(v->exports[i].env) + strlen(v->exports[i].text) + 2;
    if (!(e = malloc(size)))
        return NULL;
    memset(e, 0, sizeof(*e));
    x = (b2c_claim_export_t *)(e + 1);
    at = (char *)x + xsize;
#define COPY(dst, src, n) (memcpy(at, (src), (n)), (dst) = at, at += (n))
    COPY(e->context, context, clen);
    COPY(e->token, token, len);
    *at++ = '\0';
    for (i = 0; i < (size_t)v->nexports; i++) {
        COPY(x[i].env, v->exports[i].env, strlen(v->exports[i].env) + 1);
        COPY(x[i].text, v->exports[i].text, strlen(v->exports[i].text) + 1);
    }
#undef COPY
    e->token_len = len;
    e->verdict.claims = json_incref(v->claims);
    e->verdict.exports = x;
    e->verdict.nexports = v->nexports;
    e->refs = 1;
    return e;
}

/* A full shard drops what has expired; when nothing has, it remembers
 * the earliest expiry so the next puts do not walk it again in vain. */
static void sweep_locked(shard_t *s, long long now)
{
    long long earliest = 0;
    apr_uint64_t b;
    entry_t **pe;

    if (s->count < s->capacity || now <= s->sweep_after)
        return;
    for (b = 0; b <= s->mask; b++)
        for (pe = &s->buckets[b]; *pe;) {
            if (now > (*pe)->expires_at)
                unlink_locked(s, pe);
            else {
                if (!earliest || (*pe)->expires_at < earliest)
                    earliest = (*pe)->expires_at;
                pe = &(*pe)->next;
            }
        }
    s->sweep_after = s->count < s->capacity ? 0 : earliest;
}

void b2c_token_cache_put(b2c_token_cache_t *c, const char *context,
                         const char *token, size_t len,
                         const b2c_verdict_t *verdict, long long expires_at,
                         long long now)
{
    apr_uint64_t h;
    shard_t *s;
    entry_t **pe, *e;

    if (c->max_entries == 0 || expires_at < now
        || !(e = entry_make(context, token, len, verdict)))
        return;
    h = e->hash = token_hash(c, token, len);
    e->expires_at = expires_at;
    s = shard_of(c, h);
    apr_thread_mutex_lock(s->lock);
    sweep_locked(s, now);
    pe = find_locked(s, h, context, token, len);
    /* an entry: another thread validated the same token meanwhile */
    if (!*pe && s->count < s->capacity) {
        *pe = e;
        s->count++;
        e = NULL;
    }
    apr_thread_mutex_unlock(s->lock);
    if (e)
        entry_unref(e);
}
