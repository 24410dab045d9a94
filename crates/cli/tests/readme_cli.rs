//! README.md's "What works today" table against the binary's help: every subcommand of
//! `cadenza --help` has a row, every row is a subcommand, and every `--flag` a row names is
//! one that command (or one of its own subcommands) takes.

mod common;

use common::run;
use std::collections::BTreeSet;

/// `cadenza ARGS -h`, which must succeed.
fn help(args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.push("-h");
    let o = run(&a);
    assert!(o.status.success(), "cadenza {a:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The subcommands a help text lists under "Commands:" (`help` left out; a wrapped
/// description's deeper-indented lines are not names).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// The long flags a help text declares: the `--name` that opens an option line.
fn declared_flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = if l.len() > 4 && l.starts_with('-') && l.as_bytes()[2] == b',' { &l[4..] } else { l };
            l.strip_prefix("--").map(|r| r.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).next().unwrap())
        })
        .map(|f| format!("--{f}"))
        .collect()
}

/// Every `--name` written anywhere in `text` (Magenta's `--snake_case` flags left out: the
/// binary's flags are kebab-case).
fn named_flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        let name: String = rest[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')
            .collect();
        if name.starts_with(|c: char| c.is_ascii_lowercase()) && !name.contains('_') {
            out.insert(format!("--{}", name.trim_end_matches('-')));
        }
        rest = &rest[i + 2..];
    }
    out
}

/// The table's rows as (command, row text).
fn readme_rows() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let table = readme.split("## What works today").nth(1).expect("README.md has a \"What works today\" section");
    let table = table.split("\n## ").next().unwrap();
    table
        .lines()
        .filter_map(|l| {
            let cmd = l.strip_prefix("| `cadenza ")?.split([' ', '`']).next()?;
            Some((cmd.to_string(), l.to_string()))
        })
        .collect()
}

#[test]
fn readme_table_matches_the_help() {
    let commands = subcommands(&help(&[]));
    assert!(commands.len() >= 10 && commands.contains(&"train".to_string()), "{commands:?}");
    let rows = readme_rows();
    let row_commands: BTreeSet<&str> = rows.iter().map(|(c, _)| c.as_str()).collect();
    let missing: Vec<&String> = commands.iter().filter(|c| !row_commands.contains(c.as_str())).collect();
    assert!(missing.is_empty(), "README.md's table has no row for {missing:?}");
    for (cmd, row) in &rows {
        assert!(commands.contains(cmd), "README.md has a row for `cadenza {cmd}`, which is no subcommand");
        let top = help(&[cmd]);
        let mut flags = declared_flags(&top);
        for sub in subcommands(&top) {
            flags.extend(declared_flags(&help(&[cmd, &sub])));
        }
        assert!(flags.contains("--help"), "{cmd}: no flags read from its help:\n{top}");
        let unknown: Vec<String> = named_flags(row).difference(&flags).cloned().collect();
        assert!(
            unknown.is_empty(),
            "README.md's `cadenza {cmd}` row names {unknown:?}, which `cadenza {cmd} -h` lacks"
        );
    }
}

#[test]
fn flag_scanners_read_what_they_should() {
    let h = "Options:\n      --out <OUT>  Output\n  -h, --help  Print help\n      --no-png  x --not-this\n";
    let want: BTreeSet<String> = ["--out", "--help", "--no-png"].iter().map(|s| s.to_string()).collect();
    assert_eq!(declared_flags(h), want);
    let named = named_flags("`--clr lower=,upper=` and `--rhythm-cost emd\\|rps`, not -- or --X or --save_bundle");
    assert_eq!(named, ["--clr", "--rhythm-cost"].iter().map(|s| s.to_string()).collect());
    assert_eq!(subcommands("Commands:\n  data   Build\n  help   Print\n\nOptions:\n"), vec!["data"]);
}
