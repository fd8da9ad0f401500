//! # dladm-overlay
//!
//! Where this crate sits among the others: `ARCHITECTURE.md` at the
//! repository root.
//!
//! The overlay subcommands of illumos `dladm(8)`, with the same syntax,
//! messages, output and exit codes, so that `alias dladm=dladm-overlay`
//! works for them: `create-overlay`, `delete-overlay`, `modify-overlay`,
//! `show-overlay` and the boot-time `up-overlay`; and, because Linux has
//! no dld or dlmgmtd, the VNIC and link commands they would provide:
//! `create-vnic`, `delete-vnic`, `show-vnic`, `show-link`, `up-vnic`.
//!
//! ## Theory statement
//!
//! dladm is three layers on illumos and is three modules here. The
//! command layer (this file) parses options as `getopt_long` would and
//! prints as dladm prints: `prog: message` errors, `prog: warning:`
//! warnings, exit status 1 on any failure. The library layer ([`dl`]) is
//! libdladm's `libdloverlay.c`: it speaks to the driver through
//! `overlay-client` (ioctls on illumos, overlayd's socket on Linux) and to
//! varpd through its client protocol, in the illumos order, undoing
//! partial work when a step fails. Output goes through [`ofmt`], a port
//! of `libofmt`, so human and parsable output line up with dladm's
//! column for column.
//!
//! Persistence, which dlmgmtd provides on illumos, is [`conf`]: overlays
//! and VNICs created without `-t` are recorded and come back with
//! `up-overlay` / `up-vnic`, which the service runs at boot.
//!
//! On illumos this binary builds and its driver path is the real ioctl
//! one, but link names and VNICs belong to dlmgmtd and dld there, which
//! it does not speak to (the host commands answer `ENOTSUP`); use the
//! system's dladm on illumos.

pub mod conf;
pub mod dl;
pub mod ofmt;
pub mod status;
pub mod values;

use std::io::{self, Write};

use getopts::{Fail, Matches, Options};
use overlay::abi::common::*;
use overlay_client::proto::HV_F_MAC;

use crate::dl::{Dladm, Failure, PropRow};
use crate::ofmt::{Field, Ofmt, OpenError};
use crate::status::Status;

/// How a command ended early: the message dladm prints after `prog: `.
#[derive(Debug)]
pub struct Die(pub String);

type CmdResult = Result<i32, Die>;

/// The program's name in messages (`basename argv[0]`).
#[derive(Debug)]
struct Ctx {
    prog: String,
}

impl Ctx {
    fn warn(&self, msg: &str) {
        eprintln!("{}: warning: {msg}", self.prog);
    }

    fn warn_dlerr(&self, s: Status, msg: &str) {
        eprintln!("{}: warning: {msg}: {s}", self.prog);
    }

    fn warn_errlist(&self, errs: &[String]) {
        for e in errs {
            self.warn(e);
        }
    }
}

fn die<T>(msg: impl Into<String>) -> Result<T, Die> {
    Err(Die(msg.into()))
}

fn die_dlerr<T>(s: Status, msg: impl std::fmt::Display) -> Result<T, Die> {
    Err(Die(format!("{msg}: {s}")))
}

/// `die_dlerrlist`: the list as warnings, then the error.
fn die_dlerrlist<T>(ctx: &Ctx, f: &Failure, msg: impl std::fmt::Display) -> Result<T, Die> {
    ctx.warn_errlist(&f.errs);
    die_dlerr(f.status, msg)
}

