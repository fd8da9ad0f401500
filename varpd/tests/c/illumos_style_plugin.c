/*
 * A search plugin written the way illumos' own plugins are (direct, files):
 * boolean_t with B_TRUE/B_FALSE, ETHERADDRL, bcopy/bzero, ether_aton_r and
 * ether_ntoa_r, a JSON map parsed with nvlist_parse_json into an nvlist,
 * nvlist iteration in save and restore, every property helper, and
 * registration from an init function. It is built with -Wall -Werror
 * against libvarpd_provider.h alone (plus the C library), which is what a
 * plugin author porting an illumos plugin does.
 *
 * The only change from illumos source is how the init function is marked:
 * `#pragma init` is honoured by the illumos compilers and ignored (with a
 * warning) by GCC and Clang, which use a constructor attribute instead.
 *
 * Properties:
 *   itest/map    STRING, required: {"<mac>": {"ip": "<addr>", "port": N}}
 *   itest/port   UINT 1-65535, default 4789: for entries without "port"
 *   itest/policy STRING "drop" | "answer", default "drop": what a lookup
 *                of an unknown MAC gets ("answer": the 192.0.2.99 sink)
 */

#include <libvarpd_provider.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/ether.h>

typedef struct varpd_itest {
	varpd_provider_handle_t	*vit_hdl;	/* RO */
	overlay_plugin_dest_t	vit_dest;	/* RO */
	pthread_mutex_t		vit_lock;	/* protects the rest */
	char			*vit_map;	/* itest/map text */
	nvlist_t		*vit_nvl;	/* parsed, between start and stop */
	boolean_t		vit_hport;
	uint16_t		vit_port;
	boolean_t		vit_answer;
	uint64_t		vit_nlookups;
	uint64_t		vit_nmisses;
} varpd_itest_t;

static const char *varpd_itest_props[] = {
	"itest/map",
	"itest/port",
	"itest/policy"
};

static boolean_t
varpd_itest_valid_dest(overlay_plugin_dest_t dest)
{
	if (dest != (OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT))
		return (B_FALSE);
	return (B_TRUE);
}

static varpd_itest_t *
varpd_itest_alloc(varpd_provider_handle_t *hdl, overlay_plugin_dest_t dest)
{
	varpd_itest_t *vit;

	if ((vit = malloc(sizeof (varpd_itest_t))) == NULL)
		return (NULL);
	bzero(vit, sizeof (varpd_itest_t));
	if (pthread_mutex_init(&vit->vit_lock, NULL) != 0) {
		free(vit);
		return (NULL);
	}
	vit->vit_hdl = hdl;
	vit->vit_dest = dest;
	vit->vit_hport = B_FALSE;
	vit->vit_answer = B_FALSE;
	vit->vit_map = NULL;
	vit->vit_nvl = NULL;
	return (vit);
}

static int
varpd_itest_create(varpd_provider_handle_t *hdl, void **outp,
    overlay_plugin_dest_t dest)
{
	varpd_itest_t *vit;

	if (varpd_itest_valid_dest(dest) == B_FALSE)
		return (ENOTSUP);
	if ((vit = varpd_itest_alloc(hdl, dest)) == NULL)
		return (ENOMEM);
	*outp = vit;
	return (0);
}

/*
 * Rewrites every key of the parsed map into ether_ntoa form, as the files
 * plugin does, so lookups can format the MAC the same way.
 */
static int
varpd_itest_normalize(nvlist_t *in, nvlist_t **outp)
{
	nvlist_t *out, *data;
	nvpair_t *pair;
	int ret;

	if ((ret = nvlist_alloc(&out, NV_UNIQUE_NAME, 0)) != 0)
		return (ret);
	for (pair = nvlist_next_nvpair(in, NULL); pair != NULL;
	    pair = nvlist_next_nvpair(in, pair)) {
		struct ether_addr ether;
		char fname[ETHERADDRSTRL];

		if (nvpair_type(pair) != DATA_TYPE_NVLIST ||
		    nvpair_value_nvlist(pair, &data) != 0 ||
		    ether_aton_r(nvpair_name(pair), &ether) == NULL ||
		    ether_ntoa_r(&ether, fname) == NULL ||
		    nvlist_add_nvlist(out, fname, data) != 0) {
			nvlist_free(out);
			return (EINVAL);
		}
	}
	*outp = out;
	return (0);
}

