/* sock_floor.c — what a request/response round trip costs the server on this machine with no
 * RPC stack at all: the floor under bench/rpc_overhead.sh's ratio.
 *
 * A forked server process and a client process exchange fixed-size messages over one
 * loopback TCP connection (or a Unix socket), both waiting in epoll_wait between messages as
 * gRPC core does. For each request the server runs W microseconds of register-only work (a
 * calibrated arithmetic loop standing in for a search; it touches no memory, so placement
 * cannot change its cost) and then sends the response. A thread-CPU clock around each run of
 * the loop gives the work's own CPU during the run, so the report has the two halves of
 * rpc_overhead.sh's ratio with everything but the kernel taken out:
 *
 *   server CPU per call (getrusage, all of it) / CPU of the work in those calls
 *
 * and the difference in microseconds: what the socket calls, the sleep/wake-up and the
 * cross-CPU wake-up of the client cost here, before any framing or RPC library. (Timing the
 * work inside the calls, rather than alone beforehand, keeps this shared host's drift out of
 * the difference; the two clock reads per call, about a microsecond, land on the work's
 * side, so the floor is if anything understated. The loop timed alone is reported too.)
 *
 * usage: sock_floor [--seconds S] [--work-us W] [--req BYTES] [--resp BYTES]
 *                   [--server-cpu N] [--client-cpu N] [--unix] [--client-spin]
 * A CPU of -1 (the default) leaves that process to the scheduler. --client-spin: the client
 * polls (epoll_wait with a zero timeout) instead of sleeping for the response, so the
 * server's send has no sleeping task to wake. One JSON line on stdout. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockio.h"

static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile uint64_t g_sink;

/* Register-only work: a multiply-xorshift chain the compiler cannot fold. */
static void spin(uint64_t iters) {
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (uint64_t i = 0; i < iters; i++) x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9u + i;
    g_sink = x;
}

int main(int argc, char **argv) {
    double seconds = 5, work_us = 200;
    size_t req = 600, resp = 200;
    int server_cpu = -1, client_cpu = -1, use_unix = 0, client_spin = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--unix")) {
            use_unix = 1;
            continue;
        }
        if (!strcmp(a, "--client-spin")) {
            client_spin = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "sock_floor: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--seconds"))
            seconds = atof(v);
        else if (!strcmp(a, "--work-us"))
            work_us = atof(v);
        else if (!strcmp(a, "--req"))
            req = (size_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--resp"))
            resp = (size_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--server-cpu"))
            server_cpu = atoi(v);
        else if (!strcmp(a, "--client-cpu"))
            client_cpu = atoi(v);
        else {
            fprintf(stderr, "sock_floor: unknown option %s\n", a);
            return 2;
        }
    }
    if (seconds <= 0 || work_us < 0 || req < 1 || resp < 1 || req > (1u << 20) ||
        resp > (1u << 20)) {
        fprintf(stderr, "sock_floor: bad --seconds/--work-us/--req/--resp\n");
        return 2;
    }

    sio_listener l;
    sio_listen(&l, use_unix);
    int report[2];
    if (pipe(report) != 0) return perror("pipe"), 1;

    pid_t pid = fork();
    if (pid < 0) return perror("fork"), 1;
    if (pid == 0) { /* the server */
        close(report[0]);
        sio_pin(server_cpu);
        /* Calibrate the work loop to work_us, then time it alone (reported for reference; the
         * ratio uses the work's CPU inside the calls, below). */
        uint64_t iters = 1u << 16;
        for (;;) {
            double t0 = sio_proc_cpu();
            spin(iters);
            double dt = sio_proc_cpu() - t0;
            if (dt > 0.05) {
                iters = (uint64_t)((double)iters * (work_us * 1e-6) / dt);
                break;
            }
            iters *= 2;
        }
        if (work_us == 0) iters = 0;
        uint64_t n_alone = iters ? (uint64_t)(0.5 / (work_us * 1e-6)) : 0;
        double c0 = sio_proc_cpu();
        for (uint64_t i = 0; i < n_alone; i++) spin(iters);
        double alone_us = n_alone ? 1e6 * (sio_proc_cpu() - c0) / (double)n_alone : 0;

        /* The client starts its clock only now, not during the calibration. */
        if (write(report[1], "R", 1) != 1) _exit(1);
        int fd = sio_accept(&l);
        int ep = sio_watch(fd);
        char *in = malloc(req), *out = calloc(1, resp);
        if (!in || !out) _exit(1);
        uint64_t calls = 0;
        double cpu0 = sio_proc_cpu(), work = 0;
        while (sio_recv(ep, fd, in, req, 0)) {
            double w0 = thread_cpu();
            spin(iters);
            work += thread_cpu() - w0;
            sio_send(fd, out, resp);
            calls++;
        }
        double cpu = sio_proc_cpu() - cpu0;
        char line[256];
        int len = snprintf(line, sizeof line, "%llu %.6f %.6f %.3f\n", (unsigned long long)calls,
                           cpu, work, alone_us);
        if (write(report[1], line, (size_t)len) != len) _exit(1);
        _exit(0);
    }

    /* the client */
    close(report[1]);
    sio_pin(client_cpu);
    char ready;
    if (read(report[0], &ready, 1) != 1) {
        fprintf(stderr, "sock_floor: the server did not start\n");
        return 1;
    }
    int fd = sio_connect(&l);
    int ep = sio_watch(fd);
    char *out = calloc(1, req), *in = malloc(resp);
    if (!in || !out) return 1;
    double start = sio_now(), until = start + seconds;
    uint64_t calls = 0;
    while (sio_now() < until) {
        sio_send(fd, out, req);
        if (!sio_recv(ep, fd, in, resp, client_spin)) {
            fprintf(stderr, "sock_floor: server closed early\n");
            return 1;
        }
        calls++;
    }
    double wall = sio_now() - start;
    shutdown(fd, SHUT_WR);
    free(out);
    free(in);
    char line[256] = "";
    ssize_t r = read(report[0], line, sizeof line - 1);
    int st = 0;
    waitpid(pid, &st, 0);
    sio_listener_close(&l);
    unsigned long long s_calls = 0;
    double s_cpu = 0, s_work = 0, alone = 0;
    if (r <= 0 || sscanf(line, "%llu %lf %lf %lf", &s_calls, &s_cpu, &s_work, &alone) != 4 ||
        !s_calls) {
        fprintf(stderr, "sock_floor: no report from the server\n");
        return 1;
    }
    double per_call = 1e6 * s_cpu / (double)s_calls, work = 1e6 * s_work / (double)s_calls;
    printf("{\"transport\":\"%s\",\"server_cpu\":%d,\"client_cpu\":%d,\"client_spin\":%d,"
           "\"work_us\":%.1f,"
           "\"req\":%zu,\"resp\":%zu,\"calls\":%llu,\"calls_per_s\":%.0f,"
           "\"work_alone_cpu_us\":%.2f,\"work_cpu_us_per_call\":%.2f,"
           "\"server_cpu_us_per_call\":%.2f,\"floor_us_per_call\":%.2f,\"ratio\":%.3f}\n",
           use_unix ? "unix" : "tcp", server_cpu, client_cpu, client_spin, work_us, req, resp,
           s_calls, (double)calls / wall, alone, work, per_call, per_call - work,
           work > 0 ? per_call / work : 0.0);
    fflush(stdout); /* before any sanitizer report at exit, which may end the process first */
    return 0;
}
