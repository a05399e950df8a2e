/* convert.h — private to rpc/: protobuf-c messages <-> engine structs, with the boundary
 * checks the engine cannot do itself (vector lengths, id kinds, value kinds). Every error
 * names the field as the client wrote it ("points[2].attributes.year"). */
#ifndef VQ_RPC_CONVERT_H
#define VQ_RPC_CONVERT_H

#include "engine.h"
#include "proto/vqdb.pb-c.h"
#include "vq.h"

int vqr__schema_from_pb(const Vqdb__V1__CollectionSchema *pb, const char *default_spec,
                        vqe_schema *s, vq_err *err);

/* Storage behind a CollectionInfo built by vqr__info_to_pb. */
typedef struct vqr__info_mem {
    Vqdb__V1__CollectionSchema schema;
    Vqdb__V1__FieldSchema fields[VQE_FIELDS_MAX];
    Vqdb__V1__FieldSchema *fptrs[VQE_FIELDS_MAX];
    char name[VQE_NAME_MAX], spec[256];
    char fnames[VQE_FIELDS_MAX][VQE_NAME_MAX];
} vqr__info_mem;
int vqr__info_to_pb(vqe_collection *c, Vqdb__V1__CollectionInfo *info, vqr__info_mem *mem,
                    vq_err *err);
void vqr__info_mem_free(vqr__info_mem *m);

/* Ids; strings point into the message. */
int vqr__ids_from_pb(Vqdb__V1__Id **ids, size_t n, const char *field, vqe_id *out, vq_err *err);

/* Records borrowing the message's vectors and strings (valid while the message lives). */
typedef struct vqr__records {
    vqe_record *recs;
    vqe_value *vals;
    size_t n;
} vqr__records;
int vqr__records_from_pb(vqe_collection *c, Vqdb__V1__Point **pts, size_t n, vqr__records *out,
                         vq_err *err);
void vqr__records_free(vqr__records *r);

/* Points of a Get reply, built from the engine's records (attributes come as JSON). */
typedef struct vqr__points {
    Vqdb__V1__Point **ptrs;
    size_t n;
    void *mem; /* everything else, one block list */
} vqr__points;
int vqr__points_from_got(vqe_collection *c, Vqdb__V1__Id **ids, const vqe_got *got, size_t n,
                         int with_vectors, vqr__points *out, vq_err *err);
void vqr__points_free(vqr__points *p);

/* The structured filter tree (or its text form) bound to the schema. */
int vqr__filter_from_pb(const Vqdb__V1__Filter *f, const vqe_schema *s, vqe_filter **out,
                        vq_err *err);

/* Search results and the memory behind their ScoredPoints. */
typedef struct vqr__hits {
    vqe_hit *hits;
    unsigned k;
    Vqdb__V1__ScoredPoint *sp;
    Vqdb__V1__ScoredPoint **ptrs;
    Vqdb__V1__Id *ids;
    char **strs;
    char plan[96];
} vqr__hits;
int vqr__hits_alloc(vqr__hits *h, unsigned k, vq_err *err);
/* Copies string ids, so the reply outlives the collection lock. */
int vqr__hits_to_pb(vqr__hits *h, size_t n, vq_metric metric, const char *plan, unsigned ef,
                    Vqdb__V1__SearchResponse *out, vq_err *err);
void vqr__hits_free(vqr__hits *h);

#endif
