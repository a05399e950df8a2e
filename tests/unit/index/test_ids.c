/* test_ids.c — the id -> slot mapping: ids 0..n-1 added in slot order need no map entry
 * (the identity prefix), every other id goes through the hash map. Mixed, deleted,
 * re-added, compacted and reloaded ids must all resolve exactly as a plain map would, and
 * the prefix must show in the reported id bytes. */
#include <criterion/criterion.h>

#include "itest.h"

#define D 8

static void add(vqi_index *idx, size_t n, const float *x, const uint64_t *ids) {
    vq_err err = {0};
    cr_assert_eq(vqi_index_add(idx, n, x, ids, &err), VQ_OK, "%s: %s", err.field, err.msg);
}

/* Every id in want[] (live) is found with its own vector; every id in gone[] is not. */
static void check(const vqi_index *idx, const float *x, const uint64_t *want, const size_t *row,
                  size_t nw, const uint64_t *gone, size_t ng) {
    float v[D];
    for (size_t i = 0; i < nw; i++) {
        cr_assert(vqi_index_contains(idx, want[i]), "id %llu missing", (unsigned long long)want[i]);
        cr_assert_eq(vqi_index_get_vector(idx, want[i], v, NULL), VQ_OK);
        cr_assert_arr_eq(v, x + row[i] * D, sizeof v, "id %llu has the wrong vector",
                         (unsigned long long)want[i]);
        /* A search for the vector itself returns its id first. */
        uint64_t got;
        float dist;
        cr_assert_eq(vqi_index_search(idx, 1, x + row[i] * D, 1, NULL, &got, &dist, NULL), VQ_OK);
        cr_assert_eq(got, want[i], "search for id %llu returned %llu", (unsigned long long)want[i],
                     (unsigned long long)got);
    }
    for (size_t i = 0; i < ng; i++)
        cr_assert(!vqi_index_contains(idx, gone[i]), "id %llu should be gone",
                  (unsigned long long)gone[i]);
}

Test(ids, identity_prefix_mixed_deleted_readded_compacted_reloaded) {
    float *x = it_data(40, D, 5);
    vqi_index *idx;
    cr_assert_eq(vqi_index_new("flat/f32", D, VQ_METRIC_L2, &idx, NULL), VQ_OK);
    add(idx, 10, x, NULL); /* ids 0..9 at slots 0..9: the identity prefix */
    vqi_stats st;
    vqi_index_stats(idx, &st);
    cr_expect_eq(st.id_bytes, 10 * 9, "no map bytes for an identity prefix (got %zu)",
                 (size_t)st.id_bytes);
    uint64_t other[3] = {1000, 7000000000ull, 12}; /* slots 10..12: not identity */
    add(idx, 3, x + 10 * D, other);
    uint64_t next[2] = {13, 14}; /* id == slot, but after a map entry: the map keeps them */
    add(idx, 2, x + 13 * D, next);
    uint64_t dup = 4;
    cr_expect_eq(vqi_index_add(idx, 1, x + 20 * D, &dup, NULL), VQ_EEXIST, "prefix id 4 is live");
    dup = 1000;
    cr_expect_eq(vqi_index_add(idx, 1, x + 20 * D, &dup, NULL), VQ_EEXIST, "map id 1000 is live");
    uint64_t del[3] = {3, 1000, 13};
    size_t removed;
    cr_assert_eq(vqi_index_remove(idx, 3, del, &removed, NULL), VQ_OK);
    cr_expect_eq(removed, 3);
    /* Re-adding a deleted prefix id puts it at a new slot through the map. */
    uint64_t again = 3;
    add(idx, 1, x + 21 * D, &again);
    uint64_t want1[] = {0, 1, 2, 3, 4, 9, 7000000000ull, 12, 14};
    size_t row1[] = {0, 1, 2, 21, 4, 9, 11, 12, 14};
    uint64_t gone1[] = {1000, 13, 15};
    check(idx, x, want1, row1, 9, gone1, 3);
    /* Compaction renumbers slots: the prefix shrinks to the slots before the first hole. */
    cr_assert_eq(vqi_index_compact(idx, NULL), VQ_OK);
    check(idx, x, want1, row1, 9, gone1, 3);
    /* Save + load rebuild the same mapping. */
    uint8_t *buf;
    size_t len;
    cr_assert_eq(vqi_index_save_mem(idx, &buf, &len, NULL), VQ_OK);
    vqi_index *back;
    cr_assert_eq(vqi_index_load_mem(buf, len, &back, NULL), VQ_OK);
    check(back, x, want1, row1, 9, gone1, 3);
    /* Delete inside the prefix, then load with the tombstone in place (no compaction). */
    uint64_t d2 = 1;
    cr_assert_eq(vqi_index_remove(back, 1, &d2, &removed, NULL), VQ_OK);
    vq_free(buf);
    cr_assert_eq(vqi_index_save_mem(back, &buf, &len, NULL), VQ_OK);
    vqi_index *back2;
    cr_assert_eq(vqi_index_load_mem(buf, len, &back2, NULL), VQ_OK);
    uint64_t want2[] = {0, 2, 3, 4, 9, 7000000000ull, 12, 14};
    size_t row2[] = {0, 2, 21, 4, 9, 11, 12, 14};
    uint64_t gone2[] = {1, 1000, 13};
    check(back2, x, want2, row2, 8, gone2, 3);
    vq_free(buf);
    vqi_index_free(back2);
    vqi_index_free(back);
    vqi_index_free(idx);
    free(x);
}
