/* dashboard.c - `bb bottle dashboard`: bottles, their live audit events and pending proposals, in plain ANSI. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "applet.h"
#include "bottle.h"
#include "buf.h"
#include "err.h"
#include "fd.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "opt.h"
#include "proposal.h"
#include "tui.h"

static const char usage[] =
	"usage: bb bottle dashboard [SLUG] [--once] [--width N] [--height N]\n"
	"Every bottle, the selected one's live audit events (egress, dns and supervise\n"
	"logs in its state dir) and its pending supervise proposals, which you approve\n"
	"or reject here. Plain ANSI; NO_COLOR turns colours off. See docs/dashboard.md.\n"
	"  -o, --once      print one frame to stdout and exit (no terminal needed)\n"
	"  -W, --width N   columns for --once (default: the terminal's, $COLUMNS, or 100)\n"
	"  -H, --height N  rows for --once (default: the terminal's, $LINES, or 40)\n"
	"Keys: up/down or k/j select, tab switches pane, a approve, n approve with a note,\n"
	"r reject (type a note; Enter sends, Esc cancels), ? help, q quit.\n"
	"Exit: 0 quit, 2 usage, 111 internal error (a crash log is written to\n"
	"$BB_HOME/.bb/state/dashboard-crash.log), 130 Ctrl-C, 128+N other signals.";

#define DASH_EVENTS_MAX 400        /* events kept for the selected bottle */
#define DASH_TAIL_START (64u << 10) /* a log's end read when a bottle is selected */
#define DASH_READ_MAX (1u << 20)   /* more appended than this in one tick: skip to the end */
#define DASH_LINE_MAX 8192         /* a longer log line is cut */
#define DASH_FRAME_MAX (4u << 20)
#define DASH_PENDING_MAX 256       /* proposals listed for one bottle */
#define DASH_TICK_MS 500           /* how often files are looked at */
#define DASH_MANIFEST_TICKS 10     /* manifests are re-read every 5 s */
#define DASH_ESC_MS 40             /* after a lone ESC byte, wait this long for the rest of a key */

enum dash_pane { PANE_BOTTLES, PANE_PROPOSALS, PANE_EVENTS, PANE_COUNT };
enum dash_input { INPUT_NONE, INPUT_REJECT, INPUT_APPROVE, INPUT_CHANGE /* what a cred or capability approval changes */ };

struct dash_event {
	char ts[32];  /* as logged: ISO 8601 UTC sorts as text */
	char src[12]; /* egress, dns, supervise */
	unsigned attr;
	char text[400];
};

/* A log followed from where it was last read; a replaced or truncated file is started again. */
struct dash_tail {
	const char *name; /* egress, dns, supervise: the log is NAME.log */
	char path[PATH_MAX];
	off_t off;
	dev_t dev;
	ino_t ino;
	int opened;     /* the file has been seen since the bottle was selected */
	int skipping;   /* drop bytes up to the next newline (the start was mid-line, or a line was too long) */
	size_t line_len;
	char line[DASH_LINE_MAX];
};

/* What a bottle's queue directory looked like when it was last read. */
struct dash_queue {
	struct timespec mtime;
	int have;
	size_t pending;
};

struct dash {
	struct bottle_meta *bottles;
	struct dash_queue *queues; /* parallel to bottles */
	size_t nbottles;
	char list_err[BB_ERR_MSG_MAX];
	char sel_slug[BOTTLE_SLUG_MAX];   /* the bottle to keep selected as the list changes */
	char shown_slug[BOTTLE_SLUG_MAX]; /* the bottle whose files are followed */
	size_t sel;
	char state_dir[PATH_MAX];
	char qdir[PATH_MAX + 16];
	struct proposal_list props; /* the selected bottle's queue */
	const cJSON *pending[DASH_PENDING_MAX];
	size_t npending, sel_prop;
	char sel_prop_id[PROPOSAL_ID_MAX];
	struct dash_event *ev;
	size_t nev, ev_scroll; /* scroll: events hidden below the bottom row */
	struct dash_tail tails[3];
	enum dash_pane focus;
	int help;
	enum dash_input input;
	char input_id[PROPOSAL_ID_MAX];
	char input_tool[24];
	char note[PROPOSAL_NOTE_MAX];
	size_t note_len;
	char message[BB_ERR_MSG_MAX + 200];
	int message_err;
	char config[BB_ERR_MSG_MAX + 200];
	int config_err;
	size_t total_pending;
	int primed; /* the first look is done: proposals that arrive later ring the bell */
	int bell;
	time_t now;
};

/* ---------------------------------------------------------------- the terminal, restored on every way out */

static struct {
	int fd;
	volatile sig_atomic_t active;
	struct termios saved;
	char crash_path[PATH_MAX];
	char doing[160]; /* what the dashboard was doing, for the crash log */
} term = { .fd = -1 };

static const char term_enter[] = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
static const char term_leave[] = "\x1b[0m\x1b[?25h\x1b[?1049l";

/* Async-signal-safe: write and tcsetattr only. */
static void term_restore(void)
{
	ssize_t unused;

	if (!term.active)
		return;
	term.active = 0;
	unused = write(term.fd, term_leave, sizeof term_leave - 1);
	(void)unused;
	tcsetattr(term.fd, TCSAFLUSH, &term.saved);
}

static int term_raw(int fd, struct bb_err *e)
{
	struct termios raw;

	if (tcgetattr(fd, &term.saved) < 0)
		return bb_errno(e, errno, "read the terminal's settings");
	raw = term.saved;
	/* No echo, no line editing, no signals from keys (Ctrl-C arrives as a byte and exits 130). */
	raw.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
	raw.c_oflag &= ~(tcflag_t)OPOST;
	raw.c_cflag |= CS8;
	raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSAFLUSH, &raw) < 0)
		return bb_errno(e, errno, "set the terminal to raw mode");
	term.fd = fd;
	term.active = 1;
	if (fd_write_all(fd, term_enter, sizeof term_enter - 1) < 0) {
		term_restore();
		return bb_errno(e, errno, "write to the terminal");
	}
	return 0;
}

/* Signal-safe text building for the crash log: no stdio, no malloc. */
static size_t put_str(char *b, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		b[at++] = *s++;
	b[at] = '\0';
	return at;
}

static size_t put_num(char *b, size_t at, size_t cap, unsigned long long v, unsigned base, int width)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < (int)sizeof digits);
	while (n < width && n < (int)sizeof digits)
		digits[n++] = '0';
	while (n > 0 && at + 1 < cap)
		b[at++] = digits[--n];
	b[at] = '\0';
	return at;
}

