/*
 * The timing report, written as JSON (RFC 8259): strings escaped, bytes
 * that are not UTF-8 written as the Latin-1 characters of the same value so
 * every parser takes the file, times as seconds with nanosecond digits.
 */
#include "report.h"
#include "writefile.h"
#include "../vcpu/vcpu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef PCVM_VERSION
#define PCVM_VERSION "0.1"
#endif

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void report_start(struct report *r)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	r->start_wall_sec = ts.tv_sec;
	r->start_wall_nsec = ts.tv_nsec;
	r->start_host = mono_ns();
	r->started = true;
}

uint64_t report_host_ns(const struct report *r)
{
	return r->started ? mono_ns() - r->start_host : 0;
}

int report_add(struct report *r, const char *event, const char *detail, int line,
	       uint64_t guest_ns)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct report_milestone *m = realloc(r->m, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		r->m = m;
		r->cap = cap;
	}
	struct report_milestone *m = &r->m[r->n];
	m->event = strdup(event);
	m->detail = detail ? strdup(detail) : NULL;
	if (!m->event || (detail && !m->detail)) {
		free(m->event);
		free(m->detail);
		return -ENOMEM;
	}
	m->line = line;
	m->host_ns = report_host_ns(r);
	m->guest_ns = guest_ns;
	r->n++;
	return 0;
}

void report_free(struct report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->m[i].event);
		free(r->m[i].detail);
	}
	free(r->m);
	r->m = NULL;
	r->n = r->cap = 0;
}

/* ---- JSON text ---- */

struct buf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void put(struct buf *b, const char *data, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s) {
			b->failed = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void put_lit(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void put_string(struct buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put(b, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			putf(b, "\\u%04x", c);
			i++;
		} else {
			size_t l = utf8_len(s + i, n - i);
			if (l) {
				put(b, (const char *)s + i, l);
				i += l;
			} else {
				putf(b, "\\u%04x", c);
				i++;
			}
		}
	}
	put(b, "\"", 1);
}

static void put_seconds(struct buf *b, const char *key, uint64_t ns)
{
	putf(b, "\"%s\": %llu.%09llu", key, (unsigned long long)(ns / 1000000000ull),
	     (unsigned long long)(ns % 1000000000ull));
}

char *report_json(const struct report *r, const struct report_end *e)
{
	struct buf b = { 0 };
	struct tm tm;
	time_t t = (time_t)r->start_wall_sec;
	gmtime_r(&t, &tm);
	char when[64];
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 r->start_wall_nsec / 1000);
	put_lit(&b, "{\n  \"pcvm\": ");
	put_string(&b, PCVM_VERSION);
	put_lit(&b, ",\n  \"start\": ");
	put_string(&b, when);
	put_lit(&b, ",\n  \"backend\": ");
	put_string(&b, e->backend ? e->backend : "none");
	putf(&b, ",\n  \"deterministic\": %s,\n  \"end\": {\"reason\": ",
	     e->deterministic ? "true" : "false");
	put_string(&b, e->reason);
	putf(&b, ", \"status\": %d, ", e->status);
	put_seconds(&b, "host_s", e->host_ns);
	put_lit(&b, ", ");
	put_seconds(&b, "guest_s", e->guest_ns);
	if (e->message) {
		put_lit(&b, ", \"message\": ");
		put_string(&b, e->message);
	}
	put_lit(&b, "},\n  \"milestones\": [");
	for (size_t i = 0; i < r->n; i++) {
		const struct report_milestone *m = &r->m[i];
		put_lit(&b, i ? ",\n    {\"event\": " : "\n    {\"event\": ");
		put_string(&b, m->event);
		if (m->detail) {
			put_lit(&b, ", \"detail\": ");
			put_string(&b, m->detail);
		}
		if (m->line)
			putf(&b, ", \"line\": %d", m->line);
		put_lit(&b, ", ");
		put_seconds(&b, "host_s", m->host_ns);
		put_lit(&b, ", ");
		put_seconds(&b, "guest_s", m->guest_ns);
		put_lit(&b, "}");
	}
	put_lit(&b, r->n ? "\n  ],\n  \"instructions\": " : "],\n  \"instructions\": ");
	if (e->have_icount)
		putf(&b, "%llu", (unsigned long long)e->icount);
	else
		put_lit(&b, "null");
	put_lit(&b, ",\n  \"counters\": {");
	for (int i = 0; i < e->nstats; i++) {
		put_lit(&b, i ? ", " : "");
		put_string(&b, e->stats[i].name);
		putf(&b, ": %llu", (unsigned long long)e->stats[i].value);
	}
	put_lit(&b, "}\n}\n");
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

int report_write(const struct report *r, const struct report_end *e, const char *path)
{
	char *json = report_json(r, e);
	if (!json)
		return -ENOMEM;
	int err = ui_write_file(path, json, strlen(json));
	free(json);
	return err;
}
