/* vm.c - the vm backend: the agent in a KVM microVM (qemu -M microvm) whose PID 1 is bb, its sidecar on the host side as always. */
#include "vm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "buf.h"
#include "cpio.h"
#include "fd.h"
#include "kernel.h"
#include "plan.h"
#include "proc.h"
#include "vmconf.h"

/* The guest's modules: what the devices bb gives it need (their dependencies are found in each .modinfo). */
static const char *const wanted_modules[] = { "virtio_mmio", "virtio_net", "virtio_console", "9pnet_virtio", "9p",
					      "virtio_rng" };

#define VM_KMOD_MAX 64
#define VM_KO_MAX (16u << 20)

/* What prepare found, for run. */
struct vm_prep {
	char qemu[PATH_MAX];
	char kernel[PATH_MAX];     /* the bzImage (or ELF) the operator has */
	char modules[PATH_MAX];    /* its modules directory (lib/modules/VERSION) */
	char ko[VM_KMOD_MAX][PATH_MAX]; /* the modules to load, in order */
	size_t nko;
	int kvm;                   /* /dev/kvm is there: KVM, else TCG (BB_VM_ACCEL=tcg only) */
	unsigned kvm_gid;
	int kvm_own;               /* neither its group nor everyone may open it: the VMM gets a node of its own */
	long long ram;             /* the guest's memory, bytes */
	int cpus;
};

/* ---------- finding the kernel and its modules ---------- */

/* The newest of DIR/vmlinuz-* (by version order), into out. 0 when there is one. */
static int newest_vmlinuz(const char *dir, char *out, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[NAME_MAX + 1] = "";
	while (d && (de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, "vmlinuz-", 8) && (!best[0] || strverscmp(de->d_name, best) > 0))
			snprintf(best, sizeof best, "%s", de->d_name);
	if (d)
		closedir(d);
	if (!best[0] || (size_t)snprintf(out, cap, "%s/%s", dir, best) >= cap)
		return -1;
	return 0;
}

/*
 * The kernel: --kernel, else BB_VM_KERNEL, else the host's newest
 * /boot/vmlinuz-*, else the newest one scripts/setup.sh unpacked from
 * Debian's linux-image package (VM_KERNEL_CACHE/VERSION/boot).
 */
static int find_kernel(const char *given, char *out, size_t cap, struct bb_err *e)
{
	const char *env = getenv("BB_VM_KERNEL");
	DIR *d;
	struct dirent *de;
	char best[PATH_MAX] = "";
	if (given || (env && *env)) {
		if (!realpath(given ? given : env, out))
			return bb_errno(e, errno, "vm: kernel %s", given ? given : env);
		return 0;
	}
	if (newest_vmlinuz("/boot", out, cap) == 0)
		return 0;
	d = opendir(VM_KERNEL_CACHE);
	while (d && (de = readdir(d)) != NULL) {
		char dir[PATH_MAX], k[PATH_MAX];
		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof dir, VM_KERNEL_CACHE "/%s/boot", de->d_name);
		if (newest_vmlinuz(dir, k, sizeof k) == 0 && (!best[0] || strverscmp(strrchr(k, '/'), strrchr(best, '/')) > 0))
			snprintf(best, sizeof best, "%s", k);
	}
	if (d)
		closedir(d);
	if (!best[0])
		return bb_errf(e, BB_ELIB,
			       "vm: no kernel: none in /boot, none in " VM_KERNEL_CACHE " (scripts/setup.sh puts Debian's "
			       "there); name one with --kernel or BB_VM_KERNEL");
	snprintf(out, cap, "%s", best);
	return 0;
}

/* A module's name from its file name: "virtio-rng.ko.xz" -> "virtio_rng". */
static void module_name(const char *file, char *out, size_t cap)
{
	const char *base = strrchr(file, '/');
	size_t i;
	base = base ? base + 1 : file;
	for (i = 0; base[i] && base[i] != '.' && i + 1 < cap; i++)
		out[i] = base[i] == '-' ? '_' : base[i];
	out[i] = 0;
}

/* The modules directory's file for module name (modules.order), or "" when built in (modules.builtin). 0, -1 when neither. */
static int module_path(const char *mdir, const struct buf *order, const struct buf *builtin, const char *name, char *out,
		       size_t cap)
{
	const struct buf *lists[2] = { order, builtin };
	size_t k;
	for (k = 0; k < 2; k++) {
		const char *p = lists[k]->p, *end = p ? p + lists[k]->len : NULL;
		while (p && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			char line[PATH_MAX], got[128];
			if (len < sizeof line) {
				memcpy(line, p, len);
				line[len] = 0;
				module_name(line, got, sizeof got);
				if (!strcmp(got, name)) {
					if (k == 1)
						out[0] = 0;
					else if ((size_t)snprintf(out, cap, "%s/%s", mdir, line) >= cap)
						return -1;
					return 0;
				}
			}
			p += len + 1;
		}
	}
	return -1;
}

