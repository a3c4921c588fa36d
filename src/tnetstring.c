/* tnetstring.c - see tnetstring.h. */
#include "common.h"
#include "tnetstring.h"

bool tns_bytes(struct buf *b, const char *s, size_t len)
{
	buf_printf(b, "%zu:", len);
	buf_append(b, s, len);
	return buf_append(b, ",", 1);
}

bool tns_close(struct buf *b, size_t start, char type)
{
	char head[32];
	size_t n, hl;

	if (b->oom || start > b->len)
		return false;
	n = b->len - start;
	hl = (size_t)snprintf(head, sizeof(head), "%zu:", n);
	if (!buf_append(b, head, hl)) /* grow by hl, then shift */
		return false;
	memmove(b->data + start + hl, b->data + start, n);
	memcpy(b->data + start, head, hl);
	return buf_append(b, &type, 1);
}

bool tns_parse(const char *s, size_t len, struct tns_item *it, size_t *used)
{
	size_t n = 0, i = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (i >= 9) /* no item here is near a gigabyte */
			return false;
		n = n * 10 + (size_t)(s[i] - '0');
		i++;
	}
	if (i == 0 || i >= len || s[i] != ':')
		return false;
	i++;
	if (len - i < n + 1)
		return false;
	it->data = s + i;
	it->len = n;
	it->type = s[i + n];
	if (strchr(",#!~]}", it->type) == NULL || it->type == '\0')
		return false;
	*used = i + n + 1;
	return true;
}

bool tns_dict_get(const struct tns_item *dict, const char *key,
		  struct tns_item *out)
{
	const char *p = dict->data, *end = dict->data + dict->len;
	size_t klen = strlen(key);

	if (dict->type != '}')
		return false;
	while (p < end) {
		struct tns_item k, v;
		size_t u;
		if (!tns_parse(p, (size_t)(end - p), &k, &u))
			return false;
		p += u;
		if (!tns_parse(p, (size_t)(end - p), &v, &u))
			return false;
		p += u;
		if (k.type == ',' && k.len == klen &&
		    memcmp(k.data, key, klen) == 0) {
			*out = v;
			return true;
		}
	}
	return false;
}
