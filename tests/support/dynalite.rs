//! A real DynamoDB API server for the tests: dynalite from npm (pinned in `tools/dynalite`), on loopback.
//! `npm ci` runs on first use if `.ci/run` has not already installed it.

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tollgate_core::{
    settings::Settings,
    store::{
        Cadence, DayTraffic, Kind, Page, QuotaCounter, QuotaRecord, QuotaTake, Slice, Store, StoreFuture, Traffic,
        cache::{CacheStore, Generations},
        connections::{Connection, ConnectionStore},
        dynamo::{DynamoOptions, DynamoStore},
    },
};

use crate::repo_root;

/// One dynalite process. Dropping it stops the server.
pub struct Dynalite {
    child: Child,
    pub port: u16,
}

static INSTALL: Mutex<()> = Mutex::new(());

fn install() {
    let _once = INSTALL.lock();
    let dir = repo_root().join("tools/dynalite");
    if dir.join("node_modules/dynalite").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(&dir)
        .status()
        .expect("npm must be installed to run the DynamoDB tests");
    assert!(status.success(), "npm ci in tools/dynalite failed");
}

impl Dynalite {
    /// Starts a fresh, empty server on a free loopback port (or on `port`).
    pub fn start_on(port: Option<u16>) -> Self {
        install();
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
        });
        let mut child = Command::new("node")
            .arg(repo_root().join("tools/dynalite/serve.js"))
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed to run the DynamoDB tests");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("dynalite output");
        assert!(line.contains("listening"), "dynalite did not start: {line}");
        Self { child, port }
    }

    pub fn start() -> Self {
        Self::start_on(None)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server now (a store outage, for fault tests).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A new table on this server, ready to use.
    pub async fn table(&self) -> DynamoStore {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let table = format!("tollgate-test-{}", NEXT.fetch_add(1, Ordering::SeqCst));
        let store =
            DynamoStore::connect(&DynamoOptions { table, endpoint: Some(self.endpoint()) }, &Settings::default()).await;
        let warning = store.create_table().await.expect("create table");
        assert!(warning.is_some_and(|w| w.contains("TTL")), "dynalite cannot set TTL; the warning says so");
        store
    }

    /// The environment a function binary gets under the local Runtime API to reach this server (placeholder
    /// credentials, us-east-1), and `vars`.
    pub fn function_env(&self, vars: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        let base = [
            ("AWS_ENDPOINT_URL_DYNAMODB", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "local".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ];
        base.into_iter()
            .chain(vars.iter().map(|(k, v)| (*k, (*v).to_owned())))
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    /// Another client on the same table (a separate router instance).
    pub async fn client(&self, table: &str) -> DynamoStore {
        let options = DynamoOptions { table: table.to_owned(), endpoint: Some(self.endpoint()) };
        DynamoStore::connect(&options, &Settings::default()).await
    }
}

impl Drop for Dynalite {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One server shared by every test of a test binary (each test makes its own table). The process ends with
/// the test binary: its stdin closes.
pub fn shared() -> &'static Dynalite {
    static SHARED: OnceLock<Dynalite> = OnceLock::new();
    SHARED.get_or_init(Dynalite::start)
}

/// Counts the operations a store is asked for, passing each to the real store behind it: what a request
/// costs in DynamoDB operations.
pub struct Counting<S> {
    inner: S,
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
    /// Of the writes, the dashboard's traffic rows (each instance's, once a minute at most).
    pub traffic_writes: AtomicUsize,
}

impl<S> Counting<S> {
    pub fn new(inner: S) -> Arc<Self> {
        Arc::new(Self {
            inner,
            reads: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            traffic_writes: AtomicUsize::new(0),
        })
    }

    pub fn totals(&self) -> (usize, usize) {
        (self.reads.load(Ordering::SeqCst), self.writes.load(Ordering::SeqCst))
    }

    fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }

    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S: CacheStore> CacheStore for Counting<S> {
    fn get_entry<'a>(&'a self, key: &'a str, now_ms: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.read();
        self.inner.get_entry(key, now_ms)
    }
    fn put_entry<'a>(&'a self, key: &'a str, entry: &'a [u8], expires_at_ms: i64) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.put_entry(key, entry, expires_at_ms)
    }
    fn delete_entry<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.delete_entry(key)
    }
    fn generations<'a>(&'a self, stage: &'a str) -> StoreFuture<'a, Generations> {
        self.read();
        self.inner.generations(stage)
    }
    fn flush<'a>(&'a self, stage: &'a str, tag: Option<&'a str>) -> StoreFuture<'a, Generations> {
        self.write();
        self.inner.flush(stage, tag)
    }
}

