//! Moving an installation from SQLite to PostgreSQL (`roomkeeper migrate-to URL`), for a
//! site that outgrows one instance. Both databases are brought to this version's schema
//! first; the two schemas name the same tables and columns, so every row is copied as
//! it is, in one PostgreSQL transaction: a failure leaves the new database empty.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row as _;

use crate::{Error, PgStore, Result, SqliteStore, Store as _};

/// Rows the migrations themselves put in (the daily jobs' bookkeeping): replaced by the
/// copied ones.
const SEEDED: &[&str] = &["daily_jobs"];

/// What was copied: each table with its number of rows, in the order copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub tables: Vec<(String, u64)>,
}

/// A column's value as read from SQLite, typed by the PostgreSQL column it goes to.
enum Value {
    Int8(Option<i64>),
    Int4(Option<i32>),
    Bool(Option<bool>),
    Text(Option<String>),
}

/// Copies every row of the SQLite database at `sqlite_url` into the empty PostgreSQL
/// database at `postgres_url`. Refuses a PostgreSQL database that holds anything.
pub async fn sqlite_to_postgres(sqlite_url: &str, postgres_url: &str) -> Result<Copied> {
    let source = SqliteStore::connect(sqlite_url, 1).await?;
    source.migrate().await?;
    let target = PgStore::connect(postgres_url, 1).await?;
    target.migrate().await?;
    let tables = tables_in_copy_order(&target).await?;
    for table in &tables {
        if SEEDED.contains(&table.as_str()) {
            continue;
        }
        let (used,): (bool,) =
            sqlx::query_as(&format!("SELECT EXISTS (SELECT 1 FROM \"{table}\")"))
                .fetch_one(&target.pool)
                .await?;
        if used {
            return Err(Error::Config(format!(
                "the PostgreSQL database is not empty ({table} has rows): give an empty \
                 database; nothing was copied"
            )));
        }
    }
    let mut plan = Vec::with_capacity(tables.len());
    for table in tables {
        let columns = columns(&target, &table).await?;
        plan.push((table, columns));
    }
    let mut copied = Vec::new();
    let mut tx = target.pool.begin().await?;
    for (table, columns) in &plan {
        if SEEDED.contains(&table.as_str()) {
            sqlx::query(&format!("DELETE FROM \"{table}\""))
                .execute(&mut *tx)
                .await?;
        }
        let list = columns
            .iter()
            .map(|(name, _)| format!("\"{name}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!("SELECT {list} FROM \"{table}\""))
            .fetch_all(&source.pool)
            .await
            .map_err(|e| Error::Config(format!("reading {table} from SQLite: {e}")))?;
        // PostgreSQL takes at most 65535 parameters in one statement.
        let per_statement = (60_000 / columns.len().max(1)).max(1);
        for chunk in rows.chunks(per_statement) {
            let mut values = Vec::with_capacity(chunk.len());
            for row in chunk {
                let mut row_values = Vec::with_capacity(columns.len());
                for (i, (name, kind)) in columns.iter().enumerate() {
                    let wrong = |e: sqlx::Error| {
                        Error::Config(format!("{table}.{name} ({kind}) in SQLite: {e}"))
                    };
                    row_values.push(match kind.as_str() {
                        "bigint" => Value::Int8(row.try_get(i).map_err(wrong)?),
                        "integer" => Value::Int4(row.try_get(i).map_err(wrong)?),
                        "boolean" => Value::Bool(row.try_get(i).map_err(wrong)?),
                        "text" => Value::Text(row.try_get(i).map_err(wrong)?),
                        other => {
                            return Err(Error::Config(format!(
                                "{table}.{name}: no copy for the column type {other}"
                            )));
                        }
                    });
                }
                values.push(row_values);
            }
            let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
                "INSERT INTO \"{table}\" ({list}) "
            ));
            insert.push_values(values, |mut b, row| {
                for value in row {
                    match value {
                        Value::Int8(v) => b.push_bind(v),
                        Value::Int4(v) => b.push_bind(v),
                        Value::Bool(v) => b.push_bind(v),
                        Value::Text(v) => b.push_bind(v),
                    };
                }
            });
            insert.build().execute(&mut *tx).await?;
        }
        copied.push((table.clone(), rows.len() as u64));
    }
    // New rows get ids after the copied ones.
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (table, column) in identities {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), \
             COALESCE(MAX(\"{column}\"), 1), MAX(\"{column}\") IS NOT NULL) FROM \"{table}\""
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    source.pool.close().await;
    target.pool.close().await;
    Ok(Copied { tables: copied })
}

/// This schema's tables (not sqlx's bookkeeping), each after the tables it refers to.
async fn tables_in_copy_order(target: &PgStore) -> Result<Vec<String>> {
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(&target.pool)
    .await?;
    let references: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c \
         WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace",
    )
    .fetch_all(&target.pool)
    .await?;
    let mut needs: BTreeMap<String, BTreeSet<String>> = names
        .iter()
        .map(|(n,)| (n.clone(), BTreeSet::new()))
        .collect();
    for (table, referred) in references {
        let (table, referred) = (unquoted(&table), unquoted(&referred));
        if table != referred {
            needs.entry(table).or_default().insert(referred);
        }
    }
    let mut ordered = Vec::new();
    while !needs.is_empty() {
        let ready: Vec<String> = needs
            .iter()
            .filter(|(_, n)| n.iter().all(|r| ordered.contains(r)))
            .map(|(t, _)| t.clone())
            .collect();
        if ready.is_empty() {
            return Err(Error::Config(format!(
                "the tables {:?} refer to each other: no order to copy them in",
                needs.keys().collect::<Vec<_>>()
            )));
        }
        for table in ready {
            needs.remove(&table);
            ordered.push(table);
        }
    }
    Ok(ordered)
}

async fn columns(target: &PgStore, table: &str) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&target.pool)
    .await?)
}

fn unquoted(name: &str) -> String {
    name.trim_matches('"').to_owned()
}
