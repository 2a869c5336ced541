#include "run.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

static double now_s()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

RunResult run_cmd(const std::vector<std::string> &argv, double timeout_s,
		  const std::string &stdin_data)
{
	RunResult r;
	int in[2], out[2], err[2];
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		throw std::runtime_error("pipe failed");
	signal(SIGPIPE, SIG_IGN);
	pid_t pid = fork();
	if (pid < 0)
		throw std::runtime_error("fork failed");
	if (pid == 0) {
		setpgid(0, 0);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		std::vector<char *> args;
		for (auto &a : argv)
			args.push_back(const_cast<char *>(a.c_str()));
		args.push_back(nullptr);
		execvp(args[0], args.data());
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	size_t written = 0;
	if (stdin_data.empty()) {
		close(in[1]);
		in[1] = -1;
	}
	double deadline = now_s() + timeout_s;
	bool out_open = true, err_open = true;
	while (out_open || err_open) {
		struct pollfd p[3];
		int n = 0;
		int io = -1, ie = -1, ii = -1;
		if (out_open) { io = n; p[n++] = {out[0], POLLIN, 0}; }
		if (err_open) { ie = n; p[n++] = {err[0], POLLIN, 0}; }
		if (in[1] >= 0) { ii = n; p[n++] = {in[1], POLLOUT, 0}; }
		double left = deadline - now_s();
		if (left <= 0) {
			r.timed_out = true;
			kill(-pid, SIGKILL);
			break;
		}
		int rc = poll(p, n, (int)(left * 1000) + 1);
		if (rc < 0)
			continue;
		char buf[65536];
		if (io >= 0 && p[io].revents) {
			ssize_t k = read(out[0], buf, sizeof(buf));
			if (k <= 0) out_open = false; else r.out.append(buf, k);
		}
		if (ie >= 0 && p[ie].revents) {
			ssize_t k = read(err[0], buf, sizeof(buf));
			if (k <= 0) err_open = false; else r.err.append(buf, k);
		}
		if (ii >= 0 && p[ii].revents) {
			ssize_t k = write(in[1], stdin_data.data() + written,
					  stdin_data.size() - written);
			if (k > 0) written += k;
			if (k < 0 || written == stdin_data.size()) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	close(out[0]);
	close(err[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st))
		r.status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		r.status = 128 + WTERMSIG(st);
	return r;
}

static std::string env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

std::string pcvm_path() { return env_or("PCVM", "build/pcvm"); }
std::string build_dir() { return env_or("BUILD", "build"); }
std::string guest_path(const std::string &name)
{
	return env_or("GUESTS", "build/guests") + "/" + name;
}

RunResult run_pcvm(const std::vector<std::string> &args, double timeout_s,
		   const std::string &stdin_data)
{
	std::vector<std::string> argv{pcvm_path()};
	argv.insert(argv.end(), args.begin(), args.end());
	return run_cmd(argv, timeout_s, stdin_data);
}

bool run_pcvm_unprivileged(const std::vector<std::string> &args, RunResult *r,
			   double timeout_s)
{
	if (geteuid() != 0) {
		*r = run_pcvm(args, timeout_s);
		return true;
	}
	if (run_cmd({"sh", "-c", "command -v setpriv"}).status != 0)
		return false;
	std::vector<std::string> argv{"setpriv", "--reuid=65534", "--regid=65534",
				      "--clear-groups", pcvm_path()};
	argv.insert(argv.end(), args.begin(), args.end());
	*r = run_cmd(argv, timeout_s);
	return true;
}

static std::vector<std::string> temp_dirs;

static void cleanup_temp_dirs()
{
	for (auto &d : temp_dirs) {
		std::string cmd = "rm -rf '" + d + "'";
		if (system(cmd.c_str()) != 0) {
			// nothing to do: a leftover directory in /tmp is harmless
		}
	}
}

std::string temp_dir()
{
	char tmpl[] = "/tmp/pcvm-test-XXXXXX";
	if (!mkdtemp(tmpl))
		throw std::runtime_error("mkdtemp failed");
	if (temp_dirs.empty())
		atexit(cleanup_temp_dirs);
	temp_dirs.push_back(tmpl);
	return tmpl;
}

std::string read_file(const std::string &path)
{
	std::ifstream f(path, std::ios::binary);
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

void write_file(const std::string &path, const std::string &data)
{
	std::ofstream f(path, std::ios::binary);
	f << data;
}

bool file_exists(const std::string &path)
{
	struct stat st;
	return stat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string &path)
{
	std::vector<std::string> v;
	DIR *d = opendir(path.c_str());
	if (!d)
		return v;
	while (struct dirent *e = readdir(d))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			v.push_back(e->d_name);
	closedir(d);
	std::sort(v.begin(), v.end());
	return v;
}
