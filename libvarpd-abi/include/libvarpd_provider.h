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
 *      __attribute__((constructor)) with GCC/Clang, which ignore the
 *      pragma: declare the init function with the attribute) that calls
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
#include <libvarpd.h>
#include <libnvpair.h>
#include <sys/overlay_target.h>
#else
/*
 * Off illumos, this header declares what the illumos one makes visible
 * through <libvarpd.h>, <libnvpair.h>, <sys/overlay_target.h> and the
 * <sys/types.h>, <sys/ethernet.h> and <sys/mac.h> they include, so that
 * a plugin's illumos source compiles unchanged. Layouts and values are
 * those of illumos-gate 61219925bb32 on amd64.
 */
#include <stddef.h>

typedef unsigned int uint_t;
typedef unsigned char uchar_t;

/* <sys/types.h> */
typedef enum { B_FALSE = 0, B_TRUE = 1 } boolean_t;
typedef uint32_t datalink_id_t;

/* <sys/ethernet.h> */
#ifndef ETHERADDRL
#define	ETHERADDRL	6
#endif
#ifndef ETHERADDRSTRL
#define	ETHERADDRSTRL	18
#endif

/* <sys/mac.h>: the possible values of a property. */
typedef enum {
	MAC_PROPVAL_UINT8 = 0,
	MAC_PROPVAL_UINT32,
	MAC_PROPVAL_STR
} mac_propval_type_t;

typedef struct mac_propval_uint32_range_s {
	uint32_t	mpur_min;
	uint32_t	mpur_max;
} mac_propval_uint32_range_t;

typedef struct mac_propval_str_range_s {
	uint32_t	mpur_nextbyte;
	char		mpur_data[1];
} mac_propval_str_range_t;

typedef struct mac_propval_range_s {
	uint_t			mpr_count;
	mac_propval_type_t	mpr_type;
	union {
		mac_propval_uint32_range_t	mpr_uint32[1];
		mac_propval_str_range_t		mpr_str;
	} u;
} mac_propval_range_t;

#define	range_uint32	u.mpr_uint32
#define	range_str	u.mpr_str

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
#define	OVERLAY_STATUS_BUFLEN	256

/* <sys/overlay_target.h>; 28 bytes, 4-aligned. */
typedef struct overlay_target_point {
	uint8_t		otp_mac[ETHERADDRL];
	struct in6_addr	otp_ip;
	uint16_t	otp_port;	/* host byte order */
} overlay_target_point_t;

#define	OVERLAY_TARG_IOCTL	(('o' << 24) | ('v' << 16) | ('t' << 8))

#define	OVERLAY_TARG_INFO	(OVERLAY_TARG_IOCTL | 0x01)

typedef enum overlay_targ_info_flags {
	OVERLAY_TARG_INFO_F_ACTIVE = 0x01,
	OVERLAY_TARG_INFO_F_DEGRADED = 0x02
} overlay_targ_info_flags_t;

typedef struct overlay_targ_info {
	datalink_id_t		oti_linkid;
	uint32_t		oti_needs;
	uint64_t		oti_flags;
	uint64_t		oti_vnetid;
} overlay_targ_info_t;

#define	OVERLAY_TARG_ASSOCIATE	(OVERLAY_TARG_IOCTL | 0x02)

typedef struct overlay_targ_associate {
	datalink_id_t		ota_linkid;
	uint32_t		ota_mode;
	uint64_t		ota_id;
	uint32_t		ota_provides;
	overlay_target_point_t	ota_point;
} overlay_targ_associate_t;

#define	OVERLAY_TARG_DISASSOCIATE	(OVERLAY_TARG_IOCTL | 0x3)
#define	OVERLAY_TARG_DEGRADE	(OVERLAY_TARG_IOCTL | 0x4)

typedef struct overlay_targ_degrade {
	datalink_id_t	otd_linkid;
	uint32_t	otd_pad;
	char		otd_buf[OVERLAY_STATUS_BUFLEN];
} overlay_targ_degrade_t;

#define	OVERLAY_TARG_RESTORE	(OVERLAY_TARG_IOCTL | 0x5)

typedef struct overlay_targ_id {
	datalink_id_t	otid_linkid;
} overlay_targ_id_t;

#define	OVERLAY_TARG_LOOKUP	(OVERLAY_TARG_IOCTL | 0x10)
#define	OVERLAY_TARG_RESPOND	(OVERLAY_TARG_IOCTL | 0x11)
#define	OVERLAY_TARG_DROP	(OVERLAY_TARG_IOCTL | 0x12)
#define	OVERLAY_TARG_INJECT	(OVERLAY_TARG_IOCTL | 0x13)
#define	OVERLAY_TARG_PKT	(OVERLAY_TARG_IOCTL | 0x14)
#define	OVERLAY_TARG_RESEND	(OVERLAY_TARG_IOCTL | 0x15)

