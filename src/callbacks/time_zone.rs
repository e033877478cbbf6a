//! A queue's time zone, by its IANA name, with an error that says what to do.

use jiff::tz::{TimeZone, TimeZoneDatabase};

use crate::error::Error;
use crate::validation::ValidationError;

/// What a service whose machine has no time-zone database does about it.
const NO_DATABASE: &str = "no time-zone database was found (not in /usr/share/zoneinfo, \
    nor in TZDIR, nor bundled): install tzdata or enable feature tzdb-bundled of genesys-cloud";

/// The IANA time zone `name` (`"America/New_York"`), from the time-zone database of this
/// process (jiff's [`jiff::tz::db`]: the system's with feature `callbacks`, the bundled
/// one with `tzdb-bundled`; see the [module docs](crate::callbacks#time-zones)).
///
/// Errors, neither of which shows the name:
///
/// - no database at all (a container image without tzdata, and `tzdb-bundled` off): an
///   error of kind [`ErrorKind::Configuration`](crate::ErrorKind::Configuration) saying
///   "install tzdata or enable feature tzdb-bundled";
/// - a database without that zone: a [`ValidationError`] (field `timeZone`, rule
///   `time_zone`), kind [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
///
/// ```
/// use genesys_cloud::callbacks::time_zone;
/// use genesys_cloud::ErrorKind;
///
/// match time_zone("America/New_York") {
///     Ok(zone) => assert_eq!(zone.iana_name(), Some("America/New_York")),
///     // No tzdata on this machine, and feature `tzdb-bundled` off: fix the deployment.
///     Err(err) => assert_eq!(err.kind(), ErrorKind::Configuration),
/// }
/// ```
pub fn time_zone(name: &str) -> Result<TimeZone, Error> {
    time_zone_in(jiff::tz::db(), name)
}

/// [`time_zone`] from the database `db`, such as one read with
/// [`TimeZoneDatabase::from_dir`] from a directory of your own.
pub fn time_zone_in(db: &TimeZoneDatabase, name: &str) -> Result<TimeZone, Error> {
    if let Ok(zone) = db.get(name) {
        return Ok(zone);
    }
    if db.is_definitively_empty() || db.available().next().is_none() {
        return Err(Error::config(NO_DATABASE));
    }
    Err(ValidationError::single(
        "timeZone",
        "time_zone",
        "not a time zone of this machine's time-zone database: give an IANA name such as \
         America/New_York (if it is one, the database is older than the zone: update \
         tzdata or enable feature tzdb-bundled)",
    )
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn no_database_is_a_configuration_error_that_says_what_to_install() {
        // A directory that holds no zone at all, as a wrong `TZDIR` would give (jiff may
        // refuse to open it; when it opens it, lookups must fail the same way).
        let empty =
            std::env::temp_dir().join(format!("genesys-cloud-empty-tzdir-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let mut dbs = vec![TimeZoneDatabase::none()];
        dbs.extend(TimeZoneDatabase::from_dir(&empty).ok());
        for db in dbs {
            let err = time_zone_in(&db, "America/New_York").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
            let text = err.to_string();
            assert!(
                text.contains("install tzdata or enable feature tzdb-bundled"),
                "{text}"
            );
            assert!(!text.contains("New_York"), "no value in errors: {text}");
        }
        let _ = std::fs::remove_dir(&empty);
    }
}
