/*
 * imsctl report: run the simulated machine and write one self-contained
 * HTML page about the run: the summary table, and four pictures drawn from
 * the result's time series by a small inline script into inline SVG
 * (vectors in use per CPU as a heatmap, remapping entries per unit,
 * interrupts per ADI as a heatmap, remapping faults). Nothing is fetched:
 * no external script, style sheet, font or image.
 *
 * The data goes into the page as JSON (made by jansson, with '/' escaped so
 * that no "</script>" can appear inside it). Each chart's element carries
 * data-rendered="1" and data-elements (the number of shapes drawn) once
 * drawn, and any script error is written into #js-errors, so that a
 * headless browser can check the page (tests/report/run).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "imsctl.h"

/* At most this many ADIs get a row of their own in the ADI heatmap. */
#define REPORT_MAX_ADI_ROWS 48

static void report_usage(FILE *f)
{
	fprintf(f, "usage: imsctl report --out FILE.html [OPTIONS]\n\n"
		   "Run the simulated machine (the same options as imsctl sim) and write a\n"
		   "self-contained HTML page: the summary, vectors in use per CPU over time\n"
		   "(a heatmap), remapping entries per unit, interrupts per ADI over time,\n"
		   "and remapping faults. The page needs no network.\n\n"
		   "options:\n");
	fprintf(f, "  %-26s %s\n", "--out FILE", "the page to write (required)");
	imsctl_simopts_help(f, IMSCTL_SIMOPT_SIM);
	fprintf(f, "  %-26s %s\n", "--no-timing", "leave out the wall time");
	fprintf(f, "\nExit: 0 page written from a clean run, 1 an invariant was violated (the page\n"
		   "is written and shows it) or the run or the write failed, 2 bad input.\n");
}

/* Text into HTML: the five characters that could start markup escaped. */
static void html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* One line of a series as a JSON array of its filled points. */
static json_t *series_line(const struct ims_sim_series *s, uint32_t line)
{
	json_t *a = json_array();

	for (uint32_t p = 0; a && p < s->points; p++)
		json_array_append_new(a, json_integer((json_int_t)s->v[line * IMS_SIM_SERIES_BUCKETS + p]));
	return a;
}

static json_t *series_json(const struct ims_sim_series *s, const char *label_prefix, bool numbered)
{
	json_t *o = json_object(), *lines = json_array();
	char label[32];

	json_object_set_new(o, "points", json_integer(s->points));
	json_object_set_new(o, "step_per_point", json_integer((json_int_t)s->step_per_point));
	for (uint32_t i = 0; i < s->n; i++) {
		json_t *l = json_object();

		if (numbered)
			snprintf(label, sizeof(label), "%s %u", label_prefix, i);
		else
			snprintf(label, sizeof(label), "%s", label_prefix);
		json_object_set_new(l, "label", json_string(label));
		json_object_set_new(l, "v", series_line(s, i));
		json_array_append_new(lines, l);
	}
	json_object_set_new(o, "lines", lines);
	return o;
}

static uint64_t line_total(const struct ims_sim_series *s, uint32_t line)
{
	uint64_t t = 0;

	for (uint32_t p = 0; p < s->points; p++)
		t += s->v[line * IMS_SIM_SERIES_BUCKETS + p];
	return t;
}

