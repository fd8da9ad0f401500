/*
 * libvarpd_provider.h: the search-plugin interface of varpd.
 *
 * This is the interface of illumos' libvarpd_provider.h, for plugins loaded
 * by the Rust varpd (see libvarpd-abi/src/lib.rs for the theory statement).
 * A plugin written against the illumos header compiles against this one.
 *
 * Loading. varpd dlopen()s every "*.so" in its plugin directories with
 * RTLD_NOW | RTLD_LOCAL. A plugin registers itself in one of two ways, both
 * performed while varpd holds its plugin-load context:
 *
 *   1. illumos style: a load-time constructor (#pragma init on illumos,
 *      __attribute__((constructor)) with GCC/Clang) that calls
 *      libvarpd_plugin_alloc(), fills the registration, calls
 *      libvarpd_plugin_register() and libvarpd_plugin_free();
 *   2. an exported function VARPD_PLUGIN_INIT_SYMBOL ("varpd_plugin_init"),
 *      which varpd looks up with dlsym() after dlopen() and calls once, doing
 *      the same. This is what the Rust SDK emits.
 *
 * Optionally a plugin exports VARPD_PLUGIN_RELOAD_SYMBOL
 * ("varpd_plugin_reload"), which varpd calls on SIGHUP (an extension: the
 * illumos varpd exits on SIGHUP).
 *
 * Errors returned by the ops are errno values of the host (<errno.h>); varpd
 * translates them to illumos values where they leave the process.
 *
 * Every library function below is thread-safe and may be called from any
 * context, including from within the ops.
 */

#ifndef _LIBVARPD_PROVIDER_H
#define	_LIBVARPD_PROVIDER_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__illumos__) || defined(__sun)
#include <libnvpair.h>
#include <sys/overlay_target.h>
#else
typedef unsigned int uint_t;

/* <sys/overlay_common.h> */
typedef enum overlay_target_mode {
	OVERLAY_TARGET_NONE = 0x0,
	OVERLAY_TARGET_POINT,
	OVERLAY_TARGET_DYNAMIC
} overlay_target_mode_t;

typedef enum overlay_plugin_dest {
	OVERLAY_PLUGIN_D_INVALID	= 0x0,
	OVERLAY_PLUGIN_D_ETHERNET	= 0x1,
	OVERLAY_PLUGIN_D_IP		= 0x2,
	OVERLAY_PLUGIN_D_PORT		= 0x4,
	OVERLAY_PLUGIN_D_MASK		= 0x7
} overlay_plugin_dest_t;

typedef enum overlay_prop_type {
	OVERLAY_PROP_T_INT = 0x1,
	OVERLAY_PROP_T_UINT,
	OVERLAY_PROP_T_IP,
	OVERLAY_PROP_T_STRING
} overlay_prop_type_t;

typedef enum overlay_prop_prot {
	OVERLAY_PROP_PERM_REQ	= 0x1,
	OVERLAY_PROP_PERM_READ	= 0x2,
	OVERLAY_PROP_PERM_WRITE	= 0x4,
	OVERLAY_PROP_PERM_RW	= 0x6,
	OVERLAY_PROP_PERM_RRW	= 0x7,
	OVERLAY_PROP_PERM_MASK	= 0x7
} overlay_prop_prot_t;

#define	OVERLAY_PROP_NAMELEN	64
#define	OVERLAY_PROP_SIZEMAX	256

/* <sys/overlay_target.h>; 28 bytes, 4-aligned. */
typedef struct overlay_target_point {
	uint8_t		otp_mac[6];
	struct in6_addr	otp_ip;
	uint16_t	otp_port;	/* host byte order */
} overlay_target_point_t;

/* 72 bytes. */
typedef struct overlay_targ_lookup {
	uint64_t	otl_dlid;
	uint64_t	otl_reqid;
	uint64_t	otl_varpdid;
	uint64_t	otl_vnetid;
	uint64_t	otl_hdrsize;
	uint64_t	otl_pktsize;
	uint8_t		otl_srcaddr[6];
	uint8_t		otl_dstaddr[6];
	uint32_t	otl_dsttype;
	uint32_t	otl_sap;
	int32_t		otl_vlan;
} overlay_targ_lookup_t;

