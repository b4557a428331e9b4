/*
 * cloudspherectl: the command-line client of Cloudsphere.  The offline
 * commands (validate, render) read a config repository directly; the
 * others talk to cloudsphered through its control socket.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cloudspherectl COMMAND [ARGS]\n"
	    "\n"
	    "Offline commands (no daemon needed):\n"
	    "  validate [DIR]              check a config repository checkout\n"
	    "  validate --git REPO [--rev REV]\n"
	    "                              check a commit of a Git repository\n"
	    "  render DEPLOYMENT [DIR]     show a deployment's resolved inputs\n"
	    "\n"
	    "Run 'cloudspherectl COMMAND --help' for a command's options,\n"
	    "and see cloudspherectl(1).\n");
}

int
main(int argc, char **argv)
{
	static const struct {
		const char	*name;
		int		(*fn)(int, char **);
	} commands[] = {
		{ "validate", ctl_validate },
		{ "render", ctl_render },
	};
	size_t	i;

	if (argc < 2) {
		usage(stderr);
		return (CTL_USAGE);
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return (CTL_OK);
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("cloudspherectl %s\n", PACKAGE_VERSION);
		return (CTL_OK);
	}
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return (commands[i].fn(argc - 1, argv + 1));
	}
	fprintf(stderr, "cloudspherectl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return (CTL_USAGE);
}
