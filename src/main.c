/*
 * pcvm's entry point: parse the command line, build the machine, run it,
 * and turn how it ended into the exit status (see exitcode.h).
 */
#include "cli.h"
#include "disk/img.h"
#include "exitcode.h"
#include "log.h"
#include "vm.h"

#include <errno.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "img"))
		return img_main(argc - 1, argv + 1);
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
