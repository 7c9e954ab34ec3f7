/* agentprog.c - finding the agent program on the host (PATH or the manifest's path) and what of the host it needs. */
#include "agentprog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEARCHED_MAX 400 /* bytes of the searched directories quoted in an error */

static int copy(char *out, size_t cap, const char *s)
{
	return (size_t)snprintf(out, cap, "%s", s) >= cap ? -1 : 0;
}

/* An executable regular file at path (following links): 1, else 0 with errno saying why. */
static int executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
		return 0;
	}
	if (!(st.st_mode & 0111)) {
		errno = EACCES;
		return 0;
	}
	return 1;
}

/*
 * name on path_env: the first executable PATH_ENTRY/name into out. 0, or -1
 * with the absolute directories searched (", "-separated) in searched.
 */
static int search_path(const char *name, const char *path_env, char *out, size_t cap, char *searched, size_t scap)
{
	const char *p = path_env ? path_env : "";
	size_t sl = 0;
	int cut = 0;

	searched[0] = 0;
	while (*p) {
		size_t n = strcspn(p, ":");

		if (n && p[0] == '/') { /* relative entries ("", ".") are not searched */
			if ((size_t)snprintf(out, cap, "%.*s/%s", (int)n, p, name) < cap && executable(out))
				return 0;
			if (!cut && sl + n + 8 < scap) {
				sl += (size_t)snprintf(searched + sl, scap - sl, "%s%.*s", sl ? ", " : "", (int)n, p);
			} else if (!cut) {
				cut = 1;
				snprintf(searched + sl, scap - sl, ", ...");
			}
		}
		p += n;
		if (*p == ':')
			p++;
	}
	if (!searched[0])
		snprintf(searched, scap, "(no absolute directory in PATH)");
	return -1;
}

/*
 * The "#!" line of a script: its interpreter path (first word) and, for an
 * interpreter named env, the program env is to find (the next word that is
 * not an option; "-S" splits the rest). Both "" when the file has no "#!".
 */
static void shebang(const char *path, char *interp, size_t icap, char *envname, size_t ncap)
{
	char line[512];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char *s, *w, *end;
	size_t n;

	interp[0] = envname[0] = 0;
	if (fd < 0)
		return;
	got = read(fd, line, sizeof line - 1);
	close(fd);
	if (got < 3 || line[0] != '#' || line[1] != '!')
		return;
	line[got] = 0;
	line[strcspn(line, "\r\n")] = 0;
	s = line + 2;
	s += strspn(s, " \t");
	n = strcspn(s, " \t");
	if (!n || n >= icap)
		return;
	memcpy(interp, s, n);
	interp[n] = 0;
	w = strrchr(interp, '/');
	if (strcmp(w ? w + 1 : interp, "env"))
		return;
	for (s += n;;) { /* env's operand: the first word that is neither an option nor VAR=value */
		s += strspn(s, " \t");
		n = strcspn(s, " \t");
		if (!n)
			return;
		end = s + n;
		if (s[0] != '-' && !memchr(s, '=', n))
			break;
		s = end;
	}
	if (n < ncap) {
		memcpy(envname, s, n);
		envname[n] = 0;
	}
}

/* The nearest directory named node_modules that holds real (canonical), into out; -1 when none. */
static int node_modules_tree(const char *real, char *out, size_t cap)
{
	const char *hit = NULL, *p = real;

	while ((p = strstr(p, "/node_modules/")) != NULL) {
		hit = p;
		p++;
	}
	if (!hit || (size_t)(hit - real) + sizeof "/node_modules" > cap)
		return -1;
	snprintf(out, cap, "%.*s/node_modules", (int)(hit - real), real);
	return 0;
}

int agentprog_find(const char *name, const char *given, const char *path_env, const char *home, struct agentprog *p,
		   struct bb_err *e)
{
	char searched[SEARCHED_MAX], interp[PATH_MAX], envname[256], tree[PATH_MAX];

	memset(p, 0, sizeof *p);
	if (given && *given) {
		if (!strncmp(given, "~/", 2)) {
			if (!home || !*home)
				return bb_errf(e, BB_EINVAL, "agent_provider.program %s: HOME is not set", given);
			if ((size_t)snprintf(p->found, sizeof p->found, "%s/%s", home, given + 2) >= sizeof p->found)
				return bb_errf(e, BB_ETOOBIG, "agent_provider.program %s: the path is too long", given);
		} else if (copy(p->found, sizeof p->found, given) < 0) {
			return bb_errf(e, BB_ETOOBIG, "agent_provider.program: the path is too long");
		}
		if (!executable(p->found))
			return bb_errno(e, errno, "agent_provider.program %s", p->found);
	} else if (search_path(name, path_env, p->found, sizeof p->found, searched, sizeof searched) < 0) {
		return bb_errf(e, ENOENT,
			       "the agent program '%s' is not on PATH (looked in %s): install it, or name it with "
			       "agent_provider.program",
			       name, searched);
	}
	if (!realpath(p->found, p->real))
		return bb_errno(e, errno, "resolve %s", p->found);
	if (copy(p->name, sizeof p->name, name) < 0)
		return bb_errf(e, BB_ETOOBIG, "agent program name too long");

	shebang(p->real, interp, sizeof interp, envname, sizeof envname);
	if (!interp[0]) { /* a native executable: the file is all it needs of the host */
		copy(p->need[p->nneed++], PATH_MAX, p->real);
		return 0;
	}
	copy(p->need[p->nneed++], PATH_MAX, node_modules_tree(p->real, tree, sizeof tree) == 0 ? tree : p->real);
	if (envname[0]) {
		char at[PATH_MAX];

		if (strchr(envname, '/'))
			return bb_errf(e, BB_EINVAL, "%s runs '%s' through env, which is not a plain program name", p->found,
				       envname);
		if (search_path(envname, path_env, at, sizeof at, searched, sizeof searched) < 0)
			return bb_errf(e, ENOENT, "%s is a script for '%s', which is not on PATH (looked in %s)", p->found,
				       envname, searched);
		copy(p->interp_name, sizeof p->interp_name, envname);
		if (!realpath(at, p->interp))
			return bb_errno(e, errno, "resolve %s", at);
	} else {
		if (interp[0] != '/' || !realpath(interp, p->interp) || !executable(p->interp))
			return bb_errf(e, ENOENT, "%s is a script for %s, which cannot be run here", p->found, interp);
	}
	copy(p->need[p->nneed++], PATH_MAX, p->interp);
	return 0;
}