/// One subcommand: its name, its function, its usage text (None: hidden).
struct Cmd {
    name: &'static str,
    run: fn(&Ctx, &[String], &'static str) -> CmdResult,
    usage: Option<&'static str>,
}

static CMDS: &[Cmd] = &[
    Cmd {
        name: "create-overlay",
        run: do_create_overlay,
        usage: Some(
            "    create-overlay   [-t] -e <encap> -s <search> -v <vnetid>\n\
             \t\t     [ -p <prop>=<value>[,...]] <overlay>",
        ),
    },
    Cmd {
        name: "delete-overlay",
        run: do_delete_overlay,
        usage: Some("    delete-overlay   [-t] <overlay>"),
    },
    Cmd {
        name: "modify-overlay",
        run: do_modify_overlay,
        usage: Some("    modify-overlay   -d mac | -f | -s mac=ip:port <overlay>"),
    },
    Cmd {
        name: "show-overlay",
        run: do_show_overlay,
        usage: Some("    show-overlay     [-f | -t] [[-p] -o <field>,...] [<overlay>]"),
    },
    Cmd {
        name: "up-overlay",
        run: do_up_overlay,
        usage: None,
    },
    Cmd {
        name: "create-vnic",
        run: do_create_vnic,
        usage: Some("    create-vnic      [-t] -l <overlay> [-m <macaddr> | random] <vnic-link>"),
    },
    Cmd {
        name: "delete-vnic",
        run: do_delete_vnic,
        usage: Some("    delete-vnic      [-t] <vnic-link>"),
    },
    Cmd {
        name: "show-vnic",
        run: do_show_vnic,
        usage: Some("    show-vnic        [-p] [-o <field>,...] [-l <link>] [<vnic-link>]"),
    },
    Cmd {
        name: "show-link",
        run: do_show_link,
        usage: Some("    show-link        [-p] [-o <field>,...] [<link>]"),
    },
    Cmd {
        name: "up-vnic",
        run: do_up_vnic,
        usage: None,
    },
];

fn usage_text() -> String {
    let mut s = String::from("usage:  dladm <subcommand> <args> ...\n");
    for c in CMDS {
        if let Some(u) = c.usage {
            s += u;
            s.push('\n');
        }
    }
    s
}

/// `usage()`: every subcommand's usage on stderr, exit 1.
fn usage<T>() -> Result<T, Die> {
    Err(Die(String::new()))
}

/// Runs dladm with `args` (`args[0]` the program). Returns the exit
/// status.
pub fn main_with_args(args: &[String]) -> i32 {
    let prog = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_owned())
        .unwrap_or_else(|| "dladm".into());
    let ctx = Ctx { prog };
    let result = match args.get(1) {
        None => usage(),
        Some(sub) => match CMDS.iter().find(|c| c.name == sub) {
            Some(c) => (c.run)(&ctx, &args[1..], c.usage.unwrap_or("")),
            None => {
                eprintln!("{}: unknown subcommand '{sub}'", ctx.prog);
                usage()
            }
        },
    };
    let _ = io::stdout().flush();
    match result {
        Ok(code) => code,
        Err(Die(msg)) if msg.is_empty() => {
            eprint!("{}", usage_text());
            1
        }
        Err(Die(msg)) => {
            eprintln!("{}: {msg}", ctx.prog);
            1
        }
    }
}

/// Option letters and long names, as each command's `getopt_long` table.
struct Opt {
    short: char,
    long: &'static str,
    takes_arg: bool,
}

/// An option that takes a value.
const fn arg(short: char, long: &'static str) -> Opt {
    Opt {
        short,
        long,
        takes_arg: true,
    }
}

/// An option that does not.
const fn flag(short: char, long: &'static str) -> Opt {
    Opt {
        short,
        long,
        takes_arg: false,
    }
}

/// `[-t] <link>`, the arguments of the delete subcommands: whether the
/// change is temporary, and the link.
fn temporary_and_link(args: &[String], use_: &str) -> Result<(bool, String), Die> {
    let m = getopt(args, &[flag('t', "temporary")], use_)?;
    match m.free.as_slice() {
        [name] => Ok((m.opt_present("t"), name.clone())),
        _ => usage(),
    }
}

/// Removes `name` from the persistent configuration, if it is there
/// (a delete without `-t`).
fn forget(store: &mut Option<conf::Store>, name: &str, what: &str) -> Result<(), Die> {
    match store {
        Some(s) => {
            if s.forget(name) {
                s.save().or_else(|e| die(format!("{what}: {e}")))?;
            }
            Ok(())
        }
        None => Ok(()),
    }
}

/// Parses `args` (`args[0]` is the subcommand) like `getopt_long`, with
/// dladm's messages for a missing value or an unknown option.
fn getopt(args: &[String], opts: &[Opt], use_: &str) -> Result<Matches, Die> {
    let mut o = Options::new();
    for opt in opts {
        let (s, l) = (opt.short.to_string(), opt.long);
        if opt.takes_arg {
            o.optmulti(&s, l, "", "");
        } else {
            o.optflagmulti(&s, l, "");
        }
    }
    o.parse(&args[1..]).map_err(|f| {
        let short_of = |name: &str| {
            opts.iter()
                .find(|o| o.long == name || o.short.to_string() == name)
                .map_or_else(|| name.to_owned(), |o| o.short.to_string())
        };
        match f {
            Fail::ArgumentMissing(n) => Die(format!(
                "option '-{}' requires a value\nusage: {use_}",
                short_of(&n)
            )),
            Fail::UnrecognizedOption(n) | Fail::UnexpectedArgument(n) => {
                let dash = if n.chars().count() > 1 { "--" } else { "-" };
                Die(format!("unrecognized option '{dash}{n}'\nusage: {use_}"))
            }
            other => Die(format!("{other}\nusage: {use_}")),
        }
    })
}

