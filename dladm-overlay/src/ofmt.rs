//! Column output as illumos `libofmt` prints it, since scripts parse
//! dladm's output: the human form (fixed-width columns that borrow space
//! from their neighbours, optionally wrapping comma lists onto more
//! lines, a header every screenful) and the parsable form (`-p`: fields
//! joined by `:`, with `:` and `\` escaped when there is more than one
//! field).

use std::io::{self, Write};

/// One column a command can show.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    /// The column's width, separator included.
    pub width: usize,
}

/// Why `open` refused the field list (`ofmt_status_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Fatal; the message `ofmt_strerror` gives.
    Fatal(String),
}

/// An output handle: the selected columns and the printing state.
#[derive(Debug)]
pub struct Ofmt {
    /// Indexes into the template, in the order asked for.
    selected: Vec<usize>,
    template: &'static [Field],
    parsable: bool,
    wrap: bool,
    /// Rows printed (headers count twice, as libofmt counts them).
    nrow: usize,
    /// Rows per screen: the terminal's, or 24.
    page: usize,
    /// Space the previous columns took beyond their width.
    overflow: usize,
}

const VAL_UNDEF: &str = "--";
const VAL_UNKNOWN: &str = "?";
/// The most comma-separated pieces a wrapped value is split into.
const MAX_ROWS: usize = 128;

impl Ofmt {
    /// `ofmt_open`: `fields` is the `-o` list (`None`: every field of the
    /// template). Returns the handle and, for unknown fields in the human
    /// form, the warning to print (`ofmt_check` makes them fatal in the
    /// parsable form).
    pub fn open(
        fields: Option<&str>,
        template: &'static [Field],
        parsable: bool,
        wrap: bool,
    ) -> Result<(Ofmt, Option<String>), OpenError> {
        let fatal = |s: &str| Err(OpenError::Fatal(s.to_owned()));
        if parsable {
            match fields {
                None | Some("") => {
                    return fatal("output fields must be specified in parsable mode");
                }
                Some(f) if f.eq_ignore_ascii_case("all") => {
                    return fatal("output field `all' invalid in parsable mode");
                }
                _ => {}
            }
            if wrap {
                return fatal("parsable mode is incompatible with wrap mode");
            }
        }
        let mut selected = Vec::new();
        let mut bad = Vec::new();
        match fields {
            Some(f) if !f.eq_ignore_ascii_case("all") => {
                for name in f.split(',').filter(|s| !s.is_empty()) {
                    match template
                        .iter()
                        .position(|t| t.name.eq_ignore_ascii_case(name))
                    {
                        Some(i) => selected.push(i),
                        None => bad.push(name.to_owned()),
                    }
                }
            }
            _ => selected.extend(0..template.len()),
        }
        if selected.is_empty() {
            return fatal("no valid output fields");
        }
        let mut warning = None;
        if !bad.is_empty() {
            let list: String = bad.iter().map(|b| format!(" `{b}'")).collect();
            let plural = if bad.len() > 1 { "s" } else { "" };
            if parsable {
                return Err(OpenError::Fatal(format!(
                    "unknown output field{plural}:{list}"
                )));
            }
            warning = Some(format!("ignoring unknown output field{plural}:{list}"));
        }
        Ok((
            Ofmt {
                selected,
                template,
                parsable,
                wrap,
                nrow: 0,
                page: terminal_rows(),
                overflow: 0,
            },
            warning,
        ))
    }

    /// Sets the rows per screen (tests; otherwise the terminal's).
    pub fn set_page_rows(&mut self, rows: usize) {
        self.page = rows.max(1);
    }

    /// `ofmt_print`: one record. `value(i)` gives the template field
    /// `i`'s text; `None` prints `?` (a field that could not be had),
    /// and an empty text prints `--` in the human form.
    pub fn print(
        &mut self,
        out: &mut dyn Write,
        value: &dyn Fn(usize) -> Option<String>,
    ) -> io::Result<()> {
        let mut line = String::new();
        let first = self.nrow.is_multiple_of(self.page);
        self.nrow += 1;
        if first && !self.parsable {
            self.print_header(&mut line);
            self.nrow += 1;
        }
        let n = self.selected.len();
        let escape = n > 1;
        let mut pieces: Vec<Option<Wrap>> = Vec::with_capacity(n);
        let mut more = false;
        for (k, &i) in self.selected.clone().iter().enumerate() {
            let last = k + 1 == n;
            match value(i) {
                Some(v) => {
                    let shown = if self.wrap {
                        let mut w = Wrap::new(&v);
                        let s = w.next_line(self.template[i].width);
                        more |= w.more();
                        pieces.push(Some(w));
                        s
                    } else {
                        pieces.push(None);
                        v
                    };
                    let shown = if shown.is_empty() && !self.parsable {
                        VAL_UNDEF.to_owned()
                    } else {
                        shown
                    };
                    self.field(&mut line, i, &shown, escape, last);
                }
                None => {
                    pieces.push(None);
                    self.field(&mut line, i, VAL_UNKNOWN, escape, last);
                }
            }
        }
        line.push('\n');
        while more {
            more = false;
            for (k, &i) in self.selected.clone().iter().enumerate() {
                let last = k + 1 == n;
                let s = match &mut pieces[k] {
                    Some(w) => {
                        let s = w.next_line(self.template[i].width);
                        more |= w.more();
                        s
                    }
                    None => String::new(),
                };
                self.field(&mut line, i, &s, escape, last);
            }
            line.push('\n');
        }
        out.write_all(line.as_bytes())
    }

    fn print_header(&mut self, line: &mut String) {
        let n = self.selected.len();
        for (k, &i) in self.selected.clone().iter().enumerate() {
            self.field(line, i, self.template[i].name, n > 1, k + 1 == n);
        }
        line.push('\n');
    }

