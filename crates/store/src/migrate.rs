//! Embedded migrations: numbered SQL files per backend, applied in order and
//! recorded in `schema_migrations`; an applied file never changes.
//!
//! Numbers need not be contiguous, and each known migration that is not
//! recorded is applied, not only those above the highest recorded: branches
//! developed side by side may number theirs 7 and 8, and a database that got
//! 8 first still gets 7 when both meet. Migrations must therefore not depend
//! on one numbered just below them unless it shipped first.

/// The known migrations of `all` that `applied` does not record, in order;
/// an error when the database records a version newer than any known.
pub(crate) fn pending<'a>(
    all: &'a [Migration],
    applied: &[i64],
) -> crate::Result<Vec<&'a Migration>> {
    let known = all.last().map_or(0, |m| m.version);
    if let Some(&newest) = applied.iter().max().filter(|&&v| v > known) {
        return Err(crate::StoreError::unavailable(format!(
            "database schema version {newest} is newer than this rexist knows ({known}); upgrade rexist"
        )));
    }
    Ok(all
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .collect())
}

/// One migration.
pub(crate) struct Migration {
    /// Version number, increasing.
    pub version: i64,
    /// SQL, possibly several statements.
    pub sql: &'static str,
}

/// SQLite migrations.
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/sqlite/0002_hunts.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/sqlite/0003_lookup.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../migrations/sqlite/0004_sharing.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../migrations/sqlite/0005_dashboard.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../migrations/sqlite/0006_retractions.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("../migrations/sqlite/0007_hunt_tlp.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("../migrations/sqlite/0008_heartbeats.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("../migrations/sqlite/0009_shared_state.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("../migrations/sqlite/0010_instance.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("../migrations/sqlite/0011_host_ranges.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("../migrations/sqlite/0012_curation.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("../migrations/sqlite/0013_entities.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("../migrations/sqlite/0014_hit_triage.sql"),
    },
    Migration {
        version: 15,
        sql: include_str!("../migrations/sqlite/0015_saved_searches.sql"),
    },
    Migration {
        version: 16,
        sql: include_str!("../migrations/sqlite/0016_stored_exports.sql"),
    },
];

/// PostgreSQL migrations.
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/postgres/0002_hunts.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/postgres/0003_lookup.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../migrations/postgres/0004_sharing.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../migrations/postgres/0005_dashboard.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../migrations/postgres/0006_retractions.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("../migrations/postgres/0007_hunt_tlp.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("../migrations/postgres/0008_heartbeats.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("../migrations/postgres/0009_shared_state.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("../migrations/postgres/0010_instance.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("../migrations/postgres/0011_host_ranges.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("../migrations/postgres/0012_curation.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("../migrations/postgres/0013_entities.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("../migrations/postgres/0014_hit_triage.sql"),
    },
    Migration {
        version: 15,
        sql: include_str!("../migrations/postgres/0015_saved_searches.sql"),
    },
    Migration {
        version: 16,
        sql: include_str!("../migrations/postgres/0016_stored_exports.sql"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_gaps_are_filled_later() {
        for all in [SQLITE, POSTGRES] {
            assert!(all.windows(2).all(|w| w[0].version < w[1].version));
        }
        let all = [
            Migration {
                version: 1,
                sql: "",
            },
            Migration {
                version: 2,
                sql: "",
            },
            Migration {
                version: 4,
                sql: "",
            },
        ];
        let versions = |p: Vec<&Migration>| p.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(pending(&all, &[]).unwrap()), [1, 2, 4]);
        // A database that got 4 before 2 existed still gets 2.
        assert_eq!(versions(pending(&all, &[1, 4]).unwrap()), [2]);
        assert!(pending(&all, &[1, 2, 4]).unwrap().is_empty());
        let newer = pending(&all, &[1, 5]).map(|_| ()).unwrap_err().to_string();
        assert!(
            newer.contains("version 5 is newer than this rexist knows (4)"),
            "{newer}"
        );
    }
}
