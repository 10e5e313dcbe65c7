//! Statements that run on either backend, so the queries are written once and compiled
//! once (`queries/`, generic over [`Driver`]).
//!
//! Why not sqlx's own generic API: code generic over `sqlx::Database` needs a
//! higher-ranked bound for every bound type and row type on every impl (Rust does not
//! carry them over from a trait), and sqlx's `Any` driver refuses SQLite's BOOLEAN
//! columns (sqlx 0.8.6). Here the values a statement binds are the few kinds our
//! columns hold ([`Value`]), and each driver runs a statement with its own sqlx types
//! ([`RunStatement`], implemented below for SQLite and PostgreSQL).

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::{Arguments as _, Encode, FromRow, IntoArguments, Type};

use crate::Backend;

/// What the queries need to know about a backend beyond its SQL, which is the same.
pub trait Driver: sqlx::Database<Connection: RunStatement + sqlx::migrate::Migrate> {
    const BACKEND: Backend;
    /// How a write transaction begins.
    const BEGIN_WRITE: &'static str;
    /// The schema's migrations, one directory per backend.
    fn migrator() -> &'static sqlx::migrate::Migrator;
    /// What the store keeps besides its pool (SQLite: its request readers).
    type Readers: Send + Sync;
}

/// A row type both backends can read (every `#[derive(FromRow)]` and tuple of ours).
pub trait Decoded:
    for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> FromRow<'r, sqlx::postgres::PgRow>
    + Send
    + Unpin
{
}

impl<T> Decoded for T where
    T: for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin
{
}

/// A value a statement binds. Our columns hold integers, text and booleans (timestamps
/// are integers), each possibly NULL.
pub enum Value<'q> {
    Int(Option<i64>),
    Text(Option<Cow<'q, str>>),
    Bool(Option<bool>),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}
impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}
impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Self::Bool(Some(v))
    }
}
impl<'q> From<&'q str> for Value<'q> {
    fn from(v: &'q str) -> Self {
        Self::Text(Some(Cow::Borrowed(v)))
    }
}
impl<'q> From<&'q String> for Value<'q> {
    fn from(v: &'q String) -> Self {
        Self::Text(Some(Cow::Borrowed(v)))
    }
}
impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Self::Text(Some(Cow::Owned(v)))
    }
}
impl<'q> From<Option<&'q str>> for Value<'q> {
    fn from(v: Option<&'q str>) -> Self {
        Self::Text(v.map(Cow::Borrowed))
    }
}
impl From<Option<String>> for Value<'_> {
    fn from(v: Option<String>) -> Self {
        Self::Text(v.map(Cow::Owned))
    }
}
impl<'q> From<&'q Option<String>> for Value<'q> {
    fn from(v: &'q Option<String>) -> Self {
        Self::Text(v.as_deref().map(Cow::Borrowed))
    }
}

/// A statement that changes rows: `query(sql).bind(…).execute(on)`.
pub struct Statement<'q> {
    sql: Cow<'q, str>,
    values: Vec<Value<'q>>,
}

/// A statement that reads rows of type `T`: `query_as(sql).bind(…).fetch_all(on)`.
pub struct QueryAs<'q, T> {
    statement: Statement<'q>,
    rows: std::marker::PhantomData<fn() -> T>,
}

pub fn query(sql: &str) -> Statement<'_> {
    Statement {
        sql: Cow::Borrowed(sql),
        values: Vec::new(),
    }
}

pub fn query_as<T: Decoded>(sql: &str) -> QueryAs<'_, T> {
    QueryAs {
        statement: query(sql),
        rows: std::marker::PhantomData,
    }
}

/// How many rows a statement changed.
pub struct Done(u64);

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.0
    }
}

impl<'q> Statement<'q> {
    pub fn bind(mut self, value: impl Into<Value<'q>>) -> Self {
        self.values.push(value.into());
        self
    }

    pub fn execute<'e, 'c: 'e, E: Executor<'c>>(self, on: E) -> BoxFuture<'e, sqlx::Result<Done>>
    where
        'q: 'e,
    {
        on.execute(self)
    }
}

