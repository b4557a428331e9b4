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

int	ctl_validate(int, char **);
int	ctl_render(int, char **);
void	ctl_usage_validate(void);
void	ctl_usage_render(void);

#endif
