/*
 * it_stats: GET /stats, GET /metrics and GET / against the real server over
 * loopback. The tests create groups, join members, send messages, close
 * connections in every way that has its own close code and join past the
 * member cap, then require /stats to show exactly that and /metrics to show
 * the same figures. Only groups with members are listed, at most
 * --stats-groups of them, with exact totals; creates past --max-groups
 * get 503. Counters are updated by other threads a moment after a
 * client sees the effect, so expectations are polled with a deadline.
 *
 * Both documents are read by strict parsers written here: a JSON parser
 * that decodes every escape, and a checker for the Prometheus text format
 * 0.0.4 (names, labels and their escapes, values, a # TYPE before every
 * family's samples, families kept together, no duplicate series). The
 * checker has a test of its own that feeds it malformed text.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/config.h"
#include "groupchat/core/buf.h"
#include "groupchat/core/utf8.h"
#include "groupchat/web/webui.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/test_main.h"

static int port;

static void
setup(void)
{
	port = itf_up(NULL);
}

static void
teardown(void)
{
	itf_down();
}

/* ---- a strict JSON parser -------------------------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	double num;         /* J_NUM; J_BOOL: 0 or 1 */
	struct buf str;     /* J_STR: the decoded bytes */
	struct buf key;     /* a member of an object: its decoded key */
	struct jval *kids;  /* J_ARR, J_OBJ */
	size_t n;
};

struct jparse {
	const char *p, *end;
	const char *err;
};

static int
jfail(struct jparse *jp, const char *why)
{
	if (jp->err == NULL)
		jp->err = why;
	return -1;
}

static void
jskip(struct jparse *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' ||
	    *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static void
jfree(struct jval *v)
{
	for (size_t i = 0; i < v->n; i++)
		jfree(&v->kids[i]);
	free(v->kids);
	buf_free(&v->str);
	buf_free(&v->key);
}

static int
jhex4(struct jparse *jp, uint32_t *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++, jp->p++) {
		char c = jp->p < jp->end ? *jp->p : 0;
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
		    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return jfail(jp, "bad \\u escape");
		*out = *out << 4 | (uint32_t)d;
	}
	return 0;
}

static int
jput_utf8(struct buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xC0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xE0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xF0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_append(b, u, n);
}

static int
jescape(struct jparse *jp, struct buf *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	uint32_t cp, lo;

	if (jp->p >= jp->end)
		return jfail(jp, "unterminated escape");
	if (*jp->p != 'u') {
		if (*jp->p == '\0' || (e = strchr(from, *jp->p)) == NULL)
			return jfail(jp, "bad escape");
		jp->p++;
		return buf_append(out, &to[e - from], 1);
	}
	jp->p++;
	if (jhex4(jp, &cp) == -1)
		return -1;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return jfail(jp, "lone low surrogate");
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (jp->end - jp->p < 2 || jp->p[0] != '\\' || jp->p[1] != 'u')
			return jfail(jp, "lone high surrogate");
		jp->p += 2;
		if (jhex4(jp, &lo) == -1)
			return -1;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return jfail(jp, "bad surrogate pair");
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	return jput_utf8(out, cp);
}

static int
jstring(struct jparse *jp, struct buf *out)
{
	uint32_t cp;
	size_t n;

	if (jp->p >= jp->end || *jp->p != '"')
		return jfail(jp, "string expected");
	jp->p++;
	for (;;) {
		if (jp->p >= jp->end)
			return jfail(jp, "unterminated string");
		uint8_t c = (uint8_t)*jp->p;
		if (c == '"') {
			jp->p++;
			return 0;
		}
		if (c < 0x20)
			return jfail(jp, "raw control character in a string");
		if (c == '\\') {
			jp->p++;
			if (jescape(jp, out) == -1)
				return jfail(jp, "out of memory");
			continue;
		}
		n = 1;
		if (c >= 0x80 && (n = utf8_decode((const uint8_t *)jp->p,
		    (size_t)(jp->end - jp->p), &cp)) == 0)
			return jfail(jp, "invalid UTF-8 in a string");
		if (buf_append(out, jp->p, n) == -1)
			return jfail(jp, "out of memory");
		jp->p += n;
	}
}

static int
jdigits(struct jparse *jp)
{
	const char *s = jp->p;

	while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
		jp->p++;
	return jp->p > s ? 0 : jfail(jp, "digit expected");
}

static int
jnumber(struct jparse *jp, double *out)
{
	const char *s = jp->p;
	char tmp[64];

	if (jp->p < jp->end && *jp->p == '-')
		jp->p++;
	if (jp->p < jp->end && *jp->p == '0')
		jp->p++;
	else if (jdigits(jp) == -1)
		return -1;
	if (jp->p < jp->end && *jp->p == '.') {
		jp->p++;
		if (jdigits(jp) == -1)
			return -1;
	}
	if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
		jp->p++;
		if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
			jp->p++;
		if (jdigits(jp) == -1)
			return -1;
	}
	if ((size_t)(jp->p - s) >= sizeof(tmp))
		return jfail(jp, "number too long");
	memcpy(tmp, s, (size_t)(jp->p - s));
	tmp[jp->p - s] = '\0';
	*out = strtod(tmp, NULL);
	return 0;
}

static struct jval *
jadd(struct jval *v)
{
	struct jval *k = realloc(v->kids, (v->n + 1) * sizeof(*k));

	if (k == NULL)
		return NULL;
	v->kids = k;
	k = &v->kids[v->n++];
	memset(k, 0, sizeof(*k));
	buf_init(&k->str, 0);
	buf_init(&k->key, 0);
	return k;
}

static int jvalue(struct jparse *jp, struct jval *v);

/* An array or object after its opening bracket. */
static int
jcontainer(struct jparse *jp, struct jval *v, char close)
{
	struct jval *k;

	jskip(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		return 0;
	}
	for (;;) {
		if ((k = jadd(v)) == NULL)
			return jfail(jp, "out of memory");
		jskip(jp);
		if (close == '}') {
			if (jstring(jp, &k->key) == -1)
				return -1;
			jskip(jp);
			if (jp->p >= jp->end || *jp->p++ != ':')
				return jfail(jp, "':' expected");
		}
		if (jvalue(jp, k) == -1)
			return -1;
		jskip(jp);
		if (jp->p >= jp->end)
			return jfail(jp, "unterminated array or object");
		if (*jp->p == close) {
			jp->p++;
			return 0;
		}
		if (*jp->p++ != ',')
			return jfail(jp, "',' expected");
	}
}

