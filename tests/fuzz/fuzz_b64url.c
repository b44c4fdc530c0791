/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: strict base64url (b2c_b64url_decode / _encode).
 * Properties: one byte string has exactly one accepted encoding, so a
 * decoded input re-encodes to itself; any bytes survive encode+decode. */
#include "fuzz_common.h"
#include "b2c_util.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    unsigned char *out;
    size_t outlen;
    char *enc;

    if (b2c_b64url_decode(p, (const char *)data, size, &out, &outlen)
        == APR_SUCCESS) {
        FZ_CHECK(out != NULL && out[outlen] == '\0');
        FZ_CHECK(outlen == size / 4 * 3 + (size % 4 ? size % 4 - 1 : 0));
        enc = b2c_b64url_encode(p, out, outlen);
        FZ_CHECK(strlen(enc) == size && memcmp(enc, data, size) == 0);
    }
    else {
        FZ_CHECK(out == NULL && outlen == 0);
    }

    /* the other way round: arbitrary bytes */
    enc = b2c_b64url_encode(p, data, size);
    FZ_CHECK(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789-_")
             == strlen(enc));
    FZ_CHECK(b2c_b64url_decode(p, enc, strlen(enc), &out, &outlen)
             == APR_SUCCESS);
    FZ_CHECK(outlen == size && memcmp(out, data, size) == 0);

    apr_pool_destroy(p);
    return 0;
}
