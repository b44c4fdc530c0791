/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: sealed blobs (b2c_seal_open) and the state payloads
 * (b2c_keys_entry_unpack, b2c_ctoken_entry_unpack). A redis or memcache
 * server, or a state directory, is a source of hostile bytes: whatever it
 * holds must open to "refused" or to exactly what a key of the ring
 * sealed, and the payload parsers must hold their documented ranges.
 * The first byte picks the mode:
 *   'S' rest is plaintext: seal it, open it, then a changed bit (chosen by
 *       the input), a cut, another context and another ring are refused;
 *   'K' / 'T' rest is a keys / client-token payload;
 *   anything else: the whole input is a blob, opened with the fixed ring
 *       (the seeds are blobs sealed by it under FZ_SEAL_CONTEXT). */
#include "fuzz_common.h"
#include "fuzz_seal_keys.h"
#include "b2c_seal.h"
#include "b2c_state_entry.h"

#include <string.h>

#define FZ_NOW 1700000000LL

static apr_pool_t *gp;
static b2c_seal_ring_t *ring, *other;

void fz_target_init(void)
{
    b2c_seal_key_t *cur, *old, *third;

    apr_pool_create(&gp, NULL);
    if (b2c_seal_key_from_bytes(gp, FZ_SEAL_SECRET, strlen(FZ_SEAL_SECRET),
                                &cur)
        || b2c_seal_key_from_bytes(gp, FZ_SEAL_OLD, strlen(FZ_SEAL_OLD), &old)
        || b2c_seal_key_generate(gp, &third))
        fz_fail(__FILE__, __LINE__, "key setup");
    ring = b2c_seal_ring_make(gp, cur);
    if (b2c_seal_ring_add_old(ring, old))
        fz_fail(__FILE__, __LINE__, "ring setup");
    other = b2c_seal_ring_make(gp, third);
}

static void seal_mode(apr_pool_t *p, const uint8_t *d, size_t n)
{
    unsigned char *blob;
    size_t len, plen, pos;
    char *plain;
    b2c_seal_status_t st;

    FZ_CHECK(b2c_seal(ring, p, FZ_SEAL_CONTEXT, d, n, &blob, &len)
             == APR_SUCCESS);
    FZ_CHECK(len == n + B2C_SEAL_OVERHEAD);
    FZ_CHECK(b2c_seal_open(ring, p, FZ_SEAL_CONTEXT, blob, len, &plain, &plen)
             == B2C_SEAL_OK);
    FZ_CHECK(plen == n && (n == 0 || memcmp(plain, d, n) == 0)
             && plain[n] == '\0');
    FZ_CHECK(b2c_seal_open(ring, p, "", blob, len, &plain, &plen)
             == B2C_SEAL_FORGED);
    FZ_CHECK(b2c_seal_open(other, p, FZ_SEAL_CONTEXT, blob, len, &plain, &plen)
             == B2C_SEAL_UNKNOWN_KEY);
    pos = n ? (d[0] * 257u + d[n - 1]) % (len * 8) : 0;
    blob[pos / 8] ^= (unsigned char)(1u << (pos % 8));
    st = b2c_seal_open(ring, p, FZ_SEAL_CONTEXT, blob, len, &plain, &plen);
    FZ_CHECK(st != B2C_SEAL_OK && st != B2C_SEAL_ERROR);
    blob[pos / 8] ^= (unsigned char)(1u << (pos % 8));
    st = b2c_seal_open(ring, p, FZ_SEAL_CONTEXT, blob, len - 1 - pos % len,
                       &plain, &plen);
    FZ_CHECK(st != B2C_SEAL_OK && st != B2C_SEAL_ERROR);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    char *plain = NULL;
    size_t plen = 0;
    const char *why = NULL;

    if (size > 0 && data[0] == 'S') {
        seal_mode(p, data + 1, size - 1);
    }
    else if (size > 0 && data[0] == 'K') {
        b2c_keys_entry_t e;
        char *again;
        size_t alen;
        if (b2c_keys_entry_unpack(p, (const char *)data + 1, size - 1, FZ_NOW,
                                  NULL, &e, &why)
            == APR_SUCCESS) {
            FZ_CHECK(e.fetched > 0
                     && e.fetched <= FZ_NOW + B2C_STATE_CLOCK_SLACK);
            FZ_CHECK(*e.url && *e.issuer && *e.jwks);
            FZ_CHECK(!fz_has_ctl(e.url, strlen(e.url)) && !strchr(e.url, ' '));
            FZ_CHECK(!fz_has_ctl(e.issuer, strlen(e.issuer)));
            /* what unpacks packs again; to the same bytes unless the time
             * had leading zeros (data + 1 starts "b2c1 keys\n") */
            FZ_CHECK(b2c_keys_entry_pack(p, &e, &again, &alen) == APR_SUCCESS);
            if (data[11] != '0')
                FZ_CHECK(alen == size - 1
                         && memcmp(again, data + 1, alen) == 0);
        }
        else
            FZ_CHECK(why != NULL);
    }
    else if (size > 0 && data[0] == 'T') {
        b2c_ctoken_entry_t e;
        if (b2c_ctoken_entry_unpack(p, (const char *)data + 1, size - 1, FZ_NOW,
                                    &e, &why)
            == APR_SUCCESS) {
            FZ_CHECK(e.obtained > 0
                     && e.obtained <= FZ_NOW + B2C_STATE_CLOCK_SLACK);
            FZ_CHECK(e.lifetime >= 1 && e.lifetime <= B2C_STATE_MAX_LIFETIME);
            FZ_CHECK(e.obtained + e.lifetime > FZ_NOW);
            FZ_CHECK(*e.token && !fz_has_ctl(e.token, strlen(e.token))
                     && !strchr(e.token, ' '));
        }
        else
            FZ_CHECK(why != NULL);
    }
    else {
        b2c_seal_status_t st =
            b2c_seal_open(ring, p, FZ_SEAL_CONTEXT, data, size, &plain, &plen);
        if (st == B2C_SEAL_OK)
            FZ_CHECK(size >= B2C_SEAL_OVERHEAD
                     && plen == size - B2C_SEAL_OVERHEAD
                     && plain[plen] == '\0');
        else
            FZ_CHECK(plain == NULL && plen == 0 && st != B2C_SEAL_ERROR);
    }
    apr_pool_destroy(p);
    return 0;
}
