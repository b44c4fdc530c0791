/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the Authorization header parser (b2c_bearer_parse),
 * checked against a second, deliberately naive reading of the same rule:
 *   *( SP / HTAB ) "Bearer" 1*SP b64token end     → OK
 *   b64token = *( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 *              (non-empty)
 *   any other value with that scheme word followed by SP, HTAB or its
 *   end → MALFORMED; everything else → NONE.
 * The input is the header value, cut at a NUL. */
#include "fuzz_common.h"
#include "b2c_bearer.h"

#include <ctype.h>
#include <string.h>

static int tokchar(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
           || c == '~' || c == '+' || c == '/';
}

static b2c_bearer_status_t reference(const char *s, size_t *start)
{
    size_t i = 0, j;
    const char *scheme = "bearer";

    for (j = 0; s[j]; j++)
        if (s[j] == ',')
            return B2C_BEARER_MALFORMED;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    for (j = 0; j < 6; j++)
        if (tolower((unsigned char)s[i + j]) != scheme[j] || s[i + j] == '\0')
            return B2C_BEARER_NONE;
    i += 6;
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\0')
        return B2C_BEARER_NONE;
    /* a tab or the end after the scheme: still Bearer, but no token */
    if (s[i] != ' ')
        return B2C_BEARER_MALFORMED;
    while (s[i] == ' ')
        i++;
    *start = i;
    for (j = i; tokchar(s[j]); j++)
        ;
    if (j == i)
        return B2C_BEARER_MALFORMED; /* '=' padding alone is no token */
    while (s[j] == '=')
        j++;
    return s[j] == '\0' ? B2C_BEARER_OK : B2C_BEARER_MALFORMED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    const char *hdr = fz_cstr(p, data, size), *tok = NULL;
    size_t len = 0, start = 0;
    b2c_bearer_status_t got = b2c_bearer_parse(hdr, &tok, &len);
    b2c_bearer_status_t want = reference(hdr, &start);

    FZ_CHECK(got == want);
    if (got == B2C_BEARER_OK) {
        FZ_CHECK(tok == hdr + start && len > 0
                 && tok + len == hdr + strlen(hdr));
    }
    else {
        FZ_CHECK(tok == NULL && len == 0);
    }
    FZ_CHECK(b2c_bearer_parse(NULL, &tok, &len) == B2C_BEARER_NONE);
    apr_pool_destroy(p);
    return 0;
}