/// The last value of an option given one or more times.
fn last(m: &Matches, o: &str) -> Option<String> {
    m.opt_strs(o).pop()
}

fn open_dladm() -> Result<Dladm, Die> {
    Dladm::open().map_err(|e| Die(format!("could not open the overlay driver: {e}")))
}

fn open_store() -> Result<conf::Store, Die> {
    conf::Store::open(&conf::conf_path()).map_err(|e| Die(format!("persistent configuration: {e}")))
}

// ---- create-overlay ------------------------------------------------------

/// `dladm_parse_link_props` for overlays: `name=value` pairs joined by
/// commas. A name given twice, or a value list (`a=1,2`), which overlay
/// properties cannot hold, is refused.
fn parse_props(list: &[String]) -> Option<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for tok in list
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|t| !t.is_empty())
    {
        let (n, v) = tok.split_once('=')?;
        if n.is_empty() || v.is_empty() || out.iter().any(|(o, _)| o == n) {
            return None;
        }
        out.push((n.to_owned(), v.to_owned()));
    }
    Some(out)
}

/// dladm's limit on the `-p` list (`DLADM_STRSIZE`).
const DLADM_STRSIZE: usize = 256;

fn do_create_overlay(ctx: &Ctx, args: &[String], use_: &'static str) -> CmdResult {
    let m = getopt(
        args,
        &[
            flag('t', "temporary"),
            arg('e', "encap"),
            arg('v', "vnetid"),
            arg('p', "prop"),
            arg('s', "search"),
        ],
        use_,
    )?;
    let temporary = m.opt_present("t");
    let encap = last(&m, "e");
    let search = last(&m, "s");
    let props_raw = m.opt_strs("p");
    let propstr_len: usize = props_raw.iter().map(|p| p.len() + 1).sum();
    if propstr_len >= DLADM_STRSIZE {
        return die(format!("property list too long '{}'", props_raw.join(",")));
    }
    // Quirks fixed: illumos spelled "networkd" here, and took "-1" for
    // 2^64-1 (strtoul).
    let vid = match last(&m, "v") {
        None => return die("missing required virtual network id"),
        Some(v) => match v.parse::<u64>() {
            Ok(id) => id,
            Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => {
                return die(format!("virtual network id too large: {v}"));
            }
            Err(_) => return die(format!("couldn't parse virtual network id: {v}")),
        },
    };
    let Some(encap) = encap else {
        return die("missing required encapsulation plugin");
    };
    let Some(search) = search else {
        return die("missing required search plugin");
    };
    let [name] = m.free.as_slice() else {
        return die("missing device name");
    };
    if name.len() >= MAXLINKNAMELEN {
        return die(format!("link name too long '{name}'"));
    }
    if !values::valid_linkname(name) {
        return die(format!("invalid link name '{name}'"));
    }
    if encap.len() + 1 > MAXLINKNAMELEN {
        return die(format!("encapsulation plugin name too long '{encap}'"));
    }
    // Quirk fixed: illumos printed the encap name in this message.
    if search.len() + 1 > MAXLINKNAMELEN {
        return die(format!("search plugin name too long '{search}'"));
    }
    let Some(props) = parse_props(&props_raw) else {
        return die("invalid overlay property");
    };

    let dl = open_dladm()?;
    let store = if temporary { None } else { Some(open_store()?) };
    if store.as_ref().is_some_and(|s| s.has_link(name)) {
        return die_dlerr(Status::Exist, "overlay creation failed");
    }
    let linkid = match dl.overlay_create(name, &encap, &search, vid, &props) {
        Ok(id) => id,
        Err(f) => return die_dlerrlist(ctx, &f, "overlay creation failed"),
    };
    if let Some(mut store) = store {
        store.conf.overlays.push(conf::OverlayConf {
            name: name.clone(),
            vnetid: vid,
            encap,
            search,
            props,
        });
        if let Err(e) = store.save() {
            let _ = dl.overlay_delete(linkid);
            return die(format!("overlay creation failed: {e}"));
        }
    }
    Ok(0)
}

// ---- delete-overlay ------------------------------------------------------

fn do_delete_overlay(_ctx: &Ctx, args: &[String], use_: &'static str) -> CmdResult {
    let (temporary, name) = temporary_and_link(args, use_)?;
    let failed = format!("failed to delete {name}");
    let dl = open_dladm()?;
    let mut store = if temporary { None } else { Some(open_store()?) };
    if let Some(s) = &store
        && s.conf.vnics.iter().any(|v| v.over == name)
    {
        return die_dlerr(Status::LinkBusy, failed);
    }
    match dl.name2info(&name) {
        Ok(l) if l.class != DATALINK_CLASS_OVERLAY => return die_dlerr(Status::BadArg, failed),
        Ok(l) => dl.overlay_delete(l.id).or_else(|s| die_dlerr(s, &failed))?,
        // Only in the persistent configuration: that is what goes.
        Err(_) if store.as_ref().is_some_and(|s| s.overlay(&name).is_some()) => {}
        Err(s) => return die_dlerr(s, failed),
    }
    forget(&mut store, &name, &failed)?;
    Ok(0)
}

