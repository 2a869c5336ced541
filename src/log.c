/*
 * Logging: one line per message on stderr. While a full-screen display owns
 * the terminal, messages are kept in a small buffer and written out when the
 * display releases it, so nothing is lost and the screen is not garbled.
 */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum log_level cur_level = LOG_WARN;
static int held;
static char *held_buf;
static size_t held_len, held_cap;

void log_set_level(enum log_level level) { cur_level = level; }
enum log_level log_get_level(void) { return cur_level; }
int log_enabled(enum log_level level) { return level <= cur_level; }

static const char *prefix(enum log_level level)
{
	switch (level) {
	case LOG_ERROR: return "pcvm: error: ";
	case LOG_WARN: return "pcvm: warning: ";
	default: return "pcvm: ";
	}
}

static void held_append(const char *s, size_t n)
{
	if (held_len + n > held_cap) {
		size_t cap = held_cap ? held_cap * 2 : 4096;
		while (cap < held_len + n)
			cap *= 2;
		if (cap > (1u << 20))
			return; /* drop rather than grow without bound */
		char *p = realloc(held_buf, cap);
		if (!p)
			return;
		held_buf = p;
		held_cap = cap;
	}
	memcpy(held_buf + held_len, s, n);
	held_len += n;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (level > cur_level)
		return;
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s", prefix(level));
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	if (held) {
		held_append(line, len);
		return;
	}
	fwrite(line, 1, len, stderr);
	fflush(stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_hold(int hold)
{
	held = hold;
	if (!hold && held_len) {
		fwrite(held_buf, 1, held_len, stderr);
		fflush(stderr);
		held_len = 0;
	}
}
