//! [`FaultyStore`]: a wrapper that makes the next N calls of an operation
//! fail or stall, and counts calls, for the "store down" test cases.
//!
//! It lives in the library (not behind `cfg(test)`) so end-to-end tests can
//! put it between a real server and a real backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::{NewUser, Store, StoreError, StoreResult, UserRecord};

/// The operations of [`Store`], one per method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOp {
    /// [`Store::find_active_user_by_name`].
    FindActiveUserByName,
    /// [`Store::add_user`].
    AddUser,
    /// [`Store::list_users`].
    ListUsers,
    /// [`Store::set_push_shield`].
    SetPushShield,
}

#[derive(Default)]
struct Faults {
    fail_next: HashMap<StoreOp, u32>,
    delay_next: HashMap<StoreOp, (u32, Duration)>,
    calls: HashMap<StoreOp, u64>,
}

/// Wraps a real store; by default it only counts calls.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Mutex<Faults>,
}

impl FaultyStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            faults: Mutex::new(Faults::default()),
        }
    }

    /// Makes the next `n` calls of `op` fail with [`StoreError::Injected`].
    pub fn fail_next(&self, op: StoreOp, n: u32) {
        self.with(|f| {
            f.fail_next.insert(op, n);
        });
    }

    /// Makes the next `n` calls of `op` wait `delay` before running.
    pub fn delay_next(&self, op: StoreOp, n: u32, delay: Duration) {
        self.with(|f| {
            f.delay_next.insert(op, (n, delay));
        });
    }

    /// How many times `op` was called (failed calls included).
    pub fn calls(&self, op: StoreOp) -> u64 {
        self.with(|f| f.calls.get(&op).copied().unwrap_or(0))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Faults) -> T) -> T {
        // A poisoned lock only means another test thread panicked; the
        // counters are still usable.
        let mut guard = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    async fn enter(&self, op: StoreOp) -> StoreResult<()> {
        let (fail, delay) = self.with(|f| {
            *f.calls.entry(op).or_default() += 1;
            let fail = match f.fail_next.get_mut(&op) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            };
            let delay = match f.delay_next.get_mut(&op) {
                Some((n, d)) if *n > 0 => {
                    *n -= 1;
                    Some(*d)
                }
                _ => None,
            };
            (fail, delay)
        });
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if fail {
            return Err(StoreError::Injected(op));
        }
        Ok(())
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn find_active_user_by_name(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        self.enter(StoreOp::FindActiveUserByName).await?;
        self.inner.find_active_user_by_name(name).await
    }

    async fn add_user(&self, user: NewUser) -> StoreResult<u32> {
        self.enter(StoreOp::AddUser).await?;
        self.inner.add_user(user).await
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        self.enter(StoreOp::ListUsers).await?;
        self.inner.list_users().await
    }

    async fn set_push_shield(
        &self,
        user_id: u32,
        shield_status: u32,
        now: u32,
    ) -> StoreResult<bool> {
        self.enter(StoreOp::SetPushShield).await?;
        self.inner
            .set_push_shield(user_id, shield_status, now)
            .await
    }
}