// ---- modify-overlay ------------------------------------------------------

fn do_modify_overlay(_ctx: &Ctx, args: &[String], use_: &'static str) -> CmdResult {
    let m = getopt(
        args,
        &[
            arg('d', "delete-entry"),
            flag('f', "flush-table"),
            arg('s', "set-entry"),
        ],
        use_,
    )?;
    for o in ['d', 'f', 's'] {
        if m.opt_count(&o.to_string()) > 1 {
            return die(format!(
                "the option -{o} cannot be specified more than once"
            ));
        }
    }
    let delete = last(&m, "d");
    let flush = m.opt_present("f");
    let set = last(&m, "s");
    let delete_mac = match &delete {
        Some(d) => match values::ether_aton(d) {
            Some(mac) => Some(mac),
            None => return die(format!("invalid mac address: {d}")),
        },
        None => None,
    };
    // Quirk fixed: illumos dereferenced a missing '=' before checking.
    let set_entry = match &set {
        Some(s) => {
            let Some((mac, dest)) = s.split_once('=') else {
                return die(format!("malformed value, expected mac=dest, got: {s}"));
            };
            match values::ether_aton(mac) {
                Some(k) => Some((mac.to_owned(), k, dest.to_owned())),
                None => return die(format!("invalid mac address: {mac}")),
            }
        }
        None => None,
    };
    let count = usize::from(delete.is_some()) + usize::from(flush) + usize::from(set.is_some());
    if count == 0 {
        return die("need to specify one of -d, -f, or -s");
    }
    if count > 1 {
        return die("only one of -d, -f, or -s may be used");
    }
    let name = match m.free.as_slice() {
        [] => return die("missing required overlay device"),
        [n] => n,
        _ => return die("only one overlay device may be specified"),
    };
    let dl = open_dladm()?;
    let link = dl
        .name2info(name)
        .or_else(|s| die_dlerr(s, format!("failed to find overlay {name}")))?;
    if flush && let Err(s) = dl.cache_flush(link.id) {
        return die_dlerr(
            s,
            format!("failed to flush target cache for overlay {name}"),
        );
    }
    if let (Some(d), Some(mac)) = (&delete, delete_mac)
        && let Err(s) = dl.cache_delete(link.id, mac)
    {
        return die_dlerr(
            s,
            format!("failed to flush target {d} from overlay target cache {name}"),
        );
    }
    if let Some((mac, key, dest)) = set_entry
        && let Err(s) = dl.cache_set(link.id, key, &dest)
    {
        return die_dlerr(
            s,
            format!("failed to set target {mac} for overlay target cache {name}"),
        );
    }
    Ok(0)
}

// ---- show-overlay --------------------------------------------------------

const fn f(name: &'static str, width: usize) -> Field {
    Field { name, width }
}

static OVERLAY_FIELDS: &[Field] = &[
    f("LINK", 19),
    f("PROPERTY", 19),
    f("PERM", 5),
    f("REQ", 4),
    f("VALUE", 11),
    f("DEFAULT", 10),
    f("POSSIBLE", 10),
];
static OVERLAY_FMA_FIELDS: &[Field] = &[f("LINK", 20), f("STATUS", 8), f("DETAILS", 52)];
static OVERLAY_TARG_FIELDS: &[Field] = &[f("LINK", 20), f("TARGET", 18), f("DESTINATION", 42)];

#[derive(Clone, Copy, PartialEq, Eq)]
enum ShowMode {
    Props,
    Fma,
    Target,
}

fn open_ofmt(
    ctx: &Ctx,
    fields: Option<&str>,
    template: &'static [Field],
    parsable: bool,
    wrap: bool,
) -> Result<Ofmt, Die> {
    match Ofmt::open(fields, template, parsable, wrap) {
        Ok((o, warning)) => {
            if let Some(w) = warning {
                ctx.warn(&w);
            }
            Ok(o)
        }
        Err(OpenError::Fatal(msg)) => die(msg),
    }
}

fn prop_value(ctx: &Ctx, r: &PropRow, v: &[u8]) -> String {
    if v.is_empty() {
        return "--".into();
    }
    values::prop_text(r.ptype, v).unwrap_or_else(|w| {
        ctx.warn(&w);
        "--".into()
    })
}