/* 72 bytes. */
typedef struct overlay_targ_lookup {
	uint64_t	otl_dlid;
	uint64_t	otl_reqid;
	uint64_t	otl_varpdid;
	uint64_t	otl_vnetid;
	uint64_t	otl_hdrsize;
	uint64_t	otl_pktsize;
	uint8_t		otl_srcaddr[ETHERADDRL];
	uint8_t		otl_dstaddr[ETHERADDRL];
	uint32_t	otl_dsttype;
	uint32_t	otl_sap;
	int32_t		otl_vlan;
} overlay_targ_lookup_t;

typedef struct overlay_targ_resp {
	uint64_t		otr_reqid;
	overlay_target_point_t	otr_answer;
} overlay_targ_resp_t;

typedef struct overlay_targ_pkt {
	uint64_t	otp_linkid;
	uint64_t	otp_reqid;
	uint64_t	otp_size;
	void		*otp_buf;
} overlay_targ_pkt_t;

#define	OVERLAY_TARG_LIST	(OVERLAY_TARG_IOCTL | 0x20)

typedef struct overlay_targ_list {
	uint32_t	otl_nents;
	uint32_t	otl_ents[];
} overlay_targ_list_t;

#define	OVERLAY_TARG_CACHE_GET		(OVERLAY_TARG_IOCTL | 0x30)
#define	OVERLAY_TARG_CACHE_SET		(OVERLAY_TARG_IOCTL | 0x31)
#define	OVERLAY_TARG_CACHE_REMOVE	(OVERLAY_TARG_IOCTL | 0x32)
#define	OVERLAY_TARG_CACHE_FLUSH	(OVERLAY_TARG_IOCTL | 0x33)
#define	OVERLAY_TARG_CACHE_ITER		(OVERLAY_TARG_IOCTL | 0x34)

#define	OVERLAY_TARGET_ITER_MAX		500
#define	OVERLAY_TARGET_CACHE_DROP	0x01

typedef struct overlay_targ_cache_entry {
	uint8_t			otce_mac[ETHERADDRL];
	uint16_t		otce_flags;
	overlay_target_point_t	otce_dest;
} overlay_targ_cache_entry_t;

typedef struct overlay_targ_cache {
	datalink_id_t			otc_linkid;
	overlay_targ_cache_entry_t	otc_entry;
} overlay_targ_cache_t;

/* The entries start at 24 (otci_pad2 rounds the header up to it). */
typedef struct overlay_targ_cache_iter {
	datalink_id_t			otci_linkid;
	uint32_t			otci_pad;
	uint64_t			otci_marker;
	uint16_t			otci_count;
	uint8_t				otci_pad2[3];
	overlay_targ_cache_entry_t	otci_ents[];
} overlay_targ_cache_iter_t;

/* <libvarpd.h> */
typedef struct __varpd_handle varpd_handle_t;

/*
 * <sys/nvpair.h>, <libnvpair.h>: the subset of libnvpair varpd provides,
 * with illumos' semantics: lists made by nvlist_alloc() (NV_UNIQUE_NAME or
 * NV_UNIQUE_NAME_TYPE: adding a name replaces it; 0: names may repeat) are
 * freed with nvlist_free(); lists varpd passes to vpo_save/vpo_restore are
 * varpd's. Lookups of a missing name return ENOENT, of a name with another
 * type EINVAL. Strings, byte arrays and nested lists returned by lookups
 * and nvpair_value_*() live as long as the list holding them;
 * nvlist_add_nvlist() copies. nvlist_parse_json() is the parser of the
 * illumos files plugin (numbers are integers: int32 when they fit,
 * else int64; arrays are nested lists keyed "0", "1", ... with
 * ".__json_array" and "length"; errors are EPROTO, with the position).
 */
typedef struct nvlist nvlist_t;
typedef struct nvpair nvpair_t;

#define	NV_UNIQUE_NAME		0x1
#define	NV_UNIQUE_NAME_TYPE	0x2

typedef enum {
	DATA_TYPE_DONTCARE = -1,
	DATA_TYPE_UNKNOWN = 0,
	DATA_TYPE_BOOLEAN,
	DATA_TYPE_BYTE,
	DATA_TYPE_INT16,
	DATA_TYPE_UINT16,
	DATA_TYPE_INT32,
	DATA_TYPE_UINT32,
	DATA_TYPE_INT64,
	DATA_TYPE_UINT64,
	DATA_TYPE_STRING,
	DATA_TYPE_BYTE_ARRAY,
	DATA_TYPE_INT16_ARRAY,
	DATA_TYPE_UINT16_ARRAY,
	DATA_TYPE_INT32_ARRAY,
	DATA_TYPE_UINT32_ARRAY,
	DATA_TYPE_INT64_ARRAY,
	DATA_TYPE_UINT64_ARRAY,
	DATA_TYPE_STRING_ARRAY,
	DATA_TYPE_HRTIME,
	DATA_TYPE_NVLIST,
	DATA_TYPE_NVLIST_ARRAY,
	DATA_TYPE_BOOLEAN_VALUE,
	DATA_TYPE_INT8,
	DATA_TYPE_UINT8,
	DATA_TYPE_BOOLEAN_ARRAY,
	DATA_TYPE_INT8_ARRAY,
	DATA_TYPE_UINT8_ARRAY,
	DATA_TYPE_DOUBLE
} data_type_t;

