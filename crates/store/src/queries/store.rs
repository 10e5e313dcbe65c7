//! What every store answers: which backend, its migrations, whether it is there.

use super::SqlStore;
use crate::statement::{Driver, query};

#[async_trait::async_trait]
impl<D: Driver> crate::Store for SqlStore<D>
where
    Self: crate::RequestReads,
{
    fn backend(&self) -> crate::Backend {
        D::BACKEND
    }

    async fn migrate(&self) -> crate::Result<()> {
        D::migrator().run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> crate::Result<()> {
        query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn back_up_to(&self, file: &std::path::Path) -> crate::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        if D::BACKEND != crate::Backend::Sqlite {
            return Err(crate::Error::Config(
                "a PostgreSQL database is backed up with pg_dump (docs/OPERATIONS.md)".into(),
            ));
        }
        // VACUUM INTO refuses an existing file too; said first, in plain words.
        if file.exists() {
            return Err(crate::Error::Config(format!(
                "{} exists already: a backup never overwrites a file",
                file.display()
            )));
        }
        let target = file.to_str().ok_or_else(|| {
            crate::Error::Config(format!("{} is not a UTF-8 path", file.display()))
        })?;
        // Password hashes, tokens and addresses: readable by whoever runs the backup only
        // (VACUUM INTO would make it 0644). It fills the empty file made here.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
            .map_err(|e| crate::Error::Config(format!("{}: {e}", file.display())))?;
        if let Err(e) = query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await
        {
            let _ = std::fs::remove_file(file);
            return Err(e.into());
        }
        // Durable before we say it is done.
        std::fs::File::open(file)
            .and_then(|f| f.sync_all())
            .map_err(|e| crate::Error::Config(format!("{}: {e}", file.display())))?;
        Ok(())
    }
}