impl<S: Store> Store for Counting<S> {
    fn insert_key_value<'a>(&'a self, hash: &'a tollgate_core::usage::KeyHash, key_id: &'a str) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.insert_key_value(hash, key_id)
    }
    fn find_key_value<'a>(
        &'a self,
        hash: &'a tollgate_core::usage::KeyHash,
    ) -> StoreFuture<'a, Option<(String, Option<i64>)>> {
        self.read();
        self.inner.find_key_value(hash)
    }
    fn expire_key_value<'a>(&'a self, hash: &'a tollgate_core::usage::KeyHash, at: i64) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.expire_key_value(hash, at)
    }
    fn delete_key_value<'a>(&'a self, hash: &'a tollgate_core::usage::KeyHash) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.delete_key_value(hash)
    }
    fn put_record<'a>(&'a self, k: Kind, id: &'a str, doc: &'a str, v: u64, e: Option<u64>) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.put_record(k, id, doc, v, e)
    }
    fn get_record<'a>(&'a self, k: Kind, id: &'a str) -> StoreFuture<'a, Option<String>> {
        self.read();
        self.inner.get_record(k, id)
    }
    fn list_records<'a>(&'a self, k: Kind, limit: u32, after: Option<&'a str>) -> StoreFuture<'a, Page<String>> {
        self.read();
        self.inner.list_records(k, limit, after)
    }
    fn delete_record<'a>(&'a self, k: Kind, id: &'a str) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.delete_record(k, id)
    }
    fn take_slice<'a>(&'a self, b: &'a str, c: Cadence, want: u32, now: i64) -> StoreFuture<'a, Slice> {
        // One conditional update in the common case; the store may need more under contention, which the
        // count of calls does not see. The DynamoDB store's own retries are bounded (8 rounds).
        self.write();
        self.inner.take_slice(b, c, want, now)
    }
    fn take_quota<'a>(
        &'a self,
        c: QuotaCounter<'a>,
        allowance: Option<u64>,
        want: u64,
        day: chrono::NaiveDate,
    ) -> StoreFuture<'a, QuotaTake> {
        self.write();
        self.inner.take_quota(c, allowance, want, day)
    }
    fn adjust_quota<'a>(
        &'a self,
        c: QuotaCounter<'a>,
        allowance: Option<u64>,
        n: i64,
        day: chrono::NaiveDate,
    ) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.adjust_quota(c, allowance, n, day)
    }
    fn grant_quota<'a>(&'a self, c: QuotaCounter<'a>, allowance: Option<u64>, extra: u64) -> StoreFuture<'a, i64> {
        self.write();
        self.inner.grant_quota(c, allowance, extra)
    }
    fn quota_records<'a>(
        &'a self,
        plan: &'a str,
        key: &'a str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> StoreFuture<'a, Vec<QuotaRecord>> {
        self.read();
        self.inner.quota_records(plan, key, from, to)
    }
    fn add_traffic<'a>(&'a self, stage: &'a str, day: chrono::NaiveDate, t: Traffic) -> StoreFuture<'a, ()> {
        self.write();
        self.traffic_writes.fetch_add(1, Ordering::SeqCst);
        self.inner.add_traffic(stage, day, t)
    }
    fn traffic<'a>(&'a self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreFuture<'a, Vec<DayTraffic>> {
        self.read();
        self.inner.traffic(from, to)
    }
}

/// Connection store calls; each is one DynamoDB request (`members`, `get_connection`, `put_connection`,
/// `claim_slot`), or a few (`remove_connection`: a delete, a query, and a batch delete if it had
/// subscriptions; `subscribe`: a put and a read).
impl<S: ConnectionStore> ConnectionStore for Counting<S> {
    fn put_connection<'a>(&'a self, c: &'a Connection) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.put_connection(c)
    }
    fn get_connection<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Connection>> {
        self.read();
        self.inner.get_connection(id)
    }
    fn remove_connection<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Connection>> {
        self.write();
        self.inner.remove_connection(id)
    }
    fn subscribe<'a>(&'a self, c: &'a Connection, channel: &'a str) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.subscribe(c, channel)
    }
    fn unsubscribe<'a>(&'a self, id: &'a str, channel: &'a str) -> StoreFuture<'a, bool> {
        self.write();
        self.inner.unsubscribe(id, channel)
    }
    fn channels<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Vec<String>> {
        self.read();
        self.inner.channels(id)
    }
    fn members<'a>(
        &'a self,
        stage: &'a str,
        channel: Option<&'a str>,
        limit: u32,
        after: Option<&'a str>,
    ) -> StoreFuture<'a, Page<String>> {
        self.read();
        self.inner.members(stage, channel, limit, after)
    }
    fn claim_slot<'a>(&'a self, key: &'a str, id: &'a str, limit: u32) -> StoreFuture<'a, bool> {
        self.write();
        self.inner.claim_slot(key, id, limit)
    }
    fn release_slot<'a>(&'a self, key: &'a str, id: &'a str) -> StoreFuture<'a, ()> {
        self.write();
        self.inner.release_slot(key, id)
    }
    fn slots<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Vec<String>> {
        self.read();
        self.inner.slots(key)
    }
}

/// Waits until `f` holds, for at most `limit`.
pub async fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}
