/*
 * The offline commands of cloudspherectl: validate and render read a
 * config repository (a folder, or a commit of a Git repository) without
 * the daemon.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "model.h"
#include "secrets.h"
#include "xmalloc.h"

struct source_opts {
	const char	*dir;
	const char	*git;
	const char	*rev;
	const char	*path;
};

void
ctl_usage_validate(void)
{
	fprintf(stderr,
	    "usage: cloudspherectl validate [--json] [--fingerprints] [DIR]\n"
	    "       cloudspherectl validate --git REPO [--rev REV] [--path PATH] [--json] [--fingerprints]\n");
}

void
ctl_usage_render(void)
{
	fprintf(stderr,
	    "usage: cloudspherectl render [--secrets-dir DIR] DEPLOYMENT [DIR]\n"
	    "       cloudspherectl render --git REPO [--rev REV] [--path PATH] [--secrets-dir DIR] DEPLOYMENT\n");
}

static int
open_source(struct source **src, const struct source_opts *o)
{
	char	*cause;
	int	 error;

	if (o->git != NULL)
		error = source_git_open(src, o->git, o->rev, o->path, &cause);
	else
		error = source_dir_open(src, o->dir != NULL ? o->dir : ".",
		    &cause);
	if (error != 0) {
		fprintf(stderr, "cloudspherectl: %s\n", cause);
		free(cause);
		return (-1);
	}
	return (0);
}

static int
load(struct model **m, const struct source_opts *o)
{
	struct source	*src;
	char		*cause;

	if (open_source(&src, o) != 0)
		return (-1);
	if (model_load(m, src, NULL, NULL, &cause) != 0) {
		fprintf(stderr, "cloudspherectl: %s\n", cause);
		free(cause);
		source_free(src);
		return (-1);
	}
	source_free(src);
	return (0);
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp((*(struct deployment *const *)a)->name,
	    (*(struct deployment *const *)b)->name));
}

static struct deployment **
sorted_deployments(const struct model *m)
{
	struct deployment	**v = xcalloc(m->ndeployments + 1, sizeof *v);

	if (m->ndeployments > 0)
		memcpy(v, m->deployments, m->ndeployments * sizeof *v);
	qsort(v, m->ndeployments, sizeof *v, name_cmp);
	return (v);
}

int
ctl_validate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "git", required_argument, NULL, 'g' },
		{ "rev", required_argument, NULL, 'r' },
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "fingerprints", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct source_opts	  o = { NULL, NULL, NULL, NULL };
	struct model		 *m;
	struct deployment	**sorted;
	bool			  json = false, fps = false;
	size_t			  i;
	int			  ch, status;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'g':
			o.git = optarg;
			break;
		case 'r':
			o.rev = optarg;
			break;
		case 'p':
			o.path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'f':
			fps = true;
			break;
		case 'h':
			ctl_usage_validate();
			return (CTL_OK);
		default:
			ctl_usage_validate();
			return (CTL_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || (argc == 1 && o.git != NULL) ||
	    ((o.rev != NULL || o.path != NULL) && o.git == NULL)) {
		ctl_usage_validate();
		return (CTL_USAGE);
	}
	if (argc == 1)
		o.dir = argv[0];
	if (load(&m, &o) != 0)
		return (CTL_FAILED);
	status = m->diags.n > 0 ? CTL_FAILED : CTL_OK;
	sorted = sorted_deployments(m);

	if (json) {
		json_t *doc = json_object(), *errs = json_array();
		json_t *invalid = json_array(), *fp = json_object();

		for (i = 0; i < m->diags.n; i++) {
			json_array_append_new(errs, json_pack("{s:s, s:i, s:s}",
			    "file", m->diags.v[i].file, "line", m->diags.v[i].line,
			    "message", m->diags.v[i].message));
		}
		for (i = 0; i < m->ndeployments; i++) {
			char f[MODEL_FINGERPRINT_LEN + 1], *cause;

			if (!sorted[i]->valid) {
				json_array_append_new(invalid,
				    json_string(sorted[i]->name));
				continue;
			}
			if (fps && model_fingerprint(f, sorted[i], NULL,
			    &cause) == 0)
				json_object_set_new(fp, sorted[i]->name,
				    json_string(f));
			else if (fps)
				free(cause);
		}
		json_object_set_new(doc, "deployments",
		    json_integer((json_int_t)m->ndeployments));
		json_object_set_new(doc, "blueprints",
		    json_integer((json_int_t)m->nblueprints));
		json_object_set_new(doc, "environments",
		    json_integer((json_int_t)m->nenvironments));
		json_object_set_new(doc, "templates",
		    json_integer((json_int_t)m->ntemplates));
		json_object_set_new(doc, "errors", errs);
		json_object_set_new(doc, "invalid", invalid);
		if (m->commit != NULL)
			json_object_set_new(doc, "commit",
			    json_string(m->commit));
		if (fps)
			json_object_set_new(doc, "fingerprints", fp);
		else
			json_decref(fp);
		json_dumpf(doc, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(doc);
	} else {
		diags_print(&m->diags, stdout);
		if (fps) {
			for (i = 0; i < m->ndeployments; i++) {
				char f[MODEL_FINGERPRINT_LEN + 1], *cause;

				if (!sorted[i]->valid)
					printf("%s invalid\n", sorted[i]->name);
				else if (model_fingerprint(f, sorted[i], NULL,
				    &cause) == 0)
					printf("%s %s\n", sorted[i]->name, f);
				else {
					printf("%s error: %s\n", sorted[i]->name,
					    cause);
					free(cause);
				}
			}
		} else if (status == CTL_OK)
			printf("%zu deployments, %zu blueprints: OK\n",
			    m->ndeployments, m->nblueprints);
		if (status != CTL_OK)
			fprintf(stderr,
			    "cloudspherectl: %zu error%s; %zu of %zu deployments invalid\n",
			    m->diags.n, m->diags.n == 1 ? "" : "s",
			    model_invalid_count(m), m->ndeployments);
	}
	free(sorted);
	model_free(m);
	return (status);
}

/*
 * With --secrets-dir, check that every secret the deployment uses is there
 * and safe; the values are read, then wiped, and never shown.
 */