fn do_show_overlay(ctx: &Ctx, args: &[String], use_: &'static str) -> CmdResult {
    let m = getopt(
        args,
        &[
            flag('f', "fma"),
            arg('o', "output"),
            flag('p', "parsable"),
            flag('t', "target"),
        ],
        use_,
    )?;
    // As getopt's loop: the later of -f and -t wins.
    let mode = match (m.opt_positions("f").last(), m.opt_positions("t").last()) {
        (Some(a), Some(b)) if a > b => ShowMode::Fma,
        (_, Some(_)) => ShowMode::Target,
        (Some(_), None) => ShowMode::Fma,
        (None, None) => ShowMode::Props,
    };
    let parsable = m.opt_present("p");
    let fields = last(&m, "o").filter(|f| !f.eq_ignore_ascii_case("all"));
    let template = match mode {
        ShowMode::Props => OVERLAY_FIELDS,
        ShowMode::Fma => OVERLAY_FMA_FIELDS,
        ShowMode::Target => OVERLAY_TARG_FIELDS,
    };
    let mut ofmt = open_ofmt(ctx, fields.as_deref(), template, parsable, !parsable)?;
    let dl = open_dladm()?;
    let mut out = io::stdout().lock();
    let mut err = 0;
    let links = if m.free.is_empty() {
        match dl.links() {
            Ok(l) => l
                .into_iter()
                .filter(|l| l.class == DATALINK_CLASS_OVERLAY)
                .collect(),
            Err(s) => return die_dlerr(s, "failed to walk the datalinks"),
        }
    } else {
        let mut v = Vec::new();
        for name in &m.free {
            match dl.name2info(name) {
                Ok(l) => v.push(l),
                Err(s) => {
                    ctx.warn_dlerr(s, &format!("failed to find {name}"));
                    err = 1;
                }
            }
        }
        v
    };
    for link in links {
        let name = link.name.clone();
        if link.class != DATALINK_CLASS_OVERLAY {
            if mode == ShowMode::Fma {
                return die(format!("datalink {name} is not an overlay device"));
            }
            ctx.warn(&format!("{name} is not an overlay"));
            err = 1;
            continue;
        }
        match mode {
            ShowMode::Props => {
                let mut errs = Vec::new();
                let rows = dl.overlay_props(link.id, &mut errs);
                for r in &rows {
                    let cell = |i: usize| -> Option<String> {
                        Some(match i {
                            0 => name.clone(),
                            1 => r.name.clone(),
                            2 => match r.prot & OVERLAY_PROP_PERM_RW {
                                OVERLAY_PROP_PERM_RW => "rw".into(),
                                OVERLAY_PROP_PERM_READ => "r-".into(),
                                _ => "--".into(),
                            },
                            3 => if r.prot & OVERLAY_PROP_PERM_REQ != 0 {
                                "y"
                            } else {
                                "-"
                            }
                            .into(),
                            4 => prop_value(ctx, r, &r.value),
                            5 => prop_value(ctx, r, &r.default),
                            _ => {
                                let p = values::possible_values(&r.poss);
                                if p.is_empty() {
                                    "--".into()
                                } else {
                                    p.join(",")
                                }
                            }
                        })
                    };
                    ofmt.print(&mut out, &cell)
                        .map_err(|e| Die(e.to_string()))?;
                }
                ctx.warn_errlist(&errs);
                if !errs.is_empty() {
                    err = 1;
                }
            }
            ShowMode::Fma => {
                let (degraded, msg) = dl.overlay_status(link.id).or_else(|s| {
                    die_dlerr(s, format!("failed to obtain device status for {name}"))
                })?;
                let cell = |i: usize| -> Option<String> {
                    Some(match i {
                        0 => name.clone(),
                        1 => if degraded { "DEGRADED" } else { "ONLINE" }.into(),
                        _ => {
                            if degraded {
                                msg.clone()
                            } else {
                                "-".into()
                            }
                        }
                    })
                };
                ofmt.print(&mut out, &cell)
                    .map_err(|e| Die(e.to_string()))?;
            }
            ShowMode::Target => match dl.overlay_cache(link.id) {
                Ok((_, points)) => {
                    for (key, p) in points {
                        let cell = |i: usize| -> Option<String> {
                            Some(match i {
                                0 => name.clone(),
                                1 if p.flags & dl::DLADM_OVERLAY_F_DEFAULT != 0 => {
                                    "*:*:*:*:*:*".into()
                                }
                                1 => values::ether_ntoa(&key.0),
                                // Quirk fixed: illumos printed a drop
                                // entry's zero address (`:::0`); it is
                                // shown as it is set, `drop`.
                                _ if p.flags & overlay::abi::targ::OVERLAY_TARGET_CACHE_DROP
                                    != 0 =>
                                {
                                    "drop".into()
                                }
                                _ => p.destination(),
                            })
                        };
                        ofmt.print(&mut out, &cell)
                            .map_err(|e| Die(e.to_string()))?;
                    }
                }
                // Quirk fixed: illumos ignored this failure silently.
                Err(s) => {
                    ctx.warn_dlerr(s, &format!("failed to walk the target table of {name}"));
                    err = 1;
                }
            },
        }
    }
    Ok(err)
}