impl<'q, T: Decoded + 'q> QueryAs<'q, T> {
    pub fn bind(mut self, value: impl Into<Value<'q>>) -> Self {
        self.statement = self.statement.bind(value);
        self
    }

    pub fn fetch_all<'e, 'c: 'e, E: Executor<'c>>(
        self,
        on: E,
    ) -> BoxFuture<'e, sqlx::Result<Vec<T>>>
    where
        'q: 'e,
        T: 'e,
    {
        on.fetch_all(self.statement)
    }

    pub fn fetch_optional<'e, 'c: 'e, E: Executor<'c>>(
        self,
        on: E,
    ) -> BoxFuture<'e, sqlx::Result<Option<T>>>
    where
        'q: 'e,
        T: 'e,
    {
        on.fetch_optional(self.statement)
    }

    pub fn fetch_one<'e, 'c: 'e, E: Executor<'c>>(self, on: E) -> BoxFuture<'e, sqlx::Result<T>>
    where
        'q: 'e,
        T: 'e,
    {
        let row = on.fetch_optional(self.statement);
        Box::pin(async move { row.await?.ok_or(sqlx::Error::RowNotFound) })
    }
}

/// A statement put together piece by piece (lists of values, optional conditions);
/// `push_bind` writes the next `$n`.
pub struct Builder {
    sql: String,
    values: Vec<Value<'static>>,
}

impl Builder {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: impl AsRef<str>) -> &mut Self {
        self.sql.push_str(sql.as_ref());
        self
    }

    pub fn push_bind(&mut self, value: impl Into<Value<'static>>) -> &mut Self {
        self.values.push(value.into());
        self.sql.push_str(&format!("${}", self.values.len()));
        self
    }

    /// `$1, $2, …` for each value.
    pub fn push_list<V: Into<Value<'static>>>(
        &mut self,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.push_bind(value);
        }
        self
    }

    pub fn build_query_as<T: Decoded>(self) -> QueryAs<'static, T> {
        QueryAs {
            statement: Statement {
                sql: Cow::Owned(self.sql),
                values: self.values,
            },
            rows: std::marker::PhantomData,
        }
    }
}

/// A connection of one driver that runs our statements.
pub trait RunStatement: Send {
    fn run_execute<'e>(&'e mut self, statement: Statement<'e>) -> BoxFuture<'e, sqlx::Result<u64>>;
    fn run_fetch_all<'e, T: Decoded + 'e>(
        &'e mut self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Vec<T>>>;
    fn run_fetch_optional<'e, T: Decoded + 'e>(
        &'e mut self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Option<T>>>;
}

/// Where a statement runs: a connection (`&mut *tx`, `&mut *conn`) or a pool.
pub trait Executor<'c>: Send {
    fn execute<'e>(self, statement: Statement<'e>) -> BoxFuture<'e, sqlx::Result<Done>>
    where
        'c: 'e;
    fn fetch_all<'e, T: Decoded + 'e>(
        self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Vec<T>>>
    where
        'c: 'e;
    fn fetch_optional<'e, T: Decoded + 'e>(
        self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Option<T>>>
    where
        'c: 'e;
}

impl<'c, C: RunStatement> Executor<'c> for &'c mut C {
    fn execute<'e>(self, statement: Statement<'e>) -> BoxFuture<'e, sqlx::Result<Done>>
    where
        'c: 'e,
    {
        let run = self.run_execute(statement);
        Box::pin(async move { run.await.map(Done) })
    }
    fn fetch_all<'e, T: Decoded + 'e>(
        self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Vec<T>>>
    where
        'c: 'e,
    {
        self.run_fetch_all(statement)
    }
    fn fetch_optional<'e, T: Decoded + 'e>(
        self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Option<T>>>
    where
        'c: 'e,
    {
        self.run_fetch_optional(statement)
    }
}

impl<'c, D: Driver> Executor<'c> for &'c sqlx::Pool<D> {
    fn execute<'e>(self, statement: Statement<'e>) -> BoxFuture<'e, sqlx::Result<Done>>
    where
        'c: 'e,
    {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            conn.run_execute(statement).await.map(Done)
        })
    }
    fn fetch_all<'e, T: Decoded + 'e>(
        self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Vec<T>>>
    where
        'c: 'e,
    {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            conn.run_fetch_all(statement).await
        })
    }
    fn fetch_optional<'e, T: Decoded + 'e>(
        self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Option<T>>>
    where
        'c: 'e,
    {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            conn.run_fetch_optional(statement).await
        })
    }
}

