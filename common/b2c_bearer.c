/* SPDX-License-Identifier: Apache-2.0 */
/* The Authorization header of a bearer-token request (RFC 6750 §2.1):
 * find the one token, or say why there is none. Moved out of
 * mod_b2c_auth's find_token so it can be unit-tested and fuzzed. */
#include "b2c_bearer.h"

#include <string.h>
#include <strings.h>

/* 1 for the b64token characters (A-Z a-z 0-9 - . _ ~ + /): a table, as
 * every request's token is scanned. */
/* clang-format off: the rows as laid out by hand */
static const unsigned char b64token_char[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
/* clang-format on */

b2c_bearer_status_t b2c_bearer_parse(const char *hdr, const char **token,
                                     size_t *len)
{
    const char *t, *end;

    *token = NULL;
    *len = 0;
    if (hdr == NULL)
        return B2C_BEARER_NONE;
    /* httpd joins repeated headers with ", "; no credentials hold a comma */
    if (strchr(hdr, ','))
        return B2C_BEARER_MALFORMED;
    while (*hdr == ' ' || *hdr == '\t')
        hdr++;
    /* strncasecmp stops at hdr's NUL, so a short value never over-reads */
    if (strncasecmp(hdr, "Bearer", 6) != 0
        || (hdr[6] != ' ' && hdr[6] != '\t' && hdr[6] != '\0'))
        return B2C_BEARER_NONE;
    t = hdr + 6;
    while (*t == ' ')
        t++;
    for (end = t; b64token_char[(unsigned char)*end]; end++)
        ;
    if (end == t) /* b64token needs one character before any '=' */
        return B2C_BEARER_MALFORMED;
    while (*end == '=')
        end++;
    if (*end != '\0')
        return B2C_BEARER_MALFORMED;
    *token = t;
    *len = (size_t)(end - t);
    return B2C_BEARER_OK;
}
