/* ca.c - `bb bottle ca init|show|path`: the bottle CA that egress uses to intercept TLS. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "applet.h"
#include "ca.h"
#include "err.h"
#include "log.h"
#include "opt.h"

int bottle_ca(int argc, char **argv);

static const char usage[] =
	"usage: bb bottle ca COMMAND [OPTIONS]\n"
	"The certificate authority egress uses to intercept the agent's TLS: an ECDSA\n"
	"P-256 key (ca.key, mode 0600, never leaves the host and sidecar) and its\n"
	"self-signed certificate (ca.crt), which the agent is told to trust.\n"
	"  init [--name NAME] [--force]   create the CA; refuses to replace one unless --force\n"
	"  show                           print the CA certificate (PEM) on stdout\n"
	"  path                           print the certificate's path on stdout\n"
	"Options:\n"
	"  -d, --dir DIR     the CA directory (default $BB_HOME/.bb/ca; BB_HOME defaults to HOME)\n"
	"  -n, --name NAME   init: the certificate says \"bb bottle CA NAME\" (default: the host name)\n"
	"  -f, --force       init: replace an existing CA (agents must then trust the new one)\n"
	"Exit: 0 ok, 1 refused (a CA exists; no CA to show), 2 usage, 111 system error.";

static int ca_init(const char *dir, const char *name, int force)
{
	struct bb_err e = { 0 };
	unsigned char der[CA_CERT_DER_MAX], fp[32];
	char host[CA_NAME_MAX + 1], path[PATH_MAX];
	br_sha256_context h;
	size_t len, i;

	if (!name) {
		if (gethostname(host, sizeof host) < 0 || !host[0])
			snprintf(host, sizeof host, "%s", "host");
		host[sizeof host - 1] = 0;
		name = host;
	}
	if (ca_create(dir, name, time(NULL), force, &e) < 0) {
		if (e.code == EEXIST) {
			err_printf("%s\n(use 'bb bottle ca init --force' to replace it; agents must then trust the new certificate)",
				   e.msg);
			return BB_EXIT_FAIL;
		}
		err_printf("%s", e.msg);
		return e.code == BB_EINVAL ? BB_EXIT_USAGE : BB_EXIT_SYSTEM;
	}
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, CA_CERT_FILE) >= sizeof path) {
		err_printf("path too long: %s/%s", dir, CA_CERT_FILE);
		return BB_EXIT_USAGE;
	}
	if (ca_read_cert_file(path, der, sizeof der, &len, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	br_sha256_init(&h);
	br_sha256_update(&h, der, len);
	br_sha256_out(&h, fp);
	out_printf("created %s/%s (mode 0600) and %s\nCN: bb bottle CA %s\nSHA-256 fingerprint: ", dir, CA_KEY_FILE,
		   path, name);
	for (i = 0; i < sizeof fp; i++)
		out_printf("%02X%s", fp[i], i + 1 < sizeof fp ? ":" : "\n");
	return BB_EXIT_OK;
}

static int ca_show(const char *dir)
{
	struct bb_err e = { 0 };
	unsigned char der[CA_CERT_DER_MAX];
	char path[PATH_MAX], pem[CA_PEM_MAX];
	size_t len, pem_len;
	int k;

	k = snprintf(path, sizeof path, "%s/%s", dir, CA_CERT_FILE);
	if (k < 0 || (size_t)k >= sizeof path) {
		err_printf("path too long: %s/%s", dir, CA_CERT_FILE);
		return BB_EXIT_USAGE;
	}
	if (ca_read_cert_file(path, der, sizeof der, &len, &e) < 0) {
		if (e.code == ENOENT) {
			err_printf("no CA certificate at %s; create one with 'bb bottle ca init'", path);
			return BB_EXIT_FAIL;
		}
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	/* Re-encoded from the DER just checked: stdout gets exactly one certificate, whatever else the file held. */
	if (ca_pem_encode("CERTIFICATE", der, len, pem, sizeof pem, &pem_len, &e) < 0) {
		err_printf("%s: %s", path, e.msg);
		return BB_EXIT_SYSTEM;
	}
	if (out_write(1, pem, pem_len) < 0) {
		err_printf("cannot write to stdout: %s", strerror(errno));
		return BB_EXIT_SYSTEM;
	}
	return BB_EXIT_OK;
}

int bottle_ca(int argc, char **argv)
{
	struct bb_err e = { 0 };
	char dir_buf[PATH_MAX];
	const char *dir = NULL, *name = NULL, *cmd;
	struct opt o;
	int c, rc, force = 0;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)d:(dir)n:(name)f(force)", usage, &rc)) != -1) {
		if (c == APPLET_OPT_EXIT)
			return rc;
		if (c == 'd')
			dir = o.arg;
		else if (c == 'n')
			name = o.arg;
		else if (c == 'f')
			force = 1;
	}
	if (o.ind >= argc)
		return applet_usage_error(usage, "missing command (init, show or path)");
	if (o.ind + 1 < argc)
		return applet_usage_error(usage, "unexpected argument '%s'", argv[o.ind + 1]);
	cmd = argv[o.ind];
	if (strcmp(cmd, "init") && strcmp(cmd, "show") && strcmp(cmd, "path"))
		return applet_usage_error(usage, "unknown command '%s' (init, show or path)", cmd);
	if (strcmp(cmd, "init") && (name || force))
		return applet_usage_error(usage, "--name and --force are for 'init' only");
	if (dir && !*dir)
		return applet_usage_error(usage, "--dir must not be empty");
	if (!dir) {
		if (ca_default_dir(dir_buf, sizeof dir_buf, &e) < 0) {
			err_printf("%s", e.msg);
			return BB_EXIT_SYSTEM;
		}
		dir = dir_buf;
	}
	if (!strcmp(cmd, "init")) {
		/* The default lives under $BB_HOME/.bb, which a fresh home may not have yet. */
		if (dir == dir_buf) {
			char *slash = strrchr(dir_buf, '/');

			*slash = 0;
			if (mkdir(dir_buf, 0700) < 0 && errno != EEXIST) {
				err_printf("cannot create directory %s: %s", dir_buf, strerror(errno));
				return BB_EXIT_SYSTEM;
			}
			*slash = '/';
		}
		return ca_init(dir, name, force);
	}
	if (!strcmp(cmd, "show"))
		return ca_show(dir);
	out_printf("%s/%s\n", dir, CA_CERT_FILE);
	return BB_EXIT_OK;
}
