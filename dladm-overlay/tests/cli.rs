//! dladm-overlay against the real thing: overlayd (in a network
//! namespace of its own, so its TAP devices are private to the test)
//! and varpd with the direct and files plugins. Every subcommand with
//! good and bad arguments, golden output in the human and parsable
//! forms, failures at each step of create-overlay leaving nothing
//! behind, and persistence across a restart of both daemons.
//!
//! Needs root (namespaces, TAP devices), like the other end-to-end
//! tests; it fails, never skips, when it cannot build its rig.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use overlay_testbed::{Netns, require_root};

/// `target/<profile>` of this test binary.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// overlayd, varpd and the two plugins, built once.
fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let t = target_dir();
        let profile = t.file_name().unwrap().to_string_lossy().into_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        for args in [
            &["-p", "varpd-direct", "-p", "varpd-files"][..],
            &["-p", "varpd", "-p", "overlay-linux", "--bins"][..],
        ] {
            let mut c = Command::new(&cargo);
            c.arg("build").args(args);
            if profile == "release" {
                c.arg("--release");
            }
            let out = c
                .env("CARGO_TARGET_DIR", t.parent().unwrap())
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
                .output()
                .expect("cargo build");
            assert!(
                out.status.success(),
                "cargo build {args:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let plugins = std::env::temp_dir().join(format!("dladm-plugins-{}", std::process::id()));
        std::fs::create_dir_all(&plugins).unwrap();
        for so in ["libvarpd_direct.so", "libvarpd_files.so"] {
            std::fs::copy(t.join(so), plugins.join(so)).unwrap();
        }
        plugins
    })
}

