//! `varpd [-i include_dir]... [-d control_path]`: the virtual ARP daemon.
//!
//! Runs in the foreground (SMF's `:kill` stop method and a supervisor
//! both work with that; the illumos daemon forks and drops to `netadm`
//! with reduced privileges, which this one does not do yet). Loads
//! plugins from every `-i` directory and, under SMF, from the property
//! `varpd/include_path` (none at all: `/usr/lib/varpd`), restores saved
//! instances from the run directory (`/var/run/varpd`, or
//! `$VARPD_RUN_DIR`), answers lookups, and serves clients at the control
//! path (default `<run dir>/varpd.door`). The driver is reached as `overlay-client`
//! does (`/dev/overlay`, or overlayd's socket at `$OVERLAY_CTL`).
//!
//! Signals: TERM, INT and QUIT end it (exit 0); HUP asks plugins to
//! re-read their configuration (illumos exited on HUP too).
//!
//! Exit codes are SMF's: 0 (`SMF_EXIT_OK`) on a requested exit, 95
//! (`SMF_EXIT_ERR_FATAL`) when it cannot run, 96 (`SMF_EXIT_ERR_CONFIG`)
//! for a bad command line (illumos exited 1 there).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use varpd::persist::Persist;
use varpd::{Varpd, plugin};

const SMF_EXIT_OK: i32 = 0;
const SMF_EXIT_ERR_FATAL: i32 = 95;
const SMF_EXIT_ERR_CONFIG: i32 = 96;

fn usage(msg: &str) -> ! {
    eprintln!("varpd: {msg}");
    eprintln!("usage: varpd [-i include_dir]... [-d control_path]");
    std::process::exit(SMF_EXIT_ERR_CONFIG)
}

fn fatal(msg: &str) -> ! {
    tracing::error!("{msg}");
    eprintln!("varpd: {msg}");
    std::process::exit(SMF_EXIT_ERR_FATAL)
}

/// Opens the driver exclusively. A varpd that just died may still hold
/// the exclusive open for a moment (overlayd notices the closed
/// connection when its pending LOOKUP returns, within a second), so
/// `EEXIST` is retried for a few seconds.
fn open_driver() -> overlay_client::Client {
    let t0 = std::time::Instant::now();
    loop {
        match overlay_client::Client::open_overlay(true) {
            Ok(c) => return c,
            Err(e)
                if e.errno() == Some(varpd::Errno::EEXIST)
                    && t0.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => fatal(&format!("opening the overlay driver: {e}")),
        }
    }
}

/// The SMF property `varpd/include_path` (an astring list), read only
/// when running under SMF (`SMF_FMRI` set), as illumos.
fn smf_include_path() -> Vec<PathBuf> {
    let Some(fmri) = std::env::var_os("SMF_FMRI") else {
        return Vec::new();
    };
    let out = std::process::Command::new("/usr/bin/svcprop")
        .args(["-p", "varpd/include_path"])
        .arg(&fmri)
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .map(|v| PathBuf::from(v.trim_matches('"')))
            .collect(),
        Ok(o) => fatal(&format!(
            "reading varpd/include_path: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => fatal(&format!("running svcprop: {e}")),
    }
}

fn main() {
    varpd::keep_exports();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VARPD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // A panic in the daemon's own code ends it, as `panic = "abort"` did
    // (a daemon with one thread gone is worse than a restart). Plugins'
    // panics never get here: each Rust plugin has its own std and guard.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::abort();
    }));
    varpd::register_probes();

    // getopt ":i:d:".
    let mut includes = Vec::new();
    let mut ctl: Option<PathBuf> = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let s = a.to_string_lossy().into_owned();
        let (opt, inline) = match s.as_bytes() {
            [b'-', o, rest @ ..] => (*o as char, (!rest.is_empty()).then(|| s[2..].to_owned())),
            _ => usage(&format!("unexpected argument: {s}")),
        };
        let mut val = || {
            inline
                .clone()
                .map(PathBuf::from)
                .or_else(|| args.next().map(PathBuf::from))
                .unwrap_or_else(|| usage(&format!("option requires an argument: {opt}")))
        };
        match opt {
            'i' => includes.push(val()),
            'd' => ctl = Some(val()),
            o => usage(&format!("unknown option: {o}")),
        }
    }
    includes.extend(smf_include_path());
    if includes.is_empty() {
        includes.push(PathBuf::from("/usr/lib/varpd"));
    }
    let run_dir = std::env::var_os("VARPD_RUN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/run/varpd"));
    let ctl = ctl.unwrap_or_else(|| run_dir.join("varpd.door"));

    let persist = Persist::new(&run_dir)
        .unwrap_or_else(|e| fatal(&format!("run directory {}: {e}", run_dir.display())));

    let driver = open_driver();
    varpd::driver::tune(&driver);

    for dir in &includes {
        match plugin::load_dir(dir) {
            Ok(reports) => {
                for r in reports {
                    match r.result {
                        Ok(names) if !names.is_empty() => {
                            tracing::info!(path = %r.path.display(), ?names, "loaded")
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(path = %r.path.display(), "plugin skipped: {e}")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }
    if plugin::names().is_empty() {
        tracing::warn!("no search plugins loaded");
    }

    let v = Varpd::new(Arc::new(driver), Some(persist));
    v.restore_all();

    let stop = Arc::new(AtomicBool::new(false));
    let n = varpd::lookup_thread_count();
    let lookups = varpd::run_lookups(&v, n, &stop);
    tracing::info!(threads = n, "lookup threads started");

    #[cfg(target_os = "illumos")]
    let door = varpd::server::door::start(v.clone(), &ctl)
        .unwrap_or_else(|e| fatal(&format!("door {}: {e}", ctl.display())));
    #[cfg(not(target_os = "illumos"))]
    let server = varpd::server::Server::bind(&ctl)
        .unwrap_or_else(|e| fatal(&format!("control socket {}: {e}", ctl.display())));

    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGQUIT, SIGTERM])
        .unwrap_or_else(|e| fatal(&format!("signals: {e}")));
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for sig in signals.forever() {
                if sig == SIGHUP {
                    tracing::info!("SIGHUP: reloading plugin configuration");
                    plugin::reload_all();
                } else {
                    tracing::info!(sig, "exiting on signal");
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
            }
        });
    }
    tracing::info!(control = %ctl.display(), "varpd ready");

    #[cfg(not(target_os = "illumos"))]
    {
        server.serve(&v, &stop);
        drop(server);
    }
    #[cfg(target_os = "illumos")]
    {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        varpd::server::door::stop(door, &ctl);
    }
    for t in lookups {
        let _ = t.join();
    }
    if varpd::DRIVER_LOST.load(Ordering::Relaxed) {
        fatal("the overlay driver went away");
    }
    std::process::exit(SMF_EXIT_OK)
}
