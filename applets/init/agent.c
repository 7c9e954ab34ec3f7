/* agent.c - `bb init --agent`: route and resolv.conf toward the sidecar, then every privilege dropped, in that order. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "fd.h"
#include "init.h"

#define RESOLV_PATH "/etc/resolv.conf"

/*
 * Written in place when it is a file or a bind mount (runtimes bind-mount
 * it, and a rename over a mount point fails); replaced atomically only
 * when it is a symlink, so the link's target outside the bottle is never
 * written through.
 */
static int write_resolv(const char *dns, struct bb_err *e)
{
	unsigned char bin[16];
	char text[160];
	int n, fd;

	if (inet_pton(AF_INET, dns, bin) != 1 && inet_pton(AF_INET6, dns, bin) != 1)
		return bb_errf(e, BB_EINVAL, "resolv.conf: '%s' is not an IPv4 or IPv6 address", dns);
	n = snprintf(text, sizeof text, "# written by bb init --agent: names resolve through the sidecar\nnameserver %s\n",
		     dns);
	if (n < 0 || (size_t)n >= sizeof text)
		return bb_errf(e, BB_EINVAL, "resolv.conf: address too long");
	fd = open(RESOLV_PATH, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ELOOP) {
		if (fd_write_file_atomic(RESOLV_PATH, text, (size_t)n, 0644, e) < 0)
			return bb_err_wrap(e, "resolv.conf");
		return 0;
	}
	if (fd < 0)
		return bb_errno(e, errno, "resolv.conf: opening %s", RESOLV_PATH);
	if (fd_write_all(fd, text, (size_t)n) < 0 || fsync(fd) < 0) {
		bb_errno(e, errno, "resolv.conf: writing %s", RESOLV_PATH);
		fd_close(fd);
		return -1;
	}
	if (close(fd) < 0)
		return bb_errno(e, errno, "resolv.conf: writing %s", RESOLV_PATH);
	return 0;
}

int init_agent_setup(const struct init_agent *a, struct bb_err *e)
{
	struct caps_target t = { a->switch_ids, a->uid, a->gid };

	/* The network steps need CAP_NET_ADMIN and root's write access to /etc, so they come first. */
	if (a->gateway && init_route_default_via(a->gateway, e) < 0)
		return -1;
	if (a->dns && write_resolv(a->dns, e) < 0)
		return -1;
	return caps_drop_privileges(&t, e);
}
