/* tar.c - ustar writer (pax names when they do not fit) and a checksum-verifying, capped streaming reader. */
#include "tar.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fd.h"

/* ---------- writer ---------- */

void tar_writer_init(struct tar_writer *w, int fd, tar_tap_fn tap, void *tap_arg)
{
	w->fd = fd;
	w->written = 0;
	w->tap = tap;
	w->tap_arg = tap_arg;
}

static int w_out(struct tar_writer *w, const void *p, size_t n, struct bb_err *e)
{
	if (w->tap && w->tap(p, n, w->tap_arg))
		return bb_errf(e, BB_ELIB, "tar: writing was stopped by the tap");
	if (fd_write_all(w->fd, p, n) < 0)
		return bb_errno(e, errno, "tar: write");
	w->written += n;
	return 0;
}

static int w_pad(struct tar_writer *w, uint64_t size, struct bb_err *e)
{
	static const char zero[TAR_BLOCK];
	size_t pad = (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);

	return pad ? w_out(w, zero, pad, e) : 0;
}

/* An octal field of len bytes (len-1 digits and a NUL); base-256 when the value does not fit. */
static void put_num(char *f, size_t len, uint64_t v)
{
	uint64_t lim = (uint64_t)1 << (3 * (len - 1));

	if (v < lim) {
		size_t i = len - 1;

		f[i] = '\0';
		while (i-- > 0) {
			f[i] = (char)('0' + (v & 7));
			v >>= 3;
		}
		return;
	}
	memset(f, 0, len);
	for (size_t i = len; i-- > 1 && v; v >>= 8)
		f[i] = (char)(v & 0xff);
	f[0] = (char)0x80;
}

/* A pax record "LEN key=value\n" appended to rec (cap bytes at *at); LEN counts the whole record. */
static int pax_record(char *rec, size_t cap, size_t *at, const char *key, const char *val, struct bb_err *e)
{
	size_t body = 1 + strlen(key) + 1 + strlen(val) + 1; /* ' ' key '=' val '\n' */
	size_t len = body + 1, digits;
	int n;

	for (;;) { /* the length counts its own digits */
		char tmp[24];

		digits = (size_t)snprintf(tmp, sizeof tmp, "%zu", len);
		if (body + digits == len)
			break;
		len = body + digits;
	}
	if (*at + len >= cap)
		return bb_errf(e, BB_ETOOBIG, "tar: pax header for %.80s is too long", val);
	n = snprintf(rec + *at, cap - *at, "%zu %s=%s\n", len, key, val);
	if (n < 0 || (size_t)n != len)
		return bb_errf(e, BB_ELIB, "tar: pax record");
	*at += len;
	return 0;
}

static int w_header(struct tar_writer *w, const char *path, char type, const char *link, const struct tar_meta *m,
		    uint64_t size, struct bb_err *e)
{
	char h[TAR_BLOCK], pax[2 * (TAR_PATH_MAX + 32)];
	size_t plen = strlen(path), llen = link ? strlen(link) : 0, paxlen = 0;
	unsigned sum = 0;

	if (!plen || plen > TAR_PATH_MAX || llen > TAR_PATH_MAX)
		return bb_errf(e, BB_EINVAL, "tar: member path '%.80s' is empty or longer than %d bytes", path,
			       TAR_PATH_MAX);
	if (plen > 100 && pax_record(pax, sizeof pax, &paxlen, "path", path, e) < 0)
		return -1;
	if (llen > 100 && pax_record(pax, sizeof pax, &paxlen, "linkpath", link, e) < 0)
		return -1;
	if (paxlen) {
		struct tar_meta pm = { 0644, 0, 0, m->mtime };
		char pname[101];

		snprintf(pname, sizeof pname, "PaxHeaders/%.80s", path);
		if (w_header(w, pname, 'x', NULL, &pm, paxlen, e) < 0 || w_out(w, pax, paxlen, e) < 0 ||
		    w_pad(w, paxlen, e) < 0)
			return -1;
	}
	memset(h, 0, sizeof h);
	memcpy(h, path, plen > 100 ? 100 : plen);
	put_num(h + 100, 8, m->mode & 07777);
	put_num(h + 108, 8, m->uid);
	put_num(h + 116, 8, m->gid);
	put_num(h + 124, 12, size);
	put_num(h + 136, 12, m->mtime < 0 ? 0 : (uint64_t)m->mtime);
	h[156] = type;
	if (link)
		memcpy(h + 157, link, llen > 100 ? 100 : llen);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof h; i++)
		sum += (unsigned char)h[i];
	put_num(h + 148, 7, sum);
	h[155] = ' ';
	return w_out(w, h, sizeof h, e);
}