/*
 * The subset of libnvpair that varpd provides to plugins for
 * vpo_save/vpo_restore. Lookups of a missing name return ENOENT, of a name
 * with another type EINVAL. Strings returned by nvlist_lookup_string() live
 * as long as the list.
 */
typedef struct nvlist nvlist_t;
typedef unsigned int boolean_t;
extern int nvlist_add_boolean_value(nvlist_t *, const char *, boolean_t);
extern int nvlist_add_uint8(nvlist_t *, const char *, uint8_t);
extern int nvlist_add_uint16(nvlist_t *, const char *, uint16_t);
extern int nvlist_add_uint32(nvlist_t *, const char *, uint32_t);
extern int nvlist_add_uint64(nvlist_t *, const char *, uint64_t);
extern int nvlist_add_int32(nvlist_t *, const char *, int32_t);
extern int nvlist_add_int64(nvlist_t *, const char *, int64_t);
extern int nvlist_add_string(nvlist_t *, const char *, const char *);
extern int nvlist_add_byte_array(nvlist_t *, const char *, uint8_t *, uint_t);
extern int nvlist_lookup_boolean_value(nvlist_t *, const char *, boolean_t *);
extern int nvlist_lookup_uint8(nvlist_t *, const char *, uint8_t *);
extern int nvlist_lookup_uint16(nvlist_t *, const char *, uint16_t *);
extern int nvlist_lookup_uint32(nvlist_t *, const char *, uint32_t *);
extern int nvlist_lookup_uint64(nvlist_t *, const char *, uint64_t *);
extern int nvlist_lookup_int32(nvlist_t *, const char *, int32_t *);
extern int nvlist_lookup_int64(nvlist_t *, const char *, int64_t *);
extern int nvlist_lookup_string(nvlist_t *, const char *, char **);
extern int nvlist_lookup_byte_array(nvlist_t *, const char *, uint8_t **,
    uint_t *);
#endif	/* illumos */

#define	VARPD_VERSION_ONE	1
#define	VARPD_CURRENT_VERSION	VARPD_VERSION_ONE

#define	VARPD_PLUGIN_INIT_SYMBOL	"varpd_plugin_init"
#define	VARPD_PLUGIN_RELOAD_SYMBOL	"varpd_plugin_reload"
typedef void (*varpd_plugin_init_f)(void);
typedef void (*varpd_plugin_reload_f)(void);

typedef struct __varpd_provier_handle varpd_provider_handle_t;
typedef struct __varpd_query_handle varpd_query_handle_t;
typedef struct __varpd_arp_handle varpd_arp_handle_t;
typedef struct __varpd_dhcp_handle varpd_dhcp_handle_t;
/* From libvarpd.h. */
typedef struct __varpd_prop_handle varpd_prop_handle_t;

typedef int (*varpd_plugin_create_f)(varpd_provider_handle_t *, void **,
    overlay_plugin_dest_t);
typedef int (*varpd_plugin_start_f)(void *);
typedef void (*varpd_plugin_stop_f)(void *);
typedef void (*varpd_plugin_destroy_f)(void *);

#define	VARPD_LOOKUP_OK		(0)
#define	VARPD_LOOKUP_DROP	(-1)
typedef int (*varpd_plugin_default_f)(void *, overlay_target_point_t *);
typedef void (*varpd_plugin_lookup_f)(void *, varpd_query_handle_t *,
    const overlay_targ_lookup_t *, overlay_target_point_t *);

#define	VARPD_QTYPE_ETHERNET	0x0
typedef void (*varpd_plugin_arp_f)(void *, varpd_arp_handle_t *, int,
    const struct sockaddr *, uint8_t *);
typedef void (*varpd_plugin_dhcp_f)(void *, varpd_dhcp_handle_t *, int,
    const overlay_targ_lookup_t *, uint8_t *);

typedef int (*varpd_plugin_nprops_f)(void *, uint_t *);
typedef int (*varpd_plugin_propinfo_f)(void *, const uint_t,
    varpd_prop_handle_t *);
typedef int (*varpd_plugin_getprop_f)(void *, const char *, void *,
    uint32_t *);
typedef int (*varpd_plugin_setprop_f)(void *, const char *, const void *,
    const uint32_t);

typedef int (*varpd_plugin_save_f)(void *, nvlist_t *);
typedef int (*varpd_plugin_restore_f)(nvlist_t *, varpd_provider_handle_t *,
    overlay_plugin_dest_t, void **);

