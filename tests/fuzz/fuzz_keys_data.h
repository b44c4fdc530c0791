/* SPDX-License-Identifier: Apache-2.0 */
/* Fixed key pairs of the fuzz targets, as private JWKs (RFC 7518 §6).
 * TEST KEYS ONLY: generated for tests/fuzz and published with it; they
 * sign the seed tokens in corpus/validate and corpus/jwt_parse (made by
 * mkseeds.c) and the tokens fuzz_validate builds. Nothing real may ever
 * trust them. Regenerating them means regenerating those seeds. */
#ifndef B2C_FUZZ_KEYS_DATA_H
#define B2C_FUZZ_KEYS_DATA_H

/* RSA 2048, e = 65537 */
#define FZ_RSA_PRIVATE_JWK \
    "{\"kty\":\"RSA\",\"n\":\"nRqJbMmgYVpncP2Pb1yqH6q-zFRrmOUtbJkNTxMCjNfSCmB-mm" \
    "0BxcEumSg_m5DSwxY7_9kHpjg8FfyKVBISCpnAaMia9gKb12Edlo1vAv9ftnQhCz0qwj" \
    "cgPkhiYjojBsnqr4ftZy4ym7oSTPsby3ONc7TZzOKvgA1OgBPCCYxfp4m2p8p5JGeKrM" \
    "f7ZFCC7nNXiQJH8GpeuC1YTHbQSsVg22VWdL41BXRAdt0RS_vJHoLUhEvh8U9ZXF7XNd" \
    "NKBzg2Lu0zFpN4M-zZYv_2aSVuSosI9rkmyT5W2nUNS55fN7mCcy5z0az0AYTsd_DbSY" \
    "3booa_2hUy4bnwjbPA_w\",\"e\":\"AQAB\",\"d\":\"EWtIUn4WoMS31HDgzv2sxT8W0awIlB" \
    "bRDwn3Tk2yyjAB03G4h-HPQQB27LdoOhT4MXZNJ8SGExmIG_34znKEepVqnpOjjuRiKC" \
    "LV94PuC5yKHb5Jjaf2DjuzgQRgmDiO-qk3sse0_GxEYzzh25Q6FDhXNj2Wqp91yxJuok" \
    "fOi2VPFlnhKaFcNTMEdDIT3gofdZuVeg2Ox1QfcAyPwLMRJK-asnUkUQdFKRJ_sBKdQX" \
    "l6O5n3kOPtGBw3z2SmD8h0LenFYc9ScmhVuQ_wH0mZ3Lojw5iypPPAqkTVowICtYTpQq" \
    "4nEv_v7dWL-KkL3lQlA33cE7eRCUvngrhxw1njAQ\",\"p\":\"zlJCt2ofMwz6RpyfmL3NN" \
    "VBvaI6V6RmJmuVn0OsQDIzE4-aMa_9dbTxA--sjrwnXUR7rphljjpg7cMKnngDr4ulJ7" \
    "KCXDp2CNI5_vdW6CntH_KhQcfpnIccQlLggTxpMSiqSBVVLtoCGcLdtfJThNEuhUC0qy" \
    "azdSPyKXTQPOf8\",\"q\":\"wu56FI4HOvBmxzMs6QOgZ0G191cu4dRBvoPfqLLyr8-FK0X" \
    "q6Kfgn8CduWJV72MlGHgSF-2cmVBUZnTQRhFtNVLiLOS2swYQ9c8Lg3kPjmGqn-r2f77" \
    "9AUp9GZk6RwaMBqgZfk8nmXFwktGRizZcxtXNInhHPMPdXH6dY3rFeQE\",\"dp\":\"jbb0" \
    "-nSa_36_fbbg7JIaHK-mBmRB1f1jhhBikZ6TxHsAViWqeBfMPVawsBifxv_0dFTPuaQg" \
    "vPYVhes-JIovfAmPbEgV2cUYhS8H0QW3prFtDb8ymkdLhWjtG6mpD4xZsGuzJpSiz7VS" \
    "IqPrQTIlybzVDXQouqPQzuwfwcsbVlM\",\"dq\":\"CUk3A5eofIRLQR4M-6SylXip5HiAw" \
    "T1NTHgXxX-Q1BM8ss0H3cFxj-qrGNO4aEj-0WWW5xDort0GyEK0UUIvQ6UJJT5X_btCP" \
    "5N3ZvHzbcL1T9zvlTJR9yfHQdrszclgDkkfvcajikm_JR9aoZkbXlV9CjFUo25pMyjM8" \
    "po8ogE\",\"qi\":\"scPzpCzLpl3zvEqttF72V_zptVQSICNT7oswgvpS5odsBOZL-1rqn2" \
    "Z0hQYq-jsEdJzAxAtaUVdzbxd7lGsghbt06l2MUxOIgf69m4WQaso1jM9AGJyeCXQNn0" \
    "kZDATEl0QeA9XBb9Q4SEYhAYqeiX5u3U_-RPV5HJx1QJVkS5Q\"}"

/* EC P-256 */
#define FZ_EC_PRIVATE_JWK \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"l_qTZI_Pa5LHo5isGM_Xo2jWt7cjAN8yjyPUJ" \
    "x9902I\",\"y\":\"Fh-qmK2nWvYnVVWBtc0ELhq32J1o9z64Gcda-XNIgjs\",\"d\":\"aVHlw" \
    "cHSfafxJQHDGrBUD7Lf5YQkAAyfagcyhpFDxis\"}"

#endif
