/*
 * Whole-file output: write to a unique temporary file in the target's
 * directory, then rename(2), which POSIX makes atomic within a file system.
 */
#include "writefile.h"
#include "../log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ui_write_file(const char *path, const void *data, size_t len)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 16);
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, n + 16, "%s.XXXXXX", path);
	int fd = mkstemp(tmp);
	int err = 0;
	if (fd < 0) {
		err = -errno;
		log_error("cannot write %s: %s", path, strerror(errno));
		free(tmp);
		return err;
	}
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	/* mkstemp makes the file 0600; screenshots are ordinary files */
	mode_t mask = umask(0);
	umask(mask);
	if (!err && fchmod(fd, 0666 & ~mask) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		log_error("cannot write %s: %s", path, strerror(-err));
		unlink(tmp);
	}
	free(tmp);
	return err;
}

int ui_check_writable(const char *path, const char **why)
{
	struct stat st;
	*why = NULL;
	if (!*path) {
		*why = "empty file name";
		return -EINVAL;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		*why = "is a directory";
		return -EISDIR;
	}
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) < 0) {
		*why = "its directory does not exist";
		return -ENOENT;
	}
	if (!S_ISDIR(st.st_mode)) {
		*why = "its directory is not a directory";
		return -ENOTDIR;
	}
	/* the file is replaced by rename, so the directory must be writable */
	if (access(dir, W_OK | X_OK) < 0) {
		*why = "its directory is not writable";
		return -EACCES;
	}
	return 0;
}