int tar_add_file_mem(struct tar_writer *w, const char *path, const struct tar_meta *m, const void *data, size_t n,
		     struct bb_err *e)
{
	if (w_header(w, path, '0', NULL, m, n, e) < 0)
		return -1;
	if (n && w_out(w, data, n, e) < 0)
		return -1;
	return w_pad(w, n, e);
}

int tar_add_file_fd(struct tar_writer *w, const char *path, const struct tar_meta *m, int fd, uint64_t size,
		    struct bb_err *e)
{
	char chunk[65536];
	uint64_t left = size;

	if (w_header(w, path, '0', NULL, m, size, e) < 0)
		return -1;
	while (left) {
		size_t want = left < sizeof chunk ? (size_t)left : sizeof chunk;
		ssize_t got = fd_read_full(fd, chunk, want);

		if (got < 0)
			return bb_errno(e, errno, "tar: reading %.200s", path);
		if ((size_t)got != want)
			return bb_errf(e, BB_EINVAL, "tar: %.200s: the file is shorter than %llu bytes", path,
				       (unsigned long long)size);
		if (w_out(w, chunk, want, e) < 0)
			return -1;
		left -= want;
	}
	return w_pad(w, size, e);
}

int tar_add_dir(struct tar_writer *w, const char *path, const struct tar_meta *m, struct bb_err *e)
{
	char name[TAR_PATH_MAX + 2];
	size_t n = strlen(path);

	if (n + 2 > sizeof name)
		return bb_errf(e, BB_EINVAL, "tar: directory path '%.80s' is longer than %d bytes", path, TAR_PATH_MAX);
	memcpy(name, path, n);
	if (!n || name[n - 1] != '/')
		name[n++] = '/';
	name[n] = '\0';
	return w_header(w, name, '5', NULL, m, 0, e);
}

int tar_add_symlink(struct tar_writer *w, const char *path, const char *target, const struct tar_meta *m,
		    struct bb_err *e)
{
	struct tar_meta lm = *m;

	if (!*target)
		return bb_errf(e, BB_EINVAL, "tar: symlink '%.80s' has an empty target", path);
	lm.mode = 0777;
	return w_header(w, path, '2', target, &lm, 0, e);
}

int tar_finish(struct tar_writer *w, struct bb_err *e)
{
	static const char zero[2 * TAR_BLOCK];

	return w_out(w, zero, sizeof zero, e);
}

/* ---------- reader ---------- */

void tar_reader_init(struct tar_reader *r, tar_read_fn read, void *arg)
{
	memset(r, 0, sizeof *r);
	r->read = read;
	r->arg = arg;
}

/* Exactly n bytes; 1 done, 0 clean EOF before any byte, -1 (a short read is "truncated"). */
static int r_exact(struct tar_reader *r, void *p, size_t n, const char *what, struct bb_err *e)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = r->read(r->arg, (char *)p + got, n - got, e);

		if (k < 0)
			return -1;
		if (k == 0) {
			if (got == 0)
				return 0;
			return bb_errf(e, BB_EINVAL, "tar: truncated archive (in %s at byte %llu)", what,
				       (unsigned long long)(r->offset + got));
		}
		got += (size_t)k;
	}
	r->offset += n;
	return 1;
}

