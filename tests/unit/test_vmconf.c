/* test_vmconf.c - the vm guest's configuration (lib/vmconf): what the host writes the guest reads back; every bad key refused. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "t.h"
#include "vmconf.h"

static char *argv_[] = { "sh", "-c", "echo \"hi\"\n", NULL };
static char *env_[] = { "HOME=/tmp/home", "X=a=b", NULL };

static void sample(struct vm_conf *c)
{
	memset(c, 0, sizeof *c);
	c->argv = argv_;
	c->env = env_;
	c->uid = 1000;
	c->gid = 1001;
	snprintf(c->workspace, sizeof c->workspace, "/home/ada/src");
	snprintf(c->address, sizeof c->address, "10.231.0.2");
	c->prefix = 24;
	snprintf(c->gateway, sizeof c->gateway, "10.231.0.1");
	c->grace_ms = 5000;
}

static void written_configuration_reads_back(void)
{
	struct vm_conf c, r;
	struct buf b = BUF_INIT(1u << 20);
	struct bb_err e = { 0 };
	sample(&c);
	T_CHECK(vm_conf_write(&c, &b, &e) == 0);
	T_CHECK(vm_conf_parse(b.p, b.len, &r, &e) == 0);
	T_STREQ(r.argv[0], "sh");
	T_STREQ(r.argv[2], "echo \"hi\"\n");
	T_CHECK(r.argv[3] == NULL);
	T_STREQ(r.env[1], "X=a=b");
	T_CHECK(r.env[2] == NULL && r.uid == 1000 && r.gid == 1001 && r.prefix == 24 && r.grace_ms == 5000);
	T_STREQ(r.workspace, "/home/ada/src");
	T_STREQ(r.address, "10.231.0.2");
	T_STREQ(r.gateway, "10.231.0.1");
	vm_conf_free(&r);
	buf_free(&b);
}

/* The sample with one key's JSON replaced: must be refused, naming key. */
static int refused(const char *key, const char *json_value)
{
	struct vm_conf c, r;
	struct buf b = BUF_INIT(1u << 20), m = BUF_INIT(1u << 20);
	struct bb_err e = { 0 };
	char needle[64], *at, *end;
	int ok;
	sample(&c);
	vm_conf_write(&c, &b, &e);
	snprintf(needle, sizeof needle, "\"%s\":", key);
	at = strstr(b.p, needle);
	if (!at)
		return 0;
	at += strlen(needle);
	end = at;
	if (*end == '[')
		end = strchr(end, ']') + 1;
	else if (*end == '"')
		end = strchr(end + 1, '"') + 1;
	else
		while (*end && *end != ',' && *end != '}')
			end++;
	buf_append(&m, b.p, (size_t)(at - b.p), &e);
	buf_append_str(&m, json_value, &e);
	buf_append_str(&m, end, &e);
	ok = vm_conf_parse(m.p, m.len, &r, &e) < 0 && strstr(e.msg, key) != NULL;
	buf_free(&b);
	buf_free(&m);
	return ok;
}

static void every_bad_key_is_refused_by_name(void)
{
	T_CHECK(refused("argv", "[]"));
	T_CHECK(refused("argv", "[1]"));
	T_CHECK(refused("env", "\"HOME=/\""));
	T_CHECK(refused("uid", "-1"));
	T_CHECK(refused("uid", "1.5"));
	T_CHECK(refused("gid", "\"7\""));
	T_CHECK(refused("prefix", "31"));
	T_CHECK(refused("workspace", "\"relative/dir\""));
	T_CHECK(refused("address", "\"10.231.0\""));
	T_CHECK(refused("gateway", "\"::1\""));
	T_CHECK(refused("grace_ms", "99999999"));
}

static void limits_hold(void)
{
	struct buf b = BUF_INIT(4u << 20);
	struct vm_conf r;
	struct bb_err e = { 0 };
	int i;
	buf_append_str(&b, "{\"argv\":[", &e);
	for (i = 0; i <= VMCONF_ARGS_MAX; i++)
		buf_append_str(&b, i ? ",\"x\"" : "\"x\"", &e);
	buf_append_str(&b, "],\"env\":[],\"uid\":1,\"gid\":1,\"workspace\":\"/w\",\"address\":\"10.0.0.2\",\"prefix\":24,"
			   "\"gateway\":\"10.0.0.1\",\"grace_ms\":0}", &e);
	T_CHECK(vm_conf_parse(b.p, b.len, &r, &e) < 0 && strstr(e.msg, "argv"));
	T_CHECK(vm_conf_parse("[]", 2, &r, &e) < 0);
	T_CHECK(vm_conf_parse("{", 1, &r, &e) < 0);
	buf_free(&b);
}

int main(void)
{
	T_RUN(written_configuration_reads_back);
	T_RUN(every_bad_key_is_refused_by_name);
	T_RUN(limits_hold);
	T_END();
}
