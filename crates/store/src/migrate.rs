//! Embedded migrations: numbered SQL files per backend, applied in order and
//! recorded in `schema_migrations`; an applied file never changes.

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
];
