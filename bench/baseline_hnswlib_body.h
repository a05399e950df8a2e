/* baseline_hnswlib_body.h — the hnswlib baseline compiled once per ISA. Included by
 * baseline_hnswlib_avx2.cpp (-mavx2 -mfma ...) and baseline_hnswlib_avx512.cpp (+ -mavx512*),
 * each after defining VQ_HNSW_VARIANT (avx2 | avx512).
 *
 * Why twice: Debian's hnswlib 0.6.2 is header-only and picks its distance kernels with
 * compile-time macros (__AVX__ -> USE_AVX, __AVX512F__ -> USE_AVX512), so one object file is
 * one ISA. vqdb picks its kernels at run time (vq_isa_active); to compare like with like the
 * baseline is built for both ISAs vqdb has kernels for and baseline_hnswlib.cpp picks the
 * variant that matches vqdb's active ISA. The headers define non-inline globals (cpuid,
 * xgetbv, AVXCapable, AVX512Capable, the DISTFUNC pointers in namespace hnswlib), so each
 * variant renames them with macros to keep the two objects from colliding at link time.
 * Everything here is hnswlib's own code path: addPoint, setEf, searchKnn, unchanged.
 */
#ifndef VQ_HNSW_VARIANT
#error "define VQ_HNSW_VARIANT before including baseline_hnswlib_body.h"
#endif

/* System headers first so that the renaming below cannot reach into them. */
#include <atomic>
#include <cmath>
#include <cpuid.h>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <fstream>
#include <immintrin.h>
#include <iostream>
#include <list>
#include <mutex>
#include <queue>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>
#include <x86intrin.h>

#define VQ__CAT2(a, b) a##_##b
#define VQ__CAT(a, b) VQ__CAT2(a, b)
#define hnswlib VQ__CAT(hnswlib, VQ_HNSW_VARIANT)
#define cpuid VQ__CAT(vq__hnsw_cpuid, VQ_HNSW_VARIANT)
#define xgetbv VQ__CAT(vq__hnsw_xgetbv, VQ_HNSW_VARIANT)
#define AVXCapable VQ__CAT(vq__hnsw_avx_capable, VQ_HNSW_VARIANT)
#define AVX512Capable VQ__CAT(vq__hnsw_avx512_capable, VQ_HNSW_VARIANT)
#include <hnswlib/hnswlib.h>
#undef cpuid
#undef xgetbv
#undef AVXCapable
#undef AVX512Capable

#include "baseline_hnswlib.h"

namespace {

struct handle {
    hnswlib::SpaceInterface<float> *space = nullptr;
    hnswlib::HierarchicalNSW<float> *index = nullptr;
    ~handle() {
        delete index;
        delete space;
    }
};

void set_msg(char *msg, size_t len, const char *what) {
    if (msg && len) snprintf(msg, len, "hnswlib: %s", what);
}

void *create(size_t d, int ip, size_t max_n, unsigned m, unsigned efc, char *msg, size_t len) {
    try {
        handle *h = new handle();
        if (ip)
            h->space = new hnswlib::InnerProductSpace(d);
        else
            h->space = new hnswlib::L2Space(d);
        h->index = new hnswlib::HierarchicalNSW<float>(h->space, max_n, m, efc, 100);
        return h;
    } catch (const std::exception &e) {
        set_msg(msg, len, e.what());
    } catch (...) {
        set_msg(msg, len, "unknown exception");
    }
    return nullptr;
}

/* Adds n rows labelled first..first+n-1. Like hnswlib's Python binding, the first point of an
 * empty index goes in alone (it becomes the entry point), the rest in parallel. */
int add(void *vh, const float *x, size_t d, size_t first, size_t n, unsigned threads, char *msg,
        size_t len) {
    handle *h = static_cast<handle *>(vh);
    std::atomic<size_t> next(0);
    std::atomic<int> failed(0);
    std::string what;
    std::mutex mu;
    auto work = [&]() {
        for (;;) {
            size_t i = next.fetch_add(1);
            if (i >= n || failed.load()) return;
            try {
                h->index->addPoint(x + i * d, first + i);
            } catch (const std::exception &e) {
                std::lock_guard<std::mutex> g(mu);
                failed.store(1);
                what = e.what();
            }
        }
    };
    try {
        if (n && h->index->cur_element_count == 0) {
            h->index->addPoint(x, first);
            next.store(1);
        }
        if (threads <= 1) {
            work();
        } else {
            std::vector<std::thread> pool;
            for (unsigned t = 0; t < threads; t++) pool.emplace_back(work);
            for (auto &t : pool) t.join();
        }
    } catch (const std::exception &e) {
        failed.store(1);
        what = e.what();
    }
    if (failed.load()) {
        set_msg(msg, len, what.c_str());
        return -1;
    }
    return 0;
}

void set_ef(void *vh, unsigned ef) { static_cast<handle *>(vh)->index->setEf(ef); }

int search(const void *vh, const float *q, unsigned k, int64_t *ids, float *dist) {
    const handle *h = static_cast<const handle *>(vh);
    try {
        auto r = h->index->searchKnn(q, k);
        /* searchKnn returns a max-heap: farthest on top. */
        size_t m = r.size();
        for (size_t i = m; i < k; i++) {
            ids[i] = -1;
            if (dist) dist[i] = INFINITY;
        }
        for (size_t i = m; i-- > 0;) {
            ids[i] = (int64_t)r.top().second;
            if (dist) dist[i] = r.top().first;
            r.pop();
        }
        return 0;
    } catch (...) {
        return -1;
    }
}

/* The bytes of hnswlib's own saved form, which is its in-memory layout: the level-0 block
 * (links, vector, label) per element, the upper-level link lists, plus the per-element level
 * (int) that it keeps in memory but recomputes on load. */
size_t bytes(const void *vh) {
    const handle *h = static_cast<const handle *>(vh);
    const auto *ix = h->index;
    size_t total = ix->cur_element_count * ix->size_data_per_element_;
    for (size_t i = 0; i < ix->cur_element_count; i++) {
        total += sizeof(int); /* element_levels_ */
        if (ix->element_levels_[i] > 0)
            total += ix->size_links_per_element_ * (size_t)ix->element_levels_[i];
    }
    return total;
}

int save(const void *vh, const char *path) {
    try {
        static_cast<const handle *>(vh)->index->saveIndex(path);
        return 0;
    } catch (...) {
        return -1;
    }
}

void destroy(void *vh) { delete static_cast<handle *>(vh); }

} // namespace

extern "C" const vq__hnsw_ops VQ__CAT(vq__hnsw_ops, VQ_HNSW_VARIANT) = {
    create, add, set_ef, search, bytes, save, destroy,
};