/* "YYYY-MM-DDTHH:MM:SSZ" of t, without gmtime (not async-signal-safe). */
static size_t put_time(char *b, size_t at, size_t cap, time_t t)
{
	long long days = (long long)t / 86400, secs = (long long)t % 86400, z, era, doe, yoe, y, doy, mp, d, m;

	/* Howard Hinnant's days_from_civil, inverted. */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	at = put_num(b, at, cap, (unsigned long long)y, 10, 4);
	at = put_str(b, at, cap, "-");
	at = put_num(b, at, cap, (unsigned long long)m, 10, 2);
	at = put_str(b, at, cap, "-");
	at = put_num(b, at, cap, (unsigned long long)d, 10, 2);
	at = put_str(b, at, cap, "T");
	at = put_num(b, at, cap, (unsigned long long)(secs / 3600), 10, 2);
	at = put_str(b, at, cap, ":");
	at = put_num(b, at, cap, (unsigned long long)(secs / 60 % 60), 10, 2);
	at = put_str(b, at, cap, ":");
	at = put_num(b, at, cap, (unsigned long long)(secs % 60), 10, 2);
	return put_str(b, at, cap, "Z");
}

/* Append one entry to the crash log and say where it is on stderr. Async-signal-safe. */
static void crash_log_write(const char *what)
{
	static char entry[1024];
	size_t at = 0;
	ssize_t unused;
	int fd;

	at = put_str(entry, at, sizeof entry, "=== dashboard crash ");
	at = put_time(entry, at, sizeof entry, time(NULL));
	at = put_str(entry, at, sizeof entry, " ===\n");
	at = put_str(entry, at, sizeof entry, what);
	at = put_str(entry, at, sizeof entry, "\npid ");
	at = put_num(entry, at, sizeof entry, (unsigned long long)getpid(), 10, 1);
	at = put_str(entry, at, sizeof entry, ", version " BB_VERSION ", while: ");
	at = put_str(entry, at, sizeof entry, term.doing[0] ? term.doing : "starting");
	at = put_str(entry, at, sizeof entry, "\n\n");
	fd = term.crash_path[0] ? open(term.crash_path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)
				: -1;
	if (fd >= 0) {
		unused = write(fd, entry, at);
		close(fd);
	}
	at = put_str(entry, 0, sizeof entry, "bb bottle: dashboard crashed: ");
	at = put_str(entry, at, sizeof entry, what);
	at = put_str(entry, at, sizeof entry, fd >= 0 ? "\nbb bottle: details in " : "\nbb bottle: could not write ");
	at = put_str(entry, at, sizeof entry, term.crash_path);
	at = put_str(entry, at, sizeof entry, "\n");
	unused = write(2, entry, at);
	(void)unused;
}

static void on_fatal_signal(int sig, siginfo_t *si, void *ctx)
{
	char what[160];
	size_t at;
	const char *name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGILL ? "SIGILL" :
			   sig == SIGFPE ? "SIGFPE" : sig == SIGABRT ? "SIGABRT" : "a fatal signal";

	(void)ctx;
	term_restore();
	at = put_str(what, 0, sizeof what, "signal ");
	at = put_num(what, at, sizeof what, (unsigned long long)sig, 10, 1);
	at = put_str(what, at, sizeof what, " (");
	at = put_str(what, at, sizeof what, name);
	at = put_str(what, at, sizeof what, ")");
	if (si && si->si_code > 0 && sig != SIGABRT) { /* raised by the kernel: it has a fault address */
		at = put_str(what, at, sizeof what, " at address 0x");
		put_num(what, at, sizeof what, (unsigned long long)(uintptr_t)si->si_addr, 16, 1);
	} else if (si && si->si_code == SI_USER) {
		at = put_str(what, at, sizeof what, " sent by pid ");
		put_num(what, at, sizeof what, (unsigned long long)si->si_pid, 10, 1);
	}
	crash_log_write(what);
	raise(sig); /* SA_RESETHAND: the default action now, so the exit status says which signal */
}

static void fatal_signals_install(void)
{
	static char altstack[64 << 10]; /* a stack overflow still gets its crash log */
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
	struct sigaction sa;
	size_t i;

	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fatal_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
}

/* Note what is being done (what, then arg), for a crash log. */
static void doing(const char *what, const char *arg)
{
	put_str(term.doing, put_str(term.doing, 0, sizeof term.doing, what), sizeof term.doing, arg);
}

/* ---------------------------------------------------------------- events: the selected bottle's logs */

/* Append a then b to the string out (cap bytes), cut at the cap. */
static void kv_append(char *out, size_t cap, const char *a, const char *b)
{
	put_str(out, put_str(out, strlen(out), cap, a), cap, b);
}

/* A JSON member as text: strings as they are, numbers and booleans printed, else "". */
static const char *member_text(const cJSON *o, const char *key, char *tmp, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsNumber(v)) {
		snprintf(tmp, cap, "%.15g", v->valuedouble);
		return tmp;
	}
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	return "";
}

static const char *str_member(const cJSON *o, const char *key)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
	return v ? v : "";
}

static int upper_into(char *out, size_t cap, const char *s)
{
	size_t i;
	for (i = 0; s[i] && i + 1 < cap; i++)
		out[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 32) : s[i];
	out[i] = '\0';
	return 0;
}

/* One log line as an event row: egress requests and dns queries in words, anything else as event key=value. */
static void event_parse(const char *src, const char *line, size_t n, struct dash_event *ev)
{
	char t1[32], t2[32], t3[32], verdict[16];
	cJSON *o = json_parse(src, line, n, NULL), *it;
	const char *event, *level, *v;

	memset(ev, 0, sizeof *ev);
	snprintf(ev->src, sizeof ev->src, "%s", src);
	if (!cJSON_IsObject(o)) { /* not a JSON line (a daemon's plain message): shown as it is */
		snprintf(ev->text, sizeof ev->text, "%.*s", (int)(n < sizeof ev->text ? n : sizeof ev->text - 1), line);
		cJSON_Delete(o);
		return;
	}
	snprintf(ev->ts, sizeof ev->ts, "%s", member_text(o, "ts", t1, sizeof t1));
	event = member_text(o, "event", t1, sizeof t1);
	level = member_text(o, "level", t2, sizeof t2);
	ev->attr = !strcmp(level, "error") ? TUI_RED : !strcmp(level, "warn") ? TUI_YELLOW : 0;
	v = member_text(o, "verdict", t3, sizeof t3);
	if (*v) {
		upper_into(verdict, sizeof verdict, v);
		ev->attr = !strcmp(v, "allow") ? TUI_GREEN : TUI_RED;
	}
	if (!strcmp(src, "egress") && !strcmp(event, "request")) {
		const char *reason = member_text(o, "reason", t2, sizeof t2);
		snprintf(ev->text, sizeof ev->text, "%-5s %s %s%s", verdict, member_text(o, "method", t1, sizeof t1),
			 str_member(o, "host"), str_member(o, "path"));
		kv_append(ev->text, sizeof ev->text, " -> ", member_text(o, "status", t1, sizeof t1));
		if (*reason)
			kv_append(ev->text, sizeof ev->text, "  ", reason);
	} else if (!strcmp(src, "dns") && !strcmp(event, "query")) {
		const char *reason = member_text(o, "reason", t2, sizeof t2);
		snprintf(ev->text, sizeof ev->text, "%-5s %s %s %s", verdict,
			 str_member(o, "name"),
			 member_text(o, "type", t1, sizeof t1), member_text(o, "rcode", t3, sizeof t3));
		if (*reason)
			kv_append(ev->text, sizeof ev->text, "  ", reason);
	} else {
		snprintf(ev->text, sizeof ev->text, "%s", event);
		cJSON_ArrayForEach(it, o)
		{
			char tmp[32];
			if (!it->string || !strcmp(it->string, "ts") || !strcmp(it->string, "level") ||
			    !strcmp(it->string, "prog") || !strcmp(it->string, "event"))
				continue;
			kv_append(ev->text, sizeof ev->text, " ", it->string);
			kv_append(ev->text, sizeof ev->text, "=", member_text(o, it->string, tmp, sizeof tmp));
		}
	}
	cJSON_Delete(o);
}

