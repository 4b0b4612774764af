//! The embedded store: everything in memory, with a JSON file behind it so keys, plans and usage survive a
//! restart. Every change reaches the file before it returns (metering writes only when an instance takes a
//! block, not per request). Several processes may share the file (`tollgate serve` and `tollgate keys ...`):
//! each operation holds an advisory lock on `<file>.lock` and re-reads the file if another process changed it.
//! Throttle buckets live in memory only: after a restart every bucket starts full, as after any idle second.
//! So do WebSocket connections (`connections.rs`): they end with the process that holds their sockets, and
//! cached responses (`cache.rs`), whose flush generations live in the file.

mod cache;
mod connections;

use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    path::{Path, PathBuf},
    sync::Mutex,
    time::SystemTime,
};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{
    Cadence, DayTraffic, Kind, Page, QuotaCounter, QuotaRecord, QuotaTake, Slice, Store, StoreError, StoreFuture,
    Traffic, day_label, parse_day_label,
};
use crate::{clock::Micros, usage::KeyHash};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Durable {
    /// Key value hash to (key id, not after ms).
    values: BTreeMap<String, (String, Option<i64>)>,
    keys: BTreeMap<String, (u64, String)>,
    plans: BTreeMap<String, (u64, String)>,
    /// `plan#key#period-start` to the counter.
    quotas: BTreeMap<String, QuotaEntry>,
    /// Stage to its cache flush generations.
    #[serde(default)]
    cache_generations: BTreeMap<String, super::cache::Generations>,
    /// `day#stage` to what the stage answered that day.
    #[serde(default)]
    traffic: BTreeMap<String, Traffic>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct QuotaEntry {
    remaining: Option<i64>,
    extra: i64,
    used: BTreeMap<String, i64>,
}

#[derive(Debug)]
struct Inner {
    durable: Durable,
    /// Throttle bucket to its theoretical arrival time.
    buckets: HashMap<String, Micros>,
    /// The file's modification time and length when this process last read or wrote it.
    seen: Option<(SystemTime, u64)>,
}

#[derive(Debug)]
pub struct EmbeddedStore {
    path: Option<PathBuf>,
    inner: Mutex<Inner>,
    links: Mutex<connections::Links>,
    cached: Mutex<cache::Entries>,
}

impl EmbeddedStore {
    /// A store that lives and dies with the process (tests, benchmarks).
    pub fn in_memory() -> Self {
        Self {
            path: None,
            inner: Mutex::new(Inner::new(Durable::default())),
            links: Mutex::default(),
            cached: Mutex::default(),
        }
    }

    /// Opens (or starts) the store kept in `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let store = Self {
            path: Some(path.to_owned()),
            inner: Mutex::new(Inner::new(Durable::default())),
            links: Mutex::default(),
            cached: Mutex::default(),
        };
        // Read it now, so a corrupt file is found at start and not at the first request.
        store.with(false, |_| Ok(()))?;
        Ok(store)
    }

    /// Runs `change` on the current contents (re-read if another process wrote the file), writing the file
    /// afterwards when `write` is set.
    fn with<T>(&self, write: bool, change: impl FnOnce(&mut Inner) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut inner =
            self.inner.lock().map_err(|_| StoreError::Failed("the embedded store's lock is poisoned".to_owned()))?;
        let Some(path) = &self.path else { return change(&mut inner) };
        // Reading a store that was never written creates nothing on disk.
        if !write && inner.seen.is_none() && !path.exists() {
            return change(&mut inner);
        }
        let fail = |what: &str, e: std::io::Error| StoreError::Failed(format!("cannot {what} {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", e))?;
        }
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.with_extension("lock"))
            .map_err(|e| fail("lock", e))?;
        lock.lock().map_err(|e| fail("lock", e))?;
        let on_disk = std::fs::metadata(path).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
        if on_disk != inner.seen {
            inner.durable = match std::fs::read(path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::Failed(format!("{} is not a Tollgate store: {e}", path.display())))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Durable::default(),
                Err(e) => return Err(fail("read", e)),
            };
            inner.seen = on_disk;
        }
        let out = change(&mut inner)?;
        if write {
            // Through a temporary file and a rename: a crash leaves the old file or the new one.
            let text = serde_json::to_vec(&inner.durable).map_err(|e| StoreError::Failed(e.to_string()))?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text).map_err(|e| fail("write", e))?;
            std::fs::rename(&tmp, path).map_err(|e| fail("write", e))?;
            inner.seen = std::fs::metadata(path).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
        }
        Ok(out)
    }

    /// Runs a change and writes the file before answering.
    fn write<T>(&self, change: impl FnOnce(&mut Durable) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.with(true, |inner| change(&mut inner.durable))
    }

    fn read<T>(&self, look: impl FnOnce(&mut Durable) -> T) -> Result<T, StoreError> {
        self.with(false, |inner| Ok(look(&mut inner.durable)))
    }
}

