/* Unit tests of the protobuf wire reader: varints, lengths, truncation. */
#include "io/pb.h"
#include "unit.h"

#include <string.h>

void unit_pb(void) {
    pb_reader r;
    pb_field f;
    /* field 1 varint 150, field 2 bytes "hi", field 5 fixed32 */
    const uint8_t ok[] = {0x08, 0x96, 0x01, 0x12, 0x02, 'h', 'i', 0x2d, 1, 2, 3, 4};
    pb_init(&r, ok, sizeof ok);
    CHECK(pb_next(&r, &f) && f.num == 1 && f.wire == PB_VARINT && f.v == 150);
    CHECK(pb_next(&r, &f) && f.num == 2 && f.wire == PB_LEN && f.len == 2 && memcmp(f.data, "hi", 2) == 0);
    CHECK(pb_next(&r, &f) && f.num == 5 && f.wire == PB_I32 && f.v == 0x04030201u);
    CHECK(!pb_next(&r, &f) && !r.err);
    /* length past the end */
    const uint8_t trunc[] = {0x12, 0x05, 'a'};
    pb_init(&r, trunc, sizeof trunc);
    CHECK(!pb_next(&r, &f) && r.err && r.err_off == 0);
    /* varint that never ends */
    const uint8_t longv[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    pb_init(&r, longv, sizeof longv);
    CHECK(!pb_next(&r, &f) && r.err);
    /* 64-bit max varint is fine */
    const uint8_t maxv[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    pb_init(&r, maxv, sizeof maxv);
    CHECK(pb_next(&r, &f) && f.v == UINT64_MAX);
    /* field number 0 and groups are errors */
    const uint8_t zero[] = {0x00, 0x01};
    pb_init(&r, zero, sizeof zero);
    CHECK(!pb_next(&r, &f) && r.err);
    const uint8_t group[] = {0x0b, 0x0c};
    pb_init(&r, group, sizeof group);
    CHECK(!pb_next(&r, &f) && r.err);
    /* truncated fixed64 */
    const uint8_t f64[] = {0x09, 1, 2, 3};
    pb_init(&r, f64, sizeof f64);
    CHECK(!pb_next(&r, &f) && r.err);
    /* packed varints */
    const uint8_t packed[] = {0x0a, 0x04, 0x01, 0x96, 0x01, 0x03};
    pb_init(&r, packed, sizeof packed);
    CHECK(pb_next(&r, &f) && pb_packed_count(&f, PB_VARINT) == 3);
    pb_packed pk = {f.data, f.data + f.len};
    uint64_t v;
    CHECK(pb_packed_varint(&pk, &v) && v == 1);
    CHECK(pb_packed_varint(&pk, &v) && v == 150);
    CHECK(pb_packed_varint(&pk, &v) && v == 3);
    CHECK(!pb_packed_varint(&pk, &v));
    const uint8_t badpk[] = {0x0a, 0x02, 0x01, 0x96};
    pb_init(&r, badpk, sizeof badpk);
    CHECK(pb_next(&r, &f) && pb_packed_count(&f, PB_VARINT) == -1);
    const uint8_t badf32[] = {0x0a, 0x03, 1, 2, 3};
    pb_init(&r, badf32, sizeof badf32);
    CHECK(pb_next(&r, &f) && pb_packed_count(&f, PB_I32) == -1);
}
