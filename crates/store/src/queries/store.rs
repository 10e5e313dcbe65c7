//! What every store answers: which backend, its migrations, whether it is there.

use super::{BACKEND, MIGRATOR, SqlStore};

#[async_trait::async_trait]
impl crate::Store for SqlStore {
    fn backend(&self) -> crate::Backend {
        BACKEND
    }

    async fn migrate(&self) -> crate::Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> crate::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
