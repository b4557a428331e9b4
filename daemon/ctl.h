/*
 * cloudspherectl's commands.  Each returns the process exit status:
 * CTL_OK, CTL_FAILED (what was asked about failed or is invalid),
 * CTL_USAGE, CTL_UNREACHABLE (the daemon could not be reached).
 */
#ifndef CTL_H
#define CTL_H

#define CTL_OK		0
#define CTL_FAILED	1
#define CTL_USAGE	2
#define CTL_UNREACHABLE	3

#include <stdbool.h>
#include <stdio.h>

/* Options before the command. */
struct ctl_opts {
	const char	*socket;	/* the daemon's control socket */
	bool		 json;
};
extern struct ctl_opts ctl_opts;

int	ctl_validate(int, char **);
int	ctl_online_run(int, char **);
void	ctl_online_usage(FILE *);
int	ctl_render(int, char **);
void	ctl_usage_validate(void);
void	ctl_usage_render(void);

#endif
