/*
 * example_plugin.c: a complete varpd search plugin in C, the worked
 * example of libvarpd_provider(3).
 *
 * The "hub" plugin runs in dynamic mode and sends every unicast frame of
 * an overlay to one underlay address (a hub VTEP that knows the rest of
 * the network), set with the properties "hub/ip" (required) and
 * "hub/port" (default 4789).  Broadcast and multicast frames are dropped,
 * except ARP requests, which are answered by proxy with the MAC address
 * in the property "hub/gateway-mac" when it is set.
 *
 * Build and install:
 *
 *	cc -fPIC -shared -I libvarpd-abi/include -o libvarpd_hub.so \
 *	    example_plugin.c
 *	cp libvarpd_hub.so /usr/lib/varpd/
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "libvarpd_provider.h"

#define	HUB_PROP_IP	"hub/ip"
#define	HUB_PROP_PORT	"hub/port"
#define	HUB_PROP_GWMAC	"hub/gateway-mac"
#define	HUB_DEFPORT	4789

typedef struct hub {
	varpd_provider_handle_t	*hub_hdl;
	pthread_mutex_t		hub_lock;	/* protects what follows */
	int			hub_ipset;
	struct in6_addr		hub_ip;
	uint16_t		hub_port;
	int			hub_gwset;
	uint8_t			hub_gwmac[6];
} hub_t;

static const char *hub_props[] = {
	HUB_PROP_IP, HUB_PROP_PORT, HUB_PROP_GWMAC
};

static hub_t *
hub_alloc(varpd_provider_handle_t *hdl)
{
	hub_t *hub;

	if ((hub = calloc(1, sizeof (hub_t))) == NULL)
		return (NULL);
	hub->hub_hdl = hdl;
	hub->hub_port = HUB_DEFPORT;
	(void) pthread_mutex_init(&hub->hub_lock, NULL);
	return (hub);
}

static void
hub_free(hub_t *hub)
{
	(void) pthread_mutex_destroy(&hub->hub_lock);
	free(hub);
}

static int
hub_create(varpd_provider_handle_t *hdl, void **outp,
    overlay_plugin_dest_t dest)
{
	hub_t *hub;

	/* We answer with an IP address and a port: vxlan's needs. */
	if (dest != (OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT))
		return (ENOTSUP);
	if ((hub = hub_alloc(hdl)) == NULL)
		return (ENOMEM);
	*outp = hub;
	return (0);
}

static int
hub_start(void *arg)
{
	hub_t *hub = arg;
	int ret = 0;

	(void) pthread_mutex_lock(&hub->hub_lock);
	if (!hub->hub_ipset)
		ret = EAGAIN;	/* a required property is unset */
	(void) pthread_mutex_unlock(&hub->hub_lock);
	return (ret);
}

static void
hub_stop(void *arg)
{
	(void) arg;
}

static void
hub_destroy(void *arg)
{
	hub_free(arg);
}

static void
hub_lookup(void *arg, varpd_query_handle_t *qh,
    const overlay_targ_lookup_t *otl, overlay_target_point_t *otp)
{
	hub_t *hub = arg;

	if (otl->otl_sap == 0x0806) {
		/* varpd parses the request and calls hub_arp(). */
		libvarpd_plugin_proxy_arp(hub->hub_hdl, qh, otl);
		return;
	}
	if (otl->otl_dstaddr[0] & 0x01) {
		/* Broadcast or multicast: nowhere to send it. */
		libvarpd_plugin_query_reply(qh, VARPD_LOOKUP_DROP);
		return;
	}

	(void) memset(otp, 0, sizeof (*otp));
	(void) pthread_mutex_lock(&hub->hub_lock);
	otp->otp_ip = hub->hub_ip;
	otp->otp_port = hub->hub_port;
	(void) pthread_mutex_unlock(&hub->hub_lock);
	libvarpd_plugin_query_reply(qh, VARPD_LOOKUP_OK);
}

static void
hub_arp(void *arg, varpd_arp_handle_t *ah, int type,
    const struct sockaddr *sa, uint8_t *out)
{
	hub_t *hub = arg;
	int ok;

	if (type != VARPD_QTYPE_ETHERNET || sa->sa_family != AF_INET) {
		libvarpd_plugin_arp_reply(ah, VARPD_LOOKUP_DROP);
		return;
	}
	(void) pthread_mutex_lock(&hub->hub_lock);
	ok = hub->hub_gwset;
	if (ok)
		(void) memcpy(out, hub->hub_gwmac, 6);
	(void) pthread_mutex_unlock(&hub->hub_lock);
	libvarpd_plugin_arp_reply(ah,
	    ok ? VARPD_LOOKUP_OK : VARPD_LOOKUP_DROP);
}