/* Keep events in time order: logs are each in order, so a new one goes near the end. */
static void event_add(struct dash *d, const char *src, const char *line, size_t n)
{
	struct dash_event ev;
	size_t at;

	while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (!n)
		return;
	event_parse(src, line, n, &ev);
	if (!ev.ts[0] && d->nev) /* no time of its own: it came after what was read before it */
		memcpy(ev.ts, d->ev[d->nev - 1].ts, sizeof ev.ts);
	if (d->nev == DASH_EVENTS_MAX) { /* drop the oldest quarter at once, not one memmove per line */
		memmove(d->ev, d->ev + DASH_EVENTS_MAX / 4, (DASH_EVENTS_MAX - DASH_EVENTS_MAX / 4) * sizeof *d->ev);
		d->nev -= DASH_EVENTS_MAX / 4;
	}
	for (at = d->nev; at > 0 && strcmp(d->ev[at - 1].ts, ev.ts) > 0; at--)
		;
	memmove(d->ev + at + 1, d->ev + at, (d->nev - at) * sizeof *d->ev);
	d->ev[at] = ev;
	d->nev++;
	if (d->ev_scroll)
		d->ev_scroll++; /* someone scrolled back: keep what they look at in place */
}

static void tail_feed(struct dash *d, struct dash_tail *t, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (!t->skipping)
				event_add(d, t->name, t->line, t->line_len);
			t->skipping = 0;
			t->line_len = 0;
		} else if (!t->skipping) {
			if (t->line_len == sizeof t->line) { /* too long: keep its start, drop the rest */
				event_add(d, t->name, t->line, t->line_len);
				t->skipping = 1;
				t->line_len = 0;
			} else {
				t->line[t->line_len++] = p[i];
			}
		}
	}
}

