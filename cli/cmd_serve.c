/* cmd_serve.c — `vqdb serve`: runs the gRPC server until SIGTERM/SIGINT, then stops
 * accepting, lets in-flight calls finish within the grace period and exits 0.
 * The server's threads (gRPC, RocksDB, workers) are created with the signals blocked, so no
 * handler runs inside those libraries. The handler only writes the signal's number to a
 * pipe that the main thread reads. Not sigwait alone: a thread that a library started
 * before main() (OpenBLAS's pool) has the signals unblocked, and a SIGTERM that reached it
 * while the main thread was not in sigwait (a second one during shutdown, or one during
 * start-up) took the default action and killed the server before storage was closed. A
 * second signal during shutdown changes nothing; --grace bounds the wait. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rpc.h"

/* The VectorDB methods over the engine (rpc/service.c). */
int vqr_service_register(vqr_server *s, const char *data_dir, vq_err *err);
void vqr_service_close(void);

static int g_sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t r = write(g_sig_pipe[1], &b, 1); /* non-blocking: a full pipe drops the byte */
    (void)r;
    errno = saved;
}

static void stop_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

/* Installs the handler for SIGTERM and SIGINT and blocks both in the calling thread (and so
 * in every thread it creates from now on). */
static int signals_install(void) {
    if (pipe(g_sig_pipe) != 0) return -1;
    for (int i = 0; i < 2; i++) fcntl(g_sig_pipe[i], F_SETFD, FD_CLOEXEC);
    fcntl(g_sig_pipe[1], F_SETFL, fcntl(g_sig_pipe[1], F_GETFL) | O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) return -1;
    sigset_t set;
    stop_signals(&set);
    return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -1;
}

/* Unblocks the signals in the main thread and waits for the first one. */
static int signals_wait(void) {
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    unsigned char b = 0;
    for (;;) {
        ssize_t r = read(g_sig_pipe[0], &b, 1);
        if (r == 1) return b;
        if (r < 0 && errno == EINTR) continue;
        return SIGTERM; /* the pipe cannot fail while both ends are open; stop cleanly */
    }
}

static void log_line(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

static int read_token(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) buf[--n] = '\0';
    return n ? 0 : -1;
}

static void usage(void) {
    fprintf(stderr,
            "usage: vqdb serve [--data DIR] [--listen 127.0.0.1:50051|unix:PATH] [--threads N]\n"
            "                  [--token-file FILE] [--tls-cert PEM --tls-key PEM]\n"
            "                  [--max-message-bytes N] [--timeout SECONDS] [--grace SECONDS]\n"
            "                  [--log-requests]\n");
}

int vq_cmd_serve(int argc, char **argv) {
    vqr_server_params p;
    vqr_server_params_default(&p);
    const char *data = "data", *token_file = NULL;
    double grace = 10;
    static char token[4096];
    static const struct option opts[] = {{"data", 1, 0, 'd'},
                                         {"listen", 1, 0, 'l'},
                                         {"threads", 1, 0, 't'},
                                         {"token-file", 1, 0, 'k'},
                                         {"tls-cert", 1, 0, 'c'},
                                         {"tls-key", 1, 0, 'y'},
                                         {"max-message-bytes", 1, 0, 'm'},
                                         {"timeout", 1, 0, 'o'},
                                         {"grace", 1, 0, 'g'},
                                         {"log-requests", 0, 0, 'r'},
                                         {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            data = optarg;
            break;
        case 'l':
            p.listen = optarg;
            break;
        case 't':
            p.threads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'k':
            token_file = optarg;
            break;
        case 'c':
            p.tls_cert = optarg;
            break;
        case 'y':
            p.tls_key = optarg;
            break;
        case 'm':
            p.max_message = strtoull(optarg, NULL, 10);
            break;
        case 'o':
            p.default_timeout = strtod(optarg, NULL);
            break;
        case 'g':
            grace = strtod(optarg, NULL);
            break;
        case 'r':
            p.log_requests = 1;
            break;
        default:
            usage();
            return ch == 'h' ? 0 : 2;
        }
    }
    if (token_file) {
        if (read_token(token_file, token, sizeof token) < 0) {
            fprintf(stderr, "vqdb serve: cannot read a token from %s (--token-file)\n", token_file);
            return 1;
        }
        p.token = token;
    }
    if (signals_install() != 0) {
        fprintf(stderr, "vqdb serve: cannot install the SIGTERM/SIGINT handler: %s\n",
                strerror(errno));
        return 1;
    }
    vq_err err;
    vq_err_clear(&err);
    vqr_server *s;
    int rc = vqr_server_new(&p, &s, &err);
    if (rc < 0) return vq_cli_fail("serve", rc, &err);
    vqr_server_set_log(s, log_line, NULL);
    rc = vqr_health_register(s, &err);
    if (rc == VQ_OK) rc = vqr_service_register(s, data, &err);
    if (rc == VQ_OK) rc = vqr_server_start(s, &err);
    if (rc < 0) {
        vqr_server_free(s);
        vqr_service_close();
        return vq_cli_fail("serve", rc, &err);
    }
    printf("vqdb serve: listening on %s port %d (%s%s)\n", p.listen, vqr_server_port(s),
           p.tls_cert ? "tls" : "plaintext", p.token ? ", bearer token" : "");
    fflush(stdout);
    int sig = signals_wait();
    fprintf(stderr, "{\"event\":\"shutdown\",\"signal\":%d,\"grace_s\":%g}\n", sig, grace);
    vqr_server_shutdown(s, grace);
    vqr_stats st;
    vqr_server_stats(s, &st);
    vqr_server_free(s);
    vqr_service_close(); /* flushes and closes storage */
    fprintf(
        stderr,
        "{\"event\":\"stopped\",\"calls\":%llu,\"errors\":%llu,\"error_lines_suppressed\":%llu}\n",
        (unsigned long long)st.calls, (unsigned long long)st.errors,
        (unsigned long long)st.log_suppressed);
    return 0;
}
