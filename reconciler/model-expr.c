/*
 * Expressions: the only things ever evaluated in a config repository.
 *
 *	${{ deployments.D.outputs.O }}	an output of another deployment
 *	${{ secrets.NAME }}		a secret held on the daemon host
 *	${{ deployment.name }}		this deployment's name
 *	${{ environment.name }}		its environment's name
 *	${{ git.commit }}		the commit being reconciled
 *
 * "$${{" is a literal "${{".  Nothing else is evaluated: no functions, no
 * arithmetic, no shell.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "model-int.h"
#include "xmalloc.h"

#define EXPR_MAX_LEN	256

bool
expr_maybe(const char *s)
{
	return (strstr(s, "${{") != NULL);
}

void
expr_list_release(struct expr_list *l)
{
	size_t	i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].a);
		free(l->v[i].b);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool
expr_whole(const struct expr_list *l)
{
	return (l->n == 1 && l->v[0].kind != EXPR_TEXT);
}

static void
expr_push(struct expr_list *l, enum expr_kind kind, char *a, char *b)
{
	/* Adjacent text is merged so that "a$${{b" stays one segment. */
	if (kind == EXPR_TEXT && l->n > 0 && l->v[l->n - 1].kind == EXPR_TEXT) {
		char *joined = xasprintf("%s%s", l->v[l->n - 1].a, a);

		free(l->v[l->n - 1].a);
		free(a);
		l->v[l->n - 1].a = joined;
		return;
	}
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n].kind = kind;
	l->v[l->n].a = a;
	l->v[l->n].b = b;
	l->n++;
}

/* Split "a.b.c" into at most four dot-separated words. */
static size_t
expr_words(char *s, char **w, size_t max)
{
	size_t	n = 0;
	char	*p = s;

	for (;;) {
		if (n == max)
			return (max + 1);
		w[n++] = p;
		if ((p = strchr(p, '.')) == NULL)
			return (n);
		*p++ = '\0';
	}
}

static int
expr_parse_one(struct expr_list *l, const char *body, char **cause)
{
	char	*copy = xstrdup(body), *w[4];
	size_t	 n = expr_words(copy, w, 4);
	int	 error = 0;

	if (n == 4 && strcmp(w[0], "deployments") == 0 &&
	    strcmp(w[2], "outputs") == 0) {
		if (!model_name_valid(w[1])) {
			*cause = xasprintf("invalid deployment name '%s' in expression '${{ %s }}'",
			    w[1], body);
			error = -EINVAL;
		} else if (!model_input_name_valid(w[3])) {
			*cause = xasprintf("invalid output name '%s' in expression '${{ %s }}'",
			    w[3], body);
			error = -EINVAL;
		} else
			expr_push(l, EXPR_OUTPUT, xstrdup(w[1]), xstrdup(w[3]));
	} else if (n == 2 && strcmp(w[0], "secrets") == 0) {
		if (!model_secret_name_valid(w[1])) {
			*cause = xasprintf("invalid secret name '%s' in expression '${{ %s }}'",
			    w[1], body);
			error = -EINVAL;
		} else
			expr_push(l, EXPR_SECRET, xstrdup(w[1]), NULL);
	} else if (n == 2 && strcmp(w[0], "deployment") == 0 &&
	    strcmp(w[1], "name") == 0)
		expr_push(l, EXPR_DEPLOYMENT_NAME, NULL, NULL);
	else if (n == 2 && strcmp(w[0], "environment") == 0 &&
	    strcmp(w[1], "name") == 0)
		expr_push(l, EXPR_ENVIRONMENT_NAME, NULL, NULL);
	else if (n == 2 && strcmp(w[0], "git") == 0 &&
	    strcmp(w[1], "commit") == 0)
		expr_push(l, EXPR_GIT_COMMIT, NULL, NULL);
	else {
		*cause = xasprintf("unknown expression '${{ %s }}' (expected deployments.NAME.outputs.OUTPUT, secrets.NAME, deployment.name, environment.name or git.commit)",
		    body);
		error = -EINVAL;
	}
	free(copy);
	return (error);
}

int
expr_scan(const char *s, struct expr_list *l, char **cause)
{
	const char	*p = s, *open, *close;
	char		*body;
	size_t		 len;
	int		 error;

	l->v = NULL;
	l->n = 0;
	*cause = NULL;
	while ((open = strstr(p, "${{")) != NULL) {
		if (open > s && open[-1] == '$') {
			/* "$${{": the text up to and including "${{". */
			expr_push(l, EXPR_TEXT, xstrndup(p, (size_t)(open - p) - 1),
			    NULL);
			expr_push(l, EXPR_TEXT, xstrdup("${{"), NULL);
			p = open + 3;
			continue;
		}
		if (open > p)
			expr_push(l, EXPR_TEXT, xstrndup(p, (size_t)(open - p)),
			    NULL);
		close = strstr(open + 3, "}}");
		if (close == NULL || close - open > EXPR_MAX_LEN) {
			*cause = xasprintf("unterminated expression '%.40s'", open);
			expr_list_release(l);
			return (-EINVAL);
		}
		/* Trim the spaces inside the braces. */
		open += 3;
		while (open < close && isspace((unsigned char)*open))
			open++;
		len = (size_t)(close - open);
		while (len > 0 && isspace((unsigned char)open[len - 1]))
			len--;
		body = xstrndup(open, len);
		error = expr_parse_one(l, body, cause);
		free(body);
		if (error != 0) {
			expr_list_release(l);
			return (error);
		}
		p = close + 2;
	}
	if (*p != '\0')
		expr_push(l, EXPR_TEXT, xstrdup(p), NULL);
	return (0);
}
