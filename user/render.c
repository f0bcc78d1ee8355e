// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/* Formats and weights by name, the recording check, and the dispatch to each renderer. */
#include <string.h>
#include "log.h"
#include "render_internal.h"

static const struct {
	const char *name;
	enum output_format format;
} format_names[] = {
	{ "json", FORMAT_JSON },
	{ "text", FORMAT_TEXT },
	{ "txt", FORMAT_TEXT },
	{ "folded", FORMAT_FOLDED },
	{ "svg", FORMAT_SVG },
	{ "html", FORMAT_HTML },
	{ "speedscope", FORMAT_SPEEDSCOPE },
	{ "pprof", FORMAT_PPROF },
};

/* Longest suffixes first: ".speedscope.json" is not the recording. */
static const struct {
	const char *suffix;
	enum output_format format;
} format_suffixes[] = {
	{ ".speedscope.json", FORMAT_SPEEDSCOPE },
	{ ".pb.gz", FORMAT_PPROF },
	{ ".json", FORMAT_JSON },
	{ ".txt", FORMAT_TEXT },
	{ ".text", FORMAT_TEXT },
	{ ".folded", FORMAT_FOLDED },
	{ ".svg", FORMAT_SVG },
	{ ".html", FORMAT_HTML },
	{ ".htm", FORMAT_HTML },
};

static const char *const weight_names[WEIGHT_COUNT] = {
	[WEIGHT_ALLOCATIONS] = "allocations",
	[WEIGHT_BYTES] = "bytes",
	[WEIGHT_LIVE] = "live",
	[WEIGHT_CYCLIC] = "cyclic",
	[WEIGHT_GC_PAUSE] = "gc-pause",
};

enum output_format output_format_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (!strcmp(name, format_names[i].name))
			return format_names[i].format;
	}
	return FORMAT_NONE;
}

enum output_format output_format_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	for (size_t i = 0; i < sizeof(format_suffixes) / sizeof(format_suffixes[0]); i++) {
		size_t n = strlen(format_suffixes[i].suffix);

		/* a name that is only the suffix (".json") is a hidden file, not a format */
		if (len > n && !strcmp(base + len - n, format_suffixes[i].suffix))
			return format_suffixes[i].format;
	}
	return FORMAT_NONE;
}

const char *output_format_name(enum output_format f)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (format_names[i].format == f)
			return format_names[i].name;
	}
	return "none";
}

bool output_format_draws_stacks(enum output_format f)
{
	return f == FORMAT_FOLDED || f == FORMAT_SVG || f == FORMAT_SPEEDSCOPE || f == FORMAT_PPROF;
}

int render_weight_parse(const char *name, enum render_weight *w)
{
	for (int i = 0; i < WEIGHT_COUNT; i++) {
		if (!strcmp(name, weight_names[i])) {
			*w = (enum render_weight)i;
			return 0;
		}
	}
	return -1;
}

const char *render_weight_name(enum render_weight w)
{
	return w < WEIGHT_COUNT ? weight_names[w] : "?";
}

const char *jstr(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : def;
}

uint64_t ju64_value(const json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
	if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 1.8e19)
		return (uint64_t)(json_real_value(v) + 0.5);
	return 0;
}

uint64_t ju64(const json_t *o, const char *key)
{
	return ju64_value(json_object_get(o, key));
}

double jreal(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

json_t *jarr(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_array(v) ? v : NULL;
}

json_t *jobj(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_object(v) ? v : NULL;
}

int recording_json_check(const json_t *rec, char *why, size_t cap)
{
	if (!json_is_object(rec)) {
		snprintf(why, cap, "not a pyobjlife recording (not a JSON object)");
		return -1;
	}
	if (!json_string_value(json_object_get(jobj(rec, "pyobjlife"), "version"))) {
		snprintf(why, cap, "not a pyobjlife recording (no \"pyobjlife\": {\"version\"})");
		return -1;
	}
	if (!jobj(rec, "gc") || !jarr(jobj(rec, "gc"), "generations")) {
		snprintf(why, cap, "not a complete pyobjlife recording (no \"gc\" generations)");
		return -1;
	}
	return 0;
}

/* Whether any element of `arr` has member `key` (lifecycle data, added by newer versions). */
static bool any_has(const json_t *arr, const char *key)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
	{
		if (json_object_get(e, key))
			return true;
	}
	return false;
}

bool recording_has_weight(const json_t *rec, enum render_weight w)
{
	const json_t *stacks = jarr(rec, "stacks");

	switch (w) {
	case WEIGHT_ALLOCATIONS:
	case WEIGHT_BYTES:
		return stacks != NULL;
	case WEIGHT_LIVE:
		return stacks && any_has(stacks, "alive_at_end");
	case WEIGHT_CYCLIC:
		return stacks && any_has(stacks, "cycle_collected");
	case WEIGHT_GC_PAUSE:
		return jarr(rec, "gc_blame") != NULL;
	default:
		return false;
	}
}

