/* Strict little JSON (RFC 8259) and XML 1.0 readers for ipcvet's own tests:
 * CI has neither python3 nor xmllint, and a report that only "looks" right
 * is not enough. No tests here; see test_support.h. */
#define _GNU_SOURCE
#include "test_support.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON ------------------------------------------------------------------ */

struct jp { const char *s, *p; char *err; size_t errlen; int failed; int depth; };

static void jfail(struct jp *j, const char *fmt, ...)
{
    if (j->failed)
        return;
    j->failed = 1;
    int n = snprintf(j->err, j->errlen, "JSON offset %ld: ", (long)(j->p - j->s));
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < j->errlen)
        vsnprintf(j->err + n, j->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void jws(struct jp *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
        j->p++;
}

static void put_utf8(char **o, unsigned cp)
{
    char *q = *o;
    if (cp < 0x80) {
        *q++ = (char)cp;
    } else if (cp < 0x800) {
        *q++ = (char)(0xc0 | cp >> 6);
        *q++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *q++ = (char)(0xe0 | cp >> 12);
        *q++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *q++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *q++ = (char)(0xf0 | cp >> 18);
        *q++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *q++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *q++ = (char)(0x80 | (cp & 0x3f));
    }
    *o = q;
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        if (!isxdigit((unsigned char)p[i]))
            return -1;
        *v = *v * 16 + (unsigned)(isdigit((unsigned char)p[i]) ? p[i] - '0'
                                                                 : tolower((unsigned char)p[i]) - 'a' + 10);
    }
    return 0;
}

static char *jstring(struct jp *j)
{
    if (*j->p != '"') {
        jfail(j, "expected a string");
        return NULL;
    }
    j->p++;
    char *out = malloc(strlen(j->p) * 2 + 8), *o = out;
    for (;;) {
        unsigned char c = (unsigned char)*j->p;
        if (!c) {
            jfail(j, "unterminated string");
            break;
        }
        if (c < 0x20) {
            jfail(j, "raw control character %#x in a string", c);
            break;
        }
        j->p++;
        if (c == '"') {
            *o = '\0';
            return out;
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        char e = *j->p++;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp;
            if (hex4(j->p, &cp) < 0) {
                jfail(j, "bad \\u escape");
                goto bad;
            }
            j->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                unsigned lo;
                if (j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) < 0 ||
                    lo < 0xdc00 || lo > 0xdfff) {
                    jfail(j, "lone surrogate");
                    goto bad;
                }
                j->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(&o, cp);
            break;
        }
        default:
            j->p--;
            jfail(j, "bad escape '\\%c'", e ? e : '0');
            goto bad;
        }
    }
bad:
    free(out);
    return NULL;
}

static void jvalue(struct jp *j, struct sup_json *v);

static void jpush(struct sup_json *v, char *key, struct sup_json *item)
{
    v->items = realloc(v->items, (v->n + 1) * sizeof *v->items);
    if (v->type == SUP_JOBJ) {
        v->keys = realloc(v->keys, (v->n + 1) * sizeof *v->keys);
        v->keys[v->n] = key;
    }
    v->items[v->n++] = *item;
}

static void jnumber(struct jp *j, struct sup_json *v)
{
    const char *start = j->p;
    if (*j->p == '-')
        j->p++;
    if (*j->p == '0') {
        j->p++;
    } else if (isdigit((unsigned char)*j->p)) {
        while (isdigit((unsigned char)*j->p))
            j->p++;
    } else {
        jfail(j, "bad number");
        return;
    }
    if (*j->p == '.') {
        j->p++;
        if (!isdigit((unsigned char)*j->p)) {
            jfail(j, "bad fraction");
            return;
        }
        while (isdigit((unsigned char)*j->p))
            j->p++;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-')
            j->p++;
        if (!isdigit((unsigned char)*j->p)) {
            jfail(j, "bad exponent");
            return;
        }
        while (isdigit((unsigned char)*j->p))
            j->p++;
    }
    v->type = SUP_JNUM;
    v->num = strtod(start, NULL);
}

