/*
 * Resolving a deployment's inputs and runner environment: the expressions
 * evaluated with what the daemon knows (secrets on its host, outputs of the
 * deployments already applied, the commit), in one of three modes: the
 * real values for a run, a redacted view for people, and a fingerprint
 * view in which secrets are keyed hashes and unknowns are markers.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "model-int.h"
#include "xmalloc.h"

#define RESOLVE_MAX_STRING	(1024 * 1024)

struct rctx {
	const struct deployment	*d;
	const struct resolver	*r;
	enum resolve_mode	 mode;
	char			*cause;
};

static json_t	*resolve_value(struct rctx *, const json_t *);

static void
hex(char *out, const unsigned char *p, size_t n)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static char *
canonical(const json_t *v)
{
	char	*s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));

	return (s != NULL ? s : xstrdup("null"));
}

/* A marker object such as {"$unknown": "git.commit"}. */
static json_t *
marker(const char *key, const char *value)
{
	json_t	*o = json_object();

	json_object_set_new(o, key, json_string(value));
	return (o);
}

static void
rctx_fail(struct rctx *c, char *cause)
{
	if (c->cause == NULL)
		c->cause = cause;
	else
		free(cause);
}

/* The value of one expression; NULL after rctx_fail. */
static json_t *
resolve_expr(struct rctx *c, const struct expr_seg *e)
{
	const struct resolver	*r = c->r;
	json_t			*v;
	char			*secret, *why = NULL;

	switch (e->kind) {
	case EXPR_DEPLOYMENT_NAME:
		return (json_string(c->d->name));
	case EXPR_ENVIRONMENT_NAME:
		return (json_string(c->d->environment != NULL ?
		    c->d->environment->name : ""));
	case EXPR_GIT_COMMIT:
		if (r != NULL && r->commit != NULL)
			return (json_string(r->commit));
		if (c->mode == RESOLVE_REDACTED)
			return (json_string("${{ git.commit }}"));
		if (c->mode == RESOLVE_FINGERPRINT)
			return (marker("$unknown", "git.commit"));
		rctx_fail(c, xstrdup("the commit is not known"));
		return (NULL);
	case EXPR_SECRET:
		if (c->mode == RESOLVE_REDACTED)
			return (json_string("***"));
		if (r == NULL || r->secret == NULL ||
		    r->secret(r->arg, e->a, &secret, &why) != 0) {
			if (c->mode == RESOLVE_FINGERPRINT) {
				free(why);
				return (marker("$unset-secret", e->a));
			}
			if (why != NULL)
				rctx_fail(c, xasprintf("secret '%s': %s", e->a,
				    why));
			else
				rctx_fail(c, xasprintf("secret '%s' is not set on this host",
				    e->a));
			free(why);
			return (NULL);
		}
		v = json_string(secret);
		explicit_bzero(secret, strlen(secret));
		free(secret);
		if (v == NULL)
			rctx_fail(c, xasprintf("secret '%s' is not valid UTF-8",
			    e->a));
		return (v);
	case EXPR_OUTPUT:
		v = r != NULL && r->output != NULL ?
		    r->output(r->arg, e->a, e->b) : NULL;
		if (v != NULL)
			return (v);
		if (c->mode == RESOLVE_REDACTED) {
			char *s = xasprintf("${{ deployments.%s.outputs.%s }}",
			    e->a, e->b);

			v = json_string(s);
			free(s);
			return (v);
		}
		if (c->mode == RESOLVE_FINGERPRINT) {
			char *s = xasprintf("deployments.%s.outputs.%s", e->a,
			    e->b);

			v = marker("$unknown", s);
			free(s);
			return (v);
		}
		rctx_fail(c, xasprintf("output '%s' of deployment '%s' is not known yet",
		    e->b, e->a));
		return (NULL);
	case EXPR_TEXT:
		break;
	}
	return (json_string(e->a));
}

/* Text of an interpolated value; false if it cannot be text. */
static bool
append_text(struct rctx *c, struct buf *b, const json_t *v,
    const struct expr_seg *e)
{
	char	*s;
	int	 error;

	if (json_is_string(v))
		return (buf_add(b, json_string_value(v),
		    json_string_length(v)) == 0);
	if (json_is_object(v) && c->mode == RESOLVE_FINGERPRINT) {
		s = canonical(v);	/* a marker */
		error = buf_addstr(b, s);
		free(s);
		return (error == 0);
	}
	if (json_is_number(v) || json_is_boolean(v) || json_is_null(v)) {
		s = canonical(v);
		error = buf_addstr(b, s);
		free(s);
		return (error == 0);
	}
	rctx_fail(c, xasprintf("output '%s' of deployment '%s' is %s and cannot be put inside a string",
	    e->b, e->a, json_is_array(v) ? "a list" : "a mapping"));
	return (false);
}

