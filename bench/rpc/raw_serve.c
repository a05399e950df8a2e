/* raw_serve.c — see raw_serve.h. The point is the difference to the gRPC server's windows:
 * the same search, the same sleeping and waking around each call and the same syscalls per
 * call (one epoll_wait, one or two recv, one send), but no HTTP/2, no protobuf and no
 * completion queue, so what the gRPC server costs beyond this is the RPC stack's own share. */
#include "raw_serve.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockio.h"

int raw_serve(vqe_collection *c, const vq_matrix *q, const vqe_search_params *sp, double secs,
              int client_cpu, int spin, raw_result *out) {
    size_t req_len = 4 + 4 * q->d, resp_len = 4 + (size_t)sp->k * 12;
    uint8_t *req = calloc(1, req_len), *resp = calloc(1, resp_len);
    float *vec = malloc(4 * q->d);
    vqe_hit *hits = calloc(sp->k, sizeof *hits);
    if (!req || !resp || !vec || !hits) {
        free(req), free(resp), free(vec), free(hits);
        return -1;
    }
    sio_listener l;
    sio_listen(&l, 0);
    fflush(NULL); /* the child must not flush this process's buffered output again */
    pid_t pid = fork();
    if (pid < 0) {
        sio_listener_close(&l);
        free(req), free(resp), free(vec), free(hits);
        return -1;
    }
    if (pid == 0) { /* the client: only syscalls and the inherited query rows */
        sio_pin(client_cpu);
        int fd = sio_connect(&l);
        int ep = sio_watch(fd);
        double until = sio_now() + secs;
        for (uint32_t i = 0; sio_now() < until; i++) {
            uint32_t row = (uint32_t)(i % q->n);
            memcpy(req, &row, 4);
            memcpy(req + 4, q->data + (size_t)row * q->d, 4 * q->d);
            sio_send(fd, req, req_len);
            if (!sio_recv(ep, fd, resp, resp_len, spin)) _exit(1);
        }
        shutdown(fd, SHUT_WR);
        _exit(0);
    }
    int fd = sio_accept(&l);
    int ep = sio_watch(fd);
    vq_err e;
    uint64_t calls = 0;
    double t0 = sio_now(), c0 = sio_proc_cpu();
    int rc = 0;
    while (sio_recv(ep, fd, req, req_len, 0)) {
        memcpy(vec, req + 4, 4 * q->d);
        size_t n = 0;
        if (vqe_search(c, vec, sp, hits, &n, NULL, &e) < 0) {
            fprintf(stderr, "raw_serve: search: %s: %s\n", e.field, e.msg);
            rc = -1;
            break;
        }
        uint32_t n32 = (uint32_t)n;
        memcpy(resp, &n32, 4);
        for (size_t h = 0; h < n; h++) {
            memcpy(resp + 4 + 12 * h, &hits[h].id.u, 8);
            memcpy(resp + 12 + 12 * h, &hits[h].score, 4);
        }
        sio_send(fd, resp, resp_len);
        calls++;
    }
    out->server_cpu_s = sio_proc_cpu() - c0;
    out->wall_s = sio_now() - t0;
    out->calls = calls;
    close(ep);
    close(fd);
    int st = 0;
    if (rc < 0) kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    sio_listener_close(&l);
    free(req), free(resp), free(vec), free(hits);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = -1;
    return rc;
}
