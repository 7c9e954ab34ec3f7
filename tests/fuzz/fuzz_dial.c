/* fuzz_dial.c - fuzzer for lib/dial: the DIAL request line (parse/format round trip) and answer lines received over a socketpair. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dial.h"
#include "fuzz.h"

static void request(const char *s, size_t n)
{
	struct dial_request r;
	char line[DIAL_LINE_MAX];
	int len;

	if (dial_request_parse(s, n, &r, NULL) < 0)
		return;
	CHECK(r.port != 0 && strlen(r.host) > 0);
	len = dial_request_format(&r, line, sizeof line);
	/* what was accepted is what the sidecar would have sent */
	CHECK(len > 0 && line[len - 1] == '\n');
	CHECK((size_t)len - 1 == n - (s[n - 1] == '\n') && !memcmp(line, s, (size_t)len - 1));
}

/* The answer side: the bytes as one message, with a descriptor attached or not. */
static void answer(const char *s, size_t n, int attach)
{
	int sv[2], fd = -2, probe;
	char buf[DIAL_LINE_MAX];
	ssize_t got;

	if (n == 0 || n > 4096 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return;
	if (dial_send(sv[0], s, n, attach ? sv[0] : -1) < 0)
		abort();
	got = dial_recv(sv[1], buf, sizeof buf, &fd);
	if (got >= 0) {
		CHECK((size_t)got < sizeof buf && buf[got] == 0);
		CHECK(memchr(s, '\n', n) != NULL && (size_t)got == (size_t)((char *)memchr(s, '\n', n) - s));
		CHECK(attach ? fd >= 0 : fd == -1);
	} else {
		/* a refused answer never hands out a descriptor */
		CHECK(fd == -1 && errno == EPROTO);
	}
	if (fd >= 0)
		close(fd);
	/* no descriptor left behind: the next one allocated is the lowest free, which was fd's */
	probe = dup(sv[1]);
	CHECK(probe >= 0 && (fd < 0 || probe <= fd));
	close(probe);
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	request((const char *)data + 1, size - 1);
	answer((const char *)data + 1, size - 1, data[0] & 1);
	return 0;
}