static void jvalue(struct jp *j, struct sup_json *v)
{
    memset(v, 0, sizeof *v);
    if (++j->depth > 64) {
        jfail(j, "nested too deep");
        return;
    }
    jws(j);
    char c = *j->p;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? SUP_JOBJ : SUP_JARR;
        char close = c == '{' ? '}' : ']';
        j->p++;
        jws(j);
        if (*j->p == close) {
            j->p++;
        } else {
            for (;;) {
                char *key = NULL;
                jws(j);
                if (v->type == SUP_JOBJ) {
                    key = jstring(j);
                    if (!key)
                        break;
                    jws(j);
                    if (*j->p != ':') {
                        jfail(j, "expected ':' after key \"%s\"", key);
                        free(key);
                        break;
                    }
                    j->p++;
                }
                struct sup_json item;
                jvalue(j, &item);
                jpush(v, key, &item);
                if (j->failed)
                    break;
                jws(j);
                if (*j->p == ',') {
                    j->p++;
                    continue;
                }
                if (*j->p == close) {
                    j->p++;
                    break;
                }
                jfail(j, "expected ',' or '%c'", close);
                break;
            }
        }
    } else if (c == '"') {
        v->type = SUP_JSTR;
        v->str = jstring(j);
    } else if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "false", 5)) {
        v->type = SUP_JBOOL;
        v->boolean = c == 't';
        j->p += c == 't' ? 4 : 5;
    } else if (!strncmp(j->p, "null", 4)) {
        v->type = SUP_JNULL;
        j->p += 4;
    } else if (c == '-' || isdigit((unsigned char)c)) {
        jnumber(j, v);
    } else {
        jfail(j, c ? "unexpected '%c'" : "unexpected end%.0s", c);
    }
    j->depth--;
}

