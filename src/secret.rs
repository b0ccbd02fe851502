//! Secret values and the references that name them.
//!
//! A configuration never holds a secret: it holds a [`SecretRef`] (`${env:NAME}` or
//! `${file:PATH}`) that is resolved at load time into a [`Secret`]. A `Secret` redacts itself in
//! `Debug`, `Display` and `Serialize`, so that it cannot reach a log line, a plan or the state
//! file by accident; code that must send it to AEP asks for it by name with [`Secret::expose`].

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

use crate::settings::Environment;

/// What every redacted value is shown as.
pub const REDACTED: &str = "(sensitive)";

/// Secret files larger than this are refused: no credential is that long, and it stops
/// `${file:/dev/zero}` from eating the machine.
const MAX_SECRET_FILE: u64 = 1024 * 1024;

/// A resolved secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The clear value. Call it only where the value leaves flowform for AEP.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// Where a secret comes from. The reference itself is not secret: it is in the YAML.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretRef {
    /// `${env:NAME}`
    Env(String),
    /// `${file:PATH}`, the path as written (relative paths are relative to the YAML file).
    File(PathBuf),
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "${{env:{name}}}"),
            SecretRef::File(path) => write!(f, "${{file:{}}}", path.display()),
        }
    }
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How a string param reads: a literal, or a reference to a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A literal value (with `$${` already unescaped to `${`).
    Literal(String),
    Reference(SecretRef),
}

/// Why a string is not a valid literal or reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefError {
    pub message: String,
    pub help: Option<String>,
}

/// Reads a string param. A reference must be the whole value; `$${` writes a literal `${`.
pub fn parse(text: &str) -> Result<Parsed, RefError> {
    if let Some(inner) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}'))
        && !inner.contains("${")
        && !inner.contains('}')
    {
        return parse_inner(inner).map(Parsed::Reference);
    }
    // Anything else is a literal, in which `${` may only appear escaped as `$${`.
    let mut literal = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            literal.push_str(&rest[..i]);
            literal.push('{');
            rest = &rest[i + 2..];
        } else {
            return Err(RefError {
                message: format!(
                    "`{text}` mixes a `${{…}}` reference with other text; a reference must be the whole value"
                ),
                help: Some(
                    "write the reference alone, e.g. `${env:NAME}`, or `$${` for a literal `${`".to_owned(),
                ),
            });
        }
    }
    literal.push_str(rest);
    Ok(Parsed::Literal(literal))
}

fn parse_inner(inner: &str) -> Result<SecretRef, RefError> {
    let Some((source, target)) = inner.split_once(':') else {
        return Err(RefError {
            message: format!("`${{{inner}}}` names no source"),
            help: Some("write `${env:NAME}` or `${file:PATH}`".to_owned()),
        });
    };
    match source {
        "env" => {
            let valid = target
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && target.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if valid {
                Ok(SecretRef::Env(target.to_owned()))
            } else {
                Err(RefError {
                    message: format!("`{target}` is not an environment variable name"),
                    help: Some(
                        "a name is letters, digits and `_`, not starting with a digit, e.g. `${env:SALESFORCE_PASSWORD}`"
                            .to_owned(),
                    ),
                })
            }
        }
        "file" if !target.trim().is_empty() => Ok(SecretRef::File(PathBuf::from(target))),
        "file" => Err(RefError {
            message: "`${file:}` names no file".to_owned(),
            help: Some("write `${file:PATH}`, relative to the YAML file".to_owned()),
        }),
        other => Err(RefError {
            message: format!("unknown secret source `{other}`"),
            help: Some(match crate::diagnostic::did_you_mean(other, ["env", "file"]) {
                Some(s) => format!("did you mean `${{{s}:{target}}}`? flowform reads `env` and `file`"),
                None => "flowform reads secrets from `${env:NAME}` and `${file:PATH}`".to_owned(),
            }),
        }),
    }
}

/// Why a reference could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveError {
    pub message: String,
    pub help: Option<String>,
}

