//! Plugin discovery, loading and registration (`libvarpd_plugin.c`).
//!
//! Every `*.so` in a plugin directory (and in its `64` subdirectory, the
//! illumos layout) is `dlopen`ed with `RTLD_NOW | RTLD_LOCAL` while this
//! thread holds the load context; the plugin registers from a load-time
//! constructor (illumos style) or from its exported `varpd_plugin_init`,
//! which is called right after. A file that fails to open, or registers
//! nothing valid, is reported and skipped: illumos treated any load
//! error as fatal, but one broken plugin should not keep the overlays of
//! the others down. Plugins are never unloaded.

use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::{CStr, c_int};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use libvarpd_abi::sys::{self, varpd_plugin_ops_t, varpd_plugin_register_t};
use overlay::Errno;
use overlay::abi::common::{OVERLAY_TARGET_DYNAMIC, OVERLAY_TARGET_POINT};

/// A registered plugin.
#[derive(Debug)]
pub struct PluginEntry {
    pub name: String,
    /// `OVERLAY_TARGET_POINT` or `_DYNAMIC`.
    pub mode: u32,
    pub ops: Ops,
    /// The file it came from.
    pub path: PathBuf,
}

/// The plugin's ops vector, copied at registration.
#[derive(Clone, Copy)]
pub struct Ops(pub varpd_plugin_ops_t);

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("varpd_plugin_ops_t")
    }
}

static REGISTRY: Mutex<Vec<Arc<PluginEntry>>> = Mutex::new(Vec::new());
static LOAD_LOCK: Mutex<()> = Mutex::new(());
static LOADED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
static RELOADERS: Mutex<Vec<extern "C" fn()>> = Mutex::new(Vec::new());

/// The file being loaded and what it registered (or why not).
type LoadCtx = (PathBuf, Vec<Result<String, String>>);

// The initialiser is const; clippy's lint misfires on some targets.
#[allow(clippy::missing_const_for_thread_local)]
mod ctx {
    use super::*;
    thread_local! {
        /// Set while this thread loads a plugin.
        pub(super) static CTX: RefCell<Option<LoadCtx>> =
            const { RefCell::new(None) };
    }
}
use ctx::CTX;

/// A registered plugin by name.
pub fn find(name: &str) -> Option<Arc<PluginEntry>> {
    REGISTRY
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|p| p.name == name)
        .cloned()
}

/// Every registered plugin's name, in load order.
pub fn names() -> Vec<String> {
    REGISTRY
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|p| p.name.clone())
        .collect()
}

/// Calls every plugin's `varpd_plugin_reload` (SIGHUP).
pub fn reload_all() {
    let r: Vec<_> = RELOADERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for f in r {
        f();
    }
}

/// What loading one file did.
#[derive(Debug)]
pub struct LoadReport {
    pub path: PathBuf,
    /// The plugins it registered, or why it was skipped.
    pub result: Result<Vec<String>, String>,
}

/// Loads every `.so` in `dir` (and `dir/64`). A missing directory is an
/// error; broken files are reported in the list and skipped.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadReport>, String> {
    let mut files = Vec::new();
    let mut seen_dir = false;
    for d in [dir.to_path_buf(), dir.join("64")] {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        seen_dir = true;
        for ent in rd.flatten() {
            let p = ent.path();
            let name = ent.file_name();
            let name = name.to_string_lossy();
            if name.len() > 3 && name.ends_with(".so") && p.is_file() {
                files.push(p);
            }
        }
    }
    if !seen_dir {
        return Err(format!("cannot read plugin directory {}", dir.display()));
    }
    files.sort();
    Ok(files.into_iter().map(|p| load_file(&p)).collect())
}

/// Loads one plugin file.
pub fn load_file(path: &Path) -> LoadReport {
    let _g = LOAD_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    {
        let mut l = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
        if !l.get_or_insert_with(HashSet::new).insert(canon.clone()) {
            return LoadReport {
                path: path.to_path_buf(),
                result: Ok(Vec::new()),
            };
        }
    }
    CTX.with(|c| *c.borrow_mut() = Some((path.to_path_buf(), Vec::new())));
    let result = open_and_init(path);
    let regs = CTX
        .with(|c| c.borrow_mut().take())
        .map(|(_, r)| r)
        .unwrap_or_default();
    let result = result.and_then(|()| {
        let (ok, bad): (Vec<_>, Vec<_>) = regs.into_iter().partition(Result::is_ok);
        let ok: Vec<String> = ok.into_iter().filter_map(Result::ok).collect();
        let bad: Vec<String> = bad.into_iter().filter_map(Result::err).collect();
        if ok.is_empty() {
            Err(if bad.is_empty() {
                // The usual cause: an illumos plugin's `#pragma init`,
                // which GCC and Clang ignore, so its init never ran.
                "registered no plugin: no load-time constructor called \
                 libvarpd_plugin_register() and there is no varpd_plugin_init(); \
                 an illumos `#pragma init(f)` is ignored by GCC and Clang, declare \
                 `static void f(void) __attribute__((constructor));` instead \
                 (libvarpd_provider(3))"
                    .into()
            } else {
                bad.join("; ")
            })
        } else {
            for b in bad {
                tracing::warn!(path = %path.display(), "plugin registration refused: {b}");
            }
            Ok(ok)
        }
    });
    LoadReport {
        path: path.to_path_buf(),
        result,
    }
}