static void jfree_inner(struct sup_json *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jfree_inner(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

void sup_json_free(struct sup_json *v)
{
    if (!v)
        return;
    jfree_inner(v);
    free(v);
}

struct sup_json *sup_json_parse(const char *text, char *err, size_t errlen)
{
    struct jp j = { text, text, err, errlen, 0, 0 };
    struct sup_json *v = calloc(1, sizeof *v);
    jvalue(&j, v);
    jws(&j);
    if (!j.failed && *j.p)
        jfail(&j, "text after the value");
    if (j.failed) {
        sup_json_free(v);
        return NULL;
    }
    return v;
}

const struct sup_json *sup_json_get(const struct sup_json *obj, const char *key)
{
    if (!obj || obj->type != SUP_JOBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return &obj->items[i];
    return NULL;
}

/* ---- XML ------------------------------------------------------------------- */

struct xp { const char *s, *p; char *err; size_t errlen; int failed; };

static void xfail(struct xp *x, const char *fmt, ...)
{
    if (x->failed)
        return;
    x->failed = 1;
    int line = 1;
    for (const char *q = x->s; q < x->p; q++)
        line += *q == '\n';
    int n = snprintf(x->err, x->errlen, "XML line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < x->errlen)
        vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static int name_start(unsigned char c) { return isalpha(c) || c == '_' || c == ':' || c >= 0x80; }
static int name_char(unsigned char c) { return name_start(c) || isdigit(c) || c == '-' || c == '.'; }

static void xws(struct xp *x)
{
    while (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r')
        x->p++;
}

static char *xname(struct xp *x)
{
    const char *start = x->p;
    if (!name_start((unsigned char)*x->p)) {
        xfail(x, "expected a name");
        return NULL;
    }
    while (name_char((unsigned char)*x->p))
        x->p++;
    return strndup(start, (size_t)(x->p - start));
}

/* XML 1.0 Char: tab, newline, carriage return, and 0x20 up. */
static int bad_char(unsigned char c) { return c < 0x20 && c != '\t' && c != '\n' && c != '\r'; }

/* Decode character data up to `stop` (a char that ends it), checking it. */
static char *xtext(struct xp *x, const char *stops, int in_attr)
{
    char *out = malloc(strlen(x->p) + 1), *o = out;
    while (*x->p && !strchr(stops, *x->p)) {
        unsigned char c = (unsigned char)*x->p;
        if (bad_char(c)) {
            xfail(x, "character %#x is not allowed in XML 1.0", c);
            break;
        }
        if (c == '<') {
            xfail(x, "raw '<' in %s", in_attr ? "an attribute value" : "text");
            break;
        }
        if (!in_attr && !strncmp(x->p, "]]>", 3)) {
            xfail(x, "']]>' in text");
            break;
        }
        if (c != '&') {
            *o++ = (char)c;
            x->p++;
            continue;
        }
        static const struct { const char *ref; char c; } ents[] = {
            { "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' }, { "&quot;", '"' }, { "&apos;", '\'' },
        };
        int done = 0;
        for (size_t i = 0; i < sizeof ents / sizeof ents[0] && !done; i++)
            if (!strncmp(x->p, ents[i].ref, strlen(ents[i].ref))) {
                *o++ = ents[i].c;
                x->p += strlen(ents[i].ref);
                done = 1;
            }
        if (!done && x->p[1] == '#') {
            const char *q = x->p + 2;
            int hex = *q == 'x';
            q += hex;
            char *end;
            unsigned long cp = strtoul(q, &end, hex ? 16 : 10);
            if (end > q && *end == ';' && cp && cp <= 0x10ffff && !bad_char(cp < 0x20 ? (unsigned char)cp : 0x20)) {
                put_utf8(&o, (unsigned)cp);
                x->p = end + 1;
                done = 1;
            }
        }
        if (!done) {
            xfail(x, "'&' that is not an entity reference: %.12s", x->p);
            break;
        }
    }
    *o = '\0';
    return out;
}

static void xmisc(struct xp *x)
{
    for (;;) {
        xws(x);
        if (!strncmp(x->p, "<!--", 4)) {
            const char *end = strstr(x->p + 4, "-->");
            if (!end) {
                xfail(x, "unterminated comment");
                return;
            }
            x->p = end + 3;
        } else if (!strncmp(x->p, "<?", 2) && strncmp(x->p, "<?xml ", 6)) {
            const char *end = strstr(x->p, "?>");
            if (!end) {
                xfail(x, "unterminated processing instruction");
                return;
            }
            x->p = end + 2;
        } else {
            return;
        }
    }
}

static void append_text(struct sup_xml *e, const char *t)
{
    size_t a = e->text ? strlen(e->text) : 0;
    e->text = realloc(e->text, a + strlen(t) + 1);
    strcpy(e->text + a, t);
}

static struct sup_xml *xelement(struct xp *x, int depth)
{
    if (depth > 64) {
        xfail(x, "nested too deep");
        return NULL;
    }
    if (*x->p != '<') {
        xfail(x, "expected an element");
        return NULL;
    }
    x->p++;
    struct sup_xml *e = calloc(1, sizeof *e);
    e->text = calloc(1, 1);
    e->name = xname(x);
    if (!e->name)
        return e;
    for (;;) {
        const char *before = x->p;
        xws(x);
        if (*x->p == '/' || *x->p == '>')
            break;
        if (x->p == before) {
            xfail(x, "expected whitespace before an attribute of <%s>", e->name);
            return e;
        }
        char *an = xname(x);
        if (!an)
            return e;
        for (size_t i = 0; i < e->nattrs; i++)
            if (!strcmp(e->attr_names[i], an)) {
                xfail(x, "attribute '%s' given twice in <%s>", an, e->name);
                free(an);
                return e;
            }
        xws(x);
        if (*x->p != '=') {
            xfail(x, "expected '=' after attribute '%s'", an);
            free(an);
            return e;
        }
        x->p++;
        xws(x);
        char q = *x->p;
        if (q != '"' && q != '\'') {
            xfail(x, "attribute '%s' value is not quoted", an);
            free(an);
            return e;
        }
        x->p++;
        char stops[2] = { q, 0 };
        char *av = xtext(x, stops, 1);
        if (!x->failed && *x->p != q)
            xfail(x, "unterminated value of attribute '%s'", an);
        x->p++;
        e->attr_names = realloc(e->attr_names, (e->nattrs + 1) * sizeof *e->attr_names);
        e->attr_values = realloc(e->attr_values, (e->nattrs + 1) * sizeof *e->attr_values);
        e->attr_names[e->nattrs] = an;
        e->attr_values[e->nattrs++] = av;
        if (x->failed)
            return e;
    }
    if (*x->p == '/') {
        if (x->p[1] != '>')
            xfail(x, "expected '/>'");
        x->p += 2;
        return e;
    }
    x->p++;
    for (;;) {
        if (!*x->p) {
            xfail(x, "<%s> is never closed", e->name);
            return e;
        }
        if (!strncmp(x->p, "</", 2)) {
            x->p += 2;
            char *n = xname(x);
            if (n && strcmp(n, e->name))
                xfail(x, "</%s> closes <%s>", n, e->name);
            free(n);
            xws(x);
            if (*x->p != '>')
                xfail(x, "expected '>' closing </%s>", e->name);
            x->p++;
            return e;
        }
        if (!strncmp(x->p, "<![CDATA[", 9)) {
            const char *end = strstr(x->p + 9, "]]>");
            if (!end) {
                xfail(x, "unterminated CDATA");
                return e;
            }
            char *t = strndup(x->p + 9, (size_t)(end - x->p - 9));
            for (char *c = t; *c; c++)
                if (bad_char((unsigned char)*c)) {
                    xfail(x, "character %#x is not allowed in XML 1.0", (unsigned char)*c);
                    break;
                }
            append_text(e, t);
            free(t);
            x->p = end + 3;
        } else if (!strncmp(x->p, "<!--", 4)) {
            const char *end = strstr(x->p + 4, "-->");
            if (!end) {
                xfail(x, "unterminated comment");
                return e;
            }
            x->p = end + 3;
        } else if (*x->p == '<') {
            struct sup_xml *kid = xelement(x, depth + 1);
            e->kids = realloc(e->kids, (e->nkids + 1) * sizeof *e->kids);
            e->kids[e->nkids++] = kid;
        } else {
            char *t = xtext(x, "<", 0);
            append_text(e, t);
            free(t);
        }
        if (x->failed)
            return e;
    }
}

struct sup_xml *sup_xml_parse(const char *text, char *err, size_t errlen)
{
    struct xp x = { text, text, err, errlen, 0 };
    if (!strncmp(x.p, "<?xml ", 6)) {
        const char *end = strstr(x.p, "?>");
        if (!end)
            xfail(&x, "unterminated XML declaration");
        else
            x.p = end + 2;
    } else if (!strncmp(x.p, "<?xml", 5)) {
        xfail(&x, "bad XML declaration");
    }
    xmisc(&x);
    struct sup_xml *root = x.failed ? NULL : xelement(&x, 0);
    if (!x.failed)
        xmisc(&x);
    if (!x.failed && *x.p)
        xfail(&x, "content after the root element");
    if (x.failed) {
        sup_xml_free(root);
        return NULL;
    }
    return root;
}

const char *sup_xml_attr(const struct sup_xml *e, const char *name)
{
    for (size_t i = 0; e && i < e->nattrs; i++)
        if (!strcmp(e->attr_names[i], name))
            return e->attr_values[i];
    return NULL;
}

void sup_xml_free(struct sup_xml *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nattrs; i++) {
        free(e->attr_names[i]);
        free(e->attr_values[i]);
    }
    for (size_t i = 0; i < e->nkids; i++)
        sup_xml_free(e->kids[i]);
    free(e->attr_names);
    free(e->attr_values);
    free(e->kids);
    free(e->name);
    free(e->text);
    free(e);
}