static int by_total_desc(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;	/* {total, line} pairs */

	if (x[0] != y[0])
		return x[0] < y[0] ? 1 : -1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

/*
 * Interrupts per ADI: a machine may have thousands of ADI slots, so the
 * busiest get a row each (in ADI order) and the rest are summed in one row.
 */
static json_t *adi_series_json(const struct ims_sim_series *s, uint32_t adis)
{
	json_t *o = json_object(), *lines = json_array();
	uint64_t (*order)[2] = calloc(s->n ? s->n : 1, sizeof(*order));
	uint32_t shown = 0, active = 0;
	char label[48];

	json_object_set_new(o, "points", json_integer(s->points));
	json_object_set_new(o, "step_per_point", json_integer((json_int_t)s->step_per_point));
	json_object_set_new(o, "lines", lines);
	if (!order)
		return o;
	for (uint32_t i = 0; i < s->n; i++) {
		order[i][0] = line_total(s, i);
		order[i][1] = i;
		active += order[i][0] != 0;
	}
	qsort(order, s->n, sizeof(*order), by_total_desc);
	shown = active < REPORT_MAX_ADI_ROWS ? active : REPORT_MAX_ADI_ROWS;
	/* Back in ADI order, for a stable picture. */
	for (uint32_t i = 0; i < shown; i++)
		order[i][0] = 0;
	qsort(order, shown, sizeof(*order), by_total_desc);
	for (uint32_t i = 0; i < shown; i++) {
		uint32_t line = (uint32_t)order[i][1];
		json_t *l = json_object();

		snprintf(label, sizeof(label), "dev%u adi%u", line / adis, line % adis);
		json_object_set_new(l, "label", json_string(label));
		json_object_set_new(l, "v", series_line(s, line));
		json_array_append_new(lines, l);
	}
	if (active > shown) {
		json_t *l = json_object(), *v = json_array();

		for (uint32_t p = 0; p < s->points; p++) {
			uint64_t sum = 0;

			for (uint32_t i = shown; i < s->n; i++)
				sum += s->v[order[i][1] * IMS_SIM_SERIES_BUCKETS + p];
			json_array_append_new(v, json_integer((json_int_t)sum));
		}
		snprintf(label, sizeof(label), "%u others", active - shown);
		json_object_set_new(l, "label", json_string(label));
		json_object_set_new(l, "v", v);
		json_array_append_new(lines, l);
	}
	json_object_set_new(o, "adis_with_interrupts", json_integer(active));
	free(order);
	return o;
}

static const char page_head[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<title>ims: simulated machine report</title>\n"
	"<script>\n"
	"/* Any script error on this page is written into #js-errors. */\n"
	"window.imsErrors = [];\n"
	"window.addEventListener('error', function (e) {\n"
	"  window.imsErrors.push(String(e.message || e));\n"
	"  var p = document.getElementById('js-errors');\n"
	"  if (p) { p.textContent = window.imsErrors.join('\\n'); p.setAttribute('data-errors', String(window.imsErrors.length)); }\n"
	"});\n"
	"</script>\n"
	"<style>\n"
	"body { font: 14px/1.4 sans-serif; margin: 1.5em auto; max-width: 980px; color: #222; }\n"
	"h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }\n"
	"table.summary { border-collapse: collapse; }\n"
	"table.summary td, table.summary th { border: 1px solid #ccc; padding: 2px 10px; text-align: left; }\n"
	"table.summary td.n { text-align: right; font-variant-numeric: tabular-nums; }\n"
	".chart svg { display: block; } .chart text { font: 11px sans-serif; fill: #333; }\n"
	"p.note { color: #555; margin: 0.2em 0 0.6em; }\n"
	"pre.violation { background: #fee; border: 1px solid #c33; padding: 0.6em; white-space: pre-wrap; }\n"
	"#js-errors { color: #b00; }\n"
	"</style>\n</head>\n";

/* The drawing script: plain DOM and SVG, no library. */
static const char page_script[] =
	"<script>\n"
	"(function () {\n"
	"  'use strict';\n"
	"  var NS = 'http://www.w3.org/2000/svg';\n"
	"  var data = JSON.parse(document.getElementById('ims-data').textContent);\n"
	"  function el(name, attrs, parent, text) {\n"
	"    var e = document.createElementNS(NS, name);\n"
	"    for (var k in attrs) e.setAttribute(k, String(attrs[k]));\n"
	"    if (text !== undefined) e.textContent = text;\n"
	"    if (parent) parent.appendChild(e);\n"
	"    return e;\n"
	"  }\n"
	"  function maxOf(s) {\n"
	"    var m = 0;\n"
	"    s.lines.forEach(function (l) { l.v.forEach(function (x) { if (x > m) m = x; }); });\n"
	"    return m;\n"
	"  }\n"
	"  function span(s, p) { return 'steps ' + p * s.step_per_point + '..' + ((p + 1) * s.step_per_point - 1); }\n"
	"  function done(box, n) { box.setAttribute('data-elements', String(n)); box.setAttribute('data-rendered', '1'); }\n"
	"  function color(t) { return 'hsl(215,70%,' + (96 - 68 * t).toFixed(1) + '%)'; }\n"
	"  function axis(svg, x0, x1, y, s) {\n"
	"    el('text', { x: x0, y: y + 14 }, svg, 'step 0');\n"
	"    el('text', { x: x1, y: y + 14, 'text-anchor': 'end' }, svg, 'step ' + Math.min(s.points * s.step_per_point, data.result.steps));\n"
	"  }\n"
	"  /* One row per line, one cell per point, darker for more. */\n"
	"  function heatmap(id, s, unit) {\n"
	"    var box = document.getElementById(id), n = 0;\n"
	"    var left = 110, top = 6, rows = s.lines.length, cols = Math.max(s.points, 1);\n"
	"    var cw = Math.max(4, Math.floor(720 / cols)), ch = rows > 24 ? 9 : 16;\n"
	"    var w = left + cols * cw + 140, h = top + rows * ch + 24, max = Math.max(maxOf(s), 1);\n"
	"    var svg = el('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img' }, box);\n"
	"    s.lines.forEach(function (l, r) {\n"
	"      el('text', { x: left - 6, y: top + r * ch + ch - 3, 'text-anchor': 'end' }, svg, l.label);\n"
	"      l.v.forEach(function (x, p) {\n"
	"        var c = el('rect', { 'class': 'cell', x: left + p * cw, y: top + r * ch, width: cw, height: ch - 1, fill: color(x / max) }, svg);\n"
	"        el('title', {}, c, l.label + ', ' + span(s, p) + ': ' + x + ' ' + unit);\n"
	"        n++;\n"
	"      });\n"
	"    });\n"
	"    axis(svg, left, left + cols * cw, top + rows * ch, s);\n"
	"    for (var i = 0; i <= 4; i++)\n"
	"      el('rect', { x: w - 130, y: top + i * 14, width: 12, height: 12, fill: color(i / 4) }, svg);\n"
	"    el('text', { x: w - 114, y: top + 10 }, svg, '0');\n"
	"    el('text', { x: w - 114, y: top + 66 }, svg, String(max) + ' ' + unit);\n"
	"    done(box, n);\n"
	"  }\n"
	"  /* One polyline per line over the points. */\n"
	"  function lines(id, s, unit) {\n"
	"    var box = document.getElementById(id), n = 0, palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];\n"
	"    var left = 60, top = 10, pw = 720, ph = 180, w = left + pw + 110, h = top + ph + 24;\n"
	"    var max = Math.max(maxOf(s), 1), cols = Math.max(s.points - 1, 1);\n"
	"    var svg = el('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img' }, box);\n"
	"    el('line', { x1: left, y1: top + ph, x2: left + pw, y2: top + ph, stroke: '#888' }, svg);\n"
	"    el('line', { x1: left, y1: top, x2: left, y2: top + ph, stroke: '#888' }, svg);\n"
	"    el('text', { x: left - 6, y: top + 10, 'text-anchor': 'end' }, svg, String(max));\n"
	"    el('text', { x: left - 6, y: top + ph, 'text-anchor': 'end' }, svg, '0');\n"
	"    s.lines.forEach(function (l, i) {\n"
	"      var pts = l.v.map(function (x, p) {\n"
	"        return (left + p * pw / cols).toFixed(1) + ',' + (top + ph - x * ph / max).toFixed(1);\n"
	"      });\n"
	"      var c = palette[i % palette.length];\n"
	"      var pl = el('polyline', { 'class': 'series', points: pts.join(' '), fill: 'none', stroke: c, 'stroke-width': 2 }, svg);\n"
	"      el('title', {}, pl, l.label + ' (' + unit + ')');\n"
	"      el('text', { x: left + pw + 10, y: top + 12 + i * 14, style: 'fill:' + c }, svg, l.label);\n"
	"      n++;\n"
	"    });\n"
	"    axis(svg, left, left + pw, top + ph, s);\n"
	"    done(box, n);\n"
	"  }\n"
	"  /* One bar per point of a single line. */\n"
	"  function bars(id, s, unit) {\n"
	"    var box = document.getElementById(id), n = 0, v = s.lines.length ? s.lines[0].v : [];\n"
	"    var left = 60, top = 10, pw = 720, ph = 120, w = left + pw + 20, h = top + ph + 24;\n"
	"    var max = Math.max(maxOf(s), 1), bw = pw / Math.max(v.length, 1);\n"
	"    var svg = el('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img' }, box);\n"
	"    el('line', { x1: left, y1: top + ph, x2: left + pw, y2: top + ph, stroke: '#888' }, svg);\n"
	"    el('text', { x: left - 6, y: top + 10, 'text-anchor': 'end' }, svg, String(max));\n"
	"    el('text', { x: left - 6, y: top + ph, 'text-anchor': 'end' }, svg, '0');\n"
	"    v.forEach(function (x, p) {\n"
	"      var bh = x * ph / max;\n"
	"      var b = el('rect', { 'class': 'bar', x: (left + p * bw).toFixed(1), y: (top + ph - bh).toFixed(1), width: Math.max(bw - 1, 1).toFixed(1), height: bh.toFixed(1), fill: '#c0392b' }, svg);\n"
	"      el('title', {}, b, span(s, p) + ': ' + x + ' ' + unit);\n"
	"      n++;\n"
	"    });\n"
	"    if (maxOf(s) === 0)\n"
	"      el('text', { x: left + pw / 2, y: top + ph / 2, 'text-anchor': 'middle' }, svg, 'no remapping faults in this run');\n"
	"    axis(svg, left, left + pw, top + ph, s);\n"
	"    done(box, n);\n"
	"  }\n"
	"  [['chart-vectors', heatmap, data.series.vectors_per_cpu, 'vectors'],\n"
	"   ['chart-irtes', lines, data.series.irtes_per_unit, 'entries'],\n"
	"   ['chart-adis', heatmap, data.series.irqs_per_adi, 'interrupts'],\n"
	"   ['chart-faults', bars, data.series.faults, 'faults']].forEach(function (c) {\n"
	"    try { c[1](c[0], c[2], c[3]); }\n"
	"    catch (e) { window.dispatchEvent(new ErrorEvent('error', { message: c[0] + ': ' + e })); }\n"
	"  });\n"
	"  document.body.setAttribute('data-status', 'drawn');\n"
	"})();\n"
	"</script>\n";

static void summary_row(FILE *f, const char *name, uint64_t v)
{
	fprintf(f, "<tr><th>%s</th><td class=\"n\">%" PRIu64 "</td></tr>\n", name, v);
}

static void chart(FILE *f, const char *id, const char *title, const char *note)
{
	fprintf(f, "<section>\n<h2>%s</h2>\n<p class=\"note\">%s</p>\n"
		   "<div class=\"chart\" id=\"%s\" data-rendered=\"0\" data-elements=\"0\"></div>\n</section>\n",
		title, note, id);
}

static int write_page(FILE *f, const struct ims_sim_config *c, const struct ims_sim_result *r, bool timing)
{
	json_t *data = json_object(), *series = json_object();
	char *js;

	if (!data || !series) {
		json_decref(data);
		json_decref(series);
		return -ENOMEM;
	}
	json_object_set_new(data, "config", imsctl_json_config(c));
	json_object_set_new(data, "result", imsctl_json_result(r, timing));
	json_object_set_new(series, "vectors_per_cpu", series_json(&r->vectors_per_cpu, "CPU", true));
	json_object_set_new(series, "irtes_per_unit", series_json(&r->irtes_per_unit, "unit", true));
	json_object_set_new(series, "irqs_per_adi", adi_series_json(&r->irqs_per_adi, c->adis));
	json_object_set_new(series, "faults", series_json(&r->faults_series, "faults", false));
	json_object_set_new(data, "series", series);
	js = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ESCAPE_SLASH);
	json_decref(data);
	if (!js)
		return -ENOMEM;

	fputs(page_head, f);
	fputs("<body data-status=\"loading\">\n<h1>ims: simulated machine</h1>\n", f);
	fprintf(f, "<p>%u CPUs, %u remapping units, %u device(s) of %u ADIs x %u IMS vectors, %u guests x %u vCPUs, "
		   "%u%% posting weight, backend %s%s; seed %" PRIu64 ", %" PRIu64 " steps.</p>\n",
		c->cpus, c->ir_units, c->devices, c->adis, c->vectors_per_adi, c->guests, c->guests ? c->vcpus : 0,
		c->posted_percent, c->backend == IMS_SIM_BACKEND_KVM ? "KVM" : "sim", c->threads ? ", threaded" : "",
		r->seed, r->steps);
	fputs("<table class=\"summary\" id=\"summary\">\n", f);
	summary_row(f, "fired", r->fired);
	summary_row(f, "delivered", r->delivered);
	summary_row(f, "delivered by guests (posted)", r->delivered_guest);
	summary_row(f, "coalesced", r->coalesced);
	summary_row(f, "pending at the end", r->pending);
	summary_row(f, "lost", r->lost);
	summary_row(f, "misdelivered", r->misdelivered);
	summary_row(f, "after free", r->after_free);
	summary_row(f, "cross guest", r->cross_guest);
	summary_row(f, "remapping faults", r->faults);
	summary_row(f, "spurious", r->spurious);
	summary_row(f, "invariant violations", r->invariant_violations);
	summary_row(f, "refused operations", r->alloc_failures);
	summary_row(f, "injected allocation faults", r->injected_faults);
	summary_row(f, "max vectors used per CPU", r->max_vectors_used_per_cpu);
	summary_row(f, "remapping entries (peak)", r->irtes_used);
	summary_row(f, "IMS vectors (peak)", r->ims_vectors_allocated);
	if (timing)
		fprintf(f, "<tr><th>wall time</th><td class=\"n\">%.3f s</td></tr>\n", r->wall_seconds);
	fputs("</table>\n", f);
	if (r->violation != IMS_SIM_OK) {
		fprintf(f, "<h2>Invariant violated</h2>\n<pre class=\"violation\" id=\"violation\">%s at step %" PRIu64 ": ",
			ims_sim_violation_name(r->violation), r->violation_step);
		html_text(f, r->violation_msg);
		if (r->min_trace) {
			fputs("\n\nA trace that reproduces it:\n", f);
			html_text(f, r->min_trace);
		}
		fputs("</pre>\n", f);
	}
	chart(f, "chart-vectors", "Vectors in use per CPU",
	      "Host vectors allocated on each CPU over simulated time (the x86 limit is about 200 per CPU).");
	chart(f, "chart-irtes", "Remapping entries per unit",
	      "Interrupt remapping table entries in use in each unit over simulated time.");
	chart(f, "chart-adis", "Interrupts per ADI",
	      "Handler runs per ADI over simulated time, host and guest (the busiest ADIs each get a row).");
	chart(f, "chart-faults", "Remapping faults", "Faults the remapping units reported over simulated time.");
	fputs("<pre id=\"js-errors\" data-errors=\"0\"></pre>\n", f);
	fputs("<script type=\"application/json\" id=\"ims-data\">", f);
	fputs(js, f);
	fputs("</script>\n", f);
	fputs(page_script, f);
	fputs("</body>\n</html>\n", f);
	free(js);
	return 0;
}

int imsctl_cmd_report(int argc, char **argv)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;
	const char *out = NULL;
	bool timing = true;
	FILE *f;
	int rc;

	if (imsctl_wants_help(argc, argv)) {
		report_usage(stdout);
		return IMSCTL_OK;
	}
	ims_sim_config_default(&cfg);
	for (int i = 1; i < argc; i++) {
		rc = imsctl_simopt_parse("report", IMSCTL_SIMOPT_SIM, argc, argv, &i, &cfg);
		if (rc == IMSCTL_OK)
			continue;
		if (rc != IMSCTL_SIMOPT_NOT_MINE)
			return rc;
		if (!strcmp(argv[i], "--out")) {
			if (i + 1 >= argc)
				return imsctl_usage_error("report", "--out: missing value");
			out = argv[++i];
		} else if (!strncmp(argv[i], "--out=", 6)) {
			out = argv[i] + 6;
		} else if (!strcmp(argv[i], "--no-timing")) {
			timing = false;
		} else if (argv[i][0] == '-') {
			return imsctl_usage_error("report", "unknown option '%s' (see imsctl report --help)", argv[i]);
		} else {
			return imsctl_usage_error("report", "unexpected argument '%s'", argv[i]);
		}
	}
	if (!out)
		return imsctl_usage_error("report", "--out FILE.html is required");
	if (!*out)
		return imsctl_usage_error("report", "--out: empty value");
	rc = imsctl_sim_validate("report", &cfg);
	if (rc)
		return rc;
	/* Opened first, so that a page that cannot be written costs no run. */
	f = fopen(out, "w");
	if (!f)
		return imsctl_fail("report", "cannot write %s: %s", out, strerror(errno));
	cfg.quiet = true;
	rc = imsctl_sim_run_cli("report", &cfg, &res);
	if (rc)
		goto remove_page;
	if (write_page(f, &cfg, &res, timing)) {
		rc = imsctl_fail("report", "out of memory");
		goto free_res;
	}
	if (ferror(f) | fclose(f)) {
		f = NULL;
		rc = imsctl_fail("report", "cannot write %s: %s", out, strerror(errno));
		goto free_res;
	}
	printf("wrote %s\n", out);
	imsctl_sim_print_violation(&res);
	rc = res.violation != IMS_SIM_OK ? IMSCTL_FAIL : IMSCTL_OK;
	ims_sim_result_free(&res);
	return rc;

free_res:
	ims_sim_result_free(&res);
remove_page:
	if (f)
		fclose(f);
	remove(out);
	return rc;
}