static int
jword(struct jparse *jp, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, w, n) != 0)
		return jfail(jp, "unexpected character");
	jp->p += n;
	return 0;
}

static int
jvalue(struct jparse *jp, struct jval *v)
{
	jskip(jp);
	if (jp->p >= jp->end)
		return jfail(jp, "value expected");
	switch (*jp->p) {
	case '{':
		jp->p++;
		v->type = J_OBJ;
		return jcontainer(jp, v, '}');
	case '[':
		jp->p++;
		v->type = J_ARR;
		return jcontainer(jp, v, ']');
	case '"':
		v->type = J_STR;
		return jstring(jp, &v->str);
	case 't':
		v->type = J_BOOL;
		v->num = 1;
		return jword(jp, "true");
	case 'f':
		v->type = J_BOOL;
		return jword(jp, "false");
	case 'n':
		v->type = J_NULL;
		return jword(jp, "null");
	default:
		v->type = J_NUM;
		return jnumber(jp, &v->num);
	}
}

/* Parses the whole of text into *v (free with jfree). NULL, or what is
 * wrong. */
static const char *
jparse(const char *text, size_t len, struct jval *v)
{
	struct jparse jp = { text, text + len, NULL };

	memset(v, 0, sizeof(*v));
	buf_init(&v->str, 0);
	buf_init(&v->key, 0);
	if (jvalue(&jp, v) == 0) {
		jskip(&jp);
		if (jp.p != jp.end)
			jfail(&jp, "text after the value");
	}
	return jp.err;
}

