//! The process environment, read once at start-up and passed down.
//!
//! Nothing below `main` calls `std::env::var`: commands receive an [`Environment`], so tests
//! can run the library with exactly the variables they mean to, and so the places that read
//! the environment stay few and visible.

use std::collections::BTreeMap;

/// A snapshot of the environment variables that are valid UTF-8.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// The variables of the running process (those that are not UTF-8 are left out: no
    /// value flowform reads can be anything else).
    pub fn from_process() -> Environment {
        Environment {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Environment {
        Environment {
            vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}
