/* sockio.c — see sockio.h. */
#define _GNU_SOURCE
#include "sockio.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* _exit: a forked client must not run the parent's exit handlers (RocksDB's, in rpc_inproc). */
static void die(const char *what) {
    fprintf(stderr, "sockio: %s: %s\n", what, strerror(errno));
    _exit(1);
}

void sio_listen(sio_listener *l, int use_unix) {
    memset(l, 0, sizeof *l);
    l->is_unix = use_unix;
    if (use_unix) {
        static int seq;
        struct sockaddr_un un;
        memset(&un, 0, sizeof un);
        un.sun_family = AF_UNIX;
        snprintf(l->path, sizeof l->path, "/tmp/vq_sockio.%d.%d", (int)getpid(), seq++);
        snprintf(un.sun_path, sizeof un.sun_path, "%s", l->path);
        unlink(l->path);
        l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&un, sizeof un) != 0) die("bind unix");
        memcpy(l->addr, &un, sizeof un);
        l->addr_len = sizeof un;
    } else {
        struct sockaddr_in in4;
        memset(&in4, 0, sizeof in4);
        in4.sin_family = AF_INET;
        in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&in4, sizeof in4) != 0) die("bind");
        socklen_t sl = sizeof in4;
        if (getsockname(l->fd, (struct sockaddr *)&in4, &sl) != 0) die("getsockname");
        memcpy(l->addr, &in4, sizeof in4);
        l->addr_len = sizeof in4;
    }
    if (listen(l->fd, 4) != 0) die("listen");
}

static void nodelay(const sio_listener *l, int fd) {
    int one = 1;
    if (!l->is_unix) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int sio_accept(const sio_listener *l) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) die("accept");
    nodelay(l, fd);
    return fd;
}

int sio_connect(const sio_listener *l) {
    int fd = socket(l->is_unix ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)l->addr, l->addr_len) != 0) die("connect");
    nodelay(l, fd);
    return fd;
}

void sio_listener_close(sio_listener *l) {
    close(l->fd);
    if (l->is_unix) unlink(l->path);
}

int sio_watch(int fd) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
    return ep;
}

int sio_recv(int ep, int fd, void *buf, size_t n, int spin) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0) {
            if (got) die("recv: message cut short");
            return 0;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) die("recv");
        struct epoll_event ev;
        if (epoll_wait(ep, &ev, 1, spin ? 0 : -1) < 0 && errno != EINTR) die("epoll_wait");
    }
    return 1;
}

void sio_send(int fd, const void *buf, size_t n) {
    size_t sent = 0;
    while (sent < n) {
        ssize_t w = send(fd, (const char *)buf + sent, n - sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("send");
        }
        sent += (size_t)w;
    }
}

void sio_pin(int cpu) {
    if (cpu == -1) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu == -2) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long i = 0; i < n && i < CPU_SETSIZE; i++) CPU_SET((int)i, &set);
    } else {
        CPU_SET(cpu, &set);
    }
    if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

double sio_proc_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

double sio_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