static int
render_check_secrets(const struct deployment *d, const char *dir)
{
	char	**names, *value, *cause;
	size_t	  n, i;
	int	  error, failed = 0;

	n = model_secrets_used(d, &names);
	for (i = 0; i < n; i++) {
		error = secrets_read(dir, names[i], &value, &cause);
		if (error == -ENOENT) {
			fprintf(stderr, "cloudspherectl: secret '%s' is not set (no file %s/%s)\n",
			    names[i], dir, names[i]);
			failed = 1;
		} else if (error != 0) {
			fprintf(stderr, "cloudspherectl: secret '%s': %s\n",
			    names[i], cause);
			failed = 1;
		} else {
			explicit_bzero(value, strlen(value));
			free(value);
		}
		free(cause);
		free(names[i]);
	}
	free(names);
	return (failed ? -1 : 0);
}

/* Report the inputs whose value is only known after a run. */
static void
render_notes(const struct deployment *d, const char *commit)
{
	size_t	i;

	for (i = 0; i < d->ninputs; i++) {
		const struct rinput *in = &d->inputs[i];

		if ((in->flags & RINPUT_OUTPUTS) && !(in->flags & RINPUT_SECRET))
			fprintf(stderr,
			    "cloudspherectl: note: input '%s' uses outputs known only once the deployments it refers to are applied\n",
			    in->name);
		if ((in->flags & RINPUT_COMMIT) && commit == NULL)
			fprintf(stderr,
			    "cloudspherectl: note: input '%s' uses git.commit, known when read from Git (--git)\n",
			    in->name);
	}
}

int
ctl_render(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "git", required_argument, NULL, 'g' },
		{ "rev", required_argument, NULL, 'r' },
		{ "path", required_argument, NULL, 'p' },
		{ "secrets-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct source_opts	 o = { NULL, NULL, NULL, NULL };
	struct resolver		 r;
	struct model		*m;
	struct deployment	*d;
	const char		*secrets_dir = NULL;
	json_t			*inputs;
	char			*cause;
	int			 ch, status = CTL_OK;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'g':
			o.git = optarg;
			break;
		case 'r':
			o.rev = optarg;
			break;
		case 'p':
			o.path = optarg;
			break;
		case 's':
			secrets_dir = optarg;
			break;
		case 'h':
			ctl_usage_render();
			return (CTL_OK);
		default:
			ctl_usage_render();
			return (CTL_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2 || (argc == 2 && o.git != NULL) ||
	    ((o.rev != NULL || o.path != NULL) && o.git == NULL)) {
		ctl_usage_render();
		return (CTL_USAGE);
	}
	if (argc == 2)
		o.dir = argv[1];
	if (load(&m, &o) != 0)
		return (CTL_FAILED);
	if ((d = model_deployment(m, argv[0])) == NULL) {
		fprintf(stderr, "cloudspherectl: no deployment '%s' (no deployments/%s.yaml)\n",
		    argv[0], argv[0]);
		model_free(m);
		return (CTL_FAILED);
	}
	if (!d->valid) {
		fprintf(stderr, "cloudspherectl: deployment '%s' is invalid: %s\n",
		    d->name, d->cause != NULL ? d->cause : "see validate");
		model_free(m);
		return (CTL_FAILED);
	}
	if (secrets_dir != NULL && render_check_secrets(d, secrets_dir) != 0)
		status = CTL_FAILED;
	memset(&r, 0, sizeof r);
	r.commit = m->commit;
	if (model_resolve(&inputs, NULL, d, &r, RESOLVE_REDACTED,
	    &cause) != 0) {
		fprintf(stderr, "cloudspherectl: %s: %s\n", d->name, cause);
		free(cause);
		model_free(m);
		return (CTL_FAILED);
	}
	json_dumpf(inputs, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	render_notes(d, m->commit);
	json_decref(inputs);
	model_free(m);
	return (status);
}
