//! Disposable databases for tests of this and other crates: a SQLite file in a temporary
//! directory, or a PostgreSQL database with a random name that is dropped afterwards.
//!
//! PostgreSQL is found at `RAPPORT_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). A test that cannot reach it fails: the suite
//! never skips a backend silently.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::{BackendKind, Store, StoreOptions};

pub const DEFAULT_POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn postgres_admin_url() -> String {
    std::env::var("RAPPORT_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_ADMIN_URL.to_owned())
}

/// A database that exists for as long as this value does.
pub struct TestDatabase {
    url: String,
    kind: BackendKind,
    postgres_name: Option<String>,
    _directory: Option<tempfile::TempDir>,
    /// The keys every connection to it uses (a database refuses others).
    keys: std::sync::Arc<rapport_core::sealing::Keyring>,
}

impl TestDatabase {
    pub async fn create(kind: BackendKind) -> TestDatabase {
        match kind {
            BackendKind::Sqlite => TestDatabase::sqlite(),
            BackendKind::Postgres => TestDatabase::postgres().await,
        }
    }

    pub fn sqlite() -> TestDatabase {
        let directory = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", directory.path().join("rapport.db").display());
        TestDatabase {
            url,
            kind: BackendKind::Sqlite,
            postgres_name: None,
            _directory: Some(directory),
            keys: StoreOptions::default().keys,
        }
    }

    pub async fn postgres() -> TestDatabase {
        let admin_url = postgres_admin_url();
        let name = format!("rapport_test_{}", uuid::Uuid::now_v7().simple());
        let mut connection = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|error| panic!("PostgreSQL must be reachable at {admin_url} for the tests: {error}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .expect("create the test database");
        let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin_url);
        TestDatabase {
            url: format!("{base}/{name}"),
            kind: BackendKind::Postgres,
            postgres_name: Some(name),
            _directory: None,
            keys: StoreOptions::default().keys,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    pub async fn connect(&self) -> Store {
        Store::connect(&self.url, self.options()).await.expect("connect to the test database")
    }

    /// Writes this database's keys where `rapport --keys-file` reads them, for a server process
    /// to open it; returns the path as text.
    pub fn write_keys(&self, directory: &std::path::Path) -> String {
        let path = directory.join("test-keys.json");
        std::fs::write(&path, self.keys.to_json()).expect("write the keys file");
        path.display().to_string()
    }

    /// What `connect` connects with: default settings and this database's keys.
    pub fn options(&self) -> StoreOptions {
        StoreOptions { keys: self.keys.clone(), ..StoreOptions::default() }
    }

    /// Everything the database holds, as bytes an attacker with the files would see: SQLite's
    /// live pages (`VACUUM INTO` a copy, so pages freed by deletes do not count), or PostgreSQL's
    /// `pg_dump`. What tests of erasure search for what must be gone.
    pub async fn dump(&self) -> Vec<u8> {
        match self.kind {
            BackendKind::Sqlite => {
                let copy = tempfile::tempdir().expect("create a temporary directory");
                let path = copy.path().join("copy.db");
                let mut connection = sqlx::SqliteConnection::connect(&self.url).await.expect("open the database");
                sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{}'", path.display())))
                    .execute(&mut connection)
                    .await
                    .expect("copy the database");
                std::fs::read(&path).expect("read the copy")
            }
            BackendKind::Postgres => {
                let output = std::process::Command::new("pg_dump")
                    .arg("--data-only")
                    .arg(&self.url)
                    .output()
                    .expect("pg_dump must be installed (scripts/setup installs postgresql-client)");
                assert!(output.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&output.stderr));
                output.stdout
            }
        }
    }

    /// The bytes on disk as they are, free pages and all: SQLite's database file and its
    /// write-ahead log, or PostgreSQL's `pg_dump` (its files are not this process's to read).
    pub async fn raw_bytes(&self) -> Vec<u8> {
        match self.kind {
            BackendKind::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut bytes = std::fs::read(path).expect("read the database file");
                if let Ok(log) = std::fs::read(format!("{path}-wal")) {
                    bytes.extend(log);
                }
                bytes
            }
            BackendKind::Postgres => self.dump().await,
        }
    }

    /// Runs one SQL statement behind Rapport's back (what tamper tests do to the audit log);
    /// the rows it changed, or the database's error in words.
    pub async fn execute(&self, sql: &str) -> Result<u64, String> {
        let statement = || sqlx::AssertSqlSafe(sql.to_owned());
        let done = match self.kind {
            BackendKind::Sqlite => {
                let mut connection = sqlx::SqliteConnection::connect(&self.url).await.map_err(|e| e.to_string())?;
                sqlx::query(statement()).execute(&mut connection).await.map(|result| result.rows_affected())
            }
            BackendKind::Postgres => {
                let mut connection = PgConnection::connect(&self.url).await.map_err(|e| e.to_string())?;
                sqlx::query(statement()).execute(&mut connection).await.map(|result| result.rows_affected())
            }
        };
        done.map_err(|error| error.to_string())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else { return };
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let admin_url = postgres_admin_url();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut connection = PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut connection)
                    .await?;
                Ok::<(), sqlx::Error>(())
            })?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        });
        if let Ok(Err(error)) = cleanup.join() {
            eprintln!("could not drop test database: {error}");
        }
    }
}
