//! The dashboard's numbers: new objects per UTC day.

use std::collections::BTreeMap;

use rexist_core::RunCounts;
use time::Date;

use crate::{Result, StoreError};

/// Microseconds in a day: timestamps divided by this give the UTC day number.
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN: i64 = 2_440_588;

/// How many new objects of one key (a kind, a type or a source) a UTC day had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// The UTC day.
    pub day: Date,
    /// Item kind, indicator type or source name.
    pub key: String,
    /// How many.
    pub count: u64,
}

/// New objects per UTC day since a time, for the dashboard's charts; each
/// list is ordered by day, then key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Items created, by kind.
    pub items: Vec<DayCount>,
    /// Indicators added, by type.
    pub indicators: Vec<DayCount>,
    /// New objects (new sightings and new items) the runs of each source
    /// stored, by source name and the day the run started.
    pub sources: Vec<DayCount>,
}

/// The UTC day of a day number (days since 1970-01-01).
pub(crate) fn day(number: i64) -> Result<Date> {
    i32::try_from(number + UNIX_EPOCH_JULIAN)
        .ok()
        .and_then(|j| Date::from_julian_day(j).ok())
        .ok_or_else(|| StoreError::internal(format!("corrupt day number in store: {number}")))
}

/// A grouped row: (day number, key, count).
pub(crate) fn day_count((number, key, count): (i64, String, i64)) -> Result<DayCount> {
    Ok(DayCount {
        day: day(number)?,
        key,
        count: u64::try_from(count).unwrap_or(0),
    })
}

/// Sums the `new` counts of runs, given as (source name, start in
/// microseconds, counts as JSON), per day and source; leaves out zeros.
pub(crate) fn fold_runs(
    runs: impl IntoIterator<Item = (String, i64, String)>,
) -> Result<Vec<DayCount>> {
    let mut sums: BTreeMap<(i64, String), u64> = BTreeMap::new();
    for (source, started, counts) in runs {
        let counts: RunCounts = serde_json::from_str(&counts)
            .map_err(|e| StoreError::internal(format!("corrupt run counts in store: {e}")))?;
        if counts.new > 0 {
            *sums
                .entry((started.div_euclid(DAY_MICROS), source))
                .or_insert(0) += counts.new;
        }
    }
    sums.into_iter()
        .map(|((number, key), count)| {
            Ok(DayCount {
                day: day(number)?,
                key,
                count,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_are_utc_days() {
        assert_eq!(day(0).unwrap().to_string(), "1970-01-01");
        assert_eq!(day(20_000).unwrap().to_string(), "2024-10-04");
    }
}