    /// `ofmt_print_field`.
    fn field(&mut self, line: &mut String, i: usize, value: &str, escape: bool, last: bool) {
        if self.parsable {
            if self.selected.len() == 1 {
                line.push_str(value);
                return;
            }
            for c in value.chars() {
                if escape && (c == ':' || c == '\\') {
                    line.push('\\');
                }
                line.push(c);
            }
            if !last {
                line.push(':');
            }
            return;
        }
        if last {
            line.push_str(value);
            self.overflow = 0;
            return;
        }
        let mut width = self.template[i].width;
        let len = value.len();
        if len + self.overflow >= width {
            // Too wide: print it and a space, and take the excess back
            // from the columns that follow.
            self.overflow += (len + 1).saturating_sub(width);
            line.push_str(value);
            line.push(' ');
            return;
        }
        if self.overflow > 0 {
            let compress = self.overflow.min(width - len);
            self.overflow -= compress;
            width -= compress;
        }
        line.push_str(value);
        line.extend(std::iter::repeat_n(' ', width - len));
    }
}

/// A value being wrapped over lines at its commas (`ofmt_fit_width`).
#[derive(Debug)]
struct Wrap {
    parts: Vec<String>,
    next: usize,
}

impl Wrap {
    fn new(v: &str) -> Wrap {
        let parts: Vec<String> = v
            .split(',')
            .filter(|s| !s.is_empty())
            .take(MAX_ROWS)
            .map(str::to_owned)
            .collect();
        Wrap { parts, next: 0 }
    }

    fn more(&self) -> bool {
        self.next < self.parts.len()
    }

    /// As many of the remaining pieces as fit in `width`; a line that
    /// continues on the next keeps its trailing comma, and a piece wider
    /// than the column gets a line of its own.
    fn next_line(&mut self, width: usize) -> String {
        let mut s = String::new();
        while self.next < self.parts.len() {
            let i = self.next;
            s.push_str(&self.parts[i]);
            s.push(',');
            let next_len = if i + 1 == self.parts.len() {
                s.pop();
                0
            } else {
                self.parts[i + 1].len()
            };
            self.next += 1;
            if s.len() + next_len > width {
                break;
            }
        }
        s
    }
}

/// The terminal's height if stdout is one, else 24 (as libofmt).
fn terminal_rows() -> usize {
    // SAFETY: TIOCGWINSZ on fd 1 with a properly sized winsize; a
    // failure leaves it zeroed and we fall back.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) };
    if r == -1 || ws.ws_row == 0 || ws.ws_col == 0 {
        24
    } else {
        ws.ws_row as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static T: &[Field] = &[
        Field {
            name: "LINK",
            width: 8,
        },
        Field {
            name: "VALUE",
            width: 6,
        },
        Field {
            name: "LAST",
            width: 4,
        },
    ];

    fn render(o: &mut Ofmt, rows: &[[&str; 3]]) -> String {
        let mut out = Vec::new();
        for r in rows {
            let r: Vec<String> = r.iter().map(|s| s.to_string()).collect();
            o.print(&mut out, &|i| Some(r[i].clone())).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn human_columns_borrow_from_neighbours() {
        let (mut o, w) = Ofmt::open(None, T, false, false).unwrap();
        assert!(w.is_none());
        o.set_page_rows(24);
        let s = render(&mut o, &[["a", "b", "c"], ["longername", "x", "y"]]);
        assert_eq!(s, "LINK    VALUE LAST\na       b     c\nlongername x  y\n");
    }

    #[test]
    fn empty_is_undef_and_header_repeats_per_page() {
        let (mut o, _) = Ofmt::open(Some("link"), T, false, false).unwrap();
        o.set_page_rows(3);
        let s = render(&mut o, &[[""; 3], ["b"; 3], ["c"; 3]]);
        assert_eq!(s, "LINK\n--\nb\nLINK\nc\n");
    }

    #[test]
    fn parsable_escapes_only_with_several_fields() {
        let (mut o, _) = Ofmt::open(Some("link,value"), T, true, false).unwrap();
        let s = render(&mut o, &[["a:b", "c\\d", ""]]);
        assert_eq!(s, "a\\:b:c\\\\d\n");
        let (mut o, _) = Ofmt::open(Some("value"), T, true, false).unwrap();
        assert_eq!(render(&mut o, &[["", "1:2", ""]]), "1:2\n");
    }

    #[test]
    fn open_errors_match_libofmt() {
        let e = |f: Option<&str>| match Ofmt::open(f, T, true, false) {
            Err(OpenError::Fatal(s)) => s,
            Ok(_) => panic!("accepted"),
        };
        assert_eq!(e(None), "output fields must be specified in parsable mode");
        assert_eq!(
            e(Some("all")),
            "output field `all' invalid in parsable mode"
        );
        assert_eq!(e(Some("link,foo")), "unknown output field: `foo'");
        let (_, w) = Ofmt::open(Some("link,foo,bar"), T, false, false).unwrap();
        assert_eq!(
            w.as_deref(),
            Some("ignoring unknown output fields: `foo' `bar'")
        );
        assert!(matches!(
            Ofmt::open(Some("foo"), T, false, false),
            Err(OpenError::Fatal(s)) if s == "no valid output fields"
        ));
    }

    #[test]
    fn wrap_splits_lists_at_commas() {
        let (mut o, _) = Ofmt::open(None, T, false, true).unwrap();
        o.set_page_rows(24);
        let s = render(&mut o, &[["l", "aa,bb,cc", "z"]]);
        assert_eq!(s, "LINK    VALUE LAST\nl       aa,bb, z\n        cc    \n");
    }
}
