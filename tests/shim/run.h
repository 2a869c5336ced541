// Runs the built pcvm binary (or any program) the way a user would: argv,
// optional stdin, a time limit; captures stdout, stderr and the exit status.
#ifndef PCVM_TEST_RUN_H
#define PCVM_TEST_RUN_H

#include <string>
#include <vector>

struct RunResult {
	int status = -1;      // exit status, or 128+signal
	bool timed_out = false;
	std::string out, err;
};

RunResult run_cmd(const std::vector<std::string> &argv, double timeout_s = 60,
		  const std::string &stdin_data = "");
// Runs $PCVM with args.
RunResult run_pcvm(const std::vector<std::string> &args, double timeout_s = 60,
		   const std::string &stdin_data = "");

// Runs $PCVM as a user whom file permissions apply to: as is, or, when the
// tests run as root, as nobody through setpriv(1). Returns false (and runs
// nothing) when root has no setpriv. The files pcvm needs must be reachable
// by nobody (temp_dir() is 0700: chmod it 0755).
bool run_pcvm_unprivileged(const std::vector<std::string> &args, RunResult *r,
			   double timeout_s = 60);

// Paths from the environment that `make test` sets.
std::string pcvm_path();
std::string guest_path(const std::string &name); // $GUESTS/name
std::string build_dir();

// A fresh empty directory for one test, removed at exit.
std::string temp_dir();
std::string read_file(const std::string &path);
void write_file(const std::string &path, const std::string &data);
bool file_exists(const std::string &path);
// Names of the entries of a directory, sorted.
std::vector<std::string> list_dir(const std::string &path);

#endif
