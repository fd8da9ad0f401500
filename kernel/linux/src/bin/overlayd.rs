//! `overlayd`: the overlay driver as a Linux daemon.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use overlay_linux::ctl::CtlServer;
use overlay_linux::{Host, LinuxPlatform};

/// The overlay driver (illumos overlay(7)) hosted in a Linux process:
/// TAP devices as VNICs, UDP sockets as the underlay, and the illumos
/// ioctl ABI on a control socket.
#[derive(Parser, Debug)]
#[command(name = "overlayd", version)]
struct Args {
    /// Control socket path.
    #[arg(short = 's', long = "ctl", default_value = overlay::abi::ctl::CTL_PATH)]
    ctl: PathBuf,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OVERLAYD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // A panic ends overlayd, as `panic = "abort"` did: an overlayd with
    // one thread gone would hold its devices while forwarding nothing.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::abort();
    }));
    let args = Args::parse();

    // The encapsulation plugins, registered as their modules would be.
    if let Err(e) = overlay_encap_vxlan::register() {
        tracing::error!(error = %e, "cannot register the vxlan plugin");
        return ExitCode::FAILURE;
    }

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            tracing::error!(error = %e, "cannot handle signals");
            return ExitCode::FAILURE;
        }
    }

    let server = match CtlServer::bind(&args.ctl) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(path = %args.ctl.display(), error = %e, "cannot open the control socket");
            return ExitCode::FAILURE;
        }
    };
    let host = Arc::new(Host::new(LinuxPlatform::new()));
    tracing::info!(ctl = %args.ctl.display(), "overlayd ready");
    server.serve(&host, &stop);

    tracing::info!("shutting down");
    host.shutdown();
    drop(server);
    ExitCode::SUCCESS
}