static json_t *
resolve_string(struct rctx *c, const char *s)
{
	struct expr_list	 l;
	struct buf		 b;
	json_t			*v;
	size_t			 i;
	char			*cause;

	if (!expr_maybe(s))
		return (json_string(s));
	if (expr_scan(s, &l, &cause) != 0) {
		rctx_fail(c, cause);
		return (NULL);
	}
	if (expr_whole(&l)) {
		v = resolve_expr(c, &l.v[0]);
		expr_list_release(&l);
		return (v);
	}
	buf_init(&b, RESOLVE_MAX_STRING);
	for (i = 0; i < l.n; i++) {
		if (l.v[i].kind == EXPR_TEXT) {
			const char *t = l.v[i].a, *p;

			/* A kept expression must not merge with literal text. */
			if (c->mode == RESOLVE_REDACTED) {
				while ((p = strstr(t, "${{")) != NULL) {
					buf_add(&b, t, (size_t)(p - t));
					buf_addstr(&b, "$${{");
					t = p + 3;
				}
			}
			if (buf_addstr(&b, t) != 0)
				break;
			continue;
		}
		if ((v = resolve_expr(c, &l.v[i])) == NULL)
			break;
		if (!append_text(c, &b, v, &l.v[i])) {
			json_decref(v);
			break;
		}
		json_decref(v);
	}
	expr_list_release(&l);
	if (i < l.n || c->cause != NULL) {
		buf_release(&b);
		if (c->cause == NULL)
			rctx_fail(c, xasprintf("a value is longer than %d bytes",
			    RESOLVE_MAX_STRING));
		return (NULL);
	}
	v = json_stringn(b.data != NULL ? b.data : "", b.len);
	buf_release(&b);
	return (v);
}

static json_t *
resolve_value(struct rctx *c, const json_t *v)
{
	const char	*key;
	json_t		*out, *item, *r;
	size_t		 i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return (resolve_string(c, json_string_value(v)));
	case JSON_ARRAY:
		out = json_array();
		json_array_foreach(v, i, item) {
			if ((r = resolve_value(c, item)) == NULL) {
				json_decref(out);
				return (NULL);
			}
			json_array_append_new(out, r);
		}
		return (out);
	case JSON_OBJECT:
		out = json_object();
		json_object_foreach((json_t *)v, key, item) {
			if ((r = resolve_value(c, item)) == NULL) {
				json_decref(out);
				return (NULL);
			}
			json_object_set_new(out, key, r);
		}
		return (out);
	default:
		return (json_deep_copy(v));
	}
}

static void
hmac_hex(char out[65], const struct resolver *r, const char *data)
{
	static const unsigned char	 nokey[1];
	unsigned char			 mac[EVP_MAX_MD_SIZE];
	unsigned int			 len = 0;

	HMAC(EVP_sha256(), r != NULL && r->key != NULL ? r->key : nokey,
	    r != NULL && r->key != NULL ? (int)r->keylen : 0,
	    (const unsigned char *)data, strlen(data), mac, &len);
	hex(out, mac, 32);
}

/* One input or environment variable in the requested mode. */
static json_t *
resolve_rinput(struct rctx *c, const struct rinput *in)
{
	struct rctx	 real;
	json_t		*v;
	char		*s, mac[65];

	if (!(in->flags & RINPUT_SECRET))
		return (resolve_value(c, in->value));
	switch (c->mode) {
	case RESOLVE_REDACTED:
		return (json_string("***"));
	case RESOLVE_FINGERPRINT:
		/* The keyed hash of the real value, never the value. */
		real = *c;
		real.mode = RESOLVE_REAL;
		real.cause = NULL;
		if ((v = resolve_value(&real, in->value)) == NULL) {
			free(real.cause);
			return (marker("$unresolved-secret", in->name));
		}
		s = canonical(v);
		json_decref(v);
		hmac_hex(mac, c->r, s);
		explicit_bzero(s, strlen(s));
		free(s);
		return (marker("$secret", mac));
	default:
		return (resolve_value(c, in->value));
	}
}

static json_t *
resolve_set(struct rctx *c, const struct rinput *v, size_t n)
{
	json_t	*out = json_object(), *r;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if ((r = resolve_rinput(c, &v[i])) == NULL) {
			json_decref(out);
			return (NULL);
		}
		json_object_set_new(out, v[i].name, r);
	}
	return (out);
}

int
model_resolve(json_t **inputs, json_t **env, const struct deployment *d,
    const struct resolver *r, enum resolve_mode mode, char **cause)
{
	struct rctx	c = { .d = d, .r = r, .mode = mode, .cause = NULL };

	*cause = NULL;
	if (inputs != NULL)
		*inputs = NULL;
	if (env != NULL)
		*env = NULL;
	if (d->link == NULL) {
		*cause = xasprintf("deployment '%s' is invalid%s%s", d->name,
		    d->cause != NULL ? ": " : "",
		    d->cause != NULL ? d->cause : "");
		return (-EINVAL);
	}
	if (inputs != NULL &&
	    (*inputs = resolve_set(&c, d->inputs, d->ninputs)) == NULL)
		goto fail;
	if (env != NULL && (*env = resolve_set(&c, d->env, d->nenv)) == NULL) {
		if (inputs != NULL) {
			json_decref(*inputs);
			*inputs = NULL;
		}
		goto fail;
	}
	return (0);
fail:
	*cause = c.cause != NULL ? c.cause : xstrdup("cannot resolve inputs");
	return (-EINVAL);
}

