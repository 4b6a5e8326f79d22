/* bench/hello.c: the HTTP ceiling of this machine.
 *
 * A minimal libmicrohttpd server: one thread (MHD_USE_EPOLL_INTERNAL_THREAD),
 * every request answered 200 {"status":"ok"} as application/json, with
 * keep-alive.  The response is queued only on the SECOND call of the access
 * handler: queued on the first (headers-only) call, libmicrohttpd 0.9.75
 * cannot know whether a body follows and answers "Connection: close".
 *
 * Build: cc -O2 -o build/bench-hello bench/hello.c \
 *            $(pkg-config --cflags --libs libmicrohttpd)
 * Run:   build/bench-hello PORT       (listens on 127.0.0.1 only; SIGTERM/SIGINT stop it)
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char BODY[] = "{\"status\":\"ok\"}";
static struct MHD_Response *resp;
static volatile sig_atomic_t stop;
static int marker; /* *con_cls points here once the headers have been seen */

static void on_signal(int sig) { (void)sig; stop = 1; }

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size,
        void **con_cls)
{
    (void)cls; (void)url; (void)method; (void)version; (void)upload_data;
    if (*con_cls == NULL) {          /* first call: headers only */
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {    /* discard any body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(c, MHD_HTTP_OK, resp);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end || port < 1 || port > 65535) {
        fprintf(stderr, "bench-hello: bad port '%s'\n", argv[1]);
        return 2;
    }

    resp = MHD_create_response_from_buffer(sizeof BODY - 1, (void *)BODY,
                                           MHD_RESPMEM_PERSISTENT);
    if (!resp || MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                         "application/json") != MHD_YES) {
        fprintf(stderr, "bench-hello: cannot build the response\n");
        return 1;
    }

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
        NULL, NULL, handler, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)20000,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bench-hello: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }

    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_signal;
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);

    fprintf(stderr, "bench-hello: listening on 127.0.0.1:%ld\n", port);
    while (!stop)
        pause();

    MHD_stop_daemon(d);
    MHD_destroy_response(resp);
    return 0;
}