/* A module file's bytes (uncompressed: .ko as it is, .ko.xz through liblzma). */
static int read_module(const char *path, struct buf *out, struct bb_err *e)
{
	size_t n = strlen(path);
	if (n > 3 && !strcmp(path + n - 3, ".xz")) {
		struct buf z = BUF_INIT(VM_KO_MAX);
		struct kernel_image k = { 0 };
		int rc;
		if (fd_read_file(path, VM_KO_MAX, &z, e) < 0)
			return -1;
		k.payload_len = z.len;
		k.format = KERNEL_PAYLOAD_XZ;
		rc = kernel_unpack(z.p, z.len, &k, out, e);
		buf_free(&z);
		return rc < 0 ? bb_err_wrap(e, "%s", path) : 0;
	}
	if (n > 3 && !strcmp(path + n - 3, ".ko"))
		return fd_read_file(path, VM_KO_MAX, out, e);
	return bb_errf(e, BB_ENOTIMPL, "vm: %s: a module compressed some other way than xz", path);
}

/* Add name and what it depends on (first) to p->ko, each once. */
static int add_module(struct vm_prep *p, const struct buf *order, const struct buf *builtin, const char *name, int depth,
		      struct bb_err *e)
{
	char path[PATH_MAX], deps[1024], *d, *save = NULL;
	struct buf ko = BUF_INIT(VM_KO_MAX);
	size_t i;
	int rc;
	if (depth > 16)
		return bb_errf(e, BB_EINVAL, "vm: module dependencies nest deeper than 16 (at %s)", name);
	if (module_path(p->modules, order, builtin, name, path, sizeof path) < 0)
		return bb_errf(e, BB_ELIB, "vm: the kernel has no module %s (in %s/modules.order or modules.builtin)", name,
			       p->modules);
	if (!path[0])
		return 0; /* built in */
	for (i = 0; i < p->nko; i++)
		if (!strcmp(p->ko[i], path))
			return 0;
	if (read_module(path, &ko, e) < 0)
		return -1;
	rc = kernel_modinfo(ko.p, ko.len, "depends", deps, sizeof deps, e);
	buf_free(&ko);
	if (rc < 0)
		return bb_err_wrap(e, "vm: %s", path);
	for (d = rc ? strtok_r(deps, ",", &save) : NULL; d; d = strtok_r(NULL, ",", &save))
		if (*d && add_module(p, order, builtin, d, depth + 1, e) < 0)
			return -1;
	if (p->nko == VM_KMOD_MAX)
		return bb_errf(e, BB_ETOOBIG, "vm: more than %d modules", VM_KMOD_MAX);
	snprintf(p->ko[p->nko++], sizeof p->ko[0], "%s", path);
	return 0;
}

/*
 * The kernel's modules directory: next to an unpacked package
 * (ROOT/boot/vmlinuz-V -> ROOT/lib/modules/V), else the host's
 * /lib/modules/V; V from the kernel's own version string. BB_VM_MODULES
 * names it outright.
 */
static int find_modules(struct vm_prep *p, struct bb_err *e)
{
	const char *env = getenv("BB_VM_MODULES");
	struct buf img = BUF_INIT(KERNEL_ELF_MAX), order = BUF_INIT(4u << 20), builtin = BUF_INIT(4u << 20);
	struct kernel_image k;
	char root[PATH_MAX], *slash, f[PATH_MAX + 32];
	size_t i;
	int rc = -1;
	struct stat st;
	if (env && *env) {
		snprintf(p->modules, sizeof p->modules, "%s", env);
	} else {
		if (fd_read_file(p->kernel, KERNEL_ELF_MAX, &img, e) < 0 || kernel_image_parse(img.p, img.len, &k, e) < 0 ||
		    !k.version[0]) {
			bb_errf(e, BB_EINVAL, "vm: %s: cannot tell its version (%s); name its modules with BB_VM_MODULES",
				p->kernel, e->msg);
			goto out;
		}
		snprintf(root, sizeof root, "%s", p->kernel);
		slash = strrchr(root, '/');
		if (slash)
			*slash = 0;
		slash = strrchr(root, '/');
		if (slash && !strcmp(slash, "/boot"))
			*slash = 0;
		if ((size_t)snprintf(p->modules, sizeof p->modules, "%s/lib/modules/%s", root, k.version) >= sizeof p->modules ||
		    stat(p->modules, &st) < 0)
			snprintf(p->modules, sizeof p->modules, "/lib/modules/%s", k.version);
	}
	snprintf(f, sizeof f, "%s/modules.order", p->modules);
	if (fd_read_file(f, 4u << 20, &order, e) < 0) {
		bb_err_wrap(e, "vm: the kernel's modules");
		goto out;
	}
	snprintf(f, sizeof f, "%s/modules.builtin", p->modules);
	if (fd_read_file(f, 4u << 20, &builtin, NULL) < 0)
		buf_reset(&builtin);
	for (i = 0; i < sizeof wanted_modules / sizeof wanted_modules[0]; i++)
		if (add_module(p, &order, &builtin, wanted_modules[i], 0, e) < 0)
			goto out;
	rc = 0;
out:
	buf_free(&img);
	buf_free(&order);
	buf_free(&builtin);
	return rc;
}

