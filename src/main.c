/*
 * pcvm's entry point: parse the command line, build the machine, run it,
 * and turn how it ended into the exit status (see exitcode.h).
 */
#include "cli.h"
#include "exitcode.h"
#include "log.h"
#include "vm.h"

#include <errno.h>

int main(int argc, char **argv)
{
	struct vm_config cfg;
	bool done;
	int status = cli_parse(argc, argv, &cfg, &done);
	if (status || done)
		return status;

	struct vm *vm;
	int err = vm_create(&cfg, &vm);
	if (err)
		return err == -EINVAL ? PCVM_EXIT_USAGE : PCVM_EXIT_ERROR;
	struct vm_result res = vm_run(vm);
	vm_destroy(vm);
	return res.status;
}