impl Inner {
    fn new(durable: Durable) -> Self {
        Self { durable, buckets: HashMap::new(), seen: None }
    }
}

impl Durable {
    fn records(&mut self, kind: Kind) -> &mut BTreeMap<String, (u64, String)> {
        match kind {
            Kind::Key => &mut self.keys,
            Kind::Plan => &mut self.plans,
        }
    }

    fn quota(&mut self, counter: QuotaCounter<'_>, allowance: Option<u64>) -> &mut QuotaEntry {
        self.quotas.entry(counter_id(counter)).or_insert_with(|| QuotaEntry {
            remaining: allowance.map(|a| i64::try_from(a).unwrap_or(i64::MAX)),
            ..QuotaEntry::default()
        })
    }
}

fn counter_id(c: QuotaCounter<'_>) -> String {
    format!("{}#{}#{}", c.plan, c.key, c.period_start)
}

impl Store for EmbeddedStore {
    fn insert_key_value<'a>(&'a self, hash: &'a KeyHash, key_id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.write(|d| {
                if d.values.contains_key(hash.as_str()) {
                    return Err(StoreError::Conflict("that key value is already in use".to_owned()));
                }
                d.values.insert(hash.as_str().to_owned(), (key_id.to_owned(), None));
                Ok(())
            })
        })
    }

    fn find_key_value<'a>(&'a self, hash: &'a KeyHash) -> StoreFuture<'a, Option<(String, Option<i64>)>> {
        Box::pin(async move { self.read(|d| d.values.get(hash.as_str()).cloned()) })
    }

    fn expire_key_value<'a>(&'a self, hash: &'a KeyHash, not_after_ms: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.write(|d| match d.values.get_mut(hash.as_str()) {
                Some(entry) => {
                    entry.1 = Some(not_after_ms);
                    Ok(())
                }
                None => Err(StoreError::NotFound("key value".to_owned())),
            })
        })
    }

    fn delete_key_value<'a>(&'a self, hash: &'a KeyHash) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.write(|d| {
                d.values.remove(hash.as_str());
                Ok(())
            })
        })
    }

    fn put_record<'a>(
        &'a self,
        kind: Kind,
        id: &'a str,
        doc: &'a str,
        version: u64,
        expected: Option<u64>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.write(|d| {
                let records = d.records(kind);
                let current = records.get(id).map(|(v, _)| *v);
                if current != expected {
                    return Err(StoreError::Conflict(match current {
                        Some(_) if expected.is_none() => format!("{} {id} already exists", kind.label()),
                        None => format!("{} {id} does not exist", kind.label()),
                        Some(_) => format!("{} {id} was changed meanwhile", kind.label()),
                    }));
                }
                records.insert(id.to_owned(), (version, doc.to_owned()));
                Ok(())
            })
        })
    }

    fn get_record<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move { self.read(|d| d.records(kind).get(id).map(|(_, doc)| doc.clone())) })
    }

    fn list_records<'a>(&'a self, kind: Kind, limit: u32, after: Option<&'a str>) -> StoreFuture<'a, Page<String>> {
        Box::pin(async move {
            self.read(|d| {
                let records = d.records(kind);
                let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
                let mut ids = records
                    .range::<str, _>((
                        after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
                        std::ops::Bound::Unbounded,
                    ))
                    .map(|(id, (_, doc))| (id.clone(), doc.clone()));
                let items: Vec<(String, String)> = ids.by_ref().take(limit).collect();
                let more = ids.next().is_some();
                let next = if more { items.last().map(|(id, _)| id.clone()) } else { None };
                Page { items: items.into_iter().map(|(_, doc)| doc).collect(), next }
            })
        })
    }

    fn delete_record<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.write(|d| {
                d.records(kind)
                    .remove(id)
                    .map(|_| ())
                    .ok_or_else(|| StoreError::NotFound(format!("{} {id}", kind.label())))
            })
        })
    }

    fn take_slice<'a>(
        &'a self,
        bucket: &'a str,
        cadence: Cadence,
        want: u32,
        now_us: Micros,
    ) -> StoreFuture<'a, Slice> {
        Box::pin(async move {
            // Buckets are memory only: no need to touch the file.
            let mut inner = self
                .inner
                .lock()
                .map_err(|_| StoreError::Failed("the embedded store's lock is poisoned".to_owned()))?;
            let tat = inner.buckets.get(bucket).copied();
            let (slice, new_tat) = super::gcra::take(tat, cadence, want, now_us);
            if let Some(t) = new_tat {
                inner.buckets.insert(bucket.to_owned(), t);
            }
            Ok(slice)
        })
    }

    fn take_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        want: u64,
        day: NaiveDate,
    ) -> StoreFuture<'a, QuotaTake> {
        Box::pin(async move {
            self.write(|d| {
                let entry = d.quota(counter, allowance);
                let want = i64::try_from(want).unwrap_or(i64::MAX);
                let granted = entry.remaining.map_or(want, |r| r.clamp(0, want));
                if let Some(r) = entry.remaining.as_mut() {
                    *r -= granted;
                }
                *entry.used.entry(day_label(day)).or_default() += granted;
                Ok(QuotaTake { granted: u64::try_from(granted).unwrap_or(0), remaining: entry.remaining })
            })
        })
    }

    fn adjust_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        n: i64,
        day: NaiveDate,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.write(|d| {
                let entry = d.quota(counter, allowance);
                if let Some(r) = entry.remaining.as_mut() {
                    *r += n;
                }
                *entry.used.entry(day_label(day)).or_default() -= n;
                Ok(())
            })
        })
    }

    fn grant_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        extra: u64,
    ) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            let extra = i64::try_from(extra).unwrap_or(i64::MAX);
            self.write(|d| {
                let entry = d.quota(counter, allowance);
                // Grants as large as a counter holds saturate rather than overflow (wrapping to "used up").
                entry.extra = entry.extra.saturating_add(extra);
                let remaining = entry.remaining.get_or_insert(0);
                *remaining = remaining.saturating_add(extra);
                Ok(*remaining)
            })
        })
    }

    fn quota_records<'a>(
        &'a self,
        plan: &'a str,
        key: &'a str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreFuture<'a, Vec<QuotaRecord>> {
        Box::pin(async move {
            let prefix = format!("{plan}#{key}#");
            self.read(|d| {
                d.quotas
                    .range(prefix.clone()..)
                    .take_while(|(id, _)| id.starts_with(&prefix))
                    .filter_map(|(id, entry)| {
                        let start: NaiveDate = id[prefix.len()..].parse().ok()?;
                        (from..=to).contains(&start).then(|| QuotaRecord {
                            period_start: Some(start),
                            remaining: entry.remaining,
                            extra: entry.extra,
                            used_by_day: entry
                                .used
                                .iter()
                                .filter_map(|(d, n)| Some((parse_day_label(d)?, *n)))
                                .collect(),
                        })
                    })
                    .collect()
            })
        })
    }

    fn add_traffic<'a>(&'a self, stage: &'a str, day: NaiveDate, traffic: Traffic) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.write(|d| {
                d.traffic.entry(format!("{day}#{stage}")).or_default().add(traffic);
                Ok(())
            })
        })
    }

    fn traffic<'a>(&'a self, from: NaiveDate, to: NaiveDate) -> StoreFuture<'a, Vec<DayTraffic>> {
        Box::pin(async move {
            self.read(|d| {
                // `day$` sorts after every `day#stage` and before the next day (see super::traffic_until).
                d.traffic
                    .range(from.to_string()..super::traffic_until(to))
                    .filter_map(|(id, traffic)| {
                        let (day, stage) = id.split_once('#')?;
                        Some(DayTraffic { day: day.parse().ok()?, stage: stage.to_owned(), traffic: *traffic })
                    })
                    .collect()
            })
        })
    }
}