static struct jval *
jget(struct jval *o, const char *key)
{
	size_t n = strlen(key);

	if (o == NULL || o->type != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (o->kids[i].key.len == n && memcmp(o->kids[i].key.data, key, n) == 0)
			return &o->kids[i];
	return NULL;
}

/* The number (or boolean as 0/1) at a dot-separated path, NAN if none. */
static double
jnum(struct jval *o, const char *path)
{
	char seg[64];
	const char *p = path, *dot;

	while (o != NULL) {
		dot = strchr(p, '.');
		size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		ck_assert(n < sizeof(seg));
		memcpy(seg, p, n);
		seg[n] = '\0';
		o = jget(o, seg);
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	return o != NULL && (o->type == J_NUM || o->type == J_BOOL) ? o->num : NAN;
}

/* The entry of root.groups whose decoded id is id/len, or NULL. */
static struct jval *
jgroup(struct jval *root, const void *id, size_t len)
{
	struct jval *gs = jget(root, "groups"), *gid;

	if (gs == NULL || gs->type != J_ARR)
		return NULL;
	for (size_t i = 0; i < gs->n; i++) {
		gid = jget(&gs->kids[i], "id");
		if (gid != NULL && gid->type == J_STR && gid->str.len == len &&
		    memcmp(gid->str.data, id, len) == 0)
			return &gs->kids[i];
	}
	return NULL;
}

/* ---- a Prometheus text format 0.0.4 checker -------------------------- */

#define P_MAXLABELS 4

struct plabel {
	char name[64];
	struct buf value;   /* unescaped */
};

struct psample {
	char name[128];
	struct plabel label[P_MAXLABELS];
	size_t nlabel;
	double value;
	size_t family;      /* index into pdoc.fam */
};

struct pfamily {
	char name[128];
	char type[16];
	int help;
	int samples;        /* how many so far */
};

struct pdoc {
	struct psample *s;
	size_t n;
	struct pfamily *fam;
	size_t nfam;
	char err[256];
};

static void
pfree(struct pdoc *d)
{
	for (size_t i = 0; i < d->n; i++)
		for (size_t j = 0; j < d->s[i].nlabel; j++)
			buf_free(&d->s[i].label[j].value);
	free(d->s);
	free(d->fam);
}

static int
pfail(struct pdoc *d, int line, const char *what, const char *p, size_t n)
{
	if (d->err[0] == '\0')
		snprintf(d->err, sizeof(d->err), "line %d: %s: \"%.*s\"", line, what,
		    (int)(n > 80 ? 80 : n), p);
	return -1;
}

/* Reads a name of the given character classes at *p into out. */
static int
pname(const char **p, const char *end, char *out, size_t outlen, int colon)
{
	const char *s = *p;
	size_t n;

	while (*p < end) {
		char c = **p;
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (colon && c == ':');
		if (!alpha && !(*p > s && c >= '0' && c <= '9'))
			break;
		(*p)++;
	}
	n = (size_t)(*p - s);
	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static void
pblanks(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

static struct pfamily *
pfamily(struct pdoc *d, const char *name, int create)
{
	struct pfamily *f;

	for (size_t i = 0; i < d->nfam; i++)
		if (strcmp(d->fam[i].name, name) == 0)
			return &d->fam[i];
	if (!create || (f = realloc(d->fam, (d->nfam + 1) * sizeof(*f))) == NULL)
		return NULL;
	d->fam = f;
	f = &d->fam[d->nfam++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	return f;
}

/* "# HELP name text" or "# TYPE name type"; other comments are ignored. */
static int
pcomment(struct pdoc *d, int ln, const char *p, const char *end)
{
	static const char *const types[] = { "counter", "gauge", "histogram",
	    "summary", "untyped" };
	const char *line = p;
	char word[8], name[128];
	struct pfamily *f;
	size_t i;

	p++;
	pblanks(&p, end);
	if (pname(&p, end, word, sizeof(word), 0) == -1 ||
	    (strcmp(word, "HELP") != 0 && strcmp(word, "TYPE") != 0))
		return 0;
	pblanks(&p, end);
	if (pname(&p, end, name, sizeof(name), 1) == -1 ||
	    (p < end && *p != ' ' && *p != '\t'))
		return pfail(d, ln, "bad metric name", line, (size_t)(end - line));
	pblanks(&p, end);
	if ((f = pfamily(d, name, 1)) == NULL)
		return pfail(d, ln, "out of memory", line, 0);
	if (word[0] == 'H') {
		if (f->help++)
			return pfail(d, ln, "second HELP", line, (size_t)(end - line));
		for (; p < end; p++)
			if (*p == '\\' && (p + 1 == end || (p[1] != '\\' && p[1] != 'n')))
				return pfail(d, ln, "bad escape in HELP", line, (size_t)(end - line));
			else if (*p == '\\')
				p++;
		return 0;
	}
	if (f->type[0] != '\0')
		return pfail(d, ln, "second TYPE", line, (size_t)(end - line));
	if (f->samples)
		return pfail(d, ln, "TYPE after samples", line, (size_t)(end - line));
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((size_t)(end - p) == strlen(types[i]) && memcmp(p, types[i], (size_t)(end - p)) == 0)
			break;
	if (i == sizeof(types) / sizeof(types[0]))
		return pfail(d, ln, "unknown type", line, (size_t)(end - line));
	snprintf(f->type, sizeof(f->type), "%s", types[i]);
	return 0;
}

/* A quoted label value at *p, unescaped into out. */
static int
plabel_value(const char **p, const char *end, struct buf *out)
{
	if (*p >= end || **p != '"')
		return -1;
	for ((*p)++; *p < end && **p != '"'; (*p)++) {
		char c = **p;
		if (c == '\\') {
			if (++*p >= end)
				return -1;
			c = **p == 'n' ? '\n' : **p;
			if (c != '\\' && c != '"' && c != '\n')
				return -1;
		}
		if (buf_append(out, &c, 1) == -1)
			return -1;
	}
	if (*p >= end || !utf8_valid(out->data, out->len))
		return -1;
	(*p)++;
	return 0;
}

static int
plabels(struct pdoc *d, int ln, struct psample *s, const char **p,
    const char *end, const char *line)
{
	(*p)++;
	for (;;) {
		pblanks(p, end);
		if (*p < end && **p == '}')
			break;
		if (s->nlabel == P_MAXLABELS)
			return pfail(d, ln, "too many labels for this checker", line, (size_t)(end - line));
		struct plabel *l = &s->label[s->nlabel++];
		buf_init(&l->value, 0);
		if (pname(p, end, l->name, sizeof(l->name), 0) == -1 ||
		    strncmp(l->name, "__", 2) == 0)
			return pfail(d, ln, "bad label name", line, (size_t)(end - line));
		for (size_t j = 0; j + 1 < s->nlabel; j++)
			if (strcmp(s->label[j].name, l->name) == 0)
				return pfail(d, ln, "label given twice", line, (size_t)(end - line));
		pblanks(p, end);
		if (*p >= end || **p != '=')
			return pfail(d, ln, "'=' expected", line, (size_t)(end - line));
		(*p)++;
		pblanks(p, end);
		if (plabel_value(p, end, &l->value) == -1)
			return pfail(d, ln, "bad label value", line, (size_t)(end - line));
		pblanks(p, end);
		if (*p < end && **p == ',') {
			(*p)++;
			continue;
		}
		if (*p >= end || **p != '}')
			return pfail(d, ln, "',' or '}' expected", line, (size_t)(end - line));
		break;
	}
	(*p)++;
	return 0;
}

static int
pvalue(const char *p, size_t n, double *v)
{
	char tmp[64], *e;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (strcmp(tmp, "+Inf") == 0 || strcmp(tmp, "-Inf") == 0 || strcmp(tmp, "NaN") == 0) {
		*v = strtod(tmp, NULL);
		return 0;
	}
	*v = strtod(tmp, &e);
	/* strtod also takes hex, "inf" and "nan", which the format does not. */
	return *e == '\0' && strpbrk(tmp, "xXiInN") == NULL ? 0 : -1;
}

static int
same_series(const struct psample *a, const struct psample *b)
{
	if (strcmp(a->name, b->name) != 0 || a->nlabel != b->nlabel)
		return 0;
	for (size_t i = 0; i < a->nlabel; i++) {
		size_t j;
		for (j = 0; j < b->nlabel; j++)
			if (strcmp(a->label[i].name, b->label[j].name) == 0)
				break;
		if (j == b->nlabel || a->label[i].value.len != b->label[j].value.len ||
		    memcmp(a->label[i].value.data, b->label[j].value.data,
		    a->label[i].value.len) != 0)
			return 0;
	}
	return 1;
}

static int
psample_line(struct pdoc *d, int ln, const char *p, const char *end, size_t *last)
{
	const char *line = p, *v;
	struct psample *s;
	struct pfamily *f;

	if ((s = realloc(d->s, (d->n + 1) * sizeof(*s))) == NULL)
		return pfail(d, ln, "out of memory", line, 0);
	d->s = s;
	s = &d->s[d->n++];
	memset(s, 0, sizeof(*s));
	if (pname(&p, end, s->name, sizeof(s->name), 1) == -1)
		return pfail(d, ln, "bad metric name", line, (size_t)(end - line));
	if (p < end && *p == '{' && plabels(d, ln, s, &p, end, line) == -1)
		return -1;
	if (p >= end || (*p != ' ' && *p != '\t'))
		return pfail(d, ln, "blank before the value expected", line, (size_t)(end - line));
	pblanks(&p, end);
	for (v = p; p < end && *p != ' ' && *p != '\t'; p++)
		;
	if (pvalue(v, (size_t)(p - v), &s->value) == -1)
		return pfail(d, ln, "bad value", line, (size_t)(end - line));
	pblanks(&p, end);
	if (p < end) {
		/* An optional timestamp: an integer in milliseconds. */
		if (*p == '-')
			p++;
		for (v = p; p < end && *p >= '0' && *p <= '9'; p++)
			;
		if (p == v || p != end)
			return pfail(d, ln, "bad timestamp", line, (size_t)(end - line));
	}
	if ((f = pfamily(d, s->name, 0)) == NULL || f->type[0] == '\0')
		return pfail(d, ln, "sample without a preceding TYPE", line, (size_t)(end - line));
	s->family = (size_t)(f - d->fam);
	if (f->samples && *last != s->family)
		return pfail(d, ln, "family's samples are not together", line, (size_t)(end - line));
	f->samples++;
	*last = s->family;
	if (strcmp(f->type, "counter") == 0 && !(s->value >= 0 && isfinite(s->value)))
		return pfail(d, ln, "counter not a finite non-negative number", line, (size_t)(end - line));
	for (size_t i = 0; i + 1 < d->n; i++)
		if (same_series(&d->s[i], s))
			return pfail(d, ln, "duplicate series", line, (size_t)(end - line));
	return 0;
}

/* Checks the whole exposition and collects its samples. 0, or -1 with the
 * first problem in d->err. Free d with pfree either way. */
static int
pparse(const char *text, size_t len, struct pdoc *d)
{
	const char *p = text, *end = text + len, *nl;
	size_t last = (size_t)-1;
	int ln = 0;

	memset(d, 0, sizeof(*d));
	while (p < end) {
		ln++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return pfail(d, ln, "last line has no newline", p, (size_t)(end - p));
		if (nl > p && (*p == '#' ? pcomment(d, ln, p, nl) :
		    psample_line(d, ln, p, nl, &last)) == -1)
			return -1;
		p = nl + 1;
	}
	return 0;
}

/* How many samples named name carry label lname = lval (lname NULL: no
 * labels at all); the value of the last one goes to *v. */
static int
pfind(const struct pdoc *d, const char *name, const char *lname,
    const void *lval, size_t lvlen, double *v)
{
	int found = 0;

	for (size_t i = 0; i < d->n; i++) {
		const struct psample *s = &d->s[i];
		if (strcmp(s->name, name) != 0 || (lname == NULL && s->nlabel != 0))
			continue;
		if (lname != NULL) {
			size_t j;
			for (j = 0; j < s->nlabel; j++)
				if (strcmp(s->label[j].name, lname) == 0 &&
				    s->label[j].value.len == lvlen &&
				    memcmp(s->label[j].value.data, lval, lvlen) == 0)
					break;
			if (j == s->nlabel)
				continue;
		}
		*v = s->value;
		found++;
	}
	return found;
}

/* ---- fetching and comparing ------------------------------------------ */

static void
get_stats(struct jval *root)
{
	struct it_response r;
	const char *err, *ct;

	ck_assert_int_eq(it_request(port, "GET", "/stats", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ct = it_header(&r, "Content-Type");
	ck_assert_msg(ct != NULL && strcmp(ct, "application/json") == 0,
	    "/stats Content-Type %s", ct ? ct : "(none)");
	err = jparse(r.body, r.body_len, root);
	ck_assert_msg(err == NULL, "/stats is not JSON (%s): %s", err, r.body);
	ck_assert_int_eq(root->type, J_OBJ);
	it_response_free(&r);
}

static void
get_metrics(struct pdoc *d)
{
	struct it_response r;
	const char *ct;

	ck_assert_int_eq(it_request(port, "GET", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ct = it_header(&r, "Content-Type");
	ck_assert_msg(ct != NULL && strcmp(ct, "text/plain; version=0.0.4; charset=utf-8") == 0,
	    "/metrics Content-Type %s", ct ? ct : "(none)");
	ck_assert_msg(pparse(r.body, r.body_len, d) == 0, "/metrics: %s\n%s", d->err, r.body);
	it_response_free(&r);
}

/* One expected figure: a path from the root, or a field of one group. */
struct want {
	const char *group;  /* NULL: path is from the root */
	size_t glen;
	const char *path;
	double v;
};

#define TOTAL(path, v) { NULL, 0, "totals." path, (v) }
#define GROUP(id, field, v) { (id), sizeof(id) - 1, (field), (v) }
/* The group is not listed (it has no members). */
#define ABSENT(id) { (id), sizeof(id) - 1, NULL, 0 }

struct wait_stats {
	const struct want *w;
	size_t n;
	char last[512];
};

static int
stats_match(void *arg)
{
	struct wait_stats *ws = arg;
	struct jval root, *g;
	double got;
	int ok = 1;

	get_stats(&root);
	for (size_t i = 0; i < ws->n && ok; i++) {
		const struct want *w = &ws->w[i];
		if (w->path == NULL) {
			if (jgroup(&root, w->group, w->glen) != NULL) {
				snprintf(ws->last, sizeof(ws->last),
				    "group %s is listed", w->group);
				ok = 0;
			}
			continue;
		}
		if (w->group == NULL) {
			got = jnum(&root, w->path);
		} else {
			g = jgroup(&root, w->group, w->glen);
			got = g != NULL ? jnum(g, w->path) : NAN;
		}
		if (got != w->v) {
			snprintf(ws->last, sizeof(ws->last), "%s%s%s%s is %g, want %g",
			    w->group ? "group " : "", w->group ? w->group : "",
			    w->group ? "'s " : "", w->path, got, w->v);
			ok = 0;
		}
	}
	jfree(&root);
	return ok;
}

/* Polls /stats until every figure in w holds. */
static void
wait_stats(const struct want *w, size_t n)
{
	struct wait_stats ws = { w, n, "" };

	ck_assert_msg(it_wait_until(stats_match, &ws, IT_TIMEOUT_MS),
	    "/stats never matched: %s", ws.last);
}

#define WAIT_STATS(...) do { \
	static const struct want w_[] = { __VA_ARGS__ }; \
	wait_stats(w_, sizeof(w_) / sizeof(w_[0])); \
} while (0)

/* With nothing happening, /metrics says what /stats says: every total, every
 * close code, and every listed group's figures (both lists are in id byte
 * order); every listed group has members, and listed plus omitted groups
 * are at most the registered ones. Returns the number of groups listed. */
static size_t
check_agree(void)
{
	static const struct { const char *json, *metric; } tot[] = {
		{ "totals.groups", "groupchat_groups" },
		{ "totals.members", "groupchat_members" },
		{ "totals.group_threads", "groupchat_group_threads" },
		{ "totals.messages_in", "groupchat_messages_in_total" },
		{ "totals.messages_out", "groupchat_messages_out_total" },
		{ "totals.bytes_in", "groupchat_bytes_in_total" },
		{ "totals.bytes_out", "groupchat_bytes_out_total" },
		{ "totals.slow_consumer_drops", "groupchat_slow_consumer_drops_total" },
		{ "totals.joins_refused", "groupchat_joins_refused_total" },
		{ "totals.creates_refused", "groupchat_creates_refused_total" },
		{ "totals.recoveries", "groupchat_recoveries_total" },
		{ "totals.resets", "groupchat_resets_total" },
		{ "totals.replayed_messages", "groupchat_replayed_messages_total" },
		{ "groups_listed", "groupchat_groups_listed" },
		{ "groups_omitted", "groupchat_groups_omitted" },
	};
	static const struct { const char *json, *metric; } per[] = {
		{ "members", "groupchat_group_members" },
		{ "running", "groupchat_group_running" },
		{ "messages_in", "groupchat_group_messages_in_total" },
		{ "messages_out", "groupchat_group_messages_out_total" },
	};
	struct jval root, *closes, *groups;
	struct pdoc d;
	double v, up;
	size_t i, k, n;

	get_stats(&root);
	get_metrics(&d);
	for (i = 0; i < sizeof(tot) / sizeof(tot[0]); i++) {
		ck_assert_msg(pfind(&d, tot[i].metric, NULL, NULL, 0, &v) == 1,
		    "%s missing", tot[i].metric);
		ck_assert_msg(v == jnum(&root, tot[i].json), "%s %g, %s %g",
		    tot[i].metric, v, tot[i].json, jnum(&root, tot[i].json));
	}
	closes = jget(jget(&root, "totals"), "closes");
	ck_assert_ptr_nonnull(closes);
	ck_assert_int_eq(closes->n, 10);  /* nine codes, 1013 among them, and other */
	ck_assert_int_eq(pfind(&d, "groupchat_closes_total", NULL, NULL, 0, &v), 0);
	for (i = 0; i < closes->n; i++) {
		struct jval *c = &closes->kids[i];
		ck_assert_msg(pfind(&d, "groupchat_closes_total", "code", c->key.data,
		    c->key.len, &v) == 1, "closes_total for %.*s", (int)c->key.len,
		    (const char *)c->key.data);
		ck_assert(v == c->num);
	}
	ck_assert_int_eq(pfind(&d, "groupchat_uptime_seconds", NULL, NULL, 0, &up), 1);
	ck_assert(up > 0 && up >= jnum(&root, "totals.uptime_seconds"));

	groups = jget(&root, "groups");
	ck_assert(groups != NULL && groups->type == J_ARR);
	n = groups->n;
	ck_assert(n == jnum(&root, "groups_listed"));
	ck_assert(n + jnum(&root, "groups_omitted") <= jnum(&root, "totals.groups"));
	for (i = 0; i < n; i++)
		ck_assert(jnum(&groups->kids[i], "members") > 0);
	for (k = 0; k < sizeof(per) / sizeof(per[0]); k++) {
		struct pfamily *f = pfamily(&d, per[k].metric, 0);
		ck_assert_msg(f != NULL && f->help == 1, "%s has no HELP", per[k].metric);
		ck_assert_int_eq(f->samples, (int)n);
		size_t seen = 0;
		for (i = 0; i < d.n; i++) {
			const struct psample *s = &d.s[i];
			if (strcmp(s->name, per[k].metric) != 0)
				continue;
			struct jval *g = &groups->kids[seen++];
			struct jval *id = jget(g, "id");
			ck_assert(s->nlabel >= 1 && strcmp(s->label[0].name, "group") == 0);
			ck_assert_msg(id->str.len == s->label[0].value.len &&
			    memcmp(id->str.data, s->label[0].value.data, id->str.len) == 0,
			    "%s sample %zu is for another group", per[k].metric, seen);
			ck_assert_msg(s->value == jnum(g, per[k].json), "%s %g, %s %g",
			    per[k].metric, s->value, per[k].json, jnum(g, per[k].json));
		}
	}
	for (i = 0; i < d.nfam; i++) {
		ck_assert_msg(strncmp(d.fam[i].name, "groupchat_", 10) == 0, "%s", d.fam[i].name);
		ck_assert_msg(d.fam[i].help == 1, "%s has no HELP", d.fam[i].name);
		size_t len = strlen(d.fam[i].name);
		int total = len > 6 && strcmp(d.fam[i].name + len - 6, "_total") == 0;
		ck_assert_msg(total == (strcmp(d.fam[i].type, "counter") == 0),
		    "%s is a %s", d.fam[i].name, d.fam[i].type);
	}
	pfree(&d);
	jfree(&root);
	return n;
}

/* ---- driving the server ---------------------------------------------- */

static void
create(const char *encoded_id)
{
	char target[256];
	struct it_response r;

	snprintf(target, sizeof(target), "/create?id=%s", encoded_id);
	ck_assert_int_eq(it_request(port, "POST", target, &r), 0);
	ck_assert_msg(r.status == 201, "create %s: %d %s", encoded_id, r.status, r.body);
	it_response_free(&r);
}

static struct it_ws *
join(const char *encoded_id)
{
	char path[256];
	struct it_ws *ws;
	int status;

	snprintf(path, sizeof(path), "/groups/%s", encoded_id);
	ws = it_ws_connect(port, path, NULL, &status);
	ck_assert_msg(ws != NULL, "join %s: status %d", encoded_id, status);
	return ws;
}

/* Reads n text relays on ws, skipping pings. */
static void
recv_relays(struct it_ws *ws, int n)
{
	int64_t deadline = it_deadline(IT_TIMEOUT_MS);
	struct it_frame f;
	enum it_recv r;

	for (int got = 0; got < n;) {
		r = it_ws_recv(ws, &f, it_left_ms(deadline));
		ck_assert_msg(r == IT_FRAME, "relay %d of %d: recv gave %d", got + 1, n, r);
		ck_assert_msg(f.opcode == IT_OP_TEXT || f.opcode == IT_OP_PING,
		    "opcode %d", f.opcode);
		got += f.opcode == IT_OP_TEXT;
		it_frame_free(&f);
	}
}

/* Sends a close frame with code and waits for the server's answer and EOF. */
static void
member_close(struct it_ws *ws, int code)
{
	uint8_t be[2] = { (uint8_t)(code >> 8), (uint8_t)code };
	int64_t deadline = it_deadline(IT_TIMEOUT_MS);
	struct it_frame f;
	enum it_recv r;
	int answered = 0;

	ck_assert_int_eq(it_ws_send(ws, IT_OP_CLOSE, 1, be, 2), 0);
	while ((r = it_ws_recv(ws, &f, it_left_ms(deadline))) == IT_FRAME) {
		if (f.opcode == IT_OP_CLOSE) {
			ck_assert_int_eq(it_frame_close_code(&f, NULL), code);
			answered = 1;
		}
		it_frame_free(&f);
	}
	ck_assert_msg(answered && r == IT_CLOSED, "close %d: answered %d, recv %d",
	    code, answered, r);
	it_ws_free(ws);
}

/* The frame bytes of one relay of a short payload: header, "<cid> - ", text. */
#define RELAY_BYTES(len) (2 + 9 + (len))

/* ---- tests ----------------------------------------------------------- */

START_TEST(stats_count_groups_members_and_messages)
{
	static const char *const texts[] = { "one", "two two", "", "four!" };
	struct it_ws *a[3], *b[2];
	size_t in_bytes = 0, out_bytes = 0;
	int i;

	create("alpha");
	create("beta");
	for (i = 0; i < 3; i++)
		a[i] = join("alpha");
	for (i = 0; i < 2; i++)
		b[i] = join("beta");
	/* alpha: a[0] sends 4 messages to 3 members; beta: b[1] sends 1 to 2. */
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(it_ws_send_text(a[0], texts[i]), 0);
		in_bytes += strlen(texts[i]);
		out_bytes += 3 * RELAY_BYTES(strlen(texts[i]));
	}
	ck_assert_int_eq(it_ws_send_text(b[1], "hello beta"), 0);
	in_bytes += 10;
	out_bytes += 2 * RELAY_BYTES(10);
	for (i = 0; i < 3; i++)
		recv_relays(a[i], 4);
	for (i = 0; i < 2; i++)
		recv_relays(b[i], 1);

	{
		const struct want w[] = {
			GROUP("alpha", "members", 3), GROUP("alpha", "running", 1),
			GROUP("alpha", "messages_in", 4), GROUP("alpha", "messages_out", 12),
			GROUP("beta", "members", 2), GROUP("beta", "running", 1),
			GROUP("beta", "messages_in", 1), GROUP("beta", "messages_out", 2),
			TOTAL("groups", 2), TOTAL("members", 5), TOTAL("group_threads", 2),
			TOTAL("messages_in", 5), TOTAL("messages_out", 14),
			TOTAL("bytes_in", (double)in_bytes), TOTAL("bytes_out", (double)out_bytes),
			TOTAL("slow_consumer_drops", 0), TOTAL("joins_refused", 0),
			TOTAL("closes.1000", 0), TOTAL("closes.other", 0),
		};
		wait_stats(w, sizeof(w) / sizeof(w[0]));
	}
	ck_assert_int_eq(check_agree(), 2);

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(it_ws_close(a[i]), 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(it_ws_close(b[i]), 0);
	/* The last leave stops each group's thread; the groups stay, counted
	 * but no longer listed (they have no members). */
	WAIT_STATS(ABSENT("alpha"), ABSENT("beta"),
	    TOTAL("groups", 2), TOTAL("members", 0), TOTAL("group_threads", 0),
	    TOTAL("closes.1000", 5), TOTAL("messages_in", 5));
	ck_assert_int_eq(check_agree(), 0);
}
END_TEST

START_TEST(closes_are_counted_by_code)
{
	static const uint8_t rsv_payload[] = "x";
	struct it_frame_spec bad = { .fin = 1, .rsv = 4, .opcode = IT_OP_TEXT,
	    .masked = 1, .declared = -1, .payload = rsv_payload, .len = 1 };
	struct it_ws *m[6];
	struct it_response r;
	int i;

	create("c");
	for (i = 0; i < 6; i++)
		m[i] = join("c");
	WAIT_STATS(GROUP("c", "members", 6), TOTAL("members", 6));

	ck_assert_int_eq(it_ws_close(m[0]), 0);                    /* 1000 */
	ck_assert_int_eq(it_ws_send_frame(m[1], &bad), 0);         /* 1002 */
	ck_assert_int_eq(it_ws_expect_close(m[1], 1002, IT_TIMEOUT_MS), 0);
	it_ws_free(m[1]);
	it_ws_free(m[2]);                                          /* 1006 */
	member_close(m[3], 4000);                                  /* other */
	member_close(m[4], 1001);                                  /* 1001 */
	WAIT_STATS(TOTAL("closes.1000", 1), TOTAL("closes.1002", 1),
	    TOTAL("closes.1006", 1), TOTAL("closes.1001", 1), TOTAL("closes.other", 1),
	    TOTAL("members", 1), GROUP("c", "members", 1), GROUP("c", "running", 1),
	    TOTAL("group_threads", 1));

	/* Deleting the group closes the last member with 1000. */
	ck_assert_int_eq(it_request(port, "DELETE", "/groups/c", &r), 0);
	ck_assert_int_eq(r.status, 200);
	it_response_free(&r);
	ck_assert_int_eq(it_ws_expect_close_reason(m[5], 1000, "group deleted",
	    IT_TIMEOUT_MS), 0);
	it_ws_free(m[5]);
	WAIT_STATS(TOTAL("closes.1000", 2), TOTAL("closes.1002", 1),
	    TOTAL("closes.1006", 1), TOTAL("closes.1001", 1), TOTAL("closes.other", 1),
	    TOTAL("closes.1007", 0), TOTAL("closes.1008", 0), TOTAL("closes.1009", 0),
	    TOTAL("closes.1011", 0), TOTAL("closes.1013", 0), TOTAL("members", 0),
	    TOTAL("groups", 0),
	    TOTAL("group_threads", 0));
	ck_assert_int_eq(check_agree(), 0);
}
END_TEST

START_TEST(joins_past_the_cap_are_refused_and_counted)
{
	struct config cfg;
	struct it_ws *m[2];
	int status, i;

	/* This test runs its own server with a cap of 2 members. */
	itf_down();
	it_config(&cfg);
	cfg.max_clients = 2;
	port = itf_up(&cfg);

	create("full");
	m[0] = join("full");
	m[1] = join("full");
	for (i = 0; i < 3; i++) {
		ck_assert_ptr_null(it_ws_connect(port, "/groups/full", NULL, &status));
		ck_assert_int_eq(status, 503);
	}
	WAIT_STATS(TOTAL("joins_refused", 3), TOTAL("members", 2),
	    GROUP("full", "members", 2), GROUP("full", "running", 1));
	ck_assert_int_eq(check_agree(), 1);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(it_ws_close(m[i]), 0);
	WAIT_STATS(TOTAL("joins_refused", 3), TOTAL("members", 0),
	    TOTAL("closes.1000", 2));
}
END_TEST

START_TEST(odd_ids_are_escaped_and_every_series_stays_distinct)
{
	/* Created out of order; listed by id bytes. */
	static const struct { const char *enc, *json; size_t jlen; const char *hex; } ids[] = {
		{ "zeta", "zeta", 4, NULL },
		{ "%FF", "\xef\xbf\xbd", 3, "ff" },
		{ "a%FF%22b%0Ac%5C%00d", "a\xef\xbf\xbd\"b\nc\\\0d", 11, "61ff22620a635c0064" },
		{ "%EF%BF%BD", "\xef\xbf\xbd", 3, NULL },
		{ "%FE", "\xef\xbf\xbd", 3, "fe" },
		{ "Alpha", "Alpha", 5, NULL },
	};
	static const int order[] = { 5, 2, 0, 3, 4, 1 };
	struct jval root, *gs, *id;
	struct pdoc d;
	struct it_ws *ws[6];
	double v;
	size_t i;

	/* A member in each group: only groups with members are listed. */
	for (i = 0; i < 6; i++) {
		create(ids[i].enc);
		ws[i] = join(ids[i].enc);
	}
	WAIT_STATS(TOTAL("members", 6));
	ck_assert_int_eq(it_ws_send_text(ws[2], "hi"), 0);
	recv_relays(ws[2], 1);

	get_stats(&root);
	gs = jget(&root, "groups");
	ck_assert(gs != NULL && gs->n == 6);
	for (i = 0; i < 6; i++) {
		id = jget(&gs->kids[i], "id");
		ck_assert_msg(id->str.len == ids[order[i]].jlen &&
		    memcmp(id->str.data, ids[order[i]].json, id->str.len) == 0,
		    "groups[%zu] is not %s", i, ids[order[i]].enc);
	}
	jfree(&root);

	get_metrics(&d);
	for (i = 0; i < 6; i++) {
		const char *hex = ids[i].hex;
		if (hex != NULL) {
			ck_assert_int_eq(pfind(&d, "groupchat_group_members", "group_hex",
			    hex, strlen(hex), &v), 1);
		} else {
			ck_assert_int_eq(pfind(&d, "groupchat_group_members", "group",
			    ids[i].json, ids[i].jlen, &v), i == 3 ? 3 : 1);
		}
	}
	/* The lossy id with a member: its label decodes to the JSON form. */
	ck_assert_int_eq(pfind(&d, "groupchat_group_running", "group_hex",
	    ids[2].hex, strlen(ids[2].hex), &v), 1);
	ck_assert(v == 1);
	ck_assert_int_eq(pfind(&d, "groupchat_group_messages_in_total", "group",
	    ids[2].json, ids[2].jlen, &v), 1);
	ck_assert(v == 1);
	pfree(&d);
	ck_assert_int_eq(check_agree(), 6);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(it_ws_close(ws[i]), 0);
}
END_TEST

/* Samples of a per-group family in /metrics. */
static int
family_samples(const char *name)
{
	struct pdoc d;
	struct pfamily *f;
	int n;

	get_metrics(&d);
	f = pfamily(&d, name, 0);
	n = f != NULL ? f->samples : -1;
	pfree(&d);
	return n;
}

START_TEST(groups_without_members_are_counted_but_not_listed)
{
	struct it_ws *ws;

	create("idle1");
	create("idle2");
	create("busy");
	ws = join("busy");
	WAIT_STATS(GROUP("busy", "members", 1), ABSENT("idle1"), ABSENT("idle2"),
	    TOTAL("groups", 3), TOTAL("members", 1));
	ck_assert_int_eq(check_agree(), 1);
	ck_assert_int_eq(family_samples("groupchat_group_members"), 1);
	ck_assert_int_eq(it_ws_close(ws), 0);
	WAIT_STATS(ABSENT("busy"), TOTAL("groups", 3), TOTAL("members", 0));
	ck_assert_int_eq(family_samples("groupchat_group_members"), 0);
}
END_TEST

START_TEST(the_list_is_capped_and_totals_stay_exact)
{
	static const char *const names[] = { "g1", "g2", "g3", "g4" };
	struct config cfg;
	struct it_ws *ws[4];
	struct jval root;
	struct pdoc d;
	double v;
	int i;

	/* This test runs its own server listing at most 2 groups. */
	itf_down();
	it_config(&cfg);
	cfg.stats_groups = 2;
	port = itf_up(&cfg);
	for (i = 0; i < 4; i++) {
		create(names[i]);
		ws[i] = join(names[i]);
	}
	create("empty");
	WAIT_STATS(TOTAL("groups", 5), TOTAL("members", 4), TOTAL("group_threads", 4));
	get_stats(&root);
	ck_assert(jnum(&root, "groups_listed") == 2);
	ck_assert(jnum(&root, "groups_omitted") == 2);
	ck_assert_uint_eq(jget(&root, "groups")->n, 2);
	jfree(&root);
	get_metrics(&d);
	ck_assert_int_eq(pfind(&d, "groupchat_groups_omitted", NULL, NULL, 0, &v), 1);
	ck_assert(v == 2);
	ck_assert_int_eq(pfind(&d, "groupchat_members", NULL, NULL, 0, &v), 1);
	ck_assert(v == 4);
	ck_assert_int_eq(pfamily(&d, "groupchat_group_members", 0)->samples, 2);
	pfree(&d);
	ck_assert_int_eq(check_agree(), 2);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(it_ws_close(ws[i]), 0);
	WAIT_STATS(TOTAL("members", 0));
	get_stats(&root);
	ck_assert(jnum(&root, "groups_listed") == 0);
	ck_assert(jnum(&root, "groups_omitted") == 0);
	jfree(&root);
}
END_TEST

START_TEST(creates_past_max_groups_get_503_and_are_counted)
{
	struct config cfg;
	struct it_response r;

	/* This test runs its own server with a cap of 2 groups. */
	itf_down();
	it_config(&cfg);
	cfg.max_groups = 2;
	port = itf_up(&cfg);
	create("a");
	create("b");
	ck_assert_int_eq(it_request(port, "POST", "/create?id=c", &r), 0);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "too many groups\n");
	it_response_free(&r);
	/* An existing id is still "already exists", not 503. */
	ck_assert_int_eq(it_request(port, "POST", "/create?id=a", &r), 0);
	ck_assert_int_eq(r.status, 400);
	it_response_free(&r);
	WAIT_STATS(TOTAL("creates_refused", 1), TOTAL("groups", 2));
	ck_assert_int_eq(it_request(port, "DELETE", "/groups/a", &r), 0);
	ck_assert_int_eq(r.status, 200);
	it_response_free(&r);
	create("c");
	WAIT_STATS(TOTAL("creates_refused", 1), TOTAL("groups", 2));
	ck_assert_int_eq(check_agree(), 0);
}
END_TEST

START_TEST(get_root_serves_the_embedded_page)
{
	struct it_response r, h;
	size_t len;
	const char *page = webui_page(&len), *ct;
	char cl[32];

	ck_assert_int_eq(it_request(port, "GET", "/", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ct = it_header(&r, "Content-Type");
	ck_assert_msg(ct != NULL && strcmp(ct, "text/html; charset=utf-8") == 0,
	    "Content-Type %s", ct ? ct : "(none)");
	ck_assert_uint_gt(len, 1000);
	ck_assert(r.body_len == len && memcmp(r.body, page, len) == 0);
	ck_assert_ptr_nonnull(strstr(r.body, "<title>groupchat</title>"));
	ck_assert(utf8_valid((const uint8_t *)r.body, r.body_len));

	ck_assert_int_eq(it_request(port, "HEAD", "/", &h), 0);
	ck_assert_int_eq(h.status, 200);
	ck_assert_uint_eq(h.body_len, 0);
	snprintf(cl, sizeof(cl), "%zu", len);
	ck_assert_str_eq(it_header(&h, "Content-Length"), cl);
	ck_assert_str_eq(it_header(&h, "Content-Type"), "text/html; charset=utf-8");
	it_response_free(&r);
	it_response_free(&h);

	/* An idle server's documents are well formed too. */
	ck_assert_int_eq(check_agree(), 0);
}
END_TEST

START_TEST(the_exposition_checker_rejects_malformed_text)
{
	static const char head[] = "# HELP m_total A counter.\n# TYPE m_total counter\n";
	static const char *const bad[] = {
		"m_total 1\n",                                  /* no TYPE */
		"# TYPE m_total counter\nm_total 1",           /* no final newline */
		"# TYPE 1m counter\n1m 1\n",                    /* bad name */
		"# TYPE m gauge\nm{a=\"x\\t\"} 1\n",            /* bad escape */
		"# TYPE m gauge\nm{a=\"\xff\"} 1\n",            /* not UTF-8 */
		"# TYPE m gauge\nm{a=\"x\"} one\n",             /* bad value */
		"# TYPE m gauge\nm{a=\"x\",a=\"y\"} 1\n",       /* label twice */
		"# TYPE m gauge\nm{a=\"x\"} 1\nm{a=\"x\"} 2\n", /* duplicate */
		"# TYPE m gauge\n# TYPE n gauge\nm 1\nn 1\nm 2\n", /* not together */
		"# TYPE m_total counter\nm_total -1\n",         /* negative counter */
		"# TYPE m gauge\nm 1\n# TYPE m gauge\n",        /* second TYPE */
		"# TYPE m gauge\nm{a=x} 1\n",                   /* unquoted */
		"# TYPE m gauge\nm 0x10\n",                     /* hex */
		"# TYPE m widget\nm 1\n",                       /* unknown type */
	};
	static const char good[] = "# HELP m_total A \\\\ counter\\n.\n"
	    "# TYPE m_total counter\nm_total{a=\"q\\\"\\\\\\n\",b=\"\xc3\xbc\",} 2 1700000000000\n"
	    "# some comment\n\n# TYPE g gauge\ng -Inf\ng{x=\"1\"} 1.5e3\n";
	struct pdoc d;
	double v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(pparse(bad[i], strlen(bad[i]), &d) == -1,
		    "accepted bad text %zu: %s", i, bad[i]);
		pfree(&d);
	}
	ck_assert_msg(pparse(head, strlen(head), &d) == 0, "%s", d.err);
	pfree(&d);
	ck_assert_msg(pparse(good, sizeof(good) - 1, &d) == 0, "%s", d.err);
	ck_assert_int_eq(pfind(&d, "m_total", "a", "q\"\\\n", 4, &v), 1);
	ck_assert(v == 2);
	ck_assert_int_eq(pfind(&d, "g", "x", "1", 1, &v), 1);
	ck_assert(v == 1500);
	ck_assert_int_eq(pfind(&d, "g", NULL, NULL, 0, &v), 1);
	ck_assert(isinf(v) && v < 0);
	pfree(&d);
}
END_TEST

START_TEST(the_json_parser_decodes_escapes_and_rejects_bad_text)
{
	static const char *const bad[] = {
		"{", "{\"a\":1,}", "[1 2]", "\"\x01\"", "\"\\x\"", "\"\\ud800\"",
		"01", "1.", "{\"a\":1} x", "\"\xff\"", "tru", "{1:2}",
	};
	static const char good[] = " {\"k\\u00e9\":[true,false,null,-1.5e2,"
	    "\"\\ud83d\\ude00\\u0000\\\"\"],\"n\":0} ";
	struct jval v, *k;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(jparse(bad[i], strlen(bad[i]), &v) != NULL,
		    "accepted bad JSON %s", bad[i]);
		jfree(&v);
	}
	ck_assert_ptr_null(jparse(good, sizeof(good) - 1, &v));
	k = jget(&v, "k\xc3\xa9");
	ck_assert(k != NULL && k->type == J_ARR && k->n == 5);
	ck_assert(k->kids[0].type == J_BOOL && k->kids[0].num == 1);
	ck_assert(k->kids[3].type == J_NUM && k->kids[3].num == -150);
	ck_assert(k->kids[4].str.len == 6 &&
	    memcmp(k->kids[4].str.data, "\xf0\x9f\x98\x80\0\"", 6) == 0);
	ck_assert(jnum(&v, "n") == 0);
	ck_assert(isnan(jnum(&v, "missing")));
	jfree(&v);
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite *s = suite_create("it_stats");
	TCase *tc = tcase_create("stats");
	TCase *parsers = tcase_create("parsers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, stats_count_groups_members_and_messages);
	tcase_add_test(tc, closes_are_counted_by_code);
	tcase_add_test(tc, joins_past_the_cap_are_refused_and_counted);
	tcase_add_test(tc, odd_ids_are_escaped_and_every_series_stays_distinct);
	tcase_add_test(tc, groups_without_members_are_counted_but_not_listed);
	tcase_add_test(tc, the_list_is_capped_and_totals_stay_exact);
	tcase_add_test(tc, creates_past_max_groups_get_503_and_are_counted);
	tcase_add_test(tc, get_root_serves_the_embedded_page);
	suite_add_tcase(s, tc);
	tcase_set_timeout(parsers, 30);
	tcase_add_test(parsers, the_exposition_checker_rejects_malformed_text);
	tcase_add_test(parsers, the_json_parser_decodes_escapes_and_rejects_bad_text);
	suite_add_tcase(s, parsers);
	return s;
}

int
main(void)
{
	return test_run(stats_suite());
}
