/*
 * cloudspherectl: the command-line client of Cloudsphere.  The offline
 * commands (validate, render) read a config repository directly; the
 * others talk to cloudsphered through its control socket.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"

#define DEFAULT_SOCKET	RUNSTATEDIR "/cloudsphere/control.sock"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cloudspherectl [-s SOCKET] [-c FILE] [--json] COMMAND [ARGS]\n"
	    "\n"
	    "Offline commands (no daemon needed):\n"
	    "  validate [DIR]              check a config repository checkout\n"
	    "  validate --git REPO [--rev REV]\n"
	    "                              check a commit of a Git repository\n"
	    "  render DEPLOYMENT [DIR]     show a deployment's resolved inputs\n"
	    "\n"
	    "Online commands (through the daemon's control socket):\n");
	ctl_online_usage(f);
	fprintf(f, "\n"
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
	const char	*conf_file = NULL;
	char		*socket_path = NULL;
	size_t		 i;
	int		 ret;

	/* Global options, before the command. */
	while (argc > 1 && argv[1][0] == '-') {
		if (strcmp(argv[1], "-s") == 0 && argc > 2) {
			ctl_opts.socket = argv[2];
			argc -= 2;
			argv += 2;
		} else if (strcmp(argv[1], "-c") == 0 && argc > 2) {
			conf_file = argv[2];
			argc -= 2;
			argv += 2;
		} else if (strcmp(argv[1], "--json") == 0) {
			ctl_opts.json = true;
			argc--;
			argv++;
		} else
			break;
	}

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
	/* The socket: -s, $CLOUDSPHERE_SOCKET, -c FILE's, the default. */
	if (ctl_opts.socket == NULL)
		ctl_opts.socket = getenv("CLOUDSPHERE_SOCKET");
	if (ctl_opts.socket == NULL && conf_file != NULL) {
		struct config	*c;
		struct diags	 errs;

		diags_init(&errs);
		if (config_load(&c, conf_file, &errs) != 0) {
			for (i = 0; i < errs.n; i++)
				fprintf(stderr, "%s:%d: %s\n", errs.v[i].file,
				    errs.v[i].line, errs.v[i].message);
			diags_release(&errs);
			return (CTL_USAGE);
		}
		diags_release(&errs);
		if (c->control_socket != NULL)
			socket_path = strdup(c->control_socket);
		config_free(c);
		ctl_opts.socket = socket_path;
	}
	if (ctl_opts.socket == NULL)
		ctl_opts.socket = DEFAULT_SOCKET;
	if ((ret = ctl_online_run(argc - 1, argv + 1)) != -1) {
		free(socket_path);
		return (ret);
	}
	free(socket_path);
	fprintf(stderr, "cloudspherectl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return (CTL_USAGE);
}
