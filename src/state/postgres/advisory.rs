//! The lock: a PostgreSQL advisory lock held by a session of its own, with a row in `locks`
//! naming the holder and carrying the token that fences this run's writes; taken when the
//! store opens, let go when it is dropped.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::PgStore;
use super::db::{Sessions, query_error};
use super::error::PgError;
use super::schema::{self, quoted};
use super::url::PgUrl;
use crate::state::file::StateError;
use crate::state::lock::Holder;

fn lock_key(url: &PgUrl) -> i64 {
    schema::key(&format!("flowform-state:{}:{}", url.schema, url.state))
}

impl PgStore {
    /// Takes the lock, waiting up to `timeout` for another holder; returns the token that
    /// fences this run's writes.
    pub(super) fn lock(&self, holder: &Holder, timeout: Duration) -> Result<String, StateError> {
        let key = lock_key(&self.url);
        let (s, name, shown) = (
            quoted(&self.url.schema),
            self.url.state.clone(),
            self.shown.clone(),
        );
        let token = crate::state::uuid_v4();
        let holder = holder.clone();
        let theirs = self.db.call("taking the lock", {
            let token = token.clone();
            move |sessions: Arc<Sessions>| async move {
                sessions.open_lock_session().await?;
                let started = Instant::now();
                let backend_pid: i32 = loop {
                    let guard = sessions.lock.lock().await;
                    let Some(lock) = guard.as_ref() else {
                        return Err(PgError::LockLost { url: shown });
                    };
                    let row = lock
                        .client
                        .query_one("SELECT pg_try_advisory_lock($1), pg_backend_pid()", &[&key])
                        .await
                        .map_err(|e| query_error(&shown, "taking the lock", &e))?;
                    if row.get::<_, bool>(0) {
                        break row.get(1);
                    }
                    drop(guard);
                    let waited = started.elapsed();
                    if waited >= timeout {
                        let data = sessions.data.lock().await;
                        let holder = data
                            .query_opt(
                                &format!(
                                    "SELECT command, pid, \"user\", host, to_char(since AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS \"GMT\"'), EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.backend_pid) FROM {s}.locks l WHERE state = $1"
                                ),
                                &[&name],
                            )
                            .await
                            .map_err(|e| query_error(&shown, "reading who holds the lock", &e))?;
                        let named = holder
                            .filter(|r| r.get::<_, bool>(5))
                            .map(|r| {
                                format!(
                                    "`{}` (pid {}, {}@{}, since {})",
                                    r.get::<_, String>(0),
                                    r.get::<_, i32>(1),
                                    r.get::<_, String>(2),
                                    r.get::<_, String>(3),
                                    r.get::<_, String>(4)
                                )
                            })
                            .unwrap_or_else(|| "another flowform process".to_owned());
                        return Ok(Some(named));
                    }
                    tokio::time::sleep((timeout - waited).min(Duration::from_millis(250))).await;
                };
                let data = sessions.data.lock().await;
                let pid = i32::try_from(holder.pid).unwrap_or(i32::MAX);
                data.execute(
                    &format!(
                        "INSERT INTO {s}.locks (state, token, pid, host, \"user\", command, since, backend_pid) VALUES ($1, $2, $3, $4, $5, $6, now(), $7) \
                         ON CONFLICT (state) DO UPDATE SET token = EXCLUDED.token, pid = EXCLUDED.pid, host = EXCLUDED.host, \"user\" = EXCLUDED.\"user\", command = EXCLUDED.command, since = EXCLUDED.since, backend_pid = EXCLUDED.backend_pid"
                    ),
                    &[&name, &token, &pid, &holder.host, &holder.user, &holder.command, &backend_pid],
                )
                .await
                .map_err(|e| query_error(&shown, "recording who holds the lock", &e))?;
                Ok(None)
            }
        })?;
        match theirs {
            None => Ok(token),
            Some(holder) => Err(StateError::Locked {
                path: PathBuf::from(&self.shown),
                holder,
                waited: timeout,
            }),
        }
    }
}

/// Refuses to write once the lock session is gone: another flowform may hold the lock now.
pub(super) fn fenced(sessions: &Sessions, shown: &str) -> Result<(), PgError> {
    match sessions.lock.try_lock() {
        Ok(lock) if lock.as_ref().is_some_and(super::db::LockSession::is_alive) => Ok(()),
        // Busy: a write of this process is using it, so it is there.
        Err(_) => Ok(()),
        Ok(_) => Err(PgError::LockLost {
            url: shown.to_owned(),
        }),
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Leave no holder's name behind, and let the lock go now rather than when the
        // session closes; the server releases it anyway if this never runs.
        if let Some(token) = self.token.take() {
            let (s, name, key) = (
                quoted(&self.url.schema),
                self.url.state.clone(),
                lock_key(&self.url),
            );
            let _ = self
                .db
                .call("releasing the lock", move |sessions: Arc<Sessions>| async move {
                    let data = sessions.data.lock().await;
                    let _ = data
                        .execute(
                            &format!("DELETE FROM {s}.locks WHERE state = $1 AND token = $2"),
                            &[&name, &token],
                        )
                        .await;
                    if let Some(lock) = sessions.lock.lock().await.as_ref() {
                        let _ = lock
                            .client
                            .execute("SELECT pg_advisory_unlock($1)", &[&key])
                            .await;
                    }
                    Ok(())
                });
        }
    }
}