int recording_check_weight(const json_t *rec, enum render_weight w)
{
	if (recording_has_weight(rec, w))
		return 0;
	switch (w) {
	case WEIGHT_ALLOCATIONS:
	case WEIGHT_BYTES:
		pr_err("weight %s: this recording has no allocation stacks (it was made in %s "
		       "mode): record with --mode full",
		       render_weight_name(w), jstr(rec, "mode", "gc"));
		break;
	case WEIGHT_LIVE:
	case WEIGHT_CYCLIC:
		pr_err("weight %s: this recording has no lifecycle data (no \"%s\" in its stacks): "
		       "record with --mode full",
		       render_weight_name(w),
		       w == WEIGHT_LIVE ? "alive_at_end" : "cycle_collected");
		break;
	default:
		pr_err("weight gc-pause: this recording has no \"gc_blame\" (the Python stacks "
		       "that "
		       "triggered collections): record with --mode full");
		break;
	}
	return -1;
}

int render_check(const json_t *rec, enum output_format f, const struct render_opts *o)
{
	bool any = false;

	if (f == FORMAT_FOLDED || f == FORMAT_SVG || f == FORMAT_PPROF)
		return recording_check_weight(rec, o->weight);
	if ((f == FORMAT_HTML || f == FORMAT_SPEEDSCOPE) && o->weight_given)
		return recording_check_weight(rec, o->weight);
	for (int w = 0; w < WEIGHT_COUNT; w++)
		any |= recording_has_weight(rec, (enum render_weight)w);
	/* speedscope holds stacks only; the HTML report has its GC charts without them */
	if (f == FORMAT_SPEEDSCOPE && !any)
		return recording_check_weight(rec, WEIGHT_ALLOCATIONS);
	return 0;
}

#define JSON_WRITE_BUFFER (1u << 20)

struct json_writer {
	FILE *out;
	char *buf;
	size_t used;
	bool failed;
};

static int json_writer_flush(struct json_writer *w)
{
	if (w->used && fwrite(w->buf, 1, w->used, w->out) != w->used)
		w->failed = true;
	w->used = 0;
	return w->failed ? -1 : 0;
}

/* jansson hands over every token alone: gathered here, written a megabyte at a time */
static int json_writer_take(const char *data, size_t size, void *ctx)
{
	struct json_writer *w = ctx;

	if (w->used + size > JSON_WRITE_BUFFER && json_writer_flush(w))
		return -1;
	if (size > JSON_WRITE_BUFFER)
		return fwrite(data, 1, size, w->out) == size ? 0 : -1;
	memcpy(w->buf + w->used, data, size);
	w->used += size;
	return 0;
}

int json_write_file(const json_t *j, FILE *out, size_t flags)
{
	struct json_writer w = { .out = out, .buf = malloc(JSON_WRITE_BUFFER) };
	int err;

	if (!w.buf)
		return json_dumpf(j, out, flags) || fputc('\n', out) == EOF ? -1 : 0;
	err = json_dump_callback(j, json_writer_take, &w, flags);
	if (!err)
		err = json_writer_take("\n", 1, &w);
	if (json_writer_flush(&w))
		err = -1;
	free(w.buf);
	return err ? -1 : 0;
}

static int render_json(FILE *out, const json_t *rec)
{
	if (json_write_file(rec, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER)) {
		pr_err("failed to write the recording JSON");
		return -1;
	}
	return 0;
}

int render_recording(FILE *out, const json_t *rec, enum output_format f,
		     const struct render_opts *o)
{
	switch (f) {
	case FORMAT_JSON:
		return render_json(out, rec);
	case FORMAT_TEXT:
		return render_text(out, rec, o);
	case FORMAT_FOLDED:
		return render_folded(out, rec, o);
	case FORMAT_SVG:
		return render_flamegraph(out, rec, o);
	case FORMAT_HTML:
		return render_html(out, rec, o);
	case FORMAT_SPEEDSCOPE:
		return render_speedscope(out, rec, o);
	case FORMAT_PPROF:
		return render_pprof(out, rec, o);
	default:
		pr_err("no renderer for output format %d", (int)f);
		return -1;
	}
}

/* XML 1.0 allows tab, newline and carriage return below 0x20, and nothing else. */
static void put_xml_char(FILE *out, char c)
{
	switch (c) {
	case '<':
		fputs("&lt;", out);
		break;
	case '>':
		fputs("&gt;", out);
		break;
	case '&':
		fputs("&amp;", out);
		break;
	case '"':
		fputs("&quot;", out);
		break;
	case '\'':
		fputs("&#39;", out);
		break;
	default:
		if ((unsigned char)c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			fputc('?', out);
		else
			fputc(c, out);
	}
}

static bool utf8_continuation(char c)
{
	return ((unsigned char)c & 0xc0) == 0x80;
}

size_t utf8_length(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += !utf8_continuation(*s);
	return n;
}

void fput_xml_prefix(FILE *out, const char *s, size_t max_chars)
{
	size_t chars = 0;

	for (; *s; s++) {
		if (!utf8_continuation(*s) && chars++ == max_chars)
			break;
		put_xml_char(out, *s);
	}
}

void fput_xml(FILE *out, const char *s)
{
	for (; *s; s++)
		put_xml_char(out, *s);
}
