/* sess.c - TLS session resumption in egress: the agent side's cache (egress as server) and the upstream side's (egress as client). */
#include <string.h>
#include <strings.h>

#include "egress.h"

/*
 * Hash a host name or SNI lower-cased, with its terminating NUL, so
 * "API.test" and "api.test" are one name and "a" + "b.c" differs from
 * "ab" + ".c".
 */
static void hash_name(br_sha256_context *h, const char *name)
{
	unsigned char low[64];
	size_t n = 0;

	for (;; name++) {
		unsigned char ch = (unsigned char)*name;

		low[n++] = ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
		if (!ch || n == sizeof low) {
			br_sha256_update(h, low, n);
			n = 0;
		}
		if (!ch)
			break;
	}
}

static void hash_port(br_sha256_context *h, uint16_t port)
{
	unsigned char p[2] = { (unsigned char)(port >> 8), (unsigned char)port };

	br_sha256_update(h, p, sizeof p);
}

/* ---------- agent side ---------- */

/* Where the agent's session with ID id, made under server name sni for the CONNECT target of c, is kept. */
static void agent_key(const struct conn *c, const char *sni, const unsigned char id[32], unsigned char out[32])
{
	static const char tag[] = "bb egress agent session";
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, tag, sizeof tag);
	hash_name(&h, c->connect_host);
	hash_port(&h, c->connect_port);
	hash_name(&h, sni);
	br_sha256_update(&h, id, 32);
	br_sha256_out(&h, out);
}

static void agent_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
		       const br_ssl_session_parameters *p)
{
	struct eg_sess_agent *s = (struct eg_sess_agent *)(void *)ctx;
	const struct eg_tls_server *t = (const struct eg_tls_server *)(void *)sc;
	br_ssl_session_parameters k = *p;

	/* The ClientHello is read whole before a session is saved: its SNI is known here. */
	agent_key(t->conn, br_ssl_engine_get_server_name(&sc->eng), p->session_id, k.session_id);
	s->lru.vtable->save(&s->lru.vtable, sc, &k);
	explicit_bzero(&k, sizeof k);
}

/*
 * BearSSL looks the session up before it reads the ClientHello's
 * extensions, so the agent's SNI is not known yet. A session can only
 * ever pass check_sni under the CONNECT host's name or none, so those
 * are the two keys tried; which one matched is checked against the SNI
 * after the handshake (eg_sess_agent_check).
 */
static int agent_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
		      br_ssl_session_parameters *p)
{
	struct eg_sess_agent *s = (struct eg_sess_agent *)(void *)ctx;
	struct eg_tls_server *t = (struct eg_tls_server *)(void *)sc;
	const char *names[2] = { t->conn->connect_host, "" };
	br_ssl_session_parameters k;
	int i;

	for (i = 0; i < 2; i++) {
		k = *p;
		agent_key(t->conn, names[i], p->session_id, k.session_id);
		if (s->lru.vtable->load(&s->lru.vtable, sc, &k)) {
			p->version = k.version;
			p->cipher_suite = k.cipher_suite;
			memcpy(p->master_secret, k.master_secret, sizeof p->master_secret);
			explicit_bzero(&k, sizeof k);
			t->resume_sni = i + 1;
			memcpy(t->resume_id, p->session_id, sizeof t->resume_id);
			return 1;
		}
	}
	explicit_bzero(&k, sizeof k);
	return 0;
}

static const br_ssl_session_cache_class agent_cache_class = {
	sizeof(struct eg_sess_agent), agent_save, agent_load
};

void eg_sess_agent_attach(struct egress *eg, struct eg_tls_server *t)
{
	struct eg_sess_agent *s = &eg->sess_agent;
	uint64_t now = loop_now(&eg->loop);

	/* BearSSL's LRU has no expiry: the whole of it is dropped at once when it is old enough. */
	if (!s->ready || now - s->born_ms >= EG_SESS_LIFE_MS) {
		explicit_bzero(s->store, sizeof s->store);
		br_ssl_session_cache_lru_init(&s->lru, s->store, sizeof s->store);
		s->vtable = &agent_cache_class;
		s->born_ms = now;
		s->ready = 1;
	}
	t->resume_sni = 0;
	br_ssl_server_set_cache(&t->sc, &s->vtable);
}

