//! Terraform's single-dash long options (`-out=plan.out`, `-auto-approve`,
//! `-lock-timeout=5m`), read as the double-dash options they mean, so that a Terraform user's
//! habits carry over instead of meeting "unexpected argument '-o'".
//!
//! The rewrite is driven by the command line's own definition, not by a list: an argument
//! `-NAME` or `-NAME=VALUE` becomes `--NAME…` when `NAME` (two characters or more) is a long
//! option of the command being parsed (its globals included). Everything else is left for
//! clap: real short flags (`-c PATH`, `-C DIR`, `-vv`), values (the word after an option that
//! takes one), and every argument after `--`.

use std::ffi::OsString;

use clap::Command;

/// `args` (the program name first) with single-dash long options written with two dashes.
pub fn normalize(command: &Command, args: Vec<OsString>) -> Vec<OsString> {
    let mut root = command.clone();
    // Propagates the global options to the subcommands, so that each knows all it accepts.
    root.build();
    let mut current = &root;
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    out.extend(iter.next());
    let mut value_next = false;
    let mut rest_verbatim = false;
    for arg in iter {
        let Some(text) = arg.to_str().map(str::to_owned) else {
            out.push(arg);
            value_next = false;
            continue;
        };
        if rest_verbatim || std::mem::take(&mut value_next) {
            out.push(arg);
            continue;
        }
        if text == "--" {
            rest_verbatim = true;
        } else if let Some(body) = text.strip_prefix("--") {
            let (name, attached) = split_value(body);
            value_next = !attached && long(current, name).is_some_and(takes_value);
        } else if let Some(body) = text.strip_prefix('-').filter(|b| !b.is_empty()) {
            let (name, attached) = split_value(body);
            if name.chars().count() > 1
                && let Some(option) = long(current, name)
            {
                value_next = !attached && takes_value(option);
                out.push(OsString::from(format!("-{text}")));
                continue;
            }
            // A short flag, or a cluster of them (`-vv`); only a lone short option that takes
            // a value (`-c PATH`) is followed by one.
            let mut chars = body.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                value_next = short(current, c).is_some_and(takes_value);
            }
        } else if let Some(sub) = current.find_subcommand(&text) {
            current = sub;
        }
        out.push(arg);
    }
    out
}

/// `name=value` as `(name, true)`; `name` as `(name, false)`.
fn split_value(body: &str) -> (&str, bool) {
    match body.split_once('=') {
        Some((name, _)) => (name, true),
        None => (body, false),
    }
}

fn long<'c>(command: &'c Command, name: &str) -> Option<&'c clap::Arg> {
    command.get_arguments().find(|a| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|aliases| aliases.contains(&name))
    })
}

fn short(command: &Command, c: char) -> Option<&clap::Arg> {
    command.get_arguments().find(|a| a.get_short() == Some(c))
}

fn takes_value(arg: &clap::Arg) -> bool {
    arg.get_action().takes_values()
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::CommandFactory;

    use super::normalize;
    use crate::cli::Cli;

    fn rewrite(args: &[&str]) -> Vec<String> {
        let args: Vec<OsString> = std::iter::once("flowform")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        normalize(&Cli::command(), args)
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn terraform_spellings_become_long_options() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["plan", "-out=x.out"], &["plan", "--out=x.out"]),
            (&["plan", "-out", "x.out"], &["plan", "--out", "x.out"]),
            (
                &["plan", "-refresh=false", "-detailed-exitcode"],
                &["plan", "--refresh=false", "--detailed-exitcode"],
            ),
            (
                &["apply", "-auto-approve", "-lock-timeout=5m"],
                &["apply", "--auto-approve", "--lock-timeout=5m"],
            ),
            (&["plan", "-target=prod/acme"], &["plan", "--target=prod/acme"]),
            (
                &["state", "rm", "-lock-timeout=5m", "acme"],
                &["state", "rm", "--lock-timeout=5m", "acme"],
            ),
            (&["-chdir=infra", "plan"], &["--chdir=infra", "plan"]),
            (&["plan", "-help"], &["plan", "--help"]),
        ];
        for (given, meant) in cases {
            assert_eq!(rewrite(given), *meant, "{given:?}");
        }
    }

    #[test]
    fn short_flags_values_and_what_follows_double_dash_are_left_alone() {
        let unchanged: &[&[&str]] = &[
            &["plan", "-c", "examples", "-C", "dir", "-vv"],
            &["plan", "-cexamples"],
            // A value that looks like an option is a value (clap then decides about it).
            &["plan", "--target", "-out"],
            &["plan", "-c", "-out"],
            &["state", "mv", "--", "-out", "-target"],
            // Not a long option of `validate`: clap says so, as it would have.
            &["validate", "-out=x"],
            // A word that is a long option of another command only.
            &["drift", "-auto-approve"],
        ];
        for given in unchanged {
            assert_eq!(rewrite(given), *given, "{given:?}");
        }
    }

    /// Every long option of every command, whoever adds it, is reachable with one dash.
    #[test]
    fn every_long_option_of_every_command_is_accepted_with_one_dash() {
        let mut root = Cli::command();
        root.build();
        let mut stack: Vec<(Vec<String>, &clap::Command)> = vec![(Vec::new(), &root)];
        let mut checked = 0;
        while let Some((path, command)) = stack.pop() {
            for arg in command.get_arguments() {
                let Some(long) = arg.get_long().filter(|l| l.len() > 1) else {
                    continue;
                };
                let mut given = path.clone();
                given.push(format!("-{long}=v"));
                let mut meant = path.clone();
                meant.push(format!("--{long}=v"));
                let given: Vec<&str> = given.iter().map(String::as_str).collect();
                assert_eq!(rewrite(&given), meant);
                checked += 1;
            }
            for sub in command.get_subcommands() {
                let mut path = path.clone();
                path.push(sub.get_name().to_owned());
                stack.push((path, sub));
            }
        }
        assert!(checked > 50, "{checked}");
    }
}