static int r_skip(struct tar_reader *r, uint64_t n, struct bb_err *e)
{
	char scratch[8192];

	while (n) {
		size_t k = n < sizeof scratch ? (size_t)n : sizeof scratch;
		int rc = r_exact(r, scratch, k, "member content", e);

		if (rc <= 0)
			return rc < 0 ? -1 : bb_errf(e, BB_EINVAL, "tar: truncated archive (member content)");
		n -= k;
	}
	return 0;
}

/* A numeric header field: octal (space/NUL padded) or GNU base-256; -1 if malformed. */
static int get_num(const unsigned char *f, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		if (f[0] & 0x40)
			return -1; /* negative */
		v = f[0] & 0x3f;
		for (i = 1; i < len; i++) {
			if (v >> 55)
				return -1;
			v = (v << 8) | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < len && (f[i] == ' ' || f[i] == '\0'))
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = (v << 3) | (uint64_t)(f[i] - '0');
	}
	for (; i < len; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	*out = v;
	return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* What pax 'x' and GNU 'L'/'K' headers set for the next member. */
struct pending {
	char path[TAR_PATH_MAX + 2], link[TAR_PATH_MAX + 2]; /* +2: a GNU long name's content ends in its own NUL */
	int has_path, has_link, has_size, has_uid, has_gid, has_mtime;
	uint64_t size, uid, gid;
	int64_t mtime;
};

static int pax_num(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (!n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

static int pax_parse(const char *p, size_t n, struct pending *pd, const char *member, struct bb_err *e)
{
	size_t at = 0;

	while (at < n) {
		size_t len = 0, i = at, klen;
		const char *key, *val, *eq;
		size_t vlen;

		while (i < n && p[i] >= '0' && p[i] <= '9' && len < n)
			len = len * 10 + (size_t)(p[i++] - '0');
		if (i == at || i >= n || p[i] != ' ' || len <= i - at + 1 || len > n - at || p[at + len - 1] != '\n')
			return bb_errf(e, BB_EINVAL, "tar: member '%.100s': malformed pax header record", member);
		key = p + i + 1;
		eq = memchr(key, '=', (size_t)(p + at + len - 1 - key));
		if (!eq)
			return bb_errf(e, BB_EINVAL, "tar: member '%.100s': pax record without '='", member);
		klen = (size_t)(eq - key);
		val = eq + 1;
		vlen = (size_t)(p + at + len - 1 - val);
		at += len;
#define KEY(s) (klen == sizeof(s) - 1 && !memcmp(key, s, klen))
		if (KEY("path") || KEY("linkpath")) {
			int is_path = KEY("path");
			char *dst = is_path ? pd->path : pd->link;

			if (vlen > TAR_PATH_MAX)
				return bb_errf(e, BB_ETOOBIG,
					       "tar: member '%.100s': pax %s is longer than %d bytes (path length cap)",
					       member, is_path ? "path" : "linkpath", TAR_PATH_MAX);
			if (memchr(val, '\0', vlen))
				return bb_errf(e, BB_EINVAL, "tar: member '%.100s': NUL byte in a pax name", member);
			memcpy(dst, val, vlen);
			dst[vlen] = '\0';
			*(is_path ? &pd->has_path : &pd->has_link) = 1;
		} else if (KEY("size") || KEY("uid") || KEY("gid")) {
			uint64_t *dst = KEY("size") ? &pd->size : KEY("uid") ? &pd->uid : &pd->gid;

			if (pax_num(val, vlen, dst) < 0)
				return bb_errf(e, BB_EINVAL, "tar: member '%.100s': bad pax %.*s", member, (int)klen, key);
			*(KEY("size") ? &pd->has_size : KEY("uid") ? &pd->has_uid : &pd->has_gid) = 1;
		} else if (KEY("mtime")) {
			size_t ilen = 0;
			int neg = vlen && val[0] == '-';
			uint64_t secs;

			while (neg + ilen < vlen && val[neg + ilen] != '.')
				ilen++;
			if (pax_num(val + neg, ilen, &secs) < 0 || secs > INT64_MAX)
				return bb_errf(e, BB_EINVAL, "tar: member '%.100s': bad pax mtime", member);
			pd->mtime = neg ? -(int64_t)secs : (int64_t)secs;
			pd->has_mtime = 1;
		} else if (klen > 10 && !memcmp(key, "GNU.sparse", 10)) {
			return bb_errf(e, BB_EINVAL, "tar: member '%.100s': sparse files are not supported", member);
		}
#undef KEY
	}
	return 0;
}

/* Read a helper member's content (pax or GNU long name) of size bytes into buf (cap bytes); NUL-terminates. */
static int r_small(struct tar_reader *r, uint64_t size, char *buf, size_t cap, const char *what, struct bb_err *e)
{
	int rc;

	if (size >= cap)
		return bb_errf(e, BB_ETOOBIG, "tar: %s of %llu bytes passes the cap of %zu", what,
			       (unsigned long long)size, cap - 1);
	rc = r_exact(r, buf, (size_t)size, what, e);
	if (rc == 0 && size)
		return bb_errf(e, BB_EINVAL, "tar: truncated archive (in %s)", what);
	if (rc < 0)
		return -1;
	buf[size] = '\0';
	return r_skip(r, (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK, e);
}

int tar_next(struct tar_reader *r, struct tar_entry *ent, struct bb_err *e)
{
	static char paxbuf[TAR_PAX_MAX + 1]; /* parsed before tar_next returns, so interleaved readers share it (not threads) */
	struct pending pd;
	unsigned char h[TAR_BLOCK];

	if (r->done)
		return 0;
	if (r_skip(r, r->remain + r->padding, e) < 0)
		return -1;
	r->remain = r->padding = 0;
	memset(&pd, 0, sizeof pd);
	for (;;) {
		uint64_t sum_stored, size, v;
		unsigned usum = 0;
		int ssum = 0, rc;
		char name[155 + 1 + 100 + 1], type; /* prefix '/' name NUL */
		int posix;

		rc = r_exact(r, h, sizeof h, "a header", e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return bb_errf(e, BB_EINVAL, "tar: truncated archive (no end-of-archive marker after %u members)",
				       r->count);
		if (all_zero(h, sizeof h)) {
			rc = r_exact(r, h, sizeof h, "the end marker", e);
			if (rc < 0)
				return -1;
			if (rc == 1 && !all_zero(h, sizeof h))
				return bb_errf(e, BB_EINVAL, "tar: a zero block in the middle of the archive (byte %llu)",
					       (unsigned long long)(r->offset - 2 * TAR_BLOCK));
			if (pd.has_path || pd.has_link || pd.has_size)
				return bb_errf(e, BB_EINVAL, "tar: extended header without a member at the end");
			r->done = 1;
			return 0;
		}
		for (size_t i = 0; i < sizeof h; i++) {
			unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];

			usum += c;
			ssum += (signed char)c;
		}
		posix = !memcmp(h + 257, "ustar\0", 6);
		if (posix && h[345]) {
			size_t plen = strnlen((char *)h + 345, 155), nlen = strnlen((char *)h, 100);

			memcpy(name, h + 345, plen);
			name[plen] = '/';
			memcpy(name + plen + 1, h, nlen);
			name[plen + 1 + nlen] = '\0';
		} else {
			size_t nlen = strnlen((char *)h, 100);

			memcpy(name, h, nlen);
			name[nlen] = '\0';
		}
		if (get_num(h + 148, 8, &sum_stored) < 0 || (sum_stored != usum && (int64_t)sum_stored != ssum))
			return bb_errf(e, BB_EINVAL, "tar: bad header checksum at byte %llu (member '%.100s')",
				       (unsigned long long)(r->offset - TAR_BLOCK), name);
		if (get_num(h + 124, 12, &size) < 0)
			return bb_errf(e, BB_EINVAL, "tar: member '%.100s': bad size field", name);
		type = (char)h[156];
		if (type == 'x' || type == 'g') {
			if (size > TAR_PAX_MAX)
				return bb_errf(e, BB_ETOOBIG, "tar: member '%.100s': pax header of %llu bytes passes the cap of %d",
					       name, (unsigned long long)size, TAR_PAX_MAX);
			if (r_small(r, size, paxbuf, sizeof paxbuf, "a pax header", e) < 0)
				return -1;
			if (type == 'x' && pax_parse(paxbuf, (size_t)size, &pd, pd.has_path ? pd.path : name, e) < 0)
				return -1;
			continue;
		}
		if (type == 'L' || type == 'K') {
			char *dst = type == 'L' ? pd.path : pd.link;

			if (size > TAR_PATH_MAX + 1)
				return bb_errf(e, BB_ETOOBIG, "tar: GNU long %s of %llu bytes passes the path length cap of %d",
					       type == 'L' ? "name" : "link", (unsigned long long)size, TAR_PATH_MAX);
			if (r_small(r, size, dst, sizeof pd.path, "a GNU long name", e) < 0)
				return -1;
			if (strlen(dst) > TAR_PATH_MAX)
				return bb_errf(e, BB_ETOOBIG, "tar: GNU long %s passes the path length cap of %d",
					       type == 'L' ? "name" : "link", TAR_PATH_MAX);
			*(type == 'L' ? &pd.has_path : &pd.has_link) = 1;
			continue;
		}
		memset(ent, 0, sizeof *ent);
		if (pd.has_path) {
			memcpy(ent->path, pd.path, strlen(pd.path) + 1);
		} else {
			memcpy(ent->path, name, strlen(name) + 1);
		}
		if (pd.has_link) {
			memcpy(ent->link, pd.link, strlen(pd.link) + 1);
		} else {
			size_t llen = strnlen((char *)h + 157, 100);

			memcpy(ent->link, h + 157, llen);
			ent->link[llen] = '\0';
		}
		switch (type) {
		case '0': case '\0': case '7': ent->type = TAR_FILE; break;
		case '1': ent->type = TAR_HARDLINK; break;
		case '2': ent->type = TAR_SYMLINK; break;
		case '3': ent->type = TAR_CHAR; break;
		case '4': ent->type = TAR_BLOCKDEV; break;
		case '5': ent->type = TAR_DIR; break;
		case '6': ent->type = TAR_FIFO; break;
		default:
			return bb_errf(e, BB_EINVAL, "tar: member '%.200s': unsupported member type '%c'", ent->path,
				       type >= 32 && type < 127 ? type : '?');
		}
		if (type == '\0' || type == '0') {
			size_t pl = strlen(ent->path);

			if (pl && ent->path[pl - 1] == '/' && !pd.has_path)
				ent->type = TAR_DIR; /* old tars mark directories by the trailing slash */
		}
		if (pd.has_size)
			size = pd.size;
		if (ent->type != TAR_FILE)
			size = 0; /* header-only types carry no content (as Go's archive/tar reads them) */
		if (r->max_entry_size && size > r->max_entry_size)
			return bb_errf(e, BB_ETOOBIG, "tar: member '%.200s' is %llu bytes, past the cap of %llu", ent->path,
				       (unsigned long long)size, (unsigned long long)r->max_entry_size);
		if (r->max_entries && r->count >= r->max_entries)
			return bb_errf(e, BB_ETOOBIG, "tar: member '%.200s': more than %llu members (entry count cap)",
				       ent->path, (unsigned long long)r->max_entries);
		if (get_num(h + 100, 8, &v) < 0)
			return bb_errf(e, BB_EINVAL, "tar: member '%.200s': bad mode field", ent->path);
		ent->meta.mode = (mode_t)(v & 07777);
		if (get_num(h + 108, 8, &v) < 0)
			return bb_errf(e, BB_EINVAL, "tar: member '%.200s': bad uid field", ent->path);
		ent->meta.uid = (uid_t)(pd.has_uid ? pd.uid : v);
		if (get_num(h + 116, 8, &v) < 0)
			return bb_errf(e, BB_EINVAL, "tar: member '%.200s': bad gid field", ent->path);
		ent->meta.gid = (gid_t)(pd.has_gid ? pd.gid : v);
		if (get_num(h + 136, 12, &v) < 0)
			return bb_errf(e, BB_EINVAL, "tar: member '%.200s': bad mtime field", ent->path);
		ent->meta.mtime = pd.has_mtime ? pd.mtime : (int64_t)(v > INT64_MAX ? INT64_MAX : v);
		if (!ent->path[0])
			return bb_errf(e, BB_EINVAL, "tar: member %u has an empty name", r->count);
		ent->size = size;
		ent->offset = r->offset;
		ent->index = r->count++;
		r->remain = size;
		r->padding = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
		return 1;
	}
}

ssize_t tar_read_data(struct tar_reader *r, void *p, size_t n, struct bb_err *e)
{
	ssize_t k;

	if (!r->remain || !n)
		return 0;
	if (n > r->remain)
		n = (size_t)r->remain;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	k = r->read(r->arg, p, n, e);
	if (k < 0)
		return -1;
	if (k == 0)
		return bb_errf(e, BB_EINVAL, "tar: truncated archive (%llu content bytes missing)",
			       (unsigned long long)r->remain);
	r->remain -= (uint64_t)k;
	r->offset += (uint64_t)k;
	return k;
}

/* ---------- paths ---------- */

const char *tar_path_next(const char **p, size_t *n)
{
	const char *s;

	for (;;) {
		while (**p == '/')
			(*p)++;
		if (!**p)
			return NULL;
		s = *p;
		while (**p && **p != '/')
			(*p)++;
		*n = (size_t)(*p - s);
		if (!(*n == 1 && s[0] == '.'))
			return s;
	}
}

int tar_clean_path(const char *in, char *out, size_t cap, struct bb_err *e)
{
	size_t o = 0;
	const char *p = in;

	const char *s;
	size_t n;

	while ((s = tar_path_next(&p, &n)) != NULL) {
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return bb_errf(e, BB_EINVAL, "member '%.200s': a '..' path component is refused", in);
		if (o + (o ? 1 : 0) + n + 1 > cap)
			return bb_errf(e, BB_ETOOBIG, "member '%.200s': path is longer than %zu bytes (path length cap)", in,
				       cap - 1);
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, n);
		o += n;
	}
	if (!cap)
		return bb_errf(e, BB_ETOOBIG, "no room for a path");
	out[o] = '\0';
	return 0;
}

int tar_symlink_inside(const char *link_path, const char *target)
{
	long depth = 0;
	const char *p;

	if (target[0] != '/') {
		/* Start in the link's directory: depth = its number of components. */
		const char *q = link_path;

		for (;;) {
			while (*q == '/')
				q++;
			if (!*q)
				break;
			while (*q && *q != '/')
				q++;
			depth++;
		}
		depth--; /* the link's own name */
		if (depth < 0)
			depth = 0;
	}
	p = target;
	const char *s;
	size_t n;

	while ((s = tar_path_next(&p, &n)) != NULL) {
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (--depth < 0)
				return 0;
		} else {
			depth++;
		}
	}
	return 1;
}

ssize_t tar_mem_read(void *arg, void *p, size_t n, struct bb_err *e)
{
	struct tar_mem *m = arg;

	(void)e;
	if (n > m->n - m->at)
		n = m->n - m->at;
	if (n)
		memcpy(p, (const char *)m->p + m->at, n);
	m->at += n;
	return (ssize_t)n;
}