typedef struct varpd_plugin_ops {
	uint_t			vpo_callbacks;	/* must be 0 */
	varpd_plugin_create_f	vpo_create;
	varpd_plugin_start_f	vpo_start;
	varpd_plugin_stop_f	vpo_stop;
	varpd_plugin_destroy_f	vpo_destroy;
	varpd_plugin_default_f	vpo_default;	/* POINT plugins */
	varpd_plugin_lookup_f	vpo_lookup;	/* DYNAMIC plugins */
	varpd_plugin_nprops_f	vpo_nprops;
	varpd_plugin_propinfo_f	vpo_propinfo;
	varpd_plugin_getprop_f	vpo_getprop;
	varpd_plugin_setprop_f	vpo_setprop;
	varpd_plugin_save_f	vpo_save;
	varpd_plugin_restore_f	vpo_restore;
	varpd_plugin_arp_f	vpo_arp;	/* optional */
	varpd_plugin_dhcp_f	vpo_dhcp;	/* optional */
} varpd_plugin_ops_t;

typedef struct varpd_plugin_register {
	uint_t		vpr_version;
	uint_t		vpr_mode;	/* OVERLAY_TARGET_POINT or _DYNAMIC */
	const char	*vpr_name;
	const varpd_plugin_ops_t *vpr_ops;
} varpd_plugin_register_t;

extern varpd_plugin_register_t *libvarpd_plugin_alloc(uint_t, int *);
extern void libvarpd_plugin_free(varpd_plugin_register_t *);
extern int libvarpd_plugin_register(varpd_plugin_register_t *);

/*
 * Blowing up. (libvarpd_plugin_bunyan() of illumos is not provided: varpd
 * logs with tracing; plugins write to stderr, which varpd's log receives.)
 */
extern void libvarpd_panic(const char *, ...)
#if defined(__GNUC__)
    __attribute__((__noreturn__, __format__(__printf__, 1, 2)))
#endif
    ;

/*
 * Misc. information.
 */
extern uint64_t libvarpd_plugin_vnetid(varpd_provider_handle_t *);

/*
 * Replying to queries, and proxying.
 */
extern void libvarpd_plugin_query_reply(varpd_query_handle_t *, int);

extern void libvarpd_plugin_proxy_arp(varpd_provider_handle_t *,
    varpd_query_handle_t *, const overlay_targ_lookup_t *);
extern void libvarpd_plugin_proxy_ndp(varpd_provider_handle_t *,
    varpd_query_handle_t *, const overlay_targ_lookup_t *);
extern void libvarpd_plugin_arp_reply(varpd_arp_handle_t *, int);

extern void libvarpd_plugin_proxy_dhcp(varpd_provider_handle_t *,
    varpd_query_handle_t *, const overlay_targ_lookup_t *);
extern void libvarpd_plugin_dhcp_reply(varpd_dhcp_handle_t *, int);

/*
 * Property information callbacks.
 */
extern void libvarpd_prop_set_name(varpd_prop_handle_t *, const char *);
extern void libvarpd_prop_set_prot(varpd_prop_handle_t *, overlay_prop_prot_t);
extern void libvarpd_prop_set_type(varpd_prop_handle_t *, overlay_prop_type_t);
extern int libvarpd_prop_set_default(varpd_prop_handle_t *, void *, ssize_t);
extern void libvarpd_prop_set_nodefault(varpd_prop_handle_t *);
extern void libvarpd_prop_set_range_uint32(varpd_prop_handle_t *, uint32_t,
    uint32_t);
extern void libvarpd_prop_set_range_str(varpd_prop_handle_t *, const char *);

/*
 * Injecting and invalidation.
 */
extern void libvarpd_inject_varp(varpd_provider_handle_t *, const uint8_t *,
    const overlay_target_point_t *);
extern void libvarpd_inject_arp(varpd_provider_handle_t *, const uint16_t,
    const uint8_t *, const struct in_addr *, const uint8_t *);
extern void libvarpd_fma_degrade(varpd_provider_handle_t *, const char *);
extern void libvarpd_fma_restore(varpd_provider_handle_t *);

#ifdef __cplusplus
}
#endif

#endif /* _LIBVARPD_PROVIDER_H */
