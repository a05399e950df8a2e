/* sockio.h — the socket plumbing shared by the RPC floor measurements (sock_floor.c and
 * rpc_inproc's raw-socket server, raw_serve.c): one loopback connection, waits in epoll_wait
 * between messages as gRPC core does, fixed-size messages. Failures exit the process with a
 * message (these are measurement programs, not library code). */
#ifndef VQ_BENCH_SOCKIO_H
#define VQ_BENCH_SOCKIO_H
#include <stddef.h>

/* A listening socket: loopback TCP on a free port, or a Unix socket at a fresh path when
 * unix_path is non-NULL (a buffer of 64 bytes that receives the path). */
typedef struct sio_listener {
    int fd;
    int is_unix;
    char path[64];
    unsigned char addr[128]; /* the sockaddr to connect to */
    unsigned addr_len;
} sio_listener;

void sio_listen(sio_listener *l, int use_unix);
int sio_accept(const sio_listener *l);  /* TCP_NODELAY set */
int sio_connect(const sio_listener *l); /* TCP_NODELAY set */
void sio_listener_close(sio_listener *l);
/* An epoll set watching fd for input. */
int sio_watch(int fd);
/* Reads exactly n bytes, waiting in epoll_wait (a zero timeout, i.e. polling, when spin) while
 * none are there. Returns 0 at end of stream before the first byte, 1 otherwise. */
int sio_recv(int ep, int fd, void *buf, size_t n, int spin);
void sio_send(int fd, const void *buf, size_t n);
/* Pins the calling thread to cpu; -1 leaves it where it is, -2 allows every online CPU. */
void sio_pin(int cpu);
/* This process's CPU seconds so far (user + system, all threads; getrusage). */
double sio_proc_cpu(void);
double sio_now(void); /* CLOCK_MONOTONIC seconds */

#endif