// ---- up-overlay ------------------------------------------------------------

/// What the `up-*` subcommands start from: the one link named in `args`
/// (all of them if none), the persistent configuration and the driver.
fn up_start(args: &[String]) -> Result<(Option<String>, conf::Store, Dladm), Die> {
    let name = match args {
        [_] => None,
        [_, n] => Some(n.clone()),
        _ => return usage(),
    };
    Ok((name, open_store()?, open_dladm()?))
}

/// `dladm_overlay_up`: every persistent overlay (or the one named) that
/// is not active is created again with its properties. Quirk fixed:
/// illumos re-applied only the properties with a `/` in their name, so a
/// persistent `mtu` was lost at boot.
fn do_up_overlay(ctx: &Ctx, args: &[String], _use: &'static str) -> CmdResult {
    let (name, store, dl) = up_start(args)?;
    let wanted: Vec<&conf::OverlayConf> = store
        .conf
        .overlays
        .iter()
        .filter(|o| name.as_ref().is_none_or(|n| &o.name == n))
        .collect();
    let what = match &name {
        Some(n) => format!("could not bring up overlay '{n}'"),
        None => "could not bring overlays up".to_owned(),
    };
    if wanted.is_empty() && name.is_some() {
        return die_dlerr(Status::NotFound, what);
    }
    let mut fail = Failure {
        status: Status::Ok,
        errs: Vec::new(),
    };
    for o in wanted {
        if dl.name2info(&o.name).is_ok() {
            continue;
        }
        if let Err(f) = dl.overlay_create(&o.name, &o.encap, &o.search, o.vnetid, &o.props) {
            fail.errs.extend(f.errs);
            fail.errs.push(format!(
                "failed to bring up overlay {}: {}",
                o.name, f.status
            ));
            fail.status = f.status;
        }
    }
    if fail.status != Status::Ok {
        return die_dlerrlist(ctx, &fail, what);
    }
    Ok(0)
}

// ---- VNICs and links (Linux) -------------------------------------------------

/// The longest Linux interface name (`IFNAMSIZ` - 1); a VNIC's name is
/// its TAP device's.
const IFNAMSIZ_MAX: usize = 15;

fn parse_vnic_mac(v: &str) -> Result<Option<[u8; 6]>, Die> {
    if v.eq_ignore_ascii_case("random") || v.eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    match values::ether_aton(v) {
        Some(m) if m[0] & 1 == 0 && m != [0; 6] => Ok(Some(m)),
        _ => die(format!("invalid MAC address '{v}'")),
    }
}

fn create_vnic(dl: &Dladm, name: &str, over: &str, mac: Option<[u8; 6]>) -> Result<(), Die> {
    let link = dl
        .name2info(over)
        .or_else(|_| die(format!("invalid link name '{over}'")))?;
    if link.class != DATALINK_CLASS_OVERLAY {
        return die_dlerr(
            Status::LinkInval,
            format!("vnic creation over {over} failed"),
        );
    }
    match dl.vnic_create(name, link.id, mac) {
        Ok(_) => Ok(()),
        // As libdladm words it when the overlay's underlay socket cannot
        // be opened (vxlan/listen_ip not on this host, say).
        Err(e) if e.errno() == Some(overlay::Errno::EADDRNOTAVAIL) => die(format!(
            "vnic creation over {over} failed: failed to start overlay device; \
             could not open underlay socket"
        )),
        Err(e) => die_dlerr(
            Status::from_client(&e),
            format!("vnic creation over {over} failed"),
        ),
    }
}

