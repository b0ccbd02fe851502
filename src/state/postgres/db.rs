//! The connections to the database, on a thread of their own.
//!
//! The state is used synchronously, from plain code and from the applier's tasks alike (as
//! the file is), while `tokio-postgres` is asynchronous: the connections live on a small
//! runtime of their own thread, and each call hands it a job and waits for the answer. That
//! never blocks a runtime from inside itself, and the applier's runtime never waits for its
//! own threads.
//!
//! Two sessions: the *data* session, for every read and write, and, while the state is
//! locked, the *lock* session, which does nothing but hold the advisory lock, so that the
//! lock lives exactly as long as that session: the server releases it when the session ends,
//! however the process ended.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::Client;

use super::error::PgError;
use super::tls::MakeRustls;
use super::url::{PgUrl, SslMode};
use crate::secret::Secret;

/// The longest one call may take before flowform gives up on the database.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// How to log in.
#[derive(Clone)]
pub struct Login {
    pub url: PgUrl,
    pub user: String,
    pub password: Option<Secret>,
}

/// The sessions a job works with.
pub struct Sessions {
    pub data: Mutex<Client>,
    pub lock: Mutex<Option<LockSession>>,
    login: Login,
    tls: Option<MakeRustls>,
}

/// The session that holds the advisory lock.
pub struct LockSession {
    pub client: Client,
    /// Cleared when the session ends.
    pub alive: Arc<AtomicBool>,
}

impl LockSession {
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst) && !self.client.is_closed()
    }
}

type Job = Box<dyn FnOnce(Arc<Sessions>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A handle on the database thread.
pub struct Db {
    jobs: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// As shown in messages.
    pub shown: String,
}

/// The error of a failed statement: lost when the connection is gone.
pub fn query_error(url: &str, context: &str, e: &tokio_postgres::Error) -> PgError {
    let lost = e.is_closed()
        || e.code().is_some_and(|c| {
            let code = c.code();
            code.starts_with("08") || code.starts_with("57P")
        })
        || (e.code().is_none() && e.as_db_error().is_none());
    let reason = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    };
    PgError::Query {
        url: url.to_owned(),
        context: context.to_owned(),
        reason,
        lost,
    }
}

impl Sessions {
    /// Opens a session (`role`: `data` or `lock`, in its `application_name`).
    async fn connect(
        login: &Login,
        tls: Option<&MakeRustls>,
        role: &str,
    ) -> Result<(Client, Arc<AtomicBool>), PgError> {
        let url = &login.url;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&url.host)
            .port(url.port)
            .user(&login.user)
            .dbname(&url.database)
            // Found by tests and operators in `pg_stat_activity`.
            .application_name(format!("flowform:{}:{role}", std::process::id()))
            .connect_timeout(url.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(15))
            .tcp_user_timeout(Duration::from_secs(30))
            .ssl_mode(match url.sslmode {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                    tokio_postgres::config::SslMode::Require
                }
            });
        if let Some(password) = &login.password {
            config.password(password.expose());
        }
        let shown = url.to_string();
        let failed = |e: tokio_postgres::Error| PgError::Connect {
            url: shown.clone(),
            reason: match e.as_db_error() {
                Some(db) => db.message().to_owned(),
                None => {
                    let mut reason = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        reason = format!("{reason}: {s}");
                        source = s.source();
                    }
                    reason
                }
            },
        };
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        let client = match tls {
            Some(tls) => {
                let (client, connection) = config.connect(tls.clone()).await.map_err(failed)?;
                tokio::spawn(async move {
                    let _ = connection.await;
                    flag.store(false, Ordering::SeqCst);
                });
                client
            }
            None => {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(failed)?;
                tokio::spawn(async move {
                    let _ = connection.await;
                    flag.store(false, Ordering::SeqCst);
                });
                client
            }
        };
        Ok((client, alive))
    }

    /// Opens the lock session (once).
    pub async fn open_lock_session(&self) -> Result<(), PgError> {
        let mut lock = self.lock.lock().await;
        if lock.is_none() {
            let (client, alive) = Sessions::connect(&self.login, self.tls.as_ref(), "lock").await?;
            *lock = Some(LockSession { client, alive });
        }
        Ok(())
    }
}

impl Db {
    /// Starts the database thread and opens the data session.
    pub fn connect(login: Login) -> Result<Db, PgError> {
        let shown = login.url.to_string();
        let tls = match login.url.sslmode {
            SslMode::Disable => None,
            _ => Some(MakeRustls::for_url(&login.url).map_err(|reason| PgError::Tls {
                url: shown.clone(),
                reason,
            })?),
        };
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let (ready, connected) = std::sync::mpsc::sync_channel::<Result<(), PgError>>(1);
        let thread_shown = shown.clone();
        let thread = std::thread::Builder::new()
            .name("flowform-postgres".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(PgError::Connect {
                            url: thread_shown,
                            reason: format!("cannot start the database thread: {e}"),
                        }));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let (data, _) = match Sessions::connect(&login, tls.as_ref(), "data").await {
                        Ok(session) => session,
                        Err(e) => {
                            let _ = ready.send(Err(e));
                            return;
                        }
                    };
                    let sessions = Arc::new(Sessions {
                        data: Mutex::new(data),
                        lock: Mutex::new(None),
                        login,
                        tls,
                    });
                    let _ = ready.send(Ok(()));
                    while let Some(job) = queue.recv().await {
                        job(sessions.clone()).await;
                    }
                });
            })
            .map_err(|e| PgError::Connect {
                url: shown.clone(),
                reason: format!("cannot start the database thread: {e}"),
            })?;
        let db = Db {
            jobs: Some(jobs),
            thread: Some(thread),
            shown: shown.clone(),
        };
        match connected.recv() {
            Ok(Ok(())) => Ok(db),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(PgError::Connect {
                url: shown,
                reason: "the database thread stopped".to_owned(),
            }),
        }
    }

    /// Runs `job` on the database thread and waits for its answer.
    pub fn call<T, F, Fut>(&self, context: &str, job: F) -> Result<T, PgError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Sessions>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, PgError>> + Send + 'static,
    {
        let gone = || PgError::Query {
            url: self.shown.clone(),
            context: context.to_owned(),
            reason: "the database thread stopped".to_owned(),
            lost: true,
        };
        let (answer, answered) = std::sync::mpsc::sync_channel::<Result<T, PgError>>(1);
        let shown = self.shown.clone();
        let what = context.to_owned();
        let boxed: Job = Box::new(move |sessions| {
            Box::pin(async move {
                let result = match tokio::time::timeout(CALL_TIMEOUT, job(sessions)).await {
                    Ok(result) => result,
                    Err(_) => Err(PgError::Query {
                        url: shown,
                        context: what,
                        reason: format!("no answer in {}s", CALL_TIMEOUT.as_secs()),
                        lost: true,
                    }),
                };
                let _ = answer.send(result);
            })
        });
        let Some(jobs) = &self.jobs else {
            return Err(gone());
        };
        jobs.send(boxed).map_err(|_| gone())?;
        answered.recv().map_err(|_| gone())?
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // No more jobs: the thread ends, and its sessions with it.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