extern int nvlist_alloc(nvlist_t **, uint_t, int);
extern void nvlist_free(nvlist_t *);
extern int nvlist_dup(nvlist_t *, nvlist_t **, int);
extern int nvlist_exists(nvlist_t *, const char *);
extern int nvlist_remove_all(nvlist_t *, const char *);
extern nvpair_t *nvlist_next_nvpair(nvlist_t *, nvpair_t *);
extern char *nvpair_name(nvpair_t *);
extern data_type_t nvpair_type(nvpair_t *);

extern int nvlist_add_boolean(nvlist_t *, const char *);
extern int nvlist_add_boolean_value(nvlist_t *, const char *, boolean_t);
extern int nvlist_add_byte(nvlist_t *, const char *, uchar_t);
extern int nvlist_add_int8(nvlist_t *, const char *, int8_t);
extern int nvlist_add_uint8(nvlist_t *, const char *, uint8_t);
extern int nvlist_add_int16(nvlist_t *, const char *, int16_t);
extern int nvlist_add_uint16(nvlist_t *, const char *, uint16_t);
extern int nvlist_add_int32(nvlist_t *, const char *, int32_t);
extern int nvlist_add_uint32(nvlist_t *, const char *, uint32_t);
extern int nvlist_add_int64(nvlist_t *, const char *, int64_t);
extern int nvlist_add_uint64(nvlist_t *, const char *, uint64_t);
extern int nvlist_add_string(nvlist_t *, const char *, const char *);
extern int nvlist_add_byte_array(nvlist_t *, const char *, uchar_t *, uint_t);
extern int nvlist_add_nvlist(nvlist_t *, const char *, nvlist_t *);

extern int nvlist_lookup_boolean(nvlist_t *, const char *);
extern int nvlist_lookup_boolean_value(nvlist_t *, const char *, boolean_t *);
extern int nvlist_lookup_byte(nvlist_t *, const char *, uchar_t *);
extern int nvlist_lookup_int8(nvlist_t *, const char *, int8_t *);
extern int nvlist_lookup_uint8(nvlist_t *, const char *, uint8_t *);
extern int nvlist_lookup_int16(nvlist_t *, const char *, int16_t *);
extern int nvlist_lookup_uint16(nvlist_t *, const char *, uint16_t *);
extern int nvlist_lookup_int32(nvlist_t *, const char *, int32_t *);
extern int nvlist_lookup_uint32(nvlist_t *, const char *, uint32_t *);
extern int nvlist_lookup_int64(nvlist_t *, const char *, int64_t *);
extern int nvlist_lookup_uint64(nvlist_t *, const char *, uint64_t *);
extern int nvlist_lookup_string(nvlist_t *, const char *, char **);
extern int nvlist_lookup_byte_array(nvlist_t *, const char *, uchar_t **,
    uint_t *);
extern int nvlist_lookup_nvlist(nvlist_t *, const char *, nvlist_t **);

extern int nvpair_value_boolean_value(nvpair_t *, boolean_t *);
extern int nvpair_value_byte(nvpair_t *, uchar_t *);
extern int nvpair_value_int8(nvpair_t *, int8_t *);
extern int nvpair_value_uint8(nvpair_t *, uint8_t *);
extern int nvpair_value_int16(nvpair_t *, int16_t *);
extern int nvpair_value_uint16(nvpair_t *, uint16_t *);
extern int nvpair_value_int32(nvpair_t *, int32_t *);
extern int nvpair_value_uint32(nvpair_t *, uint32_t *);
extern int nvpair_value_int64(nvpair_t *, int64_t *);
extern int nvpair_value_uint64(nvpair_t *, uint64_t *);
extern int nvpair_value_string(nvpair_t *, char **);
extern int nvpair_value_byte_array(nvpair_t *, uchar_t **, uint_t *);
extern int nvpair_value_nvlist(nvpair_t *, nvlist_t **);

typedef enum nvlist_parse_json_flags {
	NVJSON_FORCE_INTEGER = 0x01,
	NVJSON_FORCE_DOUBLE = 0x02,
	NVJSON_ERRORS_TO_STDERR = 0x04,
	NVJSON_DEBUG = 0x08
} nvlist_parse_json_flags_t;

typedef struct nvlist_parse_json_error {
	int	nje_errno;
	long	nje_pos;
	char	nje_message[512];
} nvlist_parse_json_error_t;

extern int nvlist_parse_json(const char *, size_t, nvlist_t **,
    nvlist_parse_json_flags_t, nvlist_parse_json_error_t *);
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