fn do_create_vnic(_ctx: &Ctx, args: &[String], use_: &'static str) -> CmdResult {
    let m = getopt(
        args,
        &[
            flag('t', "temporary"),
            arg('l', "link"),
            arg('m', "mac-address"),
        ],
        use_,
    )?;
    let temporary = m.opt_present("t");
    let Some(over) = last(&m, "l") else {
        return usage();
    };
    let [name] = m.free.as_slice() else {
        return usage();
    };
    let mac_arg = last(&m, "m");
    let mac = match &mac_arg {
        Some(v) => parse_vnic_mac(v)?,
        None => None,
    };
    if name.len() >= MAXLINKNAMELEN {
        return die(format!("link name too long '{name}'"));
    }
    if !values::valid_linkname(name) {
        return die(format!("invalid link name '{name}'"));
    }
    if name.len() > IFNAMSIZ_MAX {
        return die(format!(
            "invalid link name '{name}': a VNIC is a Linux interface, at most {IFNAMSIZ_MAX} characters"
        ));
    }
    let dl = open_dladm()?;
    let store = if temporary { None } else { Some(open_store()?) };
    if store.as_ref().is_some_and(|s| s.has_link(name)) {
        return die_dlerr(Status::Exist, format!("vnic creation over {over} failed"));
    }
    create_vnic(&dl, name, &over, mac)?;
    if let Some(mut store) = store {
        store.conf.vnics.push(conf::VnicConf {
            name: name.clone(),
            over: over.clone(),
            mac: mac.map(|m| values::ether_ntoa(&m)),
        });
        if let Err(e) = store.save() {
            if let Ok(l) = dl.name2info(name) {
                let _ = dl.vnic_delete(l.id);
            }
            return die(format!("vnic creation over {over} failed: {e}"));
        }
    }
    Ok(0)
}

fn do_delete_vnic(_ctx: &Ctx, args: &[String], use_: &'static str) -> CmdResult {
    let (temporary, name) = temporary_and_link(args, use_)?;
    let dl = open_dladm()?;
    let mut store = if temporary { None } else { Some(open_store()?) };
    match dl.name2info(&name) {
        Ok(l) if !dl::is_vnic(l.class) => {
            return die_dlerr(Status::LinkInval, "vnic deletion failed");
        }
        Ok(l) => dl
            .vnic_delete(l.id)
            .or_else(|s| die_dlerr(s, "vnic deletion failed"))?,
        Err(_) if store.as_ref().is_some_and(|s| s.vnic(&name).is_some()) => {}
        Err(s) => return die_dlerr(s, format!("invalid link name '{name}'")),
    }
    forget(&mut store, &name, "vnic deletion failed")?;
    Ok(0)
}

fn do_up_vnic(ctx: &Ctx, args: &[String], _use: &'static str) -> CmdResult {
    let (name, store, dl) = up_start(args)?;
    let mut failed = Vec::new();
    let mut found = false;
    for v in &store.conf.vnics {
        if name.as_ref().is_some_and(|n| n != &v.name) {
            continue;
        }
        found = true;
        if dl.name2info(&v.name).is_ok() {
            continue;
        }
        let mac = match v.mac.as_deref().map(parse_vnic_mac).transpose() {
            Ok(m) => m.flatten(),
            Err(Die(e)) => {
                failed.push(format!("{}: {e}", v.name));
                continue;
            }
        };
        if let Err(Die(e)) = create_vnic(&dl, &v.name, &v.over, mac) {
            failed.push(format!("{}: {e}", v.name));
        }
    }
    if let Some(n) = &name
        && !found
    {
        return die_dlerr(Status::NotFound, format!("could not bring up VNIC '{n}'"));
    }
    if !failed.is_empty() {
        ctx.warn_errlist(&failed);
        return die("could not bring VNICs up");
    }
    Ok(0)
}

static VNIC_FIELDS: &[Field] = &[
    f("LINK", 13),
    f("OVER", 13),
    f("SPEED", 7),
    f("MACADDRESS", 18),
    f("MACADDRTYPE", 20),
    f("VID", 7),
];

static LINK_FIELDS: &[Field] = &[
    f("LINK", 12),
    f("CLASS", 10),
    f("MTU", 7),
    f("STATE", 9),
    f("BRIDGE", 11),
    f("OVER", 30),
];

/// `-p` without `-o` and `-o all`, as show-link and show-vnic check them.
fn show_fields(m: &Matches) -> Result<(bool, Option<String>), Die> {
    let parsable = m.opt_present("p");
    let fields = last(m, "o");
    if parsable && fields.is_none() {
        return die("-p requires -o");
    }
    if parsable
        && fields
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case("all"))
    {
        return die("\"-o all\" is invalid with -p");
    }
    Ok((parsable, fields))
}

