//! The flags several commands share, and how they become the operations' request values.

use std::path::PathBuf;
use std::time::Duration;

use crate::flow::settings::Overrides;
use crate::ops::{StateOptions, Target};

/// Where AEP is and how hard to push it; shared by the commands that talk to it.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Flow Service base URL [env: FLOWFORM_ENDPOINT] [default: https://platform.adobe.io/data/foundation/flowservice]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// IMS base URL for OAuth server-to-server tokens [env: AEP_IMS_URL] [default: https://ims-na1.adobelogin.com]
    #[arg(long, value_name = "URL")]
    pub ims_url: Option<String>,
    /// Requests to AEP in flight at most (the limit halves on 429 and recovers) [default: 16]
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    /// Requests to AEP per second at most
    #[arg(long, value_name = "N")]
    pub requests_per_second: Option<f64>,
    /// The most the command may spend talking to AEP, retries and waits included (e.g. 90s, 30m) [default: 30m]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<Duration>,
    /// The longest URL to send AEP; filters with many values (ids, names) are split to stay
    /// within it [env: FLOWFORM_MAX_URL_LENGTH] [default: 6000]
    #[arg(long, value_name = "CHARACTERS")]
    pub max_url_length: Option<usize>,
}

impl ClientArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            endpoint: self.endpoint.clone(),
            ims_url: self.ims_url.clone(),
            parallelism: self.parallelism,
            requests_per_second: self.requests_per_second,
            timeout: self.timeout,
            max_url_length: self.max_url_length,
        }
    }
}

/// Which state file, and how to lock it; shared by every command that uses the state.
#[derive(Debug, Clone, clap::Args)]
pub struct StateArgs {
    /// State file [default: the project's, from `flowform.toml`]
    #[arg(long = "state", value_name = "PATH", global = true)]
    pub path: Option<PathBuf>,
    /// Wait this long for another flowform holding the state lock (e.g. 30s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = duration, global = true)]
    pub lock_timeout: Duration,
    /// Take the state lock (`--lock=false` only for reading)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub lock: bool,
}

impl StateArgs {
    pub fn options(&self) -> StateOptions {
        StateOptions {
            path: self.path.clone(),
            lock_timeout: self.lock_timeout,
            lock: self.lock,
        }
    }
}

/// The flags every planning command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Narrow the plan to these of the project's configuration files or directories
    /// (repeatable); the state is always the project's
    #[arg(short = 'c', long = "config", value_name = "PATH")]
    pub config: Vec<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub client: ClientArgs,
    /// Read AEP before planning (`--refresh=false` plans from the state alone)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub refresh: bool,
    /// Limit the plan to these resources and what they depend on (key, kind:key or
    /// sandbox/kind:key; repeatable)
    #[arg(long = "target", value_name = "KEY")]
    pub targets: Vec<String>,
    /// Work against a Flow Service emulator run in this process, with its data and a state
    /// of its own in `emulator/` beside the project's state: a demo that never touches AEP or
    /// the real state
    #[arg(long)]
    pub emulator: bool,
}

impl TargetArgs {
    pub fn target(&self) -> Target {
        Target {
            config: self.config.clone(),
            state: self.state.options(),
            client: self.client.overrides(),
            refresh: self.refresh,
            targets: self.targets.clone(),
            emulator: self.emulator,
        }
    }
}

/// `--format`: how a plan or a report is shown.
pub fn format() -> impl clap::builder::TypedValueParser<Value = crate::render::Format> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(crate::render::Format::NAMES)
        .try_map(|name| name.parse::<crate::render::Format>())
}

/// Parses `500ms`, `30s`, `5m`, `1h`, or a number of seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 30s or 5m"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("`{text}` is not a duration such as 30s or 5m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is not a duration flowform can wait"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(super::duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(super::duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(super::duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(super::duration("2"), Ok(Duration::from_secs(2)));
        assert!(super::duration("soon").is_err());
        assert!(super::duration("5d").is_err());
        assert!(super::duration("99999999999999999999h").is_err());
    }
}
