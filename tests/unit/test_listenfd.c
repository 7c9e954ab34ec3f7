/* test_listenfd.c - lib/listenfd: adopting inherited sockets (socket activation), refusing the wrong kind. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listenfd.h"
#include "t.h"

static int sock(int type, int do_listen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, type, 0);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || (do_listen && listen(fd, 4) < 0))
		return -1;
	return fd;
}

static void takes_a_listening_tcp_socket(void)
{
	struct bb_err e;
	char arg[16];
	int fd = sock(SOCK_STREAM, 1), got;
	T_CHECK(fd >= 0);
	snprintf(arg, sizeof arg, "%d", fd);
	T_CHECK(listenfd_type(arg, &e) == SOCK_STREAM);
	got = listenfd_take(arg, SOCK_STREAM, &e);
	T_CHECK(got == fd);
	T_CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	T_CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

static void takes_a_bound_udp_socket(void)
{
	struct bb_err e;
	char arg[16];
	int fd = sock(SOCK_DGRAM, 0);
	snprintf(arg, sizeof arg, "%d", fd);
	T_CHECK(listenfd_type(arg, &e) == SOCK_DGRAM);
	T_CHECK(listenfd_take(arg, SOCK_DGRAM, &e) == fd);
	T_CHECK(listenfd_take(arg, SOCK_STREAM, &e) < 0 && strstr(e.msg, "not an IP TCP socket"));
	close(fd);
}

static void refuses_what_is_not_a_listener(void)
{
	struct bb_err e;
	char arg[16];
	int fd = sock(SOCK_STREAM, 0), p[2];
	snprintf(arg, sizeof arg, "%d", fd);
	T_CHECK(listenfd_take(arg, SOCK_STREAM, &e) < 0 && strstr(e.msg, "not a listening TCP socket"));
	close(fd);
	T_CHECK(pipe(p) == 0);
	snprintf(arg, sizeof arg, "%d", p[0]);
	T_CHECK(listenfd_take(arg, SOCK_STREAM, &e) < 0 && strstr(e.msg, "not a socket"));
	close(p[0]);
	close(p[1]);
	T_CHECK(listenfd_take("x", SOCK_STREAM, &e) < 0 && strstr(e.msg, "want a file descriptor number"));
	T_CHECK(listenfd_take("", SOCK_STREAM, &e) < 0);
	T_CHECK(listenfd_take("-1", SOCK_STREAM, &e) < 0);
	T_CHECK(listenfd_take("999", SOCK_STREAM, &e) < 0); /* not open */
}

static void refuses_a_unix_socket(void)
{
	struct bb_err e;
	char arg[16];
	int sv[2];
	T_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	snprintf(arg, sizeof arg, "%d", sv[0]);
	T_CHECK(listenfd_take(arg, SOCK_STREAM, &e) < 0);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	T_RUN(takes_a_listening_tcp_socket);
	T_RUN(takes_a_bound_udp_socket);
	T_RUN(refuses_what_is_not_a_listener);
	T_RUN(refuses_a_unix_socket);
	T_END();
}
