/* vmconf.c - the vm guest's configuration: written by the host into the initramfs, read by the guest's PID 1. */
#include "vmconf.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static cJSON *str_array(char *const *v)
{
	cJSON *a = cJSON_CreateArray();
	for (; a && v && *v; v++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(*v))) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

int vm_conf_write(const struct vm_conf *c, struct buf *out, struct bb_err *e)
{
	cJSON *o = cJSON_CreateObject(), *argv = str_array(c->argv), *env = str_array(c->env);
	int rc = -1;
	if (!o || !argv || !env || !cJSON_AddItemToObject(o, "argv", argv) || (argv = NULL, !cJSON_AddItemToObject(o, "env", env)) ||
	    (env = NULL, !cJSON_AddNumberToObject(o, "uid", (double)c->uid)) || !cJSON_AddNumberToObject(o, "gid", (double)c->gid) ||
	    !cJSON_AddStringToObject(o, "workspace", c->workspace) || !cJSON_AddStringToObject(o, "address", c->address) ||
	    !cJSON_AddNumberToObject(o, "prefix", c->prefix) || !cJSON_AddStringToObject(o, "gateway", c->gateway) ||
	    !cJSON_AddNumberToObject(o, "grace_ms", (double)c->grace_ms)) {
		bb_errf(e, ENOMEM, "vm config: out of memory");
		goto out;
	}
	rc = json_print(o, out, e);
out:
	cJSON_Delete(argv);
	cJSON_Delete(env);
	cJSON_Delete(o);
	return rc;
}

/* A JSON array of strings as a NULL-terminated vector (strings copied). */
static int vec(const cJSON *a, const char *key, int need_one, char ***out, struct bb_err *e)
{
	const cJSON *it;
	size_t n = 0, i = 0;
	char **v;
	if (!cJSON_IsArray(a))
		return bb_errf(e, BB_EINVAL, "vm config: %s is not an array", key);
	cJSON_ArrayForEach(it, a) n++;
	if (n > VMCONF_ARGS_MAX || (need_one && !n))
		return bb_errf(e, BB_EINVAL, "vm config: %s has %zu entries (want %s%d)", key, n, need_one ? "1 to " : "at most ",
			       VMCONF_ARGS_MAX);
	v = calloc(n + 1, sizeof *v);
	if (!v)
		return bb_errf(e, ENOMEM, "vm config: out of memory");
	cJSON_ArrayForEach(it, a) {
		const char *s = cJSON_GetStringValue(it);
		if (!s || !(v[i] = strdup(s))) {
			for (; i > 0; i--)
				free(v[i - 1]);
			free(v);
			return bb_errf(e, s ? ENOMEM : BB_EINVAL, "vm config: %s[%zu] is not a string", key, i);
		}
		i++;
	}
	*out = v;
	return 0;
}

static int num(const cJSON *o, const char *key, double lo, double hi, double *out, struct bb_err *e)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);
	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi || v->valuedouble != (double)(long long)v->valuedouble)
		return bb_errf(e, BB_EINVAL, "vm config: %s is not a whole number from %.0f to %.0f", key, lo, hi);
	*out = v->valuedouble;
	return 0;
}

static int str(const cJSON *o, const char *key, char *out, size_t cap, struct bb_err *e)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
	if (!v || strlen(v) >= cap)
		return bb_errf(e, BB_EINVAL, "vm config: %s is missing or longer than %zu bytes", key, cap - 1);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int ipv4(const char *s, const char *key, struct bb_err *e)
{
	struct in_addr a;
	return inet_pton(AF_INET, s, &a) == 1 ? 0 : bb_errf(e, BB_EINVAL, "vm config: %s '%s' is not an IPv4 address", key, s);
}

int vm_conf_parse(const char *json, size_t len, struct vm_conf *c, struct bb_err *e)
{
	cJSON *o;
	double d;
	int rc = -1;
	memset(c, 0, sizeof *c);
	if (len > VMCONF_MAX)
		return bb_errf(e, BB_ETOOBIG, "vm config: %zu bytes, more than %u", len, VMCONF_MAX);
	o = json_parse("vm config", json, len, e);
	if (!o)
		return -1;
	if (!cJSON_IsObject(o)) {
		bb_errf(e, BB_EINVAL, "vm config: not a JSON object");
		goto out;
	}
	if (vec(cJSON_GetObjectItem(o, "argv"), "argv", 1, &c->argv, e) < 0 ||
	    vec(cJSON_GetObjectItem(o, "env"), "env", 0, &c->env, e) < 0)
		goto out;
	if (num(o, "uid", 0, 4294967294.0, &d, e) < 0)
		goto out;
	c->uid = (uid_t)d;
	if (num(o, "gid", 0, 4294967294.0, &d, e) < 0)
		goto out;
	c->gid = (gid_t)d;
	if (num(o, "prefix", 1, 30, &d, e) < 0)
		goto out;
	c->prefix = (unsigned)d;
	if (num(o, "grace_ms", 0, 3600000, &d, e) < 0)
		goto out;
	c->grace_ms = (unsigned long long)d;
	if (str(o, "workspace", c->workspace, sizeof c->workspace, e) < 0 || str(o, "address", c->address, sizeof c->address, e) < 0 ||
	    str(o, "gateway", c->gateway, sizeof c->gateway, e) < 0 || ipv4(c->address, "address", e) < 0 ||
	    ipv4(c->gateway, "gateway", e) < 0)
		goto out;
	if (c->workspace[0] != '/') {
		bb_errf(e, BB_EINVAL, "vm config: workspace '%s' is not absolute", c->workspace);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(o);
	if (rc < 0)
		vm_conf_free(c);
	return rc;
}

void vm_conf_free(struct vm_conf *c)
{
	char **p;
	for (p = c->argv; p && *p; p++)
		free(*p);
	for (p = c->env; p && *p; p++) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
	free(c->argv);
	free(c->env);
	c->argv = c->env = NULL;
}