static int
digest_add(EVP_MD_CTX *ctx, const char *label, const char *value)
{
	if (EVP_DigestUpdate(ctx, label, strlen(label)) != 1 ||
	    EVP_DigestUpdate(ctx, " ", 1) != 1 ||
	    EVP_DigestUpdate(ctx, value, strlen(value)) != 1 ||
	    EVP_DigestUpdate(ctx, "\n", 1) != 1)
		return (-EIO);
	return (0);
}

int
model_fingerprint(char out[MODEL_FINGERPRINT_LEN + 1],
    const struct deployment *d, const struct resolver *r, char **cause)
{
	struct rctx	 c = { .d = d, .r = r, .mode = RESOLVE_FINGERPRINT };
	EVP_MD_CTX	*ctx;
	json_t		*inputs = NULL, *env = NULL, *runner, *outputs, *v;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	char		*s, tree[GIT_OID_HEXSZ + 1];
	size_t		 i;
	int		 error = -EIO;

	*cause = NULL;
	out[0] = '\0';
	if (!d->valid || d->link == NULL) {
		*cause = xasprintf("deployment '%s' is invalid", d->name);
		return (-EINVAL);
	}
	if ((inputs = resolve_set(&c, d->inputs, d->ninputs)) == NULL ||
	    (env = resolve_set(&c, d->env, d->nenv)) == NULL) {
		json_decref(inputs);
		*cause = c.cause != NULL ? c.cause :
		    xstrdup("cannot resolve inputs");
		return (-EINVAL);
	}
	runner = json_object();
	json_object_set_new(runner, "env", env);
	if (d->blueprint->provider->kind == PROVIDER_TERRAFORM ||
	    d->blueprint->provider->kind == PROVIDER_TOFU)
		json_object_set_new(runner, "terraform_binary",
		    json_string(d->environment->terraform_binary));
	outputs = json_object();
	for (i = 0; i < d->nrefs; i++) {
		const struct output_ref *ref = &d->refs[i];

		v = r != NULL && r->output != NULL ?
		    r->output(r->arg, ref->deployment, ref->output) : NULL;
		if (v == NULL)
			v = json_string("$unknown");
		s = xasprintf("%s.%s", ref->deployment, ref->output);
		json_object_set_new(outputs, s, v);
		free(s);
	}

	git_oid_tostr(tree, sizeof tree, &d->blueprint->tree);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto done;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, "cloudsphere-fingerprint-v1\n", 27) != 1)
		goto done;
	if (digest_add(ctx, "tree", tree) != 0 ||
	    digest_add(ctx, "provider", d->blueprint->provider->name) != 0)
		goto done;
	s = canonical(runner);
	error = digest_add(ctx, "runner", s);
	free(s);
	if (error != 0)
		goto done;
	s = canonical(inputs);
	error = digest_add(ctx, "inputs", s);
	free(s);
	if (error != 0)
		goto done;
	s = canonical(outputs);
	error = digest_add(ctx, "outputs", s);
	free(s);
	if (error != 0)
		goto done;
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
		error = -EIO;
		goto done;
	}
	hex(out, md, 32);
	error = 0;
done:
	if (error != 0 && *cause == NULL)
		*cause = xstrdup("cannot compute the fingerprint");
	EVP_MD_CTX_free(ctx);
	json_decref(inputs);
	json_decref(runner);
	json_decref(outputs);
	return (error);
}

static void
secrets_collect(const json_t *v, char ***names, size_t *n)
{
	struct expr_list	 l;
	const char		*key;
	json_t			*item;
	size_t			 i, j;
	char			*cause;

	switch (json_typeof(v)) {
	case JSON_STRING:
		if (!expr_maybe(json_string_value(v)))
			return;
		if (expr_scan(json_string_value(v), &l, &cause) != 0) {
			free(cause);
			return;
		}
		for (i = 0; i < l.n; i++) {
			if (l.v[i].kind != EXPR_SECRET)
				continue;
			for (j = 0; j < *n; j++) {
				if (strcmp((*names)[j], l.v[i].a) == 0)
					break;
			}
			if (j < *n)
				continue;
			*names = xreallocarray(*names, *n + 1, sizeof **names);
			(*names)[(*n)++] = xstrdup(l.v[i].a);
		}
		expr_list_release(&l);
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, item)
			secrets_collect(item, names, n);
		break;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, item)
			secrets_collect(item, names, n);
		break;
	default:
		break;
	}
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

size_t
model_secrets_used(const struct deployment *d, char ***names)
{
	size_t	n = 0, i;

	*names = NULL;
	for (i = 0; i < d->ninputs; i++)
		secrets_collect(d->inputs[i].value, names, &n);
	for (i = 0; i < d->nenv; i++)
		secrets_collect(d->env[i].value, names, &n);
	if (n > 0)
		qsort(*names, n, sizeof **names, name_cmp);
	return (n);
}