/* ---------- the kernel to boot: the ELF inside the bzImage, unpacked once ---------- */

/*
 * A descriptor of what qemu boots: the ELF unpacked from the bzImage into
 * $BB_HOME/.bb/vm/vmlinux-SIZE-MTIME-INODE (made once; atomically) when it
 * has a PVH entry; else the bzImage itself (the guest unpacks it, slower).
 */
static int kernel_fd(const struct vm_prep *p, struct bb_err *e)
{
	const char *home = getenv("BB_HOME");
	struct buf img = BUF_INIT(KERNEL_ELF_MAX), elf = BUF_INIT(KERNEL_ELF_MAX);
	struct kernel_image k;
	struct stat st;
	char dir[PATH_MAX], cached[PATH_MAX + 96];
	int fd;
	if (!home || !*home)
		home = getenv("HOME");
	if (stat(p->kernel, &st) < 0)
		return bb_errno(e, errno, "vm: kernel %s", p->kernel);
	snprintf(dir, sizeof dir, "%s/.bb/vm", home ? home : "/");
	snprintf(cached, sizeof cached, "%s/vmlinux-%lld-%lld-%llu", dir, (long long)st.st_size, (long long)st.st_mtime,
		 (unsigned long long)st.st_ino);
	fd = open(cached, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (fd_read_file(p->kernel, KERNEL_ELF_MAX, &img, e) < 0)
		return -1;
	if (kernel_elf_has_pvh(img.p, img.len) || kernel_image_parse(img.p, img.len, &k, NULL) < 0 ||
	    kernel_unpack(img.p, img.len, &k, &elf, NULL) < 0 || !kernel_elf_has_pvh(elf.p, elf.len)) {
		/* Already an ELF, or nothing bb can unpack to one: boot the file as it is. */
		buf_free(&img);
		buf_free(&elf);
		fd = open(p->kernel, O_RDONLY | O_CLOEXEC);
		return fd < 0 ? bb_errno(e, errno, "vm: open %s", p->kernel) : fd;
	}
	buf_free(&img);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || fd_write_file_atomic(cached, elf.p, elf.len, 0644, e) < 0) {
		bb_err_wrap(e, "vm: cache the unpacked kernel in %s", dir);
		buf_free(&elf);
		return -1;
	}
	buf_free(&elf);
	fd = open(cached, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? bb_errno(e, errno, "vm: open %s", cached) : fd;
}

/* ---------- the initramfs: bb as PID 1, its configuration, the modules ---------- */

static int initramfs_fd(const struct bk_run *r, const struct vm_prep *p, struct bb_err *e)
{
	const struct rt_config *c = r->c;
	struct buf cpio = BUF_INIT(256u << 20), f = BUF_INIT(128u << 20), js = BUF_INIT(VMCONF_MAX);
	struct vm_conf vc;
	static const char resolv[] = RT_AGENT_RESOLV;
	unsigned ino = 1;
	size_t i;
	int fd = -1;
	memset(&vc, 0, sizeof vc);
	vc.argv = (char **)c->argv;
	vc.env = c->agent_env;
	vc.uid = c->uid;
	vc.gid = c->gid;
	snprintf(vc.workspace, sizeof vc.workspace, "%s", rt_agent_workdir(c));
	snprintf(vc.address, sizeof vc.address, RT_AGENT_ADDR);
	vc.prefix = RT_PREFIX;
	snprintf(vc.gateway, sizeof vc.gateway, RT_SIDECAR_ADDR);
	vc.grace_ms = VM_GUEST_GRACE_MS;
	if (cpio_add(&cpio, ino++, "bb.d", 040700, NULL, 0, e) < 0 || cpio_add(&cpio, ino++, "bb.d/modules", 040700, NULL, 0, e) < 0 ||
	    cpio_add(&cpio, ino++, "dev", 040755, NULL, 0, e) < 0 || cpio_add(&cpio, ino++, "proc", 040555, NULL, 0, e) < 0 ||
	    cpio_add(&cpio, ino++, "sys", 040555, NULL, 0, e) < 0)
		goto out;
	if (fd_read_file(c->bb_path, 128u << 20, &f, e) < 0 || cpio_add(&cpio, ino++, "bb", 0100755, f.p, f.len, e) < 0)
		goto out;
	buf_reset(&f);
	if (vm_conf_write(&vc, &js, e) < 0 || cpio_add(&cpio, ino++, &VMCONF_PATH[1], 0100600, js.p, js.len, e) < 0)
		goto out;
	if (rt_agent_ca_bundle(c, &f, e) < 0 || cpio_add(&cpio, ino++, &VMCONF_BUNDLE[1], 0100644, f.p, f.len, e) < 0 ||
	    cpio_add(&cpio, ino++, &VMCONF_RESOLV[1], 0100644, resolv, sizeof resolv - 1, e) < 0)
		goto out;
	for (i = 0; i < p->nko; i++) {
		char name[CPIO_NAME_MAX], mod[128];
		buf_reset(&f);
		module_name(p->ko[i], mod, sizeof mod);
		snprintf(name, sizeof name, "%s/%02zu-%s.ko", &VMCONF_MODULES[1], i, mod);
		if (read_module(p->ko[i], &f, e) < 0 || cpio_add(&cpio, ino++, name, 0100600, f.p, f.len, e) < 0)
			goto out;
	}
	if (cpio_end(&cpio, ino, e) < 0)
		goto out;
	fd = memfd_create("bb-initramfs", MFD_CLOEXEC);
	if (fd < 0 || fd_write_all(fd, cpio.p, cpio.len) < 0) {
		bb_errno(e, errno, "vm: the initramfs");
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
out:
	if (js.p)
		explicit_bzero(js.p, js.len);
	buf_free(&js);
	buf_free(&f);
	buf_free(&cpio);
	if (fd < 0)
		bb_err_wrap(e, "vm: the initramfs");
	return fd;
}

/* ---------- the running VM: its streams, its control line, its console ---------- */

#define VM_TAIL 2048

/* The host's ends of the VM's streams while it runs. */
struct vm_live {
	int ctl, in, out, err, con;
	int console_log;              /* STATE/console.log: the guest kernel's messages */
	char tail[VM_TAIL];           /* the console's last bytes, for an error */
	size_t tail_len;
	char line[256];               /* the control line being read */
	size_t line_len;
	int exit_code, have_exit;
	char guest_error[300];        /* "error STEP: why" from the guest's PID 1 */
	volatile sig_atomic_t stop;   /* set by vm_stop (a signal handler) */
};

static struct vm_live *volatile live_vm;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void console_bytes(struct vm_live *l, const char *p, size_t n)
{
	if (l->console_log >= 0)
		(void)!fd_write_all(l->console_log, p, n);
	if (n >= VM_TAIL) {
		memcpy(l->tail, p + n - VM_TAIL, VM_TAIL);
		l->tail_len = VM_TAIL;
		return;
	}
	if (l->tail_len + n > VM_TAIL) {
		size_t drop = l->tail_len + n - VM_TAIL;
		memmove(l->tail, l->tail + drop, l->tail_len - drop);
		l->tail_len -= drop;
	}
	memcpy(l->tail + l->tail_len, p, n);
	l->tail_len += n;
}

/* The guest's control line: "exit N" (the agent's status) or "error STEP: why" (the guest could not set up). */
static void ctl_bytes(struct vm_live *l, const char *p, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (l->line_len + 1 < sizeof l->line)
				l->line[l->line_len++] = p[i];
			continue;
		}
		l->line[l->line_len] = 0;
		if (!strncmp(l->line, "exit ", 5)) {
			char *end;
			long v = strtol(l->line + 5, &end, 10);
			if (!*end && v >= 0 && v <= 255) {
				l->exit_code = (int)v;
				l->have_exit = 1;
			}
		} else if (!strncmp(l->line, "error ", 6) && !l->guest_error[0]) {
			size_t k;
			snprintf(l->guest_error, sizeof l->guest_error, "%s", l->line + 6);
			for (k = 0; l->guest_error[k]; k++) /* the guest's words reach a terminal: no control bytes */
				if ((unsigned char)l->guest_error[k] < 0x20 || l->guest_error[k] == 0x7f)
					l->guest_error[k] = '?';
		}
		l->line_len = 0;
	}
}

