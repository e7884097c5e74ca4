/* fmt.c - a small printf for the guest console: integers (decimal and hex,
 * with width, zero padding and left alignment), strings, characters and
 * pointers. Output goes through a fixed buffer, flushed to the console in as
 * few write(1) calls as possible; nothing is allocated. */
#include "internal.h"

struct uk_out {
    char *buf;     /* snprintf: destination; printf: staging buffer */
    size_t size;   /* capacity of buf */
    size_t len;    /* bytes in buf (printf) or total produced (snprintf) */
    int console;   /* 1: flush to the console when buf fills */
    size_t stored; /* snprintf: bytes stored so far */
};

static void out_char(struct uk_out *o, char c)
{
    if (o->console) {
        if (o->len == o->size) {
            uk_console_write(o->buf, o->len);
            o->len = 0;
        }
        o->buf[o->len++] = c;
        return;
    }
    if (o->size > 0 && o->stored < o->size - 1)
        o->buf[o->stored++] = c;
    o->len++;
}

static void out_pad(struct uk_out *o, char c, int n)
{
    for (; n > 0; n--)
        out_char(o, c);
}

static void out_str(struct uk_out *o, const char *s, int width, int left)
{
    if (s == NULL)
        s = "(null)";
    int n = (int)strlen(s);
    if (!left)
        out_pad(o, ' ', width - n);
    for (const char *p = s; *p != '\0'; p++)
        out_char(o, *p);
    if (left)
        out_pad(o, ' ', width - n);
}

static void out_num(struct uk_out *o, uint64_t v, int neg, unsigned base, int upper, int width,
                    int zero, int left)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v != 0);
    int total = n + (neg ? 1 : 0);
    if (!left && !zero)
        out_pad(o, ' ', width - total);
    if (neg)
        out_char(o, '-');
    if (!left && zero)
        out_pad(o, '0', width - total);
    while (n > 0)
        out_char(o, tmp[--n]);
    if (left)
        out_pad(o, ' ', width - total);
}

static void format(struct uk_out *o, const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%') {
            out_char(o, *p);
            continue;
        }
        p++;
        int zero = 0, left = 0, width = 0, lng = 0;
        for (;; p++) {
            if (*p == '0')
                zero = 1;
            else if (*p == '-')
                left = 1;
            else
                break;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        while (*p == 'l' || *p == 'z') {
            lng++;
            p++;
        }
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            out_num(o, mag, v < 0, 10, 0, width, zero, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
            out_num(o, v, 0, *p == 'u' ? 10 : 16, *p == 'X', width, zero, left);
            break;
        }
        case 'p':
            out_str(o, "0x", 0, 0);
            out_num(o, (uint64_t)(uintptr_t)va_arg(ap, void *), 0, 16, 0, width, zero, left);
            break;
        case 's':
            out_str(o, va_arg(ap, const char *), width, left);
            break;
        case 'c':
            out_char(o, (char)va_arg(ap, int));
            break;
        case '%':
            out_char(o, '%');
            break;
        case '\0':
            return; /* a lone '%' at the end */
        default:
            /* Unknown conversion: show it rather than guess its argument. */
            out_char(o, '%');
            out_char(o, *p);
            break;
        }
    }
}

void uk_vprintf(const char *fmt, va_list ap)
{
    char buf[256];
    struct uk_out o = {.buf = buf, .size = sizeof(buf), .console = 1};
    format(&o, fmt, ap);
    if (o.len > 0)
        uk_console_write(o.buf, o.len);
}

void uk_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    uk_vprintf(fmt, ap);
    va_end(ap);
}

size_t uk_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    struct uk_out o = {.buf = buf, .size = size};
    va_list ap;
    va_start(ap, fmt);
    format(&o, fmt, ap);
    va_end(ap);
    if (size > 0)
        buf[o.stored] = '\0';
    return o.len;
}
