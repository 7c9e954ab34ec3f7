/* test_audit.c - the refused-requests summary read back from an egress audit log. */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "buf.h"
#include "t.h"

static const char log_text[] =
	"{\"ts\":\"t\",\"level\":\"info\",\"prog\":\"egress\",\"event\":\"request\",\"host\":\"api.anthropic.com\",\"verdict\":\"allow\",\"rule\":\"mitm\"}\n"
	"{\"event\":\"request\",\"host\":\"ab.chatgpt.com\",\"verdict\":\"deny\",\"rule\":\"no-route\",\"reason\":\"no route for ab.chatgpt.com\"}\n"
	"not json at all\n"
	"{\"event\":\"request\",\"host\":\"ab.chatgpt.com\",\"verdict\":\"deny\",\"rule\":\"no-route\",\"reason\":\"second\"}\n"
	"{\"event\":\"request\",\"host\":\"api.anthropic.com\",\"verdict\":\"deny\",\"rule\":\"dlp\",\"reason\":\"token in body\"}\n"
	"{\"event\":\"request\",\"host\":\"chatgpt.com\",\"verdict\":\"error\",\"rule\":\"encoding\",\"reason\":\"zstd\"}\n"
	"{\"event\":\"request\",\"host\":\"x.test\",\"verdict\":\"abort\",\"rule\":\"closed\"}\n"
	"{\"event\":\"reload\",\"verdict\":\"deny\"}\n"
	"{\"event\":\"request\",\"host\":\"evil\\u001b[2J.test\",\"verdict\":\"deny\",\"rule\":\"no-route\",\"reason\":\"r\"}\n"
	"{\"event\":\"request\",\"host\":\"echo.test\",\"verdict\":\"allow\",\"rule\":\"scrub\",\"reason\":\"response scrubbed: 1 occurrence\"}";

static void groups_by_host_and_rule_most_first(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };
	long scrubbed = -1, n = audit_refused_summary(log_text, sizeof log_text - 1, 100, &b, &scrubbed, &e);
	const char *first, *second;

	T_CHECK(n == 5); /* deny and error count; allow, abort and other events do not */
	T_CHECK(scrubbed == 1);
	T_CHECK(buf_append_byte(&b, 0, &e) == 0);
	first = strstr(b.p, "ab.chatgpt.com");
	second = strstr(b.p, "api.anthropic.com");
	T_CHECK(first && second && first < second); /* two refusals before one */
	T_CHECK(strstr(b.p, "no-route              2 no route for ab.chatgpt.com") != NULL);
	T_CHECK(strstr(b.p, "dlp") && strstr(b.p, "token in body"));
	T_CHECK(strstr(b.p, "encoding") && strstr(b.p, "chatgpt.com "));
	T_CHECK(strchr(b.p, 0x1b) == NULL && strstr(b.p, "evil?[2J.test")); /* a terminal escape from the log is shown, not run */
	T_CHECK(strstr(b.p, "x.test") == NULL);
	T_CHECK(strstr(b.p, "echo.test") && strstr(b.p, "response scrubbed: 1 occurrence")); /* allowed, but worth saying */
	buf_free(&b);
}

static void nothing_refused_nothing_said(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };
	const char ok[] = "{\"event\":\"request\",\"host\":\"a\",\"verdict\":\"allow\"}\n";
	long scrubbed = -1;
	T_CHECK(audit_refused_summary(ok, sizeof ok - 1, 80, &b, &scrubbed, &e) == 0 && scrubbed == 0);
	T_CHECK(b.len == 0);
	T_CHECK(audit_refused_summary("", 0, 80, &b, &scrubbed, &e) == 0);
	buf_free(&b);
}

static void one_screen_at_most(void)
{
	struct buf b = BUF_INIT(4 << 20), in = BUF_INIT(4 << 20);
	struct bb_err e = { 0 };
	int i;
	size_t lines = 0, k;
	long scrubbed;

	for (i = 0; i < 40; i++) {
		char line[200];
		snprintf(line, sizeof line, "{\"event\":\"request\",\"host\":\"h%d.test\",\"verdict\":\"deny\",\"rule\":\"no-route\"}\n", i);
		buf_append_str(&in, line, &e);
	}
	T_CHECK(audit_refused_summary(in.p, in.len, 80, &b, &scrubbed, &e) == 40);
	for (k = 0; k < b.len; k++)
		lines += b.p[k] == '\n';
	T_CHECK(lines == AUDIT_SUMMARY_ROWS + 1);
	buf_append_byte(&b, 0, &e);
	T_CHECK(strstr(b.p, "... and 28 more to other hosts or rules") != NULL);
	buf_free(&b);
	buf_free(&in);
}

int main(void)
{
	T_RUN(groups_by_host_and_rule_most_first);
	T_RUN(nothing_refused_nothing_said);
	T_RUN(one_screen_at_most);
	T_END();
}