static int
varpd_itest_start(void *arg)
{
	varpd_itest_t *vit = arg;
	nvlist_parse_json_error_t jerr;
	nvlist_t *nvl;
	int ret;

	pthread_mutex_lock(&vit->vit_lock);
	if (vit->vit_map == NULL) {
		pthread_mutex_unlock(&vit->vit_lock);
		return (EAGAIN);
	}
	ret = nvlist_parse_json(vit->vit_map, strlen(vit->vit_map), &nvl,
	    NVJSON_FORCE_INTEGER, &jerr);
	if (ret == 0) {
		ret = varpd_itest_normalize(nvl, &vit->vit_nvl);
		nvlist_free(nvl);
	}
	pthread_mutex_unlock(&vit->vit_lock);
	return (ret);
}

static void
varpd_itest_stop(void *arg)
{
	varpd_itest_t *vit = arg;

	pthread_mutex_lock(&vit->vit_lock);
	nvlist_free(vit->vit_nvl);
	vit->vit_nvl = NULL;
	pthread_mutex_unlock(&vit->vit_lock);
}

static void
varpd_itest_destroy(void *arg)
{
	varpd_itest_t *vit = arg;

	nvlist_free(vit->vit_nvl);
	free(vit->vit_map);
	(void) pthread_mutex_destroy(&vit->vit_lock);
	free(vit);
}

static void
varpd_itest_lookup(void *arg, varpd_query_handle_t *qh,
    const overlay_targ_lookup_t *otl, overlay_target_point_t *otp)
{
	varpd_itest_t *vit = arg;
	char macstr[ETHERADDRSTRL], *ipstr;
	struct ether_addr ether;
	nvlist_t *ent;
	int32_t port;
	int action = VARPD_LOOKUP_DROP;

	if (otl == NULL) {
		libvarpd_plugin_query_reply(qh, VARPD_LOOKUP_DROP);
		return;
	}
	bcopy(otl->otl_dstaddr, ether.ether_addr_octet, ETHERADDRL);
	(void) ether_ntoa_r(&ether, macstr);

	pthread_mutex_lock(&vit->vit_lock);
	vit->vit_nlookups++;
	if (vit->vit_nvl != NULL &&
	    nvlist_lookup_nvlist(vit->vit_nvl, macstr, &ent) == 0 &&
	    nvlist_lookup_string(ent, "ip", &ipstr) == 0) {
		if (nvlist_lookup_int32(ent, "port", &port) != 0)
			port = vit->vit_hport == B_TRUE ? vit->vit_port : 4789;
		if (port > 0 && port <= UINT16_MAX &&
		    inet_pton(AF_INET6, ipstr, &otp->otp_ip) == 1) {
			otp->otp_port = (uint16_t)port;
			action = VARPD_LOOKUP_OK;
		}
	} else {
		vit->vit_nmisses++;
		if (vit->vit_answer == B_TRUE &&
		    inet_pton(AF_INET6, "::ffff:192.0.2.99", &otp->otp_ip) == 1) {
			otp->otp_port = 4789;
			action = VARPD_LOOKUP_OK;
		}
	}
	pthread_mutex_unlock(&vit->vit_lock);
	libvarpd_plugin_query_reply(qh, action);
}

static int
varpd_itest_nprops(void *arg, uint_t *nprops)
{
	*nprops = sizeof (varpd_itest_props) / sizeof (varpd_itest_props[0]);
	return (0);
}

static int
varpd_itest_propinfo(void *arg, const uint_t propid, varpd_prop_handle_t *vph)
{
	uint64_t defport = 4789;
	char defpolicy[] = "drop";

	switch (propid) {
	case 0:
		libvarpd_prop_set_name(vph, varpd_itest_props[0]);
		libvarpd_prop_set_prot(vph, OVERLAY_PROP_PERM_RRW);
		libvarpd_prop_set_type(vph, OVERLAY_PROP_T_STRING);
		libvarpd_prop_set_nodefault(vph);
		return (0);
	case 1:
		libvarpd_prop_set_name(vph, varpd_itest_props[1]);
		libvarpd_prop_set_prot(vph, OVERLAY_PROP_PERM_RW);
		libvarpd_prop_set_type(vph, OVERLAY_PROP_T_UINT);
		if (libvarpd_prop_set_default(vph, &defport,
		    sizeof (defport)) != 0)
			return (EINVAL);
		libvarpd_prop_set_range_uint32(vph, 1, UINT16_MAX);
		return (0);
	case 2:
		libvarpd_prop_set_name(vph, varpd_itest_props[2]);
		libvarpd_prop_set_prot(vph, OVERLAY_PROP_PERM_RW);
		libvarpd_prop_set_type(vph, OVERLAY_PROP_T_STRING);
		if (libvarpd_prop_set_default(vph, defpolicy,
		    sizeof (defpolicy)) != 0)
			return (EINVAL);
		libvarpd_prop_set_range_str(vph, "drop");
		libvarpd_prop_set_range_str(vph, "answer");
		return (0);
	default:
		return (EINVAL);
	}
}

