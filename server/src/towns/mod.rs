//! Towns (属地): boundaries, the in-memory routing index, and import.

pub mod geo;
pub mod routes;
pub mod service;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use geo::{Located, MultiPolygon, TownIndex};

/// A town as routing results name it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "code": "120115001", "name": "海滨街道"}))]
pub struct TownRef {
    pub id: Uuid,
    pub code: String,
    pub name: String,
}

/// One consistent view of the towns: the R-tree and the names by id.
pub struct TownSnapshot {
    pub index: TownIndex<TownRef>,
    pub by_id: HashMap<Uuid, TownRef>,
}

/// The routing index shared by all requests, swapped whole after an import.
#[derive(Clone)]
pub struct TownCache {
    inner: Arc<RwLock<Arc<TownSnapshot>>>,
    near_boundary_m: f64,
    /// Highest town `seq` and row count behind the snapshot, to notice imports
    /// made by other instances sharing the database.
    version: Arc<(AtomicI64, AtomicI64)>,
}

impl TownCache {
    pub fn new(near_boundary_m: f64) -> Self {
        let empty = TownSnapshot { index: TownIndex::new(Vec::new()), by_id: HashMap::new() };
        Self {
            inner: Arc::new(RwLock::new(Arc::new(empty))),
            near_boundary_m,
            version: Arc::new((AtomicI64::new(-1), AtomicI64::new(-1))),
        }
    }

    /// The (max seq, count) the snapshot was built from.
    pub fn version(&self) -> (i64, i64) {
        (self.version.0.load(Ordering::Acquire), self.version.1.load(Ordering::Acquire))
    }

    /// Records the (max seq, count) of the snapshot just built.
    pub fn set_version(&self, v: (i64, i64)) {
        self.version.0.store(v.0, Ordering::Release);
        self.version.1.store(v.1, Ordering::Release);
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<TownSnapshot> {
        match self.inner.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the index.
    pub fn replace(&self, towns: Vec<(TownRef, MultiPolygon)>) {
        let by_id = towns.iter().map(|(t, _)| (t.id, t.clone())).collect();
        let snapshot = Arc::new(TownSnapshot { index: TownIndex::new(towns), by_id });
        match self.inner.write() {
            Ok(mut guard) => *guard = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    /// Routes a WGS-84 point to its town.
    pub fn locate(&self, lon: f64, lat: f64) -> Located<TownRef> {
        self.snapshot().index.locate(lon, lat, self.near_boundary_m)
    }

    /// The town holding most of a patch's area.
    pub fn majority_town(&self, patch: &MultiPolygon) -> Option<TownRef> {
        self.snapshot().index.majority_town(patch)
    }

    /// A town's name and code by id.
    pub fn get(&self, id: Uuid) -> Option<TownRef> {
        self.snapshot().by_id.get(&id).cloned()
    }
}
