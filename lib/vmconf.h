/* vmconf.h - what the vm backend tells its guest's PID 1 (a JSON file in the initramfs), and the names both sides use. */
#ifndef BB_VMCONF_H
#define BB_VMCONF_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/*
 * The guest boots from an initramfs bb writes for each bottle: bb itself
 * as /bb (rdinit, run as `bb init --vm VMCONF_PATH`), this file, the CA
 * bundle and resolv.conf for /run/bb, and the kernel modules to load, in
 * order, under VMCONF_MODULES. The host and the guest talk over virtio
 * serial ports named VMCONF_PORT_*: the agent's three streams, and a
 * control line (host: "stop\n"; guest: "exit N\n" when the agent ended).
 * The filesystems come as 9p exports tagged VMCONF_TAG_*.
 */

#define VMCONF_PATH "/bb.d/vm.json"
#define VMCONF_BUNDLE "/bb.d/ca-bundle.crt"
#define VMCONF_RESOLV "/bb.d/resolv.conf"
#define VMCONF_MODULES "/bb.d/modules" /* NN-name.ko, loaded in name order */
#define VMCONF_PORT_CTL "bb.ctl"
#define VMCONF_PORT_STDIN "bb.stdin"
#define VMCONF_PORT_STDOUT "bb.stdout"
#define VMCONF_PORT_STDERR "bb.stderr"
#define VMCONF_TAG_ROOT "bbroot"   /* the agent's root, read-only (staged on the host: homes and state hidden) */
#define VMCONF_TAG_WS "bbws"       /* the workspace, read-write */
#define VMCONF_TAG_HOME "bbhome"   /* the agent's home (STATE/home), read-write */
#define VMCONF_MAX (1u << 20)
#define VMCONF_ARGS_MAX 256        /* argv words and env entries, each */

struct vm_conf {
	char **argv;      /* the agent's command, NULL-terminated */
	char **env;       /* its environment, NULL-terminated */
	uid_t uid;        /* the agent runs as uid:gid (0: the guest's root, never used by the backend) */
	gid_t gid;
	char workspace[4096]; /* where the workspace export is mounted (and the agent starts) */
	char address[16];     /* the guest's IPv4 address on eth0 */
	unsigned prefix;
	char gateway[16];     /* the sidecar: default route and DNS */
	unsigned long long grace_ms; /* SIGTERM to SIGKILL inside the guest */
};

/*
 * The JSON for c into out:
 * {"argv":[...],"env":[...],"uid":N,"gid":N,"workspace":"/p",
 *  "address":"10.231.0.2","prefix":24,"gateway":"10.231.0.1","grace_ms":N}.
 * 0, or -1 with e (the buffer's cap).
 */
int vm_conf_write(const struct vm_conf *c, struct buf *out, struct bb_err *e);

/*
 * Parse what vm_conf_write made into c (its argv and env allocated: free
 * with vm_conf_free). Every key is required and checked: argv not empty,
 * at most VMCONF_ARGS_MAX words and entries, no NUL in a string, an
 * absolute workspace, IPv4 addresses, a prefix 1-30. Pure. 0, or -1 with
 * e naming the key.
 */
int vm_conf_parse(const char *json, size_t len, struct vm_conf *c, struct bb_err *e);
void vm_conf_free(struct vm_conf *c);

#endif