/// The values as one driver's arguments.
fn arguments<'q, DB>(values: Vec<Value<'q>>) -> sqlx::Result<DB::Arguments<'q>>
where
    DB: sqlx::Database,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<Cow<'q, str>>: Encode<'q, DB> + Type<DB>,
{
    let mut arguments = DB::Arguments::default();
    for value in values {
        match value {
            Value::Int(v) => arguments.add(v),
            Value::Text(v) => arguments.add(v),
            Value::Bool(v) => arguments.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(arguments)
}

/// Runs a statement on a connection of `DB`. Generic, but called only for the two
/// drivers below, so its bounds are written once, here.
async fn execute_on<DB>(
    conn: &mut DB::Connection,
    statement: Statement<'_>,
) -> sqlx::Result<DB::QueryResult>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<bool>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Cow<'q, str>>: Encode<'q, DB> + Type<DB>,
{
    let Statement { sql, values } = statement;
    let arguments = arguments::<DB>(values)?;
    sqlx::query_with(&sql, arguments).execute(&mut *conn).await
}

/// Reads the rows of a statement on a connection of `DB`: all of them, or only the first
/// (`fetch_optional`, which stops reading after it).
async fn fetch_on<DB, T>(
    conn: &mut DB::Connection,
    statement: Statement<'_>,
    first_only: bool,
) -> sqlx::Result<Vec<T>>
where
    DB: sqlx::Database,
    T: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<bool>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Cow<'q, str>>: Encode<'q, DB> + Type<DB>,
{
    let Statement { sql, values } = statement;
    let arguments = arguments::<DB>(values)?;
    let query = sqlx::query_as_with::<DB, T, _>(&sql, arguments);
    if first_only {
        Ok(query
            .fetch_optional(&mut *conn)
            .await?
            .into_iter()
            .collect())
    } else {
        query.fetch_all(&mut *conn).await
    }
}

impl RunStatement for sqlx::SqliteConnection {
    fn run_execute<'e>(&'e mut self, statement: Statement<'e>) -> BoxFuture<'e, sqlx::Result<u64>> {
        Box::pin(async move {
            let done = execute_on::<sqlx::Sqlite>(self, statement).await?;
            Ok(done.rows_affected())
        })
    }
    fn run_fetch_all<'e, T: Decoded + 'e>(
        &'e mut self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Vec<T>>> {
        Box::pin(fetch_on::<sqlx::Sqlite, T>(self, statement, false))
    }
    fn run_fetch_optional<'e, T: Decoded + 'e>(
        &'e mut self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Option<T>>> {
        Box::pin(async move {
            let first = fetch_on::<sqlx::Sqlite, T>(self, statement, true).await?;
            Ok(first.into_iter().next())
        })
    }
}

impl RunStatement for sqlx::PgConnection {
    fn run_execute<'e>(&'e mut self, statement: Statement<'e>) -> BoxFuture<'e, sqlx::Result<u64>> {
        Box::pin(async move {
            let done = execute_on::<sqlx::Postgres>(self, statement).await?;
            Ok(done.rows_affected())
        })
    }
    fn run_fetch_all<'e, T: Decoded + 'e>(
        &'e mut self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Vec<T>>> {
        Box::pin(fetch_on::<sqlx::Postgres, T>(self, statement, false))
    }
    fn run_fetch_optional<'e, T: Decoded + 'e>(
        &'e mut self,
        statement: Statement<'e>,
    ) -> BoxFuture<'e, sqlx::Result<Option<T>>> {
        Box::pin(async move {
            let first = fetch_on::<sqlx::Postgres, T>(self, statement, true).await?;
            Ok(first.into_iter().next())
        })
    }
}
