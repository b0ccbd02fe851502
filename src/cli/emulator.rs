//! `flowform emulator`: serve the Flow Service emulator until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use flowform_emulator::faults::FaultSettings;
use flowform_emulator::ims::Credential;
use flowform_emulator::{Options, PageStyle};

use crate::ops::{Io, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (the printed URL says which)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Load connections from this file and keep it saved there (atomic writes)
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Seed for ids, etags, tokens and fault dice (repeatable runs)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Latency added to every Flow Service request
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Up to this much more latency, drawn per request
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub jitter_ms: u64,
    /// Share of requests answered 429 with Retry-After
    #[arg(long, default_value_t = 0.0, value_name = "SHARE", value_parser = share)]
    pub rate_limit: f64,
    /// Retry-After of those 429s
    #[arg(long, default_value_t = 1, value_name = "SECONDS")]
    pub retry_after: u64,
    /// Share of requests answered 500
    #[arg(long, default_value_t = 0.0, value_name = "SHARE", value_parser = share)]
    pub server_errors: f64,
    /// Share of requests answered 503
    #[arg(long, default_value_t = 0.0, value_name = "SHARE", value_parser = share)]
    pub unavailable: f64,
    /// Share of POST/PATCH/PUT requests carried out, then answered 500
    #[arg(long, default_value_t = 0.0, value_name = "SHARE", value_parser = share)]
    pub commit_then_fail: f64,
    /// Share of POST/PATCH/PUT requests carried out, then dropped mid-response
    #[arg(long, default_value_t = 0.0, value_name = "SHARE", value_parser = share)]
    pub commit_then_drop: f64,
    /// Share of requests that hang for --hang-ms
    #[arg(long, default_value_t = 0.0, value_name = "SHARE", value_parser = share)]
    pub hang: f64,
    #[arg(long, default_value_t = 300_000, value_name = "MS")]
    pub hang_ms: u64,
    /// Lifetime of issued tokens (IMS issues 86399 s)
    #[arg(long, default_value_t = 86_399, value_name = "SECONDS")]
    pub token_lifetime: u64,
    /// How long an initializing connection takes to become enabled
    #[arg(long, default_value_t = 3_000, value_name = "MS")]
    pub initializing_ms: u64,
    /// Start every new connection `initializing`, not only OAuth2 JWT ones
    #[arg(long)]
    pub all_initializing: bool,
    /// How list pages point at the next one: `_links.next.href`, a top-level
    /// `continuationToken`, or both
    #[arg(long, default_value_t = PageStyle::Links, value_parser = page_style())]
    pub page_style: PageStyle,
    /// Accepted client credentials, instead of the demo one (repeatable)
    #[arg(long = "client", value_name = "ID:SECRET[:ORG]", value_parser = Credential::parse)]
    pub clients: Vec<Credential>,
    /// Do not log each request on stderr
    #[arg(long)]
    pub quiet: bool,
}

/// `--page-style`: the emulator's names, listed in `--help` and in the error for others.
fn page_style() -> impl TypedValueParser<Value = PageStyle> {
    PossibleValuesParser::new(PageStyle::NAMES).try_map(|name| name.parse::<PageStyle>())
}

fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{text}` is not a share between 0 and 1")),
    }
}

impl Args {
    pub fn options(&self) -> Options {
        Options {
            listen: self.listen,
            data: self.data.clone(),
            seed: self.seed,
            faults: FaultSettings {
                latency_ms: self.latency_ms,
                jitter_ms: self.jitter_ms,
                rate_limit: self.rate_limit,
                retry_after_s: self.retry_after,
                server_error: self.server_errors,
                unavailable: self.unavailable,
                commit_then_fail: self.commit_then_fail,
                commit_then_drop: self.commit_then_drop,
                hang: self.hang,
                hang_ms: self.hang_ms,
                ..FaultSettings::default()
            },
            token_lifetime_s: self.token_lifetime,
            initializing_ms: self.initializing_ms,
            all_initializing: self.all_initializing,
            page_style: self.page_style,
            credentials: if self.clients.is_empty() {
                vec![Credential::demo()]
            } else {
                self.clients.clone()
            },
            log: !self.quiet,
            ..Options::default()
        }
    }
}

pub fn run(args: &Args, io: &mut Io<'_>) -> Outcome {
    crate::ops::emulator::serve(args.options(), args.clients.is_empty(), io)
}
