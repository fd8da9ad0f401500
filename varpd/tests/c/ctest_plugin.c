/*
 * A search plugin written in C against libvarpd_provider.h, registered
 * the illumos way (a load-time constructor). Dynamic mode: every lookup
 * is answered with 192.0.2.77 and the port in property "ctest/port";
 * ARP requests go through the proxy, answered with 02:00:00:00:00:77.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "libvarpd_provider.h"

typedef struct ctest {
	varpd_provider_handle_t	*ct_hdl;
	uint64_t		ct_port;
	int			ct_started;
} ctest_t;

static int
ctest_create(varpd_provider_handle_t *hdl, void **outp,
    overlay_plugin_dest_t dest)
{
	ctest_t *ct;

	if (dest != (OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT))
		return (ENOTSUP);
	if ((ct = calloc(1, sizeof (ctest_t))) == NULL)
		return (ENOMEM);
	ct->ct_hdl = hdl;
	*outp = ct;
	return (0);
}

static int
ctest_start(void *arg)
{
	static const uint8_t peer[6] = { 2, 0, 0, 0, 0, 0x55 };
	static const uint8_t me[6] = { 2, 0, 0, 0, 0, 0x77 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	ctest_t *ct = arg;
	overlay_target_point_t otp;
	struct in_addr ip;

	if (ct->ct_port == 0)
		return (EAGAIN);
	ct->ct_started = 1;

	/* Exercise the injection helpers: a cache entry and a gratuitous ARP. */
	memset(&otp, 0, sizeof (otp));
	otp.otp_ip.s6_addr[10] = 0xff;
	otp.otp_ip.s6_addr[11] = 0xff;
	otp.otp_ip.s6_addr[12] = 192;
	otp.otp_ip.s6_addr[14] = 2;
	otp.otp_ip.s6_addr[15] = 55;
	otp.otp_port = 4789;
	libvarpd_inject_varp(ct->ct_hdl, peer, &otp);
	ip.s_addr = htonl(0x0a090909);
	libvarpd_inject_arp(ct->ct_hdl, 7, me, &ip, bcast);
	return (0);
}

static void
ctest_stop(void *arg)
{
	((ctest_t *)arg)->ct_started = 0;
}

static void
ctest_destroy(void *arg)
{
	free(arg);
}

static void
ctest_lookup(void *arg, varpd_query_handle_t *qh,
    const overlay_targ_lookup_t *otl, overlay_target_point_t *otp)
{
	ctest_t *ct = arg;

	if (otl->otl_sap == 0x0806) {
		libvarpd_plugin_proxy_arp(ct->ct_hdl, qh, otl);
		return;
	}
	if (libvarpd_plugin_vnetid(ct->ct_hdl) != otl->otl_vnetid) {
		libvarpd_plugin_query_reply(qh, VARPD_LOOKUP_DROP);
		return;
	}
	memset(otp, 0, sizeof (*otp));
	otp->otp_ip.s6_addr[10] = 0xff;
	otp->otp_ip.s6_addr[11] = 0xff;
	otp->otp_ip.s6_addr[12] = 192;
	otp->otp_ip.s6_addr[13] = 0;
	otp->otp_ip.s6_addr[14] = 2;
	otp->otp_ip.s6_addr[15] = 77;
	otp->otp_port = (uint16_t)ct->ct_port;
	libvarpd_plugin_query_reply(qh, VARPD_LOOKUP_OK);
}

static void
ctest_arp(void *arg, varpd_arp_handle_t *ah, int type,
    const struct sockaddr *sock, uint8_t *out)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 0x77 };
	(void) arg;
	if (type != VARPD_QTYPE_ETHERNET || sock->sa_family != AF_INET) {
		libvarpd_plugin_arp_reply(ah, VARPD_LOOKUP_DROP);
		return;
	}
	memcpy(out, mac, 6);
	libvarpd_plugin_arp_reply(ah, VARPD_LOOKUP_OK);
}

static int
ctest_nprops(void *arg, uint_t *nprops)
{
	(void) arg;
	*nprops = 1;
	return (0);
}

static int
ctest_propinfo(void *arg, uint_t id, varpd_prop_handle_t *vph)
{
	uint32_t def = 4789;
	(void) arg;
	if (id != 0)
		return (EINVAL);
	libvarpd_prop_set_name(vph, "ctest/port");
	libvarpd_prop_set_prot(vph, OVERLAY_PROP_PERM_RRW);
	libvarpd_prop_set_type(vph, OVERLAY_PROP_T_UINT);
	(void) libvarpd_prop_set_default(vph, &def, sizeof (def));
	libvarpd_prop_set_range_uint32(vph, 1, 65535);
	return (0);
}

static int
ctest_getprop(void *arg, const char *pname, void *buf, uint32_t *sizep)
{
	ctest_t *ct = arg;
	if (strcmp(pname, "ctest/port") != 0)
		return (EINVAL);
	if (*sizep < sizeof (uint64_t))
		return (EOVERFLOW);
	if (ct->ct_port == 0) {
		*sizep = 0;
		return (0);
	}
	memcpy(buf, &ct->ct_port, sizeof (uint64_t));
	*sizep = sizeof (uint64_t);
	return (0);
}

static int
ctest_setprop(void *arg, const char *pname, const void *buf,
    const uint32_t size)
{
	ctest_t *ct = arg;
	uint64_t v;
	if (strcmp(pname, "ctest/port") != 0)
		return (EINVAL);
	if (size < sizeof (uint64_t))
		return (EOVERFLOW);
	memcpy(&v, buf, sizeof (v));
	if (v == 0 || v > 65535)
		return (EINVAL);
	ct->ct_port = v;
	return (0);
}

static int
ctest_save(void *arg, nvlist_t *nvp)
{
	return (nvlist_add_uint64(nvp, "ctest/port", ((ctest_t *)arg)->ct_port));
}

static int
ctest_restore(nvlist_t *nvp, varpd_provider_handle_t *hdl,
    overlay_plugin_dest_t dest, void **outp)
{
	int ret;
	ctest_t *ct;
	if ((ret = ctest_create(hdl, outp, dest)) != 0)
		return (ret);
	ct = *outp;
	if ((ret = nvlist_lookup_uint64(nvp, "ctest/port", &ct->ct_port)) != 0) {
		free(ct);
		return (ret);
	}
	return (0);
}

static const varpd_plugin_ops_t ctest_ops = {
	0,
	ctest_create,
	ctest_start,
	ctest_stop,
	ctest_destroy,
	NULL,
	ctest_lookup,
	ctest_nprops,
	ctest_propinfo,
	ctest_getprop,
	ctest_setprop,
	ctest_save,
	ctest_restore,
	ctest_arp,
	NULL
};

__attribute__((constructor))
static void
ctest_init(void)
{
	int err;
	varpd_plugin_register_t *vpr;

	vpr = libvarpd_plugin_alloc(VARPD_CURRENT_VERSION, &err);
	if (vpr == NULL)
		return;
	vpr->vpr_mode = OVERLAY_TARGET_DYNAMIC;
	vpr->vpr_name = "ctest";
	vpr->vpr_ops = &ctest_ops;
	(void) libvarpd_plugin_register(vpr);
	libvarpd_plugin_free(vpr);
}
