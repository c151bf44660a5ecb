//! A shared location to the timezone it lies in, offline, with boundaries built into the
//! binary. Only the zone's name goes on: the coordinates are dropped with the update they came
//! in, before anything is written or logged.

use std::sync::LazyLock;

use tzf_rs::EmbeddedFinder;

/// Reads the built-in boundaries in place (about 4 MB, no copy): built once, on the first
/// location anyone shares.
static FINDER: LazyLock<EmbeddedFinder> = LazyLock::new(EmbeddedFinder::new);

/// The IANA zone at a point, or `None` for coordinates that are not a place on Earth or lie in
/// no zone.
pub(crate) fn zone_at(latitude: f64, longitude: f64) -> Option<String> {
    let on_earth = latitude.is_finite()
        && longitude.is_finite()
        && (-90.0..=90.0).contains(&latitude)
        && (-180.0..=180.0).contains(&longitude);
    if !on_earth {
        return None;
    }
    let name = FINDER.get_tz_name(longitude, latitude);
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_found_in_their_zones() {
        assert_eq!(zone_at(48.8566, 2.3522).as_deref(), Some("Europe/Paris"));
        assert_eq!(zone_at(35.6762, 139.6503).as_deref(), Some("Asia/Tokyo"));
        assert_eq!(
            zone_at(40.7128, -74.0060).as_deref(),
            Some("America/New_York")
        );
        assert_eq!(
            zone_at(-33.8688, 151.2093).as_deref(),
            Some("Australia/Sydney")
        );
        // Every zone the finder names is one the bot can keep.
        for (latitude, longitude) in [(0.0, -30.0), (51.5, -0.12), (64.1, -21.9), (-54.8, -68.3)] {
            if let Some(zone) = zone_at(latitude, longitude) {
                assert!(
                    zone.parse::<crossroads_core::zone::Zone>().is_ok(),
                    "{zone} at {latitude},{longitude}"
                );
            }
        }
    }

    #[test]
    fn what_is_not_a_place_has_no_zone() {
        assert_eq!(zone_at(91.0, 0.0), None);
        assert_eq!(zone_at(0.0, 181.0), None);
        assert_eq!(zone_at(f64::NAN, 0.0), None);
    }
}