impl SecretRef {
    /// Resolves the reference. `base` is the directory of the YAML file that holds it.
    pub fn resolve(&self, env: &Environment, base: &Path) -> Result<Secret, ResolveError> {
        match self {
            SecretRef::Env(name) => match env.var(name) {
                Some(value) if !value.is_empty() => Ok(Secret::new(value)),
                Some(_) => Err(ResolveError {
                    message: format!("environment variable `{name}` is empty"),
                    help: None,
                }),
                None => Err(ResolveError {
                    message: format!("environment variable `{name}` is not set"),
                    help: Some(format!(
                        "export {name}=… before running flowform (or `validate --skip-secrets` to check the files without secrets)"
                    )),
                }),
            },
            SecretRef::File(path) => {
                let full = base.join(path);
                read_secret_file(&full).map_err(|message| ResolveError {
                    message: format!("secret file `{}` {message}", full.display()),
                    help: None,
                })
            }
        }
    }
}

fn read_secret_file(path: &Path) -> Result<Secret, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read: {}", io_reason(&e)))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err("is a directory".to_owned());
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {}", io_reason(&e)))?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err("is larger than 1 MiB".to_owned());
    }
    let mut text = String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_owned())?;
    while text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    Ok(Secret::new(text))
}

/// `No such file or directory` rather than `No such file or directory (os error 2)`.
pub(crate) fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_lowercase(),
        None => text.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_themselves() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&s)), format!("Some({REDACTED})"));
        assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{REDACTED}\""));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn parsing_references_and_literals() {
        use Parsed::*;
        let ok: &[(&str, Parsed)] = &[
            ("plain", Literal("plain".into())),
            ("", Literal("".into())),
            (
                "${env:SF_PASSWORD}",
                Reference(SecretRef::Env("SF_PASSWORD".into())),
            ),
            ("${env:_x1}", Reference(SecretRef::Env("_x1".into()))),
            (
                "${file:secrets/token}",
                Reference(SecretRef::File("secrets/token".into())),
            ),
            ("${file:/abs/a b}", Reference(SecretRef::File("/abs/a b".into()))),
            ("cost: $${price}", Literal("cost: ${price}".into())),
            ("$5 {x}", Literal("$5 {x}".into())),
        ];
        for (text, expected) in ok {
            assert_eq!(&parse(text).unwrap(), expected, "{text:?}");
        }
        let bad: &[(&str, &str)] = &[
            ("pre${env:X}", "mixes"),
            ("${env:X}post", "mixes"),
            ("${env:1X}", "not an environment variable name"),
            ("${env:}", "not an environment variable name"),
            ("${env:A-B}", "not an environment variable name"),
            ("${file:}", "names no file"),
            ("${vault:x}", "unknown secret source `vault`"),
            ("${PASSWORD}", "names no source"),
            ("${env:X", "mixes"),
        ];
        for (text, expected) in bad {
            let err = parse(text).unwrap_err();
            assert!(err.message.contains(expected), "{text:?}: {err:?}");
        }
        assert_eq!(
            parse("${enf:X}").unwrap_err().help.unwrap(),
            "did you mean `${env:X}`? flowform reads `env` and `file`"
        );
    }

    #[test]
    fn resolving_from_env_and_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "abc\r\n\n").unwrap();
        std::fs::write(dir.path().join("empty"), "\n").unwrap();
        let env = Environment::from_pairs([("SET", "v"), ("EMPTY", "")]);
        let base = dir.path();
        assert_eq!(
            SecretRef::Env("SET".into()).resolve(&env, base).unwrap().expose(),
            "v"
        );
        assert!(
            SecretRef::Env("EMPTY".into())
                .resolve(&env, base)
                .unwrap_err()
                .message
                .contains("is empty")
        );
        let unset = SecretRef::Env("UNSET".into()).resolve(&env, base).unwrap_err();
        assert_eq!(unset.message, "environment variable `UNSET` is not set");
        assert_eq!(
            SecretRef::File("tok".into())
                .resolve(&env, base)
                .unwrap()
                .expose(),
            "abc"
        );
        assert!(
            SecretRef::File("empty".into())
                .resolve(&env, base)
                .unwrap_err()
                .message
                .ends_with("is empty")
        );
        let missing = SecretRef::File("nope".into()).resolve(&env, base).unwrap_err();
        assert!(
            missing
                .message
                .ends_with("cannot be read: no such file or directory"),
            "{missing:?}"
        );
    }
}
