//! The names `generate` makes up: connection keys from AEP's names, and the environment
//! variables that hold the secrets AEP never returns. Both are predictable from what AEP
//! shows and stable from one run to the next, and neither ever collides with a name in use.

use std::collections::BTreeSet;

use crate::config::MAX_KEY;

/// The longest key a name gives before a suffix: room for `-<sandbox>` or `-<n>`.
const MAX_SLUG: usize = 64;

/// The key a name gives: ASCII letters and digits in lower case, every run of anything
/// else one `-`, at most 64 characters; `connection` when no letter or digit is left.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
            if out.len() >= MAX_SLUG {
                break;
            }
        } else {
            dash = true;
        }
    }
    if out.is_empty() {
        "connection".to_owned()
    } else {
        out
    }
}

/// The form in which two keys are one: `a_b`, `A.b` and `a-b` differ as keys, but not as
/// the variable names made from them.
fn normal(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Keys in use: declared, in the state, or already given in this run.
#[derive(Debug, Default)]
pub struct Keys {
    used: BTreeSet<String>,
}

impl Keys {
    pub fn reserve(&mut self, key: &str) {
        self.used.insert(normal(key));
    }

    /// A key for a connection named `name` in `sandbox`: the name's [`slug`]; if in use,
    /// the slug and the sandbox (`acme-dev`); then `-2`, `-3`, ….
    pub fn take(&mut self, name: &str, sandbox: &str) -> String {
        let base = slug(name);
        let with_sandbox = format!("{base}-{sandbox}");
        let mut candidates = vec![base.clone()];
        if !base.ends_with(&format!("-{sandbox}")) && with_sandbox.len() <= MAX_KEY {
            candidates.push(with_sandbox);
        }
        // One of the first `used + 2` numbers is free.
        let numbered = (2..self.used.len() + 3).map(|n| format!("{base}-{n}"));
        let key = candidates
            .into_iter()
            .chain(numbered)
            .find(|k| !self.used.contains(&normal(k)))
            .unwrap_or(base);
        self.used.insert(normal(&key));
        key
    }
}

/// Environment variable names in use: referenced by the configuration, or given in this run.
#[derive(Debug, Default)]
pub struct Variables {
    used: BTreeSet<String>,
}

impl Variables {
    pub fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_owned());
    }

    /// `FLOWFORM_<SANDBOX>_<KEY>_<PARAM>` in upper snake case (`securityToken` is
    /// `SECURITY_TOKEN`); `_2`, `_3`, … if that is in use.
    pub fn take(&mut self, sandbox: &str, key: &str, param: &str) -> String {
        let base = format!(
            "FLOWFORM_{}_{}",
            sandbox.to_ascii_uppercase().replace('-', "_"),
            crate::config::env_name(key, param)
        );
        let name = std::iter::once(base.clone())
            .chain((2..self.used.len() + 3).map(|n| format!("{base}_{n}")))
            .find(|n| !self.used.contains(n))
            .unwrap_or(base);
        self.used.insert(name.clone());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_make_keys() {
        for (name, key) in [
            ("ACME Salesforce account", "acme-salesforce-account"),
            ("  ACME -- (JWT)  ", "acme-jwt"),
            ("Dev_Salesforce.v2", "dev-salesforce-v2"),
            ("日本語", "connection"),
            ("Ünïcode Org 7", "n-code-org-7"),
            ("", "connection"),
            ("../../etc/passwd", "etc-passwd"),
            ("${env:HOME}", "env-home"),
        ] {
            assert_eq!(slug(name), key, "{name:?}");
            assert!(crate::config::is_valid_key(&slug(name)));
        }
        let long = "x".repeat(500);
        assert_eq!(slug(&long).len(), MAX_SLUG);
    }

    #[test]
    fn keys_in_use_get_the_sandbox_then_a_number() {
        let mut keys = Keys::default();
        keys.reserve("acme_crm");
        assert_eq!(keys.take("ACME", "prod"), "acme");
        assert_eq!(keys.take("acme", "dev"), "acme-dev");
        assert_eq!(keys.take("ACME!", "dev"), "acme-2");
        assert_eq!(keys.take("ACME CRM", "prod"), "acme-crm-prod");
        assert_eq!(keys.take("acme crm", "prod"), "acme-crm-2");
        assert_eq!(keys.take("Sales prod", "prod"), "sales-prod");
        assert_eq!(keys.take("Sales prod", "prod"), "sales-prod-2");
        let long_sandbox = "s".repeat(200);
        assert_eq!(keys.take("ACME", &long_sandbox), "acme-3");
    }

    #[test]
    fn variables_are_predictable_and_unique() {
        let mut vars = Variables::default();
        vars.reserve("FLOWFORM_PROD_ACME_PASSWORD");
        assert_eq!(
            vars.take("prod", "acme-sf", "securityToken"),
            "FLOWFORM_PROD_ACME_SF_SECURITY_TOKEN"
        );
        assert_eq!(
            vars.take("prod", "acme", "password"),
            "FLOWFORM_PROD_ACME_PASSWORD_2"
        );
        // `a-b` + `c` and `a` + `bC` meet: the second gets a number.
        assert_eq!(vars.take("dev-1", "a-b", "c"), "FLOWFORM_DEV_1_A_B_C");
        assert_eq!(vars.take("dev-1", "a", "bC"), "FLOWFORM_DEV_1_A_B_C_2");
        let weird = vars.take("prod", "k", "pass word/ü");
        assert!(
            crate::secret::parse(&format!("${{env:{weird}}}")).is_ok(),
            "{weird}"
        );
    }
}
