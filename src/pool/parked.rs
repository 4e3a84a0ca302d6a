//! Rows not yet started whose region is out, held by the dispatcher
//! without a row slot, so that the rows of the other regions keep every
//! slot and go on at their pace. Bounded: once [`MAX_PARKED`] rows are
//! held, further rows of a region that is out take slots and wait at its
//! gate like rows already started, and the other regions slow down.

use std::collections::{BTreeMap, VecDeque};

/// Rows held at most (a few hundred bytes each).
pub const MAX_PARKED: usize = 50_000;

/// Rows held per region, in input order.
pub struct Parked<T> {
    rows: BTreeMap<String, VecDeque<T>>,
    count: usize,
}

impl<T> Default for Parked<T> {
    fn default() -> Self {
        Parked {
            rows: BTreeMap::new(),
            count: 0,
        }
    }
}

impl<T> Parked<T> {
    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Holds `row` of `region`; gives it back when full.
    pub fn park(&mut self, region: &str, row: T) -> Result<(), T> {
        if self.count >= MAX_PARKED {
            return Err(row);
        }
        self.rows
            .entry(region.to_owned())
            .or_default()
            .push_back(row);
        self.count += 1;
        Ok(())
    }

    /// Every row of the regions that are no longer `out`, in input order.
    pub fn take_open(&mut self, out: impl Fn(&str) -> bool) -> Vec<T> {
        let open: Vec<String> = self.rows.keys().filter(|r| !out(r)).cloned().collect();
        let mut taken = Vec::new();
        for region in open {
            if let Some(rows) = self.rows.remove(&region) {
                self.count -= rows.len();
                taken.extend(rows);
            }
        }
        taken
    }

    /// Every row held.
    pub fn take_all(&mut self) -> Vec<T> {
        self.count = 0;
        std::mem::take(&mut self.rows)
            .into_values()
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_a_region_come_back_in_order_once_it_is_open() {
        let mut p = Parked::default();
        p.park("a", 1).unwrap();
        p.park("b", 2).unwrap();
        p.park("a", 3).unwrap();
        assert!(p.take_open(|_| true).is_empty());
        assert_eq!(p.take_open(|r| r == "b"), [1, 3]);
        assert_eq!(p.take_all(), [2]);
        assert!(p.is_empty());
    }

    #[test]
    fn a_full_park_gives_the_row_back() {
        let mut p = Parked::default();
        for i in 0..MAX_PARKED {
            p.park("a", i).unwrap();
        }
        assert_eq!(p.park("a", 7), Err(7));
    }
}