static int
hub_nprops(void *arg, uint_t *nprops)
{
	(void) arg;
	*nprops = sizeof (hub_props) / sizeof (hub_props[0]);
	return (0);
}

static int
hub_propinfo(void *arg, const uint_t id, varpd_prop_handle_t *vph)
{
	uint16_t defport = HUB_DEFPORT;

	(void) arg;
	switch (id) {
	case 0:
		libvarpd_prop_set_name(vph, HUB_PROP_IP);
		libvarpd_prop_set_prot(vph, OVERLAY_PROP_PERM_RRW);
		libvarpd_prop_set_type(vph, OVERLAY_PROP_T_IP);
		libvarpd_prop_set_nodefault(vph);
		return (0);
	case 1:
		libvarpd_prop_set_name(vph, HUB_PROP_PORT);
		libvarpd_prop_set_prot(vph, OVERLAY_PROP_PERM_RW);
		libvarpd_prop_set_type(vph, OVERLAY_PROP_T_UINT);
		(void) libvarpd_prop_set_default(vph, &defport,
		    sizeof (defport));
		libvarpd_prop_set_range_uint32(vph, 1, UINT16_MAX);
		return (0);
	case 2:
		/* A MAC address has no property type: it is a string. */
		libvarpd_prop_set_name(vph, HUB_PROP_GWMAC);
		libvarpd_prop_set_prot(vph, OVERLAY_PROP_PERM_RW);
		libvarpd_prop_set_type(vph, OVERLAY_PROP_T_STRING);
		libvarpd_prop_set_nodefault(vph);
		return (0);
	default:
		return (EINVAL);
	}
}

static int
hub_parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];
	int i, n;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%n", &b[0], &b[1], &b[2], &b[3],
	    &b[4], &b[5], &n) != 6 || s[n] != '\0')
		return (EINVAL);
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return (EINVAL);
		mac[i] = (uint8_t)b[i];
	}
	return (0);
}

static int
hub_getprop(void *arg, const char *pname, void *buf, uint32_t *sizep)
{
	hub_t *hub = arg;
	int ret = 0;

	(void) pthread_mutex_lock(&hub->hub_lock);
	if (strcmp(pname, HUB_PROP_IP) == 0) {
		if (*sizep < sizeof (struct in6_addr)) {
			ret = EOVERFLOW;
		} else if (!hub->hub_ipset) {
			*sizep = 0;		/* unset */
		} else {
			(void) memcpy(buf, &hub->hub_ip,
			    sizeof (hub->hub_ip));
			*sizep = sizeof (struct in6_addr);
		}
	} else if (strcmp(pname, HUB_PROP_PORT) == 0) {
		uint64_t v = hub->hub_port;

		if (*sizep < sizeof (uint64_t)) {
			ret = EOVERFLOW;
		} else {
			(void) memcpy(buf, &v, sizeof (v));
			*sizep = sizeof (uint64_t);
		}
	} else if (strcmp(pname, HUB_PROP_GWMAC) == 0) {
		char str[18];
		const uint8_t *m = hub->hub_gwmac;

		(void) snprintf(str, sizeof (str),
		    "%02x:%02x:%02x:%02x:%02x:%02x",
		    m[0], m[1], m[2], m[3], m[4], m[5]);
		if (!hub->hub_gwset) {
			*sizep = 0;
		} else if (*sizep < strlen(str) + 1) {
			ret = EOVERFLOW;
		} else {
			(void) memcpy(buf, str, strlen(str) + 1);
			*sizep = strlen(str) + 1;
		}
	} else {
		ret = EINVAL;
	}
	(void) pthread_mutex_unlock(&hub->hub_lock);
	return (ret);
}