/* The console's last line that says something, control bytes replaced, into out. */
static void console_last(const struct vm_live *l, char *out, size_t cap)
{
	size_t end = l->tail_len, start, i, o = 0;
	while (end && (l->tail[end - 1] == '\n' || l->tail[end - 1] == '\r'))
		end--;
	for (start = end; start && l->tail[start - 1] != '\n'; start--)
		;
	for (i = start; i < end && o + 1 < cap; i++)
		out[o++] = (unsigned char)l->tail[i] < 0x20 || l->tail[i] == 0x7f ? '?' : l->tail[i];
	out[o] = 0;
}

/* Read what is readable on *fd into eat (the control line, the console); at its end or on an error, close it (-1). */
static void take(struct vm_live *l, int *fd, void (*eat)(struct vm_live *, const char *, size_t))
{
	char b[4096];
	ssize_t n = read(*fd, b, sizeof b);
	if (n > 0) {
		eat(l, b, (size_t)n);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

/* Copy what is readable on from to fd to (the host's stdout/stderr); 0 at the stream's end. */
static int relay(int from, int to)
{
	char b[65536];
	ssize_t n = read(from, b, sizeof b);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n > 0)
		(void)!fd_write_all(to, b, (size_t)n);
	return n > 0;
}

static int vm_serve(struct rt_vmm *v, pid_t vmm, int *exit_code, struct bb_err *e)
{
	struct vm_live *l = v->arg;
	char inb[65536];
	size_t in_len = 0, in_off = 0, i;
	int in_open = fcntl(0, F_GETFD) >= 0, st = 0, done = 0, killed = 0;
	long long stop_at = 0, grace = VM_STOP_GRACE_MS;
	const char *env = getenv("BB_VM_STOP_GRACE_MS");
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;

	if (env && *env)
		grace = strtoll(env, NULL, 10);
	for (i = 0; i < v->nfds; i++) { /* the VMM has them now: ours would keep its streams from ever ending */
		close(v->fds[i]);
		v->fds[i] = -1;
	}
	v->nfds = 0;
	fcntl(l->in, F_SETFL, O_NONBLOCK);
	sigaction(SIGPIPE, &ign, &old); /* a closed stdout on the host (| head) must not kill bb before it tears down */
	while (!done) {
		struct pollfd p[6];
		int np = 0, ix_stdin = -1, ix_in = -1, ix_out = -1, ix_err = -1, ix_ctl = -1, ix_con = -1;
		long long now = now_ms();
		pid_t w;
		if (l->stop && !stop_at)
			stop_at = now + grace;
		if (stop_at && now >= stop_at && !killed) { /* a guest that ignores the stop: the VMM goes */
			kill(vmm, SIGKILL);
			killed = 1;
		}
		if (in_open && in_len == 0)
			p[ix_stdin = np++] = (struct pollfd){ .fd = 0, .events = POLLIN };
		if (l->in >= 0 && in_len)
			p[ix_in = np++] = (struct pollfd){ .fd = l->in, .events = POLLOUT };
		if (l->out >= 0)
			p[ix_out = np++] = (struct pollfd){ .fd = l->out, .events = POLLIN };
		if (l->err >= 0)
			p[ix_err = np++] = (struct pollfd){ .fd = l->err, .events = POLLIN };
		if (l->ctl >= 0)
			p[ix_ctl = np++] = (struct pollfd){ .fd = l->ctl, .events = POLLIN };
		if (l->con >= 0)
			p[ix_con = np++] = (struct pollfd){ .fd = l->con, .events = POLLIN };
		if (poll(p, (nfds_t)np, 50) < 0 && errno != EINTR) {
			bb_errno(e, errno, "vm: poll");
			break;
		}
		if (ix_stdin >= 0 && p[ix_stdin].revents) {
			ssize_t n = read(0, inb, sizeof inb);
			if (n > 0) {
				in_len = (size_t)n;
				in_off = 0;
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				in_open = 0;
				if (l->in >= 0)
					shutdown(l->in, SHUT_WR); /* the agent reads the end of its stdin */
			}
		}
		if (ix_in >= 0 && p[ix_in].revents) {
			ssize_t n = write(l->in, inb + in_off, in_len - in_off);
			if (n > 0) {
				in_off += (size_t)n;
				if (in_off == in_len)
					in_len = in_off = 0;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				in_open = 0;
				in_len = 0;
				close(l->in);
				l->in = -1;
			}
		}
		if (ix_out >= 0 && p[ix_out].revents && !relay(l->out, 1)) {
			close(l->out);
			l->out = -1;
		}
		if (ix_err >= 0 && p[ix_err].revents && !relay(l->err, 2)) {
			close(l->err);
			l->err = -1;
		}
		if (ix_ctl >= 0 && p[ix_ctl].revents)
			take(l, &l->ctl, ctl_bytes);
		if (ix_con >= 0 && p[ix_con].revents)
			take(l, &l->con, console_bytes);
		/* Over when the VMM is gone and its streams are drained (they end when it does). */
		w = waitpid(vmm, &st, WNOHANG);
		if (w == vmm) {
			while (l->out >= 0 && relay(l->out, 1))
				;
			while (l->err >= 0 && relay(l->err, 2))
				;
			while (l->ctl >= 0) {
				char b[512];
				ssize_t n = read(l->ctl, b, sizeof b);
				if (n <= 0)
					break;
				ctl_bytes(l, b, (size_t)n);
			}
			done = 1;
		} else if (w < 0 && errno != EINTR) {
			bb_errno(e, errno, "vm: wait for the VMM");
			break;
		}
	}
	sigaction(SIGPIPE, &old, NULL);
	if (!done)
		return -1;
	if (l->have_exit) {
		*exit_code = l->exit_code;
		return 0;
	}
	if (killed) {
		*exit_code = 128 + SIGKILL; /* stopped, and the guest did not end within the grace period */
		return 0;
	}
	if (l->guest_error[0])
		return bb_errf(e, BB_ELIB, "vm: the guest: %s", l->guest_error);
	{
		char last[200];
		console_last(l, last, sizeof last);
		return bb_errf(e, BB_ELIB, "vm: the VM ended (VMM status %d) before its agent did; its console said: %s",
			       proc_exit_code(st), last[0] ? last : "(nothing)");
	}
}

/* ---------- the VMM's command ---------- */

/* The host's TSC rate in kHz (/proc/cpuinfo), for an emulated guest that cannot measure it; 0 when unknown. */
static long tsc_khz(void)
{
	struct buf b = BUF_INIT(1u << 20);
	const char *p;
	long khz = 0;
	if (fd_read_file("/proc/cpuinfo", 1u << 20, &b, NULL) == 0 && (p = strstr(b.p, "cpu MHz")) && (p = strchr(p, ':')))
		khz = (long)(strtod(p + 1, NULL) * 1000);
	buf_free(&b);
	return khz;
}

/* The words of the qemu command, kept for its life. */
struct vm_cmd {
	char *argv[80];
	size_t argc;
	char machine[160], smp[16], mem[32], append[1024], tsc[128], net[96];
};

static void arg(struct vm_cmd *q, const char *s)
{
	if (q->argc + 1 < sizeof q->argv / sizeof q->argv[0])
		q->argv[q->argc++] = (char *)s;
	q->argv[q->argc] = NULL;
}

/* A host directory as a 9p share the guest mounts by tag (extra: ",readonly=on" or ""). */
#define SHARE_9P(q, id, path, extra, tag)                                                                   \
	do {                                                                                                \
		arg(q, "-fsdev");                                                                           \
		arg(q, "local,id=" id ",path=" path ",security_model=none" extra ",multidevs=remap");      \
		arg(q, "-device");                                                                          \
		arg(q, "virtio-9p-device,fsdev=" id ",mount_tag=" tag);                                     \
	} while (0)

/* An inherited socket (fd) as the virtio-serial port the guest finds by name. */
#define SERIAL_PORT(q, id, fd, name)                                                                        \
	do {                                                                                                \
		arg(q, "-chardev");                                                                         \
		arg(q, "socket,id=" id ",fd=" #fd);                                                         \
		arg(q, "-device");                                                                          \
		arg(q, "virtserialport,chardev=" id ",name=" name);                                         \
	} while (0)

/*
 * qemu's microvm: no firmware tables beyond what it needs, no PCI, no
 * monitor, no QMP, no display, no default device; the devices listed here
 * and nothing else, every host resource an inherited descriptor
 * (RT_VMM_FD_FIRST on: the tap, then ctl, stdin, stdout, stderr, console,
 * kernel, initramfs); qemu's own seccomp sandbox on top of bb's filter.
 */
static void qemu_command(const struct vm_prep *p, struct vm_cmd *q)
{
	long khz;
	memset(q, 0, sizeof *q);
	arg(q, p->qemu);
	arg(q, "-nodefaults");
	arg(q, "-no-user-config");
	arg(q, "-display");
	arg(q, "none");
	arg(q, "-monitor");
	arg(q, "none");
	arg(q, "-no-reboot");
	snprintf(q->machine, sizeof q->machine, "microvm,accel=%s,isa-serial=on%s", p->kvm ? "kvm" : "tcg",
		 p->kvm ? ",pit=off,pic=off,rtc=off" : "");
	arg(q, "-M");
	arg(q, q->machine);
	arg(q, "-cpu");
	arg(q, p->kvm ? "host" : "max");
	snprintf(q->smp, sizeof q->smp, "%d", p->cpus);
	arg(q, "-smp");
	arg(q, q->smp);
	snprintf(q->mem, sizeof q->mem, "%lldM", p->ram >> 20);
	arg(q, "-m");
	arg(q, q->mem);
	arg(q, "-kernel");
	arg(q, "/proc/self/fd/9");
	arg(q, "-initrd");
	arg(q, "/proc/self/fd/10");
	/* Emulated, the guest has no clock it can calibrate the TSC against: it is told the host's rate. */
	khz = p->kvm ? 0 : tsc_khz();
	if (khz)
		snprintf(q->tsc, sizeof q->tsc, " tsc=reliable clocksource=tsc no_timer_check tsc_early_khz=%ld", khz);
	snprintf(q->append, sizeof q->append,
		 "console=ttyS0 loglevel=3 panic=-1 reboot=t pci=off random.trust_cpu=on rdinit=/bb%s -- init --vm " VMCONF_PATH,
		 q->tsc);
	arg(q, "-append");
	arg(q, q->append);
	arg(q, "-chardev");
	arg(q, "socket,id=con,fd=8");
	arg(q, "-serial");
	arg(q, "chardev:con");
	snprintf(q->net, sizeof q->net, "tap,id=net,fd=%d,vhost=off", RT_VMM_FD_FIRST);
	arg(q, "-netdev");
	arg(q, q->net);
	arg(q, "-device");
	arg(q, "virtio-net-device,netdev=net,mac=52:54:00:bb:00:02");
	SHARE_9P(q, "root", RT_VMM_EXPORT, ",readonly=on", VMCONF_TAG_ROOT);
	SHARE_9P(q, "ws", RT_VMM_WORKSPACE, "", VMCONF_TAG_WS);
	SHARE_9P(q, "home", RT_VMM_HOME, "", VMCONF_TAG_HOME);
	arg(q, "-device");
	arg(q, "virtio-serial-device,max_ports=8");
	SERIAL_PORT(q, "ctl", 4, VMCONF_PORT_CTL);
	SERIAL_PORT(q, "in", 5, VMCONF_PORT_STDIN);
	SERIAL_PORT(q, "out", 6, VMCONF_PORT_STDOUT);
	SERIAL_PORT(q, "err", 7, VMCONF_PORT_STDERR);
	arg(q, "-object");
	arg(q, "rng-random,id=rng,filename=/dev/urandom");
	arg(q, "-device");
	arg(q, "virtio-rng-device,rng=rng");
	arg(q, "-sandbox");
	arg(q, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
}

/* ---------- the backend table's entry (host/backend.h) ---------- */

/* The qemu to run: BB_VM_QEMU, else qemu-system-x86_64 found in PATH. */
static int find_qemu(char *out, size_t cap, struct bb_err *e)
{
	const char *env = getenv("BB_VM_QEMU"), *path = getenv("PATH"), *p;
	if (env && *env) {
		if (env[0] != '/' || access(env, X_OK) < 0)
			return bb_errf(e, BB_EINVAL, "vm: BB_VM_QEMU=%s: want the absolute path of a qemu-system binary", env);
		snprintf(out, cap, "%s", env);
		return 0;
	}
	for (p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
		size_t l = strcspn(p, ":");
		if (l && (size_t)snprintf(out, cap, "%.*s/qemu-system-x86_64", (int)l, p) < cap && access(out, X_OK) == 0)
			return 0;
		p += l + (p[l] == ':');
	}
	return bb_errf(e, BB_ELIB, "vm: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)");
}

/*
 * Does the CPU offer hardware virtualization (a "vmx" or "svm" flag)? A
 * host can have /dev/kvm without it (PVM, the kernel's kvm_pvm: a nested
 * KVM on page tables), run a vCPU to its first HLT, and still hang a stock
 * Linux guest at boot, silently: that is refused, not waited for.
 */
static int cpu_virtualizes(void)
{
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "re");
	int yes = 0;
	if (!f)
		return 1; /* no way to tell: let qemu try */
	while (!yes && fgets(line, sizeof line, f))
		if (!strncmp(line, "flags", 5))
			yes = strstr(line, " vmx") || strstr(line, " svm");
	fclose(f);
	return yes;
}

static int vm_prepare(struct bk_run *r, struct bb_err *e)
{
	struct vm_prep *p;
	const char *accel = getenv("BB_VM_ACCEL"), *cpus = getenv("BB_VM_CPUS");
	struct stat st;
	long n;
	if (getauxval(AT_BASE))
		return bb_errf(e, BB_ELIB, "vm: this bb is dynamically linked (a sanitizer build): the guest's PID 1 is bb alone");
	p = calloc(1, sizeof *p);
	if (!p)
		return bb_errno(e, ENOMEM, "vm");
	r->priv = p;
	if (find_qemu(p->qemu, sizeof p->qemu, e) < 0)
		return -1;
	if (accel && *accel && strcmp(accel, "kvm") && strcmp(accel, "tcg"))
		return bb_errf(e, BB_EINVAL, "vm: BB_VM_ACCEL=%s: want kvm or tcg", accel);
	if (accel && !strcmp(accel, "tcg")) {
		p->kvm = 0; /* emulated: the same isolation, much slower (hosts without /dev/kvm, tests) */
	} else {
		int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return bb_errno(e, errno,
					"vm: /dev/kvm (the VM needs KVM; BB_VM_ACCEL=tcg runs it emulated, many times slower)");
		close(fd);
		if (!cpu_virtualizes())
			return bb_errf(e, BB_ELIB,
				       "vm: /dev/kvm is there, but the CPU shows no hardware virtualization (no vmx or svm in "
				       "/proc/cpuinfo: a KVM without it, such as PVM, boots only guest kernels built for it, and "
				       "Debian's hangs). BB_VM_ACCEL=tcg runs the guest emulated, many times slower");
		p->kvm = 1;
		if (stat("/dev/kvm", &st) == 0 && (st.st_mode & 06) != 06) {
			if ((st.st_mode & 060) == 060)
				p->kvm_gid = st.st_gid; /* not open to all: the VMM gets its group */
			else
				p->kvm_own = 1; /* root's alone (0600): a node of its own in the VMM's /dev */
		}
	}
	if (find_kernel(r->kernel, p->kernel, sizeof p->kernel, e) < 0 || find_modules(p, e) < 0)
		return -1;
	if (r->kernel) { /* resolved: a resume boots the same file from anywhere */
		static char resolved[PATH_MAX];
		snprintf(resolved, sizeof resolved, "%s", p->kernel);
		r->kernel = resolved;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	p->cpus = cpus && *cpus ? (int)strtol(cpus, NULL, 10) : n > 4 ? 4 : n > 0 ? (int)n : 1;
	if (p->cpus < 1 || p->cpus > 64)
		return bb_errf(e, BB_EINVAL, "vm: BB_VM_CPUS=%s: want 1 to 64", cpus ? cpus : "?");
	return 0;
}

static int vm_backend_run(struct bk_run *r, int *exit_code, struct bb_err *e)
{
	struct vm_prep *p = r->priv;
	struct vm_live l = { .ctl = -1, .in = -1, .out = -1, .err = -1, .con = -1, .console_log = -1 };
	struct rt_vmm v;
	struct vm_cmd q;
	struct rt_config c = *r->c;
	char *env[] = { "PATH=/usr/bin:/bin", NULL }, path[PATH_MAX + 32];
	int pairs[5][2], kfd = -1, ifd = -1, rc = -1;
	long long mem;
	long pids;
	size_t i;

	memset(&v, 0, sizeof v);
	memset(pairs, -1, sizeof pairs);
	if (rt_agent_limits(&c, &mem, &pids, e) < 0)
		goto out;
	p->ram = mem > 0 ? mem : VM_RAM_DEFAULT;
	if (p->ram < (128LL << 20)) {
		bb_errf(e, BB_EINVAL, "vm: %lld MiB is too little memory for a guest (128 MiB at least)", p->ram >> 20);
		goto out;
	}
	if ((kfd = kernel_fd(p, e)) < 0 || (ifd = initramfs_fd(r, p, e)) < 0)
		goto out;
	for (i = 0; i < 5; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs[i]) < 0) {
			bb_errno(e, errno, "vm: socketpair");
			goto out;
		}
	l.ctl = pairs[0][0];
	l.in = pairs[1][0];
	l.out = pairs[2][0];
	l.err = pairs[3][0];
	l.con = pairs[4][0];
	snprintf(path, sizeof path, "%s/console.log", c.state_dir);
	l.console_log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	qemu_command(p, &q);
	v.argv = q.argv;
	v.env = env;
	for (i = 0; i < 5; i++)
		v.fds[v.nfds++] = pairs[i][1]; /* at 4..8: ctl, stdin, stdout, stderr, console */
	v.fds[v.nfds++] = kfd;               /* 9 */
	v.fds[v.nfds++] = ifd;               /* 10 */
	v.kvm = p->kvm;
	v.kvm_gid = p->kvm_gid;
	v.kvm_own = p->kvm_own;
	v.memory_max = p->ram + VM_VMM_OVERHEAD;
	v.serve = vm_serve;
	v.arg = &l;
	c.vmm = &v;
	live_vm = &l;
	rc = rt_run(&c, exit_code, e);
	live_vm = NULL;
	for (i = 0; i < v.nfds; i++) /* left when the run stopped before the VMM got them */
		close(v.fds[i]);
	kfd = ifd = -1;
	for (i = 0; i < 5; i++)
		pairs[i][1] = -1;
out:
	for (i = 0; i < 5; i++) {
		if (pairs[i][1] >= 0)
			close(pairs[i][1]);
	}
	fd_close(l.ctl);
	fd_close(l.in);
	fd_close(l.out);
	fd_close(l.err);
	fd_close(l.con);
	fd_close(l.console_log);
	fd_close(kfd);
	fd_close(ifd);
	free(p);
	r->priv = NULL;
	return rc;
}

/* From the session's signal handler: ask the guest to stop its agent (its PID 1 forwards SIGTERM); the grace runs in vm_serve. */
static void vm_stop(struct bk_run *r)
{
	struct vm_live *l = live_vm;
	(void)r;
	if (!l)
		return;
	l->stop = 1;
	if (l->ctl >= 0)
		(void)!write(l->ctl, "stop\n", 5);
}

static void vm_inspect(const struct bk_bottle *b, bk_line_fn line, void *arg)
{
	char text[PATH_MAX + 64];
	snprintf(text, sizeof text, "%s/console.log (the guest kernel's messages)", b->state_dir);
	line(arg, "console", text);
}

const struct backend backend_vm = {
	.name = "vm",
	.isolates = "a KVM microVM (qemu -M microvm, the operator's kernel) whose PID 1 is bb; the VMM itself confined as the "
		    "embedded runtime's agent",
	.flags = BK_ROOT | BK_IMAGE,
	.prepare = vm_prepare,
	.run = vm_backend_run,
	.stop = vm_stop,
	.inspect = vm_inspect,
};