static int
varpd_itest_getprop(void *arg, const char *pname, void *buf, uint32_t *sizep)
{
	varpd_itest_t *vit = arg;
	int ret = 0;

	pthread_mutex_lock(&vit->vit_lock);
	if (strcmp(pname, varpd_itest_props[0]) == 0) {
		size_t len = vit->vit_map == NULL ? 0 : strlen(vit->vit_map) + 1;

		if (*sizep < len)
			ret = EOVERFLOW;
		else if (len != 0)
			bcopy(vit->vit_map, buf, len);
		if (ret == 0)
			*sizep = len;
	} else if (strcmp(pname, varpd_itest_props[1]) == 0) {
		uint64_t val = vit->vit_port;

		if (*sizep < sizeof (uint64_t)) {
			ret = EOVERFLOW;
		} else if (vit->vit_hport == B_FALSE) {
			*sizep = 0;
		} else {
			bcopy(&val, buf, sizeof (uint64_t));
			*sizep = sizeof (uint64_t);
		}
	} else if (strcmp(pname, varpd_itest_props[2]) == 0) {
		const char *p = vit->vit_answer == B_TRUE ? "answer" : "drop";

		if (*sizep < strlen(p) + 1) {
			ret = EOVERFLOW;
		} else {
			bcopy(p, buf, strlen(p) + 1);
			*sizep = strlen(p) + 1;
		}
	} else {
		ret = EINVAL;
	}
	pthread_mutex_unlock(&vit->vit_lock);
	return (ret);
}

static int
varpd_itest_setprop(void *arg, const char *pname, const void *buf,
    const uint32_t size)
{
	varpd_itest_t *vit = arg;
	int ret = 0;

	pthread_mutex_lock(&vit->vit_lock);
	if (strcmp(pname, varpd_itest_props[0]) == 0) {
		char *map;

		if (size == 0 || ((const char *)buf)[size - 1] != '\0') {
			ret = EINVAL;
		} else if ((map = strdup(buf)) == NULL) {
			ret = ENOMEM;
		} else {
			free(vit->vit_map);
			vit->vit_map = map;
		}
	} else if (strcmp(pname, varpd_itest_props[1]) == 0) {
		uint64_t val;

		if (size < sizeof (uint64_t)) {
			ret = EOVERFLOW;
		} else {
			bcopy(buf, &val, sizeof (uint64_t));
			if (val == 0 || val > UINT16_MAX) {
				ret = EINVAL;
			} else {
				vit->vit_port = (uint16_t)val;
				vit->vit_hport = B_TRUE;
			}
		}
	} else if (strcmp(pname, varpd_itest_props[2]) == 0) {
		if (strncmp(buf, "answer", size) == 0)
			vit->vit_answer = B_TRUE;
		else if (strncmp(buf, "drop", size) == 0)
			vit->vit_answer = B_FALSE;
		else
			ret = EINVAL;
	} else {
		ret = EINVAL;
	}
	pthread_mutex_unlock(&vit->vit_lock);
	return (ret);
}

/*
 * State: the properties at the top level, the counters in a nested list.
 */