fn open_and_init(path: &Path) -> Result<(), String> {
    // SAFETY: loading a plugin runs its initialisers; that is the point
    // of a plugin directory, which only the administrator can write.
    let lib = unsafe {
        libloading::os::unix::Library::open(
            Some(path),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map_err(|e| format!("dlopen failed: {e}"))?;
    // SAFETY: the symbol, if present, has the documented type
    // `void (*)(void)`.
    let init = unsafe { lib.get::<extern "C" fn()>(sys::VARPD_PLUGIN_INIT_SYMBOL) }
        .ok()
        .map(|s| *s);
    // SAFETY: as above.
    let reload = unsafe { lib.get::<extern "C" fn()>(sys::VARPD_PLUGIN_RELOAD_SYMBOL) }
        .ok()
        .map(|s| *s);
    if let Some(f) = init {
        f();
    }
    if let Some(f) = reload {
        RELOADERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(f);
    }
    // Never unloaded: the registry keeps pointers into it.
    std::mem::forget(lib);
    Ok(())
}

/// `libvarpd_plugin_register`: checks and records a registration made
/// during a load.
pub(crate) fn register(reg: *const varpd_plugin_register_t) -> c_int {
    let r = register_inner(reg);
    let code = match &r {
        Ok(_) => 0,
        Err((e, _)) => libvarpd_abi::errno::to_host(*e),
    };
    let in_load = CTX.with(|c| {
        if let Some((_, regs)) = c.borrow_mut().as_mut() {
            regs.push(r.clone().map_err(|(_, m)| m));
            true
        } else {
            false
        }
    });
    if !in_load {
        // illumos panics; refuse instead.
        tracing::error!("libvarpd_plugin_register called outside a plugin load");
        return libvarpd_abi::errno::to_host(Errno::EINVAL);
    }
    code
}

fn register_inner(reg: *const varpd_plugin_register_t) -> Result<String, (Errno, String)> {
    let bad = |m: &str| (Errno::EINVAL, m.to_owned());
    if reg.is_null() {
        return Err(bad("null registration"));
    }
    // SAFETY: a registration from libvarpd_plugin_alloc, filled by the
    // plugin.
    let reg = unsafe { &*reg };
    if reg.vpr_version != sys::VARPD_CURRENT_VERSION {
        return Err(bad(&format!("unsupported version {}", reg.vpr_version)));
    }
    if reg.vpr_name.is_null() || reg.vpr_ops.is_null() {
        return Err(bad("no name or no ops"));
    }
    // SAFETY: a NUL-terminated name, per the ABI.
    let name = unsafe { CStr::from_ptr(reg.vpr_name) }
        .to_str()
        .map_err(|_| bad("name is not UTF-8"))?
        .to_owned();
    if name.is_empty() || name.len() >= 64 {
        return Err(bad("name empty or longer than 63 bytes"));
    }
    // SAFETY: the ops vector, which the ABI requires to outlive the
    // plugin (plugins are never unloaded).
    let ops = unsafe { *reg.vpr_ops };
    let m = |what: &str| bad(&format!("plugin {name}: {what}"));
    if ops.vpo_callbacks != 0 {
        return Err(m("vpo_callbacks must be 0"));
    }
    let required = [
        ops.vpo_create.is_some(),
        ops.vpo_start.is_some(),
        ops.vpo_stop.is_some(),
        ops.vpo_destroy.is_some(),
        ops.vpo_nprops.is_some(),
        ops.vpo_propinfo.is_some(),
        ops.vpo_getprop.is_some(),
        ops.vpo_setprop.is_some(),
        ops.vpo_save.is_some(),
        ops.vpo_restore.is_some(),
    ];
    if required.contains(&false) {
        return Err(m("a required op is missing"));
    }
    match reg.vpr_mode {
        OVERLAY_TARGET_POINT if ops.vpo_default.is_none() => {
            return Err(m("point mode without vpo_default"));
        }
        OVERLAY_TARGET_DYNAMIC if ops.vpo_lookup.is_none() => {
            return Err(m("dynamic mode without vpo_lookup"));
        }
        OVERLAY_TARGET_POINT | OVERLAY_TARGET_DYNAMIC => {}
        _ => return Err(m("mode is neither point nor dynamic")),
    }
    let path = CTX.with(|c| c.borrow().as_ref().map(|(p, _)| p.clone()));
    let mut r = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    if r.iter().any(|p| p.name == name) {
        return Err((
            Errno::EEXIST,
            format!("plugin {name} is already registered"),
        ));
    }
    r.push(Arc::new(PluginEntry {
        name: name.clone(),
        mode: reg.vpr_mode,
        ops: Ops(ops),
        path: path.unwrap_or_default(),
    }));
    tracing::info!(plugin = %name, "registered search plugin");
    Ok(name)
}