static int
hub_setprop(void *arg, const char *pname, const void *buf,
    const uint32_t size)
{
	hub_t *hub = arg;
	int ret = 0;

	(void) pthread_mutex_lock(&hub->hub_lock);
	if (strcmp(pname, HUB_PROP_IP) == 0) {
		/* IP values are 16 bytes; IPv4 arrives IPv4-mapped. */
		if (size < sizeof (struct in6_addr)) {
			ret = EOVERFLOW;
		} else {
			(void) memcpy(&hub->hub_ip, buf,
			    sizeof (hub->hub_ip));
			hub->hub_ipset = 1;
		}
	} else if (strcmp(pname, HUB_PROP_PORT) == 0) {
		/* UINT values are 8 bytes, native byte order. */
		uint64_t v;

		if (size < sizeof (uint64_t)) {
			ret = EOVERFLOW;
		} else {
			(void) memcpy(&v, buf, sizeof (v));
			if (v == 0 || v > UINT16_MAX)
				ret = EINVAL;
			else
				hub->hub_port = (uint16_t)v;
		}
	} else if (strcmp(pname, HUB_PROP_GWMAC) == 0) {
		char str[32];

		/* STRING values include their terminating NUL. */
		if (size == 0 || size > sizeof (str)) {
			ret = EINVAL;
		} else {
			(void) memcpy(str, buf, size);
			str[size - 1] = '\0';
			ret = hub_parse_mac(str, hub->hub_gwmac);
			if (ret == 0)
				hub->hub_gwset = 1;
		}
	} else {
		ret = EINVAL;
	}
	(void) pthread_mutex_unlock(&hub->hub_lock);
	return (ret);
}

static int
hub_save(void *arg, nvlist_t *nvp)
{
	hub_t *hub = arg;
	char ip[INET6_ADDRSTRLEN];
	int ret = 0;

	(void) pthread_mutex_lock(&hub->hub_lock);
	if (hub->hub_ipset) {
		if (inet_ntop(AF_INET6, &hub->hub_ip, ip,
		    sizeof (ip)) == NULL)
			ret = errno;
		else
			ret = nvlist_add_string(nvp, HUB_PROP_IP, ip);
	}
	if (ret == 0)
		ret = nvlist_add_uint16(nvp, HUB_PROP_PORT, hub->hub_port);
	if (ret == 0 && hub->hub_gwset)
		ret = nvlist_add_byte_array(nvp, HUB_PROP_GWMAC,
		    hub->hub_gwmac, 6);
	(void) pthread_mutex_unlock(&hub->hub_lock);
	return (ret);
}

static int
hub_restore(nvlist_t *nvp, varpd_provider_handle_t *hdl,
    overlay_plugin_dest_t dest, void **outp)
{
	hub_t *hub;
	char *ip;
	uint8_t *mac;
	uint_t len;
	int ret;

	if ((ret = hub_create(hdl, outp, dest)) != 0)
		return (ret);
	hub = *outp;

	ret = nvlist_lookup_string(nvp, HUB_PROP_IP, &ip);
	if (ret == 0) {
		if (inet_pton(AF_INET6, ip, &hub->hub_ip) != 1)
			ret = EINVAL;
		else
			hub->hub_ipset = 1;
	} else if (ret == ENOENT) {
		ret = 0;
	}
	if (ret == 0)
		ret = nvlist_lookup_uint16(nvp, HUB_PROP_PORT,
		    &hub->hub_port);
	if (ret == 0) {
		ret = nvlist_lookup_byte_array(nvp, HUB_PROP_GWMAC, &mac,
		    &len);
		if (ret == 0 && len == 6) {
			(void) memcpy(hub->hub_gwmac, mac, 6);
			hub->hub_gwset = 1;
		} else if (ret == 0) {
			ret = EINVAL;
		} else if (ret == ENOENT) {
			ret = 0;
		}
	}
	if (ret != 0) {
		hub_free(hub);
		*outp = NULL;
	}
	return (ret);
}

static const varpd_plugin_ops_t hub_ops = {
	0,		/* vpo_callbacks */
	hub_create,
	hub_start,
	hub_stop,
	hub_destroy,
	NULL,		/* vpo_default: point plugins only */
	hub_lookup,
	hub_nprops,
	hub_propinfo,
	hub_getprop,
	hub_setprop,
	hub_save,
	hub_restore,
	hub_arp,
	NULL		/* vpo_dhcp: not offered */
};

/*
 * Registration, illumos style: a load-time constructor (#pragma init on
 * illumos compilers).  Exporting a function named varpd_plugin_init that
 * does the same works too.
 */
__attribute__((constructor))
static void
hub_init(void)
{
	varpd_plugin_register_t *vpr;
	int err;

	vpr = libvarpd_plugin_alloc(VARPD_CURRENT_VERSION, &err);
	if (vpr == NULL)
		return;
	vpr->vpr_mode = OVERLAY_TARGET_DYNAMIC;
	vpr->vpr_name = "hub";
	vpr->vpr_ops = &hub_ops;
	(void) libvarpd_plugin_register(vpr);
	libvarpd_plugin_free(vpr);
}
