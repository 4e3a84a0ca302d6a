//! The command line as the audit record and the resume hint give it:
//! ClientMetadata values removed, the credentials of `--endpoint-url`
//! redacted, quoted so that pasting it gives the program the same bytes.

use crate::progress::escape;

/// The command line with every `--client-metadata` value removed and every
/// `--endpoint-url` shown without its credentials.
pub fn command_line() -> Vec<String> {
    recorded(std::env::args_os().map(|a| a.to_string_lossy().into_owned()))
}

/// How the value of `flag` is recorded, if not as it is.
fn redactor(flag: &str) -> Option<fn(&str) -> String> {
    match flag {
        "--client-metadata" => Some(without_value),
        "--endpoint-url" => Some(crate::endpoint::shown),
        _ => None,
    }
}

/// A `KEY=VALUE` with its value removed: it may be a secret.
fn without_value(kv: &str) -> String {
    match kv.split_once('=') {
        Some((k, _)) => format!("{k}=<value removed>"),
        None => "<value removed>".to_owned(),
    }
}

/// `args` as recorded: the value of a flag that may hold a secret, given as
/// the next argument or after `=`, through its redactor.
fn recorded(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut value_next: Option<fn(&str) -> String> = None;
    for arg in args {
        if let Some(redact) = value_next.take() {
            out.push(redact(&arg));
        } else if let Some(redact) = redactor(&arg) {
            value_next = Some(redact);
            out.push(arg);
        } else if let Some((flag, value)) = arg.split_once('=')
            && let Some(redact) = redactor(flag)
        {
            out.push(format!("{flag}={}", redact(value)));
        } else {
            out.push(arg);
        }
    }
    out
}

/// Quotes an argument for a POSIX shell so that pasting the command gives
/// the program the same bytes: plain words as they are, others in single
/// quotes, and anything with a control or invisible character in bash's
/// `$'…'` form, which shows it escaped and pastes back to it.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        return arg.to_owned();
    }
    if escape(arg) == arg {
        return format!("'{}'", arg.replace('\'', r"'\''"));
    }
    let mut out = String::from("$'");
    for c in arg.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if escape(&c.to_string()) != c.to_string() => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The command that continues this run: `--resume` and always `--report`
/// (placed before any `--`), placeholders instead of ClientMetadata values.
pub fn resume_command(report: &str) -> String {
    let line = command_line();
    let cut = line.iter().position(|a| a == "--").unwrap_or(line.len());
    let (flags, rest) = line.split_at(cut);
    let mut args: Vec<String> = flags
        .iter()
        .filter(|a| *a != "--overwrite" && *a != "--resume")
        .cloned()
        .collect();
    let has_report = args
        .iter()
        .any(|a| a == "--report" || a.starts_with("--report="));
    if !has_report {
        // One word, so that a path starting with `-` stays a value.
        args.push(format!("--report={report}"));
    }
    args.push("--resume".into());
    args.extend(rest.iter().cloned());
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(args: &[&str]) -> Vec<String> {
        recorded(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn secrets_on_the_command_line_are_not_recorded() {
        assert_eq!(
            line(&[
                "cognito-reset",
                "--endpoint-url",
                "http://u:p@h:9/",
                "--endpoint-url=https://u@h",
                "--client-metadata",
                "k=v",
                "--client-metadata=k2=v2",
                "in.csv",
            ]),
            [
                "cognito-reset",
                "--endpoint-url",
                "http://<redacted>@h:9/",
                "--endpoint-url=https://<redacted>@h/",
                "--client-metadata",
                "k=<value removed>",
                "--client-metadata=k2=<value removed>",
                "in.csv",
            ]
        );
    }
}