/// One host: overlayd in its namespace, varpd, a configuration file.
struct Rig {
    ns: Netns,
    dir: PathBuf,
    overlayd: Option<Child>,
    varpd: Option<Child>,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Rig {
    fn new(tag: &str) -> Rig {
        require_root();
        built();
        let dir = std::env::temp_dir().join(format!("dladm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("run")).unwrap();
        let mut r = Rig {
            ns: Netns::new(tag),
            dir,
            overlayd: None,
            varpd: None,
        };
        r.start();
        r
    }

    fn ctl(&self) -> PathBuf {
        self.dir.join("ctl")
    }

    fn start(&mut self) {
        let t = target_dir();
        let log = std::fs::File::create(self.dir.join("overlayd.log")).unwrap();
        self.overlayd = Some(
            Command::new("ip")
                .args(["netns", "exec", &self.ns.name])
                .arg(t.join("overlayd"))
                .arg("--ctl")
                .arg(self.ctl())
                .env("OVERLAYD_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("overlayd"),
        );
        self.wait_for(&self.ctl());
        let log = std::fs::File::create(self.dir.join("varpd.log")).unwrap();
        self.varpd = Some(
            Command::new(t.join("varpd"))
                .arg("-i")
                .arg(built())
                .env("OVERLAY_CTL", self.ctl())
                .env("VARPD_RUN_DIR", self.dir.join("run"))
                .env("VARPD_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("varpd"),
        );
        self.wait_for(&self.dir.join("run/varpd.door"));
    }

    fn wait_for(&self, p: &Path) {
        let t0 = Instant::now();
        while std::os::unix::net::UnixStream::connect(p).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{} never came up",
                p.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops both daemons (as a reboot would) and forgets varpd's saved
    /// instances (its run directory is a tmpfs on illumos).
    fn reboot(&mut self) {
        for c in [self.varpd.take(), self.overlayd.take()]
            .into_iter()
            .flatten()
        {
            stop(c);
        }
        let _ = std::fs::remove_dir_all(self.dir.join("run"));
        std::fs::create_dir_all(self.dir.join("run")).unwrap();
        self.start();
    }

    fn dladm(&self, args: &[&str]) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_dladm-overlay"))
            .args(args)
            .env("OVERLAY_CTL", self.ctl())
            .env("VARPD_RUN_DIR", self.dir.join("run"))
            .env("DLADM_OVERLAY_CONF", self.dir.join("overlay.conf"))
            .output()
            .expect("run dladm-overlay");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and expects success and silence on stderr.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.dladm(args);
        assert!(
            o.code == 0 && o.stderr.is_empty(),
            "dladm {args:?}: exit {}\n{}{}",
            o.code,
            o.stdout,
            o.stderr
        );
        o.stdout
    }

    /// Runs and expects failure with exactly `stderr`.
    fn fails(&self, args: &[&str], stderr: &str) {
        let o = self.dladm(args);
        assert_eq!(
            o.code, 1,
            "dladm {args:?} should fail:\n{}{}",
            o.stdout, o.stderr
        );
        assert_eq!(o.stderr, stderr, "dladm {args:?}");
    }

    fn conf(&self) -> String {
        std::fs::read_to_string(self.dir.join("overlay.conf")).unwrap_or_default()
    }

    /// The saved varpd instances.
    fn saved_instances(&self) -> usize {
        std::fs::read_dir(self.dir.join("run"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".varpd"))
            })
            .count()
    }
}

fn stop(mut c: Child) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    while c.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = c.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for c in [self.varpd.take(), self.overlayd.take()]
            .into_iter()
            .flatten()
        {
            stop(c);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const DIRECT: &[&str] = &[
    "create-overlay",
    "-e",
    "vxlan",
    "-s",
    "direct",
    "-v",
    "42",
    "-p",
    "vxlan/listen_ip=127.0.0.1,direct/dest_ip=192.0.2.50",
    "-p",
    "direct/dest_port=4789",
    "ov0",
];

#[test]
fn show_overlay_golden_output() {
    let r = Rig::new("dlgold");
    r.ok(DIRECT);
    assert_eq!(
        r.ok(&["show-overlay"]),
        "\
LINK               PROPERTY           PERM REQ VALUE      DEFAULT   POSSIBLE
ov0                mtu                rw   -   1400       1400      576-8900
ov0                vnetid             rw   -   42         --        --
ov0                encap              r-   -   vxlan      --        vxlan
ov0                varpd/id           r-   -   1          --        --
ov0                vxlan/listen_ip    rw   y   127.0.0.1  --        --
ov0                vxlan/listen_port  rw   y   4789       4789      1-65535
ov0                search             r-   -   direct     --        direct,
                                                                    files
ov0                direct/dest_ip     rw   y   192.0.2.50 --        --
ov0                direct/dest_port   rw   y   4789       --        1-65535
"
    );
    assert_eq!(
        r.ok(&[
            "show-overlay",
            "-p",
            "-o",
            "link,property,perm,req,value,default,possible",
            "ov0"
        ]),
        "\
ov0:mtu:rw:-:1400:1400:576-8900
ov0:vnetid:rw:-:42:--:--
ov0:encap:r-:-:vxlan:--:vxlan
ov0:varpd/id:r-:-:1:--:--
ov0:vxlan/listen_ip:rw:y:127.0.0.1:--:--
ov0:vxlan/listen_port:rw:y:4789:4789:1-65535
ov0:search:r-:-:direct:--:direct,files
ov0:direct/dest_ip:rw:y:192.0.2.50:--:--
ov0:direct/dest_port:rw:y:4789:--:1-65535
"
    );
    assert_eq!(
        r.ok(&["show-overlay", "-p", "-o", "value", "ov0"])
            .lines()
            .count(),
        9
    );
    assert_eq!(
        r.ok(&["show-overlay", "-f"]),
        "LINK                STATUS  DETAILS\nov0                 ONLINE  -\n"
    );
    assert_eq!(
        r.ok(&["show-overlay", "-f", "-p", "-o", "link,status"]),
        "ov0:ONLINE\n"
    );
    assert_eq!(
        r.ok(&["show-overlay", "-t"]),
        "LINK                TARGET            DESTINATION\n\
         ov0                 *:*:*:*:*:*       192.0.2.50:4789\n"
    );
    assert_eq!(
        r.ok(&["show-overlay", "-t", "-p", "-o", "target,destination"]),
        "*\\:*\\:*\\:*\\:*\\:*:192.0.2.50\\:4789\n"
    );
    // Unknown fields: a warning in the human form, fatal when parsable.
    let o = r.dladm(&["show-overlay", "-o", "link,bogus", "ov0"]);
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stderr,
        "dladm-overlay: warning: ignoring unknown output field: `bogus'\n"
    );
    r.fails(
        &["show-overlay", "-p", "-o", "link,bogus"],
        "dladm-overlay: unknown output field: `bogus'\n",
    );
    r.fails(
        &["show-overlay", "-p"],
        "dladm-overlay: output fields must be specified in parsable mode\n",
    );
    let o = r.dladm(&["show-overlay", "nosuch0", "ov0"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "dladm-overlay: warning: failed to find nosuch0: object not found\n"
    );
    assert_eq!(o.stdout.lines().count(), 11);
}

#[test]
fn modify_overlay_edits_the_target_table() {
    let r = Rig::new("dlmod");
    let hosts = r.dir.join("hosts.json");
    std::fs::write(&hosts, "{}").unwrap();
    let cfg = format!("vxlan/listen_ip=127.0.0.1,files/config={}", hosts.display());
    r.ok(&[
        "create-overlay",
        "-t",
        "-e",
        "vxlan",
        "-s",
        "files",
        "-v",
        "7",
        "-p",
        &cfg,
        "ov1",
    ]);
    r.ok(&["modify-overlay", "-s", "2:8:20:0:0:9=192.0.2.9:4789", "ov1"]);
    r.ok(&[
        "modify-overlay",
        "--set-entry=02:08:20:00:00:0a=fd00::1:99",
        "ov1",
    ]);
    r.ok(&["modify-overlay", "-s", "2:8:20:0:0:8=DROP", "ov1"]);
    assert_eq!(
        r.ok(&["show-overlay", "-t", "ov1"]),
        "\
LINK                TARGET            DESTINATION
ov1                 2:8:20:0:0:8      drop
ov1                 2:8:20:0:0:9      192.0.2.9:4789
ov1                 2:8:20:0:0:a      fd00::1:99
"
    );
    r.ok(&["modify-overlay", "-d", "2:8:20:0:0:9", "ov1"]);
    assert_eq!(
        r.ok(&["show-overlay", "-t", "-p", "-o", "target", "ov1"]),
        "2:8:20:0:0:8\n2:8:20:0:0:a\n"
    );
    r.ok(&["modify-overlay", "-f", "ov1"]);
    // libofmt prints the header with the first row: none for no rows.
    assert_eq!(r.ok(&["show-overlay", "-t", "ov1"]), "");

    let p = "dladm-overlay: ";
    for (args, err) in [
        (&["modify-overlay", "ov1"][..], "need to specify one of -d, -f, or -s".to_owned()),
        (&["modify-overlay", "-f", "-d", "1:2:3:4:5:6", "ov1"], "only one of -d, -f, or -s may be used".into()),
        (&["modify-overlay", "-f", "-f", "ov1"], "the option -f cannot be specified more than once".into()),
        (&["modify-overlay", "-d", "1:2:3", "ov1"], "invalid mac address: 1:2:3".into()),
        (&["modify-overlay", "-s", "1:2:3:4:5:6", "ov1"], "malformed value, expected mac=dest, got: 1:2:3:4:5:6".into()),
        (&["modify-overlay", "-s", "x=1.2.3.4:5", "ov1"], "invalid mac address: x".into()),
        (&["modify-overlay", "-f"], "missing required overlay device".into()),
        (&["modify-overlay", "-f", "ov1", "ov2"], "only one overlay device may be specified".into()),
        (&["modify-overlay", "-f", "nosuch0"], "failed to find overlay nosuch0: object not found".into()),
        (
            &["modify-overlay", "-s", "2:8:20:0:0:9=192.0.2.9", "ov1"],
            "failed to set target 2:8:20:0:0:9 for overlay target cache ov1: invalid argument".into(),
        ),
        (
            &["modify-overlay", "-s", "2:8:20:0:0:9=192.0.2.9:70000", "ov1"],
            "failed to set target 2:8:20:0:0:9 for overlay target cache ov1: invalid argument".into(),
        ),
        (
            &["modify-overlay", "-d"],
            "option '-d' requires a value\nusage:     modify-overlay   -d mac | -f | -s mac=ip:port <overlay>".into(),
        ),
    ] {
        r.fails(args, &format!("{p}{err}\n"));
    }
}

#[test]
fn create_overlay_checks_its_arguments() {
    let r = Rig::new("dlargs");
    let usage = "usage:     create-overlay   [-t] -e <encap> -s <search> -v <vnetid>\n\
                 \t\t     [ -p <prop>=<value>[,...]] <overlay>";
    let long = "a".repeat(40) + "0";
    for (args, err) in [
        (
            vec!["-e", "vxlan", "-s", "direct", "ov0"],
            "missing required virtual network id".to_owned(),
        ),
        (
            vec!["-s", "direct", "-v", "1", "ov0"],
            "missing required encapsulation plugin".into(),
        ),
        (
            vec!["-e", "vxlan", "-v", "1", "ov0"],
            "missing required search plugin".into(),
        ),
        (
            vec!["-e", "vxlan", "-s", "direct", "-v", "1"],
            "missing device name".into(),
        ),
        (
            vec!["-e", "vxlan", "-s", "direct", "-v", "1", "a0", "b0"],
            "missing device name".into(),
        ),
        (
            vec!["-e", "vxlan", "-s", "direct", "-v", "x1", "ov0"],
            "couldn't parse virtual network id: x1".into(),
        ),
        (
            vec!["-e", "vxlan", "-s", "direct", "-v", "-1", "ov0"],
            "couldn't parse virtual network id: -1".into(),
        ),
        (
            vec![
                "-e",
                "vxlan",
                "-s",
                "direct",
                "-v",
                "99999999999999999999",
                "ov0",
            ],
            "virtual network id too large: 99999999999999999999".into(),
        ),
        (
            vec!["-e", "vxlan", "-s", "direct", "-v", "1", &long],
            format!("link name too long '{long}'"),
        ),
        (
            vec!["-e", "vxlan", "-s", "direct", "-v", "1", "ov-0"],
            "invalid link name 'ov-0'".into(),
        ),
        (
            vec!["-e", "vxlan", "-s", "direct", "-v", "1", "ov"],
            "invalid link name 'ov'".into(),
        ),
        (
            vec![
                "-e", "vxlan", "-s", "direct", "-v", "1", "-p", "a=1,2", "ov0",
            ],
            "invalid overlay property".into(),
        ),
        (
            vec![
                "-e", "vxlan", "-s", "direct", "-v", "1", "-p", "junk", "ov0",
            ],
            "invalid overlay property".into(),
        ),
        (
            vec!["-e", "vxlan", "-s", "direct", "-v", "1", "-q", "ov0"],
            format!("unrecognized option '-q'\n{usage}"),
        ),
        (
            vec!["-e", "vxlan", "-s", "direct", "-v", "1", "ov0", "-e"],
            format!("option '-e' requires a value\n{usage}"),
        ),
        (
            vec!["--encap"],
            format!("option '-e' requires a value\n{usage}"),
        ),
    ] {
        let mut a = vec!["create-overlay"];
        a.extend(args);
        r.fails(&a, &format!("dladm-overlay: {err}\n"));
    }
    // Long options work.
    r.ok(&[
        "create-overlay",
        "--temporary",
        "--encap=vxlan",
        "--search",
        "direct",
        "--vnetid=5",
        "--prop=vxlan/listen_ip=127.0.0.1,direct/dest_ip=192.0.2.1,direct/dest_port=4789",
        "ov0",
    ]);
    r.fails(
        &[
            "create-overlay",
            "-t",
            "-e",
            "vxlan",
            "-s",
            "direct",
            "-v",
            "6",
            "-p",
            "vxlan/listen_ip=127.0.0.1,direct/dest_ip=192.0.2.1,direct/dest_port=4789",
            "ov0",
        ],
        "dladm-overlay: overlay creation failed: object already exists\n",
    );
    // Other subcommands' arguments.
    r.fails(
        &["nosuch-command"],
        &("dladm-overlay: unknown subcommand 'nosuch-command'\n".to_owned() + &usage_text()),
    );
    r.fails(&[], &usage_text());
    r.fails(&["delete-overlay"], &usage_text());
    r.fails(
        &["delete-overlay", "nosuch0"],
        "dladm-overlay: failed to delete nosuch0: object not found\n",
    );
    r.fails(&["show-link", "-p"], "dladm-overlay: -p requires -o\n");
    r.fails(
        &["show-vnic", "-p", "-o", "all"],
        "dladm-overlay: \"-o all\" is invalid with -p\n",
    );
    r.fails(&["up-overlay", "a0", "b0"], &usage_text());
    r.fails(
        &["up-overlay", "nosuch0"],
        "dladm-overlay: could not bring up overlay 'nosuch0': object not found\n",
    );
}

fn usage_text() -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_dladm-overlay"))
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        s.starts_with("usage:  dladm <subcommand> <args> ...\n"),
        "{s}"
    );
    s
}

/// Each step of create-overlay can fail; none may leave a link, a
/// device, a varpd instance or a configuration entry behind.
#[test]
fn a_failed_create_leaves_nothing_behind() {
    let r = Rig::new("dlfail");
    let create = |props: &str, search: &str| -> Vec<String> {
        let mut a: Vec<String> = ["create-overlay", "-e", "vxlan", "-s", search, "-v", "9"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !props.is_empty() {
            a.push("-p".into());
            a.push(props.into());
        }
        a.push("ov9".into());
        a
    };
    let cases = [
        // The device: an encapsulation nobody registered.
        (vec!["create-overlay", "-e", "geneve", "-s", "direct", "-v", "9", "ov9"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
         "dladm-overlay: overlay creation failed: object not found\n".to_owned()),
        // A driver property that does not exist.
        (create("nosuch=1", "direct"),
         "dladm-overlay: warning: failed to set property nosuch\n\
          dladm-overlay: overlay creation failed: object not found\n".into()),
        // A driver property value the plugin refuses (after one set).
        (create("vxlan/listen_ip=127.0.0.1,vxlan/listen_port=0", "direct"),
         "dladm-overlay: warning: failed to set property vxlan/listen_port\n\
          dladm-overlay: overlay creation failed: invalid argument\n".into()),
        // The varpd instance: a search plugin that is not loaded.
        (create("vxlan/listen_ip=127.0.0.1", "nosuch"),
         "dladm-overlay: warning: failed to create varpd instance: No such file or directory\n\
          dladm-overlay: overlay creation failed: object not found\n".into()),
        // A varpd property value the plugin refuses.
        (create("vxlan/listen_ip=127.0.0.1,direct/dest_port=0", "direct"),
         "dladm-overlay: warning: failed to set varpd prop: direct/dest_port\n\
          dladm-overlay: overlay creation failed: invalid argument\n".into()),
        // The instance's activation: its required properties unset.
        (create("vxlan/listen_ip=127.0.0.1", "direct"),
         "dladm-overlay: warning: failed to activate varpd instance: Resource temporarily unavailable\n\
          dladm-overlay: warning: unset required property: direct/dest_ip\n\
          dladm-overlay: warning: unset required property: direct/dest_port\n\
          dladm-overlay: overlay creation failed: try again later\n".into()),
        // The device's activation: its required property unset.
        (create("direct/dest_ip=192.0.2.1,direct/dest_port=4789", "direct"),
         "dladm-overlay: warning: failed to activate device: Invalid argument\n\
          dladm-overlay: warning: unset required property: vxlan/listen_ip\n\
          dladm-overlay: overlay creation failed: invalid argument\n".into()),
    ];
    for (args, err) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        r.fails(&a, &err);
        assert_eq!(r.ok(&["show-link"]), "", "after {a:?}");
        assert_eq!(r.saved_instances(), 0, "after {a:?}");
        assert!(!r.conf().contains("ov9"), "after {a:?}:\n{}", r.conf());
        // The name is free again: the same overlay can be made properly.
    }
    r.ok(DIRECT);
    assert_eq!(r.saved_instances(), 1);
    r.ok(&["delete-overlay", "ov0"]);
    assert_eq!(r.saved_instances(), 0);
    assert_eq!(r.ok(&["show-link"]), "");

    // varpd not running: refused before anything is made.
    let mut r = r;
    stop(r.varpd.take().unwrap());
    let o = r.dladm(DIRECT);
    assert_eq!(o.code, 1);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert!(
        lines.len() == 2
            && lines[0].starts_with("dladm-overlay: warning: failed to create libvarpd handle: ")
            && lines[1] == "dladm-overlay: overlay creation failed: operation failed",
        "{}",
        o.stderr
    );
    assert_eq!(r.ok(&["show-link"]), "");
}

#[test]
fn vnics_links_and_persistence_across_a_restart() {
    let mut r = Rig::new("dlvnic");
    r.ok(DIRECT);
    r.ok(&[
        "create-overlay",
        "-t",
        "-e",
        "vxlan",
        "-s",
        "direct",
        "-v",
        "43",
        "-p",
        "vxlan/listen_ip=127.0.0.1,direct/dest_ip=192.0.2.51,direct/dest_port=4789,mtu=1300",
        "tmp0",
    ]);
    r.ok(&["create-vnic", "-l", "ov0", "-m", "2:8:20:0:0:1", "vnic0"]);
    r.ok(&[
        "create-vnic",
        "-t",
        "-l",
        "tmp0",
        "-m",
        "02:08:20:00:00:02",
        "vnic1",
    ]);
    r.ok(&["create-vnic", "-l", "ov0", "vnic2"]);
    // The TAP devices exist in overlayd's namespace, with the MACs asked.
    let links = r.ns.sh(&["ip", "-o", "link", "show"]);
    assert!(
        links.contains("vnic0") && links.contains("02:08:20:00:00:01"),
        "{links}"
    );
    assert_eq!(
        r.ok(&["show-link"]),
        "\
LINK        CLASS     MTU    STATE    BRIDGE     OVER
ov0         overlay   1400   up       --         --
tmp0        overlay   1300   up       --         --
vnic0       vnic      1400   up       --         ov0
vnic1       vnic      1300   up       --         tmp0
vnic2       vnic      1400   up       --         ov0
"
    );
    assert_eq!(
        r.ok(&[
            "show-vnic",
            "-o",
            "link,over,macaddress,macaddrtype",
            "-l",
            "tmp0"
        ]),
        "LINK         OVER         MACADDRESS        MACADDRTYPE\nvnic1        tmp0         2:8:20:0:0:2      fixed\n"
    );
    assert_eq!(
        r.ok(&["show-vnic", "-p", "-o", "link,macaddrtype", "vnic2"]),
        "vnic2:random\n"
    );
    assert_eq!(
        r.ok(&["show-link", "-p", "-o", "link,class,over", "vnic0"]),
        "vnic0:vnic:ov0\n"
    );
    for (args, err) in [
        (
            &["create-vnic", "-l", "ov0", "vnic0"][..],
            "vnic creation over ov0 failed: object already exists",
        ),
        (
            &["create-vnic", "-l", "nosuch0", "vnic9"],
            "invalid link name 'nosuch0'",
        ),
        (
            &["create-vnic", "-l", "vnic0", "vnic9"],
            "vnic creation over vnic0 failed: invalid link",
        ),
        (
            &["create-vnic", "-l", "ov0", "-m", "1:2:3:4:5:6", "vnic9"],
            "invalid MAC address '1:2:3:4:5:6'",
        ),
        (
            &["create-vnic", "-l", "ov0", "-m", "zz", "vnic9"],
            "invalid MAC address 'zz'",
        ),
        (
            &["create-vnic", "-l", "ov0", "vnic_with_long99"],
            "invalid link name 'vnic_with_long99': a VNIC is a Linux interface, at most 15 characters",
        ),
        (
            &["delete-vnic", "ov0"],
            "vnic deletion failed: invalid link",
        ),
        (
            &["delete-vnic", "nosuch0"],
            "invalid link name 'nosuch0': object not found",
        ),
        (
            &["delete-overlay", "ov0"],
            "failed to delete ov0: link busy",
        ),
        (&["show-vnic", "ov0"], "ov0 is not a vnic"),
    ] {
        r.fails(args, &format!("dladm-overlay: {err}\n"));
    }
    // A temporary VNIC is deleted for good; a persistent one is
    // recorded and comes back.
    r.ok(&["delete-vnic", "vnic1"]);
    let conf = r.conf();
    assert!(
        conf.contains("ov0") && conf.contains("vnic0") && conf.contains("vnic2"),
        "{conf}"
    );
    assert!(!conf.contains("tmp0") && !conf.contains("vnic1"), "{conf}");

    r.reboot();
    assert_eq!(r.ok(&["show-link"]), "");
    r.ok(&["up-overlay"]);
    r.ok(&["up-vnic"]);
    assert_eq!(
        r.ok(&["show-link", "-p", "-o", "link,class,state,over"]),
        "ov0:overlay:up:--\nvnic0:vnic:up:ov0\nvnic2:vnic:up:ov0\n"
    );
    assert_eq!(
        r.ok(&["show-vnic", "-p", "-o", "link,macaddress", "vnic0"]),
        "vnic0:2\\:8\\:20\\:0\\:0\\:1\n"
    );
    assert_eq!(
        r.ok(&["show-overlay", "-t", "-p", "-o", "link,destination"]),
        "ov0:192.0.2.50\\:4789\n"
    );
    // Already up: nothing to do.
    r.ok(&["up-overlay"]);
    r.ok(&["up-vnic"]);

    // Deleting without -t removes the configuration; -t keeps it.
    r.ok(&["delete-vnic", "-t", "vnic2"]);
    assert!(r.conf().contains("vnic2"));
    r.ok(&["delete-vnic", "vnic2"]);
    assert!(!r.conf().contains("vnic2"));
    r.ok(&["delete-vnic", "vnic0"]);
    r.ok(&["delete-overlay", "-t", "ov0"]);
    assert!(r.conf().contains("ov0"));
    r.ok(&["up-overlay", "ov0"]);
    r.ok(&["delete-overlay", "ov0"]);
    assert!(!r.conf().contains("ov0"));
    assert_eq!(r.ok(&["show-link"]), "");
}