int eg_sess_agent_check(const struct eg_tls_server *t, const char *sni)
{
	br_ssl_session_parameters p;
	int resumed;

	if (!t->resume_sni)
		return 0;
	/* Found is not resumed: BearSSL falls back to a full handshake (a new ID) when the suite or version no longer fit. */
	br_ssl_engine_get_session_parameters(&t->sc.eng, &p);
	resumed = memcmp(p.session_id, t->resume_id, sizeof t->resume_id) == 0;
	explicit_bzero(&p, sizeof p);
	if (!resumed)
		return 0;
	if (!sni)
		sni = "";
	return strcasecmp(sni, t->resume_sni == 1 ? t->conn->connect_host : "") == 0 ? 0 : -1;
}

/* ---------- upstream side ---------- */

static void up_key(const struct conn *c, unsigned char out[32])
{
	static const char tag[] = "bb egress upstream session";
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, tag, sizeof tag);
	hash_name(&h, c->host);
	hash_port(&h, c->port);
	hash_name(&h, c->route ? c->route->host : "");
	br_sha256_out(&h, out);
}

static struct eg_sess_up *up_find(struct egress *eg, const unsigned char key[32])
{
	uint64_t now = loop_now(&eg->loop);
	size_t i;

	for (i = 0; i < EG_SESS_UP_MAX; i++) {
		struct eg_sess_up *u = &eg->sess_up[i];

		if (!u->live || memcmp(u->key, key, 32))
			continue;
		if (now - u->born_ms >= EG_SESS_LIFE_MS) {
			explicit_bzero(u, sizeof *u);
			return NULL;
		}
		return u;
	}
	return NULL;
}

int eg_sess_up_reset(struct egress *eg, const struct conn *c, struct eg_tls_client *t)
{
	struct eg_sess_up *u;

	up_key(c, t->key);
	u = up_find(eg, t->key);
	t->offered = u != NULL;
	t->saved = 0;
	if (u) {
		u->used = ++eg->sess_up_tick;
		br_ssl_engine_set_session_parameters(&t->sc.eng, &u->p);
	}
	return br_ssl_client_reset(&t->sc, c->host, t->offered) ? 0 : -1;
}

void eg_sess_up_save(struct egress *eg, struct eg_tls_client *t)
{
	br_ssl_session_parameters p;
	struct eg_sess_up *u;
	size_t i;

	t->saved = 1;
	br_ssl_engine_get_session_parameters(&t->sc.eng, &p);
	u = up_find(eg, t->key);
	if (p.session_id_len == 0) { /* the server keeps no sessions: nothing to offer next time */
		if (u)
			explicit_bzero(u, sizeof *u);
		explicit_bzero(&p, sizeof p);
		return;
	}
	if (u && u->p.session_id_len == p.session_id_len && !memcmp(u->p.session_id, p.session_id, p.session_id_len)) {
		explicit_bzero(&p, sizeof p); /* resumed: the session keeps its age */
		return;
	}
	for (i = 0; !u && i < EG_SESS_UP_MAX; i++) /* a free slot */
		if (!eg->sess_up[i].live)
			u = &eg->sess_up[i];
	if (!u) { /* else the least recently used */
		u = &eg->sess_up[0];
		for (i = 1; i < EG_SESS_UP_MAX; i++)
			if (eg->sess_up[i].used < u->used)
				u = &eg->sess_up[i];
	}
	memcpy(u->key, t->key, sizeof u->key);
	u->p = p;
	u->born_ms = loop_now(&eg->loop);
	u->used = ++eg->sess_up_tick;
	u->live = 1;
	explicit_bzero(&p, sizeof p);
}

void eg_sess_up_end(struct egress *eg, struct eg_tls_client *t)
{
	struct eg_sess_up *u;

	if (!t->offered || t->saved)
		return;
	u = up_find(eg, t->key);
	if (u)
		explicit_bzero(u, sizeof *u);
}
