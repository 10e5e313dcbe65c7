//! Long lists, a page at a time.

/// One page of a long list; `number` counts from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    pub const MAX_SIZE: u32 = 200;

    pub fn new(number: u32, size: u32) -> Self {
        Self {
            number: number.max(1),
            size: size.clamp(1, Self::MAX_SIZE),
        }
    }

    pub fn offset(self) -> i64 {
        i64::from(self.number - 1) * i64::from(self.size)
    }

    pub fn limit(self) -> i64 {
        i64::from(self.size)
    }

    /// How many rows a list asks for: one more than the page holds, so that a page with
    /// room to spare tells how many there are in all ([`Page::total_from`]).
    pub fn limit_and_one(self) -> i64 {
        self.limit() + 1
    }

    /// How many rows match in all, known without counting them when `fetched` (the
    /// rows of a query limited to [`Page::limit_and_one`]) ends on this page: then they
    /// are the last ones. `None` when there are more, or when a page past the first is
    /// empty (then only a count knows). Most people's lists fit on one page, so most
    /// lists are one statement instead of two.
    pub fn total_from(self, fetched: usize) -> Option<i64> {
        let fetched = i64::try_from(fetched).ok()?;
        let ends_here = fetched <= self.limit() && (fetched > 0 || self.number == 1);
        ends_here.then(|| self.offset() + fetched)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

impl<T> Paged<T> {
    /// The same page with each item turned into something else (a view).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            per_page: self.per_page,
        }
    }

    pub fn pages(&self) -> u32 {
        let per_page = i64::from(self.per_page.max(1));
        u32::try_from((self.total + per_page - 1) / per_page)
            .unwrap_or(u32::MAX)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn a_page_with_room_to_spare_tells_the_total() {
        // Fetched with one more row than the page holds.
        assert_eq!(Page::new(1, 20).total_from(0), Some(0));
        assert_eq!(Page::new(1, 20).total_from(7), Some(7));
        assert_eq!(Page::new(1, 20).total_from(20), Some(20));
        assert_eq!(Page::new(3, 20).total_from(5), Some(45));
        // More than a page: only a count knows.
        assert_eq!(Page::new(1, 20).total_from(21), None);
        assert_eq!(Page::new(2, 20).total_from(21), None);
        // Past the end: the rows may end anywhere before this page.
        assert_eq!(Page::new(4, 20).total_from(0), None);
    }
}
