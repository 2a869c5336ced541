/*
 * timerun: runs one command and reports its wall-clock time from start to
 * exit together with the CPU time (user and system, from wait4's rusage) it
 * used, for tests/bench/bench-cpu.sh. It can also stop the command as soon as
 * a log file it writes contains one of some strings (the time to a firmware
 * milestone), and kills it after a timeout. POSIX process interfaces, and
 * Linux's /proc/PID/stat for the CPU time at a milestone with -k.
 *
 *   timerun [-t SECONDS] [-o OUTFILE] [-w LOGFILE -p STRING [-p STRING]... [-k]]
 *           -- COMMAND [ARG]...
 *
 * Prints one line: "wall=S user=S sys=S status=N matched=M" where status is
 * the exit status, 128+signal, or "timeout"; matched is 1 when a -p string
 * was seen (the time is then taken when it was seen). With -k the command
 * keeps running after the match until it exits (a guest's boot marker, then
 * its power-off): the line then ends "mark=S markcpu=S", the wall and CPU
 * (user+system) time at the match, and the other times are at the exit.
 * The command's stdout and stderr go to OUTFILE (default /dev/null).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATTERNS 8

struct watch {
	const char *path;
	int fd;
	const char *pat[MAX_PATTERNS];
	int npat;
	size_t maxlen;
	char *buf;      /* the last maxlen-1 bytes read, then the new data */
	size_t have;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads what the log gained since the last call; returns 1 on a match. */
static int watch_poll(struct watch *w)
{
	if (w->fd < 0) {
		w->fd = open(w->path, O_RDONLY | O_CLOEXEC);
		if (w->fd < 0)
			return 0;
	}
	char chunk[65536];
	ssize_t n;
	while ((n = read(w->fd, chunk, sizeof(chunk))) > 0) {
		memcpy(w->buf + w->have, chunk, (size_t)n);
		w->have += (size_t)n;
		w->buf[w->have] = 0;
		for (int i = 0; i < w->npat; i++)
			if (memmem(w->buf, w->have, w->pat[i], strlen(w->pat[i])))
				return 1;
		size_t keep = w->maxlen - 1;
		if (w->have > keep) {
			memmove(w->buf, w->buf + w->have - keep, keep);
			w->have = keep;
		}
	}
	return 0;
}

/* User+system CPU time a running process has used so far, or -1. */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* after "(comm)": state is field 3, utime and stime fields 14 and 15 */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void usage(void)
{
	fprintf(stderr, "usage: timerun [-t SECONDS] [-o OUTFILE] [-w LOGFILE -p STRING]... "
			"[-k] -- COMMAND [ARG]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double timeout = 600;
	const char *out = "/dev/null";
	struct watch w = { .fd = -1 };
	int opt, keep = 0;
	while ((opt = getopt(argc, argv, "+t:o:w:p:k")) != -1) {
		switch (opt) {
		case 't':
			timeout = strtod(optarg, NULL);
			break;
		case 'o':
			out = optarg;
			break;
		case 'w':
			w.path = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		case 'p':
			if (w.npat == MAX_PATTERNS)
				usage();
			w.pat[w.npat++] = optarg;
			if (strlen(optarg) + 1 > w.maxlen)
				w.maxlen = strlen(optarg) + 1;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || timeout <= 0 || (w.path && !w.npat) || (!w.path && w.npat) ||
	    (keep && !w.path))
		usage();
	if (w.path) {
		w.buf = malloc(w.maxlen + 65536 + 1);
		if (!w.buf)
			return 1;
		/* the log is the command's to create: an old one must not match */
		if (unlink(w.path) && errno != ENOENT) {
			fprintf(stderr, "timerun: cannot remove %s: %s\n", w.path, strerror(errno));
			return 1;
		}
	}

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	double t0 = now_s();
	pid_t pid = fork();
	if (pid < 0) {
		perror("timerun: fork");
		return 1;
	}
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			fprintf(stderr, "timerun: cannot open %s: %s\n", out, strerror(errno));
			_exit(127);
		}
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0) {
			dup2(null, 0);
			close(null);
		}
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "timerun: cannot run %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}

	int status = 0, matched = 0, timed_out = 0;
	double t_end = 0, mark = 0, mark_cpu = -1;
	struct rusage ru;
	for (;;) {
		pid_t r = wait4(pid, &status, WNOHANG, &ru);
		if (r == pid) {
			t_end = now_s();
			break;
		}
		if (w.path && !matched && watch_poll(&w)) {
			matched = 1;
			if (keep) {
				mark = now_s() - t0;
				mark_cpu = proc_cpu(pid);
				continue;
			}
			t_end = now_s();
			kill(pid, SIGKILL);
			wait4(pid, &status, 0, &ru);
			break;
		}
		double left = t0 + timeout - now_s();
		if (left <= 0) {
			t_end = now_s();
			timed_out = 1;
			kill(pid, SIGKILL);
			wait4(pid, &status, 0, &ru);
			break;
		}
		/* Sleep until the child ends, or briefly when a log is watched. */
		double nap = w.path && !matched ? 0.001 : (left < 0.1 ? left : 0.1);
		struct timespec ts = { (time_t)nap, (long)((nap - (double)(time_t)nap) * 1e9) };
		sigtimedwait(&chld, NULL, &ts);
	}
	/* A last look: the line may have been written just before the exit. */
	if (!matched && w.path && watch_poll(&w)) {
		matched = 1;
		mark = t_end - t0;
		mark_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	}

	char st[16];
	if (timed_out && (!matched || keep))
		snprintf(st, sizeof(st), "timeout");
	else if (matched && !keep)
		snprintf(st, sizeof(st), "killed");
	else if (WIFEXITED(status))
		snprintf(st, sizeof(st), "%d", WEXITSTATUS(status));
	else
		snprintf(st, sizeof(st), "%d", 128 + WTERMSIG(status));
	printf("wall=%.4f user=%.4f sys=%.4f status=%s matched=%d", t_end - t0,
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, st, matched);
	if (keep)
		printf(" mark=%.4f markcpu=%.4f", matched ? mark : -1.0, matched ? mark_cpu : -1.0);
	printf("\n");
	free(w.buf);
	return 0;
}