/* Read what was appended to a log since the last look. Only regular files: a FIFO planted there cannot block us. */
static void tail_poll(struct dash *d, struct dash_tail *t)
{
	char chunk[16384];
	struct stat st;
	int fd;

	if (!t->path[0])
		return;
	doing("reading ", t->path);
	fd = open(t->path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	if (!t->opened || st.st_ino != t->ino || st.st_dev != t->dev || st.st_size < t->off) {
		/* New, replaced or truncated: read its end (a freshly selected bottle) or all of it (a new file). */
		t->off = !t->opened && st.st_size > (off_t)DASH_TAIL_START ? st.st_size - (off_t)DASH_TAIL_START : 0;
		t->skipping = t->off > 0;
		t->line_len = 0;
		t->ino = st.st_ino;
		t->dev = st.st_dev;
		t->opened = 1;
	}
	if (st.st_size - t->off > (off_t)DASH_READ_MAX) {
		t->off = st.st_size - (off_t)DASH_TAIL_START;
		t->skipping = 1;
		t->line_len = 0;
	}
	while (t->off < st.st_size) {
		ssize_t got = pread(fd, chunk, sizeof chunk, t->off);
		if (got <= 0)
			break;
		tail_feed(d, t, chunk, (size_t)got);
		t->off += got;
	}
	close(fd);
}

/* ---------------------------------------------------------------- bottles and their queues */

static void props_index(struct dash *d)
{
	size_t i;

	d->npending = 0;
	for (i = 0; i < d->props.n && d->npending < DASH_PENDING_MAX; i++)
		if (!strcmp(proposal_get(d->props.docs[i], "status"), "pending"))
			d->pending[d->npending++] = d->props.docs[i];
	/* Keep the same proposal selected when others come and go. */
	for (i = 0; i < d->npending; i++)
		if (!strcmp(proposal_get(d->pending[i], "id"), d->sel_prop_id))
			d->sel_prop = i;
	if (d->sel_prop >= d->npending)
		d->sel_prop = d->npending ? d->npending - 1 : 0;
	snprintf(d->sel_prop_id, sizeof d->sel_prop_id, "%s", d->npending ? proposal_get(d->pending[d->sel_prop], "id") : "");
}

/* The selected bottle changed: follow its logs and queue from scratch. */
static void bottle_select(struct dash *d)
{
	static const char *names[3] = { "egress", "dns", "supervise" };
	size_t i;

	proposal_list_free(&d->props);
	memset(&d->props, 0, sizeof d->props);
	d->npending = d->sel_prop = 0;
	d->sel_prop_id[0] = '\0';
	d->nev = d->ev_scroll = 0;
	d->state_dir[0] = d->qdir[0] = '\0';
	for (i = 0; i < 3; i++) {
		memset(&d->tails[i], 0, offsetof(struct dash_tail, line));
		d->tails[i].name = names[i];
	}
	d->shown_slug[0] = '\0';
	if (!d->nbottles)
		return;
	snprintf(d->sel_slug, sizeof d->sel_slug, "%s", d->bottles[d->sel].slug);
	snprintf(d->shown_slug, sizeof d->shown_slug, "%s", d->sel_slug);
	if (bottle_state_dir(d->sel_slug, d->state_dir, sizeof d->state_dir, NULL) < 0) {
		d->state_dir[0] = '\0';
		return;
	}
	snprintf(d->qdir, sizeof d->qdir, "%s/supervise", d->state_dir);
	for (i = 0; i < 3; i++)
		snprintf(d->tails[i].path, sizeof d->tails[i].path, "%.*s/%s.log", PATH_MAX - 32, d->state_dir,
			 names[i]);
	if (d->nbottles)
		d->queues[d->sel].have = 0; /* read the queue again for the proposals themselves */
}

static void bottles_refresh(struct dash *d)
{
	struct bottle_meta *v = NULL;
	struct dash_queue *q;
	struct bb_err e = { 0 };
	size_t n = 0, i, k, sel = 0;
	int found = 0;

	doing("", "listing bottles");
	if (bottle_meta_list(&v, &n, &e) < 0) {
		snprintf(d->list_err, sizeof d->list_err, "%s", e.msg);
		return; /* keep showing what was there */
	}
	d->list_err[0] = '\0';
	q = calloc(n ? n : 1, sizeof *q);
	if (!q) {
		free(v);
		snprintf(d->list_err, sizeof d->list_err, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < d->nbottles; k++)
			if (!strcmp(d->bottles[k].slug, v[i].slug))
				q[i] = d->queues[k];
		if (!found && !strcmp(v[i].slug, d->sel_slug)) {
			sel = i;
			found = 1;
		}
	}
	if (!found && n) /* the selected one went away (or none was): stay at the same place in the list */
		sel = d->sel < n ? d->sel : n - 1;
	free(d->bottles);
	free(d->queues);
	d->bottles = v;
	d->queues = q;
	d->nbottles = n;
	d->sel = sel;
	/* Follow another bottle's files when the one shown changed (or none was shown yet). */
	if (!n ? d->shown_slug[0] != '\0' : strcmp(d->bottles[sel].slug, d->shown_slug) != 0)
		bottle_select(d);
}

static void queues_refresh(struct dash *d)
{
	size_t i, total = 0;

	for (i = 0; i < d->nbottles; i++) {
		char dir[PATH_MAX], qdir[PATH_MAX + 16];
		struct proposal_list l;
		struct stat st;
		size_t k;

		if (bottle_state_dir(d->bottles[i].slug, dir, sizeof dir, NULL) < 0)
			continue;
		snprintf(qdir, sizeof qdir, "%s/supervise", dir);
		if (stat(qdir, &st) < 0) {
			memset(&d->queues[i], 0, sizeof d->queues[i]);
			if (i == d->sel && d->props.n) {
				proposal_list_free(&d->props);
				memset(&d->props, 0, sizeof d->props);
				props_index(d);
			}
			continue;
		}
		/* A proposal is written by rename into the directory, which changes its mtime: nothing new, no read. */
		if (d->queues[i].have && st.st_mtim.tv_sec == d->queues[i].mtime.tv_sec &&
		    st.st_mtim.tv_nsec == d->queues[i].mtime.tv_nsec) {
			total += d->queues[i].pending;
			continue;
		}
		doing("reading the queue ", qdir);
		if (proposal_list_read(qdir, &l, NULL) < 0)
			continue;
		d->queues[i].have = 1;
		d->queues[i].mtime = st.st_mtim;
		d->queues[i].pending = 0;
		for (k = 0; k < l.n; k++)
			d->queues[i].pending += !strcmp(proposal_get(l.docs[k], "status"), "pending");
		total += d->queues[i].pending;
		if (i == d->sel) {
			proposal_list_free(&d->props);
			d->props = l;
			props_index(d);
		} else {
			proposal_list_free(&l);
		}
	}
	if (d->primed && total > d->total_pending)
		d->bell = 1;
	d->total_pending = total;
}

static void manifest_refresh(struct dash *d)
{
	struct manifest m;
	struct mf_dirs dirs;
	struct bb_err e = { 0 };
	char cwd[PATH_MAX];
	size_t i;

	doing("", "loading manifests");
	memset(&m, 0, sizeof m);
	dirs.home = getenv("BB_HOME");
	if (!dirs.home || !*dirs.home)
		dirs.home = getenv("HOME");
	dirs.cwd = getcwd(cwd, sizeof cwd);
	d->config_err = 1;
	if (!dirs.home || !*dirs.home) {
		snprintf(d->config, sizeof d->config, "config error: neither BB_HOME nor HOME is set");
		return;
	}
	if (manifest_load(&m, &dirs, &e) < 0) {
		snprintf(d->config, sizeof d->config, "config error: %s", e.msg);
		manifest_free(&m);
		return;
	}
	for (i = 0; i < m.ndiags; i++) {
		const struct mf_diag *g = &m.diags[i];
		if (g->warning)
			continue;
		if (g->file && g->line)
			snprintf(d->config, sizeof d->config, "config error: %s:%u: %s (%zu error%s; see bb bottle validate)",
				 g->file, g->line, g->msg, m.nerrors, m.nerrors == 1 ? "" : "s");
		else
			snprintf(d->config, sizeof d->config, "config error: %s%s%s (%zu error%s; see bb bottle validate)",
				 g->file ? g->file : "", g->file ? ": " : "", g->msg, m.nerrors, m.nerrors == 1 ? "" : "s");
		manifest_free(&m);
		return;
	}
	d->config_err = 0;
	snprintf(d->config, sizeof d->config, "manifests: %zu agent%s, %zu bottle%s", m.nagents,
		 m.nagents == 1 ? "" : "s", m.nbottles, m.nbottles == 1 ? "" : "s");
	manifest_free(&m);
}

static void dash_refresh(struct dash *d, int with_manifest)
{
	size_t i;

	d->now = time(NULL);
	bottles_refresh(d);
	queues_refresh(d);
	for (i = 0; i < 3; i++)
		tail_poll(d, &d->tails[i]);
	if (with_manifest)
		manifest_refresh(d);
	d->primed = 1;
	doing("", "waiting");
}

/* ---------------------------------------------------------------- the frame: a pure function of the state */

static const char *const help_text[] = {
	"Keys",
	"  up/down, k/j     select a bottle, a proposal, or scroll the events (the pane marked *)",
	"  tab, shift-tab   switch pane: bottles, proposals, events",
	"  pgup/pgdn        scroll the events a page; home/end: oldest/newest",
	"  a                approve the selected proposal (a question asks for your answer)",
	"  n                approve with a note for the agent",
	"  r                reject: type a note on the bottom line, Enter sends, Esc cancels",
	"  q                quit;  Ctrl-C quits with status 130",
	"",
	"What is shown",
	"  Bottles: every bottle with a meta.json under $BB_HOME/.bb/state, oldest first,",
	"  with how many proposals wait in its supervise queue.",
	"  Proposals: the selected bottle's pending supervise requests and the agent's reason.",
	"  Events: its egress, dns and supervise logs as they grow (allow green, deny red).",
	"  Files are looked at every 500 ms; the manifests every 5 s (errors shown on line 2).",
	"",
	"Press any key to go back.",
};

/* Rows and colours of one pane's header: "* " marks the pane that up/down act on (visible without colour too). */
static int pane_header(struct tui_frame *f, const struct dash *d, enum dash_pane p, const char *title,
		       struct bb_err *e)
{
	unsigned attr = d->focus == p ? TUI_BOLD | TUI_REVERSE : TUI_BOLD;
	if (tui_frame_printf(f, attr, e, "%s %s", d->focus == p ? "*" : " ", title) < 0)
		return -1;
	return tui_frame_end_row(f, attr, e);
}

/* The bottom line's note field: its last columns when the note is longer than the room. */
static int note_field(struct tui_frame *f, const struct dash *d, struct bb_err *e)
{
	const char *p = d->note;
	size_t n = d->note_len;
	int room = tui_frame_cols_left(f) - 1;

	while (n && room > 0 && tui_text_width(p, n) > (size_t)room) {
		do { /* drop one UTF-8 character from the front */
			p++;
			n--;
		} while (n && ((unsigned char)*p & 0xc0) == 0x80);
	}
	if (tui_frame_text(f, 0, p, n, e) < 0)
		return -1;
	return tui_frame_text(f, TUI_REVERSE, " ", 1, e);
}

static int render_bottles(struct tui_frame *f, const struct dash *d, int rows, struct bb_err *e)
{
	size_t first = 0, i;
	char title[96];

	snprintf(title, sizeof title, "Bottles (%zu)", d->nbottles);
	if (pane_header(f, d, PANE_BOTTLES, title, e) < 0)
		return -1;
	if (d->list_err[0]) {
		if (tui_frame_printf(f, TUI_RED, e, "  cannot list bottles: %s", d->list_err) < 0 ||
		    tui_frame_end_row(f, 0, e) < 0)
			return -1;
		rows--;
	}
	if (!d->nbottles) {
		if (tui_frame_printf(f, TUI_DIM, e, "  no bottles (start one with 'bb bottle start' or 'bb bottle run')") <
			    0 ||
		    tui_frame_end_row(f, 0, e) < 0)
			return -1;
		return 0;
	}
	if (rows < 1)
		rows = 1;
	if (d->sel >= (size_t)rows)
		first = d->sel - (size_t)rows + 1;
	for (i = first; i < d->nbottles && i < first + (size_t)rows; i++) {
		const struct bottle_meta *b = &d->bottles[i];
		int sel = i == d->sel;
		unsigned st = !strcmp(b->status, "running") ? TUI_GREEN : !strcmp(b->status, "dead") ? TUI_RED : TUI_DIM;
		char age[24];

		bottle_age(b->started_at, d->now, age, sizeof age);
		if (tui_frame_printf(f, sel ? TUI_BOLD : 0, e, "%s %-24s %-14s ", sel ? ">" : " ", b->slug, b->agent) < 0 ||
		    tui_frame_printf(f, st | (sel ? TUI_BOLD : 0), e, "%-8s", b->status) < 0 ||
		    tui_frame_printf(f, sel ? TUI_BOLD : 0, e, " %-8s %5s", b->backend, age) < 0)
			return -1;
		if (b->bare && tui_frame_text(f, TUI_RED | TUI_BOLD, " BARE", 5, e) < 0)
			return -1;
		if (d->queues[i].pending &&
		    tui_frame_printf(f, TUI_YELLOW | TUI_BOLD, e, "  %zu pending", d->queues[i].pending) < 0)
			return -1;
		if (tui_frame_end_row(f, 0, e) < 0)
			return -1;
	}
	return 0;
}

static int render_proposals(struct tui_frame *f, const struct dash *d, int rows, struct bb_err *e)
{
	size_t first = 0, i;
	char title[160];

	snprintf(title, sizeof title, "Proposals (%zu pending)   a approve  n approve+note  r reject", d->npending);
	if (pane_header(f, d, PANE_PROPOSALS, title, e) < 0)
		return -1;
	if (!d->npending) {
		if (tui_frame_printf(f, TUI_DIM, e, "  no pending proposals") < 0 || tui_frame_end_row(f, 0, e) < 0)
			return -1;
		return 0;
	}
	if (rows < 1)
		rows = 1;
	if (d->sel_prop >= (size_t)rows)
		first = d->sel_prop - (size_t)rows + 1;
	for (i = first; i < d->npending && i < first + (size_t)rows; i++) {
		const cJSON *p = d->pending[i];
		int sel = i == d->sel_prop;
		char what[400], age[24];

		proposal_summary(p, what, sizeof what);
		bottle_age(proposal_get(p, "created"), d->now, age, sizeof age);
		if (tui_frame_printf(f, sel ? TUI_BOLD : 0, e, "%s %s  ", sel ? ">" : " ", proposal_get(p, "id")) < 0 ||
		    tui_frame_printf(f, TUI_YELLOW, e, "%-16s", proposal_get(p, "tool")) < 0 ||
		    tui_frame_printf(f, sel ? TUI_BOLD : 0, e, " %5s  %s", age, what) < 0 || tui_frame_end_row(f, 0, e) < 0)
			return -1;
	}
	/* The selected one's words from the agent, on one line each. */
	if (d->sel_prop < d->npending) {
		const cJSON *req = cJSON_GetObjectItemCaseSensitive(d->pending[d->sel_prop], "request");
		const char *reason = proposal_get(req, "reason"), *question = proposal_get(req, "question");
		if (*question && (tui_frame_printf(f, TUI_CYAN, e, "    question: %s", question) < 0 ||
				  tui_frame_end_row(f, 0, e) < 0))
			return -1;
		if (*reason &&
		    (tui_frame_printf(f, TUI_DIM, e, "    reason: %s", reason) < 0 || tui_frame_end_row(f, 0, e) < 0))
			return -1;
	}
	return 0;
}

static int render_events(struct tui_frame *f, const struct dash *d, int rows, struct bb_err *e)
{
	size_t first, end, i;
	char title[160];

	snprintf(title, sizeof title, "Events: egress, dns, supervise (%zu%s)", d->nev,
		 d->ev_scroll ? ", scrolled back: End returns" : "");
	if (pane_header(f, d, PANE_EVENTS, title, e) < 0)
		return -1;
	if (!d->nev) {
		if (tui_frame_printf(f, TUI_DIM, e, "  no events yet") < 0 || tui_frame_end_row(f, 0, e) < 0)
			return -1;
		return 0;
	}
	if (rows < 1)
		rows = 1;
	end = d->nev - (d->ev_scroll < d->nev ? d->ev_scroll : d->nev - 1);
	if (end < (size_t)rows) /* scrolled to the top: a full page of the oldest */
		end = d->nev < (size_t)rows ? d->nev : (size_t)rows;
	first = end > (size_t)rows ? end - (size_t)rows : 0;
	for (i = first; i < end; i++) {
		const struct dash_event *ev = &d->ev[i];
		const char *clock = strlen(ev->ts) >= 19 ? ev->ts + 11 : "--:--:--";
		if (tui_frame_printf(f, TUI_DIM, e, "  %.8s ", clock) < 0 ||
		    tui_frame_printf(f, TUI_CYAN, e, "%-9s ", ev->src) < 0 ||
		    tui_frame_text(f, ev->attr, ev->text, strlen(ev->text), e) < 0 || tui_frame_end_row(f, 0, e) < 0)
			return -1;
	}
	return 0;
}

/* The whole screen from the state; nothing here reads files or the clock. */
static int dash_render(const struct dash *d, struct buf *out, int width, int height, int color, enum tui_mode mode,
		       struct bb_err *e)
{
	struct tui_frame f;
	int body, bottle_rows, prop_rows, ev_rows;
	size_t i;

	if (tui_frame_begin(&f, out, width, height, color, mode, e) < 0)
		return -1;
	if (tui_frame_printf(&f, TUI_REVERSE | TUI_BOLD, e, " bb dashboard   %zu bottle%s   %zu pending", d->nbottles,
			     d->nbottles == 1 ? "" : "s", d->total_pending) < 0 ||
	    tui_frame_text(&f, TUI_REVERSE, "   ? help  q quit", sizeof "   ? help  q quit" - 1, e) < 0 || tui_frame_end_row(&f, TUI_REVERSE, e) < 0)
		return -1;
	if (tui_frame_text(&f, d->config_err ? TUI_RED | TUI_BOLD : TUI_DIM, d->config, strlen(d->config), e) < 0 ||
	    tui_frame_end_row(&f, 0, e) < 0)
		return -1;
	if (d->help) {
		for (i = 0; i < sizeof help_text / sizeof help_text[0]; i++)
			if (tui_frame_text(&f, i == 0 || i == 9 ? TUI_BOLD : 0, help_text[i], strlen(help_text[i]), e) < 0 ||
			    tui_frame_end_row(&f, 0, e) < 0)
				return -1;
	} else {
		/* Rows: 2 above, 1 below; 3 pane headers and the bottle detail line; the rest shared out. */
		body = height - 3 - 4;
		bottle_rows = (int)d->nbottles < body / 4 ? (int)d->nbottles : body / 4;
		if (bottle_rows < 1)
			bottle_rows = 1;
		prop_rows = (int)d->npending < body / 4 ? (int)d->npending : body / 4;
		if (prop_rows < 1)
			prop_rows = 1;
		if (render_bottles(&f, d, bottle_rows, e) < 0)
			return -1;
		if (d->nbottles) {
			const struct bottle_meta *b = &d->bottles[d->sel];
			if (tui_frame_printf(&f, TUI_DIM, e, "  %s  started %s  pid %d", b->cwd, b->started_at, b->host_pid) <
			    0)
				return -1;
			if (strcmp(b->status, "running") && b->exit_code >= 0 &&
			    tui_frame_printf(&f, TUI_DIM, e, "  exit %d", b->exit_code) < 0)
				return -1;
			if (tui_frame_end_row(&f, 0, e) < 0)
				return -1;
		}
		if (render_proposals(&f, d, prop_rows, e) < 0)
			return -1;
		ev_rows = height - 1 - f.row - 1;
		if (render_events(&f, d, ev_rows, e) < 0)
			return -1;
	}
	/* The bottom line: the note being typed, the last action's result, or the keys. */
	if (mode == TUI_SCREEN)
		while (f.row < height - 1)
			if (tui_frame_end_row(&f, 0, e) < 0)
				return -1;
	if (d->input != INPUT_NONE) {
		const char *label = d->input != INPUT_CHANGE                          ? "note"
				    : !strcmp(d->input_tool, PROPOSAL_TOOL_CRED) ? "credential from host variable"
										 : "at next resume (image=NAME mount=PATH)";
		if (tui_frame_printf(&f, TUI_BOLD, e, "%s %s, %s: ", d->input == INPUT_REJECT ? "reject" : "approve",
				     d->input_id, label) < 0 ||
		    note_field(&f, d, e) < 0)
			return -1;
	} else if (d->message[0]) {
		if (tui_frame_text(&f, d->message_err ? TUI_RED | TUI_BOLD : TUI_GREEN, d->message, strlen(d->message),
				   e) < 0)
			return -1;
	} else {
		static const char keys[] = "up/down select  tab pane  a approve  r reject  ? help  q quit";
		if (tui_frame_text(&f, TUI_DIM, keys, sizeof keys - 1, e) < 0)
			return -1;
	}
	if (tui_frame_end_row(&f, 0, e) < 0)
		return -1;
	return tui_frame_end(&f, e);
}

/* ---------------------------------------------------------------- keys and decisions */

static void dash_decide(struct dash *d, const char *status, const char *note, const struct approval_change *ch)
{
	struct bb_err e = { 0 };
	char what[400], msg[600];
	cJSON *doc = NULL;

	doing("deciding a proposal in ", d->qdir);
	d->message_err = 0;
	if (bottle_decide(d->qdir, d->input_id, status, note && *note ? note : NULL, ch, &doc, msg, sizeof msg, &e) < 0) {
		snprintf(d->message, sizeof d->message, "%s: %s", d->input_id, e.msg);
		d->message_err = 1;
	} else {
		proposal_summary(doc, what, sizeof what);
		snprintf(d->message, sizeof d->message, "%s %s (%s: %.200s)%s%.400s", status, d->input_id,
			 proposal_get(doc, "tool"), what, msg[0] ? ": " : "", msg);
		cJSON_Delete(doc);
	}
	if (d->nbottles)
		d->queues[d->sel].have = 0;
	queues_refresh(d);
}

/* The typed change of a cred or capability approval: a variable name, or image=NAME and mount=PATH words. */
static void decide_change(struct dash *d)
{
	struct approval_change ch = { 0 };
	char *w, *save = NULL;
	for (w = strtok_r(d->note, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (!strcmp(d->input_tool, PROPOSAL_TOOL_CRED) && !ch.token_env)
			ch.token_env = w;
		else if (!strncmp(w, "image=", 6) && !ch.image)
			ch.image = w + 6;
		else if (!strncmp(w, "mount=", 6) && ch.nmounts < APPROVAL_MOUNTS_MAX)
			ch.mounts[ch.nmounts++] = w + 6;
		else {
			snprintf(d->message, sizeof d->message, "%s: '%.60s' is not %s", d->input_id, w,
				 !strcmp(d->input_tool, PROPOSAL_TOOL_CRED) ? "one variable name" : "image=NAME or mount=PATH");
			d->message_err = 1;
			return;
		}
	}
	dash_decide(d, "approved", NULL, &ch);
}

static void input_start(struct dash *d, enum dash_input kind)
{
	if (!d->npending) {
		snprintf(d->message, sizeof d->message, "no pending proposal to decide");
		d->message_err = 1;
		return;
	}
	snprintf(d->input_id, sizeof d->input_id, "%s", proposal_get(d->pending[d->sel_prop], "id"));
	snprintf(d->input_tool, sizeof d->input_tool, "%s", proposal_get(d->pending[d->sel_prop], "tool"));
	if (kind == INPUT_APPROVE && (!strcmp(d->input_tool, PROPOSAL_TOOL_CRED) ||
				      !strcmp(d->input_tool, PROPOSAL_TOOL_CAPABILITY)))
		kind = INPUT_CHANGE; /* an approval of these says what it changes */
	d->input = kind;
	d->note_len = 0;
	d->note[0] = '\0';
	d->message[0] = '\0';
}

static void move_sel(struct dash *d, long delta)
{
	long n, cur;

	if (d->focus == PANE_EVENTS) { /* scrolling back is "up" */
		long s = (long)d->ev_scroll - delta;
		d->ev_scroll = s < 0 ? 0 : (size_t)s >= d->nev ? (d->nev ? d->nev - 1 : 0) : (size_t)s;
		return;
	}
	n = d->focus == PANE_BOTTLES ? (long)d->nbottles : (long)d->npending;
	cur = d->focus == PANE_BOTTLES ? (long)d->sel : (long)d->sel_prop;
	if (!n)
		return;
	cur += delta;
	cur = cur < 0 ? 0 : cur >= n ? n - 1 : cur;
	if (d->focus == PANE_BOTTLES) {
		if ((size_t)cur != d->sel) {
			d->sel = (size_t)cur;
			bottle_select(d);
			queues_refresh(d);
			tail_poll(d, &d->tails[0]);
			tail_poll(d, &d->tails[1]);
			tail_poll(d, &d->tails[2]);
		}
	} else {
		d->sel_prop = (size_t)cur;
		snprintf(d->sel_prop_id, sizeof d->sel_prop_id, "%s", proposal_get(d->pending[d->sel_prop], "id"));
	}
}

/* Apply one key; returns -1 to go on, else the exit status. */
static int dash_key(struct dash *d, const struct tui_key *k, int page)
{
	if (k->kind == TUI_KEY_CTRL_C)
		return 130;
	if (d->help) {
		d->help = 0;
		return -1;
	}
	if (d->input != INPUT_NONE) {
		switch (k->kind) {
		case TUI_KEY_ESC:
			d->input = INPUT_NONE;
			snprintf(d->message, sizeof d->message, "cancelled");
			d->message_err = 0;
			break;
		case TUI_KEY_ENTER:
			d->note[d->note_len] = '\0';
			if (d->input == INPUT_CHANGE)
				decide_change(d);
			else
				dash_decide(d, d->input == INPUT_REJECT ? "rejected" : "approved", d->note, NULL);
			d->input = INPUT_NONE;
			break;
		case TUI_KEY_BACKSPACE:
			while (d->note_len && ((unsigned char)d->note[d->note_len - 1] & 0xc0) == 0x80)
				d->note_len--;
			if (d->note_len)
				d->note_len--;
			d->note[d->note_len] = '\0';
			break;
		case TUI_KEY_CHAR: {
			size_t n = strlen(k->text);
			if (d->note_len + n < sizeof d->note) {
				memcpy(d->note + d->note_len, k->text, n);
				d->note_len += n;
				d->note[d->note_len] = '\0';
			}
			break;
		}
		default: break;
		}
		return -1;
	}
	d->message[0] = '\0';
	switch (k->kind) {
	case TUI_KEY_UP: move_sel(d, -1); break;
	case TUI_KEY_DOWN: move_sel(d, 1); break;
	case TUI_KEY_PGUP: d->focus = PANE_EVENTS; move_sel(d, -page); break;
	case TUI_KEY_PGDN: d->focus = PANE_EVENTS; move_sel(d, page); break;
	case TUI_KEY_HOME: move_sel(d, -(long)DASH_EVENTS_MAX); break;
	case TUI_KEY_END: move_sel(d, DASH_EVENTS_MAX); break;
	case TUI_KEY_TAB: d->focus = (d->focus + 1) % PANE_COUNT; break;
	case TUI_KEY_BACKTAB: d->focus = (d->focus + PANE_COUNT - 1) % PANE_COUNT; break;
	case TUI_KEY_CHAR:
		if (k->text[1])
			break;
		switch (k->text[0]) {
		case 'q': return 0;
		case 'k': move_sel(d, -1); break;
		case 'j': move_sel(d, 1); break;
		case '?': d->help = 1; break;
		case 'r': input_start(d, INPUT_REJECT); break;
		case 'n': input_start(d, INPUT_APPROVE); break;
		case 'a':
			if (d->npending && (!strcmp(proposal_get(d->pending[d->sel_prop], "tool"), PROPOSAL_TOOL_QUESTION) ||
					    !strcmp(proposal_get(d->pending[d->sel_prop], "tool"), PROPOSAL_TOOL_CRED) ||
					    !strcmp(proposal_get(d->pending[d->sel_prop], "tool"), PROPOSAL_TOOL_CAPABILITY))) {
				input_start(d, INPUT_APPROVE); /* a question wants an answer, a credential or capability its change */
			} else if (d->npending) {
				snprintf(d->input_id, sizeof d->input_id, "%s", proposal_get(d->pending[d->sel_prop], "id"));
				dash_decide(d, "approved", NULL, NULL);
			} else {
				snprintf(d->message, sizeof d->message, "no pending proposal to approve");
				d->message_err = 1;
			}
			break;
		default: break;
		}
		break;
	default: break;
	}
	return -1;
}

/* ---------------------------------------------------------------- the interactive loop */

struct dash_ui {
	struct dash *d;
	struct loop loop;
	struct loop_io in_io, sig_io;
	struct loop_timer tick, esc;
	int sfd, ticks, exit_code;
	int width, height, color, clear;
	unsigned char in[256];
	size_t inlen;
	struct buf frames[2]; /* the frame on screen and the next one: nothing is written when they match */
	int shown;
	char fatal[BB_ERR_MSG_MAX + 64];
};

static void ui_fatal(struct dash_ui *u, const char *what, const struct bb_err *e)
{
	snprintf(u->fatal, sizeof u->fatal, "internal error: %s: %s", what, e ? e->msg : strerror(errno));
	u->exit_code = BB_EXIT_SYSTEM;
	loop_stop(&u->loop);
}

static void ui_size(struct dash_ui *u)
{
	struct winsize ws;

	if (ioctl(term.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		u->width = ws.ws_col;
		u->height = ws.ws_row;
	} else {
		u->width = 80;
		u->height = 24;
	}
}

static void ui_draw(struct dash_ui *u)
{
	struct buf *next = &u->frames[!u->shown];
	struct bb_err e = { 0 };

	if (u->exit_code >= 0)
		return;
	doing("", "drawing");
	if (dash_render(u->d, next, u->width, u->height, u->color, TUI_SCREEN, &e) < 0) {
		ui_fatal(u, "drawing the screen", &e);
		return;
	}
	if (u->d->bell && fd_write_all(term.fd, "\a", 1) < 0)
		goto gone;
	u->d->bell = 0;
	if (!u->clear && next->len == u->frames[u->shown].len && !memcmp(next->p, u->frames[u->shown].p, next->len))
		return;
	if (u->clear && fd_write_all(term.fd, "\x1b[H\x1b[2J", 7) < 0)
		goto gone;
	u->clear = 0;
	if (out_write_raw(term.fd, next->p, next->len) < 0)
		goto gone;
	u->shown = !u->shown;
	doing("", "waiting");
	return;
gone: /* the terminal went away (EIO): nothing left to show anything on */
	u->exit_code = BB_EXIT_FAIL;
	loop_stop(&u->loop);
}

static void ui_keys(struct dash_ui *u, int final)
{
	struct tui_key k;
	size_t used, at = 0;
	int rc;

	while (at < u->inlen && u->exit_code < 0) {
		used = tui_key_decode(u->in + at, u->inlen - at, final, &k);
		if (!used)
			break;
		at += used;
		doing("", "handling a key");
		rc = dash_key(u->d, &k, u->height / 2);
		if (rc >= 0) {
			u->exit_code = rc;
			loop_stop(&u->loop);
		}
	}
	memmove(u->in, u->in + at, u->inlen - at);
	u->inlen -= at;
	if (u->inlen && !final) { /* the start of a key: wait a moment for the rest */
		struct bb_err e = { 0 };
		if (loop_timer_set(&u->loop, &u->esc, DASH_ESC_MS, &e) < 0)
			ui_fatal(u, "arming a timer", &e);
	}
}

static void on_input(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct dash_ui *u = io->arg;
	ssize_t got;

	(void)l;
	got = read(io->fd, u->in + u->inlen, sizeof u->in - u->inlen);
	if (got <= 0) {
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		u->exit_code = BB_EXIT_FAIL; /* the terminal hung up */
		loop_stop(&u->loop);
		return;
	}
	u->inlen += (size_t)got;
	loop_timer_cancel(&u->loop, &u->esc);
	ui_keys(u, u->inlen == sizeof u->in);
	ui_draw(u);
}

static void on_esc_timer(struct loop *l, struct loop_timer *t)
{
	struct dash_ui *u = t->arg;
	(void)l;
	ui_keys(u, 1);
	ui_draw(u);
}

static void on_tick(struct loop *l, struct loop_timer *t)
{
	struct dash_ui *u = t->arg;
	struct bb_err e = { 0 };

	u->ticks++;
	dash_refresh(u->d, u->ticks % DASH_MANIFEST_TICKS == 0);
	ui_draw(u);
	if (u->exit_code < 0 && loop_timer_set(l, t, DASH_TICK_MS, &e) < 0)
		ui_fatal(u, "arming the tick", &e);
}

static void on_signal(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct dash_ui *u = io->arg;
	struct signalfd_siginfo si;

	(void)l;
	while (read(io->fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGWINCH) {
			ui_size(u);
			u->clear = 1;
			ui_draw(u);
			continue;
		}
		u->exit_code = si.ssi_signo == SIGINT ? 130 : 128 + (int)si.ssi_signo;
		loop_stop(&u->loop);
		return;
	}
}

static int dash_interactive(struct dash *d)
{
	static struct dash_ui ui;
	struct dash_ui *u = &ui;
	struct bb_err e = { 0 };
	sigset_t set, old;
	int rc;

	if (!isatty(0) || !isatty(1)) {
		err_printf("dashboard: needs a terminal on stdin and stdout (for a script, use --once)");
		return BB_EXIT_USAGE;
	}
	memset(u, 0, sizeof *u);
	u->d = d;
	u->exit_code = -1;
	u->sfd = -1;
	u->color = !getenv("NO_COLOR") || !*getenv("NO_COLOR");
	buf_init(&u->frames[0], DASH_FRAME_MAX);
	buf_init(&u->frames[1], DASH_FRAME_MAX);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0 || (u->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		err_printf("dashboard: signalfd: %s", strerror(errno));
		return BB_EXIT_SYSTEM;
	}
	if (loop_init(&u->loop, &e) < 0) {
		err_printf("dashboard: %s", e.msg);
		close(u->sfd);
		return BB_EXIT_SYSTEM;
	}
	if (term_raw(1, &e) < 0) {
		err_printf("dashboard: %s", e.msg);
		loop_fini(&u->loop);
		close(u->sfd);
		return BB_EXIT_SYSTEM;
	}
	ui_size(u);
	loop_timer_init(&u->tick, on_tick, u);
	loop_timer_init(&u->esc, on_esc_timer, u);
	if (loop_io_add(&u->loop, &u->in_io, 0, EPOLLIN, on_input, u, &e) < 0 ||
	    loop_io_add(&u->loop, &u->sig_io, u->sfd, EPOLLIN, on_signal, u, &e) < 0 ||
	    loop_timer_set(&u->loop, &u->tick, DASH_TICK_MS, &e) < 0) {
		ui_fatal(u, "starting the event loop", &e);
	} else {
		ui_draw(u);
		if (u->exit_code < 0 && loop_run(&u->loop, &e) < 0)
			ui_fatal(u, "the event loop", &e);
	}
	term_restore();
	rc = u->exit_code < 0 ? BB_EXIT_OK : u->exit_code;
	if (u->fatal[0]) {
		crash_log_write(u->fatal);
		rc = BB_EXIT_SYSTEM;
	}
	if (u->in_io.registered_)
		loop_io_del(&u->loop, &u->in_io);
	if (u->sig_io.registered_)
		loop_io_del(&u->loop, &u->sig_io);
	loop_timer_cancel(&u->loop, &u->tick);
	loop_timer_cancel(&u->loop, &u->esc);
	loop_fini(&u->loop);
	close(u->sfd);
	buf_free(&u->frames[0]);
	buf_free(&u->frames[1]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---------------------------------------------------------------- the command */

static int size_arg(const char *s, const char *what, int *out)
{
	uint64_t v;

	if (sv_to_u64(sv_from(s), 10000, &v, NULL) < 0 || v < 10)
		return applet_usage_error(usage, "%s must be a number from 10 to 10000, not '%s'", what, s);
	*out = (int)v;
	return 0;
}

static int env_size(const char *name, int dflt)
{
	const char *s = getenv(name);
	uint64_t v;

	if (s && sv_to_u64(sv_from(s), 10000, &v, NULL) == 0 && v >= 10)
		return (int)v;
	return dflt;
}

int bottle_dashboard(int argc, char **argv)
{
	static struct dash dash;
	static struct dash_event events[DASH_EVENTS_MAX];
	struct dash *d = &dash;
	struct opt o;
	char root[PATH_MAX];
	const char *want = NULL;
	int c, code, once = 0, width = 0, height = 0, rc;
	size_t i;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)o(once)W:(width)H:(height)", usage, &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT: return code;
		case 'o': once = 1; break;
		case 'W':
			if (size_arg(o.arg, "--width", &width) != 0)
				return BB_EXIT_USAGE;
			break;
		case 'H':
			if (size_arg(o.arg, "--height", &height) != 0)
				return BB_EXIT_USAGE;
			break;
		default: return applet_usage_error(usage, "unexpected option");
		}
	}
	if (o.ind < argc)
		want = argv[o.ind++];
	if (o.ind < argc)
		return applet_usage_error(usage, "unexpected argument '%s'", argv[o.ind]);

	memset(d, 0, sizeof *d);
	d->ev = events;
	if (bottle_state_root(root, sizeof root, 0, NULL) == 0)
		snprintf(term.crash_path, sizeof term.crash_path, "%.*s/dashboard-crash.log", PATH_MAX - 32, root);
	fatal_signals_install();
	if (want)
		snprintf(d->sel_slug, sizeof d->sel_slug, "%s", want);
	dash_refresh(d, 1);
	if (want) {
		for (i = 0; i < d->nbottles && strcmp(d->bottles[i].slug, want); i++)
			;
		if (i == d->nbottles) {
			err_printf("dashboard: no bottle '%s' (see 'bb bottle list')", want);
			rc = BB_EXIT_FAIL;
			goto out;
		}
	}
	if (once) {
		struct buf b = BUF_INIT(DASH_FRAME_MAX);
		struct bb_err e = { 0 };
		struct winsize ws;
		int tty = isatty(1), have_ws = tty && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row;

		if (!width)
			width = have_ws ? ws.ws_col : env_size("COLUMNS", 100);
		if (!height)
			height = have_ws ? ws.ws_row : env_size("LINES", 40);
		if (dash_render(d, &b, width, height, tty && (!getenv("NO_COLOR") || !*getenv("NO_COLOR")), TUI_PLAIN,
				&e) < 0) {
			err_printf("dashboard: %s", e.msg);
			rc = BB_EXIT_SYSTEM;
		} else {
			rc = out_write_raw(1, b.p, b.len) < 0 ? BB_EXIT_SYSTEM : BB_EXIT_OK;
		}
		buf_free(&b);
	} else {
		rc = dash_interactive(d);
	}
out:
	proposal_list_free(&d->props);
	free(d->bottles);
	free(d->queues);
	return rc;
}