static int
varpd_itest_save(void *arg, nvlist_t *nvp)
{
	varpd_itest_t *vit = arg;
	nvlist_t *stats;
	int ret;

	if ((ret = nvlist_alloc(&stats, NV_UNIQUE_NAME, 0)) != 0)
		return (ret);
	pthread_mutex_lock(&vit->vit_lock);
	if ((ret = nvlist_add_uint64(stats, "lookups", vit->vit_nlookups)) != 0 ||
	    (ret = nvlist_add_uint64(stats, "misses", vit->vit_nmisses)) != 0 ||
	    (ret = nvlist_add_nvlist(nvp, "itest/stats", stats)) != 0 ||
	    (ret = nvlist_add_boolean_value(nvp, varpd_itest_props[2],
	    vit->vit_answer)) != 0)
		goto out;
	if (vit->vit_map != NULL &&
	    (ret = nvlist_add_string(nvp, varpd_itest_props[0],
	    vit->vit_map)) != 0)
		goto out;
	if (vit->vit_hport == B_TRUE)
		ret = nvlist_add_uint16(nvp, varpd_itest_props[1], vit->vit_port);
out:
	pthread_mutex_unlock(&vit->vit_lock);
	nvlist_free(stats);
	return (ret);
}

/*
 * Walks whatever save wrote, as a plugin that must tolerate older or newer
 * state would: every pair by name and type, unknown ones skipped.
 */
static int
varpd_itest_restore(nvlist_t *nvp, varpd_provider_handle_t *hdl,
    overlay_plugin_dest_t dest, void **outp)
{
	varpd_itest_t *vit;
	nvpair_t *pair, *sp;
	nvlist_t *stats;
	char *str;
	boolean_t b;
	uint64_t v64;

	if (varpd_itest_valid_dest(dest) == B_FALSE)
		return (EINVAL);
	if ((vit = varpd_itest_alloc(hdl, dest)) == NULL)
		return (ENOMEM);

	for (pair = nvlist_next_nvpair(nvp, NULL); pair != NULL;
	    pair = nvlist_next_nvpair(nvp, pair)) {
		const char *name = nvpair_name(pair);

		if (strcmp(name, varpd_itest_props[0]) == 0 &&
		    nvpair_type(pair) == DATA_TYPE_STRING &&
		    nvpair_value_string(pair, &str) == 0) {
			if ((vit->vit_map = strdup(str)) == NULL)
				goto fail;
		} else if (strcmp(name, varpd_itest_props[1]) == 0 &&
		    nvpair_type(pair) == DATA_TYPE_UINT16) {
			if (nvpair_value_uint16(pair, &vit->vit_port) != 0)
				goto fail;
			vit->vit_hport = B_TRUE;
		} else if (strcmp(name, varpd_itest_props[2]) == 0 &&
		    nvpair_type(pair) == DATA_TYPE_BOOLEAN_VALUE) {
			if (nvpair_value_boolean_value(pair, &b) != 0)
				goto fail;
			vit->vit_answer = b;
		} else if (strcmp(name, "itest/stats") == 0 &&
		    nvpair_type(pair) == DATA_TYPE_NVLIST) {
			if (nvpair_value_nvlist(pair, &stats) != 0)
				goto fail;
			for (sp = nvlist_next_nvpair(stats, NULL); sp != NULL;
			    sp = nvlist_next_nvpair(stats, sp)) {
				if (nvpair_value_uint64(sp, &v64) != 0)
					continue;
				if (strcmp(nvpair_name(sp), "lookups") == 0)
					vit->vit_nlookups = v64;
				else if (strcmp(nvpair_name(sp), "misses") == 0)
					vit->vit_nmisses = v64;
			}
		}
	}
	*outp = vit;
	return (0);
fail:
	varpd_itest_destroy(vit);
	return (EINVAL);
}

static const varpd_plugin_ops_t varpd_itest_ops = {
	0,
	varpd_itest_create,
	varpd_itest_start,
	varpd_itest_stop,
	varpd_itest_destroy,
	NULL,
	varpd_itest_lookup,
	varpd_itest_nprops,
	varpd_itest_propinfo,
	varpd_itest_getprop,
	varpd_itest_setprop,
	varpd_itest_save,
	varpd_itest_restore,
	NULL,
	NULL
};

#if defined(__illumos__) || defined(__sun)
#pragma init(varpd_itest_init)
#else
static void varpd_itest_init(void) __attribute__((constructor));
#endif
static void
varpd_itest_init(void)
{
	int err;
	varpd_plugin_register_t *vpr;

	vpr = libvarpd_plugin_alloc(VARPD_CURRENT_VERSION, &err);
	if (vpr == NULL)
		return;

	vpr->vpr_mode = OVERLAY_TARGET_DYNAMIC;
	vpr->vpr_name = "itest";
	vpr->vpr_ops = &varpd_itest_ops;
	(void) libvarpd_plugin_register(vpr);
	libvarpd_plugin_free(vpr);
}