fn do_show_vnic(ctx: &Ctx, args: &[String], use_: &'static str) -> CmdResult {
    let m = getopt(
        args,
        &[flag('p', "parsable"), arg('o', "output"), arg('l', "link")],
        use_,
    )?;
    let (parsable, fields) = show_fields(&m)?;
    if m.free.len() > 1 {
        return usage();
    }
    let mut ofmt = open_ofmt(ctx, fields.as_deref(), VNIC_FIELDS, parsable, false)?;
    let dl = open_dladm()?;
    let only = match m.free.first() {
        Some(n) => match dl.name2info(n) {
            Ok(l) if dl::is_vnic(l.class) => Some(l.id),
            Ok(_) => return die(format!("{n} is not a vnic")),
            Err(s) => return die_dlerr(s, format!("invalid vnic name '{n}'")),
        },
        None => None,
    };
    let over = match last(&m, "l") {
        Some(l) => Some(
            dl.name2info(&l)
                .or_else(|s| die_dlerr(s, format!("invalid link name '{l}'")))?
                .id,
        ),
        None => None,
    };
    let links = dl
        .links()
        .or_else(|s| die_dlerr(s, "failed to walk the datalinks"))?;
    let name_of = |id: u32| {
        links
            .iter()
            .find(|l| l.id == id)
            .map_or_else(|| "?".to_owned(), |l| l.name.clone())
    };
    let vnics = dl
        .vnics()
        .or_else(|s| die_dlerr(s, "failed to walk the VNICs"))?;
    let mut out = io::stdout().lock();
    for v in vnics {
        if only.is_some_and(|id| id != v.hv_linkid) || over.is_some_and(|o| o != v.hv_overlay) {
            continue;
        }
        let cell = |i: usize| -> Option<String> {
            Some(match i {
                0 => name_of(v.hv_linkid),
                1 => name_of(v.hv_overlay),
                2 => "0".into(),
                3 => values::ether_ntoa(&v.hv_mac),
                4 => if v.hv_flags & HV_F_MAC != 0 {
                    "fixed"
                } else {
                    "random"
                }
                .into(),
                _ => "0".into(),
            })
        };
        ofmt.print(&mut out, &cell)
            .map_err(|e| Die(e.to_string()))?;
    }
    Ok(0)
}

fn do_show_link(ctx: &Ctx, args: &[String], use_: &'static str) -> CmdResult {
    let m = getopt(args, &[flag('p', "parsable"), arg('o', "output")], use_)?;
    let (parsable, fields) = show_fields(&m)?;
    if m.free.len() > 1 {
        return usage();
    }
    let mut ofmt = open_ofmt(ctx, fields.as_deref(), LINK_FIELDS, parsable, false)?;
    let dl = open_dladm()?;
    let links = dl
        .links()
        .or_else(|s| die_dlerr(s, "failed to walk the datalinks"))?;
    let vnics = dl.vnics().unwrap_or_default();
    let shown: Vec<_> = match m.free.first() {
        Some(n) => {
            let l = dl
                .name2info(n)
                .or_else(|s| die_dlerr(s, format!("failed to show link {n}")))?;
            links.iter().filter(|x| x.id == l.id).cloned().collect()
        }
        None => links.clone(),
    };
    let mut out = io::stdout().lock();
    for l in shown {
        // A VNIC shows its overlay's MTU and state.
        let over = vnics
            .iter()
            .find(|v| v.hv_linkid == l.id)
            .map(|v| v.hv_overlay);
        let dev = over.unwrap_or(l.id);
        let over_name = over.and_then(|o| links.iter().find(|x| x.id == o).map(|x| x.name.clone()));
        let mtu = dl.overlay_mtu(dev);
        let up = dl.overlay_active(dev);
        let cell = |i: usize| -> Option<String> {
            Some(match i {
                0 => l.name.clone(),
                1 => match l.class {
                    DATALINK_CLASS_OVERLAY => "overlay".into(),
                    c if dl::is_vnic(c) => "vnic".into(),
                    _ => "?".into(),
                },
                2 => mtu.map_or_else(|| "?".into(), |m| m.to_string()),
                3 => if up { "up" } else { "unknown" }.into(),
                4 => "--".into(),
                _ => over_name.clone().unwrap_or_else(|| "--".into()),
            })
        };
        ofmt.print(&mut out, &cell)
            .map_err(|e| Die(e.to_string()))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prop_lists_split_like_dladm() {
        let p = parse_props(&["a/b=1,c=x".into(), "d=2".into()]).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[1], ("c".into(), "x".into()));
        assert!(parse_props(&["a=1,2".into()]).is_none());
        assert!(parse_props(&["a=1".into(), "a=2".into()]).is_none());
        assert!(parse_props(&["=1".into()]).is_none());
        assert!(parse_props(&["a=".into()]).is_none());
        assert_eq!(parse_props(&[]).unwrap().len(), 0);
    }

    #[test]
    fn every_visible_command_has_a_usage_line() {
        let u = usage_text();
        for c in CMDS.iter().filter(|c| c.usage.is_some()) {
            assert!(u.contains(c.name), "{}", c.name);
        }
        assert!(!u.contains("up-overlay"));
    }
}
