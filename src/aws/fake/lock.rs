//! The deploy lock's records in memory, as Parameter Store keeps them: a create of an
//! existing name fails, so of two creators exactly one wins.

use super::*;
use crate::aws::Locks;

impl FakeAws {
    /// The lock records under `path`, by number, as stored.
    pub fn lock_records(&self, path: &str) -> BTreeMap<u64, String> {
        self.state
            .lock()
            .unwrap()
            .locks
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// Stores a record as another holder would have.
    pub fn put_lock_record(&self, path: &str, n: u64, value: &str) {
        let mut s = self.state.lock().unwrap();
        s.locks
            .entry(path.to_owned())
            .or_default()
            .insert(n, value.to_owned());
    }
}

#[async_trait]
impl Locks for FakeAws {
    async fn records(&self, path: &str) -> AwsResult<Vec<(u64, String)>> {
        self.record("ssm:GetParametersByPath")?;
        Ok(self.lock_records(path).into_iter().collect())
    }

    async fn create(&self, path: &str, n: u64, value: &str) -> AwsResult<bool> {
        self.record_change("ssm:PutParameter")?;
        let mut s = self.state.lock().unwrap();
        let records = s.locks.entry(path.to_owned()).or_default();
        if records.contains_key(&n) {
            return Ok(false);
        }
        records.insert(n, value.to_owned());
        Ok(true)
    }

    async fn rewrite(&self, path: &str, n: u64, value: &str) -> AwsResult<()> {
        self.record_change("ssm:PutParameter")?;
        self.put_lock_record(path, n, value);
        Ok(())
    }

    async fn delete(&self, path: &str, numbers: &[u64]) -> AwsResult<()> {
        self.record_change("ssm:DeleteParameters")?;
        let mut s = self.state.lock().unwrap();
        if let Some(records) = s.locks.get_mut(path) {
            for n in numbers {
                records.remove(n);
            }
        }
        Ok(())
    }
}
